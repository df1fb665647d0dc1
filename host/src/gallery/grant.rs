//! Granting capabilities against a manifest (in the manner of Zed's capability
//! granter): from a plugin's manifest and a source's configured settings and
//! secrets, work out exactly what the plugin may do: the settings it may read
//! (never a secret), the hosts it may reach and how the host authenticates its
//! requests. Nothing is granted that the manifest did not ask for.
//!
//! Where each secret goes ([`secret_destinations`]), which is also what a
//! change of settings must not re-point ([`repointed_secrets`]):
//!
//! - the service URL is the URL setting the manifest's allowed hosts name
//!   first (`allowed_hosts = ["{service_url}"]`), or else the manifest's
//!   first literal host, over https ([`service_url`]). The Basic password,
//!   the API key, the bearer token and the OAuth 1.0a consumer secret go to
//!   its origin (scheme, host, port) and nowhere else;
//! - the OAuth2 client secret and the password-grant password go to the
//!   `token_url` setting, exactly that URL; and since the access token they
//!   buy goes to the service URL's origin, they follow the service URL too;
//! - every other allowed host gets requests without credentials.

use std::collections::BTreeMap;

use crate::capabilities::http::{Auth, Connection, HttpLimits, Origin};
use crate::gallery::manifest::{AuthKind, Manifest, SettingSpec, SettingType};
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("{plugin}: the setting `{name}` ({label}) is required: fill it in the Delivery Config")]
    MissingSetting {
        plugin: String,
        name: String,
        label: String,
    },
    #[error(
        "{plugin}: the setting `{name}` is a secret: pass it as a secret, not as a plain setting"
    )]
    SecretAsSetting { plugin: String, name: String },
    #[error("{plugin} has no setting `{name}`; its settings are: {known}")]
    UnknownSetting {
        plugin: String,
        name: String,
        known: String,
    },
    #[error("{plugin}: `{value}` is not a valid value for `{name}`: {why}")]
    InvalidSetting {
        plugin: String,
        name: String,
        value: String,
        why: String,
    },
    #[error("{plugin}: auth `{chosen}` is not supported; choose one of: {supported}")]
    UnsupportedAuth {
        plugin: String,
        chosen: String,
        supported: String,
    },
}

/// What one configured source of a plugin is granted.
#[derive(Debug)]
pub struct Grant {
    /// The settings the plugin may read: every non-secret setting, defaults filled in.
    pub settings: BTreeMap<String, String>,
    /// How the host reaches the source for it (none for rules).
    pub connection: Option<Connection>,
}

/// Resolve a source's configuration against its plugin's manifest.
pub fn grant(
    manifest: &Manifest,
    settings: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, Secret>,
    limits: HttpLimits,
) -> Result<Grant, GrantError> {
    refuse_unknown_names(manifest, settings, secrets)?;
    let mut visible = visible_settings(manifest, settings, secrets)?;
    if manifest.kind.is_rule() {
        return Ok(Grant {
            settings: visible,
            connection: None,
        });
    }
    let auth_kind = chosen_auth(manifest, settings)?;
    // The plugin may read which auth kind signs it in (never a secret of
    // it), so its errors name the credential an admin must check.
    visible.insert("auth".into(), auth_kind.label().into());
    let auth = Credentials {
        manifest,
        visible: &visible,
        secrets,
    }
    .auth(auth_kind)?;
    let service = match service_url(manifest) {
        ServiceUrl::Setting(name) => match visible.get(name) {
            Some(url) => Some(url.clone()),
            None if auth != Auth::None => {
                return Err(Credentials {
                    manifest,
                    visible: &visible,
                    secrets,
                }
                .missing(name));
            }
            None => None,
        },
        ServiceUrl::Host(host) => Some(format!("https://{host}")),
        ServiceUrl::None => None,
    };
    Ok(Grant {
        connection: Some(Connection {
            allowed_hosts: allowed_hosts(manifest, &visible),
            service_url: service,
            auth,
            limits,
        }),
        settings: visible,
    })
}

/// What a manifest says the service URL is: the one origin the connection's
/// credentials go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceUrl<'a> {
    /// The URL setting its allowed hosts name first (`{service_url}`).
    Setting(&'a str),
    /// Its first literal allowed host (`api.clever.com`, `host:port`), over
    /// https.
    Host(&'a str),
    /// Wildcards only, or no allowed host: credentials go nowhere.
    None,
}

/// The service URL of a manifest's connections (see [`ServiceUrl`]).
pub fn service_url(manifest: &Manifest) -> ServiceUrl<'_> {
    let setting = manifest
        .allowed_hosts
        .iter()
        .find_map(|p| p.strip_prefix('{').and_then(|p| p.strip_suffix('}')));
    if let Some(name) = setting {
        return ServiceUrl::Setting(name);
    }
    manifest
        .allowed_hosts
        .iter()
        .map(|p| p.trim())
        .find(|p| !p.is_empty() && !p.starts_with("*."))
        .map_or(ServiceUrl::None, ServiceUrl::Host)
}

/// Where a secret goes: the setting it follows, and the destination that
/// setting's value makes of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The setting whose URL the secret is sent to (`token_url`,
    /// `service_url`).
    pub setting: String,
    /// The token URL itself (it is sent to that very URL), or the service
    /// URL's origin (it is sent to any path there); `None` while the
    /// setting is empty or not a URL.
    pub target: Option<String>,
}

/// For each secret the chosen auth kind sends somewhere, the settings it
/// follows and where they send it now, from a source's settings (a
/// listing's defaults merged in; the manifest's defaults are filled here).
/// An auth kind the manifest does not offer sends nothing.
pub fn secret_destinations(
    manifest: &Manifest,
    settings: &BTreeMap<String, String>,
) -> BTreeMap<String, Vec<Destination>> {
    let mut out = BTreeMap::new();
    let Ok(kind) = chosen_auth(manifest, settings) else {
        return out;
    };
    let value = |name: &str| {
        settings
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .or_else(|| manifest.setting(name).and_then(|s| s.default.clone()))
    };
    let service = match service_url(manifest) {
        ServiceUrl::Setting(name) => Some(Destination {
            setting: name.to_string(),
            target: value(name)
                .and_then(|v| Origin::parse(&v))
                .map(|o| o.to_string()),
        }),
        // A literal host is the manifest's, not a setting: nothing to re-point.
        ServiceUrl::Host(_) | ServiceUrl::None => None,
    };
    let token = Destination {
        setting: "token_url".to_string(),
        target: value("token_url")
            .and_then(|v| url::Url::parse(&v).ok())
            .map(|mut u| {
                u.set_fragment(None);
                u.to_string()
            }),
    };
    let to_token = matches!(
        kind,
        AuthKind::Oauth2ClientCredentials | AuthKind::Oauth2RefreshToken | AuthKind::Oauth2Password
    );
    for (secret, _) in kind.secrets() {
        if !manifest.is_secret(secret) {
            continue;
        }
        let mut to = Vec::new();
        // An API key beside a token grant goes to the service only.
        if to_token && *secret != "api_key" {
            to.push(token.clone());
        }
        to.extend(service.clone());
        out.insert(secret.to_string(), to);
    }
    out
}

/// A stored secret a change of settings would send somewhere new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repointed {
    pub secret: String,
    /// The settings whose change re-points it (`token_url`), or `auth`
    /// when the auth kind changed where it goes.
    pub because: Vec<String>,
}

impl Repointed {
    /// `cleared client_secret because token_url changed`.
    pub fn sentence(&self) -> String {
        format!(
            "cleared {} because {} changed",
            self.secret,
            self.because.join(" and ")
        )
    }
}

/// The secrets that a change of settings from `before` to `after` would
/// send to a destination they were not sent to before: each must be
/// entered again. A secret counts as re-pointed when any destination it
/// follows changes (a setting that was empty and is now filled included),
/// or when it follows other settings than before (the auth kind changed).
pub fn repointed_secrets(
    manifest: &Manifest,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<Repointed> {
    let was = secret_destinations(manifest, before);
    let now = secret_destinations(manifest, after);
    let mut out = Vec::new();
    for (secret, to) in &now {
        let old = was.get(secret).map(Vec::as_slice).unwrap_or(&[]);
        let mut because: Vec<String> = Vec::new();
        for d in to {
            match old.iter().find(|o| o.setting == d.setting) {
                Some(o) if o.target == d.target => {}
                Some(_) => because.push(d.setting.clone()),
                None => because.push("auth".to_string()),
            }
        }
        because.dedup();
        if !because.is_empty() {
            out.push(Repointed {
                secret: secret.clone(),
                because,
            });
        }
    }
    out
}

/// Every setting and secret a source names must be one the manifest declares.
fn refuse_unknown_names(
    manifest: &Manifest,
    settings: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, Secret>,
) -> Result<(), GrantError> {
    for name in settings.keys().chain(secrets.keys()) {
        if name != "auth" && manifest.setting(name).is_none() {
            return Err(GrantError::UnknownSetting {
                plugin: manifest.id.clone(),
                name: name.clone(),
                known: manifest
                    .settings
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    Ok(())
}

/// The settings the plugin may read: every non-secret setting with its value
/// or default, each checked against its type; required ones (secrets too)
/// must be there.
fn visible_settings(
    manifest: &Manifest,
    settings: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, Secret>,
) -> Result<BTreeMap<String, String>, GrantError> {
    let plugin = &manifest.id;
    let missing = |spec: &SettingSpec| GrantError::MissingSetting {
        plugin: plugin.clone(),
        name: spec.name.clone(),
        label: spec.label.clone(),
    };
    let mut visible = BTreeMap::new();
    for spec in &manifest.settings {
        if spec.secret {
            if settings.contains_key(&spec.name) {
                return Err(GrantError::SecretAsSetting {
                    plugin: plugin.clone(),
                    name: spec.name.clone(),
                });
            }
            if spec.required && secrets.get(&spec.name).is_none_or(|s| s.is_empty()) {
                return Err(missing(spec));
            }
            continue;
        }
        let value = settings
            .get(&spec.name)
            .filter(|v| !v.trim().is_empty())
            .or(spec.default.as_ref());
        let Some(value) = value else {
            if spec.required {
                return Err(missing(spec));
            }
            continue;
        };
        check_value(plugin, spec, value)?;
        visible.insert(spec.name.clone(), value.clone());
    }
    Ok(visible)
}

/// A setting's value must be of the setting's type (and a number within
/// the manifest's bounds). Checked when a source is saved and again when
/// it runs.
pub fn check_value(plugin: &str, spec: &SettingSpec, value: &str) -> Result<(), GrantError> {
    let invalid = |why: &str| GrantError::InvalidSetting {
        plugin: plugin.to_string(),
        name: spec.name.clone(),
        value: value.to_string(),
        why: why.to_string(),
    };
    match spec.kind {
        SettingType::Url => {
            let url = url::Url::parse(value).map_err(|e| invalid(&e.to_string()))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(invalid("it must be an http:// or https:// address"));
            }
        }
        SettingType::Number => {
            let n = value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| invalid("it must be a number"))?;
            let range = match (spec.min, spec.max) {
                (Some(lo), Some(hi)) => format!("use {lo} to {hi}"),
                (Some(lo), None) => format!("use {lo} or more"),
                (None, Some(hi)) => format!("use at most {hi}"),
                (None, None) => String::new(),
            };
            if spec.min.is_some_and(|lo| n < lo) || spec.max.is_some_and(|hi| n > hi) {
                return Err(invalid(&format!("it is out of range: {range}")));
            }
        }
        SettingType::Choice if !spec.choices.iter().any(|c| c == value) => {
            return Err(invalid(&format!(
                "choose one of {}",
                spec.choices.join(", ")
            )));
        }
        SettingType::Boolean if !matches!(value, "true" | "false") => {
            return Err(invalid("it must be true or false"));
        }
        _ => {}
    }
    Ok(())
}

/// The auth kind the source chose (`auth`), or the manifest's first.
fn chosen_auth(
    manifest: &Manifest,
    settings: &BTreeMap<String, String>,
) -> Result<AuthKind, GrantError> {
    let Some(chosen) = settings.get("auth") else {
        return Ok(manifest.auth.first().copied().unwrap_or(AuthKind::None));
    };
    manifest
        .auth
        .iter()
        .copied()
        .find(|k| k.label() == chosen)
        .ok_or_else(|| GrantError::UnsupportedAuth {
            plugin: manifest.id.clone(),
            chosen: chosen.clone(),
            supported: manifest
                .auth
                .iter()
                .map(|k| k.label())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// What the host authenticates with, from the settings and secrets an auth
/// kind needs.
struct Credentials<'a> {
    manifest: &'a Manifest,
    visible: &'a BTreeMap<String, String>,
    secrets: &'a BTreeMap<String, Secret>,
}

impl Credentials<'_> {
    fn missing(&self, name: &str) -> GrantError {
        GrantError::MissingSetting {
            plugin: self.manifest.id.clone(),
            name: name.to_string(),
            label: self
                .manifest
                .setting(name)
                .map(|s| s.label.clone())
                .unwrap_or_else(|| name.to_string()),
        }
    }

    fn setting(&self, name: &str) -> Result<String, GrantError> {
        self.visible
            .get(name)
            .cloned()
            .ok_or_else(|| self.missing(name))
    }

    fn secret(&self, name: &str) -> Result<Secret, GrantError> {
        self.secrets
            .get(name)
            .filter(|s| !s.is_empty())
            .cloned()
            .ok_or_else(|| self.missing(name))
    }

    fn scopes(&self) -> Vec<String> {
        self.visible
            .get("scopes")
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// The header an API key goes in: the `api_key_header` setting, else
    /// `X-API-Key`.
    fn api_key_header(&self) -> String {
        self.visible
            .get("api_key_header")
            .cloned()
            .unwrap_or_else(|| "X-API-Key".to_string())
    }

    fn auth(&self, kind: AuthKind) -> Result<Auth, GrantError> {
        Ok(match kind {
            AuthKind::None => Auth::None,
            AuthKind::Basic => Auth::Basic {
                username: self.setting("username")?,
                password: self.secret("password")?,
            },
            AuthKind::ApiKey => Auth::ApiKey {
                header: self.api_key_header(),
                key: self.secret("api_key")?,
            },
            AuthKind::Bearer => Auth::Bearer {
                token: self.secret("token")?,
            },
            AuthKind::Oauth2ClientCredentials => Auth::OAuth2ClientCredentials {
                token_url: self.setting("token_url")?,
                client_id: self.setting("client_id")?,
                client_secret: self.secret("client_secret")?,
                scopes: self.scopes(),
            },
            AuthKind::Oauth2RefreshToken => Auth::OAuth2RefreshToken {
                token_url: self.setting("token_url")?,
                client_id: self.setting("client_id")?,
                client_secret: self.secret("client_secret")?,
                refresh_token: self.secret("refresh_token")?,
                scopes: self.scopes(),
            },
            AuthKind::Oauth2Password => Auth::OAuth2Password {
                token_url: self.setting("token_url")?,
                client_id: self.setting("client_id")?,
                client_secret: self.secrets.get("client_secret").cloned(),
                username: self.setting("username")?,
                password: self.secret("password")?,
                scopes: self.scopes(),
                api_key: self
                    .secrets
                    .get("api_key")
                    .filter(|k| !k.is_empty())
                    .map(|key| (self.api_key_header(), key.clone())),
            },
            AuthKind::Oauth1 => Auth::OAuth1 {
                consumer_key: self.setting("client_id")?,
                consumer_secret: self.secret("client_secret")?,
            },
        })
    }
}

/// The hosts the plugin may reach: the manifest's patterns, with `{setting}`
/// replaced by the host (and port) of that setting's URL.
fn allowed_hosts(manifest: &Manifest, visible: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for pattern in &manifest.allowed_hosts {
        match pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => {
                let url = visible.get(name).and_then(|v| url::Url::parse(v).ok());
                if let Some(url) = url
                    && let Some(host) = url.host_str()
                {
                    out.push(match url.port() {
                        Some(port) => format!("{host}:{port}"),
                        None => host.to_string(),
                    });
                }
            }
            None => out.push(pattern.clone()),
        }
    }
    out
}

//! Granting capabilities against a manifest (in the manner of Zed's capability
//! granter): from a plugin's manifest and a source's configured settings and
//! secrets, work out exactly what the plugin may do: the settings it may read
//! (never a secret), the hosts it may reach and how the host authenticates its
//! requests. Nothing is granted that the manifest did not ask for.

use std::collections::BTreeMap;

use crate::capabilities::http::{Auth, Connection, HttpLimits};
use crate::gallery::manifest::{AuthKind, Manifest, SettingType};
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
    let plugin = manifest.id.clone();
    let known = || {
        manifest
            .settings
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for name in settings.keys().chain(secrets.keys()) {
        if name != "auth" && manifest.setting(name).is_none() {
            return Err(GrantError::UnknownSetting {
                plugin,
                name: name.clone(),
                known: known(),
            });
        }
    }
    let mut visible = BTreeMap::new();
    for spec in &manifest.settings {
        if spec.secret {
            if settings.contains_key(&spec.name) {
                return Err(GrantError::SecretAsSetting {
                    plugin,
                    name: spec.name.clone(),
                });
            }
            if spec.required && secrets.get(&spec.name).is_none_or(|s| s.is_empty()) {
                return Err(GrantError::MissingSetting {
                    plugin,
                    name: spec.name.clone(),
                    label: spec.label.clone(),
                });
            }
            continue;
        }
        let value = settings
            .get(&spec.name)
            .filter(|v| !v.trim().is_empty())
            .or(spec.default.as_ref());
        let Some(value) = value else {
            if spec.required {
                return Err(GrantError::MissingSetting {
                    plugin,
                    name: spec.name.clone(),
                    label: spec.label.clone(),
                });
            }
            continue;
        };
        let invalid = |why: &str| GrantError::InvalidSetting {
            plugin: plugin.clone(),
            name: spec.name.clone(),
            value: value.clone(),
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
                value
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| invalid("it must be a number"))?;
            }
            SettingType::Choice if !spec.choices.iter().any(|c| c == value) => {
                return Err(invalid(&format!(
                    "choose one of {}",
                    spec.choices.join(", ")
                )));
            }
            SettingType::Boolean if !matches!(value.as_str(), "true" | "false") => {
                return Err(invalid("it must be true or false"));
            }
            _ => {}
        }
        visible.insert(spec.name.clone(), value.clone());
    }

    if manifest.kind.is_rule() {
        return Ok(Grant {
            settings: visible,
            connection: None,
        });
    }

    let auth_kind = match settings.get("auth") {
        None => manifest.auth.first().copied().unwrap_or(AuthKind::None),
        Some(chosen) => manifest
            .auth
            .iter()
            .copied()
            .find(|k| k.label() == chosen)
            .ok_or_else(|| GrantError::UnsupportedAuth {
                plugin: plugin.clone(),
                chosen: chosen.clone(),
                supported: manifest
                    .auth
                    .iter()
                    .map(|k| k.label())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?,
    };
    if settings.contains_key("auth") {
        visible.insert("auth".into(), auth_kind.label().into());
    }
    let need = |name: &str| -> Result<String, GrantError> {
        visible
            .get(name)
            .cloned()
            .ok_or_else(|| GrantError::MissingSetting {
                plugin: plugin.clone(),
                name: name.to_string(),
                label: manifest
                    .setting(name)
                    .map(|s| s.label.clone())
                    .unwrap_or_else(|| name.to_string()),
            })
    };
    let need_secret = |name: &str| -> Result<Secret, GrantError> {
        secrets
            .get(name)
            .filter(|s| !s.is_empty())
            .cloned()
            .ok_or_else(|| GrantError::MissingSetting {
                plugin: plugin.clone(),
                name: name.to_string(),
                label: manifest
                    .setting(name)
                    .map(|s| s.label.clone())
                    .unwrap_or_else(|| name.to_string()),
            })
    };
    let scopes = || -> Vec<String> {
        visible
            .get("scopes")
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    };
    let auth = match auth_kind {
        AuthKind::None => Auth::None,
        AuthKind::Basic => Auth::Basic {
            username: need("username")?,
            password: need_secret("password")?,
        },
        AuthKind::ApiKey => Auth::ApiKey {
            header: visible
                .get("api_key_header")
                .cloned()
                .unwrap_or_else(|| "X-API-Key".to_string()),
            key: need_secret("api_key")?,
        },
        AuthKind::Bearer => Auth::Bearer {
            token: need_secret("token")?,
        },
        AuthKind::Oauth2ClientCredentials => Auth::OAuth2ClientCredentials {
            token_url: need("token_url")?,
            client_id: need("client_id")?,
            client_secret: need_secret("client_secret")?,
            scopes: scopes(),
        },
        AuthKind::Oauth2Password => Auth::OAuth2Password {
            token_url: need("token_url")?,
            client_id: need("client_id")?,
            client_secret: secrets.get("client_secret").cloned(),
            username: need("username")?,
            password: need_secret("password")?,
            scopes: scopes(),
        },
        AuthKind::Oauth1 => Auth::OAuth1 {
            consumer_key: need("client_id")?,
            consumer_secret: need_secret("client_secret")?,
        },
    };

    let mut allowed_hosts = Vec::new();
    for pattern in &manifest.allowed_hosts {
        match pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => {
                if let Some(value) = visible.get(name) {
                    if let Ok(url) = url::Url::parse(value) {
                        if let Some(host) = url.host_str() {
                            allowed_hosts.push(match url.port() {
                                Some(port) => format!("{host}:{port}"),
                                None => host.to_string(),
                            });
                        }
                    }
                }
            }
            None => allowed_hosts.push(pattern.clone()),
        }
    }
    Ok(Grant {
        settings: visible,
        connection: Some(Connection {
            allowed_hosts,
            auth,
            limits,
        }),
    })
}

//! A plugin's manifest (`manifest.toml` beside its component): who made it,
//! what world version it speaks, what it syncs, its settings (and which are
//! secrets), how it authenticates and which hosts it may reach.

use serde::{Deserialize, Serialize};

use crate::bindings::{WORLD_VERSION, WORLD_VERSIONS};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    Connector,
    FilterRule,
    TransformRule,
}

impl PluginKind {
    pub fn is_rule(self) -> bool {
        !matches!(self, PluginKind::Connector)
    }

    pub fn label(self) -> &'static str {
        match self {
            PluginKind::Connector => "connector",
            PluginKind::FilterRule => "filter-rule",
            PluginKind::TransformRule => "transform-rule",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    Import,
    Export,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitySupport {
    pub kind: String,
    pub directions: Vec<Direction>,
    /// The connector supplies part of each record of this kind (a
    /// directory beside a SIS): the data contract's required attributes
    /// are not asked of it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthKind {
    None,
    Basic,
    ApiKey,
    Bearer,
    Oauth2ClientCredentials,
    Oauth2RefreshToken,
    Oauth2Password,
    Oauth1,
}

impl AuthKind {
    /// The secret settings this kind sends, by the names the manifest must
    /// give them, and whether the kind cannot go without each.
    pub fn secrets(self) -> &'static [(&'static str, bool)] {
        match self {
            AuthKind::None => &[],
            AuthKind::Basic => &[("password", true)],
            AuthKind::ApiKey => &[("api_key", true)],
            AuthKind::Bearer => &[("token", true)],
            AuthKind::Oauth1 | AuthKind::Oauth2ClientCredentials => &[("client_secret", true)],
            AuthKind::Oauth2RefreshToken => &[("client_secret", true), ("refresh_token", true)],
            AuthKind::Oauth2Password => &[
                ("client_secret", false),
                ("password", true),
                ("api_key", false),
            ],
        }
    }

    /// Every kind, in the order the guide lists them.
    pub const ALL: [AuthKind; 8] = [
        AuthKind::None,
        AuthKind::ApiKey,
        AuthKind::Bearer,
        AuthKind::Basic,
        AuthKind::Oauth2ClientCredentials,
        AuthKind::Oauth2RefreshToken,
        AuthKind::Oauth2Password,
        AuthKind::Oauth1,
    ];

    /// The non-secret settings this kind reads, and whether it cannot go
    /// without each (`grant.rs` reads them by these names).
    pub fn settings(self) -> &'static [(&'static str, bool)] {
        match self {
            AuthKind::None | AuthKind::Bearer => &[],
            AuthKind::Basic => &[("username", true)],
            AuthKind::ApiKey => &[("api_key_header", false)],
            AuthKind::Oauth2ClientCredentials | AuthKind::Oauth2RefreshToken => {
                &[("token_url", true), ("client_id", true), ("scopes", false)]
            }
            AuthKind::Oauth2Password => &[
                ("token_url", true),
                ("client_id", true),
                ("username", true),
                ("scopes", false),
                ("api_key_header", false),
            ],
            AuthKind::Oauth1 => &[("client_id", true)],
        }
    }

    /// What the host does with it, for the guide.
    pub fn meaning(self) -> &'static str {
        match self {
            AuthKind::None => "sends no credentials",
            AuthKind::ApiKey => {
                "sends the key in a header: `api_key_header` names it (X-API-Key when left out)"
            }
            AuthKind::Bearer => "sends `Authorization: Bearer` with the token",
            AuthKind::Basic => "sends HTTP Basic with the username and password",
            AuthKind::Oauth2ClientCredentials => {
                "gets a token from `token_url` by the client credentials grant (scopes space-separated) and sends it as a bearer token, renewing it when it runs out"
            }
            AuthKind::Oauth2RefreshToken => {
                "gets a token from `token_url` with the refresh token and sends it as a bearer token"
            }
            AuthKind::Oauth2Password => {
                "gets a token from `token_url` by the password grant (the client secret when there is one) and sends it as a bearer token; with an `api_key`, sends that too in the header `api_key_header` names, to the service only"
            }
            AuthKind::Oauth1 => {
                "signs every request with OAuth 1.0a HMAC-SHA256 (consumer key `client_id`, secret `client_secret`)"
            }
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AuthKind::None => "none",
            AuthKind::Basic => "basic",
            AuthKind::ApiKey => "api-key",
            AuthKind::Bearer => "bearer",
            AuthKind::Oauth2ClientCredentials => "oauth2-client-credentials",
            AuthKind::Oauth2RefreshToken => "oauth2-refresh-token",
            AuthKind::Oauth2Password => "oauth2-password",
            AuthKind::Oauth1 => "oauth1",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SettingType {
    #[default]
    Text,
    Url,
    Number,
    Choice,
    Boolean,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingSpec {
    pub name: String,
    pub label: String,
    #[serde(default, rename = "type")]
    pub kind: SettingType,
    /// A secret is held by the host only: never shown to the plugin, never
    /// returned by the API, never logged.
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub choices: Vec<String>,
    #[serde(default)]
    pub help: Option<String>,
    /// A number setting's least and greatest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// A gallery entry: the same component listed under its own name and
/// defaults (say "Lumen Touch", a OneRoster 1.1 SIS).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listing {
    pub id: String,
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub defaults: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub vendor: String,
    pub version: String,
    pub kind: PluginKind,
    /// The `homeroom:plugin` WIT version the component was built against.
    pub world_version: String,
    pub description: String,
    #[serde(default)]
    pub entities: Vec<EntitySupport>,
    #[serde(default)]
    pub settings: Vec<SettingSpec>,
    /// The auth kinds the connector supports; the first is the default, the
    /// setting `auth` picks another.
    #[serde(default)]
    pub auth: Vec<AuthKind>,
    /// Hosts the plugin may reach: literal (`api.clever.com`) or the host of a
    /// URL setting (`{service_url}`).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Whether the connector reads a file-drop folder.
    #[serde(default)]
    pub files: bool,
    #[serde(default)]
    pub listings: Vec<Listing>,
    /// Rules only: the attributes the rule reads (`reads = ["role", "grades"]`).
    /// The host sends each record with only these attributes (and always its
    /// kind, source id, status and date last modified), which makes a rule
    /// cheaper to run. A transformation's answer then states the attributes
    /// it read as they should be; those it did not read are kept. Without
    /// `reads` a rule gets every attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads: Option<Vec<String>>,
    /// What the plugin needs past the host's defaults (`[needs]`): more
    /// storage, longer values, reasons or messages. The host grants each up
    /// to the operator's maximum (`runtime::Limits::plugin_max`).
    #[serde(default, skip_serializing_if = "Needs::is_empty")]
    pub needs: Needs,
}

/// Every manifest field, for the guide: (table, field, type, required,
/// meaning). The tests hold it to the structs above: a manifest of every
/// field here parses (the structs refuse unknown fields) and every field
/// the structs write is here.
pub const FIELDS: &[(&str, &str, &str, bool, &str)] = &[
    (
        "",
        "id",
        "text",
        true,
        "the package's id: 1-64 lowercase letters, digits or dashes; a district's source names it",
    ),
    ("", "name", "text", true, "the name the gallery shows"),
    ("", "vendor", "text", true, "who makes it"),
    ("", "version", "text", true, "the package's version"),
    (
        "",
        "kind",
        "connector | filter-rule | transform-rule",
        true,
        "what the component is",
    ),
    (
        "",
        "world_version",
        "0.2.0 | 0.1.0",
        true,
        "the homeroom:plugin WIT version it was built against (the SDK's is 0.2.0)",
    ),
    ("", "description", "text", true, "the gallery's description"),
    (
        "",
        "auth",
        "list of auth kinds",
        false,
        "how the host signs in for it (below); the first is the default, a setting `auth` picks another",
    ),
    (
        "",
        "allowed_hosts",
        "list of text",
        false,
        "hosts it may reach: literal (`api.example.com`) or `{setting}`, the host and port of that URL setting's value; a connector with auth must name at least one",
    ),
    (
        "",
        "files",
        "boolean",
        false,
        "it reads a file-drop folder (as /drop)",
    ),
    (
        "",
        "reads",
        "list of text",
        false,
        "rules only: the attributes a rule reads; records come with only these",
    ),
    (
        "[[entities]]",
        "kind",
        "entity kind",
        true,
        "a kind it reads or writes: org, academic-session, course, class, user, demographics, user-agent, enrollment, category, line-item, result",
    ),
    (
        "[[entities]]",
        "directions",
        "list of import | export",
        true,
        "whether the hub reads it from the connector, writes it through it, or both",
    ),
    (
        "[[entities]]",
        "partial",
        "boolean",
        false,
        "it supplies part of each record of the kind (a directory beside a SIS): required attributes are not asked of it",
    ),
    (
        "[[settings]]",
        "name",
        "text",
        true,
        "the setting's name, as the plugin asks for it and `{name}` patterns say it",
    ),
    (
        "[[settings]]",
        "label",
        "text",
        true,
        "what the admin reads in the Delivery Config",
    ),
    (
        "[[settings]]",
        "type",
        "text | url | number | choice | boolean",
        false,
        "checked when saved (text when left out)",
    ),
    (
        "[[settings]]",
        "secret",
        "boolean",
        false,
        "held by the host only, sent by an auth kind; never shown to the plugin, an API answer or a log",
    ),
    (
        "[[settings]]",
        "required",
        "boolean",
        false,
        "a source cannot be saved without it",
    ),
    (
        "[[settings]]",
        "default",
        "text",
        false,
        "the value until the admin changes it",
    ),
    (
        "[[settings]]",
        "choices",
        "list of text",
        false,
        "a choice setting's values",
    ),
    (
        "[[settings]]",
        "help",
        "text",
        false,
        "a line under the field",
    ),
    (
        "[[settings]]",
        "min",
        "number",
        false,
        "a number setting's least value",
    ),
    (
        "[[settings]]",
        "max",
        "number",
        false,
        "a number setting's greatest value",
    ),
    (
        "[[listings]]",
        "id",
        "text",
        true,
        "another gallery entry of the same component (a SIS that speaks OneRoster)",
    ),
    (
        "[[listings]]",
        "name",
        "text",
        true,
        "its name in the gallery",
    ),
    (
        "[[listings]]",
        "description",
        "text",
        true,
        "its description",
    ),
    ("[[listings]]", "vendor", "text", false, "its vendor"),
    (
        "[[listings]]",
        "defaults",
        "table of text",
        false,
        "settings it fills in",
    ),
    (
        "[needs]",
        "storage_keys",
        "number",
        false,
        "keys in its storage per source (default 10,000)",
    ),
    (
        "[needs]",
        "storage_bytes",
        "number",
        false,
        "bytes of values in its storage per source (default 64 MiB)",
    ),
    (
        "[needs]",
        "value_bytes",
        "number",
        false,
        "bytes of one attribute value it returns (default 64 KiB)",
    ),
    (
        "[needs]",
        "reason_bytes",
        "number",
        false,
        "bytes of one reason a rule drops a record for (default 1 KiB)",
    ),
    (
        "[needs]",
        "message_bytes",
        "number",
        false,
        "bytes of one error, warning or log line (default 2,000)",
    ),
];

/// A plugin's `[needs]`, each in place of the host's default for it:
///
/// ```toml
/// [needs]
/// storage_keys = 50000        # keys in its storage per source (default 10,000)
/// storage_bytes = 134217728   # bytes of values in its storage per source (default 64 MiB)
/// value_bytes = 262144        # bytes of one attribute value it returns (default 64 KiB)
/// reason_bytes = 4096         # bytes of one reason a rule drops a record for (default 1 KiB)
/// message_bytes = 8192        # bytes of one error, warning or log line (default 2,000)
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Needs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_keys: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_bytes: Option<u64>,
}

impl Needs {
    pub fn is_empty(&self) -> bool {
        *self == Needs::default()
    }

    /// The smallest value each may state: a cap below it would refuse or
    /// cut everything.
    fn minimum(name: &str) -> u64 {
        match name {
            "value_bytes" => 64,
            "reason_bytes" | "message_bytes" => 80,
            _ => 0,
        }
    }
}

/// What every record sent to a rule carries anyway; not attributes.
pub const ALWAYS_SENT: [&str; 6] = [
    "kind",
    "sourcedId",
    "sourceId",
    "source_id",
    "status",
    "dateLastModified",
];

/// An attribute name as `reads` may state it: a letter, then letters,
/// digits, `_`, `-`, `.` or `:`, at most 64 in all.
pub fn is_attribute_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("the plugin manifest cannot be read: {0}")]
    Parse(String),
    #[error(
        "plugin `{id}` was built for homeroom:plugin@{found}, which this host does not support (it runs homeroom:plugin@{supported}): ask the vendor for a build against {newest}"
    )]
    UnsupportedWorld {
        id: String,
        found: String,
        /// The versions this host runs, listed.
        supported: String,
        newest: &'static str,
    },
    #[error("plugin manifest is invalid: {0}")]
    Invalid(String),
}

impl Manifest {
    /// Whether the manifest declares `kind` partial (see
    /// [`EntitySupport::partial`]).
    pub fn is_partial(&self, kind: crate::bindings::types::EntityKind) -> bool {
        self.entities
            .iter()
            .any(|e| e.partial && e.kind == kind.cli_name())
    }

    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| ManifestError::Parse(e.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    fn validate(&self) -> Result<(), ManifestError> {
        let slug = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        if !slug(&self.id) {
            return Err(ManifestError::Invalid(format!(
                "id `{}` must be 1-64 lowercase letters, digits or dashes",
                self.id
            )));
        }
        if !WORLD_VERSIONS.contains(&self.world_version.as_str()) {
            return Err(ManifestError::UnsupportedWorld {
                id: self.id.clone(),
                found: self.world_version.clone(),
                supported: WORLD_VERSIONS.join(", "),
                newest: WORLD_VERSION,
            });
        }
        let mut names = std::collections::BTreeSet::new();
        for s in &self.settings {
            if !names.insert(s.name.as_str()) {
                return Err(ManifestError::Invalid(format!(
                    "setting `{}` is declared twice",
                    s.name
                )));
            }
        }
        for l in &self.listings {
            if !slug(&l.id) {
                return Err(ManifestError::Invalid(format!(
                    "listing id `{}` must be lowercase letters, digits or dashes",
                    l.id
                )));
            }
        }
        if let Some(reads) = &self.reads {
            if !self.kind.is_rule() {
                return Err(ManifestError::Invalid(format!(
                    "`reads` is for rules, and `{}` is a {}: remove `reads` from its manifest",
                    self.id,
                    self.kind.label()
                )));
            }
            let mut seen = std::collections::BTreeSet::new();
            for name in reads {
                if ALWAYS_SENT.contains(&name.as_str()) {
                    return Err(ManifestError::Invalid(format!(
                        "`reads` names `{name}`, which every record sent to a rule carries anyway: remove it from `reads`"
                    )));
                }
                if !is_attribute_name(name) {
                    return Err(ManifestError::Invalid(format!(
                        "`reads` names `{}`, which is not an attribute name: write attribute names as the records carry them (a letter, then letters, digits, `_`, `-`, `.` or `:`, at most 64), e.g. reads = [\"role\", \"grades\"]",
                        name.escape_debug()
                    )));
                }
                if !seen.insert(name.as_str()) {
                    return Err(ManifestError::Invalid(format!(
                        "`reads` names `{name}` twice"
                    )));
                }
            }
        }
        for (name, value) in [
            ("value_bytes", self.needs.value_bytes),
            ("reason_bytes", self.needs.reason_bytes),
            ("message_bytes", self.needs.message_bytes),
        ] {
            let least = Needs::minimum(name);
            if value.is_some_and(|v| v < least) {
                return Err(ManifestError::Invalid(format!(
                    "[needs] {name} must be at least {least}: leave it out for the host's default"
                )));
            }
        }
        self.check_auth()?;
        for host in &self.allowed_hosts {
            if let Some(name) = host.strip_prefix('{').and_then(|h| h.strip_suffix('}')) {
                if !names.contains(name) {
                    return Err(ManifestError::Invalid(format!(
                        "allowed host `{host}` names a setting that is not declared"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Each auth kind finds the secrets it sends, every secret is sent by
    /// one, and a connector that signs in somewhere says where it may go:
    /// refused at load with the fix, not at a district's first run.
    fn check_auth(&self) -> Result<(), ManifestError> {
        let invalid = |m: String| Err(ManifestError::Invalid(m));
        for kind in &self.auth {
            for (name, required) in kind.secrets() {
                if *required && !self.is_secret(name) {
                    return invalid(format!(
                        "auth `{}` sends the secret setting `{name}`, which the manifest does not declare: add [[settings]] name = \"{name}\", secret = true (the host looks the secret up by that name)",
                        kind.label()
                    ));
                }
            }
        }
        for spec in self.settings.iter().filter(|s| s.secret) {
            let sent = self
                .auth
                .iter()
                .any(|k| k.secrets().iter().any(|(n, _)| *n == spec.name));
            if !sent {
                let kinds: Vec<String> = AuthKind::ALL
                    .iter()
                    .filter(|k| k.secrets().iter().any(|(n, _)| *n == spec.name))
                    .map(|k| format!("\"{}\"", k.label()))
                    .collect();
                let fix = if kinds.is_empty() {
                    "name it as the auth kind that sends it names it (api_key, token, password, client_secret or refresh_token)".to_string()
                } else {
                    format!("add auth = [{}]", kinds.join(", "))
                };
                return invalid(format!(
                    "the secret setting `{}` is sent by no auth kind of this manifest, so it would be kept and never used (a plugin never sees secrets): {fix}",
                    spec.name
                ));
            }
        }
        let signs_in = self.auth.iter().any(|k| *k != AuthKind::None);
        if signs_in && self.allowed_hosts.is_empty() {
            return invalid(
                "the connector signs in somewhere but names no allowed_hosts, so every request would be refused: add allowed_hosts = [\"{service_url}\"] (a setting's value in braces, or a host name)".into(),
            );
        }
        Ok(())
    }

    pub fn setting(&self, name: &str) -> Option<&SettingSpec> {
        self.settings.iter().find(|s| s.name == name)
    }

    pub fn is_secret(&self, name: &str) -> bool {
        self.setting(name).is_some_and(|s| s.secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guide's field table and the structs are the same fields.
    #[test]
    fn the_field_table_is_every_field_of_the_manifest() {
        let sample = |ty: &str| match ty {
            "boolean" => "true".to_string(),
            "number" => "1".to_string(),
            "table of text" => "{ a = \"b\" }".to_string(),
            t if t.starts_with("list of import") => "[\"import\"]".to_string(),
            t if t.starts_with("list of auth") => "[\"api-key\"]".to_string(),
            t if t.starts_with("list") => "[\"x\"]".to_string(),
            t if t.starts_with("connector") => "\"connector\"".to_string(),
            t if t.starts_with("0.2.0") => "\"0.2.0\"".to_string(),
            t if t.starts_with("text |") => "\"number\"".to_string(),
            "entity kind" => "\"user\"".to_string(),
            _ => "\"x\"".to_string(),
        };
        let mut text = String::new();
        for table in [
            "",
            "[[entities]]",
            "[[settings]]",
            "[[listings]]",
            "[needs]",
        ] {
            if !table.is_empty() {
                text.push_str(&format!("{table}\n"));
            }
            for (t, field, ty, _, _) in FIELDS.iter().filter(|f| f.0 == table) {
                let _ = t;
                text.push_str(&format!("{field} = {}\n", sample(ty)));
            }
        }
        let manifest: Manifest = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let written = toml::to_string(&manifest).unwrap();
        let back: toml::Table = toml::from_str(&written).unwrap();
        let mut keys = Vec::new();
        for (k, v) in &back {
            match v {
                toml::Value::Array(items)
                    if items.iter().all(toml::Value::is_table) && !items.is_empty() =>
                {
                    for item in items {
                        for key in item.as_table().unwrap().keys() {
                            keys.push((format!("[[{k}]]"), key.clone()));
                        }
                    }
                }
                toml::Value::Table(t) if k == "needs" => {
                    for key in t.keys() {
                        keys.push(("[needs]".to_string(), key.clone()));
                    }
                }
                _ => keys.push((String::new(), k.clone())),
            }
        }
        for (table, key) in keys {
            assert!(
                FIELDS.iter().any(|f| f.0 == table && f.1 == key),
                "{table} {key} is a manifest field the guide's table (FIELDS) does not list"
            );
        }
    }

    const MINIMAL: &str = r#"
id = "demo"
name = "Demo"
vendor = "Homeroom"
version = "0.1.0"
kind = "connector"
world_version = "0.1.0"
description = "d"
allowed_hosts = ["{service_url}"]
[[settings]]
name = "service_url"
label = "Service URL"
type = "url"
required = true
"#;

    #[test]
    fn parses_and_refuses_other_world_versions() {
        let m = Manifest::parse(MINIMAL).unwrap();
        assert_eq!(m.kind, PluginKind::Connector);
        let err = Manifest::parse(
            &MINIMAL.replace("world_version = \"0.1.0\"", "world_version = \"9.0.0\""),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("homeroom:plugin@9.0.0"), "{err}");
        assert!(err.contains("runs homeroom:plugin@0.1.0, 0.2.0"), "{err}");
        assert!(err.contains("a build against 0.2.0"), "{err}");
        let older = Manifest::parse(
            &MINIMAL.replace("world_version = \"0.1.0\"", "world_version = \"0.2.0\""),
        );
        assert!(older.is_ok(), "both versions are run");
    }

    /// A secret, an auth line and hosts, each checked at load with its fix.
    #[test]
    fn auth_secrets_and_hosts_are_checked_at_load() {
        let secret =
            |name: &str| format!("[[settings]]\nname = \"{name}\"\nlabel = \"S\"\nsecret = true\n");
        let with = |top: &str, settings: &str| {
            let (head, rest) = MINIMAL.split_once("[[settings]]").unwrap();
            format!("{top}\n{head}{settings}[[settings]]{rest}")
        };
        let err = |text: String| Manifest::parse(&text).unwrap_err().to_string();
        // An API key named otherwise than the auth kind looks it up.
        let e = err(with("auth = [\"api-key\"]", &secret("key")));
        assert!(
            e.contains("auth `api-key` sends the secret setting `api_key`")
                && e.contains("name = \"api_key\""),
            "{e}"
        );
        // A secret and no auth line: kept, never sent.
        let e = err(with("", &secret("api_key")));
        assert!(
            e.contains("`api_key` is sent by no auth kind")
                && e.contains("auth = [\"api-key\", \"oauth2-password\"]"),
            "{e}"
        );
        let e = err(with(
            "auth = [\"bearer\"]",
            &(secret("token") + &secret("pin")),
        ));
        assert!(e.contains("`pin` is sent by no auth kind"), "{e}");
        // Signs in, goes nowhere.
        let e = err(with("auth = [\"bearer\"]", &secret("token"))
            .replace("allowed_hosts = [\"{service_url}\"]\n", ""));
        assert!(e.contains("add allowed_hosts = [\"{service_url}\"]"), "{e}");
        // As the built-in connectors have them: fine.
        assert!(Manifest::parse(&with("auth = [\"bearer\"]", &secret("token"))).is_ok());
        assert!(
            Manifest::parse(&with("auth = [\"oauth2-password\"]", &secret("password"))).is_ok(),
            "the password grant's client secret is optional"
        );
        assert!(
            Manifest::parse(&with(
                "auth = [\"oauth2-password\"]",
                &(secret("password") + &secret("api_key"))
            ))
            .is_ok(),
            "the password grant may send an API key beside its token (xPress Roster)"
        );
    }

    const RULE: &str = r#"
id = "only-students"
name = "Only students"
vendor = "District"
version = "0.1.0"
kind = "filter-rule"
world_version = "0.1.0"
description = "d"
reads = ["role", "grades"]
"#;

    #[test]
    fn a_rule_may_declare_what_it_reads() {
        let m = Manifest::parse(RULE).unwrap();
        assert_eq!(
            m.reads,
            Some(vec!["role".to_string(), "grades".to_string()])
        );
        let all = Manifest::parse(&RULE.replace("reads = [\"role\", \"grades\"]\n", "")).unwrap();
        assert_eq!(all.reads, None, "no `reads`: every attribute");
    }

    #[test]
    fn refuses_reads_an_admin_must_fix() {
        let err = |from: &str, to: &str| {
            Manifest::parse(&RULE.replace(from, to))
                .unwrap_err()
                .to_string()
        };
        let e = err("\"grades\"]", "\"grades\", \"first name\"]");
        assert!(
            e.contains("`first name`") && e.contains("not an attribute name"),
            "{e}"
        );
        let e = err("\"grades\"]", "\"grades\", \"role\"]");
        assert!(e.contains("`role` twice"), "{e}");
        let e = err("\"grades\"]", "\"grades\", \"sourcedId\"]");
        assert!(e.contains("carries anyway"), "{e}");
        let e = err("kind = \"filter-rule\"", "kind = \"connector\"");
        assert!(e.contains("`reads` is for rules"), "{e}");
    }

    #[test]
    fn a_plugin_may_declare_its_needs() {
        let m = Manifest::parse(&format!(
            "{MINIMAL}\n[needs]\nstorage_keys = 50000\nvalue_bytes = 262144\n"
        ))
        .unwrap();
        assert_eq!(m.needs.storage_keys, Some(50_000));
        assert_eq!(m.needs.value_bytes, Some(262_144));
        assert_eq!(m.needs.storage_bytes, None);
        assert!(Manifest::parse(MINIMAL).unwrap().needs.is_empty());
        let err = Manifest::parse(&format!("{MINIMAL}\n[needs]\nmessage_bytes = 3\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("message_bytes must be at least 80"), "{err}");
        let err = Manifest::parse(&format!("{MINIMAL}\n[needs]\nstorage = 3\n")).unwrap_err();
        assert!(err.to_string().contains("storage"), "{err}");
    }

    #[test]
    fn refuses_hosts_naming_unknown_settings() {
        let err = Manifest::parse(&MINIMAL.replace("{service_url}", "{nope}")).unwrap_err();
        assert!(err.to_string().contains("{nope}"));
    }
}

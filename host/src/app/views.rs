//! The shapes the API answers with and takes, shared by the admin UI. Each
//! is documented in the OpenAPI document; parts that are the configuration
//! model's own types (`config.rs`) appear there as objects.

/// What a destination holds of one entity, as the store keeps it.
pub use crate::store::exports::{ExportState, ExportStatus};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use utoipa::ToSchema;

use super::auth::Role;
use crate::config::SourceConfig;
use crate::gallery::Package;
use crate::store::{Run, SetupRow};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrgInfo {
    pub id: String,
    pub name: String,
    /// The caller's role in it.
    pub role: Role,
}

impl From<&crate::store::Duplicate> for DuplicateView {
    fn from(d: &crate::store::Duplicate) -> DuplicateView {
        DuplicateView {
            id: d.id.clone(),
            kind: d.kind.clone(),
            domain: d.domain.clone(),
            primary: entity_view(&d.primary),
            secondary: entity_view(&d.secondary),
            status: d.status.clone(),
            run_id: d.run_id.clone(),
        }
    }
}

/// A new name for an organization.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct OrgRename {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewOrg {
    /// Lowercase letters, digits and dashes (`springfield`).
    pub id: String,
    pub name: String,
}

/// Who the token is.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Me {
    pub token_id: String,
    pub name: String,
    pub platform: bool,
    pub organizations: Vec<OrgInfo>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SettingView {
    pub name: String,
    pub label: String,
    /// text, url, number, choice or boolean.
    #[serde(rename = "type")]
    pub kind: String,
    /// Write-only: its value is never returned.
    pub secret: bool,
    pub required: bool,
    /// The default (a gallery listing's own default first).
    pub default: Option<String>,
    pub choices: Vec<String>,
    pub help: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntityKindView {
    pub kind: String,
    /// import and/or export.
    pub directions: Vec<String>,
}

/// An app of the gallery: a plugin, or one of its listings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GalleryEntry {
    pub id: String,
    pub plugin: String,
    pub name: String,
    pub vendor: String,
    pub version: String,
    /// connector, filter-rule or transform-rule.
    pub kind: String,
    pub description: String,
    pub entities: Vec<EntityKindView>,
    pub settings: Vec<SettingView>,
    /// Auth kinds the connector supports; the first is the default.
    pub auth: Vec<String>,
    /// Reads a file-drop folder.
    pub files: bool,
    /// The hosts the app may reach, as its manifest names them, and which
    /// of them gets the source's credentials: shown before activation.
    pub allowed_hosts: Vec<AllowedHostView>,
}

/// One host an app may reach.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AllowedHostView {
    /// As the manifest writes it: `api.example.org`, `host:port`,
    /// `*.example.org`, or `{service_url}` for the host of a URL setting.
    pub pattern: String,
    /// For `{setting}`: the setting's name, whose URL's host this is.
    pub setting: Option<String>,
    /// For `{setting}`: the setting's label (`Service URL`).
    pub setting_label: Option<String>,
    /// Whether requests there carry the source's credentials: only the
    /// service URL's exact origin (scheme, host and port) does, and never
    /// over plain http except to this machine. Other hosts get requests
    /// without credentials. (An OAuth2 client secret goes only to the Token
    /// URL.)
    pub credentials: bool,
}

impl AllowedHostView {
    /// What the admin reads: `api.example.org`, or `the host of the Service
    /// URL`.
    pub fn describe(&self) -> String {
        match &self.setting_label {
            Some(label) => format!("the host of the {label}"),
            None => self.pattern.clone(),
        }
    }
}

fn allowed_host_views(m: &crate::gallery::manifest::Manifest) -> Vec<AllowedHostView> {
    use crate::gallery::grant::{ServiceUrl, service_url};
    use crate::gallery::manifest::AuthKind;
    let has_credentials = m.auth.iter().any(|a| *a != AuthKind::None);
    let service = service_url(m);
    let mut service_seen = false;
    m.allowed_hosts
        .iter()
        .map(|pattern| {
            let setting = pattern
                .strip_prefix('{')
                .and_then(|p| p.strip_suffix('}'))
                .map(str::to_string);
            let is_service = match (&service, &setting) {
                (ServiceUrl::Setting(name), Some(s)) => name == s,
                (ServiceUrl::Host(host), None) => host == &pattern.trim(),
                _ => false,
            };
            let credentials = has_credentials && is_service && !service_seen;
            service_seen |= is_service;
            AllowedHostView {
                pattern: pattern.clone(),
                setting_label: setting
                    .as_deref()
                    .and_then(|s| m.setting(s))
                    .map(|s| s.label.clone()),
                setting,
                credentials,
            }
        })
        .collect()
}

impl GalleryEntry {
    /// Whether its connector takes a kind in `direction` (`import`, `export`).
    pub fn goes(&self, direction: &str) -> bool {
        !self.kinds_going(direction).is_empty()
    }

    /// The kinds its connector takes in `direction`, as its manifest lists them.
    pub fn kinds_going(&self, direction: &str) -> Vec<&str> {
        self.entities
            .iter()
            .filter(|e| e.directions.iter().any(|d| d == direction))
            .map(|e| e.kind.as_str())
            .collect()
    }

    /// Every app of the gallery: each plugin and each of its listings.
    pub fn all(packages: &[std::sync::Arc<Package>]) -> Vec<GalleryEntry> {
        let mut out = Vec::new();
        for p in packages {
            let m = &p.manifest;
            out.push(Self::of(p, None));
            for l in &m.listings {
                out.push(Self::of(p, Some(&l.id)));
            }
        }
        out
    }

    /// The entry of a plugin, or of one of its listings.
    pub fn of(package: &Package, listing: Option<&str>) -> GalleryEntry {
        let m = &package.manifest;
        let l = listing.and_then(|id| m.listings.iter().find(|l| l.id == id));
        let defaults = l.map(|l| l.defaults.clone()).unwrap_or_default();
        GalleryEntry {
            id: l.map(|l| l.id.clone()).unwrap_or_else(|| m.id.clone()),
            plugin: m.id.clone(),
            name: l.map(|l| l.name.clone()).unwrap_or_else(|| m.name.clone()),
            vendor: l
                .and_then(|l| l.vendor.clone())
                .unwrap_or_else(|| m.vendor.clone()),
            version: m.version.clone(),
            kind: m.kind.label().to_string(),
            description: l
                .map(|l| l.description.clone())
                .unwrap_or_else(|| m.description.clone()),
            entities: m
                .entities
                .iter()
                .map(|e| EntityKindView {
                    kind: e.kind.clone(),
                    directions: e
                        .directions
                        .iter()
                        .map(|d| match d {
                            crate::gallery::manifest::Direction::Import => "import".to_string(),
                            crate::gallery::manifest::Direction::Export => "export".to_string(),
                        })
                        .collect(),
                })
                .collect(),
            settings: m
                .settings
                .iter()
                .map(|s| SettingView {
                    name: s.name.clone(),
                    label: s.label.clone(),
                    kind: format!("{:?}", s.kind).to_lowercase(),
                    secret: s.secret,
                    required: s.required,
                    default: defaults.get(&s.name).cloned().or_else(|| s.default.clone()),
                    choices: s.choices.clone(),
                    help: s.help.clone(),
                })
                .collect(),
            auth: m.auth.iter().map(|a| a.label().to_string()).collect(),
            files: m.files,
            allowed_hosts: allowed_host_views(m),
        }
    }

    /// Whether the entry matches a search (name, vendor, description, id).
    pub fn matches(&self, q: &str) -> bool {
        let q = q.trim().to_lowercase();
        q.is_empty()
            || [&self.name, &self.vendor, &self.description, &self.id]
                .iter()
                .any(|s| s.to_lowercase().contains(&q))
    }
}

/// A run in lists: no report detail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunSummary {
    pub id: String,
    pub source_id: String,
    /// The integration's name, as the admin named it.
    pub source_name: Option<String>,
    /// full or quick.
    pub mode: String,
    /// manual, schedule or api.
    pub trigger: String,
    pub triggered_by: String,
    /// queued, running, held, awaiting_approval, committed, discarded or failed.
    pub status: String,
    pub hold_reason: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub committed_at: Option<String>,
    /// Adds, updates and deletes.
    pub changes: u64,
    pub warnings: u64,
    pub errors: u64,
    pub failure: Option<String>,
    /// The worker that ran it (or runs it); none while it waits.
    pub worker_id: Option<String>,
    /// Schedule runs: when it came due.
    pub due_at: Option<String>,
    /// 2 or more: it reads again after the worker of run `retry_of` died.
    pub attempt: i64,
    pub retry_of: Option<String>,
    /// Due times folded into it while it waited.
    pub coalesced: i64,
}

impl From<&Run> for RunSummary {
    fn from(r: &Run) -> RunSummary {
        RunSummary {
            id: r.id.clone(),
            source_id: r.source_id.clone(),
            source_name: None,
            mode: r.mode.clone(),
            trigger: r.trigger.clone(),
            triggered_by: r.triggered_by.clone(),
            status: r.status.as_str().to_string(),
            hold_reason: r.hold_reason.clone(),
            started_at: r.started_at.clone(),
            finished_at: r.finished_at.clone(),
            committed_at: r.committed_at.clone(),
            changes: r.report.changes(),
            warnings: r.report.warnings_total,
            errors: r.report.errors_total,
            failure: r.report.failure.clone(),
            worker_id: r.worker_id.clone(),
            due_at: r.due_at.clone(),
            attempt: r.attempt,
            retry_of: r.retry_of.clone(),
            coalesced: r.coalesced,
        }
    }
}

/// Live progress of a run that is reading.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Progress {
    /// Records read of what the source reads now, when it says its total
    /// (`total`); otherwise every record read so far.
    pub done: u64,
    /// Records the source says it has of what it reads now, when it says.
    pub total: Option<u64>,
    /// Every record the run has read so far, list after list.
    #[serde(default)]
    pub read: u64,
    /// Why it waits for a plugin slot, while it does (every slot is busy
    /// with other runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunView {
    #[serde(flatten)]
    pub summary: RunSummary,
    /// Counts per kind and action, warnings and errors with their records,
    /// timings, failure, hold reason.
    #[schema(value_type = Object)]
    pub report: crate::model::report::RunReport,
    /// While the run reads.
    pub progress: Option<Progress>,
    /// Whether it waits for approval.
    pub waiting: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunStarted {
    pub run_id: String,
    /// Where to follow it.
    pub url: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct StartRun {
    /// full (the default) or quick (what changed since the last committed run).
    #[serde(default)]
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionView {
    pub seq: i64,
    /// The record as an admin names it: a person's name, a class's title,
    /// an enrollment's person and class by name.
    pub label: String,
    pub kind: String,
    /// add, update or delete.
    pub action: String,
    pub entity_id: String,
    pub source_record_id: String,
    #[schema(value_type = Object)]
    pub before: Option<Json>,
    #[schema(value_type = Object)]
    pub after: Option<Json>,
    /// attribute → [old, new]
    #[schema(value_type = Object)]
    pub diff: Option<Json>,
    /// Left out of the approval.
    pub excluded: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionPage {
    pub actions: Vec<ActionView>,
    pub total: i64,
    pub excluded: i64,
    pub offset: i64,
    pub limit: i64,
    pub next_offset: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct Approve {
    /// Numbers (`seq`) of the actions to leave out; all others are applied.
    #[serde(default)]
    pub exclude: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Approved {
    pub run: RunSummary,
    pub applied: u64,
    pub excluded: u64,
    /// The run had been committed before: nothing was applied twice.
    pub already_committed: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct Exclusions {
    /// Actions to leave out.
    #[serde(default)]
    pub exclude: Vec<i64>,
    /// Actions to put back in.
    #[serde(default)]
    pub include: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceSummary {
    pub id: String,
    pub name: String,
    /// The gallery app it was activated from.
    pub app: String,
    pub app_name: String,
    /// import (a source), export (a destination) or sync (both ways).
    #[serde(rename = "type")]
    pub kind: String,
    pub target: String,
    /// setup (the wizard is not finished), enabled or disabled.
    pub state: String,
    pub last_run: Option<RunSummary>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceView {
    #[serde(flatten)]
    pub summary: SourceSummary,
    /// Every wizard step's configuration. `secrets` maps a secret setting
    /// to the environment variable that holds it (configuration files);
    /// secret values are never returned.
    #[schema(value_type = Object)]
    pub config: SourceConfig,
    /// Secret settings that have a value (stored, or by environment variable).
    pub secrets_set: Vec<String>,
    #[schema(value_type = Object)]
    pub setup: Option<SetupRow>,
    pub app_entry: Option<GalleryEntry>,
    /// The organization's time zone, which the schedule keeps.
    pub time_zone: String,
    /// When the schedule next runs, in that time zone (none: by hand,
    /// paused for good, or expired).
    pub next_run: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Activate {
    /// The gallery app (`lumen-touch`, `oneroster-csv`).
    pub app: String,
    /// The source's id in the organization; made from the app's id when absent.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// Delivery Config: connection settings, secrets (write-only) and Advanced Settings.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct Delivery {
    #[serde(default)]
    pub name: Option<String>,
    /// Non-secret settings by name; replaces them all when given.
    #[serde(default)]
    pub settings: Option<BTreeMap<String, String>>,
    /// Secret values by setting name: a value is stored encrypted; an empty
    /// string keeps what is stored; null removes it.
    #[serde(default)]
    pub secrets: BTreeMap<String, Option<String>>,
    /// File connectors: the folder on the host it reads.
    #[serde(default)]
    pub folder: Option<String>,
    /// Advanced Settings (bulk upload, compare by domains, preview, hold
    /// threshold, SIS id prefix...); replaces them when given.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub advanced: Option<crate::config::Advanced>,
    /// Sync Mode: `import`, `export` or `sync` (two-way), as far as the
    /// app's connector imports and exports.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub sync_mode: Option<crate::config::SyncMode>,
    /// The kinds an Export or Sync integration is sent (empty: every kind
    /// its connector exports).
    #[serde(default)]
    pub export_kinds: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Terms {
    pub accepted: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestResult {
    pub ok: bool,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SchoolView {
    pub source_id: String,
    pub name: String,
    pub identifier: Option<String>,
    /// Whether its data goes on under the current mapping.
    pub mapped: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KindCount {
    pub kind: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Overview {
    pub organization: OrgInfo,
    pub schools: i64,
    pub teachers: i64,
    pub students: i64,
    pub contacts: i64,
    pub classes: i64,
    pub enrollments: i64,
    /// Active records per entity kind.
    pub kinds: Vec<KindCount>,
    pub sources: i64,
    pub waiting_runs: i64,
    pub open_duplicates: i64,
    pub recent_runs: Vec<RunSummary>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntityView {
    pub id: String,
    pub kind: String,
    pub active: bool,
    /// A name a person knows it by.
    pub label: String,
    /// attribute → value
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, Json>,
    /// Where it comes from: each source and its identifier there, so two
    /// people of one name are told apart.
    #[serde(default)]
    pub sources: Vec<RecordSource>,
}

/// A source of a record and the record's identifier in it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordSource {
    pub source_id: String,
    /// The integration's name.
    pub source_name: String,
    /// The record's id in the source.
    pub source_record_id: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntityPage {
    pub entities: Vec<EntityView>,
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttributeView {
    pub name: String,
    #[schema(value_type = Object)]
    pub value: Json,
    /// The source whose value this is.
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkView {
    pub source_id: String,
    pub source_record_id: String,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryView {
    pub run_id: String,
    pub seq: i64,
    pub action: String,
    #[schema(value_type = Object)]
    pub diff: Option<Json>,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntityDetail {
    #[serde(flatten)]
    pub entity: EntityView,
    /// Each attribute with the source that gave it.
    pub attributes: Vec<AttributeView>,
    /// The source records that feed it.
    pub sources: Vec<LinkView>,
    pub history: Vec<HistoryView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DuplicateView {
    pub id: String,
    pub kind: String,
    /// The domain of uniqueness that matched.
    pub domain: String,
    pub primary: EntityView,
    pub secondary: EntityView,
    /// open, deleted, ignored or kept.
    pub status: String,
    pub run_id: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Resolve {
    /// delete (archive the secondary), ignore (keep both, never ask again)
    /// or keep-as-new (the secondary is someone else).
    pub resolution: String,
    /// Make the listed secondary the primary.
    #[serde(default)]
    pub swap: bool,
    /// Fields to copy from the secondary to the primary.
    #[serde(default)]
    pub copy: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditView {
    pub id: String,
    pub at: String,
    pub actor_id: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    #[schema(value_type = Object)]
    pub detail: Json,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
}

/// A new token: its value is shown this once and never again.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuedToken {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub token: String,
}

/// The label a person knows a record by.
pub fn entity_label(kind: &str, data: &serde_json::Map<String, Json>) -> String {
    let text = |a: &str| {
        data.get(a)
            .and_then(|c| c.get("v"))
            .map(crate::model::record::json_text)
            .unwrap_or_default()
    };
    let label = match kind {
        "user" => {
            let name = format!("{} {}", text("givenName"), text("familyName"));
            name.trim().to_string()
        }
        "org" => text("name"),
        "class" | "course" | "academic-session" | "line-item" | "category" => text("title"),
        "enrollment" => {
            let r = |a: &str| {
                data.get(a)
                    .and_then(|c| c.get("v"))
                    .and_then(|v| v.get("id"))
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            format!("{} in {}", r("user"), r("class"))
        }
        _ => String::new(),
    };
    if label.trim().is_empty() {
        text("sourcedId")
    } else {
        label
    }
}

pub fn entity_view(e: &crate::store::EntityRow) -> EntityView {
    EntityView {
        id: e.id.clone(),
        kind: e.kind.clone(),
        active: e.active,
        label: entity_label(&e.kind, &e.data),
        values: e
            .data
            .iter()
            .map(|(k, c)| (k.clone(), c.get("v").cloned().unwrap_or(Json::Null)))
            .collect(),
        sources: Vec::new(),
    }
}

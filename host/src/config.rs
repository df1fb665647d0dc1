//! Configuration as code: a district's whole setup (organization, sources with
//! settings, secrets by environment variable, advanced settings, schools and
//! attribute mapping, requirements, filters, rules, domains of uniqueness,
//! master fields, schedule) as one TOML file, applied with `homeroom apply`
//! and exported with `homeroom config export`. This module owns the shapes
//! and their validation; it never reads a secret's value into the file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bindings::types::EntityKind;
use crate::model::kinds::{entity_kind_of, rule_kinds};

/// A district's whole setup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DistrictConfig {
    pub organization: Organization,
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// The ed-tech vendors that read the district through the hub's
    /// OneRoster API, each with its data-sharing agreement.
    #[serde(default, rename = "vendor", skip_serializing_if = "Vec::is_empty")]
    pub vendors: Vec<VendorConfig>,
}

/// A vendor client of the OneRoster provider, named in a file. Applying
/// the file makes the client when no live one of that name exists (its
/// secret is printed once) and grants its agreement; a vendor left out of a
/// file is not revoked (revoke it in the UI or the API).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VendorConfig {
    pub name: String,
    /// The OneRoster 1.2 scopes it may ask for (all when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// It signs its requests with OAuth 1.0a (a OneRoster 1.1 client).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oauth1: bool,
    /// What it sees; none: nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<VendorAgreement>,
}

/// A data-sharing agreement in a file: schools by the hub's id, their
/// identifier or their name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VendorAgreement {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_schools: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schools: Vec<String>,
    pub kinds: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, Vec<String>>,
    /// The last day it holds (YYYY-MM-DD).
    pub expires_on: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    pub id: String,
    pub name: String,
    /// The IANA time zone its schedules and digests keep
    /// (`America/Chicago`); UTC when it was never set. Left out of a file,
    /// the stored one stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Who hears of held and failed runs, rejected exports and schedules
    /// about to expire. Left out of a file, the stored settings stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Notifications>,
}

impl Organization {
    /// An organization's name as an admin types it: not empty, and short
    /// enough for headings and tables (the same bound as an integration's).
    /// Returns the name trimmed. One check for the file, the API and the UI.
    pub fn check_name(name: &str) -> Result<String, String> {
        let name = name.trim();
        let n = name.chars().count();
        if n == 0 {
            return Err(
                "the organization's name is empty: give it the name people know the district by"
                    .into(),
            );
        }
        if n > MAX_NAME_CHARS {
            return Err(format!(
                "the organization's name is {n} characters long: keep it to {MAX_NAME_CHARS}"
            ));
        }
        Ok(name.to_string())
    }
}

/// An organization's settings beside its name, as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct OrgSettings {
    pub time_zone: Option<String>,
    pub notifications: Notifications,
}

impl OrgSettings {
    /// The stored settings; unreadable ones (never written) are the defaults.
    pub fn parse(json: &str) -> OrgSettings {
        serde_json::from_str(json).unwrap_or_default()
    }

    /// The time zone schedules keep (UTC when unset or unknown: `check`
    /// refuses an unknown one at save).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.time_zone
            .as_deref()
            .and_then(|t| t.parse().ok())
            .unwrap_or(chrono_tz::UTC)
    }

    /// Check a time zone an admin entered.
    pub fn check_time_zone(tz: &str) -> Result<(), InvalidSchedule> {
        tz.parse::<chrono_tz::Tz>().map(|_| ()).map_err(|_| {
            InvalidSchedule(format!(
                "`{tz}` is not a time zone: use an IANA name such as America/Chicago or Europe/London"
            ))
        })
    }
}

/// Where an organization's notifications go.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Notifications {
    /// Each notice is POSTed here as JSON, signed with the webhook secret
    /// (`Homeroom-Signature: t=<unix time>,v1=<HMAC-SHA256 hex of "t.body">`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Configuration as code: the environment variable holding the
    /// webhook's signing secret (the API and the UI keep it sealed instead).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    /// Addresses each notice is mailed to, through the operator's SMTP relay.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub email: Vec<String>,
    /// Mail one digest a day (at `digest_at`) instead of a message per event.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub digest: bool,
    /// HH:MM in the organization's time zone; 07:00 when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_at: Option<String>,
    /// Days ahead a schedule's expiry is told; 7 when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_warning_days: Option<u32>,
}

impl Notifications {
    /// Check the settings an admin entered.
    pub fn check(&self) -> Result<(), InvalidSchedule> {
        let bad = |m: String| Err(InvalidSchedule(m));
        if let Some(url) = &self.webhook_url {
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => {
                    return bad(format!(
                        "`{url}` is not a webhook address: use an http:// or https:// URL"
                    ));
                }
            }
        }
        for to in &self.email {
            if to.parse::<lettre::Address>().is_err() {
                return bad(format!(
                    "`{to}` is not an email address: use one such as it@district.org"
                ));
            }
        }
        if let Some(at) = &self.digest_at
            && chrono::NaiveTime::parse_from_str(at, "%H:%M").is_err()
        {
            return bad(format!(
                "`{at}` is not a time of day for the digest: use HH:MM, such as 07:00"
            ));
        }
        if self.digest && self.email.is_empty() {
            return bad("a daily digest is mailed: add an email address for it".into());
        }
        if matches!(self.expiry_warning_days, Some(d) if d > 90) {
            return bad("warn of an expiry at most 90 days ahead".into());
        }
        Ok(())
    }

    /// The digest's time of day.
    pub fn digest_time(&self) -> chrono::NaiveTime {
        self.digest_at
            .as_deref()
            .and_then(|t| chrono::NaiveTime::parse_from_str(t, "%H:%M").ok())
            .unwrap_or(chrono::NaiveTime::MIN + chrono::Duration::hours(7))
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum BlankValues {
    /// A blank value from the source leaves the stored value as it is.
    #[default]
    Ignore,
    /// A blank value from the source clears the stored value.
    Replace,
}

/// An integration's type (the Data Sync article's Import, Export, Sync).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SyncMode {
    #[default]
    Import,
    Export,
    /// Two-way: export, then import the kinds the destination owns.
    Sync,
}

impl SyncMode {
    pub fn is_import(&self) -> bool {
        *self == SyncMode::Import
    }

    pub fn exports(self) -> bool {
        matches!(self, SyncMode::Export | SyncMode::Sync)
    }

    pub fn imports(self) -> bool {
        matches!(self, SyncMode::Import | SyncMode::Sync)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Import => "import",
            SyncMode::Export => "export",
            SyncMode::Sync => "sync",
        }
    }
}

/// Export settings of a destination.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ExportSettings {
    /// The kinds sent (`class`, `enrollment`, `category`...); empty: every
    /// kind the plugin's manifest says it exports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// Which records go, as the import's filter rules say it (a school
    /// list names schools by the id their source gives them). A record
    /// that stops passing is deleted at the destination.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
}

impl ExportSettings {
    pub fn is_default(&self) -> bool {
        *self == ExportSettings::default()
    }
}

/// One configured source, in the order of the activation wizard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The source's id within the organization (`sis`, `entra`).
    pub id: String,
    /// A gallery id: a plugin or one of its listings (`lumen-touch`).
    pub plugin: String,
    #[serde(default)]
    pub name: Option<String>,
    /// What this integration does: import (the source feeds the hub, the
    /// default), export (the hub feeds the destination) or sync (both:
    /// the destination takes the roster and gives back what it owns, as
    /// Google Classroom gives coursework and grades).
    #[serde(default, skip_serializing_if = "SyncMode::is_import")]
    pub sync_mode: SyncMode,
    /// What an export or sync integration sends.
    #[serde(default, skip_serializing_if = "ExportSettings::is_default")]
    pub export: ExportSettings,
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// For file connectors: the host folder the plugin may read (as `/drop`).
    #[serde(default)]
    pub folder: Option<String>,
    /// Secret settings, by the environment variable that holds each value.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    #[serde(default)]
    pub advanced: Advanced,
    #[serde(default)]
    pub schools: SchoolsMapping,
    #[serde(default)]
    pub mapping: Vec<AttributeMapping>,
    #[serde(default)]
    pub requirements: Vec<Requirement>,
    #[serde(default)]
    pub filters: Vec<Filter>,
    #[serde(default)]
    pub rules: Vec<RuleRef>,
    /// Domains of uniqueness in priority order. Left out, people are matched
    /// by first name + last name + email (unattended); `domains = []`
    /// removes that too.
    #[serde(default = "default_domains")]
    pub domains: Vec<Domain>,
    #[serde(default)]
    pub master_fields: Vec<MasterField>,
    #[serde(default)]
    pub schedule: Option<Schedule>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// The domain people are compared by unless the admin changes it, as in the
/// products districts use: first name + last name + email, merged unattended.
pub fn default_domains() -> Vec<Domain> {
    vec![Domain {
        kind: "user".into(),
        attributes: vec!["givenName".into(), "familyName".into(), "email".into()],
        mode: DomainMode::Unattended,
    }]
}

/// Delivery Config → Advanced Settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Advanced {
    /// Bulk: each full run is the whole truth, absence means delete.
    pub bulk_upload: bool,
    /// Compare new records against existing ones by domains of uniqueness.
    pub compare_by_domains: bool,
    /// When runs wait for an admin: one choice (`approval()`). Left out,
    /// the older pair below says it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// The first import of a new source waits for review, whatever
    /// `approval` says (on for integrations activated from the gallery).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub review_first: bool,
    /// Older form of `approval = "review"`: every run waits.
    pub preview: bool,
    /// Older form of `approval = "threshold"` (false: every run waits).
    pub auto_commit: bool,
    pub hold: HoldThreshold,
    /// Prefix for every id from this source (avoids merging equal ids of two SISes).
    pub sis_id_prefix: Option<String>,
    pub blank_values: BlankValues,
    /// Keep a class's name as first synced; later renames in the source are ignored.
    pub ignore_class_name_edits: bool,
    /// Import records whose required reference points at nothing the source
    /// sent (an enrollment in an unknown class, say); by default they are
    /// left out and named in the run report.
    pub keep_dangling_references: bool,
    /// A run whose records failing mapping, requirements or validation pass
    /// this share fails as a whole and commits nothing.
    pub max_error_share: f64,
    /// Match keys: which attributes identify a record of a kind from run to
    /// run, when not its sourced id (students by `email`, `identifier` or a
    /// state id attribute; classes by `classCode` + `title`).
    pub match_keys: BTreeMap<String, Vec<String>>,
    /// Items to sync: the kinds this source imports (`user`, `class`,
    /// `category`...), read parents first whatever the order here. Empty:
    /// every kind its connector imports. A kind left out is neither read
    /// nor deleted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
}

/// When a run waits for an admin's approval.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Approval {
    /// Every run waits for review.
    Review,
    /// A run commits unless it passes a hold threshold.
    Threshold,
    /// Every run commits, thresholds or not.
    Always,
}

impl Approval {
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Review => "review",
            Approval::Threshold => "threshold",
            Approval::Always => "always",
        }
    }
}

impl Advanced {
    /// The one approval choice: `approval`, or what the older pair said.
    pub fn approval(&self) -> Approval {
        self.approval
            .unwrap_or(if self.preview || !self.auto_commit {
                Approval::Review
            } else {
                Approval::Threshold
            })
    }

    /// Make `choice` the approval, the older pair saying the same.
    pub fn set_approval(&mut self, choice: Approval) {
        self.approval = Some(choice);
        self.preview = choice == Approval::Review;
        self.auto_commit = choice != Approval::Review;
    }
}

impl Default for Advanced {
    fn default() -> Self {
        Advanced {
            approval: None,
            review_first: false,
            bulk_upload: true,
            compare_by_domains: true,
            preview: false,
            auto_commit: true,
            hold: HoldThreshold::default(),
            sis_id_prefix: None,
            blank_values: BlankValues::Ignore,
            ignore_class_name_edits: false,
            keep_dangling_references: false,
            max_error_share: 0.05,
            match_keys: BTreeMap::new(),
            kinds: Vec::new(),
        }
    }
}

/// Hold a run whose changes pass these shares of any kind (the defaults are
/// those of the leading rostering service: more than 75% updated or more than
/// 10% deleted).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HoldThreshold {
    pub updated_share: f64,
    pub deleted_share: f64,
}

impl Default for HoldThreshold {
    fn default() -> Self {
        HoldThreshold {
            updated_share: 0.75,
            deleted_share: 0.10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SchoolsMapping {
    /// all: every school; selected: only `selected`; auto: by name or identifier.
    pub mode: SchoolsMode,
    /// Source school ids that go on (mode = selected).
    pub selected: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SchoolsMode {
    #[default]
    All,
    Selected,
    /// Schools whose name or identifier matches a school the district
    /// already has (from another source); every school when it has none.
    Auto,
}

/// One target attribute computed from the source record. (No
/// `deny_unknown_fields` here: serde cannot combine it with `flatten`; the
/// transform's own fields are still checked.)
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttributeMapping {
    /// Entity kind (`user`, `class`, ...).
    pub kind: String,
    pub target: String,
    #[serde(flatten)]
    pub transform: Transform,
    /// Post-processing applied in order: lower, upper, trim.
    #[serde(default)]
    pub then: Vec<PostOp>,
}

/// The built-in transformation functions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "fn", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Transform {
    Copy {
        from: String,
    },
    Constant {
        value: String,
    },
    /// The source attribute, or `value` when it is blank.
    Default {
        from: String,
        value: String,
    },
    Concat {
        from: Vec<String>,
        #[serde(default)]
        separator: String,
    },
    /// `{givenName}.{familyName}@district.org`
    Template {
        template: String,
    },
    Lower {
        from: String,
    },
    Upper {
        from: String,
    },
    Trim {
        from: String,
    },
    RegexReplace {
        from: String,
        pattern: String,
        replacement: String,
    },
    ValueMap {
        from: String,
        map: BTreeMap<String, String>,
        #[serde(default)]
        default: Option<String>,
    },
    /// Reformat a date from one chrono format to another.
    DateFormat {
        from: String,
        input: String,
        output: String,
    },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PostOp {
    Lower,
    Upper,
    Trim,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RequirementAction {
    /// Keep the record and warn.
    Report,
    /// Leave the record out and report it.
    Skip,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// A filter kind (student, teacher, contact, admin, course, class, calendar) or an entity kind.
    pub kind: String,
    pub attribute: String,
    pub action: RequirementAction,
}

/// A filter rule for one kind: records that do not pass are left out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Filter {
    pub kind: String,
    #[serde(flatten)]
    pub rule: FilterRule,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "template", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FilterRule {
    ActiveOnly,
    HasEmail,
    GradeRange {
        min: String,
        max: String,
    },
    SchoolInList {
        schools: Vec<String>,
    },
    /// Custom conditions, all or any of which must hold.
    Custom {
        #[serde(default)]
        all: Vec<Condition>,
        #[serde(default)]
        any: Vec<Condition>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub attribute: String,
    pub op: Op,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    Equals,
    NotEquals,
    Contains,
    In,
    Matches,
    Greater,
    Less,
    IsEmpty,
    IsNotEmpty,
}

/// A district's own rule component attached to this source.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleRef {
    pub plugin: String,
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DomainMode {
    /// A match merges the records without asking.
    Unattended,
    /// A match goes to the duplicates queue for an admin.
    Manual,
}

/// A domain of uniqueness: attributes whose equal values mean the same
/// entity. Listed in priority order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    pub kind: String,
    pub attributes: Vec<String>,
    pub mode: DomainMode,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MasterField {
    pub kind: String,
    pub attribute: String,
    /// The source id whose value wins.
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub every: Every,
    /// HH:MM, in the host's time zone.
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub weekday: Option<String>,
    /// YYYY-MM-DD after which the schedule stops.
    #[serde(default)]
    pub expires: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
    /// Paused: nothing runs until it is resumed, or until `resume_on`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// YYYY-MM-DD a pause ends by itself (a summer pause).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_on: Option<String>,
}

/// The longest name an integration may have (headings and tables show it whole).
pub const MAX_NAME_CHARS: usize = 120;

/// The days a weekly schedule may name, in order.
pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Why a schedule an admin entered cannot be kept.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSchedule(pub String);

impl Schedule {
    /// Check each part of a schedule an admin entered.
    pub fn check(&self) -> Result<(), InvalidSchedule> {
        let bad = |m: String| Err(InvalidSchedule(m));
        if let Some(at) = &self.at
            && chrono::NaiveTime::parse_from_str(at, "%H:%M").is_err()
        {
            return bad(format!(
                "`{at}` is not a time of day: use HH:MM, such as 02:30"
            ));
        }
        if let Some(day) = &self.weekday {
            if !WEEKDAYS.contains(&day.to_lowercase().as_str()) {
                return bad(format!("`{day}` is not a weekday: use monday ... sunday"));
            }
            if self.every != Every::Week {
                return bad("a weekday applies to a weekly schedule only".into());
            }
        }
        if let Some(expires) = &self.expires
            && chrono::NaiveDate::parse_from_str(expires, "%Y-%m-%d").is_err()
        {
            return bad(format!("`{expires}` is not a date: use YYYY-MM-DD"));
        }
        if let Some(mode) = &self.mode
            && !matches!(mode.as_str(), "full" | "quick")
        {
            return bad(format!("`{mode}` is not a run mode: use full or quick"));
        }
        if let Some(day) = &self.resume_on {
            if chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_err() {
                return bad(format!(
                    "`{day}` is not a date to resume on: use YYYY-MM-DD"
                ));
            }
            if !self.paused {
                return bad("a resume date applies to a paused schedule only".into());
            }
        }
        if self.every == Every::Week && self.weekday.is_none() {
            return bad("a weekly schedule needs its weekday: monday ... sunday".into());
        }
        if self.every == Every::Week && self.at.as_deref().is_none_or(|t| t.trim().is_empty()) {
            return bad("a weekly schedule needs its time of day: use HH:MM, such as 02:30".into());
        }
        Ok(())
    }

    /// When it next runs after `now`, as an admin reads it in `tz`
    /// (`Sunday 2027-08-15 02:30 CDT`).
    pub fn next_run_text(
        &self,
        tz: chrono_tz::Tz,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<String> {
        self.next_due(tz, now).map(|t| {
            t.with_timezone(&tz)
                .format("%A %Y-%m-%d %H:%M %Z")
                .to_string()
        })
    }

    /// Check a schedule an admin saves now: `check`, and an expiry date
    /// not already past in the organization's time zone.
    pub fn check_new(&self, tz: chrono_tz::Tz) -> Result<(), InvalidSchedule> {
        self.check()?;
        if let Some(end) = self
            .expires
            .as_deref()
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        {
            let today = chrono::Utc::now().with_timezone(&tz).date_naive();
            if end < today {
                return Err(InvalidSchedule(format!(
                    "the expiry date {end} has passed: choose a later one, or none"
                )));
            }
        }
        Ok(())
    }

    /// Whether the schedule runs in `full` or `quick` mode.
    pub fn quick(&self) -> bool {
        self.mode.as_deref() == Some("quick")
    }

    /// The first time after `after` the schedule comes due, in the time
    /// zone `tz`; none when it is paused for good or has expired. A time
    /// of day that a daylight-saving change skips comes an hour later; one
    /// it repeats comes once, the first time.
    pub fn next_due(
        &self,
        tz: chrono_tz::Tz,
        after: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        use chrono::{Datelike, Duration, NaiveTime, TimeZone, Timelike};
        let at = self
            .at
            .as_deref()
            .and_then(|t| NaiveTime::parse_from_str(t, "%H:%M").ok())
            .unwrap_or(NaiveTime::MIN);
        let expires = self
            .expires
            .as_deref()
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        let mut from = after;
        if self.paused {
            let resume = self
                .resume_on
                .as_deref()
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())?;
            let start = local(tz, resume.and_time(NaiveTime::MIN))? - Duration::seconds(1);
            from = from.max(start);
        }
        let weekday = self
            .weekday
            .as_deref()
            .and_then(|d| WEEKDAYS.iter().position(|w| w.eq_ignore_ascii_case(d)));
        let here = tz.from_utc_datetime(&from.naive_utc()).naive_local();
        // Candidates from the local day of `from` on; the first after it wins.
        for step in 0..(24 * 9) {
            let candidate = match self.every {
                Every::Hour => {
                    let hour = here.date().and_hms_opt(here.hour(), at.minute(), 0)?;
                    hour + Duration::hours(step)
                }
                Every::Day | Every::Week => {
                    if step > 8 {
                        break;
                    }
                    let day = here.date() + Duration::days(step);
                    if self.every == Every::Week
                        && Some(day.weekday().num_days_from_monday() as usize) != weekday
                    {
                        continue;
                    }
                    day.and_time(at)
                }
            };
            if let Some(end) = expires
                && candidate.date() > end
            {
                return None;
            }
            let Some(utc) = local(tz, candidate) else {
                continue;
            };
            if utc > from {
                return Some(utc);
            }
        }
        None
    }
}

/// A local time in `tz` as UTC: the first of two in a repeated hour, an
/// hour later in a skipped one.
fn local(tz: chrono_tz::Tz, t: chrono::NaiveDateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::TimeZone;
    tz.from_local_datetime(&t)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(t + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|d| d.with_timezone(&chrono::Utc))
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Every {
    Hour,
    Day,
    Week,
}

/// Reference attributes that must never have a master: they describe
/// relations that only the source that owns them can state (the
/// grade-sync article's list, in the canonical model: a student's
/// enrollments and contacts, a staff member's assignments, a contact's
/// schools, a calendar's school and children, a course's schools, a
/// roster's members; and the gradebook's own links).
pub const NEVER_MASTER: &[(&str, &str)] = &[
    ("enrollment", "user"),
    ("enrollment", "class"),
    ("enrollment", "school"),
    ("class", "course"),
    ("class", "school"),
    ("class", "terms"),
    ("user", "orgs"),
    ("user", "agents"),
    ("user", "primaryOrg"),
    ("course", "org"),
    ("academic-session", "parent"),
    ("academic-session", "children"),
    ("org", "parent"),
    ("org", "children"),
    ("line-item", "class"),
    ("line-item", "school"),
    ("line-item", "category"),
    ("line-item", "gradingPeriod"),
    ("result", "lineItem"),
    ("result", "student"),
    ("result", "class"),
];

/// A master field's attribute that names every attribute of its kind
/// (those of [`NEVER_MASTER`] aside): "all fields from the SIS".
pub const EVERY_ATTRIBUTE: &str = "*";

/// Whether `kind.attribute` is a reference no master may decide.
pub fn never_master(kind: &str, attribute: &str) -> bool {
    NEVER_MASTER
        .iter()
        .any(|(k, a)| *k == kind && *a == attribute)
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the configuration file cannot be read: {0}")]
    Parse(String),
    #[error("source `{source_id}`: {message}")]
    Invalid { source_id: String, message: String },
}

impl DistrictConfig {
    pub fn parse(text: &str) -> Result<DistrictConfig, ConfigError> {
        let config: DistrictConfig =
            toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        Organization::check_name(&config.organization.name).map_err(ConfigError::Parse)?;
        for s in &config.sources {
            s.validate()?;
        }
        let mut names = std::collections::HashSet::new();
        for v in &config.vendors {
            let name = v.name.trim().to_lowercase();
            if name.is_empty() || !names.insert(name) {
                return Err(ConfigError::Parse(format!(
                    "every [[vendor]] needs a name of its own; {:?} is empty or named twice",
                    v.name
                )));
            }
        }
        Ok(config)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

impl SourceConfig {
    pub fn new(id: &str, plugin: &str) -> SourceConfig {
        SourceConfig {
            id: id.to_string(),
            plugin: plugin.to_string(),
            name: None,
            settings: BTreeMap::new(),
            folder: None,
            secrets: BTreeMap::new(),
            sync_mode: SyncMode::Import,
            export: ExportSettings::default(),
            advanced: Advanced::default(),
            schools: SchoolsMapping::default(),
            mapping: Vec::new(),
            requirements: Vec::new(),
            filters: Vec::new(),
            rules: Vec::new(),
            domains: default_domains(),
            master_fields: Vec::new(),
            schedule: None,
            enabled: true,
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            source_id: self.id.clone(),
            message,
        };
        let slug = !self.id.is_empty()
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !slug {
            return Err(invalid(
                "the id must be lowercase letters, digits, - or _".into(),
            ));
        }
        for kind in &self.export.kinds {
            if EntityKind::from_cli(kind).is_err() {
                return Err(invalid(format!(
                    "export kind `{kind}` is not an entity kind; use one of {}",
                    EntityKind::ALL
                        .iter()
                        .map(|k| k.cli_name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        for kind in self
            .requirements
            .iter()
            .map(|r| &r.kind)
            .chain(self.filters.iter().map(|f| &f.kind))
            .chain(self.export.filters.iter().map(|f| &f.kind))
            .chain(self.domains.iter().map(|d| &d.kind))
            .chain(self.master_fields.iter().map(|m| &m.kind))
            .chain(self.mapping.iter().map(|m| &m.kind))
        {
            if !rule_kinds().any(|k| k == kind) {
                return Err(invalid(format!(
                    "`{kind}` is not a kind; use one of {}",
                    rule_kinds().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        for m in &self.master_fields {
            let kind = entity_kind_of(&m.kind);
            if m.attribute.trim().is_empty() {
                return Err(invalid(format!(
                    "a master field of {} names no attribute: name one, or `{EVERY_ATTRIBUTE}` for all of the kind's",
                    m.kind
                )));
            }
            if never_master(kind, &m.attribute) {
                return Err(invalid(format!(
                    "`{}.{}` is a reference that only the source that states it may set; it cannot have a master field. Remove it from master_fields",
                    m.kind, m.attribute
                )));
            }
        }
        for d in &self.domains {
            if d.attributes.is_empty() {
                return Err(invalid(format!(
                    "a domain of uniqueness for {} names no attribute",
                    d.kind
                )));
            }
        }
        for m in &self.mapping {
            if let Transform::RegexReplace { pattern, .. } = &m.transform {
                regex::Regex::new(pattern).map_err(|e| {
                    invalid(format!(
                        "mapping of {}.{}: bad pattern: {e}",
                        m.kind, m.target
                    ))
                })?;
            }
        }
        if let Some(name) = &self.name {
            let n = name.trim().chars().count();
            if n == 0 {
                return Err(invalid(
                    "the name is empty: give the integration a name people will know it by".into(),
                ));
            }
            if n > MAX_NAME_CHARS {
                return Err(invalid(format!(
                    "the name is {n} characters long: keep it to {MAX_NAME_CHARS}"
                )));
            }
        }
        if let Some(schedule) = &self.schedule {
            schedule
                .check()
                .map_err(|e| invalid(format!("schedule: {e}")))?;
        }
        let chosen = &self.advanced.kinds;
        for name in chosen {
            let kind = EntityKind::from_cli(name).map_err(|_| {
                invalid(format!(
                    "`{name}` in items to sync is not a kind; use one of {}",
                    EntityKind::ALL.map(|k| k.cli_name()).join(", ")
                ))
            })?;
            for need in kind.needs() {
                if !chosen.iter().any(|c| c == need.cli_name()) {
                    return Err(invalid(format!(
                        "items to sync has `{name}` without `{}`, which every {name} points at; add `{}` too",
                        need.cli_name(),
                        need.cli_name()
                    )));
                }
            }
        }
        self.check_attributes_and_values().map_err(invalid)?;
        let h = &self.advanced.hold;
        if !(0.0..=1.0).contains(&h.updated_share) || !(0.0..=1.0).contains(&h.deleted_share) {
            return Err(invalid("hold thresholds are shares between 0 and 1".into()));
        }
        Ok(())
    }

    /// Every attribute a setting names is one the canonical model has on
    /// its kind; every grade is a CEDS grade; every pattern compiles. One
    /// check for the file, the API and the UI (all go through `validate`).
    fn check_attributes_and_values(&self) -> Result<(), String> {
        use crate::model::contract::GRADES;
        let attribute = |kind: &str, name: &str, what: &str| -> Result<(), String> {
            let entity = entity_kind_of(kind);
            let Ok(k) = EntityKind::from_cli(entity) else {
                return Ok(()); // the kind itself is checked above
            };
            if crate::model::oneroster::has_attribute(k, name.trim()) {
                return Ok(());
            }
            let known = crate::model::oneroster::any_version_fields(k);
            Err(format!(
                "{what}: “{name}” is not an attribute of {kind}. Use one of {}, or metadata.<name> for an extension",
                known.join(", ")
            ))
        };
        let grade = |value: &str, what: &str| -> Result<(), String> {
            if GRADES.iter().any(|g| g.eq_ignore_ascii_case(value.trim())) {
                return Ok(());
            }
            Err(format!(
                "{what}: “{value}” is not a grade. Use one of {}",
                GRADES.join(", ")
            ))
        };
        for r in &self.requirements {
            attribute(&r.kind, &r.attribute, "a requirement")?;
        }
        for d in &self.domains {
            for a in &d.attributes {
                attribute(&d.kind, a, "a domain of uniqueness")?;
            }
        }
        for m in &self.master_fields {
            if m.attribute != EVERY_ATTRIBUTE {
                attribute(&m.kind, &m.attribute, "a master field")?;
            }
        }
        for m in &self.mapping {
            attribute(&m.kind, &m.target, "a mapping")?;
        }
        for (kind, keys) in &self.advanced.match_keys {
            for a in keys {
                attribute(kind, a, "a match key")?;
            }
        }
        for f in self.filters.iter().chain(self.export.filters.iter()) {
            match &f.rule {
                FilterRule::GradeRange { min, max } => {
                    grade(min, "the lowest grade of a grade filter")?;
                    grade(max, "the highest grade of a grade filter")?;
                }
                FilterRule::Custom { all, any } => {
                    for c in all.iter().chain(any.iter()) {
                        let what = format!("a condition of the {} filter", f.kind);
                        attribute(&f.kind, &c.attribute, &what)?;
                        let values = c.value.iter().chain(c.values.iter());
                        if c.op == Op::Matches {
                            for v in values {
                                regex::Regex::new(v).map_err(|_| {
                                    format!(
                                        "{what}: the pattern “{v}” is not a regular expression that can be read; check its brackets and backslashes"
                                    )
                                })?;
                            }
                        } else if c.attribute.trim() == "grades"
                            && matches!(
                                c.op,
                                Op::Equals | Op::NotEquals | Op::In | Op::Greater | Op::Less
                            )
                        {
                            for v in values {
                                grade(v, &what)?;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Domains of uniqueness for a kind, in priority order (none when the
    /// source does not compare by domains).
    pub fn domains_for(&self, kind: &str) -> Vec<Domain> {
        if !self.advanced.compare_by_domains {
            return Vec::new();
        }
        self.domains
            .iter()
            .filter(|d| entity_kind_of(&d.kind) == kind)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[organization]
id = "springfield"
name = "Springfield Public Schools"

[[source]]
id = "sis"
plugin = "oneroster-csv"
settings = { path = "sample" }
advanced = { preview = true, sis_id_prefix = "sis" }
schools = { mode = "selected", selected = ["s1"] }

[[source.mapping]]
kind = "user"
target = "email"
fn = "template"
template = "{givenName}.{familyName}@springfield.org"
then = ["lower"]

[[source.filters]]
kind = "student"
template = "grade-range"
min = "KG"
max = "05"

[[source.domains]]
kind = "student"
attributes = ["givenName", "familyName", "birthDate"]
mode = "manual"

[[source.master_fields]]
kind = "user"
attribute = "email"
source = "entra"
"#;

    #[test]
    fn round_trips_through_toml() {
        let c = DistrictConfig::parse(SAMPLE).unwrap();
        assert_eq!(c.sources[0].advanced.hold.deleted_share, 0.10);
        let again = DistrictConfig::parse(&c.to_toml()).unwrap();
        assert_eq!(c, again);
    }

    #[test]
    fn refuses_a_master_on_a_roster_reference() {
        let bad = SAMPLE
            .replace(
                "attribute = \"email\"\nsource",
                "attribute = \"class\"\nsource",
            )
            .replace(
                "kind = \"user\"\nattribute = \"class\"",
                "kind = \"enrollment\"\nattribute = \"class\"",
            );
        let err = DistrictConfig::parse(&bad).unwrap_err().to_string();
        assert!(err.contains("cannot have a master field"), "{err}");
    }
}

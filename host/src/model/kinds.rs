//! The canonical model on the host side: names of entity kinds as admins and
//! the CLI spell them, and how values read in a report. The types themselves
//! are the WIT types (`bindings::types`), shared with plugins.

use crate::bindings::types::{EntityKind, Value};

/// The references a record cannot do without, as (kind, attribute, kind it
/// points at): an enrollment's user and class, a class's course and school,
/// a user's orgs (one known is enough).
pub const REQUIRED_REFERENCES: &[(EntityKind, &str, EntityKind)] = &[
    (EntityKind::Enrollment, "user", EntityKind::User),
    (EntityKind::Enrollment, "class", EntityKind::Class),
    (EntityKind::Class, "course", EntityKind::Course),
    (EntityKind::Class, "school", EntityKind::Org),
    (EntityKind::User, "orgs", EntityKind::Org),
];

impl EntityKind {
    pub const ALL: [EntityKind; 11] = [
        EntityKind::Org,
        EntityKind::AcademicSession,
        EntityKind::Course,
        EntityKind::Class,
        EntityKind::User,
        EntityKind::Demographics,
        EntityKind::UserAgent,
        EntityKind::Enrollment,
        EntityKind::Category,
        EntityKind::LineItem,
        EntityKind::Result,
    ];

    /// The kinds this kind cannot be imported without: those its required
    /// references point at.
    pub fn needs(self) -> impl Iterator<Item = EntityKind> {
        REQUIRED_REFERENCES
            .iter()
            .filter(move |(k, _, _)| *k == self)
            .map(|(_, _, target)| *target)
    }

    /// The kind's name in the CLI, config files, logs and the API.
    pub fn cli_name(self) -> &'static str {
        match self {
            EntityKind::Org => "org",
            EntityKind::AcademicSession => "academic-session",
            EntityKind::Course => "course",
            EntityKind::Class => "class",
            EntityKind::User => "user",
            EntityKind::Enrollment => "enrollment",
            EntityKind::Demographics => "demographics",
            EntityKind::UserAgent => "user-agent",
            EntityKind::Category => "category",
            EntityKind::LineItem => "line-item",
            EntityKind::Result => "result",
        }
    }

    pub fn from_cli(name: &str) -> Result<EntityKind, UnknownKind> {
        EntityKind::ALL
            .into_iter()
            .find(|k| k.cli_name() == name)
            .ok_or_else(|| UnknownKind(name.to_string()))
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "`{0}` is not an entity kind; use one of: org, academic-session, course, class, user, enrollment, demographics, user-agent, category, line-item, result"
)]
pub struct UnknownKind(pub String);

/// A value as one short line of text.
pub fn display_value(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Text(s) | Value::Date(s) | Value::DateTime(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Texts(t) => t.join(","),
        Value::Reference(r) => format!("{}:{}", r.kind.cli_name(), r.source_id),
        Value::References(rs) => rs
            .iter()
            .map(|r| format!("{}:{}", r.kind.cli_name(), r.source_id))
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// A kind of record as an admin names it: an entity kind, narrowed for some
/// by the values of one attribute (a student is a user whose role is
/// student; a school is an org whose type is school).
#[derive(Debug, Clone, Copy)]
pub struct AdminKind {
    pub name: &'static str,
    /// The name of a list of them (`students`), taken where a list is asked for.
    pub plural: &'static str,
    pub entity: EntityKind,
    /// The attribute and the values that make a record of the entity kind
    /// one of this kind; none: every record of the entity kind.
    pub narrow: Option<(&'static str, &'static [&'static str])>,
    /// Whether filters, requirements and domains may name it (schools are
    /// named in lists only).
    pub in_rules: bool,
}

/// Every admin kind, in the order admins see them.
pub const ADMIN_KINDS: &[AdminKind] = &[
    AdminKind {
        name: "school",
        plural: "schools",
        entity: EntityKind::Org,
        narrow: Some(("type", &["school"])),
        in_rules: false,
    },
    AdminKind {
        name: "student",
        plural: "students",
        entity: EntityKind::User,
        narrow: Some(("role", &["student"])),
        in_rules: true,
    },
    AdminKind {
        name: "teacher",
        plural: "teachers",
        entity: EntityKind::User,
        narrow: Some(("role", &["teacher", "aide"])),
        in_rules: true,
    },
    AdminKind {
        name: "contact",
        plural: "contacts",
        entity: EntityKind::User,
        narrow: Some(("role", &["parent", "guardian", "relative"])),
        in_rules: true,
    },
    AdminKind {
        name: "admin",
        plural: "admins",
        entity: EntityKind::User,
        narrow: Some((
            "role",
            &[
                "administrator",
                "districtadministrator",
                "siteadministrator",
                "proctor",
                "systemadministrator",
            ],
        )),
        in_rules: true,
    },
    AdminKind {
        name: "calendar",
        plural: "calendar",
        entity: EntityKind::AcademicSession,
        narrow: None,
        in_rules: true,
    },
];

/// The admin kind a name (or a list's name) stands for.
pub fn admin_kind(name: &str) -> Option<&'static AdminKind> {
    ADMIN_KINDS
        .iter()
        .find(|k| k.name == name || k.plural == name)
}

/// The kinds a filter, requirement or domain may name: the admin kinds
/// rules know, then every entity kind.
pub fn rule_kinds() -> impl Iterator<Item = &'static str> {
    ADMIN_KINDS
        .iter()
        .filter(|k| k.in_rules)
        .map(|k| k.name)
        .chain(EntityKind::ALL.into_iter().map(EntityKind::cli_name))
}

/// The entity kind a rule's kind names (`student` → `user`, `calendar` →
/// `academic-session`); an entity kind names itself.
pub fn entity_kind_of(rule_kind: &str) -> &str {
    match ADMIN_KINDS
        .iter()
        .find(|k| k.in_rules && k.name == rule_kind)
    {
        Some(k) => k.entity.cli_name(),
        None => rule_kind,
    }
}

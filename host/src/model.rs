//! The canonical model on the host side: names of entity kinds as admins and
//! the CLI spell them, and how values read in a report. The types themselves
//! are the WIT types (`runtime::bindings::types`), shared with plugins.

use crate::runtime::bindings::types::{EntityKind, Value};

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

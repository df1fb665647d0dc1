//! Graph users as canonical users, in the hub's (OneRoster's) attribute
//! names: `givenName`, `familyName` (surname), `email` (mail, else the
//! userPrincipalName), `username` (the userPrincipalName), `enabledUser`
//! (accountEnabled), `identifier` (employeeId: how a district ties an
//! account to the SIS's student or staff number) and `userIds`
//! (`entra:ID`, `sam:NAME`). No role and no orgs: a directory does not say
//! them, the SIS does. A property a delta page leaves out is left out (Graph
//! sends "at least the changed properties"), so it never blanks a value.
//! A `@removed` entry is a deletion. Education users (School Data Sync)
//! also say `role` (their primaryRole, student or teacher) and carry the
//! student or teacher number as `identifier`; education schools are orgs
//! of type school. No I/O.

use homeroom_sdk::{Entity, EntityKind, Status, Value};
use serde_json::Value as Json;

pub use homeroom_sdk::json::text;

/// The user entity of one Graph user (or its deletion).
pub fn user(record: &Json) -> Result<Entity, String> {
    if !record.is_object() {
        return Err("the user is not a JSON object".into());
    }
    let id = text(record, "id").ok_or("the user has no id")?;
    let mut e = Entity::new(EntityKind::User, id.clone());
    if record.get("@removed").is_some() {
        e.status = Status::ToBeDeleted;
        return Ok(e);
    }
    let upn = text(record, "userPrincipalName");
    let fields = [
        ("givenName", text(record, "givenName")),
        ("familyName", text(record, "surname")),
        ("email", text(record, "mail").or_else(|| upn.clone())),
        ("username", upn),
        ("identifier", identifier(record)),
        ("role", role(record)),
        ("metadata.displayName", text(record, "displayName")),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            e.set(name, Value::Text(v));
        }
    }
    if let Some(enabled) = record.get("accountEnabled").and_then(Json::as_bool) {
        e.set("enabledUser", Value::Boolean(enabled));
    }
    let mut ids = vec![format!("entra:{id}")];
    ids.extend(text(record, "onPremisesSamAccountName").map(|s| format!("sam:{s}")));
    e.set("userIds", Value::Texts(ids));
    Ok(e)
}

/// The number that ties the account to the SIS: employeeId, else an
/// education user's student or teacher number.
fn identifier(record: &Json) -> Option<String> {
    text(record, "employeeId")
        .or_else(|| record.get("student").and_then(|s| text(s, "studentNumber")))
        .or_else(|| record.get("teacher").and_then(|t| text(t, "teacherNumber")))
}

/// An education user's primaryRole, where it is one OneRoster names.
fn role(record: &Json) -> Option<String> {
    text(record, "primaryRole").filter(|r| r == "student" || r == "teacher")
}

/// The org entity of one education school.
pub fn school(record: &Json) -> Result<Entity, String> {
    let id = text(record, "id").ok_or("the school has no id")?;
    let mut e = Entity::new(EntityKind::Org, id).with_text("type", "school");
    for (name, key) in [
        ("name", "displayName"),
        ("identifier", "schoolNumber"),
        ("metadata.externalId", "externalId"),
    ] {
        if let Some(v) = text(record, key) {
            e.set(name, Value::Text(v));
        }
    }
    Ok(e)
}

//! The hub's records in OneRoster's shape, as the provider serves them: the
//! collections of the 1.1 and 1.2 REST bindings (which entity kind each
//! lists, narrowed by role or type, under which envelope), the fields each
//! kind has in each version, and one record turned into the JSON object of
//! the binding.
//!
//! The field table is the SDK's (`homeroom_sdk::oneroster`), the one the
//! OneRoster connectors read with, so what the hub serves is what its own
//! connectors would read back. This module does no I/O and decides nothing
//! about who sees what (`app::provider` cuts a record to an agreement).

use serde_json::{Map, Value as Json, json};

use crate::bindings::types::EntityKind;
use crate::model::record::{Attrs, Record};
use homeroom_sdk::oneroster as or;

pub use or::{Service, Version};

/// One collection of the REST binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collection {
    /// Its path segment (`students`).
    pub path: &'static str,
    pub kind: EntityKind,
    /// The canonical attribute and the values that make a record of the kind
    /// one of this collection (`role` = `student`); none: every record.
    pub narrow: Option<(&'static str, &'static [&'static str])>,
    /// The envelope of a list (`users`) and of one record (`user`).
    pub plural: &'static str,
    pub single: &'static str,
    pub service: Service,
}

const fn c(
    path: &'static str,
    kind: EntityKind,
    narrow: Option<(&'static str, &'static [&'static str])>,
    plural: &'static str,
    single: &'static str,
    service: Service,
) -> Collection {
    Collection {
        path,
        kind,
        narrow,
        plural,
        single,
        service,
    }
}

use Service::{Gradebook, Rostering};

/// Every collection the provider serves.
pub const COLLECTIONS: &[Collection] = &[
    c("orgs", EntityKind::Org, None, "orgs", "org", Rostering),
    c(
        "schools",
        EntityKind::Org,
        Some(("type", &["school"])),
        "orgs",
        "org",
        Rostering,
    ),
    c(
        "academicSessions",
        EntityKind::AcademicSession,
        None,
        "academicSessions",
        "academicSession",
        Rostering,
    ),
    c(
        "terms",
        EntityKind::AcademicSession,
        Some(("type", &["term"])),
        "academicSessions",
        "academicSession",
        Rostering,
    ),
    c(
        "gradingPeriods",
        EntityKind::AcademicSession,
        Some(("type", &["gradingPeriod"])),
        "academicSessions",
        "academicSession",
        Rostering,
    ),
    c(
        "courses",
        EntityKind::Course,
        None,
        "courses",
        "course",
        Rostering,
    ),
    c(
        "classes",
        EntityKind::Class,
        None,
        "classes",
        "class",
        Rostering,
    ),
    c("users", EntityKind::User, None, "users", "user", Rostering),
    c(
        "students",
        EntityKind::User,
        Some(("role", &["student"])),
        "users",
        "user",
        Rostering,
    ),
    c(
        "teachers",
        EntityKind::User,
        Some(("role", &["teacher"])),
        "users",
        "user",
        Rostering,
    ),
    c(
        "enrollments",
        EntityKind::Enrollment,
        None,
        "enrollments",
        "enrollment",
        Rostering,
    ),
    c(
        "demographics",
        EntityKind::Demographics,
        None,
        "demographics",
        "demographics",
        Rostering,
    ),
    c(
        "categories",
        EntityKind::Category,
        None,
        "categories",
        "category",
        Gradebook,
    ),
    c(
        "lineItems",
        EntityKind::LineItem,
        None,
        "lineItems",
        "lineItem",
        Gradebook,
    ),
    c(
        "results",
        EntityKind::Result,
        None,
        "results",
        "result",
        Gradebook,
    ),
];

/// The collection at `path` in `service` (1.1 has one service: any).
pub fn collection(path: &str, version: Version, service: Service) -> Option<&'static Collection> {
    COLLECTIONS
        .iter()
        .find(|c| c.path == path && (version == Version::V1p1 || c.service == service))
}

/// The plain collection of a kind (`users` for a user).
pub fn collection_of(kind: EntityKind) -> Option<&'static Collection> {
    COLLECTIONS
        .iter()
        .find(|c| c.kind == kind && c.narrow.is_none())
}

impl Collection {
    /// Whether a record of the kind belongs to this collection.
    pub fn holds(&self, attrs: &Attrs) -> bool {
        match self.narrow {
            None => true,
            Some((name, values)) => attrs
                .get(name)
                .and_then(Json::as_str)
                .is_some_and(|v| values.contains(&v)),
        }
    }
}

/// The fields every record has whatever an agreement says: without them it
/// is not a OneRoster record.
pub const ALWAYS: [&str; 3] = ["sourcedId", "status", "dateLastModified"];

/// Fields never served, whatever an agreement says.
const NEVER: [&str; 1] = ["password"];

fn sdk_kind(kind: EntityKind) -> homeroom_sdk::EntityKind {
    use homeroom_sdk::EntityKind as S;
    match kind {
        EntityKind::Org => S::Org,
        EntityKind::AcademicSession => S::AcademicSession,
        EntityKind::Course => S::Course,
        EntityKind::Class => S::Class,
        EntityKind::User => S::User,
        EntityKind::Demographics => S::Demographics,
        EntityKind::UserAgent => S::UserAgent,
        EntityKind::Enrollment => S::Enrollment,
        EntityKind::Category => S::Category,
        EntityKind::LineItem => S::LineItem,
        EntityKind::Result => S::Result,
    }
}

fn host_kind(kind: homeroom_sdk::EntityKind) -> Option<EntityKind> {
    EntityKind::ALL.into_iter().find(|k| sdk_kind(*k) == kind)
}

/// One record of the binding, as a client writes it (`{"sourcedId": …,
/// "class": {"sourcedId": …}, …}`), in the hub's working form, read by the
/// same mapping the OneRoster connectors read a source with; with a line
/// for each field kept in a looser form or left out.
pub fn record_of(kind: EntityKind, object: &Json) -> Result<(Record, Vec<String>), String> {
    use homeroom_sdk::{Reference, Value};
    let mapped = or::entity_from_json(sdk_kind(kind), object).map_err(|e| e.to_string())?;
    let reference = |r: Reference| -> Json {
        match host_kind(r.kind) {
            Some(k) => json!({"id": r.source_id, "kind": k.cli_name()}),
            None => Json::Null,
        }
    };
    let value = |v: Value| -> Json {
        match v {
            Value::Null => Json::Null,
            Value::Text(s) | Value::Date(s) | Value::DateTime(s) => Json::String(s),
            Value::Integer(i) => json!(i),
            Value::Number(n) => json!(n),
            Value::Boolean(b) => json!(b),
            Value::Texts(t) => Json::Array(t.into_iter().map(Json::String).collect()),
            Value::Reference(r) => reference(r),
            Value::References(rs) => Json::Array(rs.into_iter().map(reference).collect()),
        }
    };
    let e = mapped.entity;
    let record = Record {
        kind,
        source_id: e.source_id,
        deleted: e.status == homeroom_sdk::Status::ToBeDeleted,
        modified: e.date_last_modified,
        attrs: e
            .attributes
            .into_iter()
            .map(|a| (a.name, value(a.value)))
            .collect(),
    };
    Ok((record, mapped.warnings))
}

/// The fields an agreement may grant of a kind in a version, in the
/// specification's order (the three every record has come first, then
/// `metadata`).
pub fn fields(kind: EntityKind, version: Version) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = ALWAYS.to_vec();
    out.extend(
        or::field_names(sdk_kind(kind), version)
            .into_iter()
            .filter(|f| !NEVER.contains(f)),
    );
    out.push("metadata");
    out
}

/// Every field a kind has in either version (what an agreement may name).
pub fn any_version_fields(kind: EntityKind) -> Vec<&'static str> {
    let mut out = fields(kind, Version::V1p2);
    for f in fields(kind, Version::V1p1) {
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

/// Whether the canonical model has attribute `name` on `kind`: a field of
/// either OneRoster version, or a `metadata.<key>` extension. What settings
/// (filters, domains, mappings, match keys) may name. A person also has
/// their demographics (`birthDate`, `sex`...), which domains compare.
pub fn has_attribute(kind: EntityKind, name: &str) -> bool {
    name.strip_prefix("metadata.")
        .is_some_and(|key| !key.trim().is_empty())
        || any_version_fields(kind).contains(&name)
        || (kind == EntityKind::User
            && any_version_fields(EntityKind::Demographics).contains(&name))
}

/// A record in the binding's shape. `attrs` are the hub's attributes with
/// references already naming the hub's ids (`{"kind", "id"}`); `origin`
/// starts every `href` (`https://hub.example.org`).
pub fn shape(
    kind: EntityKind,
    id: &str,
    modified: Option<&str>,
    attrs: &Attrs,
    version: Version,
    origin: &str,
) -> Json {
    let mut object = Map::new();
    object.insert("sourcedId".into(), Json::String(id.to_string()));
    object.insert("status".into(), Json::String("active".into()));
    object.insert(
        "dateLastModified".into(),
        Json::String(modified.unwrap_or("1970-01-01T00:00:00.000Z").to_string()),
    );
    let href = |type_name: &str, id: &str| -> String {
        match or::ref_path(type_name) {
            Some((service, path)) => format!("{origin}{}/{path}/{id}", version.base_path(service)),
            None => format!("{origin}/{id}"),
        }
    };
    let guid = |type_name: &str, id: &str| json!({"href": href(type_name, id), "sourcedId": id, "type": type_name});
    let skind = sdk_kind(kind);
    for name in or::field_names(skind, version) {
        if NEVER.contains(&name) {
            continue;
        }
        let Some(field) = or::field_type(skind, name) else {
            continue;
        };
        let value = attrs.get(name);
        let shaped = match field {
            or::Field::Roles => roles(attrs, &guid),
            _ => value.and_then(|v| field_value(field, v, &guid)),
        };
        if let Some(shaped) = shaped {
            object.insert(name.to_string(), shaped);
        }
    }
    let metadata: Map<String, Json> = attrs
        .iter()
        .filter_map(|(name, value)| {
            let key = name.strip_prefix("metadata.")?;
            Some((key.to_string(), Json::String(text(value)?)))
        })
        .collect();
    if !metadata.is_empty() {
        object.insert("metadata".into(), Json::Object(metadata));
    }
    Json::Object(object)
}

fn text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The id a reference or a plain id names.
fn ref_id(value: &Json) -> Option<String> {
    match value {
        Json::Object(o) => o.get("id").and_then(Json::as_str).map(str::to_string),
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn ref_ids(value: &Json) -> Vec<String> {
    match value {
        Json::Array(items) => items.iter().filter_map(ref_id).collect(),
        other => ref_id(other).into_iter().collect(),
    }
}

fn field_value(field: or::Field, value: &Json, guid: &dyn Fn(&str, &str) -> Json) -> Option<Json> {
    use or::Field as F;
    Some(match field {
        F::Text | F::Date | F::DateTime => Json::String(text(value)?),
        F::Bool => match value {
            Json::Bool(b) => Json::String(b.to_string()),
            Json::String(s) => Json::String(or::boolean_text(s)?.to_string()),
            _ => return None,
        },
        F::Number => match value {
            Json::Number(_) => value.clone(),
            Json::String(s) => {
                serde_json::Number::from_f64(s.trim().parse().ok()?).map(Json::Number)?
            }
            _ => return None,
        },
        F::Texts => match value {
            Json::Array(items) => {
                Json::Array(items.iter().filter_map(text).map(Json::String).collect())
            }
            other => Json::Array(vec![Json::String(text(other)?)]),
        },
        F::Ref(kind) => guid(or::ref_type(kind), &ref_id(value)?),
        F::Refs(kind) => Json::Array(
            ref_ids(value)
                .iter()
                .map(|id| guid(or::ref_type(kind), id))
                .collect(),
        ),
        F::Other(type_name) => guid(type_name, &ref_id(value)?),
        F::Others(type_name) => Json::Array(
            ref_ids(value)
                .iter()
                .map(|id| guid(type_name, id))
                .collect(),
        ),
        F::UserIds => Json::Array(
            value
                .as_array()?
                .iter()
                .filter_map(Json::as_str)
                .filter_map(|t| t.split_once(':'))
                .map(|(k, id)| json!({"type": k, "identifier": id}))
                .collect(),
        ),
        F::JsonItems => Json::Array(
            value
                .as_array()?
                .iter()
                .filter_map(Json::as_str)
                .filter_map(|t| serde_json::from_str::<Json>(t).ok())
                .collect(),
        ),
        F::Roles => return None,
        _ => return None,
    })
}

/// 1.2 `roles`: the user's role at each of its orgs, the primary org's (or
/// the first's) as the primary role.
fn roles(attrs: &Attrs, guid: &dyn Fn(&str, &str) -> Json) -> Option<Json> {
    let role = attrs.get("role").and_then(Json::as_str)?;
    let orgs = attrs.get("orgs").map(ref_ids).unwrap_or_default();
    let primary = attrs.get("primaryOrg").and_then(ref_id);
    let primary_at = primary
        .as_ref()
        .and_then(|p| orgs.iter().position(|o| o == p))
        .unwrap_or(0);
    Some(Json::Array(
        orgs.iter()
            .enumerate()
            .map(|(i, org)| {
                json!({
                    "roleType": if i == primary_at { "primary" } else { "secondary" },
                    "role": role,
                    "org": guid("org", org),
                })
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(v: Json) -> Attrs {
        v.as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_user_takes_each_versions_shape_and_never_its_password() {
        let a = attrs(json!({
            "givenName": "Ada", "familyName": "Lovelace", "role": "student",
            "orgs": [{"kind": "org", "id": "s1"}, {"kind": "org", "id": "s2"}],
            "primaryOrg": {"kind": "org", "id": "s2"},
            "enabledUser": true, "grades": ["09"], "password": "hunter2",
            "userIds": ["LDAP:ada"], "metadata.lunch": "free",
        }));
        let v2 = shape(
            EntityKind::User,
            "u1",
            Some("2026-01-01T00:00:00.000Z"),
            &a,
            Version::V1p2,
            "http://hub",
        );
        assert_eq!(v2["sourcedId"], "u1");
        assert_eq!(v2["enabledUser"], "true");
        assert_eq!(v2["roles"][0]["roleType"], "secondary");
        assert_eq!(v2["roles"][1]["roleType"], "primary");
        assert_eq!(v2["roles"][1]["org"]["sourcedId"], "s2");
        assert_eq!(
            v2["roles"][1]["org"]["href"],
            "http://hub/ims/oneroster/rostering/v1p2/orgs/s2"
        );
        assert_eq!(v2["userIds"][0]["identifier"], "ada");
        assert_eq!(v2["metadata"]["lunch"], "free");
        assert!(v2.get("password").is_none() && v2.get("role").is_none());
        let v1 = shape(
            EntityKind::User,
            "u1",
            None,
            &a,
            Version::V1p1,
            "http://hub",
        );
        assert_eq!(v1["role"], "student");
        assert_eq!(
            v1["orgs"][1]["href"],
            "http://hub/ims/oneroster/v1p1/orgs/s2"
        );
        assert!(v1.get("roles").is_none() && v1.get("password").is_none());
    }

    #[test]
    fn collections_narrow_by_role_and_type() {
        let students = collection("students", Version::V1p2, Service::Rostering).unwrap();
        assert!(students.holds(&attrs(json!({"role": "student"}))));
        assert!(!students.holds(&attrs(json!({"role": "teacher"}))));
        assert!(collection("results", Version::V1p2, Service::Rostering).is_none());
        assert!(collection("results", Version::V1p1, Service::Rostering).is_some());
        assert!(!fields(EntityKind::User, Version::V1p2).contains(&"password"));
    }
}

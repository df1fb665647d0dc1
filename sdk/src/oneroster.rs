//! OneRoster 1.1 / 1.2 records as canonical entities, and back.
//!
//! What this module owns: the names of the OneRoster REST endpoints and base
//! paths, the table of every OneRoster field per entity kind with its type,
//! the mapping of one JSON record of the REST binding to an [`Entity`]
//! ([`entity_from_json`]) and of an entity back to the JSON the binding
//! expects for a write ([`entity_to_json`]). Every attribute carries the
//! OneRoster field name (camelCase, as in the specification), so the REST and
//! the CSV connectors, which both go through this module, speak the same
//! attribute names.
//!
//! What it does not do: any I/O. It never calls the host (no HTTP, no log):
//! problems with one field come back as warnings for the caller to log, so
//! the mapping runs and is tested natively.
//!
//! The attributes a record becomes:
//!
//! - text fields as [`Value::Text`] (empty strings and JSON `null` are left out);
//! - dates (`birthDate`, `startDate`, `beginDate`, `scoreDate`, ...) as
//!   [`Value::Date`], date-times (`assignDate`, `dueDate`) as
//!   [`Value::DateTime`] in RFC 3339;
//! - booleans, which OneRoster sends as the strings `"true"` / `"false"`
//!   (`enabledUser`, `primary`, the demographics race flags, `late`, ...), as
//!   [`Value::Boolean`];
//! - `score`, `weight`, `resultValueMin`/`Max` as [`Value::Number`];
//! - `grades`, `subjects`, `subjectCodes`, `periods` as [`Value::Texts`];
//! - GUID references (`{href, sourcedId, type}`) as [`Value::Reference`] to
//!   the kind their `type` names (or, without one, the kind the field always
//!   points to), lists of them as [`Value::References`]; references to things
//!   that are not entities here (`resources`, `scoreScale`) as the text of
//!   their ids;
//! - `userIds` as texts `type:identifier`;
//! - 1.2 `roles` as the texts of the role names, plus the primary role as
//!   `role` and the roles' orgs as `orgs` (the names 1.1 uses), so a user reads
//!   the same whichever version the source speaks;
//! - `metadata` fields flattened to `metadata.<key>` texts;
//! - `userProfiles` and `learningObjectiveSet` as one JSON text per item
//!   (passwords in profile credentials are dropped);
//! - a field the specification does not name, by the shape of its value.

use serde_json::{Map, Value as Json};

use crate::wit::types::{Entity, EntityKind, Reference, Status, Value};

/// The OneRoster version a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1p1,
    V1p2,
}

impl Version {
    /// `1.1` / `1.2` (also `v1p1` / `v1p2`).
    pub fn parse(text: &str) -> Option<Version> {
        match text.trim().to_ascii_lowercase().as_str() {
            "1.1" | "v1p1" | "1p1" => Some(Version::V1p1),
            "1.2" | "v1p2" | "1p2" => Some(Version::V1p2),
            _ => None,
        }
    }

    /// `1.1` or `1.2`, as admins write it.
    pub fn label(self) -> &'static str {
        match self {
            Version::V1p1 => "1.1",
            Version::V1p2 => "1.2",
        }
    }

    /// The base path of a service (1.1 has one for all of them).
    pub fn base_path(self, service: Service) -> &'static str {
        match (self, service) {
            (Version::V1p1, _) => "/ims/oneroster/v1p1",
            (Version::V1p2, Service::Rostering) => "/ims/oneroster/rostering/v1p2",
            (Version::V1p2, Service::Gradebook) => "/ims/oneroster/gradebook/v1p2",
            (Version::V1p2, Service::Resources) => "/ims/oneroster/resources/v1p2",
        }
    }

    /// The prefix of this version's OAuth 2 scope names.
    pub fn scope_prefix(self) -> &'static str {
        match self {
            Version::V1p1 => "https://purl.imsglobal.org/spec/or/v1p1/scope/",
            Version::V1p2 => "https://purl.imsglobal.org/spec/or/v1p2/scope/",
        }
    }
}

/// Every base path a OneRoster server URL may end in, with its version.
pub const BASE_PATHS: [(&str, Version); 4] = [
    ("/ims/oneroster/v1p1", Version::V1p1),
    ("/ims/oneroster/rostering/v1p2", Version::V1p2),
    ("/ims/oneroster/gradebook/v1p2", Version::V1p2),
    ("/ims/oneroster/resources/v1p2", Version::V1p2),
];

/// The OneRoster 1.2 services (1.1 serves them all under one base path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Rostering,
    Gradebook,
    Resources,
}

/// Where the records of one entity kind live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub kind: EntityKind,
    /// The collection's path below the base path, which is also the key of
    /// the list in a collection response (`users` → `{"users": [...]}`).
    pub path: &'static str,
    /// The key of one record in a single-record body (`{"user": {...}}`).
    pub single: &'static str,
    pub service: Service,
}

/// The endpoint of a kind; none for `user-agent` (agents come inside users'
/// `agents` attribute, OneRoster has no collection of them).
pub fn endpoint(kind: EntityKind) -> Option<Endpoint> {
    use Service::*;
    let (path, single, service) = match kind {
        EntityKind::Org => ("orgs", "org", Rostering),
        EntityKind::AcademicSession => ("academicSessions", "academicSession", Rostering),
        EntityKind::Course => ("courses", "course", Rostering),
        EntityKind::Class => ("classes", "class", Rostering),
        EntityKind::User => ("users", "user", Rostering),
        EntityKind::Enrollment => ("enrollments", "enrollment", Rostering),
        EntityKind::Demographics => ("demographics", "demographics", Rostering),
        EntityKind::Category => ("categories", "category", Gradebook),
        EntityKind::LineItem => ("lineItems", "lineItem", Gradebook),
        EntityKind::Result => ("results", "result", Gradebook),
        EntityKind::UserAgent => return None,
    };
    Some(Endpoint {
        kind,
        path,
        single,
        service,
    })
}

/// The kind a GUID reference's `type` names (`school` and `org` are orgs,
/// `student` and `teacher` users, `term` and `gradingPeriod` sessions).
pub fn ref_kind(type_name: &str) -> Option<EntityKind> {
    Some(match type_name {
        "org" | "school" | "district" | "state" | "local" | "national" | "department" => {
            EntityKind::Org
        }
        "course" => EntityKind::Course,
        "class" => EntityKind::Class,
        "user" | "student" | "teacher" | "guardian" | "parent" | "relative" | "aide"
        | "administrator" | "proctor" => EntityKind::User,
        "academicSession" | "term" | "gradingPeriod" | "semester" | "schoolYear" => {
            EntityKind::AcademicSession
        }
        "enrollment" => EntityKind::Enrollment,
        "demographics" => EntityKind::Demographics,
        "category" => EntityKind::Category,
        "lineItem" => EntityKind::LineItem,
        "result" => EntityKind::Result,
        _ => return None,
    })
}

/// The `type` a GUID reference to `kind` carries in OneRoster JSON.
pub fn ref_type(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Org => "org",
        EntityKind::AcademicSession => "academicSession",
        EntityKind::Course => "course",
        EntityKind::Class => "class",
        EntityKind::User | EntityKind::UserAgent => "user",
        EntityKind::Enrollment => "enrollment",
        EntityKind::Demographics => "demographics",
        EntityKind::Category => "category",
        EntityKind::LineItem => "lineItem",
        EntityKind::Result => "result",
    }
}

/// The service and collection path a GUID reference of `type_name` points
/// into, for building its `href` (`org` → rostering `orgs`).
pub fn ref_path(type_name: &str) -> Option<(Service, &'static str)> {
    match type_name {
        "scoreScale" => Some((Service::Gradebook, "scoreScales")),
        "resource" => Some((Service::Resources, "resources")),
        other => {
            let e = endpoint(ref_kind(other)?)?;
            Some((e.service, e.path))
        }
    }
}

/// How one OneRoster field is typed (see [`field_type`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    Text,
    Date,
    DateTime,
    Bool,
    Number,
    Texts,
    /// A GUID reference to an entity of this kind.
    Ref(EntityKind),
    Refs(EntityKind),
    /// A GUID reference to something that is not an entity here (its `type`).
    Other(&'static str),
    Others(&'static str),
    UserIds,
    Roles,
    /// Structured items kept as one JSON text each.
    JsonItems,
}

/// Which versions a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum In {
    Both,
    Only1p1,
    Only1p2,
}

impl In {
    fn has(self, version: Version) -> bool {
        matches!(
            (self, version),
            (In::Both, _) | (In::Only1p1, Version::V1p1) | (In::Only1p2, Version::V1p2)
        )
    }
}

type Spec = (&'static str, Field, In);

const ORG: &[Spec] = &[
    ("name", Field::Text, In::Both),
    ("type", Field::Text, In::Both),
    ("identifier", Field::Text, In::Both),
    ("parent", Field::Ref(EntityKind::Org), In::Both),
    ("children", Field::Refs(EntityKind::Org), In::Both),
];

const ACADEMIC_SESSION: &[Spec] = &[
    ("title", Field::Text, In::Both),
    ("startDate", Field::Date, In::Both),
    ("endDate", Field::Date, In::Both),
    ("type", Field::Text, In::Both),
    ("parent", Field::Ref(EntityKind::AcademicSession), In::Both),
    (
        "children",
        Field::Refs(EntityKind::AcademicSession),
        In::Both,
    ),
    ("schoolYear", Field::Text, In::Both),
];

const COURSE: &[Spec] = &[
    ("title", Field::Text, In::Both),
    (
        "schoolYear",
        Field::Ref(EntityKind::AcademicSession),
        In::Both,
    ),
    ("courseCode", Field::Text, In::Both),
    ("grades", Field::Texts, In::Both),
    ("subjects", Field::Texts, In::Both),
    ("org", Field::Ref(EntityKind::Org), In::Both),
    ("subjectCodes", Field::Texts, In::Both),
    ("resources", Field::Others("resource"), In::Both),
];

const CLASS: &[Spec] = &[
    ("title", Field::Text, In::Both),
    ("classCode", Field::Text, In::Both),
    ("classType", Field::Text, In::Both),
    ("location", Field::Text, In::Both),
    ("grades", Field::Texts, In::Both),
    ("subjects", Field::Texts, In::Both),
    ("course", Field::Ref(EntityKind::Course), In::Both),
    ("school", Field::Ref(EntityKind::Org), In::Both),
    ("terms", Field::Refs(EntityKind::AcademicSession), In::Both),
    ("subjectCodes", Field::Texts, In::Both),
    ("periods", Field::Texts, In::Both),
    ("resources", Field::Others("resource"), In::Both),
];

const USER: &[Spec] = &[
    ("userMasterIdentifier", Field::Text, In::Only1p2),
    ("username", Field::Text, In::Both),
    ("userIds", Field::UserIds, In::Both),
    ("enabledUser", Field::Bool, In::Both),
    ("givenName", Field::Text, In::Both),
    ("familyName", Field::Text, In::Both),
    ("middleName", Field::Text, In::Both),
    ("preferredFirstName", Field::Text, In::Only1p2),
    ("preferredMiddleName", Field::Text, In::Only1p2),
    ("preferredLastName", Field::Text, In::Only1p2),
    ("pronouns", Field::Text, In::Only1p2),
    ("role", Field::Text, In::Only1p1),
    ("orgs", Field::Refs(EntityKind::Org), In::Only1p1),
    ("roles", Field::Roles, In::Only1p2),
    ("userProfiles", Field::JsonItems, In::Only1p2),
    ("primaryOrg", Field::Ref(EntityKind::Org), In::Only1p2),
    ("identifier", Field::Text, In::Both),
    ("email", Field::Text, In::Both),
    ("sms", Field::Text, In::Both),
    ("phone", Field::Text, In::Both),
    ("agents", Field::Refs(EntityKind::User), In::Both),
    ("grades", Field::Texts, In::Both),
    ("password", Field::Text, In::Both),
    ("resources", Field::Others("resource"), In::Only1p2),
];

const ENROLLMENT: &[Spec] = &[
    ("user", Field::Ref(EntityKind::User), In::Both),
    ("class", Field::Ref(EntityKind::Class), In::Both),
    ("school", Field::Ref(EntityKind::Org), In::Both),
    ("role", Field::Text, In::Both),
    ("primary", Field::Bool, In::Both),
    ("beginDate", Field::Date, In::Both),
    ("endDate", Field::Date, In::Both),
];

const DEMOGRAPHICS: &[Spec] = &[
    ("birthDate", Field::Date, In::Both),
    ("sex", Field::Text, In::Both),
    ("americanIndianOrAlaskaNative", Field::Bool, In::Both),
    ("asian", Field::Bool, In::Both),
    ("blackOrAfricanAmerican", Field::Bool, In::Both),
    (
        "nativeHawaiianOrOtherPacificIslander",
        Field::Bool,
        In::Both,
    ),
    ("white", Field::Bool, In::Both),
    ("demographicRaceTwoOrMoreRaces", Field::Bool, In::Both),
    ("hispanicOrLatinoEthnicity", Field::Bool, In::Both),
    ("countryOfBirthCode", Field::Text, In::Both),
    ("stateOfBirthAbbreviation", Field::Text, In::Both),
    ("cityOfBirth", Field::Text, In::Both),
    ("publicSchoolResidenceStatus", Field::Text, In::Both),
];

const CATEGORY: &[Spec] = &[
    ("title", Field::Text, In::Both),
    ("weight", Field::Number, In::Only1p2),
];

const LINE_ITEM: &[Spec] = &[
    ("title", Field::Text, In::Both),
    ("description", Field::Text, In::Both),
    ("assignDate", Field::DateTime, In::Both),
    ("dueDate", Field::DateTime, In::Both),
    ("class", Field::Ref(EntityKind::Class), In::Both),
    ("school", Field::Ref(EntityKind::Org), In::Only1p2),
    ("category", Field::Ref(EntityKind::Category), In::Both),
    (
        "gradingPeriod",
        Field::Ref(EntityKind::AcademicSession),
        In::Both,
    ),
    (
        "academicSession",
        Field::Ref(EntityKind::AcademicSession),
        In::Only1p2,
    ),
    ("scoreScale", Field::Other("scoreScale"), In::Only1p2),
    ("resultValueMin", Field::Number, In::Both),
    ("resultValueMax", Field::Number, In::Both),
    ("learningObjectiveSet", Field::JsonItems, In::Only1p2),
];

const RESULT: &[Spec] = &[
    ("lineItem", Field::Ref(EntityKind::LineItem), In::Both),
    ("student", Field::Ref(EntityKind::User), In::Both),
    ("class", Field::Ref(EntityKind::Class), In::Only1p2),
    ("scoreScale", Field::Other("scoreScale"), In::Only1p2),
    ("scoreStatus", Field::Text, In::Both),
    ("score", Field::Number, In::Both),
    ("textScore", Field::Text, In::Only1p2),
    ("scoreDate", Field::Date, In::Both),
    ("comment", Field::Text, In::Both),
    ("learningObjectiveSet", Field::JsonItems, In::Only1p2),
    ("inProgress", Field::Bool, In::Only1p2),
    ("incomplete", Field::Bool, In::Only1p2),
    ("late", Field::Bool, In::Only1p2),
    ("missing", Field::Bool, In::Only1p2),
];

fn specs(kind: EntityKind) -> &'static [Spec] {
    match kind {
        EntityKind::Org => ORG,
        EntityKind::AcademicSession => ACADEMIC_SESSION,
        EntityKind::Course => COURSE,
        EntityKind::Class => CLASS,
        EntityKind::User | EntityKind::UserAgent => USER,
        EntityKind::Enrollment => ENROLLMENT,
        EntityKind::Demographics => DEMOGRAPHICS,
        EntityKind::Category => CATEGORY,
        EntityKind::LineItem => LINE_ITEM,
        EntityKind::Result => RESULT,
    }
}

/// How [`entity_from_json`] types the field `name` of a `kind` record (in
/// either version); none for a field the specification does not name, which
/// is typed by the shape of its value.
pub fn field_type(kind: EntityKind, name: &str) -> Option<Field> {
    specs(kind)
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, field, _)| *field)
}

/// The OneRoster field names of `kind` in `version`, in specification order
/// (without `sourcedId`, `status`, `dateLastModified` and `metadata`).
pub fn field_names(kind: EntityKind, version: Version) -> Vec<&'static str> {
    specs(kind)
        .iter()
        .filter(|(_, _, within)| within.has(version))
        .map(|(name, _, _)| *name)
        .collect()
}

/// Attributes one record may become, below the host's limit of 512.
const MAX_ATTRIBUTES: usize = 500;

/// One record mapped, with what could not be read as the specification says.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub entity: Entity,
    /// One line per field that was kept in a looser form or left out.
    pub warnings: Vec<String>,
}

/// Why a record could not be mapped at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapError {
    /// The record is not a JSON object.
    NotAnObject,
    /// The record has no `sourcedId` (or an empty one).
    MissingSourcedId,
}

impl std::fmt::Display for MapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MapError::NotAnObject => write!(f, "the record is not a JSON object"),
            MapError::MissingSourcedId => write!(f, "the record has no sourcedId"),
        }
    }
}

impl std::error::Error for MapError {}

/// A short, single-line rendering of a record to name it in a message.
pub fn describe(record: &Json) -> String {
    let text = record.to_string();
    if text.chars().count() <= 120 {
        text
    } else {
        format!("{}…", text.chars().take(120).collect::<String>())
    }
}

/// A record's `sourcedId` (a string, or a number some servers send).
pub fn sourced_id(record: &Json) -> Option<String> {
    let id = match record.get("sourcedId")? {
        Json::String(s) => s.trim().to_string(),
        Json::Number(n) => n.to_string(),
        _ => return None,
    };
    (!id.is_empty()).then_some(id)
}

/// Map one record of the REST binding (a 1.1 or 1.2 JSON object) to an entity.
pub fn entity_from_json(kind: EntityKind, record: &Json) -> Result<Mapped, MapError> {
    let object = record.as_object().ok_or(MapError::NotAnObject)?;
    let source_id = sourced_id(record).ok_or(MapError::MissingSourcedId)?;
    let mut mapper = Mapper {
        entity: Entity::new(kind, source_id),
        warnings: Vec::new(),
    };
    if let Some(status) = object.get("status").and_then(Json::as_str)
        && status.trim().eq_ignore_ascii_case("tobedeleted")
    {
        mapper.entity.status = Status::ToBeDeleted;
    }
    match object.get("dateLastModified") {
        None | Some(Json::Null) => {}
        Some(Json::String(s)) if s.trim().is_empty() => {}
        Some(value) => match value.as_str().and_then(normalize_datetime) {
            Some(t) => mapper.entity.date_last_modified = Some(t),
            None => mapper.warn("dateLastModified", value, "is not a date-time; left out"),
        },
    }
    for (name, value) in object {
        // A user's `password` never enters the hub: the hub has no use for a
        // child's password, and what it never holds it can never leak.
        if matches!(
            name.as_str(),
            "sourcedId" | "status" | "dateLastModified" | "metadata" | "password"
        ) || value.is_null()
        {
            continue;
        }
        match field_type(kind, name) {
            Some(field) => mapper.field(name, field, value),
            None => mapper.guess(name, value),
        }
    }
    if kind == EntityKind::User {
        mapper.derive_role_and_orgs(object.get("roles"));
    }
    if let Some(metadata) = object.get("metadata") {
        mapper.metadata(metadata);
    }
    Ok(Mapped {
        entity: mapper.entity,
        warnings: mapper.warnings,
    })
}

struct Mapper {
    entity: Entity,
    warnings: Vec<String>,
}

impl Mapper {
    fn warn(&mut self, name: &str, value: &Json, why: &str) {
        self.warnings.push(format!(
            "{} `{}`: field `{name}` = {} {why}",
            self.entity.kind.name(),
            self.entity.source_id,
            describe(value)
        ));
    }

    fn set(&mut self, name: &str, value: Value) {
        if self.entity.attributes.len() >= MAX_ATTRIBUTES && self.entity.get(name).is_none() {
            self.warnings.push(format!(
                "{} `{}`: more than {MAX_ATTRIBUTES} fields; `{name}` and later ones left out",
                self.entity.kind.name(),
                self.entity.source_id
            ));
            return;
        }
        self.entity.set(name, value);
    }

    fn field(&mut self, name: &str, field: Field, value: &Json) {
        let typed = match field {
            Field::Text => scalar_text(value).map(|t| (!t.is_empty()).then_some(Value::Text(t))),
            Field::Date => value.as_str().map(|s| {
                if s.trim().is_empty() {
                    None
                } else {
                    Some(match normalize_date(s) {
                        Some(d) => Value::Date(d),
                        None => Value::Text(s.to_string()),
                    })
                }
            }),
            Field::DateTime => value.as_str().map(|s| {
                if s.trim().is_empty() {
                    None
                } else {
                    Some(match normalize_datetime(s) {
                        Some(t) => Value::DateTime(t),
                        None => Value::Text(s.to_string()),
                    })
                }
            }),
            Field::Bool => match value {
                Json::String(s) if s.trim().is_empty() => Some(None),
                other => boolean(other).map(|b| Some(Value::Boolean(b))),
            },
            Field::Number => match value {
                Json::String(s) if s.trim().is_empty() => Some(None),
                other => number(other).map(|n| Some(Value::Number(n))),
            },
            Field::Texts => texts(value).map(|t| (!t.is_empty()).then_some(Value::Texts(t))),
            Field::Ref(kind) => match value {
                Json::String(s) if s.trim().is_empty() => Some(None),
                other => reference(other, kind).map(|r| Some(Value::Reference(r))),
            },
            Field::Refs(kind) => value.as_array().map(|items| {
                let refs: Vec<Reference> =
                    items.iter().filter_map(|i| reference(i, kind)).collect();
                if refs.len() < items.len() {
                    self.warn(
                        name,
                        value,
                        "holds items that are not references; they were left out",
                    );
                }
                (!refs.is_empty()).then_some(Value::References(refs))
            }),
            Field::Other(_) => match value {
                Json::Object(_) | Json::String(_) | Json::Number(_) => {
                    ref_id(value).map(|id| Some(Value::Text(id)))
                }
                _ => None,
            },
            Field::Others(_) => value.as_array().map(|items| {
                let ids: Vec<String> = items.iter().filter_map(ref_id).collect();
                (!ids.is_empty()).then_some(Value::Texts(ids))
            }),
            Field::UserIds => value.as_array().map(|items| {
                let ids: Vec<String> = items
                    .iter()
                    .filter_map(|i| {
                        let kind = i.get("type").and_then(scalar_text)?;
                        let id = i.get("identifier").and_then(scalar_text)?;
                        Some(format!("{kind}:{id}"))
                    })
                    .collect();
                (!ids.is_empty()).then_some(Value::Texts(ids))
            }),
            Field::Roles => value.as_array().map(|items| {
                let mut names: Vec<String> = Vec::new();
                for role in items
                    .iter()
                    .filter_map(|i| i.get("role").and_then(Json::as_str))
                {
                    if !role.is_empty() && !names.iter().any(|n| n == role) {
                        names.push(role.to_string());
                    }
                }
                (!names.is_empty()).then_some(Value::Texts(names))
            }),
            Field::JsonItems => {
                let items: Vec<&Json> = match value {
                    Json::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                let texts: Vec<String> = items
                    .into_iter()
                    .map(|i| without_passwords(i.clone()).to_string())
                    .collect();
                Some((!texts.is_empty()).then_some(Value::Texts(texts)))
            }
        };
        match typed {
            Some(Some(v)) => {
                if let (Field::Date | Field::DateTime, Value::Text(_)) = (field, &v) {
                    let what = if field == Field::Date {
                        "is not a date (YYYY-MM-DD); kept as text"
                    } else {
                        "is not an RFC 3339 date-time; kept as text"
                    };
                    self.warn(name, value, what);
                }
                self.set(name, v)
            }
            Some(None) => {}
            None => {
                self.warn(
                    name,
                    value,
                    "does not have the type OneRoster gives it; kept as it came",
                );
                self.guess(name, value);
            }
        }
    }

    /// A field the table does not know, typed by the shape of its value.
    fn guess(&mut self, name: &str, value: &Json) {
        let v = match value {
            Json::Null => return,
            Json::Bool(b) => Value::Boolean(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Value::Integer(i),
                None => match n.as_f64().filter(|f| f.is_finite()) {
                    Some(f) => Value::Number(f),
                    None => Value::Text(n.to_string()),
                },
            },
            Json::String(s) if s.is_empty() => return,
            Json::String(s) => Value::Text(s.clone()),
            Json::Array(items) if items.is_empty() => return,
            Json::Array(items) => {
                let refs: Vec<Reference> = items.iter().filter_map(typed_reference).collect();
                if refs.len() == items.len() {
                    Value::References(refs)
                } else {
                    Value::Texts(
                        items
                            .iter()
                            .map(|i| scalar_text(i).unwrap_or_else(|| i.to_string()))
                            .collect(),
                    )
                }
            }
            Json::Object(_) => match typed_reference(value) {
                Some(r) => Value::Reference(r),
                None => match ref_id(value).filter(|_| value.get("type").is_some()) {
                    Some(id) => Value::Text(id),
                    None => Value::Text(value.to_string()),
                },
            },
        };
        self.set(name, v);
    }

    /// 1.2 users state roles per org; 1.1 users have `role` and `orgs`. Give
    /// every user the 1.1 pair so both read the same.
    fn derive_role_and_orgs(&mut self, roles: Option<&Json>) {
        let Some(items) = roles.and_then(Json::as_array) else {
            return;
        };
        if self.entity.get("role").is_none() {
            let primary = items
                .iter()
                .find(|r| r.get("roleType").and_then(Json::as_str) == Some("primary"))
                .or_else(|| items.first())
                .and_then(|r| r.get("role"))
                .and_then(Json::as_str)
                .filter(|r| !r.is_empty());
            if let Some(role) = primary {
                self.set("role", Value::Text(role.to_string()));
            }
        }
        if self.entity.get("orgs").is_none() {
            let mut orgs: Vec<Reference> = Vec::new();
            for r in items.iter().filter_map(|r| r.get("org")) {
                if let Some(org) = reference(r, EntityKind::Org)
                    && !orgs
                        .iter()
                        .any(|o| o.kind == org.kind && o.source_id == org.source_id)
                {
                    orgs.push(org);
                }
            }
            if !orgs.is_empty() {
                self.set("orgs", Value::References(orgs));
            }
        }
    }

    fn metadata(&mut self, metadata: &Json) {
        match metadata {
            Json::Null => {}
            Json::Object(fields) => {
                for (key, value) in fields {
                    let text = match value {
                        Json::Null => continue,
                        other => scalar_text(other).unwrap_or_else(|| other.to_string()),
                    };
                    if !text.is_empty() {
                        self.set(&format!("metadata.{key}"), Value::Text(text));
                    }
                }
            }
            other => self.warn("metadata", other, "is not an object; left out"),
        }
    }
}

/// A string, number or boolean as text.
fn scalar_text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// OneRoster booleans: `true`/`false` as JSON or as strings (any case), and
/// the `1`/`0`, `yes`/`no` some servers send.
pub fn boolean(value: &Json) -> Option<bool> {
    match value {
        Json::Bool(b) => Some(*b),
        Json::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Json::String(s) => boolean_text(s),
        _ => None,
    }
}

/// A boolean sent as text: `true`/`false` (any case), `1`/`0`, `yes`/`no`.
pub fn boolean_text(text: &str) -> Option<bool> {
    let text = text.trim();
    let is = |words: [&str; 4]| words.iter().any(|w| text.eq_ignore_ascii_case(w));
    if is(["true", "1", "yes", "y"]) {
        Some(true)
    } else if is(["false", "0", "no", "n"]) {
        Some(false)
    } else {
        None
    }
}

fn number(value: &Json) -> Option<f64> {
    match value {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

fn texts(value: &Json) -> Option<Vec<String>> {
    match value {
        Json::Array(items) => items.iter().map(scalar_text).collect(),
        // Some servers send a list the way the CSV binding writes it: "09,10".
        Json::String(s) => Some(
            s.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        _ => None,
    }
}

/// The id a GUID reference (or a bare id) names.
fn ref_id(value: &Json) -> Option<String> {
    match value {
        Json::Object(_) => sourced_id(value),
        Json::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A GUID reference to an entity: the kind its `type` names, else `default`.
fn reference(value: &Json, default: EntityKind) -> Option<Reference> {
    let kind = value
        .get("type")
        .and_then(Json::as_str)
        .and_then(ref_kind)
        .unwrap_or(default);
    Some(Reference {
        kind,
        source_id: ref_id(value)?,
    })
}

/// A GUID reference whose `type` names an entity kind.
fn typed_reference(value: &Json) -> Option<Reference> {
    let kind = ref_kind(value.get("type")?.as_str()?)?;
    Some(Reference {
        kind,
        source_id: sourced_id(value)?,
    })
}

#[cfg(test)]
mod password_tests {
    use super::*;

    #[test]
    fn a_users_password_is_never_mapped() {
        let user = serde_json::json!({"sourcedId": "u1", "status": "active", "username": "ada", "password": "hunter2",
            "givenName": "Ada", "familyName": "L", "role": "student", "enabledUser": "true"});
        let mapped = entity_from_json(EntityKind::User, &user).expect("maps");
        assert!(mapped.entity.get("password").is_none());
        assert!(!format!("{:?}", mapped.entity.attributes).contains("hunter2"));
    }
}

fn without_passwords(mut value: Json) -> Json {
    match &mut value {
        Json::Object(fields) => {
            fields.remove("password");
            for v in fields.values_mut() {
                *v = without_passwords(v.take());
            }
        }
        Json::Array(items) => {
            for v in items.iter_mut() {
                *v = without_passwords(v.take());
            }
        }
        _ => {}
    }
    value
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn valid_ymd(year: u32, month: u32, day: u32) -> bool {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// `YYYY-MM-DD`, checked; a date-time is cut to its date.
pub fn normalize_date(text: &str) -> Option<String> {
    date_of(text).map(str::to_string)
}

/// What [`normalize_date`] gives, without copying it: the `YYYY-MM-DD` that
/// `text` starts with, when `text` is a date or a date-time.
pub fn date_of(text: &str) -> Option<&str> {
    let text = text.trim();
    if !text.is_ascii() {
        return None;
    }
    let date = text.get(..10)?;
    if text.len() > 10 && normalize_datetime(text).is_none() {
        return None;
    }
    let (y, rest) = date.split_at(4);
    let (m, d) = rest.get(1..)?.split_once('-')?;
    if &rest[..1] != "-" || m.len() != 2 || d.len() != 2 {
        return None;
    }
    valid_ymd(digits(y)?, digits(m)?, digits(d)?).then_some(date)
}

/// An RFC 3339 date-time, as the host accepts it. Also accepts what servers
/// send in the wild and means the same: no zone (read as UTC), a space or a
/// lowercase `t` between date and time, `+0000` offsets, a bare date
/// (midnight UTC), fractions of more than nine digits.
pub fn normalize_datetime(text: &str) -> Option<String> {
    let text = text.trim();
    if !text.is_ascii() {
        return None;
    }
    if text.len() == 10 {
        return normalize_date(text).map(|d| format!("{d}T00:00:00Z"));
    }
    let date = normalize_date(text.get(..10)?.trim()).filter(|_| text.len() > 10)?;
    let sep = text.as_bytes()[10];
    if !matches!(sep, b'T' | b't' | b' ') {
        return None;
    }
    let rest = &text[11..];
    // The time: HH:MM:SS, then an optional fraction, then the zone.
    let hms = rest.get(..8)?;
    let parts: Vec<&str> = hms.split(':').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let (h, mi, s) = (digits(parts[0])?, digits(parts[1])?, digits(parts[2])?);
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let mut rest = &rest[8..];
    let mut fraction = String::new();
    if let Some(after_dot) = rest.strip_prefix('.') {
        let n = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        fraction = format!(".{}", &after_dot[..n.min(9)]);
        rest = &after_dot[n..];
    }
    let zone = match rest {
        "" | "Z" | "z" => "Z".to_string(),
        _ => {
            let (sign, offset) = rest.split_at(1);
            if sign != "+" && sign != "-" {
                return None;
            }
            let (oh, om) = match offset.len() {
                5 if &offset[2..3] == ":" => (&offset[..2], &offset[3..]),
                4 => (&offset[..2], &offset[2..]),
                2 => (offset, "00"),
                _ => return None,
            };
            if digits(oh)? > 23 || digits(om)? > 59 || om.len() != 2 {
                return None;
            }
            format!("{sign}{oh}:{om}")
        }
    };
    Some(format!("{date}T{hms}{fraction}{zone}"))
}

/// The JSON record the REST binding expects for `entity` in `version`: the
/// reverse of [`entity_from_json`], for write-back (`PUT lineItems/{id}`
/// takes `{"lineItem": entity_to_json(...)}`).
///
/// Only the fields the version's schema has are written (the schemas allow no
/// others), plus `metadata.<key>` attributes as `metadata`. `href(type, id)`
/// builds the `href` of each GUID reference. An attribute whose value does not
/// fit its field is left out.
pub fn entity_to_json(
    entity: &Entity,
    version: Version,
    href: &dyn Fn(&str, &str) -> String,
) -> Json {
    let mut object = Map::new();
    object.insert("sourcedId".into(), Json::String(entity.source_id.clone()));
    let status = match entity.status {
        Status::Active => "active",
        Status::ToBeDeleted => "tobedeleted",
    };
    object.insert("status".into(), Json::String(status.into()));
    if let Some(t) = &entity.date_last_modified {
        object.insert("dateLastModified".into(), Json::String(t.clone()));
    }
    let guid = |type_name: &str, id: &str| serde_json::json!({"href": href(type_name, id), "sourcedId": id, "type": type_name});
    for (name, field, within) in specs(entity.kind) {
        if !within.has(version) {
            continue;
        }
        let Some(value) = entity.get(name) else {
            continue;
        };
        let json = match (field, value) {
            (Field::Text, v) => plain_text(v).map(Json::String),
            (Field::Date | Field::DateTime, v) => v.as_str().map(|s| Json::String(s.into())),
            (Field::Bool, Value::Boolean(b)) => Some(Json::String(b.to_string())),
            (Field::Bool, v) => v
                .as_str()
                .and_then(|s| boolean(&Json::String(s.into())))
                .map(|b| Json::String(b.to_string())),
            (Field::Number, Value::Number(n)) => serde_json::Number::from_f64(*n).map(Json::Number),
            (Field::Number, Value::Integer(i)) => Some(Json::Number((*i).into())),
            (Field::Number, v) => v
                .as_str()
                .and_then(|s| s.trim().parse::<f64>().ok())
                .and_then(serde_json::Number::from_f64)
                .map(Json::Number),
            (Field::Texts, Value::Texts(items)) => Some(Json::Array(
                items.iter().cloned().map(Json::String).collect(),
            )),
            (Field::Texts, v) => plain_text(v).map(|t| Json::Array(vec![Json::String(t)])),
            (Field::Ref(kind), v) => one_id(v).map(|id| guid(ref_type(*kind), &id)),
            (Field::Refs(kind), v) => Some(Json::Array(
                many_ids(v)
                    .iter()
                    .map(|id| guid(ref_type(*kind), id))
                    .collect(),
            )),
            (Field::Other(type_name), v) => one_id(v).map(|id| guid(type_name, &id)),
            (Field::Others(type_name), v) => Some(Json::Array(
                many_ids(v).iter().map(|id| guid(type_name, id)).collect(),
            )),
            (Field::UserIds, Value::Texts(items)) => Some(Json::Array(
                items
                    .iter()
                    .filter_map(|t| t.split_once(':'))
                    .map(|(k, id)| serde_json::json!({"type": k, "identifier": id}))
                    .collect(),
            )),
            (Field::JsonItems, Value::Texts(items)) => items
                .iter()
                .map(|t| serde_json::from_str::<Json>(t).ok())
                .collect::<Option<Vec<Json>>>()
                .map(Json::Array),
            // Roles are read-only here: a 1.2 role needs an org per role.
            _ => None,
        };
        if let Some(json) = json {
            object.insert((*name).to_string(), json);
        }
    }
    let metadata: Map<String, Json> = entity
        .attributes
        .iter()
        .filter_map(|a| {
            let key = a.name.strip_prefix("metadata.")?;
            Some((key.to_string(), Json::String(plain_text(&a.value)?)))
        })
        .collect();
    if !metadata.is_empty() {
        object.insert("metadata".into(), Json::Object(metadata));
    }
    Json::Object(object)
}

fn plain_text(value: &Value) -> Option<String> {
    match value {
        Value::Text(s) | Value::Date(s) | Value::DateTime(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Boolean(b) => Some(b.to_string()),
        Value::Texts(t) => Some(t.join(",")),
        Value::Reference(r) => Some(r.source_id.clone()),
        _ => None,
    }
}

fn one_id(value: &Value) -> Option<String> {
    match value {
        Value::Reference(r) => Some(r.source_id.clone()),
        Value::References(rs) if rs.len() == 1 => Some(rs[0].source_id.clone()),
        Value::Text(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn many_ids(value: &Value) -> Vec<String> {
    match value {
        Value::Reference(r) => vec![r.source_id.clone()],
        Value::References(rs) => rs.iter().map(|r| r.source_id.clone()).collect(),
        Value::Texts(t) => t.clone(),
        Value::Text(s) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The WIT types have no `PartialEq`: compare their debug forms.
    macro_rules! same {
        ($actual:expr, $expected:expr $(,)?) => {
            assert_eq!(format!("{:?}", $actual), format!("{:?}", $expected))
        };
        ($actual:expr, $expected:expr, $($msg:tt)+) => {
            assert_eq!(format!("{:?}", $actual), format!("{:?}", $expected), $($msg)+)
        };
    }

    fn r(kind: EntityKind, id: &str) -> Reference {
        Reference {
            kind,
            source_id: id.into(),
        }
    }

    fn map(kind: EntityKind, record: Json) -> Mapped {
        entity_from_json(kind, &record).expect("maps")
    }

    #[test]
    fn a_1p2_user_maps_every_field() {
        let m = map(
            EntityKind::User,
            json!({
                "sourcedId": "u1",
                "status": "active",
                "dateLastModified": "2024-08-01T12:00:00.000Z",
                "metadata": {"stateId": "S-77", "ell": true, "nothing": null},
                "userMasterIdentifier": "M1",
                "username": "ada",
                "userIds": [{"type": "LDAP", "identifier": "ada@d.org"}],
                "enabledUser": "true",
                "givenName": "Ada",
                "familyName": "Lovelace",
                "middleName": "",
                "preferredFirstName": "Addie",
                "roles": [
                    {"roleType": "secondary", "role": "aide", "org": {"href": "h", "sourcedId": "s2", "type": "org"}},
                    {"roleType": "primary", "role": "student", "org": {"href": "h", "sourcedId": "s1", "type": "org"}}
                ],
                "primaryOrg": {"href": "h", "sourcedId": "s1", "type": "org"},
                "identifier": "1001",
                "email": "ada@d.org",
                "agents": [{"href": "h", "sourcedId": "p1", "type": "user"}],
                "grades": ["09"],
                "resources": [{"href": "h", "sourcedId": "res1", "type": "resource"}],
                "userProfiles": [{"profileId": "p", "profileType": "x", "vendorId": "v",
                                  "credentials": [{"type": "pw", "username": "ada", "password": "hunter2"}]}]
            }),
        );
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        let e = &m.entity;
        assert_eq!(e.source_id, "u1");
        assert_eq!(e.status, Status::Active);
        assert_eq!(
            e.date_last_modified.as_deref(),
            Some("2024-08-01T12:00:00.000Z")
        );
        same!(e.get("enabledUser"), Some(&Value::Boolean(true)));
        assert_eq!(e.text("givenName"), Some("Ada"));
        assert!(e.get("middleName").is_none(), "empty text is left out");
        same!(
            e.get("userIds"),
            Some(&Value::Texts(vec!["LDAP:ada@d.org".into()]))
        );
        same!(
            e.get("roles"),
            Some(&Value::Texts(vec!["aide".into(), "student".into()]))
        );
        assert_eq!(e.text("role"), Some("student"), "the primary role");
        same!(
            e.get("orgs"),
            Some(&Value::References(vec![
                r(EntityKind::Org, "s2"),
                r(EntityKind::Org, "s1")
            ]))
        );
        same!(
            e.get("primaryOrg"),
            Some(&Value::Reference(r(EntityKind::Org, "s1")))
        );
        same!(
            e.get("agents"),
            Some(&Value::References(vec![r(EntityKind::User, "p1")]))
        );
        same!(e.get("grades"), Some(&Value::Texts(vec!["09".into()])));
        same!(e.get("resources"), Some(&Value::Texts(vec!["res1".into()])));
        assert_eq!(e.text("metadata.stateId"), Some("S-77"));
        assert_eq!(e.text("metadata.ell"), Some("true"));
        assert!(e.get("metadata.nothing").is_none());
        let Some(Value::Texts(profiles)) = e.get("userProfiles") else {
            panic!("userProfiles: {:?}", e.get("userProfiles"));
        };
        assert!(profiles[0].contains("\"username\":\"ada\"") && !profiles[0].contains("hunter2"));
    }

    #[test]
    fn a_1p1_user_keeps_role_and_orgs() {
        let m = map(
            EntityKind::User,
            json!({
                "sourcedId": "t1", "status": "tobedeleted", "dateLastModified": "2024-08-01T12:00:00Z",
                "enabledUser": false, "role": "teacher", "givenName": "Grace", "familyName": "Hopper",
                "orgs": [{"href": "h", "sourcedId": "s1", "type": "school"}],
                "grades": "09, 10", "identifier": null, "metadata": null
            }),
        );
        let e = &m.entity;
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        assert_eq!(e.status, Status::ToBeDeleted);
        same!(e.get("enabledUser"), Some(&Value::Boolean(false)));
        assert_eq!(e.text("role"), Some("teacher"));
        same!(
            e.get("orgs"),
            Some(&Value::References(vec![r(EntityKind::Org, "s1")]))
        );
        same!(
            e.get("grades"),
            Some(&Value::Texts(vec!["09".into(), "10".into()]))
        );
        assert!(e.get("identifier").is_none());
    }

    #[test]
    fn references_take_their_kind_from_type_or_field() {
        let m = map(
            EntityKind::Class,
            json!({
                "sourcedId": "c1", "title": "Algebra",
                "course": {"href": "h", "sourcedId": "co1", "type": "course"},
                "school": {"href": "h", "sourcedId": "s1"},
                "terms": [{"href": "h", "sourcedId": "t1", "type": "term"},
                          {"href": "h", "sourcedId": "g1", "type": "gradingPeriod"}],
                "periods": ["1", "2"], "classType": "scheduled"
            }),
        );
        let e = &m.entity;
        same!(
            e.get("course"),
            Some(&Value::Reference(r(EntityKind::Course, "co1")))
        );
        same!(
            e.get("school"),
            Some(&Value::Reference(r(EntityKind::Org, "s1")))
        );
        same!(
            e.get("terms"),
            Some(&Value::References(vec![
                r(EntityKind::AcademicSession, "t1"),
                r(EntityKind::AcademicSession, "g1")
            ]))
        );
        same!(
            e.get("periods"),
            Some(&Value::Texts(vec!["1".into(), "2".into()]))
        );
        let m = map(
            EntityKind::Result,
            json!({"sourcedId": "r1", "student": {"href": "h", "sourcedId": "u1", "type": "student"},
                   "lineItem": {"href": "h", "sourcedId": "li1", "type": "lineItem"},
                   "score": "87.5", "scoreDate": "2024-10-01", "late": "false",
                   "scoreStatus": "fully graded", "scoreScale": {"href": "h", "sourcedId": "ss1", "type": "scoreScale"}}),
        );
        let e = &m.entity;
        same!(
            e.get("student"),
            Some(&Value::Reference(r(EntityKind::User, "u1")))
        );
        same!(
            e.get("lineItem"),
            Some(&Value::Reference(r(EntityKind::LineItem, "li1")))
        );
        same!(e.get("score"), Some(&Value::Number(87.5)));
        same!(e.get("scoreDate"), Some(&Value::Date("2024-10-01".into())));
        same!(e.get("late"), Some(&Value::Boolean(false)));
        assert_eq!(e.text("scoreScale"), Some("ss1"));
    }

    #[test]
    fn dates_and_booleans_of_every_kind() {
        let m = map(
            EntityKind::Demographics,
            json!({"sourcedId": "u1", "birthDate": "2010-02-28", "sex": "female", "asian": "TRUE",
                   "white": "false", "hispanicOrLatinoEthnicity": true}),
        );
        let e = &m.entity;
        same!(e.get("birthDate"), Some(&Value::Date("2010-02-28".into())));
        same!(e.get("asian"), Some(&Value::Boolean(true)));
        same!(e.get("white"), Some(&Value::Boolean(false)));
        same!(
            e.get("hispanicOrLatinoEthnicity"),
            Some(&Value::Boolean(true))
        );
        let m = map(
            EntityKind::Enrollment,
            json!({"sourcedId": "e1", "primary": "true", "beginDate": "2024-08-15T00:00:00Z",
                   "role": "student", "user": {"href": "h", "sourcedId": "u1", "type": "user"}}),
        );
        same!(m.entity.get("primary"), Some(&Value::Boolean(true)));
        same!(
            m.entity.get("beginDate"),
            Some(&Value::Date("2024-08-15".into()))
        );
        let m = map(
            EntityKind::LineItem,
            json!({"sourcedId": "li1", "assignDate": "2024-09-01", "dueDate": "2024-09-08T23:59:00",
                   "resultValueMax": 100, "category": {"href": "h", "sourcedId": "cat1", "type": "category"}}),
        );
        let e = &m.entity;
        same!(
            e.get("assignDate"),
            Some(&Value::DateTime("2024-09-01T00:00:00Z".into()))
        );
        same!(
            e.get("dueDate"),
            Some(&Value::DateTime("2024-09-08T23:59:00Z".into()))
        );
        same!(e.get("resultValueMax"), Some(&Value::Number(100.0)));
        same!(
            e.get("category"),
            Some(&Value::Reference(r(EntityKind::Category, "cat1")))
        );
    }

    #[test]
    fn bad_values_are_kept_loosely_with_a_warning() {
        let m = map(
            EntityKind::Demographics,
            json!({"sourcedId": "u1", "birthDate": "31/02/2010", "asian": "maybe",
                   "dateLastModified": "yesterday"}),
        );
        same!(
            m.entity.get("birthDate"),
            Some(&Value::Text("31/02/2010".into()))
        );
        same!(m.entity.get("asian"), Some(&Value::Text("maybe".into())));
        assert_eq!(m.entity.date_last_modified, None);
        assert_eq!(m.warnings.len(), 3, "{:?}", m.warnings);
        assert!(
            m.warnings
                .iter()
                .all(|w| w.starts_with("demographics `u1`: field `"))
        );
    }

    #[test]
    fn unknown_fields_are_typed_by_shape() {
        let m = map(
            EntityKind::Org,
            json!({"sourcedId": 42, "name": "North High", "type": "school", "ncesId": 123,
                   "ratio": 1.5, "active": true, "tags": ["a", "b"],
                   "district": {"href": "h", "sourcedId": "d1", "type": "org"}}),
        );
        let e = &m.entity;
        assert_eq!(e.source_id, "42", "a numeric sourcedId is read as text");
        same!(e.get("ncesId"), Some(&Value::Integer(123)));
        same!(e.get("ratio"), Some(&Value::Number(1.5)));
        same!(e.get("active"), Some(&Value::Boolean(true)));
        same!(
            e.get("tags"),
            Some(&Value::Texts(vec!["a".into(), "b".into()]))
        );
        same!(
            e.get("district"),
            Some(&Value::Reference(r(EntityKind::Org, "d1")))
        );
    }

    #[test]
    fn records_without_an_id_are_refused() {
        assert_eq!(
            entity_from_json(EntityKind::User, &json!({"givenName": "x"})).err(),
            Some(MapError::MissingSourcedId)
        );
        assert_eq!(
            entity_from_json(EntityKind::User, &json!({"sourcedId": "  "})).err(),
            Some(MapError::MissingSourcedId)
        );
        assert_eq!(
            entity_from_json(EntityKind::User, &json!(["u1"])).err(),
            Some(MapError::NotAnObject)
        );
    }

    #[test]
    fn date_times_are_normalised_to_what_the_host_accepts() {
        for (input, want) in [
            ("2024-08-01T12:00:00Z", Some("2024-08-01T12:00:00Z")),
            ("2024-08-01T12:00:00.123Z", Some("2024-08-01T12:00:00.123Z")),
            ("2024-08-01t12:00:00z", Some("2024-08-01T12:00:00Z")),
            ("2024-08-01 12:00:00", Some("2024-08-01T12:00:00Z")),
            (
                "2024-08-01T12:00:00+0200",
                Some("2024-08-01T12:00:00+02:00"),
            ),
            (
                "2024-08-01T12:00:00-05:00",
                Some("2024-08-01T12:00:00-05:00"),
            ),
            (
                "2024-08-01T12:00:00.1234567891234Z",
                Some("2024-08-01T12:00:00.123456789Z"),
            ),
            ("2024-08-01", Some("2024-08-01T00:00:00Z")),
            ("2024-02-30T00:00:00Z", None),
            ("2024-08-01T25:00:00Z", None),
            ("2024-08-01T12:00Z", None),
            ("2024-08-01T12:00:00.Z", None),
            ("2024-08-01T12:00:00 CET", None),
            ("01/08/2024", None),
            ("", None),
        ] {
            assert_eq!(normalize_datetime(input).as_deref(), want, "{input}");
        }
        assert_eq!(normalize_date("2024-02-29").as_deref(), Some("2024-02-29"));
        assert_eq!(normalize_date("2023-02-29"), None);
        assert_eq!(normalize_date("2024-2-9"), None);
        assert_eq!(
            normalize_date("2024-08-01T10:00:00Z").as_deref(),
            Some("2024-08-01")
        );
        assert_eq!(normalize_date("2024-08-01Tgarbage"), None);
    }

    fn href(type_name: &str, id: &str) -> String {
        let (_, path) = ref_path(type_name).unwrap_or((Service::Rostering, "unknown"));
        format!("https://sis.example/{path}/{id}")
    }

    #[test]
    fn a_result_goes_back_to_the_1p2_schema() {
        let record = json!({
            "sourcedId": "r1", "status": "active", "dateLastModified": "2024-10-01T08:00:00Z",
            "metadata": {"source": "classroom"},
            "lineItem": {"href": "x", "sourcedId": "li1", "type": "lineItem"},
            "student": {"href": "x", "sourcedId": "u1", "type": "user"},
            "class": {"href": "x", "sourcedId": "c1", "type": "class"},
            "scoreStatus": "fully graded", "score": 9.5, "scoreDate": "2024-10-01",
            "comment": "well done", "late": "true",
            "learningObjectiveSet": [{"source": "case", "learningObjectiveResults": [{"learningObjectiveId": "lo1", "score": 1.0}]}]
        });
        let entity = map(EntityKind::Result, record.clone())
            .entity
            .with_text("district", "ignored");
        let back = entity_to_json(&entity, Version::V1p2, &href);
        let mut want = record.clone();
        want["lineItem"]["href"] = json!("https://sis.example/lineItems/li1");
        want["student"]["href"] = json!("https://sis.example/users/u1");
        want["class"]["href"] = json!("https://sis.example/classes/c1");
        assert_eq!(back, want);

        // 1.1 has no class, late or learning objectives on a result.
        let back = entity_to_json(&entity, Version::V1p1, &href);
        let mut keys: Vec<&str> = back
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "comment",
                "dateLastModified",
                "lineItem",
                "metadata",
                "score",
                "scoreDate",
                "scoreStatus",
                "sourcedId",
                "status",
                "student"
            ]
        );
    }

    #[test]
    fn a_line_item_goes_back_with_typed_references() {
        let entity = Entity::new(EntityKind::LineItem, "li1")
            .with_text("title", "Quiz 1")
            .with("assignDate", Value::DateTime("2024-09-01T00:00:00Z".into()))
            .with("dueDate", Value::DateTime("2024-09-08T00:00:00Z".into()))
            .with_ref("class", EntityKind::Class, "c1")
            .with_ref("school", EntityKind::Org, "s1")
            .with_ref("category", EntityKind::Category, "cat1")
            .with("resultValueMin", Value::Integer(0))
            .with("resultValueMax", Value::Text("10".into()));
        let back = entity_to_json(&entity, Version::V1p2, &href);
        assert_eq!(
            back,
            json!({
                "sourcedId": "li1", "status": "active", "title": "Quiz 1",
                "assignDate": "2024-09-01T00:00:00Z", "dueDate": "2024-09-08T00:00:00Z",
                "class": {"href": "https://sis.example/classes/c1", "sourcedId": "c1", "type": "class"},
                "school": {"href": "https://sis.example/orgs/s1", "sourcedId": "s1", "type": "org"},
                "category": {"href": "https://sis.example/categories/cat1", "sourcedId": "cat1", "type": "category"},
                "resultValueMin": 0, "resultValueMax": 10.0
            })
        );
        assert!(
            entity_to_json(&entity, Version::V1p1, &href)
                .get("school")
                .is_none()
        );
    }

    #[test]
    fn endpoints_and_paths() {
        assert_eq!(endpoint(EntityKind::UserAgent), None);
        let li = endpoint(EntityKind::LineItem).unwrap();
        assert_eq!(
            (li.path, li.single, li.service),
            ("lineItems", "lineItem", Service::Gradebook)
        );
        assert_eq!(
            Version::V1p2.base_path(Service::Gradebook),
            "/ims/oneroster/gradebook/v1p2"
        );
        assert_eq!(
            Version::V1p1.base_path(Service::Gradebook),
            "/ims/oneroster/v1p1"
        );
        assert_eq!(Version::parse(" 1.1 "), Some(Version::V1p1));
        assert_eq!(Version::parse("2.0"), None);
        assert_eq!(ref_path("school"), Some((Service::Rostering, "orgs")));
        assert_eq!(
            ref_path("scoreScale"),
            Some((Service::Gradebook, "scoreScales"))
        );
        assert!(field_names(EntityKind::User, Version::V1p1).contains(&"role"));
        assert!(!field_names(EntityKind::User, Version::V1p2).contains(&"role"));
        for kind in EntityKind::ALL {
            assert_eq!(endpoint(kind).is_some(), kind != EntityKind::UserAgent);
        }
    }
}

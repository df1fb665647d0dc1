//! Clever records as canonical entities: districts and schools as orgs,
//! terms as academic sessions, courses, sections as classes (their
//! `students` and `teachers` as enrollments), users (every role) as users.
//! Attribute names are the hub's (OneRoster's); which Clever field becomes a
//! user's `identifier` and a class's `classCode` follows the settings
//! ([`Config`]). No I/O: a record that cannot be read comes back as an error
//! for the caller to name in a warning.

use homeroom_sdk::oneroster::{normalize_date, normalize_datetime};
use homeroom_sdk::{Entity, EntityKind, Status, Value};
use serde_json::Value as Json;

use crate::config::{Config, Key};

/// A Clever collection the connector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    Districts,
    Schools,
    Terms,
    Courses,
    Sections,
    Users,
}

impl Collection {
    /// The path under the version's base, and the events' `record_type`.
    pub fn path(self) -> &'static str {
        match self {
            Collection::Districts => "districts",
            Collection::Schools => "schools",
            Collection::Terms => "terms",
            Collection::Courses => "courses",
            Collection::Sections => "sections",
            Collection::Users => "users",
        }
    }

    pub fn from_path(path: &str) -> Option<Collection> {
        ALL.into_iter().find(|c| c.path() == path)
    }
}

const ALL: [Collection; 6] = [
    Collection::Districts,
    Collection::Schools,
    Collection::Terms,
    Collection::Courses,
    Collection::Sections,
    Collection::Users,
];

/// The collections a kind is read from, in order (none: Clever has no such kind).
pub fn collections(kind: EntityKind) -> &'static [Collection] {
    match kind {
        EntityKind::Org => &[Collection::Districts, Collection::Schools],
        EntityKind::AcademicSession => &[Collection::Terms],
        EntityKind::Course => &[Collection::Courses],
        EntityKind::Class | EntityKind::Enrollment => &[Collection::Sections],
        EntityKind::User => &[Collection::Users],
        _ => &[],
    }
}

pub use homeroom_sdk::json::text;

/// A record's Clever id.
pub fn id(record: &Json) -> Option<String> {
    text(record, "id")
}

fn ids(record: &Json, key: &str) -> Vec<String> {
    let list = record.get(key).and_then(Json::as_array);
    list.into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Clever's grade names as the CEDS codes OneRoster uses.
pub fn grade(clever: &str) -> String {
    match clever {
        "InfantToddler" => "IT".into(),
        "Preschool" => "PR".into(),
        "PreKindergarten" => "PK".into(),
        "TransitionalKindergarten" => "TK".into(),
        "Kindergarten" => "KG".into(),
        "PostGraduate" => "PS".into(),
        "Ungraded" => "UG".into(),
        n if n.len() == 1 && n.as_bytes()[0].is_ascii_digit() => format!("0{n}"),
        other => other.to_string(),
    }
}

fn start(kind: EntityKind, record: &Json) -> Result<Entity, String> {
    let Some(source_id) = id(record) else {
        return Err("the record has no id".into());
    };
    let mut e = Entity::new(kind, source_id);
    e.date_last_modified = text(record, "last_modified")
        .or_else(|| text(record, "created"))
        .and_then(|t| normalize_datetime(&t));
    Ok(e)
}

fn with_opt(e: Entity, name: &str, value: Option<String>) -> Entity {
    e.with_text(name, value.unwrap_or_default())
}

fn with_texts(e: Entity, name: &str, values: Vec<String>) -> Entity {
    if values.is_empty() {
        e
    } else {
        e.with(name, Value::Texts(values))
    }
}

fn with_date(e: Entity, name: &str, value: Option<String>) -> Entity {
    match value.as_deref().and_then(normalize_date) {
        Some(d) => e.with(name, Value::Date(d)),
        None => e,
    }
}

fn refs(kind: EntityKind, ids: Vec<String>) -> Value {
    Value::References(
        ids.into_iter()
            .map(|source_id| homeroom_sdk::Reference { kind, source_id })
            .collect(),
    )
}

/// The entities of one record of `collection` for `kind` (a section is a
/// class, or its enrollments).
pub fn entities(
    config: &Config,
    kind: EntityKind,
    collection: Collection,
    record: &Json,
) -> Result<Vec<Entity>, String> {
    if !record.is_object() {
        return Err("the record is not a JSON object".into());
    }
    Ok(match (kind, collection) {
        (EntityKind::Enrollment, Collection::Sections) => enrollments(record, None)?,
        _ => vec![entity(config, kind, collection, record)?],
    })
}

fn entity(
    config: &Config,
    kind: EntityKind,
    collection: Collection,
    r: &Json,
) -> Result<Entity, String> {
    let e = start(kind, r)?;
    Ok(match collection {
        Collection::Districts => with_opt(e, "name", text(r, "name"))
            .with_text("type", "district")
            .with_text("identifier", text(r, "nces_id").unwrap_or_default()),
        Collection::Schools => with_opt(e, "name", text(r, "name"))
            .with_text("type", "school")
            .with_text(
                "identifier",
                text(r, "school_number")
                    .or_else(|| text(r, "sis_id"))
                    .unwrap_or_default(),
            )
            .with_ref(
                "parent",
                EntityKind::Org,
                text(r, "district").unwrap_or_default(),
            )
            .with_text("metadata.sis_id", text(r, "sis_id").unwrap_or_default())
            .with_text("metadata.nces_id", text(r, "nces_id").unwrap_or_default())
            .with_text("metadata.state_id", text(r, "state_id").unwrap_or_default()),
        Collection::Terms => {
            let e = with_opt(e, "title", text(r, "name")).with_text("type", "term");
            let e = with_date(e, "startDate", text(r, "start_date"));
            with_date(e, "endDate", text(r, "end_date")).with_ref(
                "org",
                EntityKind::Org,
                text(r, "district").unwrap_or_default(),
            )
        }
        Collection::Courses => with_opt(e, "title", text(r, "name"))
            .with_text("courseCode", text(r, "number").unwrap_or_default())
            .with_ref(
                "org",
                EntityKind::Org,
                text(r, "district").unwrap_or_default(),
            ),
        Collection::Sections => class(config, e, r),
        Collection::Users => user(config, e, r),
    })
}

fn class(config: &Config, e: Entity, r: &Json) -> Entity {
    let code = match config.sections_by {
        Key::SisId => text(r, "sis_id"),
        Key::CleverId => id(r),
        _ => text(r, "name"),
    };
    let mut e = with_opt(e, "title", text(r, "name"))
        .with_text("classCode", code.unwrap_or_default())
        .with_text("classType", "scheduled")
        .with_ref(
            "course",
            EntityKind::Course,
            text(r, "course").unwrap_or_default(),
        )
        .with_ref(
            "school",
            EntityKind::Org,
            text(r, "school").unwrap_or_default(),
        )
        .with_text("metadata.sis_id", text(r, "sis_id").unwrap_or_default())
        .with_text(
            "metadata.section_number",
            text(r, "section_number").unwrap_or_default(),
        );
    if let Some(term) = text(r, "term_id") {
        e = e.with("terms", refs(EntityKind::AcademicSession, vec![term]));
    }
    let e = with_texts(
        e,
        "grades",
        text(r, "grade").map(|g| grade(&g)).into_iter().collect(),
    );
    let e = with_texts(e, "subjects", text(r, "subject").into_iter().collect());
    with_texts(e, "periods", text(r, "period").into_iter().collect())
}

/// A user's roles as Clever names them, most telling first.
const ROLES: [&str; 5] = ["student", "teacher", "staff", "district_admin", "contact"];

fn user(config: &Config, e: Entity, r: &Json) -> Entity {
    let roles = r.get("roles").filter(|v| v.is_object());
    let role = |name: &str| roles.and_then(|rs| rs.get(name)).filter(|v| v.is_object());
    let held: Vec<&str> = ROLES.into_iter().filter(|n| role(n).is_some()).collect();
    let primary = held.first().copied().unwrap_or("contact");
    let details = role(primary).cloned().unwrap_or(Json::Null);
    let relationship = details
        .get("student_relationships")
        .and_then(Json::as_array)
        .and_then(|l| l.first())
        .and_then(|s| text(s, "relationship"));
    let oneroster_role = |name: &str| match name {
        "student" => "student",
        "teacher" => "teacher",
        "staff" | "district_admin" => "administrator",
        _ => match relationship.as_deref() {
            Some("Parent") => "parent",
            Some("Grandparent" | "Aunt/Uncle" | "Sibling") => "relative",
            _ => "guardian",
        },
    };
    let name = r.get("name").cloned().unwrap_or(Json::Null);
    let number_field = match primary {
        "student" => "student_number",
        "teacher" => "teacher_number",
        _ => "staff_id",
    };
    let number = text(&details, number_field);
    let sis = text(&details, "sis_id");
    let email = text(r, "email");
    let key = if primary == "student" {
        config.students_by
    } else {
        config.teachers_by
    };
    let identifier = match key {
        Key::Email => email.clone(),
        Key::SisId => sis.clone(),
        Key::CleverId => id(r),
        Key::Number | Key::Name => number.clone(),
    };
    let number_as_sis = match primary {
        "student" => config.student_number_as_sis,
        "teacher" => config.teacher_number_as_sis,
        _ => false,
    };
    let mut user_ids = vec![format!("clever:{}", e.source_id)];
    let number_type = match primary {
        "student" => "student_id",
        "teacher" => "teacher_id",
        _ => "staff_id",
    };
    match (number_as_sis, &number) {
        (true, Some(n)) => {
            user_ids.push(format!("sis:{n}"));
            user_ids.extend(sis.iter().map(|s| format!("clever_sis:{s}")));
        }
        _ => {
            user_ids.extend(sis.iter().map(|s| format!("sis:{s}")));
            user_ids.extend(number.iter().map(|n| format!("{number_type}:{n}")));
        }
    }
    user_ids.extend(text(&details, "state_id").map(|s| format!("state_id:{s}")));
    let mut schools = ids(&details, "schools");
    if let Some(s) = text(&details, "school").filter(|s| !schools.contains(s)) {
        schools.insert(0, s);
    }
    let agents: Vec<String> = details
        .get("student_relationships")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| text(s, "student"))
        .collect();
    let username = details
        .get("credentials")
        .and_then(|c| text(c, "district_username"));
    let mut e = with_opt(e, "givenName", text(&name, "first"))
        .with_text("familyName", text(&name, "last").unwrap_or_default())
        .with_text("middleName", text(&name, "middle").unwrap_or_default())
        .with_text("email", email.unwrap_or_default())
        .with_text("username", username.unwrap_or_default())
        .with_text("identifier", identifier.unwrap_or_default())
        .with_text("role", oneroster_role(primary))
        .with("enabledUser", Value::Boolean(true))
        .with("userIds", Value::Texts(user_ids))
        .with(
            "roles",
            Value::Texts(held.iter().map(|h| oneroster_role(h).to_string()).collect()),
        );
    if !schools.is_empty() {
        e = e.with("orgs", refs(EntityKind::Org, schools));
    }
    if !agents.is_empty() {
        e = e.with("agents", refs(EntityKind::User, agents));
    }
    let e = with_opt(e, "phone", text(&details, "phone"));
    with_texts(
        e,
        "grades",
        text(&details, "grade")
            .map(|g| grade(&g))
            .into_iter()
            .collect(),
    )
}

/// A section's enrollments (students, then teachers; the section's
/// `teacher` is the primary one), with `status`. `only`, when given, keeps
/// only those user ids.
pub fn enrollments(section: &Json, only: Option<&[String]>) -> Result<Vec<Entity>, String> {
    let Some(class) = id(section) else {
        return Err("the section has no id".into());
    };
    let school = text(section, "school").unwrap_or_default();
    let primary = text(section, "teacher");
    let mut out = Vec::new();
    for (role, key) in [("student", "students"), ("teacher", "teachers")] {
        for user in ids(section, key) {
            if only.is_some_and(|o| !o.contains(&user)) {
                continue;
            }
            let mut e = Entity::new(EntityKind::Enrollment, enrollment_id(&class, role, &user))
                .with_ref("class", EntityKind::Class, class.clone())
                .with_ref("user", EntityKind::User, user.clone())
                .with_ref("school", EntityKind::Org, school.clone())
                .with_text("role", role);
            if role == "teacher" {
                e.set("primary", Value::Boolean(primary.as_deref() == Some(&user)));
            }
            out.push(e);
        }
    }
    Ok(out)
}

/// An enrollment's id: the section, the role and the user.
pub fn enrollment_id(section: &str, role: &str, user: &str) -> String {
    format!("{section}-{role}-{user}")
}

/// The ids in `before` that are not in `now` (a section's students or
/// teachers an update took out).
pub fn removed(before: &Json, now: &Json, key: &str) -> Vec<String> {
    let now = ids(now, key);
    ids(before, key)
        .into_iter()
        .filter(|id| !now.contains(id))
        .collect()
}

/// Mark an entity as gone (a deleted event).
pub fn deleted(mut e: Entity) -> Entity {
    e.status = Status::ToBeDeleted;
    e
}

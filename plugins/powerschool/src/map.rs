//! PowerSchool records as canonical entities, in the hub's (OneRoster's)
//! attribute names. No I/O.
//!
//! Ids: the district is `district`; schools, terms and sections keep
//! PowerSchool's ids (DCIDs); a course is offered per school, so it is
//! `SCHOOL-COURSE`; people come from three tables whose ids may collide, so
//! they are `student-ID`, `staff-ID` and `guardian-ID`; a student's
//! enrollment keeps its section enrollment's id, a teacher's is
//! `SECTION-teacher-STAFF`.
//!
//! A school number the organization mapping names takes the district's
//! identifier as its `identifier` (PowerSchool's own stays in
//! `metadata.schoolNumber`), so the schools step's matching finds it.

use std::collections::BTreeMap;

use homeroom_sdk::oneroster::normalize_date;
use homeroom_sdk::{Entity, EntityKind, Reference, Value};
use serde_json::Value as Json;

use crate::fetch::scalar;

/// The district's one org.
pub const DISTRICT_ID: &str = "district";

pub fn student_id(id: &str) -> String {
    format!("student-{id}")
}

pub fn staff_id(id: &str) -> String {
    format!("staff-{id}")
}

pub fn course_id(school: &str, course: &str) -> String {
    format!("{school}-{course}")
}

fn start(kind: EntityKind, id: Option<String>, what: &str) -> Result<Entity, String> {
    let id = id.ok_or_else(|| format!("the {what} has no id"))?;
    Ok(Entity::new(kind, id))
}

fn object<'a>(record: &'a Json, key: &str) -> &'a Json {
    record
        .get(key)
        .filter(|v| v.is_object())
        .unwrap_or(&Json::Null)
}

fn text(e: Entity, name: &str, value: Option<String>) -> Entity {
    e.with_text(name, value.unwrap_or_default())
}

fn refs(kind: EntityKind, ids: Vec<String>) -> Value {
    Value::References(
        ids.into_iter()
            .map(|source_id| Reference { kind, source_id })
            .collect(),
    )
}

/// PowerSchool's grade level (-2 .. 12, 0 kindergarten) as a CEDS code.
pub fn grade(level: &str) -> String {
    match level.trim().parse::<i64>() {
        Ok(-2) => "PR".into(),
        Ok(-1) => "PK".into(),
        Ok(0) => "KG".into(),
        Ok(n) if n > 0 => format!("{n:02}"),
        _ => level.trim().to_string(),
    }
}

/// The district (`GET /ws/v1/district`'s `district`).
pub fn district(r: &Json) -> Entity {
    let e = Entity::new(EntityKind::Org, DISTRICT_ID).with_text("type", "district");
    let e = text(e, "name", scalar(r, "name"));
    text(e, "identifier", scalar(r, "district_number"))
}

/// A school, its identifier mapped by the organization mapping.
pub fn school(r: &Json, organizations: &BTreeMap<String, String>) -> Result<Entity, String> {
    let e = start(EntityKind::Org, scalar(r, "id"), "school")?
        .with_text("type", "school")
        .with_ref("parent", EntityKind::Org, DISTRICT_ID);
    let number = scalar(r, "school_number");
    let identifier = number
        .as_ref()
        .and_then(|n| organizations.get(n).cloned())
        .or_else(|| number.clone());
    let e = text(e, "name", scalar(r, "name"));
    let e = text(e, "identifier", identifier);
    let e = text(e, "metadata.schoolNumber", number);
    Ok(text(
        e,
        "metadata.stateProvinceId",
        scalar(r, "state_province_id"),
    ))
}

/// A term of `school`: a whole year (portion 1) is a school year, halves
/// semesters, the rest terms.
pub fn term(r: &Json, school: &str) -> Result<Entity, String> {
    let kind = match scalar(r, "portion").as_deref() {
        Some("1") => "schoolYear",
        Some("2") => "semester",
        _ => "term",
    };
    let e = start(EntityKind::AcademicSession, scalar(r, "id"), "term")?
        .with_text("type", kind)
        .with_ref("org", EntityKind::Org, school);
    let e = text(
        e,
        "title",
        scalar(r, "name").or_else(|| scalar(r, "abbreviation")),
    );
    let end = scalar(r, "end_date");
    let year = end
        .as_deref()
        .and_then(normalize_date)
        .map(|d| d[..4].to_string());
    let e = e
        .with_date("startDate", scalar(r, "start_date").as_deref())
        .with_date("endDate", end.as_deref());
    Ok(text(e, "schoolYear", year))
}

/// A course as `school` offers it.
pub fn course(r: &Json, school: &str) -> Result<Entity, String> {
    let id = scalar(r, "id").ok_or("the course has no id")?;
    let e = Entity::new(EntityKind::Course, course_id(school, &id)).with_ref(
        "org",
        EntityKind::Org,
        school,
    );
    let e = text(
        e,
        "title",
        scalar(r, "course_name").or_else(|| scalar(r, "course_number")),
    );
    Ok(text(e, "courseCode", scalar(r, "course_number")))
}

/// A section of `school` as a class.
pub fn section(r: &Json, school: &str) -> Result<Entity, String> {
    let e = start(EntityKind::Class, scalar(r, "id"), "section")?
        .with_text("classType", "scheduled")
        .with_ref("school", EntityKind::Org, school);
    let number = scalar(r, "section_number");
    let expression = scalar(r, "expression");
    let title = match (&number, &expression) {
        (Some(n), Some(x)) => Some(format!("Section {n} ({x})")),
        (Some(n), None) => Some(format!("Section {n}")),
        _ => None,
    };
    let mut e = text(e, "title", title);
    e = text(e, "classCode", number);
    if let Some(course) = scalar(r, "course_id") {
        e = e.with_ref("course", EntityKind::Course, course_id(school, &course));
    }
    if let Some(term) = scalar(r, "term_id") {
        e = e.with("terms", refs(EntityKind::AcademicSession, vec![term]));
    }
    if let Some(x) = expression {
        e = e.with("periods", Value::Texts(vec![x]));
    }
    Ok(e)
}

/// A student (`expansions=school_enrollment,contact_info,demographics`).
pub fn student(r: &Json) -> Result<Entity, String> {
    let id = scalar(r, "id").ok_or("the student has no id")?;
    let name = object(r, "name");
    let enrollment = object(r, "school_enrollment");
    let number = scalar(r, "local_id");
    let mut ids = vec![format!("powerschool:{id}")];
    ids.extend(number.iter().map(|n| format!("student_number:{n}")));
    ids.extend(scalar(r, "state_province_id").map(|s| format!("state_id:{s}")));
    let e = Entity::new(EntityKind::User, student_id(&id)).with_text("role", "student");
    let e = text(e, "givenName", scalar(name, "first_name"));
    let e = text(e, "familyName", scalar(name, "last_name"));
    let e = text(e, "middleName", scalar(name, "middle_name"));
    let e = text(e, "username", scalar(r, "student_username"));
    let e = text(e, "email", scalar(object(r, "contact_info"), "email"));
    let e = text(e, "identifier", number);
    let e = e.with_date(
        "metadata.birthDate",
        scalar(object(r, "demographics"), "birth_date").as_deref(),
    );
    let active = scalar(enrollment, "enroll_status").is_none_or(|s| s.eq_ignore_ascii_case("A"));
    let mut e = e
        .with("enabledUser", Value::Boolean(active))
        .with("userIds", Value::Texts(ids));
    if let Some(school) = scalar(enrollment, "school_id") {
        e = e.with("orgs", refs(EntityKind::Org, vec![school]));
    }
    if let Some(level) = scalar(enrollment, "grade_level") {
        e = e.with("grades", Value::Texts(vec![grade(&level)]));
    }
    Ok(e)
}

/// The schools a staff member is affiliated with, in PowerSchool's order.
pub fn affiliations(r: &Json) -> Vec<String> {
    let list = object(r, "school_affiliations").get("school_affiliation");
    crate::fetch::one_or_many(list)
        .unwrap_or_default()
        .iter()
        .filter_map(|a| scalar(a, "school_id"))
        .collect()
}

/// A staff member (`expansions=emails,school_affiliations`): a teacher
/// when any affiliation is of type 1 (teacher) or 4 (substitute), else an
/// administrator. `school` is the school whose list it came in.
pub fn staff(r: &Json, school: &str) -> Result<Entity, String> {
    let id = scalar(r, "id").ok_or("the staff member has no id")?;
    let name = object(r, "name");
    let list = object(r, "school_affiliations").get("school_affiliation");
    let teaches = crate::fetch::one_or_many(list)
        .unwrap_or_default()
        .iter()
        .any(|a| matches!(scalar(a, "type").as_deref(), Some("1") | Some("4")));
    let mut schools = affiliations(r);
    if schools.is_empty() {
        schools.push(school.to_string());
    }
    let number = scalar(r, "local_id");
    let mut ids = vec![format!("powerschool_staff:{id}")];
    ids.extend(number.iter().map(|n| format!("teacher_number:{n}")));
    let username = scalar(r, "teacher_username").or_else(|| scalar(r, "admin_username"));
    let e = Entity::new(EntityKind::User, staff_id(&id))
        .with_text("role", if teaches { "teacher" } else { "administrator" });
    let e = text(e, "givenName", scalar(name, "first_name"));
    let e = text(e, "familyName", scalar(name, "last_name"));
    let e = text(e, "middleName", scalar(name, "middle_name"));
    let e = text(e, "email", scalar(object(r, "emails"), "work_email"));
    let e = text(e, "username", username);
    let e = text(e, "identifier", number);
    Ok(e.with("enabledUser", Value::Boolean(true))
        .with("userIds", Value::Texts(ids))
        .with("orgs", refs(EntityKind::Org, schools)))
}

/// A guardian from the guardians PowerQuery's flattened columns:
/// `guardian_id`, `first_name`, `last_name`, `email`, `phone`,
/// `relationship`, `student_ids` (the students' ids, comma-separated).
pub fn guardian(r: &Json) -> Result<Entity, String> {
    let id = scalar(r, "guardian_id").ok_or("the guardian has no guardian_id")?;
    let students: Vec<String> = scalar(r, "student_ids")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(student_id)
        .collect();
    let role = match scalar(r, "relationship").map(|s| s.to_ascii_lowercase()) {
        Some(r) if r == "mother" || r == "father" || r == "parent" => "parent",
        _ => "guardian",
    };
    let e = Entity::new(EntityKind::User, format!("guardian-{id}")).with_text("role", role);
    let e = text(e, "givenName", scalar(r, "first_name"));
    let e = text(e, "familyName", scalar(r, "last_name"));
    let e = text(e, "email", scalar(r, "email"));
    let e = text(e, "phone", scalar(r, "phone"));
    let e = text(e, "metadata.relationship", scalar(r, "relationship"));
    let mut e = e.with("enabledUser", Value::Boolean(true)).with(
        "userIds",
        Value::Texts(vec![format!("powerschool_guardian:{id}")]),
    );
    if !students.is_empty() {
        e = e.with("agents", refs(EntityKind::User, students));
    }
    Ok(e)
}

/// The teacher's enrollment in a section (its `staff_id`), if it names one.
pub fn teacher_enrollment(section: &Json, school: &str) -> Option<Entity> {
    let class = scalar(section, "id")?;
    let staff = scalar(section, "staff_id")?;
    Some(
        Entity::new(EntityKind::Enrollment, format!("{class}-teacher-{staff}"))
            .with_ref("class", EntityKind::Class, class)
            .with_ref("user", EntityKind::User, staff_id(&staff))
            .with_ref("school", EntityKind::Org, school)
            .with_text("role", "teacher")
            .with("primary", Value::Boolean(true)),
    )
}

/// A student's section enrollment; none when it was dropped.
pub fn student_enrollment(r: &Json, class: &str, school: &str) -> Result<Option<Entity>, String> {
    let id = scalar(r, "id").ok_or("the section enrollment has no id")?;
    if scalar(r, "dropped").as_deref() == Some("true") {
        return Ok(None);
    }
    let student = scalar(r, "student_id").ok_or("the section enrollment names no student")?;
    let e = Entity::new(EntityKind::Enrollment, id)
        .with_ref("class", EntityKind::Class, class)
        .with_ref("user", EntityKind::User, student_id(&student))
        .with_ref("school", EntityKind::Org, school)
        .with_text("role", "student");
    Ok(Some(
        e.with_date("beginDate", scalar(r, "entry_date").as_deref())
            .with_date("endDate", scalar(r, "exit_date").as_deref()),
    ))
}

//! xPress objects as canonical entities, in the hub's (OneRoster's)
//! attribute names: xLeas and xSchools as orgs, the sessions of an
//! xCalendar as academic sessions (`CALENDAR:SESSIONCODE`, as an xRoster's
//! meeting times name them), xCourses as courses, xRosters as classes and
//! their students and staff as enrollments, xStaffs, xStudents and
//! xContacts as users (ids `xpress:REFID`, `local_id:`, `state_id:`). A
//! contact names no school: it belongs to the district (`leas`). No I/O:
//! a record that cannot be read comes back as an error for the caller to
//! name in a warning.

use homeroom_sdk::json::{items, text, text_at};
use homeroom_sdk::oneroster::normalize_date;
use homeroom_sdk::{Entity, EntityKind, Reference, Value};
use serde_json::Value as Json;

/// An xPress object collection the connector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    Leas,
    Schools,
    Calendars,
    Courses,
    Rosters,
    Staffs,
    Students,
    Contacts,
}

const ALL: [Collection; 8] = [
    Collection::Leas,
    Collection::Schools,
    Collection::Calendars,
    Collection::Courses,
    Collection::Rosters,
    Collection::Staffs,
    Collection::Students,
    Collection::Contacts,
];

impl Collection {
    /// The object path under the base (`xStudents`).
    pub fn path(self) -> &'static str {
        match self {
            Collection::Leas => "xLeas",
            Collection::Schools => "xSchools",
            Collection::Calendars => "xCalendars",
            Collection::Courses => "xCourses",
            Collection::Rosters => "xRosters",
            Collection::Staffs => "xStaffs",
            Collection::Students => "xStudents",
            Collection::Contacts => "xContacts",
        }
    }

    pub fn from_path(path: &str) -> Option<Collection> {
        ALL.into_iter().find(|c| c.path() == path)
    }
}

/// The collections a kind is read from, in order (none: xPress has no such kind).
pub fn collections(kind: EntityKind) -> &'static [Collection] {
    match kind {
        EntityKind::Org => &[Collection::Leas, Collection::Schools],
        EntityKind::AcademicSession => &[Collection::Calendars],
        EntityKind::Course => &[Collection::Courses],
        EntityKind::Class | EntityKind::Enrollment => &[Collection::Rosters],
        EntityKind::User => &[
            Collection::Staffs,
            Collection::Students,
            Collection::Contacts,
        ],
        _ => &[],
    }
}

/// A record's refId.
pub fn ref_id(record: &Json) -> Option<String> {
    text(record, "refId")
}

fn refs(kind: EntityKind, ids: Vec<String>) -> Value {
    let mut seen: Vec<String> = Vec::new();
    for id in ids {
        if !id.is_empty() && !seen.contains(&id) {
            seen.push(id);
        }
    }
    Value::References(
        seen.into_iter()
            .map(|source_id| Reference { kind, source_id })
            .collect(),
    )
}

fn with_refs(e: Entity, name: &str, kind: EntityKind, ids: Vec<String>) -> Entity {
    match refs(kind, ids) {
        Value::References(r) if r.is_empty() => e,
        v => e.with(name, v),
    }
}

fn with_date(e: Entity, name: &str, value: Option<String>) -> Entity {
    match value.as_deref().and_then(normalize_date) {
        Some(d) => e.with(name, Value::Date(d)),
        None => e,
    }
}

fn opt(value: Option<String>) -> String {
    value.unwrap_or_default()
}

/// The entities of one record of `collection` for `kind` (a calendar is
/// its sessions; a roster is a class, or its enrollments). `leas` are the
/// district's refIds, a contact's orgs.
pub fn entities(
    kind: EntityKind,
    collection: Collection,
    record: &Json,
    leas: &[String],
) -> Result<Vec<Entity>, String> {
    if !record.is_object() {
        return Err("the record is not a JSON object".into());
    }
    let id = ref_id(record).ok_or("the record has no refId")?;
    let r = record;
    Ok(match (kind, collection) {
        (EntityKind::Enrollment, Collection::Rosters) => enrollments(&id, r),
        (_, Collection::Calendars) => sessions(&id, r),
        (_, Collection::Leas) => vec![
            Entity::new(EntityKind::Org, id)
                .with_text("name", opt(text(r, "leaName")))
                .with_text("type", "district")
                .with_text("identifier", opt(text(r, "localId")))
                .with_text("metadata.stateProvinceId", opt(text(r, "stateProvinceId")))
                .with_text("metadata.ncesId", opt(text(r, "ncesId"))),
        ],
        (_, Collection::Schools) => vec![
            Entity::new(EntityKind::Org, id)
                .with_text("name", opt(text(r, "schoolName")))
                .with_text("type", "school")
                .with_text("identifier", opt(text(r, "localId")))
                .with_ref("parent", EntityKind::Org, opt(text(r, "leaRefId")))
                .with_text("metadata.stateProvinceId", opt(text(r, "stateProvinceId")))
                .with_text("metadata.ncesId", opt(text(r, "ncesId"))),
        ],
        (_, Collection::Courses) => {
            let e = Entity::new(EntityKind::Course, id)
                .with_text("title", opt(text(r, "courseTitle")))
                .with_text("courseCode", opt(text(r, "schoolCourseId")))
                .with_ref("org", EntityKind::Org, opt(text(r, "schoolRefId")))
                .with_text("metadata.leaCourseId", opt(text(r, "leaCourseId")))
                .with_text("metadata.scedCourseCode", opt(text(r, "scedCourseCode")));
            vec![with_texts(e, "subjects", text(r, "subject"))]
        }
        (_, Collection::Rosters) => vec![class(id, r)],
        (_, Collection::Staffs) => vec![staff(id, r)],
        (_, Collection::Students) => vec![student(id, r)],
        (_, Collection::Contacts) => vec![contact(id, r, leas)],
    })
}

fn with_texts(e: Entity, name: &str, value: Option<String>) -> Entity {
    match value {
        Some(v) => e.with(name, Value::Texts(vec![v])),
        None => e,
    }
}

/// A session's id: its calendar and its code, as meeting times name it.
pub fn session_id(calendar: &str, code: &str) -> String {
    format!("{calendar}:{code}")
}

fn sessions(calendar: &str, r: &Json) -> Vec<Entity> {
    let year = text(r, "schoolYear");
    let school = opt(text(r, "schoolRefId"));
    let mut out = Vec::new();
    for s in items(r, &["sessions", "sessionList"]) {
        let Some(code) = text(s, "sessionCode") else {
            continue;
        };
        let kind = match text(s, "sessionType")
            .unwrap_or_default()
            .to_ascii_lowercase()
            .as_str()
        {
            "semester" => "semester",
            "schoolyear" | "fullschoolyear" | "full school year" | "year round" => "schoolYear",
            "gradingperiod" | "marking period" | "quarter" => "gradingPeriod",
            _ => "term",
        };
        let e = Entity::new(EntityKind::AcademicSession, session_id(calendar, &code))
            .with_text("title", text(s, "description").unwrap_or(code))
            .with_text("type", kind)
            .with_text("schoolYear", opt(year.clone()))
            .with_ref("org", EntityKind::Org, school.clone());
        let e = with_date(e, "startDate", text(s, "startDate"));
        out.push(with_date(e, "endDate", text(s, "endDate")));
    }
    out
}

fn class(id: String, r: &Json) -> Entity {
    let terms: Vec<String> = items(r, &["meetingTimes", "meetingTime"])
        .into_iter()
        .filter_map(|m| {
            let calendar = text(m, "schoolCalendarRefId")?;
            let code = text(m, "sessionCode")?;
            Some(session_id(&calendar, &code))
        })
        .collect();
    let title = match (text(r, "courseTitle"), text(r, "schoolSectionId")) {
        (Some(t), Some(s)) => format!("{t} ({s})"),
        (t, s) => opt(t.or(s)),
    };
    let e = Entity::new(EntityKind::Class, id)
        .with_text("title", title)
        .with_text("classCode", opt(text(r, "schoolSectionId")))
        .with_text("classType", "scheduled")
        .with_ref("course", EntityKind::Course, opt(text(r, "courseRefId")))
        .with_ref("school", EntityKind::Org, opt(text(r, "schoolRefId")));
    let e = with_refs(e, "terms", EntityKind::AcademicSession, terms);
    with_texts(e, "subjects", text(r, "subject"))
}

/// A roster's enrollments: its students, its primary staff (primary) and
/// its other staff, each `ROSTER-ROLE-USER`.
pub fn enrollments(roster: &str, r: &Json) -> Vec<Entity> {
    let school = opt(text(r, "schoolRefId"));
    let mut people: Vec<(&str, String, Option<bool>)> = Vec::new();
    for s in items(r, &["students", "studentReference"]) {
        people.extend(ref_id(s).map(|u| ("student", u, None)));
    }
    if let Some(u) = text_at(r, &["primaryStaff", "staffPersonReference", "refId"]) {
        people.push(("teacher", u, Some(true)));
    }
    for s in items(r, &["otherStaffs", "otherStaff"]) {
        people.extend(
            text_at(s, &["staffPersonReference", "refId"]).map(|u| ("teacher", u, Some(false))),
        );
    }
    let mut out: Vec<Entity> = Vec::new();
    for (role, user, primary) in people {
        let id = format!("{roster}-{role}-{user}");
        if out.iter().any(|e| e.source_id == id) {
            continue;
        }
        let mut e = Entity::new(EntityKind::Enrollment, id)
            .with_ref("class", EntityKind::Class, roster)
            .with_ref("user", EntityKind::User, user)
            .with_ref("school", EntityKind::Org, school.clone())
            .with_text("role", role);
        if let Some(p) = primary {
            e.set("primary", Value::Boolean(p));
        }
        out.push(e);
    }
    out
}

/// What every person object shares: names, email, ids.
fn person(id: String, r: &Json, role: &str) -> Entity {
    let local = text(r, "localId");
    let state = text(r, "stateProvinceId");
    let mut ids = vec![format!("xpress:{id}")];
    ids.extend(local.iter().map(|l| format!("local_id:{l}")));
    ids.extend(state.iter().map(|s| format!("state_id:{s}")));
    let email = text_at(r, &["email", "emailAddress"]).or_else(|| {
        items(r, &["otherEmails", "email"])
            .into_iter()
            .find_map(|e| text(e, "emailAddress"))
    });
    Entity::new(EntityKind::User, id)
        .with_text("givenName", opt(text_at(r, &["name", "givenName"])))
        .with_text("familyName", opt(text_at(r, &["name", "familyName"])))
        .with_text("middleName", opt(text_at(r, &["name", "middleName"])))
        .with_text("email", opt(email))
        .with_text(
            "username",
            opt(text_at(r, &["appProvisioningInfo", "loginId"])),
        )
        .with_text("identifier", opt(local))
        .with_text("phone", opt(text_at(r, &["phoneNumber", "number"])))
        .with_text("role", role)
        .with("enabledUser", Value::Boolean(true))
        .with("userIds", Value::Texts(ids))
}

fn staff(id: String, r: &Json) -> Entity {
    let mut assignments = vec![r.get("primaryAssignment").cloned().unwrap_or(Json::Null)];
    assignments.extend(
        items(r, &["otherAssignments", "staffPersonAssignment"])
            .into_iter()
            .cloned(),
    );
    let job = text_at(r, &["primaryAssignment", "jobFunction"]).unwrap_or_default();
    let job = job.to_ascii_lowercase();
    let role = if job.is_empty() || job.contains("teach") || job.contains("instruct") {
        "teacher"
    } else {
        "administrator"
    };
    let orgs: Vec<String> = assignments
        .iter()
        .filter_map(|a| text(a, "schoolRefId").or_else(|| text(a, "leaRefId")))
        .collect();
    with_refs(person(id, r, role), "orgs", EntityKind::Org, orgs)
}

fn student(id: String, r: &Json) -> Entity {
    let mut enrollments = vec![r.get("enrollment").cloned().unwrap_or(Json::Null)];
    enrollments.extend(
        items(r, &["otherEnrollments", "enrollmentList"])
            .into_iter()
            .cloned(),
    );
    let orgs: Vec<String> = enrollments
        .iter()
        .filter_map(|en| text(en, "schoolRefId").or_else(|| text(en, "leaRefId")))
        .collect();
    let agents: Vec<String> = items(r, &["studentContacts", "contactPersonRefId"])
        .into_iter()
        .filter_map(|c| c.as_str().map(str::trim).map(str::to_string))
        .collect();
    let e = person(id, r, "student");
    let e = with_refs(e, "orgs", EntityKind::Org, orgs);
    let e = with_refs(e, "agents", EntityKind::User, agents);
    with_texts(e, "grades", text_at(r, &["enrollment", "gradeLevel"]))
}

fn contact(id: String, r: &Json, leas: &[String]) -> Entity {
    let relationships = items(r, &["relationships", "relationship"]);
    let students: Vec<String> = relationships
        .iter()
        .filter_map(|rel| text(rel, "studentRefId"))
        .collect();
    let code = relationships
        .first()
        .and_then(|rel| text(rel, "relationshipCode"))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let role = if ["parent", "mother", "father"]
        .iter()
        .any(|w| code.contains(w))
    {
        "parent"
    } else if code.contains("guardian") || code.is_empty() {
        "guardian"
    } else {
        "relative"
    };
    let e = person(id, r, role);
    let e = with_refs(e, "orgs", EntityKind::Org, leas.to_vec());
    with_refs(e, "agents", EntityKind::User, students)
}

//! Writing back, as PowerSchool's Data Sync allows: students created and
//! updated through `POST /ws/v1/student` (`{"students": {"student": [...]}}`,
//! each with `client_uid` and `action` INSERT or UPDATE; the answer's
//! `results.result` says, per `client_uid`, SUCCESS with the new id or
//! ERROR). A student's username, password and school enrollment are set
//! when the account is made and never after: an update first reads the
//! student (`GET /ws/v1/student/{id}?expansions=school_enrollment`) and is
//! refused, naming each, when it would change the username or the school;
//! no password is ever sent (PowerSchool's sign-in is set in PowerSchool). A new student is enrolled in
//! the school the hub names (the school's id at PowerSchool, from the
//! change's references) for that school's latest full-year term.
//!
//! Parents are written where the student resource keeps them: each child's
//! `contact` (`mother` or `father`, `guardian_email`; ps_utilities'
//! `pre_built_post.rb`), an UPDATE of that child. PowerSchool 12's
//! unlimited contacts (the person tables) have no public write API that was
//! at hand, so they are not written. Deletions and every other kind are
//! refused with what to do instead.
//!
//! It reads and writes PowerSchool through [`Env`] only, and never sends a
//! field PowerSchool keeps from creation on an update.

use std::collections::BTreeMap;

use homeroom_sdk::env::Env;
use homeroom_sdk::{Action, EntityKind, ExportChange, ExportOutcome, PluginError, Value};
use serde_json::{Value as Json, json};

use crate::config::Config;
use crate::fetch::{self, scalar};

/// What one change becomes before it is sent.
enum Plan {
    Done(ExportOutcome),
    /// Student records to post (one for a student; one per child for a
    /// parent), each with its `client_uid`.
    Send(Vec<Json>),
}

fn refuse(why: impl Into<String>) -> Plan {
    Plan::Done(ExportOutcome::Rejected(why.into()))
}

/// Write one batch of changes; one outcome per change, in order.
pub fn export(
    env: &mut dyn Env,
    config: &Config,
    changes: &[ExportChange],
) -> Result<Vec<ExportOutcome>, PluginError> {
    let mut schools: BTreeMap<String, Result<(String, String, String), String>> = BTreeMap::new();
    let mut plans = Vec::with_capacity(changes.len());
    for (n, change) in changes.iter().enumerate() {
        plans.push(plan(env, config, change, n, &mut schools)?);
    }
    let batch: Vec<Json> = plans
        .iter()
        .flat_map(|p| match p {
            Plan::Send(bodies) => bodies.clone(),
            Plan::Done(_) => Vec::new(),
        })
        .collect();
    let mut results: BTreeMap<String, Result<String, String>> = BTreeMap::new();
    if !batch.is_empty() {
        let url = format!("{}/ws/v1/student", config.base);
        let doing = "writing students";
        let response = fetch::post(env, &url, &json!({"students": {"student": batch}}), doing)?;
        if response.status == 429 || response.status >= 500 {
            let why = fetch::status_error(&url, doing, &response)
                .message()
                .to_string();
            return Ok(plans
                .into_iter()
                .map(|p| match p {
                    Plan::Done(outcome) => outcome,
                    Plan::Send(_) => ExportOutcome::Retry(why.clone()),
                })
                .collect());
        }
        let body = fetch::json(&url, doing, &response)?;
        let answers = fetch::one_or_many(body.get("results").and_then(|r| r.get("result")))
            .ok_or_else(|| fetch::broken(&url, doing, "has no results"))?;
        for answer in answers {
            let Some(uid) = scalar(&answer, "client_uid") else {
                continue;
            };
            let result = match scalar(&answer, "status").as_deref() {
                Some("SUCCESS") => answer
                    .get("success_message")
                    .and_then(|m| scalar(m, "id"))
                    .ok_or_else(|| "PowerSchool said SUCCESS without the student's id".to_string()),
                _ => Err(answer
                    .get("error_message")
                    .map(|m| fetch::says(m.to_string().as_bytes()).unwrap_or_else(|| m.to_string()))
                    .unwrap_or_else(|| "no reason given".into())),
            };
            results.insert(uid, result);
        }
    }
    Ok(plans
        .into_iter()
        .map(|p| match p {
            Plan::Done(outcome) => outcome,
            Plan::Send(bodies) => outcome(&bodies, &mut results),
        })
        .collect())
}

/// One change's outcome from the answers to its records: applied when
/// every one was (a student's id; a parent's `contact:` and the children's
/// ids), refused with PowerSchool's reason, asked again when unanswered.
fn outcome(
    bodies: &[Json],
    results: &mut BTreeMap<String, Result<String, String>>,
) -> ExportOutcome {
    let mut ids = Vec::new();
    for body in bodies {
        let uid = scalar(body, "client_uid").unwrap_or_default();
        match results.remove(&uid) {
            Some(Ok(id)) => ids.push(id),
            Some(Err(said)) => {
                let whom = scalar(body, "id")
                    .map(|id| format!(" {id}"))
                    .unwrap_or_default();
                return ExportOutcome::Rejected(format!(
                    "PowerSchool refused the student{whom}: {said}"
                ));
            }
            None => {
                return ExportOutcome::Retry(
                    "PowerSchool's answer did not mention this change; the next export sends it again".into(),
                );
            }
        }
    }
    let parent = bodies
        .first()
        .is_some_and(|b| b.get("contact").is_some() && b.get("name").is_none());
    if parent {
        ExportOutcome::Applied(format!("contact:{}", ids.join(",")))
    } else {
        ExportOutcome::Applied(ids.join(","))
    }
}

/// A parent, written where PowerSchool's student resource keeps parents:
/// each child's `contact` (`mother` or `father` by the relationship, and
/// `guardian_email`), as an UPDATE of that child. The children are the
/// parent's `agents` that PowerSchool has (by the change's references).
fn parent(change: &ExportChange, n: usize) -> Plan {
    if change.action == Action::Delete {
        return refuse(
            "Homeroom does not remove parents from PowerSchool; remove the parent from the student's record in PowerSchool",
        );
    }
    let relationship = text(change, "metadata.relationship")
        .or_else(|| text(change, "relationship"))
        .map(|r| r.to_ascii_lowercase());
    let field = match relationship.as_deref() {
        Some("mother") => "mother",
        Some("father") => "father",
        _ => {
            return refuse(
                "PowerSchool's student record keeps a mother, a father and a guardian email: say whether this parent is the mother or the father (metadata.relationship) to write them",
            );
        }
    };
    let name = [text(change, "givenName"), text(change, "familyName")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        return refuse("PowerSchool needs the parent's name to write them");
    }
    let agents: Vec<String> = match change.entity.get("agents") {
        Some(Value::References(list)) => list.iter().map(|r| r.source_id.clone()).collect(),
        Some(Value::Reference(r)) => vec![r.source_id.clone()],
        _ => Vec::new(),
    };
    let children: Vec<String> = agents
        .iter()
        .filter_map(|a| {
            change
                .target_refs
                .iter()
                .find(|t| t.kind == EntityKind::User && &t.source_id == a)
        })
        .map(|t| powerschool_student(&t.target_id))
        .collect();
    if children.is_empty() {
        return refuse(
            "none of this parent's children is a PowerSchool student, so PowerSchool has no record to keep the parent on",
        );
    }
    let mut contact = json!({ field: name });
    if let Some(email) = text(change, "email") {
        contact["guardian_email"] = json!(email);
    }
    Plan::Send(
        children
            .iter()
            .enumerate()
            .map(|(k, child)| {
                json!({"client_uid": format!("{n}.{k}"), "action": "UPDATE", "id": child, "contact": contact})
            })
            .collect(),
    )
}

/// A student's id at PowerSchool, from the id the hub knows it by there
/// (`student-ID` for the students this connector reads, `ID` for those it
/// made).
fn powerschool_student(target: &str) -> String {
    target
        .strip_prefix("student-")
        .unwrap_or(target)
        .to_string()
}

fn text(change: &ExportChange, name: &str) -> Option<String> {
    change
        .entity
        .text(name)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The PowerSchool id of the school the student's first org names.
fn school_ref(change: &ExportChange) -> Option<String> {
    let first = match change.entity.get("orgs") {
        Some(Value::References(list)) => list.first().map(|r| r.source_id.clone()),
        Some(Value::Reference(r)) => Some(r.source_id.clone()),
        _ => None,
    }?;
    change
        .target_refs
        .iter()
        .find(|t| t.kind == EntityKind::Org && t.source_id == first)
        .map(|t| t.target_id.clone())
}

fn plan(
    env: &mut dyn Env,
    config: &Config,
    change: &ExportChange,
    n: usize,
    schools: &mut BTreeMap<String, Result<(String, String, String), String>>,
) -> Result<Plan, PluginError> {
    if change.entity.kind != EntityKind::User {
        return Ok(refuse(format!(
            "PowerSchool takes students from the hub, not {} records",
            change.entity.kind.name()
        )));
    }
    let role = text(change, "role").unwrap_or_default();
    if role == "parent" || role == "guardian" {
        return Ok(parent(change, n));
    }
    if role != "student" {
        return Ok(refuse(format!(
            "PowerSchool takes students from the hub, not {}s",
            if role.is_empty() {
                "user"
            } else {
                role.as_str()
            }
        )));
    }
    if change.action == Action::Delete {
        return Ok(refuse(
            "Homeroom does not remove students from PowerSchool; withdraw the student in PowerSchool",
        ));
    }
    let name = json!({
        "first_name": text(change, "givenName"),
        "last_name": text(change, "familyName"),
        "middle_name": text(change, "middleName"),
    });
    let mut student = json!({"client_uid": n.to_string(), "name": strip(name)});
    if let Some(email) = text(change, "email") {
        student["contact_info"] = json!({"email": email});
    }
    let school = school_ref(change);
    match &change.target_id {
        Some(id) => {
            let url = format!(
                "{}/ws/v1/student/{id}?expansions=school_enrollment",
                config.base
            );
            let body = fetch::get_json(
                env,
                &url,
                &format!("reading student {id} before changing it"),
            )?;
            let held = body.get("student").unwrap_or(&Json::Null);
            let mut tried = Vec::new();
            let (now, wants) = (scalar(held, "student_username"), text(change, "username"));
            if let (Some(now), Some(wants)) = (&now, &wants)
                && now != wants
            {
                tried.push(format!("the username from {now} to {wants}"));
            }
            let enrolled = held
                .get("school_enrollment")
                .and_then(|e| scalar(e, "school_id"));
            if let (Some(now), Some(wants)) = (&enrolled, &school)
                && now != wants
            {
                tried.push(format!(
                    "the school enrollment from school {now} to school {wants}"
                ));
            }
            if !tried.is_empty() {
                return Ok(refuse(format!(
                    "PowerSchool keeps a student's username, password and school enrollment as they were made: this change would set {}; make that change in PowerSchool itself (its other changes go once the hub agrees with PowerSchool)",
                    tried.join(" and ")
                )));
            }
            student["action"] = json!("UPDATE");
            student["id"] = json!(id);
        }
        None => {
            let Some(school) = school else {
                return Ok(refuse(
                    "the student's school is not a PowerSchool school, so PowerSchool cannot enroll them; map the school to one PowerSchool has",
                ));
            };
            if text(change, "givenName").is_none() || text(change, "familyName").is_none() {
                return Ok(refuse(
                    "PowerSchool needs a first and a last name to make a student",
                ));
            }
            let Some(level) = grade_level(change) else {
                return Ok(refuse(
                    "PowerSchool needs a grade to enroll a new student; give the student a grade",
                ));
            };
            let found = match schools.get(&school) {
                Some(found) => found.clone(),
                None => {
                    let found = enrollment_school(env, config, &school)?;
                    schools.insert(school.clone(), found.clone());
                    found
                }
            };
            let (number, entry, exit) = match found {
                Ok(found) => found,
                Err(why) => return Ok(refuse(why)),
            };
            student["action"] = json!("INSERT");
            student["school_enrollment"] = json!({"school_number": number, "grade_level": level,
                "entry_date": entry, "exit_date": exit, "enroll_status": "A"});
            if let Some(u) = text(change, "username") {
                student["student_username"] = json!(u);
            }
            if let Some(number) = text(change, "identifier") {
                student["local_id"] = json!(number);
            }
        }
    }
    Ok(Plan::Send(vec![student]))
}

/// Nulls left out of an object.
fn strip(mut value: Json) -> Json {
    if let Some(map) = value.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    value
}

/// The student's grade as PowerSchool's grade level (KG 0, PK -1, 07 7).
fn grade_level(change: &ExportChange) -> Option<i64> {
    let grade = match change.entity.get("grades") {
        Some(Value::Texts(list)) => list.first().cloned(),
        Some(Value::Text(t)) => Some(t.clone()),
        _ => None,
    }?;
    match grade.trim() {
        "PR" => Some(-2),
        "PK" => Some(-1),
        "KG" => Some(0),
        g => g.parse().ok(),
    }
}

/// A school's number and its latest full-year term's first and last day.
fn enrollment_school(
    env: &mut dyn Env,
    config: &Config,
    school: &str,
) -> Result<Result<(String, String, String), String>, PluginError> {
    let doing = format!("reading school {school} to enroll a new student");
    let url = format!("{}/ws/v1/school/{school}", config.base);
    let body = fetch::get_json(env, &url, &doing)?;
    let Some(number) = body.get("school").and_then(|s| scalar(s, "school_number")) else {
        return Ok(Err(format!(
            "PowerSchool has no school number for school {school}"
        )));
    };
    let url = format!("{}/ws/v1/school/{school}/term?pagesize=100", config.base);
    let body = fetch::get_json(env, &url, &doing)?;
    let terms =
        fetch::records(&body, "terms", "term").map_err(|why| fetch::broken(&url, &doing, &why))?;
    let year = terms
        .iter()
        .filter(|t| scalar(t, "portion").as_deref() == Some("1"))
        .filter_map(|t| Some((scalar(t, "start_date")?, scalar(t, "end_date")?)))
        .max();
    Ok(match year {
        Some((entry, exit)) => Ok((number, entry, exit)),
        None => Err(format!(
            "school {number} has no full-year term in PowerSchool to enroll a new student in; set up its school year first"
        )),
    })
}

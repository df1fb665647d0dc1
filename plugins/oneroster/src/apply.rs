//! Grade write-back: line items and results go to the gradebook service
//! (`PUT lineItems/{sourcedId}` with `{"lineItem": {...}}`, `PUT
//! results/{sourcedId}` with `{"result": {...}}`; a deletion is a `DELETE`),
//! built from the entity's attributes by the SDK's reverse mapping, under
//! the ids the SIS knows (the destination ids the host gives; the hub's id
//! for a line item the SIS has never had).
//!
//! Before a record is written it gets what the SIS requires and can be
//! known:
//!
//! - a line item with `resultValueMax` but no `resultValueMin` starts at 0
//!   (Classroom's points do);
//! - on OneRoster 1.2, a line item without `school` takes the school of its
//!   class, read from the rostering service (`GET classes/{sourcedId}`) once
//!   per class and kept in plugin storage under `class-school:<class
//!   sourcedId>` ([`CLASS_SCHOOL_KEY`]), so later runs do not ask again;
//! - a result's `scoreDate` goes as a date (`YYYY-MM-DD`), and a result
//!   without one takes the date it last changed; date-times go in RFC 3339.
//!
//! A required field still missing cannot be known here: the change is
//! refused before anything is sent, naming the field and what to do (not
//! left to the SIS's 400 or 422), and so is a date that is not one. Required
//! of a line item: `title`, `assignDate`, `dueDate`, `class`, `category` and,
//! on 1.2, `school`; of a result: `lineItem`, `student`, `scoreStatus`,
//! `scoreDate`. `dateLastModified`, which servers keep themselves, goes when
//! the hub has one.
//!
//! Each change gets its own outcome: applied under its SIS id, rejected with
//! the reason (the SIS's or this connector's), or retried later when the SIS
//! is down or slowing us; one refused change does not stop the others.
//! Nothing is written but the changes and the class schools kept.

use std::collections::HashMap;

use homeroom_sdk::connector_bindings::homeroom::plugin::http::Method;
use homeroom_sdk::oneroster::{self, Service, Version};
use homeroom_sdk::{Action, Entity, EntityKind, ExportChange, ExportOutcome, PluginError, Value};
use serde_json::{Map, Value as Json};

use crate::config::Config;
use crate::env::Env;
use crate::fetch::{self, Purpose};

/// The storage key prefix of the school of a class (`class-school:c1` →
/// `s1`), by the SIS's ids.
pub const CLASS_SCHOOL_KEY: &str = "class-school:";

/// Write every change; one outcome per change, in order.
pub fn export(
    env: &mut dyn Env,
    config: &Config,
    changes: Vec<ExportChange>,
) -> Vec<ExportOutcome> {
    let mut schools = Schools::default();
    changes
        .iter()
        .map(|change| {
            let entity = as_the_sis_knows_it(change);
            match apply_one(env, config, change.action, &entity, &mut schools) {
                Ok(()) => ExportOutcome::Applied(entity.source_id),
                Err(Failed::Later(why)) => ExportOutcome::Retry(why),
                Err(Failed::Refused(why)) => ExportOutcome::Rejected(why),
            }
        })
        .collect()
}

/// Why a change did not go.
#[derive(Debug, Clone)]
enum Failed {
    /// The SIS is down or asks us to slow down: again at the next export.
    Later(String),
    /// The SIS (or this connector) refuses it.
    Refused(String),
}

/// A failed request as a change's outcome: an unavailable or rate-limiting
/// SIS is tried again later, the rest is refused.
fn failed(error: PluginError) -> Failed {
    match error {
        PluginError::Unavailable(m) | PluginError::RateLimited(m) => Failed::Later(m),
        other => Failed::Refused(other.message().to_string()),
    }
}

/// The schools of the classes looked up in this call, failures too, so a
/// class is asked for once per call whatever the answer.
#[derive(Default)]
struct Schools {
    known: HashMap<String, Result<String, Failed>>,
    /// Whether the admin was told that storage refused a school.
    warned: bool,
}

/// The entity under the ids the SIS knows: its own (the hub's, for one
/// the SIS has never had) and those of what it refers to.
fn as_the_sis_knows_it(change: &ExportChange) -> Entity {
    let mut entity = change.entity.clone();
    if let Some(id) = &change.target_id {
        entity.source_id = id.clone();
    }
    let target = |r: &mut homeroom_sdk::Reference| {
        if let Some(t) = change
            .target_refs
            .iter()
            .find(|t| t.kind == r.kind && t.source_id == r.source_id)
        {
            r.source_id = t.target_id.clone();
        }
    };
    for a in &mut entity.attributes {
        match &mut a.value {
            Value::Reference(r) => target(r),
            Value::References(rs) => rs.iter_mut().for_each(target),
            _ => {}
        }
    }
    entity
}

/// The URL of a GUID reference's target (`href`).
fn href(config: &Config, type_name: &str, id: &str) -> String {
    match oneroster::ref_path(type_name) {
        Some((service, path)) => {
            format!("{}/{path}/{}", config.base(service), fetch::encode(id))
        }
        None => format!(
            "{}/{type_name}/{}",
            config.base(Service::Rostering),
            fetch::encode(id)
        ),
    }
}

fn apply_one(
    env: &mut dyn Env,
    config: &Config,
    action: Action,
    entity: &Entity,
    schools: &mut Schools,
) -> Result<(), Failed> {
    let endpoint = match entity.kind {
        EntityKind::LineItem | EntityKind::Result => oneroster::endpoint(entity.kind),
        _ => None,
    }
    .ok_or_else(|| {
        Failed::Refused(format!(
            "unsupported: the OneRoster connector writes back line items and results (grades) only, not {} records",
            entity.kind.name()
        ))
    })?;
    let resource = format!("{}/{}", endpoint.path, entity.source_id);
    let url = format!(
        "{}/{}/{}",
        config.base(Service::Gradebook),
        endpoint.path,
        fetch::encode(&entity.source_id)
    );
    let (method, body) = match action {
        Action::Add | Action::Update => {
            let href = |type_name: &str, id: &str| href(config, type_name, id);
            let mut record = oneroster::entity_to_json(entity, config.version, &href);
            let Json::Object(fields) = &mut record else {
                return Err(Failed::Refused(format!(
                    "{} `{}` could not be put in the OneRoster form",
                    entity.kind.name(),
                    entity.source_id
                )));
            };
            complete(env, config, entity, fields, schools)?;
            let body = serde_json::json!({ endpoint.single: record });
            (Method::Put, Some(body.to_string().into_bytes()))
        }
        Action::Delete => (Method::Delete, None),
    };
    let purpose = Purpose {
        resource: &resource,
        service: Service::Gradebook,
        method,
        offset: None,
    };
    let response = fetch::send(env, config, &purpose, &url, body).map_err(failed)?;
    match response.status {
        200..=299 => Ok(()),
        // Deleting what is already gone is done.
        404 if method == Method::Delete => Ok(()),
        status => {
            let why = fetch::status_error(config, &purpose, &url, &response)
                .message()
                .to_string();
            Err(if status == 429 || status >= 500 {
                Failed::Later(why)
            } else {
                Failed::Refused(why)
            })
        }
    }
}

/// Whether a record has a field, as the SIS reads it: not null, not empty
/// text, a reference with an id.
fn has(fields: &Map<String, Json>, name: &str) -> bool {
    match fields.get(name) {
        None | Some(Json::Null) => false,
        Some(Json::String(s)) => !s.trim().is_empty(),
        Some(Json::Object(guid)) => guid
            .get("sourcedId")
            .and_then(Json::as_str)
            .is_some_and(|id| !id.trim().is_empty()),
        Some(_) => true,
    }
}

/// The fields the SIS requires of a kind that this connector cannot fill,
/// each with what the admin can do when it is missing (a 1.2 line item's
/// `school` is looked up instead, [`school_of`]).
fn required(kind: EntityKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        EntityKind::LineItem => &[
            (
                "title",
                "the assignment has no title; give it one, or the SIS cannot take it",
            ),
            (
                "assignDate",
                "the assignment has no assign date (Classroom: when the coursework was created or is scheduled); give it one, or the SIS cannot take it",
            ),
            (
                "dueDate",
                "the coursework has no due date in Classroom; give it one, or the SIS cannot take it",
            ),
            (
                "class",
                "it belongs to no class the SIS knows; a line item goes to the SIS only in one of the SIS's classes",
            ),
            (
                "category",
                "the coursework has no topic in Classroom; put it under one of the class's topics (the SIS's grade categories), or the SIS cannot take it",
            ),
        ],
        EntityKind::Result => &[
            (
                "lineItem",
                "the grade belongs to no line item the SIS knows",
            ),
            ("student", "the grade belongs to no student the SIS knows"),
            (
                "scoreStatus",
                "the grade has no status (such as `fully graded` or `submitted`); set it where the grade comes from, or the SIS cannot take it",
            ),
            (
                "scoreDate",
                "the grade has no score date, nor a time it last changed to take it from; give it one where the grade comes from, or the SIS cannot take it",
            ),
        ],
        _ => &[],
    }
}

/// Fill what the SIS requires and can be known, then refuse the record if
/// a required field is still missing or a date is not one.
fn complete(
    env: &mut dyn Env,
    config: &Config,
    entity: &Entity,
    fields: &mut Map<String, Json>,
    schools: &mut Schools,
) -> Result<(), Failed> {
    let mut wrong = Vec::new();
    let date_times: &[&str] = match entity.kind {
        EntityKind::LineItem => &["dateLastModified", "assignDate", "dueDate"],
        _ => &["dateLastModified"],
    };
    for name in date_times {
        if let Some(Json::String(text)) = fields.get(*name)
            && !text.trim().is_empty()
        {
            match oneroster::normalize_datetime(text) {
                Some(t) => {
                    fields.insert((*name).to_string(), Json::String(t));
                }
                // The server keeps its own; a broken one is left out.
                None if *name == "dateLastModified" => {
                    fields.remove(*name);
                }
                None => wrong.push(format!(
                    "Its {name} `{text}` is not a date-time (RFC 3339, such as 2024-09-08T23:59:00Z)."
                )),
            }
        }
    }
    match entity.kind {
        EntityKind::LineItem if !has(fields, "resultValueMin") && has(fields, "resultValueMax") => {
            fields.insert("resultValueMin".into(), Json::from(0));
        }
        EntityKind::Result => {
            if let Some(Json::String(text)) = fields.get("scoreDate")
                && !text.trim().is_empty()
            {
                match oneroster::normalize_date(text) {
                    Some(d) => {
                        fields.insert("scoreDate".into(), Json::String(d));
                    }
                    None => wrong.push(format!(
                        "Its scoreDate `{text}` is not a date (YYYY-MM-DD, such as 2024-10-01)."
                    )),
                }
            } else if let Some(day) = fields
                .get("dateLastModified")
                .and_then(Json::as_str)
                .and_then(oneroster::normalize_date)
            {
                fields.insert("scoreDate".into(), Json::String(day));
            }
        }
        _ => {}
    }
    let missing: Vec<String> = required(entity.kind)
        .iter()
        .filter(|(name, _)| !has(fields, name))
        .map(|(name, fix)| format!("No {name}: {fix}."))
        .collect();
    if !missing.is_empty() || !wrong.is_empty() {
        let problems: Vec<String> = missing.into_iter().chain(wrong).collect();
        return Err(Failed::Refused(format!(
            "{} `{}` was not sent: the SIS (OneRoster {}) would refuse it. {}",
            thing(entity.kind),
            entity.source_id,
            config.version.label(),
            problems.join(" ")
        )));
    }
    if entity.kind == EntityKind::LineItem
        && config.version == Version::V1p2
        && !has(fields, "school")
    {
        let class = fields
            .get("class")
            .and_then(|c| c.get("sourcedId"))
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        let school = school_of(env, config, &class, schools)?;
        let guid = serde_json::json!({
            "href": href(config, "org", &school),
            "sourcedId": school,
            "type": "org",
        });
        fields.insert("school".into(), guid);
    }
    Ok(())
}

fn thing(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::LineItem => "line item",
        EntityKind::Result => "result",
        _ => "record",
    }
}

/// The school of a class: kept from an earlier look-up, else read from the
/// SIS and kept.
fn school_of(
    env: &mut dyn Env,
    config: &Config,
    class: &str,
    schools: &mut Schools,
) -> Result<String, Failed> {
    if let Some(known) = schools.known.get(class) {
        return known.clone();
    }
    let key = format!("{CLASS_SCHOOL_KEY}{class}");
    let stored = env
        .storage_get(&key)
        .and_then(|v| String::from_utf8(v).ok())
        .filter(|s| !s.trim().is_empty());
    let school = match stored {
        Some(school) => Ok(school),
        None => {
            let read = read_school(env, config, class);
            if let Ok(school) = &read
                && let Err(why) = env.storage_set(&key, school.as_bytes())
                && !schools.warned
            {
                schools.warned = true;
                env.warn(&format!(
                    "the school of class `{class}` could not be kept in the plugin's storage ({why}); it is read from the SIS again at the next export"
                ));
            }
            read
        }
    };
    schools.known.insert(class.to_string(), school.clone());
    school
}

/// `GET classes/{sourcedId}` → `class.school.sourcedId`.
fn read_school(env: &mut dyn Env, config: &Config, class: &str) -> Result<String, Failed> {
    let resource = format!("classes/{class}");
    let url = format!(
        "{}/classes/{}",
        config.base(Service::Rostering),
        fetch::encode(class)
    );
    let purpose = Purpose {
        resource: &resource,
        service: Service::Rostering,
        method: Method::Get,
        offset: None,
    };
    let need = "OneRoster 1.2 requires the school on a line item, and it is taken from the line item's class";
    let response = fetch::send(env, config, &purpose, &url, None).map_err(|e| match failed(e) {
        Failed::Later(m) => Failed::Later(format!("{m} ({need})")),
        Failed::Refused(m) => Failed::Refused(format!("{m} ({need})")),
    })?;
    match response.status {
        200..=299 => {}
        404 | 410 => {
            let said = fetch::server_says(&response.body)
                .map(|s| format!("; the server says: {s}"))
                .unwrap_or_default();
            return Err(Failed::Refused(format!(
                "the line item's class `{class}` is not in the SIS (HTTP {} on {url}{said}); {need}. The class may have been removed from the SIS: the line item goes once its class is there",
                response.status
            )));
        }
        status => {
            let why = fetch::status_error(config, &purpose, &url, &response)
                .message()
                .to_string();
            let why = format!("{why} ({need})");
            return Err(if status == 429 || status >= 500 {
                Failed::Later(why)
            } else {
                Failed::Refused(why)
            });
        }
    }
    let json: Json = serde_json::from_slice(&response.body).map_err(|e| {
        Failed::Later(format!(
            "the answer of {url} (reading `{resource}`) is not valid JSON ({e}); {need}, tried again at the next export"
        ))
    })?;
    json.get("class")
        .and_then(|c| c.get("school"))
        .and_then(|s| s.get("sourcedId"))
        .and_then(Json::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            Failed::Refused(format!(
                "the SIS's class `{class}` has no school ({url} gave none); {need}: ask the SIS administrator to give the class its school"
            ))
        })
}

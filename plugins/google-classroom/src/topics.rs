//! Categories out as topics of a course.
//!
//! A Classroom topic belongs to one course, and a OneRoster category in
//! general to none (it is a gradebook category of the district), so only
//! a category with a `class` reference becomes a topic, in that class's
//! course; any other is rejected with why. Target id
//! `<courseId>:<topicId>`.
//!
//! Topic names are unique in a course: an add answered 409 (a topic of
//! that name is there, from an earlier attempt or made by a teacher) is
//! applied under that topic's id, found by name. Renames patch the name
//! (`updateMask=name`); a category that goes deletes its topic (404: gone
//! already). Calls go in batch requests.

use std::collections::HashMap;

use homeroom_sdk::{Action, EntityKind, ExportChange};
use serde_json::{Value as Json, json};

use crate::batch;
use crate::client::{self, Call, seg};
use crate::config::Config;
use crate::courses::next_token;
use crate::env::Env;
use crate::errors::Failure;
use crate::members::{Ref, target_of};

/// The topics of each course read in this batch, (id, name), or why not.
type TopicsByCourse = HashMap<String, Result<Vec<(String, String)>, Failure>>;

/// A topic, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub course: String,
    pub id: String,
}

impl Topic {
    /// `<courseId>:<topicId>`.
    pub fn target(&self) -> String {
        format!("{}:{}", self.course, self.id)
    }

    pub fn from_target(target: &str) -> Option<Topic> {
        let (course, id) = target.split_once(':')?;
        (!course.is_empty() && !id.is_empty()).then(|| Topic {
            course: course.to_string(),
            id: id.to_string(),
        })
    }

    fn path(&self) -> String {
        format!("/v1/courses/{}/topics/{}", seg(&self.course), seg(&self.id))
    }
}

/// A name as Classroom keeps it: trimmed, inner whitespace collapsed.
pub fn topic_name(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The call one change needs.
enum Step {
    Done(Result<String, Failure>),
    Create { course: String, name: String },
    Rename { topic: Topic, name: String },
    Delete(Topic),
}

fn course_of(change: &ExportChange) -> Result<String, Failure> {
    let id = &change.entity.source_id;
    match target_of(change, "class", EntityKind::Class) {
        Ref::Exported(course) => Ok(course),
        Ref::NotYet(class) => Err(Failure::Later(format!(
            "the class has not reached Classroom yet (class {class} of category {id}); the topic goes once it has"
        ))),
        Ref::Missing => Err(Failure::Refused(format!(
            "category {id} belongs to no class, and a Classroom topic belongs to one class (course): only categories with a class are sent as topics"
        ))),
    }
}

fn step(change: &ExportChange) -> Step {
    let old = change.target_id.as_deref().and_then(Topic::from_target);
    let name = topic_name(change.entity.text("title").unwrap_or(""));
    match change.action {
        Action::Delete => match old {
            Some(topic) => Step::Delete(topic),
            None => Step::Done(Ok(change
                .target_id
                .clone()
                .unwrap_or_else(|| change.entity.source_id.clone()))),
        },
        _ if name.is_empty() => Step::Done(Err(Failure::Refused(format!(
            "category {} has no title, and a Classroom topic needs a name",
            change.entity.source_id
        )))),
        Action::Update if old.is_some() => match (old, course_of(change)) {
            // Its class moved to another course: a topic cannot move.
            (Some(topic), Ok(course)) if topic.course != course => Step::Create { course, name },
            (Some(topic), _) => Step::Rename { topic, name },
            (None, _) => unreachable!("matched on old being some"),
        },
        Action::Add | Action::Update => match course_of(change) {
            Ok(course) => Step::Create { course, name },
            Err(f) => Step::Done(Err(f)),
        },
    }
}

/// Export one batch of category changes; one result per change, in order.
pub fn export(
    env: &mut dyn Env,
    config: &Config,
    changes: &[ExportChange],
) -> Vec<Result<String, Failure>> {
    let steps: Vec<Step> = changes.iter().map(step).collect();
    let mut calls = Vec::new();
    for s in &steps {
        let call = match s {
            Step::Done(_) => continue,
            Step::Create { course, name } => Call::post(
                format!("/v1/courses/{}/topics", seg(course)),
                json!({"name": name}),
            ),
            Step::Rename { topic, name } => Call::patch(
                format!("{}?updateMask=name", topic.path()),
                json!({"name": name}),
            ),
            Step::Delete(topic) => Call::delete(topic.path()),
        };
        calls.push(call);
    }
    let mut replies = batch::run(env, config, &calls, "writing topics").into_iter();
    let mut by_course = TopicsByCourse::new();
    let mut results = Vec::with_capacity(steps.len());
    // The replies are in the order of the steps that sent a call.
    for s in steps {
        if let Step::Done(r) = s {
            results.push(r);
            continue;
        }
        let reply = replies
            .next()
            .unwrap_or_else(|| Err(Failure::Later("the topic was not sent".into())));
        let result = match (s, reply) {
            (_, Err(f)) => Err(f),
            (Step::Create { course, name }, Ok(r)) => {
                let doing = format!("creating the topic `{name}` in course {course}");
                match r.status {
                    200..=299 => match r.text("topicId") {
                        Some(id) => Ok(Topic { course, id }.target()),
                        None => Err(Failure::Later(format!(
                            "Classroom answered {doing} without the topic's id"
                        ))),
                    },
                    409 => find_by_name(env, config, &mut by_course, &course, &name, &doing),
                    _ => Err(r.error().failure(&doing)),
                }
            }
            (Step::Rename { topic, name }, Ok(r)) => {
                let doing = format!("renaming the topic {} to `{name}`", topic.target());
                match r.status {
                    200..=299 => Ok(topic.target()),
                    404 => Err(Failure::Refused(format!(
                        "the topic {} is no longer in Classroom (deleted there): {}",
                        topic.target(),
                        r.error().brief()
                    ))),
                    _ => Err(r.error().failure(&doing)),
                }
            }
            (Step::Delete(topic), Ok(r)) => {
                let doing = format!("deleting the topic {}", topic.target());
                if r.ok() || r.status == 404 {
                    Ok(topic.target())
                } else {
                    Err(r.error().failure(&doing))
                }
            }
            (Step::Done(_), Ok(_)) => unreachable!("done steps send nothing"),
        };
        results.push(result);
    }
    results
}

/// The topic of a name in a course (its topics read once per batch).
fn find_by_name(
    env: &mut dyn Env,
    config: &Config,
    by_course: &mut TopicsByCourse,
    course: &str,
    name: &str,
    doing: &str,
) -> Result<String, Failure> {
    let topics = by_course
        .entry(course.to_string())
        .or_insert_with(|| list(env, config, course))
        .clone()?;
    topics
        .iter()
        .find(|(_, n)| topic_name(n) == name)
        .map(|(id, _)| {
            Topic {
                course: course.to_string(),
                id: id.clone(),
            }
            .target()
        })
        .ok_or_else(|| {
            Failure::Later(format!(
                "Classroom answered {doing} that the topic exists, but course {course} lists no topic of that name"
            ))
        })
}

/// Every topic of a course, (id, name).
fn list(
    env: &mut dyn Env,
    config: &Config,
    course: &str,
) -> Result<Vec<(String, String)>, Failure> {
    let doing = format!("listing the topics of course {course}");
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..100 {
        let mut path = format!("/v1/courses/{}/topics?pageSize=100", seg(course));
        if let Some(t) = &token {
            path.push_str(&format!("&pageToken={}", client::query(t)));
        }
        let page = client::get_json(env, config, &path, &doing)?;
        for t in page
            .get("topic")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let text = |k: &str| t.get(k).and_then(Json::as_str).map(str::to_string);
            if let (Some(id), Some(name)) = (text("topicId"), text("name")) {
                out.push((id, name));
            }
        }
        token = next_token(&page);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

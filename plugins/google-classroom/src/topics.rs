//! Categories out as topics, and the topic lists of courses.
//!
//! A Classroom topic belongs to one course; a category is one of two kinds:
//!
//! - **Class-scoped**: a category with a `class` reference becomes a topic
//!   in that class's course. Target id `<courseId>:<topicId>`. An add
//!   answered 409 (topic names are unique in a course: a topic of that
//!   name is there, from an earlier attempt or made by a teacher) is
//!   applied under that topic's id, found by name. Renames patch the name
//!   (`updateMask=name`); a category that goes deletes its topic (404:
//!   gone already).
//! - **District-wide**: a category without a `class` (what a OneRoster 1.2
//!   SIS sends: the district's gradebook categories) becomes a topic of
//!   its title in every course this connector made (the owner's active or
//!   provisioned courses carrying a `d:homeroom-` alias; an archived course
//!   takes no new topic). Target id `topic:<title>` ([`district_target`],
//!   the title as Classroom keeps it, [`topic_name`]); Classroom's course
//!   ids are numbers, so it never reads as `<courseId>:<topicId>`. The
//!   topics of those courses are listed first, then a topic is created
//!   where its name is missing (409 taken as there), renamed where the old
//!   name is (`FAILED_PRECONDITION`: the new name is there already), and
//!   deleted where it is (404: gone), so an export repeated after a kill
//!   makes nothing twice. A course that refuses (topic limit, a teacher's
//!   topic only its maker may rename) is warned about and the category
//!   still applied, unless every course refused; a throttled or failing
//!   call makes the change a retry. Two categories of the same title share
//!   the topics: the one that goes or is renamed leaves them to the other.
//!
//! The district-wide categories are kept in plugin storage under
//! [`DISTRICT_KEY`] (JSON, category id to title), written before any call,
//! so that a course created later gets their topics
//! ([`add_district_topics`], called by the courses module) and the read
//! side can name a coursework's category by its topic's name. Courses where
//! that could not be done for now (throttled, Classroom failing) are kept
//! under [`PENDING_KEY`] and tried again at the next export of classes or
//! categories. A category that turns from district-wide to class-scoped
//! (or back) leaves the topics it had where they are.
//!
//! Every call goes in batch requests, topic lists too ([`list_many`]).

use std::collections::{BTreeMap, HashMap};

use homeroom_sdk::{Action, EntityKind, ExportChange};
use serde_json::{Value as Json, json};

use crate::batch;
use crate::client::{self, Call, Reply, seg};
use crate::config::Config;
use crate::courses::{self, ListError, next_token};
use crate::env::Env;
use crate::errors::Failure;
use crate::members::{Ref, target_of};

/// Storage key of the district-wide categories: a JSON object, category
/// (source) id to topic name.
pub const DISTRICT_KEY: &str = "topics:district";

/// Storage key of the courses still to get the district-wide topics: one
/// course id a line.
pub const PENDING_KEY: &str = "topics:pending";

/// What the target id of a district-wide category starts with.
pub const DISTRICT_PREFIX: &str = "topic:";

/// Classroom's longest topic name, in characters.
pub const MAX_NAME: usize = 100;

/// Most list pages of one course's topics read.
const MAX_TOPIC_PAGES: usize = 100;

/// The district-wide categories: id to topic name.
pub type District = BTreeMap<String, String>;

/// The topics of a course: (topic id, name as Classroom answered it).
pub type TopicList = Vec<(String, String)>;

/// The topics of each course listed, or why not.
pub type TopicsByCourse = HashMap<String, Result<TopicList, ListError>>;

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

    /// The topic of a class-scoped category's target id; none for a
    /// district-wide one (`topic:<title>`).
    pub fn from_target(target: &str) -> Option<Topic> {
        if district_title(target).is_some() {
            return None;
        }
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

/// The target id of a district-wide category: `topic:<name>`.
pub fn district_target(name: &str) -> String {
    format!("{DISTRICT_PREFIX}{name}")
}

/// The topic name of a district-wide target id.
pub fn district_title(target: &str) -> Option<&str> {
    target
        .strip_prefix(DISTRICT_PREFIX)
        .filter(|t| !t.is_empty())
}

/// A name as Classroom keeps it: trimmed, inner whitespace collapsed.
pub fn topic_name(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The district-wide categories kept in storage (none when nothing, or
/// nothing readable, is kept).
pub fn load_district(env: &dyn Env) -> District {
    let Some(bytes) = env.storage_get(DISTRICT_KEY) else {
        return District::new();
    };
    match serde_json::from_slice::<Json>(&bytes) {
        Ok(Json::Object(map)) => map
            .into_iter()
            .filter_map(|(id, t)| t.as_str().map(|t| (id, t.to_string())))
            .filter(|(_, t)| !t.is_empty())
            .collect(),
        _ => District::new(),
    }
}

fn save_district(env: &mut dyn Env, district: &District) -> Result<(), String> {
    let json = Json::Object(
        district
            .iter()
            .map(|(id, t)| (id.clone(), json!(t)))
            .collect(),
    );
    env.storage_set(DISTRICT_KEY, json.to_string().as_bytes())
}

fn load_pending(env: &dyn Env) -> Vec<String> {
    env.storage_get(PENDING_KEY)
        .and_then(|v| String::from_utf8(v).ok())
        .map(|text| {
            text.lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The distinct topic names of the district-wide categories, in order.
fn district_names(district: &District) -> Vec<String> {
    let mut names: Vec<String> = district.values().cloned().collect();
    names.sort();
    names.dedup();
    names
}

/// The call one change needs.
enum Step {
    Done(Result<String, Failure>),
    Create {
        course: String,
        name: String,
    },
    Rename {
        topic: Topic,
        name: String,
    },
    Delete(Topic),
    /// A district-wide category: a topic `name` in every hub course, made
    /// from the topic `old` where it had that name before (a rename).
    Spread {
        name: String,
        old: Option<String>,
    },
    /// A district-wide category that goes: its topic leaves every course.
    Withdraw {
        name: String,
        target: String,
    },
}

fn course_of(change: &ExportChange) -> Result<String, Failure> {
    let id = &change.entity.source_id;
    match target_of(change, "class", EntityKind::Class) {
        Ref::Exported(course) => Ok(course),
        Ref::NotYet(class) => Err(Failure::Later(format!(
            "the class has not reached Classroom yet (class {class} of category {id}); the topic goes once it has"
        ))),
        Ref::Missing => Err(Failure::Refused(format!("category {id} names no class"))),
    }
}

fn has_class(change: &ExportChange) -> bool {
    !matches!(target_of(change, "class", EntityKind::Class), Ref::Missing)
}

/// The topic name a district-wide category had: from its target id, else
/// as kept in storage.
fn district_name_of(change: &ExportChange, district: &District) -> Option<String> {
    change
        .target_id
        .as_deref()
        .and_then(district_title)
        .map(str::to_string)
        .or_else(|| district.get(&change.entity.source_id).cloned())
}

fn step(change: &ExportChange, district: &District) -> Step {
    let source = &change.entity.source_id;
    let old = change.target_id.as_deref().and_then(Topic::from_target);
    let was_district = district_name_of(change, district);
    let name = topic_name(change.entity.text("title").unwrap_or(""));
    match change.action {
        Action::Delete => match (was_district, old) {
            (Some(name), _) => Step::Withdraw {
                target: change
                    .target_id
                    .clone()
                    .unwrap_or_else(|| district_target(&name)),
                name,
            },
            (None, Some(topic)) => Step::Delete(topic),
            (None, None) => Step::Done(Ok(change
                .target_id
                .clone()
                .unwrap_or_else(|| source.clone()))),
        },
        _ if name.is_empty() => Step::Done(Err(Failure::Refused(format!(
            "category {source} has no title, and a Classroom topic needs a name"
        )))),
        _ if name.chars().count() > MAX_NAME => Step::Done(Err(Failure::Refused(format!(
            "category {source} has a title of {} characters, and a Classroom topic name is at most {MAX_NAME}: shorten the title in the source system",
            name.chars().count()
        )))),
        _ if !has_class(change) => Step::Spread {
            old: was_district.filter(|o| *o != name),
            name,
        },
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
    // Courses that missed the district-wide topics at an earlier export.
    add_district_topics(env, config, &[]);

    let before = load_district(env);
    let mut steps: Vec<Step> = changes.iter().map(|c| step(c, &before)).collect();

    // Keep the district-wide categories as they are now before any call.
    let mut district = before.clone();
    for (change, s) in changes.iter().zip(&steps) {
        let id = change.entity.source_id.clone();
        match s {
            Step::Spread { name, .. } => {
                district.insert(id, name.clone());
            }
            Step::Withdraw { .. } => {
                district.remove(&id);
            }
            // A category with a class is no longer district-wide.
            _ if change.action != Action::Delete && has_class(change) => {
                district.remove(&id);
            }
            _ => {}
        }
    }
    if district != before
        && let Err(why) = save_district(env, &district)
    {
        for s in &mut steps {
            if matches!(s, Step::Spread { .. } | Step::Withdraw { .. }) {
                *s = Step::Done(Err(Failure::Later(format!(
                    "the list of district-wide categories could not be kept in plugin storage ({why})"
                ))));
            }
        }
    }
    // A name another district-wide category still has stays everywhere.
    for s in &mut steps {
        let shared = |n: &str| district.values().any(|t| t == n);
        match s {
            Step::Withdraw { name, target } if shared(name) => {
                *s = Step::Done(Ok(target.clone()));
            }
            Step::Spread { old, .. } if old.as_deref().is_some_and(shared) => *old = None,
            _ => {}
        }
    }

    let mut results: Vec<Option<Result<String, Failure>>> = steps
        .iter()
        .map(|s| match s {
            Step::Done(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    export_scoped(env, config, &steps, &mut results);
    export_district(env, config, changes, &steps, &mut results);
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Failure::Later("the topic was not sent".into()))))
        .collect()
}

/// The class-scoped steps: one call each, in batch requests.
fn export_scoped(
    env: &mut dyn Env,
    config: &Config,
    steps: &[Step],
    results: &mut [Option<Result<String, Failure>>],
) {
    let mut sent: Vec<usize> = Vec::new();
    let mut calls = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let call = match s {
            Step::Create { course, name } => Call::post(
                format!("/v1/courses/{}/topics", seg(course)),
                json!({"name": name}),
            ),
            Step::Rename { topic, name } => Call::patch(
                format!("{}?updateMask=name", topic.path()),
                json!({"name": name}),
            ),
            Step::Delete(topic) => Call::delete(topic.path()),
            _ => continue,
        };
        sent.push(i);
        calls.push(call);
    }
    if calls.is_empty() {
        return;
    }
    let replies = batch::run(env, config, &calls, "writing topics");
    // Adds answered 409: found by name, once the courses are listed.
    let mut conflicts: Vec<(usize, String)> = Vec::new();
    for (&i, reply) in sent.iter().zip(replies) {
        let result = match (&steps[i], reply) {
            (_, Err(f)) => Err(f),
            (Step::Create { course, name }, Ok(r)) => {
                let doing = format!("creating the topic `{name}` in course {course}");
                match r.status {
                    200..=299 => match r.text("topicId") {
                        Some(id) => Ok(Topic {
                            course: course.clone(),
                            id,
                        }
                        .target()),
                        None => Err(Failure::Later(format!(
                            "Classroom answered {doing} without the topic's id"
                        ))),
                    },
                    409 => {
                        conflicts.push((i, course.clone()));
                        continue;
                    }
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
            (_, Ok(_)) => continue,
        };
        results[i] = Some(result);
    }
    if conflicts.is_empty() {
        return;
    }
    let courses: Vec<String> = conflicts.iter().map(|(_, c)| c.clone()).collect();
    let listed = list_many(env, config, &courses);
    for (i, course) in conflicts {
        let Step::Create { name, .. } = &steps[i] else {
            continue;
        };
        let doing = format!("creating the topic `{name}` in course {course}");
        let found = match listed.get(&course) {
            Some(Ok(topics)) => topics
                .iter()
                .find(|(_, n)| topic_name(n) == *name)
                .map(|(id, _)| {
                    Ok(Topic {
                        course: course.clone(),
                        id: id.clone(),
                    }
                    .target())
                })
                .unwrap_or_else(|| {
                    Err(Failure::Later(format!(
                        "Classroom answered {doing} that the topic exists, but course {course} lists no topic of that name"
                    )))
                }),
            Some(Err(e)) => Err(e.clone().failure()),
            None => Err(Failure::Later(format!(
                "the topics of course {course} were not listed"
            ))),
        };
        results[i] = Some(found);
    }
}

/// What one call of a district-wide category does in one course.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Rename,
    Delete,
}

/// What came of a district-wide category in one course.
enum Said {
    Done,
    /// This course refuses it (for good): a warning.
    Refused(String),
    /// Not now: the change is a retry.
    Failed(Failure),
}

fn judge(op: Op, reply: Result<Reply, Failure>, doing: &str) -> Said {
    let r = match reply {
        Ok(r) => r,
        Err(f) => return Said::Failed(f),
    };
    let error = r.error();
    let done = match op {
        // 409: a topic of that name is there. 404: the course is gone.
        Op::Create => r.ok() || r.status == 409 || r.status == 404,
        // The new name is there already.
        Op::Rename => {
            r.ok()
                || r.status == 409
                || (error.status == "FAILED_PRECONDITION"
                    && !error.message.contains("CourseNotModifiable"))
        }
        // Gone already.
        Op::Delete => r.ok() || r.status == 404 || error.status == "FAILED_PRECONDITION",
    };
    if done {
        return Said::Done;
    }
    if op == Op::Rename && r.status == 404 {
        return Said::Failed(Failure::Later(format!(
            "the topic was deleted in Classroom while {doing}; it is made again at the next export"
        )));
    }
    match error.failure(doing) {
        Failure::Refused(m) => Said::Refused(m),
        f => Said::Failed(f),
    }
}

/// The district-wide steps: the topics of every hub course listed, then
/// the calls each category needs there, in batch requests.
fn export_district(
    env: &mut dyn Env,
    config: &Config,
    changes: &[ExportChange],
    steps: &[Step],
    results: &mut [Option<Result<String, Failure>>],
) {
    let wanted: Vec<usize> = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s, Step::Spread { .. } | Step::Withdraw { .. }))
        .map(|(i, _)| i)
        .collect();
    if wanted.is_empty() {
        return;
    }
    let hub = match courses::hub_courses(env, config, &["ACTIVE", "PROVISIONED"]) {
        Ok(hub) => hub,
        Err(e) => {
            let f = match e {
                ListError::Answered { error, .. } if error.code == 404 => {
                    Failure::Config(courses::unknown_owner(config, &error))
                }
                e => e.failure(),
            };
            for i in wanted {
                results[i] = Some(Err(f.clone()));
            }
            return;
        }
    };
    let mut listed = list_many(env, config, &hub);

    // What each change said in each course.
    let mut said: Vec<Vec<(String, Said)>> = steps.iter().map(|_| Vec::new()).collect();
    let mut calls: Vec<Call> = Vec::new();
    let mut sent: Vec<(usize, String, Op, String)> = Vec::new();
    for &i in &wanted {
        for course in &hub {
            let topics = match listed.get_mut(course) {
                Some(Ok(topics)) => topics,
                // Deleted in Classroom since it was listed.
                Some(Err(ListError::Answered { error, .. })) if error.code == 404 => continue,
                Some(Err(e)) => {
                    let f = e.clone().failure();
                    let s = match f {
                        Failure::Refused(m) => Said::Refused(m),
                        f => Said::Failed(f),
                    };
                    said[i].push((course.clone(), s));
                    continue;
                }
                None => continue,
            };
            // Where a topic of the name is; `made`: one planned by this
            // batch counts (it has no id yet, so it is not renamed or
            // deleted).
            let has = |topics: &TopicList, name: &str, made: bool| {
                topics
                    .iter()
                    .position(|(id, n)| topic_name(n) == name && (made || !id.is_empty()))
            };
            let topics_path = format!("/v1/courses/{}/topics", seg(course));
            let (op, call, doing) = match &steps[i] {
                Step::Spread { name, old } => {
                    if has(topics, name, true).is_some() {
                        said[i].push((course.clone(), Said::Done));
                        continue;
                    }
                    match old.as_deref().and_then(|o| has(topics, o, false)) {
                        Some(at) => {
                            let topic = Topic {
                                course: course.clone(),
                                id: topics[at].0.clone(),
                            };
                            let doing = format!(
                                "renaming the topic `{}` of course {course} to `{name}`",
                                topics[at].1
                            );
                            topics[at].1 = name.clone();
                            (
                                Op::Rename,
                                Call::patch(
                                    format!("{}?updateMask=name", topic.path()),
                                    json!({"name": name}),
                                ),
                                doing,
                            )
                        }
                        None => {
                            // Made by this batch: a second category of
                            // the same name sends nothing more.
                            topics.push((String::new(), name.clone()));
                            (
                                Op::Create,
                                Call::post(topics_path, json!({"name": name})),
                                format!("creating the topic `{name}` in course {course}"),
                            )
                        }
                    }
                }
                Step::Withdraw { name, .. } => match has(topics, name, false) {
                    Some(at) => {
                        let (id, _) = topics.remove(at);
                        let topic = Topic {
                            course: course.clone(),
                            id,
                        };
                        (
                            Op::Delete,
                            Call::delete(topic.path()),
                            format!("deleting the topic `{name}` of course {course}"),
                        )
                    }
                    None => {
                        said[i].push((course.clone(), Said::Done));
                        continue;
                    }
                },
                _ => continue,
            };
            calls.push(call);
            sent.push((i, course.clone(), op, doing));
        }
    }
    let replies = batch::run(env, config, &calls, "writing the district-wide topics");
    for ((i, course, op, doing), reply) in sent.into_iter().zip(replies) {
        said[i].push((course, judge(op, reply, &doing)));
    }

    for i in wanted {
        let (name, applied) = match &steps[i] {
            Step::Spread { name, .. } => (name.clone(), district_target(name)),
            Step::Withdraw { name, target } => (name.clone(), target.clone()),
            _ => continue,
        };
        let outcomes = std::mem::take(&mut said[i]);
        let failed = outcomes.iter().find_map(|(_, s)| match s {
            Said::Failed(f) => Some(f.clone()),
            _ => None,
        });
        let refused: Vec<(&String, &String)> = outcomes
            .iter()
            .filter_map(|(c, s)| match s {
                Said::Refused(m) => Some((c, m)),
                _ => None,
            })
            .collect();
        let done = outcomes
            .iter()
            .filter(|(_, s)| matches!(s, Said::Done))
            .count();
        let id = &changes[i].entity.source_id;
        results[i] = Some(if let Some(f) = failed {
            Err(f)
        } else if let Some((_, first)) = refused.first() {
            if done == 0 && matches!(steps[i], Step::Spread { .. }) {
                Err(Failure::Refused(format!(
                    "no course took the topic `{name}` of category {id}: {first}"
                )))
            } else {
                let courses: Vec<&str> = refused.iter().map(|(c, _)| c.as_str()).collect();
                env.warn(&format!(
                    "the topic `{name}` of category {id} could not be {} in {} course(s) ({}): {first}",
                    if matches!(steps[i], Step::Spread { .. }) {
                        "made or renamed"
                    } else {
                        "deleted"
                    },
                    courses.len(),
                    courses.join(", ")
                ));
                Ok(applied)
            }
        } else {
            Ok(applied)
        });
    }
}

/// Give courses the topics of the stored district-wide categories: the
/// courses `made` now (by the courses module), and those where this could
/// not be done before ([`PENDING_KEY`]). Nothing here fails a course: what
/// fails is warned about, and a course where it may work later (throttled,
/// Classroom failing) is kept to try again at the next export of classes
/// or categories. A topic of the name already there (409) is that topic.
pub fn add_district_topics(env: &mut dyn Env, config: &Config, made: &[String]) {
    let pending = load_pending(env);
    let mut courses = pending.clone();
    for c in made {
        if !courses.contains(c) {
            courses.push(c.clone());
        }
    }
    if courses.is_empty() {
        return;
    }
    let names = district_names(&load_district(env));
    let mut calls = Vec::new();
    let mut sent: Vec<(&String, &String)> = Vec::new();
    for course in &courses {
        for name in &names {
            calls.push(Call::post(
                format!("/v1/courses/{}/topics", seg(course)),
                json!({"name": name}),
            ));
            sent.push((course, name));
        }
    }
    let replies = batch::run(env, config, &calls, "adding the district-wide topics");
    let mut again: Vec<String> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for ((course, name), reply) in sent.into_iter().zip(replies) {
        let doing = format!("creating the topic `{name}` in course {course}");
        match judge(Op::Create, reply, &doing) {
            Said::Done => {}
            Said::Refused(m) => problems.push(m),
            Said::Failed(f) => {
                if !again.contains(course) {
                    again.push(course.clone());
                }
                problems.push(f.message().to_string());
            }
        }
    }
    if again != pending {
        let kept = env.storage_set(PENDING_KEY, again.join("\n").as_bytes());
        if let Err(why) = kept
            && !again.is_empty()
        {
            problems.push(format!(
                "the courses to try again could not be kept ({why})"
            ));
        }
    }
    if let Some(first) = problems.first() {
        let more = match problems.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        let later = if again.is_empty() {
            String::new()
        } else {
            format!(
                "; {} course(s) get them at the next export of classes or categories",
                again.len()
            )
        };
        env.warn(&format!(
            "district-wide topics could not all be added to courses: {first}{more}{later}"
        ));
    }
}

/// Every topic of each course, page by page, the first pages of all
/// courses in batch requests, then the next pages of those that have more.
pub fn list_many(env: &mut dyn Env, config: &Config, courses: &[String]) -> TopicsByCourse {
    let mut out = TopicsByCourse::new();
    let mut got: HashMap<String, TopicList> = HashMap::new();
    let mut pending: Vec<(String, Option<String>)> = Vec::new();
    for c in courses {
        if !pending.iter().any(|(p, _)| p == c) {
            pending.push((c.clone(), None));
        }
    }
    for _ in 0..MAX_TOPIC_PAGES {
        if pending.is_empty() {
            break;
        }
        let calls: Vec<Call> = pending
            .iter()
            .map(|(course, token)| {
                let mut path = format!("/v1/courses/{}/topics?pageSize=100", seg(course));
                if let Some(t) = token {
                    path.push_str(&format!("&pageToken={}", client::query(t)));
                }
                Call::get(path)
            })
            .collect();
        let replies = batch::run(env, config, &calls, "listing the topics of courses");
        let mut next = Vec::new();
        for ((course, _), reply) in pending.into_iter().zip(replies) {
            let doing = format!("listing the topics of course {course}");
            let reply = match reply {
                Ok(r) if r.ok() => r,
                Ok(r) => {
                    got.remove(&course);
                    out.insert(
                        course,
                        Err(ListError::Answered {
                            error: r.error(),
                            doing,
                        }),
                    );
                    continue;
                }
                Err(f) => {
                    got.remove(&course);
                    out.insert(course, Err(ListError::Sent(f)));
                    continue;
                }
            };
            let page = reply.json();
            let list = got.entry(course.clone()).or_default();
            for t in page
                .get("topic")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                let text = |k: &str| t.get(k).and_then(Json::as_str).map(str::to_string);
                if let (Some(id), Some(name)) = (text("topicId"), text("name")) {
                    list.push((id, name));
                }
            }
            match next_token(&page) {
                Some(token) => next.push((course, Some(token))),
                None => {
                    let list = got.remove(&course).unwrap_or_default();
                    out.insert(course, Ok(list));
                }
            }
        }
        pending = next;
    }
    // Past the most pages: what was read.
    for (course, _) in pending {
        let list = got.remove(&course).unwrap_or_default();
        out.insert(course, Ok(list));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_target_forms_never_meet() {
        let t = Topic {
            course: "123".into(),
            id: "456".into(),
        };
        assert_eq!(Topic::from_target(&t.target()), Some(t));
        assert_eq!(district_target("Homework"), "topic:Homework");
        assert_eq!(district_title("topic:Home: work"), Some("Home: work"));
        assert_eq!(Topic::from_target("topic:Homework"), None);
        assert_eq!(district_title("123:456"), None);
        assert_eq!(district_title("topic:"), None);
    }
}

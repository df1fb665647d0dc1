//! The connector against a fake Classroom behind [`Env`], natively: the
//! fake answers direct calls and batch requests (`tests/fake.rs`).

mod fake;

use homeroom_sdk::{
    Action, Entity, EntityKind, ExportChange, ExportOutcome, PluginError, TargetRef, Value,
};
use serde_json::json;

use crate::batch::{self, PART_RETRIES};
use crate::client::Call;
use crate::config::Config;
use crate::courses::alias_for;
use crate::read;
use fake::{Fake, ME};

fn config(env: &Fake) -> Config {
    Config::from_env(env).expect("config")
}

fn export(env: &mut Fake, changes: Vec<ExportChange>) -> Vec<String> {
    let config = config(env);
    let outcomes = crate::export(env, &config, &changes).expect("export");
    assert_eq!(outcomes.len(), changes.len(), "one outcome per change");
    outcomes.iter().map(show).collect()
}

fn show(o: &ExportOutcome) -> String {
    match o {
        ExportOutcome::Applied(id) => format!("applied {id}"),
        ExportOutcome::Rejected(why) => format!("rejected {why}"),
        ExportOutcome::Retry(why) => format!("retry {why}"),
    }
}

fn change(
    action: Action,
    entity: Entity,
    target: Option<&str>,
    refs: &[(EntityKind, &str, &str)],
) -> ExportChange {
    ExportChange {
        action,
        entity,
        target_id: target.map(str::to_string),
        target_refs: refs
            .iter()
            .map(|(kind, source, target)| TargetRef {
                kind: *kind,
                source_id: source.to_string(),
                target_id: target.to_string(),
            })
            .collect(),
    }
}

fn class(id: &str, title: &str, code: &str) -> Entity {
    Entity::new(EntityKind::Class, id)
        .with_text("title", title)
        .with_text("classCode", code)
}

fn enrollment(id: &str, class: &str, user: &str, role: &str) -> Entity {
    Entity::new(EntityKind::Enrollment, id)
        .with_ref("class", EntityKind::Class, class)
        .with_ref("user", EntityKind::User, user)
        .with_text("role", role)
}

/// An enrollment add whose class and user reached Classroom.
fn enroll(n: usize, course: &str, email: &str, role: &str) -> ExportChange {
    change(
        Action::Add,
        enrollment(&format!("e{n}"), "c1", &format!("u{n}"), role),
        None,
        &[
            (EntityKind::Class, "c1", course),
            (EntityKind::User, &format!("u{n}"), email),
        ],
    )
}

// --- courses -----------------------------------------------------------

#[test]
fn a_class_is_created_as_a_course_with_its_alias() {
    let mut env = Fake::new();
    let out = export(
        &mut env,
        vec![change(
            Action::Add,
            class("c 1", "Algebra I", "ALG-1"),
            None,
            &[],
        )],
    );
    let course = env
        .course("d:homeroom-c_201")
        .expect("the course by its alias");
    assert_eq!(out, vec![format!("applied {}", course.id)]);
    assert_eq!(
        (
            course.name.as_str(),
            course.section.as_str(),
            course.state.as_str(),
            course.owner.as_str()
        ),
        ("Algebra I", "ALG-1", "ACTIVE", ME)
    );
    assert_eq!(env.count("POST", "/v1/courses"), 1);
}

#[test]
fn an_add_answered_409_is_the_course_an_earlier_attempt_made() {
    let mut env = Fake::new();
    // The earlier attempt created it, then the host was killed; the class
    // has been renamed since, so nothing matches by name.
    let id = env.add_course("Old name", "", "2024-08-20T00:00:00Z");
    env.courses[0].aliases.push(alias_for("c1"));
    let out = export(
        &mut env,
        vec![change(Action::Add, class("c1", "Algebra I", ""), None, &[])],
    );
    assert_eq!(out, vec![format!("applied {id}")]);
    assert_eq!(env.courses.len(), 1, "no second course");
    assert_eq!(env.count("POST", "/v1/courses"), 1);
    assert_eq!(env.count("GET", "/v1/courses/d:homeroom-c1"), 1);
}

#[test]
fn an_add_takes_the_owners_course_of_the_same_name_and_section() {
    let mut env = Fake::new();
    let id = env.add_course("Biology", "B1", "2024-08-25T09:00:00Z");
    let other = env.add_course("Biology", "B2", "2024-08-25T09:00:00Z");
    let class = class("c1", "Biology", "B1")
        .with("startDate", Value::Date("2024-09-01".into()))
        .with("endDate", Value::Date("2025-06-15".into()));
    let out = export(&mut env, vec![change(Action::Add, class, None, &[])]);
    assert_eq!(out, vec![format!("applied {id}")]);
    assert_eq!(env.count("POST", "/v1/courses"), 0, "nothing created");
    assert_eq!(env.course(&id).unwrap().aliases, vec![alias_for("c1")]);
    assert!(env.course(&other).unwrap().aliases.is_empty());

    // A second class of the same name and section does not take the
    // course the first one took: it gets its own.
    let out = export(
        &mut env,
        vec![change(Action::Add, class_b1("c2"), None, &[])],
    );
    let made = env.course(&alias_for("c2")).expect("created").id.clone();
    assert_ne!(made, id);
    assert_eq!(out, vec![format!("applied {made}")]);
}

fn class_b1(id: &str) -> Entity {
    class(id, "Biology", "B1")
}

#[test]
fn a_course_from_outside_the_term_by_more_than_30_days_is_not_taken() {
    let mut env = Fake::new();
    // Last year's course of the same name and section.
    let old = env.add_course("Chemistry", "", "2023-08-25T09:00:00Z");
    env.courses[0].update_time = "2024-06-01T00:00:00Z".into();
    let term = |e: Entity| {
        e.with("startDate", Value::Date("2024-09-01".into()))
            .with("endDate", Value::Date("2025-06-15".into()))
    };
    let out = export(
        &mut env,
        vec![change(
            Action::Add,
            term(class("c1", "Chemistry", "")),
            None,
            &[],
        )],
    );
    let made = env
        .course(&alias_for("c1"))
        .expect("a new course")
        .id
        .clone();
    assert_ne!(made, old);
    assert_eq!(out, vec![format!("applied {made}")]);

    // Within 30 days of the term start (created 2024-08-05, 27 days before).
    let near = env.add_course("Physics", "", "2024-08-05T09:00:00Z");
    let out = export(
        &mut env,
        vec![change(
            Action::Add,
            term(class("c2", "Physics", "")),
            None,
            &[],
        )],
    );
    assert_eq!(out, vec![format!("applied {near}")]);

    // A class without dates takes any course of the name and section.
    let any = env.add_course("History", "", "2019-01-01T00:00:00Z");
    let out = export(
        &mut env,
        vec![change(Action::Add, class("c3", "History", ""), None, &[])],
    );
    assert_eq!(out, vec![format!("applied {any}")]);
}

#[test]
fn an_update_patches_and_a_delete_archives() {
    let mut env = Fake::new();
    let id = env.add_course("Art", "A", "2024-08-25T09:00:00Z");
    let out = export(
        &mut env,
        vec![change(
            Action::Update,
            class("c1", "Art II", "B"),
            Some(&id),
            &[],
        )],
    );
    assert_eq!(out, vec![format!("applied {id}")]);
    let c = env.course(&id).unwrap();
    assert_eq!((c.name.as_str(), c.section.as_str()), ("Art II", "B"));
    assert!(
        env.log
            .iter()
            .any(|l| l.path.ends_with("?updateMask=name,section"))
    );

    let out = export(
        &mut env,
        vec![change(
            Action::Delete,
            class("c1", "Art II", "B"),
            Some(&id),
            &[],
        )],
    );
    assert_eq!(out, vec![format!("applied {id}")]);
    assert_eq!(env.course(&id).unwrap().state, "ARCHIVED");
    assert_eq!(env.courses.len(), 1, "archived, not deleted");

    // Gone already: done.
    let out = export(
        &mut env,
        vec![change(
            Action::Delete,
            class("c9", "X", ""),
            Some("404404"),
            &[],
        )],
    );
    assert_eq!(out, vec!["applied 404404".to_string()]);
}

#[test]
fn a_class_without_a_title_and_an_unknown_owner_say_what_to_fix() {
    let mut env = Fake::new();
    let out = export(
        &mut env,
        vec![
            change(Action::Add, class("c1", "", ""), None, &[]),
            change(Action::Add, class("c2", "Music", ""), None, &[]),
        ],
    );
    assert!(
        out[0].starts_with("rejected class c1 has no title"),
        "{out:?}"
    );
    assert!(out[1].starts_with("applied "), "{out:?}");

    env.set("owner", "nobody@d.org");
    let config = config(&env);
    let err = crate::export(
        &mut env,
        &config,
        &[change(Action::Add, class("c3", "Drama", ""), None, &[])],
    )
    .unwrap_err();
    assert!(
        matches!(&err, PluginError::Config(m) if m.contains("Course owner `nobody@d.org`")),
        "{err:?}"
    );
}

// --- users and members ---------------------------------------------------

#[test]
fn users_are_applied_by_email_or_rejected_without_one() {
    let mut env = Fake::new();
    let out = export(
        &mut env,
        vec![
            change(
                Action::Add,
                Entity::new(EntityKind::User, "u1").with_text("email", " Ada@D.org "),
                None,
                &[],
            ),
            change(Action::Add, Entity::new(EntityKind::User, "u2"), None, &[]),
        ],
    );
    assert_eq!(out[0], "applied ada@d.org");
    assert!(
        out[1].starts_with("rejected user u2 has no email, so Classroom cannot enroll them: "),
        "{out:?}"
    );
    assert!(env.log.is_empty(), "no call for users");
}

#[test]
fn enrollments_become_members_by_email_and_409_is_applied() {
    let mut env = Fake::new();
    let course = env.add_course("Algebra", "", "2024-08-25T09:00:00Z");
    env.add_user("2", "ada@d.org");
    env.add_user("3", "tea@d.org");
    env.add_user("4", "bob@d.org");
    env.courses[0].students.push("bob@d.org".into());
    let c = course.as_str();
    let out = export(
        &mut env,
        vec![
            enroll(1, c, "ada@d.org", "student"),
            enroll(2, c, "tea@d.org", "teacher"),
            enroll(3, c, "bob@d.org", "student"),
            enroll(4, c, "ghost@d.org", "student"),
            change(
                Action::Add,
                enrollment("e5", "c1", "u5", "student"),
                None,
                &[(EntityKind::User, "u5", "x@d.org")],
            ),
            enroll(6, c, "ada@d.org", "aide"),
        ],
    );
    assert_eq!(out[0], format!("applied {c}:student:ada@d.org"));
    assert_eq!(out[1], format!("applied {c}:teacher:tea@d.org"));
    assert_eq!(
        out[2],
        format!("applied {c}:student:bob@d.org"),
        "already there (409)"
    );
    assert!(
        out[3].starts_with("rejected Classroom knows no user ghost@d.org"),
        "{out:?}"
    );
    assert!(
        out[4].starts_with("retry the class has not reached Classroom yet"),
        "{out:?}"
    );
    assert!(out[5].contains("teachers and students only"), "{out:?}");
    let held = env.course(c).unwrap();
    assert_eq!(held.students, vec!["bob@d.org", "ada@d.org"]);
    assert_eq!(held.teachers, vec![ME, "tea@d.org"]);
    assert!(env.log.iter().all(|l| l.batched), "members go in batches");
    assert_eq!(env.batches, vec![4]);

    // A delete removes the member; one already gone is done.
    let gone = |n: usize, target: &str| {
        change(
            Action::Delete,
            enrollment(&format!("e{n}"), "c1", "u", "student"),
            Some(target),
            &[],
        )
    };
    let out = export(
        &mut env,
        vec![
            gone(1, &format!("{c}:student:ada@d.org")),
            gone(2, &format!("{c}:student:ada@d.org")),
        ],
    );
    assert_eq!(out, vec![format!("applied {c}:student:ada@d.org"); 2]);
    assert_eq!(env.course(c).unwrap().students, vec!["bob@d.org"]);
}

#[test]
fn a_role_change_removes_the_old_member_first() {
    let mut env = Fake::new();
    let course = env.add_course("Algebra", "", "2024-08-25T09:00:00Z");
    env.add_user("2", "ada@d.org");
    env.courses[0].students.push("ada@d.org".into());
    let mut c = enroll(1, &course, "ada@d.org", "teacher");
    c.action = Action::Update;
    c.target_id = Some(format!("{course}:student:ada@d.org"));
    let out = export(&mut env, vec![c]);
    assert_eq!(out, vec![format!("applied {course}:teacher:ada@d.org")]);
    let held = env.course(&course).unwrap();
    assert!(held.students.is_empty());
    assert!(held.teachers.contains(&"ada@d.org".to_string()));
}

#[test]
fn more_than_50_member_changes_go_in_batches_of_at_most_50() {
    let mut env = Fake::new();
    let course = env.add_course("Big", "", "2024-08-25T09:00:00Z");
    let changes: Vec<ExportChange> = (0..120)
        .map(|n| {
            let email = format!("s{n}@d.org");
            env.add_user(&format!("s{n}"), &email);
            enroll(n, &course, &email, "student")
        })
        .collect();
    let out = export(&mut env, changes);
    assert!(out.iter().all(|o| o.starts_with("applied ")), "{out:?}");
    assert_eq!(env.batches, vec![50, 50, 20]);
    assert_eq!(env.course(&course).unwrap().students.len(), 120);

    // A smaller batch size is kept.
    env.set("batch_size", "7");
    env.batches.clear();
    let changes = (0..20)
        .map(|n| enroll(n, &course, &format!("s{n}@d.org"), "student"))
        .collect();
    export(&mut env, changes);
    assert_eq!(env.batches, vec![7, 7, 6]);
}

#[test]
fn a_part_answering_429_is_sent_again_and_succeeds() {
    let mut env = Fake::new();
    let course = env.add_course("Algebra", "", "2024-08-25T09:00:00Z");
    env.add_user("2", "ada@d.org");
    env.add_user("3", "bob@d.org");
    let mut left = 2;
    env.fault = Some(Box::new(move |method, path| {
        (method == "POST" && path.ends_with("/students") && left > 0).then(|| {
            left -= 1;
            (429, "RESOURCE_EXHAUSTED")
        })
    }));
    let out = export(
        &mut env,
        vec![
            enroll(1, &course, "ada@d.org", "student"),
            enroll(2, &course, "bob@d.org", "student"),
        ],
    );
    assert_eq!(
        out,
        vec![
            format!("applied {course}:student:ada@d.org"),
            format!("applied {course}:student:bob@d.org"),
        ]
    );
    // Both parts failed once, then both went again in one new batch.
    assert_eq!(env.batches, vec![2, 2]);
}

#[test]
fn a_part_that_keeps_failing_is_answered_retry() {
    let mut env = Fake::new();
    let course = env.add_course("Algebra", "", "2024-08-25T09:00:00Z");
    env.add_user("2", "ada@d.org");
    env.add_user("3", "bob@d.org");
    let mut calls = 0;
    env.fault = Some(Box::new(move |method, path| {
        if method == "POST" && path.ends_with("/students") {
            calls += 1;
            // The first call of each batch is ada's, the second bob's.
            if calls % 2 == 0 || calls > 2 {
                return Some((503, "UNAVAILABLE"));
            }
        }
        None
    }));
    let out = export(
        &mut env,
        vec![
            enroll(1, &course, "ada@d.org", "student"),
            enroll(2, &course, "bob@d.org", "student"),
        ],
    );
    assert_eq!(out[0], format!("applied {course}:student:ada@d.org"));
    assert!(
        out[1].starts_with("retry Classroom failed while adding bob@d.org"),
        "{out:?}"
    );
    assert_eq!(env.batches.len(), 1 + PART_RETRIES, "{:?}", env.batches);
    assert_eq!(env.batches[1..], vec![1; PART_RETRIES][..]);
}

#[test]
fn a_non_admin_invites_and_the_daily_cap_is_a_retry() {
    let mut env = Fake::new();
    env.admin = false;
    env.invitation_cap = 1;
    let course = env.add_course("Algebra", "", "2024-08-25T09:00:00Z");
    env.add_user("2", "ada@d.org");
    env.add_user("3", "bob@d.org");
    let out = export(
        &mut env,
        vec![
            enroll(1, &course, "ada@d.org", "student"),
            enroll(2, &course, "bob@d.org", "teacher"),
        ],
    );
    assert_eq!(out[0], format!("applied {course}:student:ada@d.org"));
    assert!(
        out[1].starts_with("retry Classroom's daily limit on invitations"),
        "{out:?}"
    );
    assert_eq!(
        env.invitations,
        vec![(
            course.clone(),
            "ada@d.org".to_string(),
            "STUDENT".to_string()
        )]
    );
    // The cap is not retried within the export: one invitation batch.
    assert_eq!(env.count("POST", "/v1/invitations"), 2);

    // Invited already (409) is applied.
    env.invitation_cap = 10;
    let out = export(&mut env, vec![enroll(1, &course, "ada@d.org", "student")]);
    assert_eq!(out, vec![format!("applied {course}:student:ada@d.org")]);
}

#[test]
fn a_batch_refused_on_the_sign_in_fails_whole() {
    let mut env = Fake::new();
    env.fault = Some(Box::new(|_, _| Some((401, "UNAUTHENTICATED"))));
    let config = config(&env);
    let err =
        crate::export(&mut env, &config, &[enroll(1, "123", "a@d.org", "student")]).unwrap_err();
    assert!(
        matches!(&err, PluginError::Auth(m) if m.contains("sign in again")),
        "{err:?}"
    );
}

// --- topics ----------------------------------------------------------------

#[test]
fn categories_of_a_class_become_topics() {
    let mut env = Fake::new();
    let course = env.add_course("Algebra", "", "2024-08-25T09:00:00Z");
    env.courses[0].topics.push(("t0".into(), "Quizzes".into()));
    let cat = |id: &str, title: &str, class: Option<&str>| {
        let e = Entity::new(EntityKind::Category, id).with_text("title", title);
        match class {
            Some(c) => e.with_ref("class", EntityKind::Class, c),
            None => e,
        }
    };
    let refs = [(EntityKind::Class, "c1", course.as_str())];
    let out = export(
        &mut env,
        vec![
            change(
                Action::Add,
                cat("k1", " Homework  sets", Some("c1")),
                None,
                &refs,
            ),
            change(Action::Add, cat("k2", "Quizzes", Some("c1")), None, &refs),
            change(Action::Add, cat("k3", "Tests", None), None, &[]),
            change(Action::Add, cat("k4", "Labs", Some("c9")), None, &[]),
        ],
    );
    let made = env.course(&course).unwrap().topics[1].clone();
    assert_eq!(made.1, "Homework sets");
    assert_eq!(out[0], format!("applied {course}:{}", made.0));
    assert_eq!(out[1], format!("applied {course}:t0"), "409: found by name");
    // Without a class it is district-wide: no hub course here (the course
    // has no alias of ours), so no topic yet.
    assert_eq!(out[2], "applied topic:Tests");
    assert!(
        out[3].starts_with("retry the class has not reached Classroom yet"),
        "{out:?}"
    );
    assert_eq!(env.course(&course).unwrap().topics.len(), 2);

    // A rename patches the class's topic, a delete deletes it.
    let target = out[0].trim_start_matches("applied ").to_string();
    let out = export(
        &mut env,
        vec![change(
            Action::Update,
            cat("k1", "Homework", Some("c1")),
            Some(&target),
            &refs,
        )],
    );
    assert_eq!(out, vec![format!("applied {target}")]);
    assert_eq!(env.course(&course).unwrap().topics[1].1, "Homework");
    let out = export(
        &mut env,
        vec![change(
            Action::Delete,
            cat("k1", "Homework", Some("c1")),
            Some(&target),
            &refs,
        )],
    );
    assert_eq!(out, vec![format!("applied {target}")]);
    assert_eq!(env.course(&course).unwrap().topics.len(), 1);
}

/// A course this connector made (it carries the alias of hub class `class`).
fn hub_course(env: &mut Fake, name: &str, class: &str) -> String {
    let id = env.add_course(name, "", "2024-08-25T09:00:00Z");
    let at = env.courses.len() - 1;
    env.courses[at].aliases.push(alias_for(class));
    id
}

fn category(id: &str, title: &str) -> Entity {
    Entity::new(EntityKind::Category, id).with_text("title", title)
}

/// The names of a course's topics.
fn topic_names(env: &Fake, course: &str) -> Vec<String> {
    env.course(course)
        .unwrap()
        .topics
        .iter()
        .map(|(_, n)| n.clone())
        .collect()
}

#[test]
fn a_classless_category_becomes_a_topic_in_every_hub_course() {
    let mut env = Fake::new();
    let hub: Vec<String> = (0..60)
        .map(|n| hub_course(&mut env, &format!("Class {n}"), &format!("c{n}")))
        .collect();
    let foreign = env.add_course("A teacher's own", "", "2024-08-25T09:00:00Z");
    let archived = hub_course(&mut env, "Last year", "old");
    env.courses.last_mut().unwrap().state = "ARCHIVED".into();
    let out = export(
        &mut env,
        vec![
            change(Action::Add, category("k1", "  Homework "), None, &[]),
            change(Action::Add, category("k2", "Tests"), None, &[]),
        ],
    );
    assert_eq!(out, vec!["applied topic:Homework", "applied topic:Tests"]);
    for course in &hub {
        assert_eq!(topic_names(&env, course), vec!["Homework", "Tests"]);
    }
    assert!(
        topic_names(&env, &foreign).is_empty(),
        "not a course of ours"
    );
    assert!(topic_names(&env, &archived).is_empty(), "archived");
    // 120 topics in batches of at most 50 (the fake refuses more).
    assert_eq!(
        env.count("POST", &format!("/v1/courses/{}/topics", hub[0])),
        2
    );
    assert!(
        env.log
            .iter()
            .filter(|l| l.path.contains("/topics"))
            .all(|l| l.batched)
    );
    assert!(env.batches.iter().all(|&n| n <= 50), "{:?}", env.batches);
    let kept: serde_json::Value =
        serde_json::from_slice(&env.storage[crate::topics::DISTRICT_KEY]).unwrap();
    assert_eq!(kept, json!({"k1": "Homework", "k2": "Tests"}));
}

#[test]
fn a_district_add_exported_again_makes_no_second_topic() {
    let mut env = Fake::new();
    let a = hub_course(&mut env, "Algebra", "c1");
    let b = hub_course(&mut env, "Biology", "c2");
    let c = hub_course(&mut env, "Chemistry", "c3");
    // The first attempt made the topic in course a, then the host was
    // killed before it kept the outcome.
    let first = export(
        &mut env,
        vec![change(Action::Add, category("k1", "Homework"), None, &[])],
    );
    assert_eq!(first, vec!["applied topic:Homework"]);
    env.courses[1].topics.clear();
    env.courses[2].topics.clear();
    // A teacher makes it in course c meanwhile, after the listing (409).
    let course_c = c.clone();
    let mut once = true;
    env.fault = Some(Box::new(move |method, path| {
        (method == "POST" && path == format!("/v1/courses/{course_c}/topics") && once).then(|| {
            once = false;
            (409, "ALREADY_EXISTS")
        })
    }));
    env.log.clear();
    let again = export(
        &mut env,
        vec![change(Action::Add, category("k1", "Homework"), None, &[])],
    );
    assert_eq!(again, vec!["applied topic:Homework"]);
    assert_eq!(topic_names(&env, &a), vec!["Homework"], "found by name");
    assert_eq!(topic_names(&env, &b), vec!["Homework"]);
    assert_eq!(env.count("POST", &format!("/v1/courses/{a}/topics")), 0);
    assert_eq!(env.count("POST", &format!("/v1/courses/{c}/topics")), 1);
    // Exported again with nothing missing: lists, makes nothing.
    env.fault = None;
    env.courses[2].topics.push(("t9".into(), "Homework".into()));
    env.log.clear();
    let third = export(
        &mut env,
        vec![change(
            Action::Update,
            category("k1", "Homework"),
            Some("topic:Homework"),
            &[],
        )],
    );
    assert_eq!(third, vec!["applied topic:Homework"]);
    assert!(env.log.iter().all(|l| l.method == "GET"), "{:?}", env.log);
    for course in [&a, &b, &c] {
        assert_eq!(topic_names(&env, course), vec!["Homework"]);
    }
}

#[test]
fn a_throttled_district_topic_is_a_retry() {
    let mut env = Fake::new();
    let a = hub_course(&mut env, "Algebra", "c1");
    hub_course(&mut env, "Biology", "c2");
    let course_a = a.clone();
    env.fault = Some(Box::new(move |method, path| {
        (method == "POST" && path == format!("/v1/courses/{course_a}/topics"))
            .then_some((429, "RESOURCE_EXHAUSTED"))
    }));
    let out = export(
        &mut env,
        vec![change(Action::Add, category("k1", "Homework"), None, &[])],
    );
    assert!(
        out[0].starts_with("retry Classroom asked us to slow down"),
        "{out:?}"
    );
    // Sent again within the export first.
    assert_eq!(
        env.count("POST", &format!("/v1/courses/{a}/topics")),
        1 + PART_RETRIES
    );
    env.fault = None;
    let out = export(
        &mut env,
        vec![change(Action::Add, category("k1", "Homework"), None, &[])],
    );
    assert_eq!(out, vec!["applied topic:Homework"]);
    assert_eq!(topic_names(&env, &a), vec!["Homework"]);
    assert_eq!(
        topic_names(&env, &env.courses[1].id.clone()),
        vec!["Homework"]
    );
}

#[test]
fn a_course_made_after_the_categories_gets_their_topics() {
    let mut env = Fake::new();
    let out = export(
        &mut env,
        vec![
            change(Action::Add, category("k1", "Homework"), None, &[]),
            change(Action::Add, category("k2", "Tests"), None, &[]),
            change(Action::Add, category("k3", "Homework"), None, &[]),
        ],
    );
    assert_eq!(
        out,
        vec![
            "applied topic:Homework",
            "applied topic:Tests",
            "applied topic:Homework"
        ]
    );
    assert!(
        env.log.iter().all(|l| !l.path.contains("/topics")),
        "no course yet"
    );

    // A later run exports classes: their new courses get the topics.
    let out = export(
        &mut env,
        vec![
            change(Action::Add, class("c1", "Algebra", ""), None, &[]),
            change(Action::Add, class("c2", "Biology", ""), None, &[]),
        ],
    );
    let a = env.course(&alias_for("c1")).unwrap().id.clone();
    let b = env.course(&alias_for("c2")).unwrap().id.clone();
    assert_eq!(out, vec![format!("applied {a}"), format!("applied {b}")]);
    assert_eq!(topic_names(&env, &a), vec!["Homework", "Tests"]);
    assert_eq!(topic_names(&env, &b), vec!["Homework", "Tests"]);
    assert!(env.warnings.is_empty(), "{:?}", env.warnings);

    // A topic Classroom will not make now does not fail the course: a
    // warning, and it is made at the next export of classes or categories.
    env.fault = Some(Box::new(|method, path| {
        (method == "POST" && path.ends_with("/topics")).then_some((503, "UNAVAILABLE"))
    }));
    let out = export(
        &mut env,
        vec![change(Action::Add, class("c3", "Chemistry", ""), None, &[])],
    );
    let c = env.course(&alias_for("c3")).unwrap().id.clone();
    assert_eq!(out, vec![format!("applied {c}")]);
    assert!(topic_names(&env, &c).is_empty());
    assert!(
        env.warnings.iter().any(
            |w| w.contains("district-wide topics could not all be added")
                && w.contains("next export")
        ),
        "{:?}",
        env.warnings
    );
    assert_eq!(
        env.storage
            .get(crate::topics::PENDING_KEY)
            .map(Vec::as_slice),
        Some(c.as_bytes())
    );
    env.fault = None;
    let out = export(
        &mut env,
        vec![change(Action::Add, class("c4", "Drama", ""), None, &[])],
    );
    let d = env.course(&alias_for("c4")).unwrap().id.clone();
    assert_eq!(out, vec![format!("applied {d}")]);
    assert_eq!(topic_names(&env, &c), vec!["Homework", "Tests"]);
    assert_eq!(topic_names(&env, &d), vec!["Homework", "Tests"]);
    assert_eq!(
        env.storage
            .get(crate::topics::PENDING_KEY)
            .map(Vec::as_slice),
        Some(&b""[..])
    );
}

#[test]
fn a_district_category_is_renamed_and_deleted_in_every_course() {
    let mut env = Fake::new();
    let a = hub_course(&mut env, "Algebra", "c1");
    let b = hub_course(&mut env, "Biology", "c2");
    let c = hub_course(&mut env, "Chemistry", "c3");
    export(
        &mut env,
        vec![
            change(Action::Add, category("k1", "Homework"), None, &[]),
            change(Action::Add, category("k2", "Quiz"), None, &[]),
            change(Action::Add, category("k3", "Quiz"), None, &[]),
        ],
    );
    let id_a = env.course(&a).unwrap().topics[0].0.clone();
    // A teacher deleted it in course c.
    env.courses[2].topics.retain(|(_, n)| n != "Homework");

    let out = export(
        &mut env,
        vec![change(
            Action::Update,
            category("k1", "Home work"),
            Some("topic:Homework"),
            &[],
        )],
    );
    assert_eq!(out, vec!["applied topic:Home work"]);
    let topics_a = &env.course(&a).unwrap().topics;
    assert!(
        topics_a.contains(&(id_a.clone(), "Home work".into())),
        "renamed in place: {topics_a:?}"
    );
    assert_eq!(topic_names(&env, &b), vec!["Home work", "Quiz"]);
    assert_eq!(
        topic_names(&env, &c),
        vec!["Quiz", "Home work"],
        "made again"
    );
    assert!(env.log.iter().any(|l| l.method == "PATCH"
        && l.path == format!("/v1/courses/{a}/topics/{id_a}?updateMask=name")));
    let kept = crate::topics::load_district(&env);
    assert_eq!(kept.get("k1").map(String::as_str), Some("Home work"));

    // Two categories of one name share the topic: the first to go leaves it.
    let out = export(
        &mut env,
        vec![change(
            Action::Delete,
            category("k2", "Quiz"),
            Some("topic:Quiz"),
            &[],
        )],
    );
    assert_eq!(out, vec!["applied topic:Quiz"]);
    assert_eq!(topic_names(&env, &a), vec!["Home work", "Quiz"]);

    // The delete removes it everywhere; where it is gone already is done
    // (not listed in course b; 404 in course c, gone since the listing).
    env.courses[1].topics.retain(|(_, n)| n != "Home work");
    let course_c = c.clone();
    env.fault = Some(Box::new(move |method, path| {
        (method == "DELETE" && path.starts_with(&format!("/v1/courses/{course_c}/topics/")))
            .then_some((404, "NOT_FOUND"))
    }));
    let out = export(
        &mut env,
        vec![
            change(
                Action::Delete,
                category("k1", "Home work"),
                Some("topic:Home work"),
                &[],
            ),
            change(
                Action::Delete,
                category("k3", "Quiz"),
                Some("topic:Quiz"),
                &[],
            ),
        ],
    );
    assert_eq!(out, vec!["applied topic:Home work", "applied topic:Quiz"]);
    env.fault = None;
    for course in [&a, &b] {
        assert!(topic_names(&env, course).is_empty(), "{course}");
    }
    assert_eq!(env.count("DELETE", &format!("/v1/courses/{c}/topics/")), 0);
    assert_eq!(
        env.log
            .iter()
            .filter(|l| l.method == "DELETE" && l.path.contains(&c))
            .count(),
        2
    );
    env.courses[2].topics.clear();
    assert!(crate::topics::load_district(&env).is_empty());
    // A course made now gets no topic of them.
    export(
        &mut env,
        vec![change(Action::Add, class("c9", "Music", ""), None, &[])],
    );
    let m = env.course(&alias_for("c9")).unwrap().id.clone();
    assert!(topic_names(&env, &m).is_empty());
}

#[test]
fn a_topic_only_one_course_refuses_is_a_warning() {
    let mut env = Fake::new();
    let a = hub_course(&mut env, "Algebra", "c1");
    let b = hub_course(&mut env, "Biology", "c2");
    let course_b = b.clone();
    env.fault = Some(Box::new(move |method, path| {
        (method == "POST" && path == format!("/v1/courses/{course_b}/topics"))
            .then_some((400, "FAILED_PRECONDITION"))
    }));
    let out = export(
        &mut env,
        vec![change(Action::Add, category("k1", "Homework"), None, &[])],
    );
    assert_eq!(out, vec!["applied topic:Homework"]);
    assert_eq!(topic_names(&env, &a), vec!["Homework"]);
    assert!(
        env.warnings
            .iter()
            .any(|w| w.contains("`Homework` of category k1") && w.contains(&b)),
        "{:?}",
        env.warnings
    );
    // Refused by every course: rejected.
    env.fault = Some(Box::new(|method, path| {
        (method == "POST" && path.ends_with("/topics")).then_some((400, "FAILED_PRECONDITION"))
    }));
    let out = export(
        &mut env,
        vec![change(Action::Add, category("k2", "Tests"), None, &[])],
    );
    assert!(
        out[0].starts_with("rejected no course took the topic `Tests`"),
        "{out:?}"
    );
    // Longer than Classroom takes.
    let out = export(
        &mut env,
        vec![change(
            Action::Add,
            category("k3", &"x".repeat(101)),
            None,
            &[],
        )],
    );
    assert!(out[0].contains("at most 100"), "{out:?}");
}

// --- the batch protocol ------------------------------------------------------

#[test]
fn a_multipart_answer_is_read_by_content_id() {
    let body = "preamble\n--b_1\nContent-Type: application/http\nContent-ID: <response-item-1>\n\nHTTP/1.1 409 Conflict\nContent-Type: application/json\n\n{\"error\":{\"code\":409,\"status\":\"ALREADY_EXISTS\",\"message\":\"exists\"}}\n--b_1\r\nContent-Type: application/http\r\nContent-ID: <response-item-0>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{\"id\":1}\r\n\r\n--b_1\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\r\n--b_1--\r\n";
    let parts =
        batch::parse_response("multipart/mixed; boundary=\"b_1\"", body.as_bytes()).unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0].0, Some(1));
    assert_eq!(parts[0].1.status, 409);
    assert_eq!(parts[0].1.error().status, "ALREADY_EXISTS");
    assert_eq!(parts[1].0, Some(0));
    assert_eq!(parts[1].1.body, b"{\"id\":1}");
    assert_eq!((parts[2].0, parts[2].1.status), (None, 204));
    assert!(parts[2].1.body.is_empty());

    assert!(batch::parse_response("application/json", b"{}").is_err());
    assert!(
        batch::parse_response(
            "multipart/mixed; boundary=x",
            b"--x\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"
        )
        .is_err(),
        "not closed"
    );
    assert!(
        batch::parse_response(
            "multipart/mixed; boundary=x",
            b"--x\r\n\r\ngarbage\r\n--x--"
        )
        .is_err()
    );
}

#[test]
fn a_batch_request_is_one_http_request_per_part() {
    let calls = [
        Call::post("/v1/courses/1/students", json!({"userId": "a@d.org"})),
        Call::delete("/v1/courses/1/teachers/b@d.org"),
    ];
    let refs: Vec<&Call> = calls.iter().collect();
    let body = String::from_utf8(batch::encode_request(&refs, "/p")).unwrap();
    assert!(body.starts_with(&format!("--{}\r\nContent-Type: application/http\r\nContent-ID: <item-0>\r\n\r\nPOST /p/v1/courses/1/students HTTP/1.1\r\n", batch::BOUNDARY)), "{body}");
    assert!(
        body.contains("Content-Length: 20\r\n\r\n{\"userId\":\"a@d.org\"}\r\n"),
        "{body}"
    );
    assert!(body.contains(
        "Content-ID: <item-1>\r\n\r\nDELETE /p/v1/courses/1/teachers/b@d.org HTTP/1.1\r\n"
    ));
    assert!(body.ends_with(&format!("--{}--\r\n", batch::BOUNDARY)));
}

// --- read ----------------------------------------------------------------

/// Two courses this connector made, one it did not.
fn gradebook() -> (Fake, String, String) {
    let mut env = Fake::new();
    env.page_cap = 100;
    let a = env.add_course("Algebra", "", "2024-08-25T09:00:00Z");
    env.courses[0].aliases.push(alias_for("c1"));
    let b = env.add_course("Biology", "", "2024-08-25T09:00:00Z");
    env.courses[1].aliases.push(alias_for("c2"));
    env.add_course("Someone else's", "", "2024-08-25T09:00:00Z");
    env.courses[2]
        .work
        .push(json!({"id": "foreign", "courseId": "x", "title": "Not ours"}));
    for n in 0..250 {
        env.courses[0].work.push(json!({"courseId": a, "id": format!("wa{n}"), "title": format!("Work {n}"),
            "state": "PUBLISHED", "maxPoints": 10, "creationTime": "2024-09-01T00:00:00Z", "updateTime": "2024-09-02T00:00:00Z"}));
    }
    for n in 0..3 {
        env.courses[1].work.push(
            json!({"courseId": b, "id": format!("wb{n}"), "title": "Lab", "state": "PUBLISHED"}),
        );
    }
    (env, a, b)
}

fn read_all(env: &mut Fake, kind: EntityKind) -> (Vec<Entity>, usize) {
    let config = config(env);
    let mut cursor: Option<String> = None;
    let mut all = Vec::new();
    let mut pages = 0;
    loop {
        let page = read::read(env, &config, kind, cursor.as_deref()).expect("page");
        assert!(
            page.entities.len() <= 300,
            "a page of {}",
            page.entities.len()
        );
        pages += 1;
        all.extend(page.entities);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return (all, pages),
        }
        assert!(pages < 50, "the read does not end");
    }
}

#[test]
fn coursework_is_read_as_line_items_page_by_page() {
    let (mut env, a, b) = gradebook();
    let (items, pages) = read_all(&mut env, EntityKind::LineItem);
    assert_eq!(items.len(), 253);
    assert!(pages >= 2, "{pages} pages");
    let mut ids: Vec<&str> = items.iter().map(|e| e.source_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 253, "no record twice");
    assert!(!ids.contains(&"foreign"));
    let first = items.iter().find(|e| e.source_id == "wa0").unwrap();
    assert_eq!(first.text("title"), Some("Work 0"));
    assert!(matches!(first.get("resultValueMax"), Some(Value::Number(n)) if *n == 10.0));
    assert!(matches!(first.get("class"), Some(Value::Reference(r)) if r.source_id == a));
    assert_eq!(first.status, homeroom_sdk::Status::Active);
    let lab = items.iter().find(|e| e.source_id == "wb0").unwrap();
    assert!(matches!(lab.get("class"), Some(Value::Reference(r)) if r.source_id == b));
    // The course list is made once per read.
    assert_eq!(env.count("GET", "/v1/courses"), 1);
}

#[test]
fn graded_submissions_are_read_as_results_with_the_students_email() {
    let (mut env, a, _) = gradebook();
    env.add_user("s1", "Ada@D.org");
    env.add_user("s2", "bob@d.org");
    for n in 0..600 {
        let user = if n % 2 == 0 { "s1" } else { "s2" };
        let mut s = json!({"courseId": a, "courseWorkId": format!("wa{n}"), "id": format!("sub{n}"),
            "userId": user, "state": "RETURNED", "updateTime": "2024-10-01T12:00:00Z"});
        if n % 3 != 0 {
            s["assignedGrade"] = json!(n as f64 / 2.0);
        }
        env.courses[0].submissions.push(s);
    }
    let (results, pages) = read_all(&mut env, EntityKind::Result);
    assert!(pages >= 2, "{pages}");
    assert_eq!(results.len(), 400, "the 400 graded ones");
    let r = results.iter().find(|e| e.source_id == "sub1").unwrap();
    assert!(matches!(r.get("score"), Some(Value::Number(n)) if *n == 0.5));
    assert!(
        matches!(r.get("student"), Some(Value::Reference(s)) if s.kind == EntityKind::User && s.source_id == "bob@d.org")
    );
    assert!(
        matches!(r.get("lineItem"), Some(Value::Reference(l)) if l.kind == EntityKind::LineItem && l.source_id == "wa1")
    );
    assert_eq!(r.text("scoreStatus"), Some("fully graded"));
    assert_eq!(r.text("scoreDate"), Some("2024-10-01"));
    let ada = results.iter().find(|e| e.source_id == "sub2").unwrap();
    assert!(matches!(ada.get("student"), Some(Value::Reference(s)) if s.source_id == "ada@d.org"));
    // Each student's profile was read once, and kept.
    assert_eq!(env.count("GET", "/v1/userProfiles/s1"), 1);
    assert_eq!(
        env.storage.get("email:s2").map(Vec::as_slice),
        Some(&b"bob@d.org"[..])
    );
    let before = env.log.len();
    read_all(&mut env, EntityKind::Result);
    assert!(
        env.log[before..]
            .iter()
            .all(|l| !l.path.starts_with("/v1/userProfiles"))
    );
}

#[test]
fn coursework_under_a_topic_reads_back_with_the_category_it_came_from() {
    let (mut env, a, b) = gradebook();
    // A district-wide category, exported before.
    export(
        &mut env,
        vec![change(Action::Add, category("k1", "Homework"), None, &[])],
    );
    let district = |env: &Fake, course: usize| {
        env.courses[course]
            .topics
            .iter()
            .find(|(_, n)| n == "Homework")
            .map(|(t, _)| t.clone())
            .unwrap()
    };
    let (home_a, home_b) = (district(&env, 0), district(&env, 1));
    // A class-scoped one, and a topic a teacher made.
    env.courses[1]
        .topics
        .push(("lab1".into(), "Lab reports".into()));
    for (n, w) in env.courses[0].work.iter_mut().enumerate() {
        if n % 2 == 0 {
            w["topicId"] = json!(home_a);
        }
    }
    env.courses[1].work[0]["topicId"] = json!(home_b);
    env.courses[1].work[1]["topicId"] = json!("lab1");
    env.log.clear();
    let (items, pages) = read_all(&mut env, EntityKind::LineItem);
    assert!(pages >= 2, "{pages}");
    let category = |id: &str| match items
        .iter()
        .find(|e| e.source_id == id)
        .unwrap()
        .get("category")
    {
        Some(Value::Reference(r)) => {
            assert_eq!(r.kind, EntityKind::Category);
            Some(r.source_id.clone())
        }
        None => None,
        other => panic!("{other:?}"),
    };
    assert_eq!(category("wa0").as_deref(), Some("topic:Homework"));
    assert_eq!(category("wa248").as_deref(), Some("topic:Homework"));
    assert_eq!(category("wa1"), None);
    assert_eq!(category("wb0").as_deref(), Some("topic:Homework"));
    assert_eq!(category("wb1"), Some(format!("{b}:lab1")));
    assert_eq!(category("wb2"), None);
    // Each course's topics were listed once in the read, across its pages.
    assert_eq!(env.count("GET", &format!("/v1/courses/{a}/topics")), 1);
    assert_eq!(env.count("GET", &format!("/v1/courses/{b}/topics")), 1);

    // Another read lists them again (a topic may have been renamed).
    env.courses[1].topics.retain(|(t, _)| t != "lab1");
    env.courses[1]
        .topics
        .push(("lab1".into(), "Homework 2".into()));
    let (items, _) = read_all(&mut env, EntityKind::LineItem);
    let wb1 = items.iter().find(|e| e.source_id == "wb1").unwrap();
    assert!(
        matches!(wb1.get("category"), Some(Value::Reference(r)) if r.source_id == format!("{b}:lab1"))
    );
    assert_eq!(env.count("GET", &format!("/v1/courses/{a}/topics")), 2);
}

#[test]
fn a_class_scoped_topic_reads_back_under_its_target_id() {
    let mut env = Fake::new();
    let a = hub_course(&mut env, "Algebra", "c1");
    let refs = [(EntityKind::Class, "c1", a.as_str())];
    let out = export(
        &mut env,
        vec![change(
            Action::Add,
            category("k1", "Labs").with_ref("class", EntityKind::Class, "c1"),
            None,
            &refs,
        )],
    );
    let topic = env.courses[0].topics[0].0.clone();
    assert_eq!(out, vec![format!("applied {a}:{topic}")]);
    env.courses[0]
        .work
        .push(json!({"courseId": a, "id": "w1", "title": "Lab 1", "topicId": topic}));
    let (items, _) = read_all(&mut env, EntityKind::LineItem);
    assert!(
        matches!(items[0].get("category"), Some(Value::Reference(r)) if r.source_id == format!("{a}:{topic}")),
        "the target id it was exported as: {:?}",
        items[0]
    );
}

#[test]
fn emails_compare_equal_whatever_their_case() {
    let (mut env, a, _) = gradebook();
    // The user's target id is the lowercased email...
    let out = export(
        &mut env,
        vec![change(
            Action::Add,
            Entity::new(EntityKind::User, "u1").with_text("email", " Ada.Lovelace@D.Org "),
            None,
            &[],
        )],
    );
    assert_eq!(out, vec!["applied ada.lovelace@d.org"]);
    // ...as is a member's, whatever the host hands back...
    env.add_user("s1", "Ada.Lovelace@D.Org");
    let out = export(
        &mut env,
        vec![enroll(1, &a, "Ada.Lovelace@D.ORG", "student")],
    );
    assert_eq!(out, vec![format!("applied {a}:student:ada.lovelace@d.org")]);
    // ...and a result's student, read from Classroom or kept in storage
    // (by an earlier version, as it came).
    env.add_user("s2", "Bob@D.org");
    env.storage.insert("email:s2".into(), b"Bob@D.org".to_vec());
    for (n, user) in ["s1", "s2"].iter().enumerate() {
        env.courses[0]
            .submissions
            .push(json!({"courseId": a, "courseWorkId": "wa0",
            "id": format!("sub{n}"), "userId": user, "assignedGrade": 5}));
    }
    let (results, _) = read_all(&mut env, EntityKind::Result);
    let student = |id: &str| match results
        .iter()
        .find(|e| e.source_id == id)
        .unwrap()
        .get("student")
    {
        Some(Value::Reference(r)) => r.source_id.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(student("sub0"), "ada.lovelace@d.org");
    assert_eq!(student("sub1"), "bob@d.org");
}

#[test]
fn results_without_an_email_are_left_out_with_a_warning() {
    let (mut env, a, _) = gradebook();
    env.emails = false;
    env.add_user("s1", "ada@d.org");
    env.courses[0].submissions.push(json!({"courseId": a, "courseWorkId": "wa0", "id": "sub", "userId": "s1", "assignedGrade": 3}));
    let (results, _) = read_all(&mut env, EntityKind::Result);
    assert!(results.is_empty());
    assert!(
        env.warnings
            .iter()
            .any(|w| w.contains("classroom.profile.emails")),
        "{:?}",
        env.warnings
    );
}

#[test]
fn other_kinds_are_not_read_or_written() {
    let mut env = Fake::new();
    let config = config(&env);
    for kind in [
        EntityKind::Class,
        EntityKind::User,
        EntityKind::Org,
        EntityKind::Enrollment,
    ] {
        let err = read::read(&mut env, &config, kind, None).unwrap_err();
        assert!(
            matches!(&err, PluginError::Unsupported(m) if m.contains(kind.name())),
            "{err:?}"
        );
    }
    let out = export(
        &mut env,
        vec![change(
            Action::Add,
            Entity::new(EntityKind::Org, "o1"),
            None,
            &[],
        )],
    );
    assert!(
        out[0].starts_with("rejected Google Classroom takes classes"),
        "{out:?}"
    );
    assert!(env.log.is_empty());
    assert!(read::read(&mut env, &config, EntityKind::LineItem, Some("garbage")).is_err());
}

// --- the connection test ---------------------------------------------------

#[test]
fn the_connection_test_says_who_and_how_many_courses() {
    let mut env = Fake::new();
    env.add_course("A", "", "2024-08-25T09:00:00Z");
    env.add_course("B", "", "2024-08-25T09:00:00Z");
    let config = config(&env);
    let said = crate::test_connection(&mut env, &config).unwrap();
    assert_eq!(
        said,
        format!("Google Classroom: signed in as Name of 1 ({ME}); they teach 2 courses")
    );

    env.fault = Some(Box::new(|_, _| Some((401, "UNAUTHENTICATED"))));
    let err = crate::test_connection(&mut env, &config).unwrap_err();
    assert!(
        matches!(&err, PluginError::Auth(m) if m.contains("sign in again")),
        "{err:?}"
    );
    env.fault = Some(Box::new(|_, _| Some((403, "PERMISSION_DENIED"))));
    let err = crate::test_connection(&mut env, &config).unwrap_err();
    assert!(
        matches!(&err, PluginError::Auth(m) if m.contains("classroom.rosters")),
        "{err:?}"
    );
}

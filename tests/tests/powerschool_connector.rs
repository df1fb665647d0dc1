//! The built-in PowerSchool connector through the real host against the mock
//! PowerSchool API over loopback: the plugin OAuth token, full imports with
//! exact counts on SQLite and PostgreSQL, quick runs (a full read the hub
//! diffs), the organization mapping, and the fault matrix (a 429 storm,
//! 5xx, truncated and malformed bodies, a lying count, a repeated page, a
//! wrong client secret).

use std::collections::BTreeMap;

use homeroom_host::bindings::export_types::{ExportChange, ExportOutcome, TargetRef};
use homeroom_host::bindings::types::{
    Action, Attribute, Entity, EntityKind, Reference, Status, Value,
};
use homeroom_host::config::{Domain, DomainMode, SourceConfig, SyncMode};
use homeroom_host::pipeline::export::ExportOptions;
use homeroom_host::pipeline::{ImportOptions, Mode};
use homeroom_host::runtime::ConnectorSession;
use homeroom_host::secret::Secret;
use homeroom_host::store::{Run, RunStatus};
use homeroom_tests::powerschool_mock::{CLIENT_ID, CLIENT_SECRET, District, MockPowerSchool};
use homeroom_tests::support::{
    Fixture, builtin_session, configure, configure_sources, count, database_urls, engine, org_id,
    read_all,
};
use serde_json::json;

/// 3 schools of 4 sections of 5 students: 60 students, 14 staff (one
/// teacher at two schools), 15 guardians, 63 section enrollments (3 of
/// them dropped and not imported) and 12 sections' teachers.
fn district() -> District {
    District::generated(3, 4, 5)
}

fn expected(d: &District) -> Vec<(&'static str, u64)> {
    vec![
        ("org", 1 + d.schools.len() as u64),
        ("academic-session", d.terms() as u64),
        ("course", d.courses() as u64),
        ("class", d.sections() as u64),
        ("user", d.users() as u64),
        ("enrollment", d.enrollments() as u64),
    ]
}

fn source(mock: &MockPowerSchool) -> SourceConfig {
    let mut s = SourceConfig::new("sis", "powerschool");
    s.settings.insert("service_url".into(), mock.base_url());
    s.settings.insert("token_url".into(), mock.token_url());
    s.settings.insert("client_id".into(), CLIENT_ID.into());
    s.settings
        .insert("auth".into(), "oauth2-client-credentials".into());
    s.secrets.insert(
        "client_secret".into(),
        "HOMEROOM_TEST_POWERSCHOOL_SECRET".into(),
    );
    s.advanced.hold.updated_share = 1.0;
    s.advanced.hold.deleted_share = 1.0;
    s
}

fn assert_committed(run: &Run, what: &str) {
    assert_eq!(
        run.status,
        RunStatus::Committed,
        "{what}: {:?}",
        run.report.failure
    );
}

#[tokio::test]
async fn a_district_imports_with_exact_counts_then_quick_runs_apply_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    unsafe { std::env::set_var("HOMEROOM_TEST_POWERSCHOOL_SECRET", CLIENT_SECRET) };
    for url in database_urls(tmp.path()) {
        let mock = MockPowerSchool::start(district()).await.unwrap();
        let engine = engine(&url).await;
        let org = org_id("powerschool");
        let mut s = source(&mock);
        s.settings
            .insert("organization_map".into(), "100 = MS-NORTH".into());
        configure(&engine, &org, s).await;
        let started = std::time::Instant::now();
        let first = engine
            .import(&org, "sis", ImportOptions::default())
            .await
            .unwrap();
        let took = started.elapsed();
        assert_committed(&first, &url);
        for (kind, n) in expected(&mock.district()) {
            let c = &first.report.counts[kind];
            assert_eq!((c.read, c.add, c.errors), (n, n, 0), "{url}: {kind}");
        }
        eprintln!(
            "{url}: full import of {} records in {took:?}, {} requests, {} token(s)",
            first.report.counts.values().map(|c| c.read).sum::<u64>(),
            mock.requests().len(),
            mock.tokens_issued()
        );
        assert_eq!(mock.tokens_issued(), 1, "{url}: one token for the run");
        assert!(
            mock.requests()
                .iter()
                .filter(|r| r.query.contains("pagesize="))
                .all(|r| r.query.contains("pagesize=10")),
            "{url}: pages asked at the metadata's maximum"
        );
        let d = mock.district();
        let (school, _) = d.schools.iter().next().unwrap();
        let school = engine
            .store()
            .entity_of(&org, "sis", "org", &school.to_string())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(school.data["identifier"]["v"], "MS-NORTH", "{url}: mapped");
        let guardian = engine
            .store()
            .entity_of(
                &org,
                "sis",
                "user",
                &format!("guardian-{}", d.guardians[0]["guardian_id"]),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            guardian.data["agents"]["v"].as_array().map(Vec::len),
            Some(2),
            "{url}: the first guardian has two children: {:?}",
            guardian.data
        );

        // In PowerSchool: a student renamed, one added.
        let (renamed, _) = d
            .students
            .iter()
            .next()
            .map(|(k, v)| (*k, v.clone()))
            .unwrap();
        mock.edit(|d| {
            d.students.get_mut(&renamed).unwrap()["name"]["first_name"] = json!("Renamed");
            let mut added = d.students[&renamed].clone();
            added["id"] = json!(999_999);
            added["local_id"] = json!(99_999);
            d.students.insert(999_999, added);
        });
        let quick = engine
            .import(
                &org,
                "sis",
                ImportOptions {
                    mode: Mode::Quick,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_committed(&quick, &url);
        let users = &quick.report.counts["user"];
        assert_eq!(
            (users.add, users.update, users.delete),
            (1, 1, 0),
            "{url}: {users:?}"
        );
        assert_eq!(
            quick.report.changes(),
            2,
            "{url}: {:?}",
            quick.report.counts
        );
        let warned = format!("{:?}", quick.report.warnings);
        assert!(
            warned.contains("cannot list the user records changed since the last run"),
            "{url}: {warned}"
        );
        let kept = engine
            .store()
            .entity_of(&org, "sis", "user", &format!("student-{renamed}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.data["givenName"]["v"], "Renamed", "{url}");
    }
}

// --- The connector in the runtime, without the engine -----------------

async fn connect(mock: &MockPowerSchool, secret: &str, extra: &[(&str, &str)]) -> ConnectorSession {
    let mut settings = BTreeMap::from([
        ("service_url".to_string(), mock.base_url()),
        ("token_url".to_string(), mock.token_url()),
        ("client_id".to_string(), CLIENT_ID.to_string()),
        ("auth".to_string(), "oauth2-client-credentials".to_string()),
    ]);
    for (k, v) in extra {
        settings.insert(k.to_string(), v.to_string());
    }
    let secrets = BTreeMap::from([("client_secret".to_string(), Secret::new(secret))]);
    builtin_session("powerschool", &settings, &secrets).await
}

fn unique(entities: &[Entity]) -> usize {
    let mut ids: Vec<_> = entities.iter().map(|e| e.source_id.clone()).collect();
    ids.sort();
    ids.dedup();
    ids.len()
}

#[tokio::test]
async fn the_connection_test_names_the_district_and_a_wrong_secret_says_what_to_check() {
    let mock = MockPowerSchool::start(district()).await.unwrap();
    let mut session = connect(&mock, CLIENT_SECRET, &[]).await;
    let said = session.test_connection().await.unwrap();
    assert_eq!(
        said,
        format!(
            "PowerSchool 24.7.0 at {}: Maplewood Unified, 3 schools; students read 10 a page",
            mock.base_url()
        )
    );
    let schools = session.list_schools().await.unwrap();
    assert_eq!(
        schools
            .iter()
            .map(|s| s.identifier.as_deref())
            .collect::<Vec<_>>(),
        [Some("100"), Some("101"), Some("102")]
    );

    let mut refused = connect(&mock, "not-the-secret", &[]).await;
    let err = refused.test_connection().await.unwrap_err().to_string();
    assert!(
        err.contains("refused the client id/secret") && err.contains("Client Secret"),
        "{err}"
    );
    assert!(
        !err.contains("not-the-secret") && !err.contains(CLIENT_SECRET),
        "{err}"
    );
}

#[tokio::test]
async fn the_fault_matrix_is_ridden_out_or_named() {
    let mock = MockPowerSchool::start(district()).await.unwrap();
    let users = mock.district().users();
    let enrollments = mock.district().enrollments();
    let mut session = connect(&mock, CLIENT_SECRET, &[]).await;

    // A 429 storm shorter than the host's retries, 5xx, a body cut mid-way:
    // the host retries, and every user arrives once.
    for fault in ["429", "500", "truncated"] {
        match fault {
            "429" => mock.fail_with_429(4),
            "500" => mock.fail_with_500(3),
            _ => mock.truncate_bodies(2),
        }
        let read = read_all(&mut session, EntityKind::User)
            .await
            .unwrap_or_else(|e| panic!("{fault}: {e}"));
        assert_eq!((read.len(), unique(&read)), (users, users), "{fault}");
        assert!(read.iter().all(|e| e.status == Status::Active));
    }

    // A storm that outlasts the retries fails as rate limited.
    mock.fail_with_429(100);
    let err = read_all(&mut session, EntityKind::User).await.unwrap_err();
    assert!(err.contains("429"), "{err}");
    mock.fail_with_429(0);

    // Malformed JSON is refused, naming what was read (a class read starts
    // with the list of schools).
    mock.malformed_json(1);
    let err = read_all(&mut session, EntityKind::Class).await.unwrap_err();
    assert!(
        err.contains("reading schools") && err.contains("not valid JSON"),
        "{err}"
    );

    // A lying count, high or low, loses nothing and is warned.
    for lie in [7, -20] {
        mock.lie_about_counts(lie);
        let read = read_all(&mut session, EntityKind::Enrollment)
            .await
            .unwrap_or_else(|e| panic!("lie {lie}: {e}"));
        assert_eq!(
            (read.len(), unique(&read)),
            (enrollments, enrollments),
            "lie {lie}"
        );
    }
    mock.lie_about_counts(0);

    // A section whose enrollments do not come fails the read: it must not
    // look like a section without students.
    mock.fail_path_with_500("section_enrollment", 10_000);
    let err = read_all(&mut session, EntityKind::Enrollment)
        .await
        .unwrap_err();
    mock.fail_path_with_500("section_enrollment", 0);
    assert!(
        err.contains("reading the enrollments of section") && err.contains("answered 500"),
        "{err}"
    );

    // A page repeated once is asked again; repeated twice, refused.
    mock.repeat_pages(1);
    let read = read_all(&mut session, EntityKind::User).await.unwrap();
    assert_eq!((read.len(), unique(&read)), (users, users));
    mock.repeat_pages(2);
    let err = read_all(&mut session, EntityKind::User).await.unwrap_err();
    assert!(err.contains("seems to ignore the page parameter"), "{err}");
    mock.repeat_pages(0);

    // A PowerQuery the server does not have is named with what to check.
    let mut session = connect(
        &mock,
        CLIENT_SECRET,
        &[("guardians_query", "com.example.nope")],
    )
    .await;
    let err = read_all(&mut session, EntityKind::User).await.unwrap_err();
    assert!(
        err.contains("/ws/schema/query/com.example.nope/count was not found (404)")
            && err.contains("PowerQuery is installed"),
        "{err}"
    );
}

#[tokio::test]
async fn a_collection_of_one_and_an_empty_one_read_like_any_other() {
    // One school of one section of one student: every list is an object.
    let mock = MockPowerSchool::start(District::generated(1, 1, 1))
        .await
        .unwrap();
    let mut session = connect(&mock, CLIENT_SECRET, &[]).await;
    let orgs = read_all(&mut session, EntityKind::Org).await.unwrap();
    assert_eq!(orgs.len(), 2);
    let users = read_all(&mut session, EntityKind::User).await.unwrap();
    assert_eq!(
        users.len(),
        1 + 2 + 1,
        "a student, a teacher, an admin, a guardian"
    );
    let enrollments = read_all(&mut session, EntityKind::Enrollment)
        .await
        .unwrap();
    assert_eq!(enrollments.len(), 2, "the student's and the teacher's");
    let student = users
        .iter()
        .find(|u| u.source_id.starts_with("student-"))
        .unwrap();
    let text = |e: &Entity, n: &str| {
        e.attributes
            .iter()
            .find(|a| a.name == n)
            .map(|a| format!("{:?}", a.value))
    };
    assert!(text(student, "grades").unwrap().contains("07"));
    assert!(text(student, "givenName").unwrap().contains("Stu"));
    // No sections at all: the class read is empty, not an error.
    mock.edit(|d| d.sections.clear());
    assert!(
        read_all(&mut session, EntityKind::Class)
            .await
            .unwrap()
            .is_empty()
    );
}

fn student(id: &str, attributes: Vec<(&str, Value)>) -> Entity {
    Entity {
        kind: EntityKind::User,
        source_id: id.into(),
        status: Status::Active,
        date_last_modified: None,
        attributes: attributes
            .into_iter()
            .map(|(name, value)| Attribute {
                name: name.into(),
                value,
            })
            .collect(),
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// A change of `entity`, its school (hub id `hub-school`) at PowerSchool's
/// `school`.
fn change(
    action: Action,
    entity: Entity,
    target: Option<&str>,
    school: Option<u64>,
) -> ExportChange {
    ExportChange {
        action,
        entity,
        target_id: target.map(str::to_string),
        target_refs: school
            .map(|s| TargetRef {
                kind: EntityKind::Org,
                source_id: "hub-school".into(),
                target_id: s.to_string(),
            })
            .into_iter()
            .collect(),
    }
}

fn outcomes(list: &[ExportOutcome]) -> Vec<(Option<&str>, Option<&str>)> {
    list.iter()
        .map(|o| match o {
            ExportOutcome::Applied(id) => (Some(id.as_str()), None),
            ExportOutcome::Rejected(why) | ExportOutcome::Retry(why) => (None, Some(why.as_str())),
        })
        .collect()
}

#[tokio::test]
async fn students_and_parents_are_written_but_never_a_students_username_or_school() {
    let mock = MockPowerSchool::start(District::generated(2, 1, 2))
        .await
        .unwrap();
    let d = mock.district();
    let schools: Vec<u64> = d.schools.keys().copied().collect();
    let mut session = connect(&mock, CLIENT_SECRET, &[]).await;
    let school = || {
        (
            "orgs",
            Value::References(vec![Reference {
                kind: EntityKind::Org,
                source_id: "hub-school".into(),
            }]),
        )
    };
    let new = student(
        "hub-1",
        vec![
            ("role", text("student")),
            ("givenName", text("Nia")),
            ("familyName", text("New")),
            ("username", text("nnew")),
            ("identifier", text("77001")),
            ("email", text("nia@maplewood.org")),
            ("grades", Value::Texts(vec!["07".into()])),
            school(),
        ],
    );
    let teacher = student("hub-2", vec![("role", text("teacher")), school()]);
    let parent = student("hub-3", vec![("role", text("parent"))]);
    let homeless = student(
        "hub-4",
        vec![
            ("role", text("student")),
            ("givenName", text("A")),
            ("familyName", text("B")),
        ],
    );
    let gone = student("hub-5", vec![("role", text("student"))]);
    let said = session
        .export(&[
            change(Action::Add, new.clone(), None, Some(schools[0])),
            change(Action::Add, teacher, None, Some(schools[0])),
            change(Action::Add, parent, None, None),
            change(Action::Add, homeless, None, None),
            change(Action::Delete, gone, Some("1"), None),
        ])
        .await
        .unwrap();
    let said = outcomes(&said);
    let id = said[0].0.unwrap_or_else(|| panic!("{said:?}")).to_string();
    let made = mock.district().students[&id.parse::<u64>().unwrap()].clone();
    assert_eq!(made["student_username"], "nnew");
    assert_eq!(made["school_enrollment"]["school_id"], json!(schools[0]));
    assert_eq!(made["school_enrollment"]["school_number"], json!("100"));
    assert_eq!(
        made["school_enrollment"]["entry_date"], "2024-08-15",
        "the school year's first day"
    );
    assert!(
        said[1].1.is_some_and(|m| m.contains("not teachers")),
        "{said:?}"
    );
    assert!(
        said[2]
            .1
            .is_some_and(|m| m.contains("mother or the father")),
        "{said:?}"
    );
    assert!(
        said[3]
            .1
            .is_some_and(|m| m.contains("not a PowerSchool school")),
        "{said:?}"
    );
    assert!(
        said[4]
            .1
            .is_some_and(|m| m.contains("withdraw the student in PowerSchool")),
        "{said:?}"
    );

    // A new name goes; a new username or another school is refused, per
    // change, and PowerSchool keeps what it had.
    let mut renamed = new.clone();
    renamed.attributes.retain(|a| a.name != "givenName");
    renamed.attributes.push(Attribute {
        name: "givenName".into(),
        value: text("Nina"),
    });
    let mut username = renamed.clone();
    username.source_id = "hub-1b".into();
    username.attributes.retain(|a| a.name != "username");
    username.attributes.push(Attribute {
        name: "username".into(),
        value: text("nina2"),
    });
    let said = session
        .export(&[
            change(Action::Update, renamed.clone(), Some(&id), Some(schools[0])),
            change(Action::Update, username, Some(&id), Some(schools[0])),
            change(Action::Update, renamed, Some(&id), Some(schools[1])),
        ])
        .await
        .unwrap();
    let said = outcomes(&said);
    assert_eq!(said[0], (Some(id.as_str()), None), "{said:?}");
    assert!(
        said[1]
            .1
            .is_some_and(|m| m.contains("the username from nnew to nina2")
                && m.contains("in PowerSchool itself")),
        "{said:?}"
    );
    assert!(
        said[2].1.is_some_and(|m| m.contains(&format!(
            "the school enrollment from school {} to school {}",
            schools[0], schools[1]
        ))),
        "{said:?}"
    );
    let held = mock.district().students[&id.parse::<u64>().unwrap()].clone();
    assert_eq!(
        (
            held["name"]["first_name"].as_str(),
            held["student_username"].as_str()
        ),
        (Some("Nina"), Some("nnew"))
    );
    assert_eq!(held["school_enrollment"]["school_id"], json!(schools[0]));
    // A parent goes on the child's record: the mother, and the guardian
    // email.
    let mother = student(
        "hub-6",
        vec![
            ("role", text("parent")),
            ("givenName", text("Pat")),
            ("familyName", text("New")),
            ("email", text("pat@example.org")),
            ("metadata.relationship", text("Mother")),
            (
                "agents",
                Value::References(vec![Reference {
                    kind: EntityKind::User,
                    source_id: "hub-1".into(),
                }]),
            ),
        ],
    );
    let mut to_child = change(Action::Add, mother, None, None);
    to_child.target_refs.push(TargetRef {
        kind: EntityKind::User,
        source_id: "hub-1".into(),
        target_id: id.clone(),
    });
    let said = session.export(&[to_child]).await.unwrap();
    let expected = format!("contact:{id}");
    assert_eq!(
        outcomes(&said)[0],
        (Some(expected.as_str()), None),
        "{said:?}"
    );
    let held = mock.district().students[&id.parse::<u64>().unwrap()].clone();
    assert_eq!(
        (
            held["contact"]["mother"].as_str(),
            held["contact"]["guardian_email"].as_str()
        ),
        (Some("Pat New"), Some("pat@example.org"))
    );

    // And the student reads back as PowerSchool now has them.
    let users = read_all(&mut session, EntityKind::User).await.unwrap();
    assert!(users.iter().any(|u| u.source_id == format!("student-{id}")));
}

/// A district's enrollment system (the fixture connector) with one new
/// student at PowerSchool's school 100, known to it as `f-s1`.
fn enrollment_system(dir: &std::path::Path, username: &str, given: &str) -> SourceConfig {
    let mut f = Fixture::default();
    f.add(
        "org",
        "f-s1",
        json!({"name": "School 0", "type": "school", "identifier": "100"}),
    );
    f.student("new-1", given, "New", "nia@maplewood.org", "f-s1", "07");
    f.set("user", "new-1", "username", json!(username));
    f.write(dir);
    let mut s = SourceConfig::new("enroll", "fixture-connector");
    s.folder = Some(dir.display().to_string());
    // Its school is PowerSchool's school: one org, PowerSchool's.
    s.domains = vec![Domain {
        kind: "org".into(),
        attributes: vec!["identifier".into()],
        mode: DomainMode::Unattended,
    }];
    s.advanced.hold.updated_share = 1.0;
    s.advanced.hold.deleted_share = 1.0;
    s
}

#[tokio::test]
async fn a_new_student_from_another_source_is_made_in_powerschool_and_its_username_kept() {
    let tmp = tempfile::tempdir().unwrap();
    unsafe { std::env::set_var("HOMEROOM_TEST_POWERSCHOOL_SECRET", CLIENT_SECRET) };
    for url in database_urls(tmp.path()) {
        let mock = MockPowerSchool::start(District::generated(2, 1, 2))
            .await
            .unwrap();
        let engine = engine(&url).await;
        let org = org_id("powerschool-sync");
        let dir = tmp.path().join(format!("enroll-{}", org));
        let mut sis = source(&mock);
        sis.sync_mode = SyncMode::Sync;
        sis.export.kinds = vec!["user".into()];
        configure_sources(
            &engine,
            &org,
            vec![sis.clone(), enrollment_system(&dir, "nnew", "Nia")],
        )
        .await;
        for id in ["sis", "enroll"] {
            let run = engine
                .import(&org, id, ImportOptions::default())
                .await
                .unwrap();
            assert_committed(&run, &format!("{url}: {id}"));
        }
        let export = || async {
            engine
                .export(
                    &org,
                    "sis",
                    ExportOptions {
                        trigger: "manual".into(),
                        by: "test".into(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
        };
        let run = export().await;
        assert_committed(&run, &url);
        assert_eq!(
            (
                count(&run, "user", |c| c.add),
                count(&run, "user", |c| c.errors)
            ),
            (1, 0),
            "{url}: only the new student goes; what PowerSchool supplied is not sent back: {:?} {:?}",
            run.report.counts,
            run.report.errors
        );
        let d = mock.district();
        let made: Vec<&serde_json::Value> = d
            .students
            .values()
            .filter(|s| s["student_username"] == "nnew")
            .collect();
        assert_eq!(made.len(), 1, "{url}");
        let first_school = *d.schools.keys().next().unwrap();
        assert_eq!(
            made[0]["school_enrollment"]["school_id"],
            json!(first_school),
            "{url}: enrolled at PowerSchool's school 100"
        );

        // The enrollment system renames the student and changes the
        // username: the change is refused, saying why, and PowerSchool keeps
        // both as they were.
        configure_sources(
            &engine,
            &org,
            vec![sis.clone(), enrollment_system(&dir, "nia.new", "Nina")],
        )
        .await;
        let run = engine
            .import(&org, "enroll", ImportOptions::default())
            .await
            .unwrap();
        assert_committed(&run, &url);
        let run = export().await;
        assert_eq!(
            count(&run, "user", |c| c.errors),
            1,
            "{url}: {:?}",
            run.report
        );
        let said = format!("{:?}", run.report.errors);
        assert!(
            said.contains("the username from nnew to nia.new")
                && said.contains("in PowerSchool itself"),
            "{url}: {said}"
        );
        let kept = mock.district();
        let kept: Vec<&serde_json::Value> = kept
            .students
            .values()
            .filter(|s| s["student_username"] == "nnew")
            .collect();
        assert_eq!(kept.len(), 1, "{url}");
        assert_eq!(
            kept[0]["name"]["first_name"], "Nia",
            "{url}: refused as a whole"
        );
    }
}

#[tokio::test]
async fn a_run_that_fails_mid_read_loses_nothing_and_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    unsafe { std::env::set_var("HOMEROOM_TEST_POWERSCHOOL_SECRET", CLIENT_SECRET) };
    let url = &database_urls(tmp.path())[0];
    let mock = MockPowerSchool::start(district()).await.unwrap();
    let engine = engine(url).await;
    let org = org_id("powerschool-faults");
    configure(&engine, &org, source(&mock)).await;
    let first = engine
        .import(&org, "sis", ImportOptions::default())
        .await
        .unwrap();
    assert_committed(&first, "full");
    let before = engine.store().entity_counts(&org).await.unwrap();
    // PowerSchool failing past the host's retries, then a broken page: each
    // run fails naming what it read and what to do; nothing committed moves.
    for (fault, says) in [
        ("500", "PowerSchool is failing; run again later"),
        ("malformed", "not valid JSON"),
    ] {
        match fault {
            "500" => mock.fail_with_500(10_000),
            _ => mock.malformed_json(1),
        }
        let run = engine
            .import(&org, "sis", ImportOptions::default())
            .await
            .unwrap();
        mock.fail_with_500(0);
        assert_eq!(run.status, RunStatus::Failed, "{fault}");
        let failure = run.report.failure.clone().unwrap_or_default();
        assert!(
            failure.contains(says) && failure.contains("reading"),
            "{fault}: {failure}"
        );
        assert!(!failure.contains(CLIENT_SECRET), "{failure}");
        assert_eq!(
            engine.store().entity_counts(&org).await.unwrap(),
            before,
            "{fault}: nothing lost"
        );
    }
    let again = engine
        .import(&org, "sis", ImportOptions::default())
        .await
        .unwrap();
    assert_committed(&again, "after the faults");
    assert_eq!(again.report.changes(), 0, "{:?}", again.report.counts);
}

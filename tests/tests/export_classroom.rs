//! Data leaves the hub (issue 14): the sample district imported from its
//! OneRoster CSV drop, then exported to Google Classroom (the mock written
//! from the Classroom discovery document, real HTTP on loopback) through
//! the Google Classroom connector: classes become courses owned by the
//! admin, enrollments course members by email. On SQLite and PostgreSQL.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use homeroom_host::config::{DistrictConfig, Organization, SourceConfig, SyncMode};
use homeroom_host::pipeline::export::ExportOptions;
use homeroom_host::pipeline::{Engine, ImportOptions};
use homeroom_host::secret::Secret;
use homeroom_host::store::{Run, RunStatus};
use homeroom_tests::classroom_mock::{
    ADMIN_EMAIL, CLIENT_ID, CLIENT_SECRET, MockClassroom, REFRESH_TOKEN,
};
use homeroom_tests::support::{count, database_urls, engine, org_id};

fn sample() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/sample-district"
    ))
}

/// The sample district's people, as the district's Google Workspace holds
/// them: (email, role) by sourcedId.
fn people() -> BTreeMap<String, String> {
    let mut reader = csv::Reader::from_path(sample().join("users.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let at = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (id, email) = (at("sourcedId"), at("email"));
    reader
        .records()
        .map(|r| r.unwrap())
        .filter(|r| !r[email].is_empty())
        .map(|r| (r[id].to_string(), r[email].to_lowercase()))
        .collect()
}

/// The sample's enrollments of students and teachers: (class, user, role).
fn enrollments() -> BTreeSet<(String, String, String)> {
    let mut reader = csv::Reader::from_path(sample().join("enrollments.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let at = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (class, user, role) = (at("classSourcedId"), at("userSourcedId"), at("role"));
    reader
        .records()
        .map(|r| r.unwrap())
        .filter(|r| matches!(&r[role], "student" | "teacher"))
        .map(|r| {
            (
                r[class].to_string(),
                r[user].to_string(),
                r[role].to_string(),
            )
        })
        .collect()
}

async fn classroom() -> MockClassroom {
    let mock = MockClassroom::start().await.unwrap();
    for (i, (_, email)) in people().iter().enumerate() {
        mock.add_user(email, &format!("2{i:020}"), email);
    }
    mock
}

fn destination(mock: &MockClassroom) -> SourceConfig {
    let mut s = SourceConfig::new("classroom", "google-classroom");
    s.sync_mode = SyncMode::Export;
    s.settings.insert("service_url".into(), mock.base_url());
    s.settings.insert("token_url".into(), mock.token_url());
    s.settings.insert("client_id".into(), CLIENT_ID.into());
    s.settings.insert("owner".into(), ADMIN_EMAIL.into());
    s
}

fn secrets() -> BTreeMap<String, Secret> {
    BTreeMap::from([
        (
            "client_secret".to_string(),
            Secret::new(CLIENT_SECRET.to_string()),
        ),
        (
            "refresh_token".to_string(),
            Secret::new(REFRESH_TOKEN.to_string()),
        ),
    ])
}

async fn setup(engine: &Engine, org: &str, mock: &MockClassroom) {
    let mut sis = SourceConfig::new("sis", "oneroster-csv");
    sis.folder = Some(sample().display().to_string());
    sis.advanced.auto_commit = true;
    engine
        .apply_config(&DistrictConfig {
            organization: Organization {
                id: org.into(),
                name: "Maplewood".into(),
                ..Default::default()
            },
            sources: vec![sis, destination(mock)],
            vendors: Vec::new(),
        })
        .await
        .expect("apply");
    let run = engine
        .import(org, "sis", ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Committed, "{:?}", run.report.failure);
}

async fn export(engine: &Engine, org: &str) -> Run {
    engine
        .export(
            org,
            "classroom",
            ExportOptions {
                trigger: "manual".into(),
                by: "test".into(),
                secrets: Some(secrets()),
                ..Default::default()
            },
        )
        .await
        .expect("the export runs")
}

/// Every class is one course owned by the admin, under its alias, with
/// exactly the class's students and teachers; a second export sends
/// nothing.
#[tokio::test]
async fn the_sample_district_exports_to_classroom_and_again_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let mock = classroom().await;
        let engine = engine(&url).await;
        let org = org_id("classroom");
        setup(&engine, &org, &mock).await;

        let run = export(&engine, &org).await;
        assert_eq!(run.status, RunStatus::Committed, "{url}: {:?}", run.report);
        assert_eq!(run.mode, "export");
        assert_eq!(
            count(&run, "class", |c| c.add),
            61,
            "{url}: {:?}",
            run.report.counts
        );
        let wanted = enrollments();
        assert_eq!(
            count(&run, "enrollment", |c| c.add),
            wanted.len() as u64,
            "{url}: {:?} {:?}",
            run.report.counts,
            run.report.errors.first()
        );
        let snapshot = mock.snapshot();
        assert_eq!(snapshot.courses.len(), 61, "{url}");
        assert!(snapshot.duplicate_courses().is_empty(), "{url}");
        let emails = people();
        let mut members = BTreeSet::new();
        for course in mock.courses() {
            assert_eq!(course.owner_id, homeroom_tests::classroom_mock::ADMIN_ID);
            for t in mock.teachers(&course.id) {
                members.insert((course.id.clone(), t.email.clone(), "teacher"));
            }
            for s in mock.students(&course.id) {
                members.insert((course.id.clone(), s.email.clone(), "student"));
            }
        }
        let teachers_in_classroom = members.iter().filter(|m| m.2 == "teacher").count();
        let wanted_teachers = wanted.iter().filter(|e| e.2 == "teacher").count();
        // The owner is a teacher of each course too.
        assert_eq!(teachers_in_classroom, wanted_teachers + 61, "{url}");
        let students: BTreeSet<String> = members
            .iter()
            .filter(|m| m.2 == "student")
            .map(|m| m.1.clone())
            .collect();
        for (_, user, role) in &wanted {
            if role == "student" {
                assert!(
                    students.contains(&emails[user]),
                    "{url}: {user} is in Classroom"
                );
            }
        }
        let batched = mock.batch_requests();
        assert!(
            batched >= 1 && batched as usize <= wanted.len() / 50 + 62,
            "{url}: members go 50 to a batch ({batched} batches)"
        );

        let calls = mock.count_all().total();
        let again = export(&engine, &org).await;
        assert_eq!(again.status, RunStatus::Committed);
        assert_eq!(
            again
                .report
                .total(|c| c.add + c.update + c.delete + c.errors + c.retry),
            0,
            "{url}: a second export changes nothing: {:?}",
            again.report.counts
        );
        assert_eq!(
            mock.count_all().total() - calls,
            0,
            "{url}: and sends Classroom nothing"
        );
    }
}

/// A 429 storm from Classroom (a third of all calls, inside batches too)
/// is ridden out: the export completes, or what was told to wait goes at
/// the next export, and no course or member is made twice.
#[tokio::test]
async fn a_429_storm_from_classroom_completes_without_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let url = database_urls(tmp.path()).remove(0);
    let mock = classroom().await;
    let engine = engine(&url).await;
    let org = org_id("storm");
    setup(&engine, &org, &mock).await;
    mock.storm_429(0.3, 7, None);
    let mut runs = 0;
    loop {
        let run = export(&engine, &org).await;
        runs += 1;
        assert_eq!(run.status, RunStatus::Committed, "{:?}", run.report.failure);
        if count(&run, "class", |c| c.retry) + count(&run, "enrollment", |c| c.retry) == 0 {
            break;
        }
        assert!(runs < 6, "the storm never ends: {:?}", run.report.counts);
    }
    mock.storm_429(0.0, 0, None);
    let snapshot = mock.snapshot();
    assert_eq!(snapshot.courses.len(), 61);
    assert!(snapshot.duplicate_courses().is_empty());
    let students: usize = mock
        .courses()
        .iter()
        .map(|c| mock.students(&c.id).len())
        .sum();
    let wanted = enrollments().iter().filter(|e| e.2 == "student").count();
    assert_eq!(students, wanted);
}

fn homeroom() -> std::path::PathBuf {
    homeroom_tests::support::homeroom_binary()
}

/// The district as one file, for the command line: the CSV drop and the
/// Classroom destination, its secrets named by environment variable.
fn config_file(dir: &Path, mock: &MockClassroom) -> std::path::PathBuf {
    let text = format!(
        r#"[organization]
id = "maplewood"
name = "Maplewood"

[[source]]
id = "sis"
plugin = "oneroster-csv"
folder = "{sample}"

[source.advanced]
auto_commit = true

[[source]]
id = "classroom"
plugin = "google-classroom"
sync_mode = "export"

[source.settings]
service_url = "{base}"
token_url = "{token}"
client_id = "{client}"
owner = "{owner}"

[source.secrets]
client_secret = "TEST_CLASSROOM_SECRET"
refresh_token = "TEST_CLASSROOM_REFRESH"
"#,
        sample = sample().display(),
        base = mock.base_url(),
        token = mock.token_url(),
        client = CLIENT_ID,
        owner = ADMIN_EMAIL,
    );
    let path = dir.join("maplewood.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn cli(db: &str, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(homeroom());
    c.args(["--db", db, "--org", "maplewood"])
        .args(args)
        .env("TEST_CLASSROOM_SECRET", CLIENT_SECRET)
        .env("TEST_CLASSROOM_REFRESH", REFRESH_TOKEN)
        .env("HOMEROOM_CACHE_DIR", "off");
    c
}

/// `homeroom import` commits and exports by itself; killed with SIGKILL
/// half way through the export, then run again, it leaves no course and no
/// member twice in Classroom, and the second export goes on where the
/// first stopped.
#[tokio::test]
async fn a_host_killed_mid_export_leaves_no_duplicate_in_classroom() {
    let tmp = tempfile::tempdir().unwrap();
    let mock = classroom().await;
    let db = format!("sqlite://{}", tmp.path().join("hub.db").display());
    let config = config_file(tmp.path(), &mock);
    let applied = cli(&db, &["apply", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );

    // Slow Classroom down so the kill lands inside the export.
    mock.set_latency(std::time::Duration::from_millis(30));
    let mut child = cli(&db, &["import", "sis"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while mock.count_method("courses.create").total() < 20 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "the export never started creating courses"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before the kill"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = mock.snapshot().courses.len();
    assert!(
        before > 0 && before < 61,
        "killed mid-export: {before} courses"
    );

    mock.set_latency(std::time::Duration::ZERO);
    let calls_before = mock.calls().len();
    // Run by tokio, so the mock on this runtime answers while it runs.
    let again = tokio::process::Command::from(cli(&db, &["export", "classroom"]))
        .output()
        .await
        .unwrap();
    let mut by_method: BTreeMap<String, usize> = BTreeMap::new();
    for c in &mock.calls()[calls_before..] {
        *by_method
            .entry(format!("{} {}", c.method_id, c.status))
            .or_default() += 1;
    }
    assert!(
        again.status.success(),
        "{}{}\ncalls of the second export: {by_method:?}",
        String::from_utf8_lossy(&again.stdout),
        String::from_utf8_lossy(&again.stderr)
    );
    let snapshot = mock.snapshot();
    assert_eq!(snapshot.courses.len(), 61);
    assert!(snapshot.duplicate_courses().is_empty());
    for course in &snapshot.courses {
        let emails: Vec<String> = mock
            .students(&course.id)
            .into_iter()
            .map(|u| u.email)
            .collect();
        let unique: BTreeSet<&String> = emails.iter().collect();
        assert_eq!(
            unique.len(),
            emails.len(),
            "no student twice in {}",
            course.name
        );
    }
    let students: usize = snapshot
        .courses
        .iter()
        .map(|c| mock.students(&c.id).len())
        .sum();
    assert_eq!(
        students,
        enrollments().iter().filter(|e| e.2 == "student").count()
    );
    // Each course was created once: a create the killed host sent again
    // was answered ALREADY_EXISTS and found again by its alias.
    let created = mock
        .calls()
        .iter()
        .filter(|c| c.method_id == "courses.create" && c.status == 200)
        .count();
    assert_eq!(created, 61);
}

/// A destination's export filters choose what goes: only the classes of
/// the school its list names become courses; when the list names the other
/// school instead, the first school's courses are deleted (archived) and
/// the other's made.
#[tokio::test]
async fn export_filters_choose_the_schools_a_destination_gets() {
    use homeroom_host::config::{Filter, FilterRule};
    let tmp = tempfile::tempdir().unwrap();
    let url = database_urls(tmp.path()).remove(0);
    let mock = classroom().await;
    let engine = engine(&url).await;
    let org = org_id("schools");
    setup(&engine, &org, &mock).await;
    let only = |school: &str| {
        let mut d = destination(&mock);
        d.export.filters = vec![Filter {
            kind: "class".into(),
            rule: FilterRule::SchoolInList {
                schools: vec![school.into()],
            },
        }];
        d
    };
    let mut sis = engine.store().source(&org, "sis").await.unwrap().config;
    sis.enabled = true;
    let apply = |dest: SourceConfig| DistrictConfig {
        organization: Organization {
            id: org.clone(),
            name: "Maplewood".into(),
            ..Default::default()
        },
        sources: vec![sis.clone(), dest],
        vendors: Vec::new(),
    };
    engine.apply_config(&apply(only("org-es1"))).await.unwrap();
    let refused = engine
        .import(&org, "classroom", ImportOptions::default())
        .await
        .expect_err("an export integration is never read from");
    assert!(refused.to_string().contains("is an export"), "{refused}");
    let run = export(&engine, &org).await;
    assert_eq!(
        count(&run, "class", |c| c.add),
        12,
        "{:?}",
        run.report.counts
    );
    assert_eq!(count(&run, "class", |c| c.skipped), 49);
    assert_eq!(
        count(&run, "enrollment", |c| c.retry + c.errors),
        0,
        "the left-out classes' enrollments stay out with them"
    );
    assert_eq!(mock.courses().len(), 12);

    engine.apply_config(&apply(only("org-hs1"))).await.unwrap();
    // Every course there would go: past the hold threshold for deletes,
    // the export waits for an admin and Classroom hears nothing.
    let calls = mock.count_all().total();
    let held = export(&engine, &org).await;
    assert_eq!(held.status, RunStatus::Held, "{:?}", held.report.counts);
    assert!(
        held.hold_reason
            .as_deref()
            .is_some_and(|r| r.contains("class records deleted")),
        "{:?}",
        held.hold_reason
    );
    assert_eq!(
        count(&held, "class", |c| c.delete),
        12,
        "the preview counts"
    );
    assert_eq!(mock.count_all().total(), calls, "nothing was sent");
    assert_eq!(mock.courses().len(), 12);
    // Approved, it goes on under the same run.
    let run = engine
        .export(
            &org,
            "classroom",
            ExportOptions {
                trigger: "manual".into(),
                by: "admin".into(),
                secrets: Some(secrets()),
                approved: Some(held.id.clone()),
                ..Default::default()
            },
        )
        .await
        .expect("the approved export runs");
    assert_eq!(run.id, held.id);
    assert_eq!(run.status, RunStatus::Committed, "{:?}", run.report.failure);
    assert_eq!(
        count(&run, "class", |c| c.add),
        49,
        "{:?}",
        run.report.counts
    );
    assert_eq!(count(&run, "class", |c| c.delete), 12);
    let active = mock
        .courses()
        .iter()
        .filter(|c| c.course_state != "ARCHIVED")
        .count();
    assert_eq!(active, 49, "the elementary school's courses are archived");
}

/// A refresh token Google no longer takes: the export is a failed run
/// that says what to do, kept in history; none is left running, and the
/// next export, once the token is good again, sends everything.
#[tokio::test]
async fn a_revoked_google_token_fails_the_export_with_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let url = database_urls(tmp.path()).remove(0);
    let mock = classroom().await;
    let engine = engine(&url).await;
    let org = org_id("revoked");
    setup(&engine, &org, &mock).await;
    mock.revoke_refresh_token(true);
    let run = export(&engine, &org).await;
    assert_eq!(run.status, RunStatus::Failed);
    let failure = run.report.failure.clone().unwrap_or_default();
    assert!(
        failure.to_lowercase().contains("refresh token") || failure.contains("sign in"),
        "{failure}"
    );
    assert!(
        !failure.contains(REFRESH_TOKEN) && !failure.contains(CLIENT_SECRET),
        "{failure}"
    );
    assert!(mock.courses().is_empty());
    mock.revoke_refresh_token(false);
    let run = export(&engine, &org).await;
    assert_eq!(run.status, RunStatus::Committed, "{:?}", run.report.failure);
    assert_eq!(count(&run, "class", |c| c.add), 61);
}

//! The built-in Clever connector through the real host against the mock
//! Clever API over loopback: full imports with exact counts on SQLite and
//! PostgreSQL, quick imports from the events API (and the full resync when
//! the events window has passed), the fault matrix, and Clever's rate limit
//! told in its headers.

use std::collections::BTreeMap;
use std::time::Duration;

use homeroom_host::bindings::types::{EntityKind, Status};
use homeroom_host::config::SourceConfig;
use homeroom_host::pipeline::{Engine, ImportOptions};
use homeroom_host::runtime::ConnectorSession;
use homeroom_host::secret::Secret;
use homeroom_tests::clever_mock::{District, MockClever, MockConfig, TOKEN};
use homeroom_tests::support::{
    assert_committed, builtin_session, configure, count, database_urls, engine, org_id, quick,
    read_all,
};
use serde_json::json;

/// 3 schools of 4 sections of 5 students: 60 students, 12 teachers, 3
/// staff, 15 contacts.
fn district() -> District {
    District::generated(3, 4, 5)
}

/// What an import of `d` reads, per kind.
fn expected(d: &District) -> Vec<(&'static str, u64)> {
    vec![
        ("org", (d.count("districts") + d.count("schools")) as u64),
        ("academic-session", d.count("terms") as u64),
        ("course", d.count("courses") as u64),
        ("class", d.count("sections") as u64),
        ("user", d.count("users") as u64),
        ("enrollment", d.enrollments() as u64),
    ]
}

fn source(mock: &MockClever, version: &str) -> SourceConfig {
    let mut s = SourceConfig::new("sis", "clever");
    s.settings.insert("service_url".into(), mock.base_url());
    s.settings.insert("version".into(), version.into());
    s.settings.insert("auth".into(), "bearer".into());
    s.settings.insert("page_size".into(), "25".into());
    s.secrets
        .insert("token".into(), "HOMEROOM_TEST_CLEVER_TOKEN".into());
    // Every delta below is small; never hold it, commit it.
    s.advanced.hold.updated_share = 1.0;
    s.advanced.hold.deleted_share = 1.0;
    s
}

async fn setup(engine: &Engine, org: &str, source: SourceConfig) {
    // The source names the environment variable; every test sets the same value.
    unsafe { std::env::set_var("HOMEROOM_TEST_CLEVER_TOKEN", TOKEN) };
    configure(engine, org, source).await;
}

#[tokio::test]
async fn a_district_imports_with_exact_counts_then_quick_runs_from_events() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        for version in ["3.0", "3.1"] {
            let what = format!("{url} Clever v{version}");
            let mock = MockClever::start(district()).await.unwrap();
            let engine = engine(&url).await;
            let org = org_id("clever");
            setup(&engine, &org, source(&mock, version)).await;
            let started = std::time::Instant::now();
            let first = engine
                .import(&org, "sis", ImportOptions::default())
                .await
                .unwrap();
            let took = started.elapsed();
            assert_committed(&first, &what);
            for (kind, n) in expected(&mock.district()) {
                let c = &first.report.counts[kind];
                assert_eq!((c.read, c.add, c.errors), (n, n, 0), "{what}: {kind}");
            }
            eprintln!(
                "{what}: full import of {} records in {took:?}, {} requests",
                first.report.counts.values().map(|c| c.read).sum::<u64>(),
                mock.requests().len()
            );
            assert!(
                mock.requests()
                    .iter()
                    .all(|r| r.path.starts_with(&format!("/v{version}/"))),
                "{what}: every request under the version's base path"
            );

            // In Clever: a student renamed, one added, one deleted, a
            // section losing a student and gaining the new one.
            let d = mock.district();
            let students: Vec<String> = d.collections["users"]
                .iter()
                .filter(|(_, u)| u["roles"].get("student").is_some())
                .map(|(id, _)| id.clone())
                .collect();
            let (renamed, gone) = (students[0].clone(), students[1].clone());
            mock.update("users", &renamed, |u| u["name"]["first"] = json!("Renamed"));
            mock.delete("users", &gone);
            let mut template = d.collections["users"][&students[2]].clone();
            template["roles"]["student"]["student_number"] = json!("99999");
            template["email"] = json!("new.student@maplewood.org");
            let added = mock.create("users", template);
            let (section, x) = d.collections["sections"]
                .iter()
                .next()
                .map(|(id, x)| (id.clone(), x.clone()))
                .unwrap();
            let dropped = x["students"][2].as_str().unwrap().to_string();
            // Clever takes a deleted student out of their sections too.
            mock.update("sections", &section, |x| {
                let list = x["students"].as_array_mut().unwrap();
                list.retain(|s| s != dropped.as_str() && s != gone.as_str());
                list.push(json!(added));
            });
            let before = mock.requests().len();
            let delta = engine.import(&org, "sis", quick()).await.unwrap();
            assert_committed(&delta, &what);
            let users = &delta.report.counts["user"];
            assert_eq!(
                (users.read, users.add, users.update, users.delete),
                (3, 1, 1, 1),
                "{what}: {users:?}"
            );
            let e = &delta.report.counts["enrollment"];
            assert_eq!(
                (e.add, e.delete),
                (1, 2),
                "{what}: the section's enrollment changes: {e:?}"
            );
            assert_eq!(
                count(&delta, "class", |c| c.update),
                0,
                "{what}: the class itself is unchanged"
            );
            let asked = &mock.requests()[before..];
            assert!(
                asked.iter().all(|r| r.path.ends_with("/events")),
                "{what}: a quick run reads events only: {:?}",
                asked.iter().map(|r| &r.path).collect::<Vec<_>>()
            );
            let kept = engine
                .store()
                .entity_of(&org, "sis", "user", &renamed)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(kept.data["givenName"]["v"], "Renamed", "{what}");

            // Nothing new: the next quick run changes nothing.
            let idle = engine.import(&org, "sis", quick()).await.unwrap();
            assert_committed(&idle, &what);
            assert_eq!(idle.report.changes(), 0, "{what}: {:?}", idle.report.counts);
        }
    }
}

#[tokio::test]
async fn a_passed_events_window_resyncs_in_full() {
    let tmp = tempfile::tempdir().unwrap();
    let url = &database_urls(tmp.path())[0];
    let mock = MockClever::start(district()).await.unwrap();
    let d = mock.district();
    let first_user = d.collections["users"].keys().next().unwrap().clone();
    mock.update("users", &first_user, |u| {
        u["name"]["last"] = json!("Before")
    });
    // The newest event is older than the full import by more than the
    // clock slack the connector allows, so the quick run starts after it.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let engine = engine(url).await;
    let org = org_id("clever-window");
    setup(&engine, &org, source(&mock, "3.1")).await;
    assert_committed(
        &engine
            .import(&org, "sis", ImportOptions::default())
            .await
            .unwrap(),
        "full",
    );
    // Clever keeps events for a while only; these are gone.
    mock.update("users", &first_user, |u| u["name"]["last"] = json!("After"));
    mock.expire_events();
    let delta = engine.import(&org, "sis", quick()).await.unwrap();
    assert_committed(&delta, "resync");
    let users = &delta.report.counts["user"];
    assert_eq!(
        (users.read, users.update),
        (d.count("users") as u64, 1),
        "{users:?}"
    );
    let warned = format!("{:?}", delta.report);
    assert!(
        warned.contains("events window has passed") && warned.contains("full resync"),
        "{warned}"
    );
}

// --- The connector in the runtime, without the engine -----------------

async fn connect(mock: &MockClever, token: &str, page_size: &str) -> ConnectorSession {
    let settings = BTreeMap::from([
        ("service_url".to_string(), mock.base_url()),
        ("auth".to_string(), "bearer".to_string()),
        ("page_size".to_string(), page_size.to_string()),
    ]);
    let secrets = BTreeMap::from([("token".to_string(), Secret::new(token))]);
    builtin_session("clever", &settings, &secrets).await
}

#[tokio::test]
async fn the_connection_test_names_the_district() {
    let mock = MockClever::start(district()).await.unwrap();
    let mut session = connect(&mock, TOKEN, "2").await;
    let said = session.test_connection().await.unwrap();
    assert_eq!(
        said,
        format!(
            "Clever v3.1 at {}/v3.1: Maplewood Unified, 3 schools; events: available for quick imports",
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

    let mut refused = connect(&mock, "not-the-token", "2").await;
    let err = refused.test_connection().await.unwrap_err().to_string();
    assert!(
        err.contains("refused the District token (401)") && err.contains("copy the token again"),
        "{err}"
    );
}

#[tokio::test]
async fn the_fault_matrix_is_ridden_out_or_named() {
    let mock = MockClever::start(district()).await.unwrap();
    let users = mock.district().count("users");
    let mut session = connect(&mock, TOKEN, "10").await;

    // A 429 storm shorter than the host's retries, 5xx, a body cut mid-way:
    // the host retries, and every user arrives once.
    for fault in ["429", "500", "truncated"] {
        match fault {
            "429" => mock.fail_with_429(4, 0),
            "500" => mock.fail_with_500(3),
            _ => mock.truncate_bodies(2),
        }
        let read = read_all(&mut session, EntityKind::User)
            .await
            .unwrap_or_else(|e| panic!("{fault}: {e}"));
        assert_eq!(read.len(), users, "{fault}");
        let mut ids: Vec<_> = read.iter().map(|e| e.source_id.clone()).collect();
        ids.dedup();
        assert_eq!(ids.len(), users, "{fault}: no user twice");
        assert!(read.iter().all(|e| e.status == Status::Active));
    }

    // A storm that outlasts the retries fails as rate limited.
    mock.fail_with_429(100, 0);
    let err = read_all(&mut session, EntityKind::User).await.unwrap_err();
    assert!(err.contains("429"), "{err}");
    mock.fail_with_429(0, 0);

    // Malformed JSON is refused, naming the page (the first broken body is
    // the newest-event lookup a full read starts with, which only warns).
    mock.malformed_json(2);
    let err = read_all(&mut session, EntityKind::Class).await.unwrap_err();
    assert!(
        err.contains("reading sections") && err.contains("not valid JSON"),
        "{err}"
    );

    // A page repeated once is asked again; repeated twice, refused.
    mock.repeat_pages(1);
    assert_eq!(
        read_all(&mut session, EntityKind::User)
            .await
            .unwrap()
            .len(),
        users
    );
    mock.repeat_pages(2);
    let err = read_all(&mut session, EntityKind::User).await.unwrap_err();
    assert!(err.contains("ignores `starting_after`"), "{err}");
}

#[tokio::test]
async fn the_rate_limit_headers_hold_requests_until_the_reset() {
    // Five requests a second: a read of 20 pages must wait for the resets
    // the headers announce, never meeting a 429.
    let mock = MockClever::start_with(
        district(),
        MockConfig {
            rate_limit: 5,
            rate_window: Duration::from_secs(1),
            ..MockConfig::default()
        },
    )
    .await
    .unwrap();
    let users = mock.district().count("users");
    let mut session = connect(&mock, TOKEN, "5").await;
    let started = std::time::Instant::now();
    let read = read_all(&mut session, EntityKind::User).await.unwrap();
    let took = started.elapsed();
    assert_eq!(read.len(), users);
    let log = mock.requests();
    assert!(
        log.iter().all(|r| r.status == 200),
        "{:?}",
        log.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let windows = log.len().div_ceil(5) as u32;
    assert!(
        took >= Duration::from_millis(900) * (windows - 1).min(3),
        "{} requests in {took:?}",
        log.len()
    );
    eprintln!(
        "{} requests at 5 a second in {took:?}, none refused",
        log.len()
    );
}

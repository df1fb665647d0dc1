//! The built-in xPress Roster connector through the real host against the
//! mock xPress provider over loopback: the host's password grant and API
//! key, full imports with exact counts on SQLite and PostgreSQL, quick
//! imports from each collection's changesSinceMarker (and a full resync
//! when the provider refuses the marker), and the fault matrix.

use std::collections::BTreeMap;

use homeroom_host::bindings::types::{EntityKind, Status};
use homeroom_host::capabilities::http::HttpLimits;
use homeroom_host::config::SourceConfig;
use homeroom_host::gallery::grant::grant;
use homeroom_host::pipeline::{Engine, ImportOptions};
use homeroom_host::runtime::ConnectorSession;
use homeroom_host::secret::Secret;
use homeroom_tests::support::{
    assert_committed, builtin_plugin, builtin_session, configure, count, database_urls, engine,
    org_id, quick, read_all,
};
use homeroom_tests::xpress_mock::{
    API_KEY, CLIENT_ID, CLIENT_SECRET, District, MockConfig, MockXPress, PASSWORD, USERNAME,
};
use serde_json::json;

/// 2 schools of 3 rosters of 4 students: 24 students and contacts, 8 staff.
fn district() -> District {
    District::generated(2, 3, 4)
}

fn expected(d: &District) -> Vec<(&'static str, u64)> {
    vec![
        ("org", (d.count("xLeas") + d.count("xSchools")) as u64),
        ("academic-session", d.sessions() as u64),
        ("course", d.count("xCourses") as u64),
        ("class", d.count("xRosters") as u64),
        ("user", d.users() as u64),
        ("enrollment", d.enrollments() as u64),
    ]
}

fn source(mock: &MockXPress) -> SourceConfig {
    let mut s = SourceConfig::new("sis", "xpress-roster");
    s.name = Some("Maplewood RIC".into());
    for (k, v) in [
        ("service_url", mock.base_url()),
        ("token_url", mock.token_url()),
        ("client_id", CLIENT_ID.to_string()),
        ("username", USERNAME.to_string()),
        ("page_size", "5".to_string()),
    ] {
        s.settings.insert(k.into(), v);
    }
    for (k, v) in [
        ("client_secret", "HOMEROOM_TEST_XPRESS_CLIENT_SECRET"),
        ("password", "HOMEROOM_TEST_XPRESS_PASSWORD"),
        ("api_key", "HOMEROOM_TEST_XPRESS_API_KEY"),
    ] {
        s.secrets.insert(k.into(), v.into());
    }
    s.advanced.hold.updated_share = 1.0;
    s.advanced.hold.deleted_share = 1.0;
    s
}

async fn setup(engine: &Engine, org: &str, source: SourceConfig) {
    // The source names environment variables; every test sets the same values.
    unsafe {
        std::env::set_var("HOMEROOM_TEST_XPRESS_CLIENT_SECRET", CLIENT_SECRET);
        std::env::set_var("HOMEROOM_TEST_XPRESS_PASSWORD", PASSWORD);
        std::env::set_var("HOMEROOM_TEST_XPRESS_API_KEY", API_KEY);
    }
    configure(engine, org, source).await;
}

#[tokio::test]
async fn a_district_imports_with_exact_counts_then_quick_runs_from_change_markers() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let mock = MockXPress::start(district()).await.unwrap();
        let engine = engine(&url).await;
        let org = org_id("xpress");
        setup(&engine, &org, source(&mock)).await;
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
        let log = mock.requests();
        eprintln!(
            "{url}: full import of {} records in {took:?}, {} requests",
            first.report.counts.values().map(|c| c.read).sum::<u64>(),
            log.len()
        );
        // The host signed in once with the password grant and sent the
        // API key on every object request, never to the token endpoint.
        let tokens: Vec<_> = log.iter().filter(|r| r.path == "/token").collect();
        assert_eq!(tokens.len(), 1, "one token for the whole run");
        assert!(
            !tokens[0].api_key,
            "the API key never goes to the token endpoint"
        );
        assert!(
            log.iter()
                .filter(|r| r.path != "/token")
                .all(|r| r.api_key && r.status < 300 && r.page.is_some()),
            "{url}: every object request paged and keyed"
        );

        // In the SIS: a student renamed, a student added to a roster.
        let d = mock.district();
        let renamed = d.collections["xStudents"].keys().next().unwrap().clone();
        mock.update("xStudents", &renamed, |s| {
            s["name"]["givenName"] = json!("Renamed")
        });
        let mut template = d.collections["xStudents"][&renamed].clone();
        template["localId"] = json!("99999");
        template["email"]["emailAddress"] = json!("new.student@maplewood.org");
        let added = mock.create("xStudents", template);
        let roster = d.collections["xRosters"].keys().next().unwrap().clone();
        mock.update("xRosters", &roster, |r| {
            r["students"]["studentReference"]
                .as_array_mut()
                .unwrap()
                .push(json!({"refId": added}))
        });
        let before = mock.requests().len();
        let delta = engine.import(&org, "sis", quick()).await.unwrap();
        assert_committed(&delta, &url);
        let users = &delta.report.counts["user"];
        assert_eq!(
            (users.read, users.add, users.update, users.delete),
            (2, 1, 1, 0),
            "{url}: {users:?}"
        );
        let e = &delta.report.counts["enrollment"];
        assert_eq!((e.add, e.delete), (1, 0), "{url}: {e:?}");
        assert_eq!(
            count(&delta, "class", |c| c.update),
            0,
            "{url}: the class is unchanged"
        );
        let asked = &mock.requests()[before..];
        assert!(
            asked
                .iter()
                .filter(|r| r.path != "/token" && !r.path.ends_with("/xLeas"))
                .all(|r| r.query.starts_with("changesSinceMarker=")),
            "{url}: a quick run asks for changes only: {:?}",
            asked
                .iter()
                .map(|r| (&r.path, &r.query))
                .collect::<Vec<_>>()
        );
        let kept = engine
            .store()
            .entity_of(&org, "sis", "user", &renamed)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.data["givenName"]["v"], "Renamed", "{url}");

        // Nothing new: the next quick run changes nothing.
        let idle = engine.import(&org, "sis", quick()).await.unwrap();
        assert_committed(&idle, &url);
        assert_eq!(idle.report.changes(), 0, "{url}: {:?}", idle.report.counts);

        // The provider forgets its markers: a full resync, said so.
        mock.update("xStudents", &renamed, |s| {
            s["name"]["familyName"] = json!("After")
        });
        mock.expire_markers();
        let resync = engine.import(&org, "sis", quick()).await.unwrap();
        assert_committed(&resync, &url);
        let users = &resync.report.counts["user"];
        assert_eq!(
            (users.read, users.update),
            (mock.district().users() as u64, 1),
            "{url}: {users:?}"
        );
        let warned = format!("{:?}", resync.report);
        assert!(
            warned.contains("no longer takes the change marker") && warned.contains("full resync"),
            "{warned}"
        );
    }
}

// --- The connector in the runtime, without the engine -----------------

async fn connect(mock: &MockXPress, password: &str, page_size: &str) -> ConnectorSession {
    connect_with(mock, password, API_KEY, page_size).await
}

async fn connect_with(
    mock: &MockXPress,
    password: &str,
    api_key: &str,
    page_size: &str,
) -> ConnectorSession {
    let settings = BTreeMap::from([
        ("service_url".to_string(), mock.base_url()),
        ("token_url".to_string(), mock.token_url()),
        ("client_id".to_string(), CLIENT_ID.to_string()),
        ("username".to_string(), USERNAME.to_string()),
        ("page_size".to_string(), page_size.to_string()),
    ]);
    let secrets = BTreeMap::from([
        ("client_secret".to_string(), Secret::new(CLIENT_SECRET)),
        ("password".to_string(), Secret::new(password)),
        ("api_key".to_string(), Secret::new(api_key)),
    ]);
    builtin_session("xpress", &settings, &secrets).await
}

#[tokio::test]
async fn no_secret_reaches_the_plugin() {
    let (_, loaded) = builtin_plugin("xpress");
    let settings = BTreeMap::from([
        (
            "service_url".to_string(),
            "https://xpress.example.org/api/requests".to_string(),
        ),
        (
            "token_url".to_string(),
            "https://xpress.example.org/token".to_string(),
        ),
        ("client_id".to_string(), CLIENT_ID.to_string()),
        ("username".to_string(), USERNAME.to_string()),
    ]);
    let secrets = BTreeMap::from([
        ("client_secret".to_string(), Secret::new(CLIENT_SECRET)),
        ("password".to_string(), Secret::new(PASSWORD)),
        ("api_key".to_string(), Secret::new(API_KEY)),
    ]);
    let granted = grant(
        &loaded.package.manifest,
        &settings,
        &secrets,
        HttpLimits::default(),
    )
    .expect("grant");
    let shown = format!("{:?}", granted.settings);
    for secret in [CLIENT_SECRET, PASSWORD, API_KEY] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(
        granted
            .settings
            .keys()
            .all(|k| !["password", "client_secret", "api_key"].contains(&k.as_str())),
        "{shown}"
    );
}

#[tokio::test]
async fn the_connection_test_names_the_district_and_a_wrong_password_is_named() {
    let mock = MockXPress::start(district()).await.unwrap();
    let mut session = connect(&mock, PASSWORD, "1").await;
    let said = session.test_connection().await.unwrap();
    assert_eq!(
        said,
        format!(
            "xPress Roster at {}: Maplewood Unified, 2 schools; changes since: available for quick imports",
            mock.base_url()
        )
    );
    let schools = session.list_schools().await.unwrap();
    assert_eq!(
        schools
            .iter()
            .map(|s| s.identifier.as_deref())
            .collect::<Vec<_>>(),
        [Some("100"), Some("101")]
    );

    let mut refused = connect(&mock, "not-the-password", "2").await;
    let err = refused.test_connection().await.unwrap_err().to_string();
    assert!(err.contains("Password"), "{err}");
    assert!(
        !err.contains("not-the-password") && !err.contains(API_KEY),
        "{err}"
    );

    let mut keyless = connect_with(&mock, PASSWORD, "not-the-key", "2").await;
    let err = keyless.test_connection().await.unwrap_err().to_string();
    assert!(
        err.contains("invalid or missing API key")
            && err.contains("API Key against the provider's credentials sheet"),
        "{err}"
    );
    assert!(
        !err.contains("not-the-key") && !err.contains(PASSWORD),
        "{err}"
    );
}

#[tokio::test]
async fn the_fault_matrix_is_ridden_out_or_named() {
    let mock = MockXPress::start(district()).await.unwrap();
    let users = mock.district().users();
    let mut session = connect(&mock, PASSWORD, "5").await;

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
        assert_eq!(read.len(), users, "{fault}");
        let mut ids: Vec<_> = read.iter().map(|e| e.source_id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), users, "{fault}: no user twice");
        assert!(read.iter().all(|e| e.status == Status::Active));
    }

    // A storm that outlasts the retries fails as rate limited.
    mock.fail_with_429(100);
    let err = read_all(&mut session, EntityKind::User).await.unwrap_err();
    assert!(err.contains("429"), "{err}");
    mock.fail_with_429(0);

    // Malformed JSON is refused, naming the page.
    mock.malformed_json(1);
    let err = read_all(&mut session, EntityKind::Class).await.unwrap_err();
    assert!(
        err.contains("reading xRosters page 1") && err.contains("not valid JSON"),
        "{err}"
    );

    // A navigationLastPage that lies, high or low, loses and repeats nothing.
    for lie in [7, -20] {
        mock.lie_about_last_page(lie);
        let read = read_all(&mut session, EntityKind::User).await.unwrap();
        assert_eq!(read.len(), users, "last page off by {lie}");
    }
    mock.lie_about_last_page(0);

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
    assert!(err.contains("ignores navigationPage"), "{err}");

    // A provider that serves fewer a page than asked (3 for 5, said in its
    // navigationPageSize) loses nothing.
    let config = MockConfig {
        max_page_size: 3,
        ..MockConfig::default()
    };
    let capped = MockXPress::start_with(district(), config).await.unwrap();
    let mut session = connect(&capped, PASSWORD, "5").await;
    let read = read_all(&mut session, EntityKind::User).await.unwrap();
    assert_eq!(read.len(), users, "pages of 3 for a page size of 5");
}

#[tokio::test]
async fn a_provider_without_changes_since_gets_a_full_read_for_a_quick_run() {
    let tmp = tempfile::tempdir().unwrap();
    let url = &database_urls(tmp.path())[0];
    let config = MockConfig {
        changes_since: false,
        ..MockConfig::default()
    };
    let mock = MockXPress::start_with(district(), config).await.unwrap();
    let mut session = connect(&mock, PASSWORD, "5").await;
    let said = session.test_connection().await.unwrap();
    assert!(
        said.ends_with("changes since: not offered, so quick imports read everything"),
        "{said}"
    );
    let engine = engine(url).await;
    let org = org_id("xpress-no-markers");
    setup(&engine, &org, source(&mock)).await;
    assert_committed(
        &engine
            .import(&org, "sis", ImportOptions::default())
            .await
            .unwrap(),
        "full",
    );
    let renamed = mock.district().collections["xStaffs"]
        .keys()
        .next()
        .unwrap()
        .clone();
    mock.update("xStaffs", &renamed, |s| {
        s["name"]["familyName"] = json!("Renamed")
    });
    let before = mock.requests().len();
    let delta = engine.import(&org, "sis", quick()).await.unwrap();
    assert_committed(&delta, "quick");
    let users = &delta.report.counts["user"];
    assert_eq!(
        (users.read, users.update),
        (mock.district().users() as u64, 1),
        "{users:?}"
    );
    assert!(
        mock.requests()[before..]
            .iter()
            .all(|r| !r.query.contains("changesSinceMarker")),
        "no marker is asked for where none was given"
    );
    let warned = format!("{:?}", delta.report);
    assert!(
        warned.contains("may offer no changes since") && warned.contains("full resync"),
        "{warned}"
    );
}

//! The built-in OneRoster connector through the real host against the mock
//! OneRoster server: the gallery's component in the runtime, the grant of its
//! settings and secret, the host's HTTP capability (OAuth 2 tokens, OAuth 1.0a
//! signatures, retries), and the mock's faults.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use homeroom_host::bindings::export_types::{ExportChange, ExportOutcome};
use homeroom_host::bindings::types::{
    Action, Attribute, Entity, EntityKind, Reference, Status, Value,
};
use homeroom_host::capabilities::http::{ConnectionClient, HttpLimits};
use homeroom_host::gallery::grant::grant;
use homeroom_host::gallery::{Gallery, Package};
use homeroom_host::runtime::{
    ConnectorSession, Failure, Limits, LoadedPlugin, Runtime, SessionOptions,
};
use homeroom_host::secret::Secret;
use homeroom_tests::oneroster_mock::{
    AuthSeen, CLIENT_ID, CLIENT_SECRET, Dataset, MockConfig, MockOneRoster,
};
use serde_json::json;

/// One runtime and one compiled component for every test of this file.
fn plugin() -> (Arc<Runtime>, Arc<LoadedPlugin>) {
    static PLUGIN: OnceLock<(Arc<Runtime>, Arc<LoadedPlugin>)> = OnceLock::new();
    PLUGIN
        .get_or_init(|| {
            let gallery = Gallery::builtin().expect("built-in gallery");
            let package: Arc<Package> = gallery
                .get("oneroster")
                .expect("the OneRoster connector is built in")
                .clone();
            let runtime = Runtime::new(Limits::default()).expect("runtime");
            let loaded = runtime.load(&package).expect("the component loads");
            (runtime, loaded)
        })
        .clone()
}

/// Short waits so retries do not slow the suite.
fn limits() -> HttpLimits {
    HttpLimits {
        timeout: Duration::from_secs(10),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
        ..HttpLimits::default()
    }
}

struct Source<'a> {
    version: &'a str,
    auth: &'a str,
    secret: &'a str,
    service_url: Option<String>,
    page_size: &'a str,
}

impl Default for Source<'_> {
    fn default() -> Self {
        Source {
            version: "1.2",
            auth: "oauth2-client-credentials",
            secret: CLIENT_SECRET,
            service_url: None,
            page_size: "10",
        }
    }
}

async fn connect(
    mock: &MockOneRoster,
    source: Source<'_>,
) -> (ConnectorSession, Arc<ConnectionClient>) {
    let (runtime, loaded) = plugin();
    let mut settings = BTreeMap::from([
        (
            "service_url".to_string(),
            source.service_url.unwrap_or_else(|| mock.base_url()),
        ),
        ("version".to_string(), source.version.to_string()),
        ("auth".to_string(), source.auth.to_string()),
        ("client_id".to_string(), CLIENT_ID.to_string()),
        ("page_size".to_string(), source.page_size.to_string()),
    ]);
    if source.auth.starts_with("oauth2") {
        settings.insert("token_url".into(), mock.token_url());
    }
    let secrets = BTreeMap::from([("client_secret".to_string(), Secret::new(source.secret))]);
    let granted = grant(&loaded.package.manifest, &settings, &secrets, limits()).expect("grant");
    let client = Arc::new(
        ConnectionClient::new(granted.connection.expect("a connector has a connection")).unwrap(),
    );
    let session = ConnectorSession::start(
        &runtime,
        loaded,
        SessionOptions {
            settings: granted.settings,
            http: Some(client.clone()),
            ..Default::default()
        },
    )
    .await
    .expect("session");
    (session, client)
}

async fn read_all(
    session: &mut ConnectorSession,
    kind: EntityKind,
    since: Option<&str>,
) -> Result<Vec<Entity>, String> {
    let mut all = Vec::new();
    session
        .read_all(kind, since, |page| {
            all.extend(page.entities);
            Ok::<(), ()>(())
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(all)
}

fn text<'a>(e: &'a Entity, name: &str) -> Option<&'a str> {
    e.attributes
        .iter()
        .find(|a| a.name == name)
        .and_then(|a| match &a.value {
            Value::Text(t) | Value::Date(t) | Value::DateTime(t) => Some(t.as_str()),
            _ => None,
        })
}

fn value<'a>(e: &'a Entity, name: &str) -> Option<&'a Value> {
    e.attributes
        .iter()
        .find(|a| a.name == name)
        .map(|a| &a.value)
}

/// The sample district plus 25 students: 35 users, four pages of ten.
fn district() -> Dataset {
    Dataset::sample().with_students(25)
}

const COUNTS: [(EntityKind, usize); 11] = [
    (EntityKind::Org, 3),
    (EntityKind::AcademicSession, 3),
    (EntityKind::Course, 2),
    (EntityKind::Class, 3),
    (EntityKind::User, 35),
    (EntityKind::Enrollment, 9),
    (EntityKind::Demographics, 6),
    (EntityKind::UserAgent, 0),
    (EntityKind::Category, 2),
    (EntityKind::LineItem, 2),
    (EntityKind::Result, 3),
];

#[tokio::test]
async fn every_kind_reads_in_full_with_both_versions_and_both_auth_kinds() {
    for (version, auth) in [
        ("1.2", "oauth2-client-credentials"),
        ("1.1", "oauth2-client-credentials"),
        ("1.1", "oauth1"),
    ] {
        let mock = MockOneRoster::start(district()).await.unwrap();
        let (mut session, client) = connect(
            &mock,
            Source {
                version,
                auth,
                ..Source::default()
            },
        )
        .await;
        let found = session.test_connection().await.unwrap();
        let base = if version == "1.2" {
            "/ims/oneroster/rostering/v1p2"
        } else {
            "/ims/oneroster/v1p1"
        };
        let said = format!(
            "OneRoster {version} at {}{base}: 2 schools; services: rostering, gradebook",
            mock.base_url()
        );
        assert!(found.starts_with(&said), "{found}");
        let schools = session.list_schools().await.unwrap();
        assert_eq!(
            schools
                .iter()
                .map(|s| (
                    s.source_id.as_str(),
                    s.name.as_str(),
                    s.identifier.as_deref()
                ))
                .collect::<Vec<_>>(),
            [
                ("s1", "Springfield High", Some("SHS")),
                ("s2", "Springfield Elementary", Some("SES"))
            ]
        );
        for (kind, count) in COUNTS {
            let read = read_all(&mut session, kind, None).await.unwrap();
            assert_eq!(read.len(), count, "{kind:?} with {version} and {auth}");
            let mut ids: Vec<&str> = read.iter().map(|e| e.source_id.as_str()).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), count, "no record twice");
        }
        // The same attributes whichever version the server speaks.
        let users = read_all(&mut session, EntityKind::User, None)
            .await
            .unwrap();
        let st5 = users.iter().find(|u| u.source_id == "st-5").unwrap();
        assert_eq!(text(st5, "role"), Some("student"), "{version}");
        assert_eq!(text(st5, "givenName"), Some("Mia"));
        assert!(matches!(
            value(st5, "enabledUser"),
            Some(Value::Boolean(true))
        ));
        assert!(
            matches!(value(st5, "orgs"), Some(Value::References(r)) if r.len() == 1 && r[0].source_id == "s2" && r[0].kind == EntityKind::Org)
        );
        assert!(
            matches!(value(st5, "agents"), Some(Value::References(r)) if r[0].source_id == "g-1" && r[0].kind == EntityKind::User)
        );
        assert!(matches!(value(st5, "grades"), Some(Value::Texts(g)) if g == &["03"]));
        assert_eq!(
            st5.date_last_modified.as_deref(),
            Some("2024-08-01T00:00:00.000Z")
        );
        let results = read_all(&mut session, EntityKind::Result, None)
            .await
            .unwrap();
        assert!(matches!(value(&results[1], "score"), Some(Value::Number(n)) if *n == 7.5));
        assert!(
            matches!(value(&results[1], "lineItem"), Some(Value::Reference(r)) if r.kind == EntityKind::LineItem)
        );

        let log = mock.request_log();
        let expected = if auth == "oauth1" {
            AuthSeen::OAuth1
        } else {
            AuthSeen::Bearer
        };
        assert!(
            log.iter().all(|r| r.auth == expected && r.status == 200),
            "{auth}: {log:?}"
        );
        assert!(
            log.iter()
                .filter(|r| r.path.ends_with("/users"))
                .all(|r| r.param("limit").as_deref() == Some("10"))
        );
        match auth {
            "oauth1" => assert_eq!(mock.token_requests(), 0),
            _ => assert_eq!(
                (mock.token_requests(), client.stats().token_fetches),
                (1, 1),
                "the token is cached"
            ),
        }
    }
}

/// Data rows of one file of a CSV package.
fn csv_rows(dir: &std::path::Path, file: &str) -> usize {
    csv::Reader::from_path(dir.join(file))
        .unwrap()
        .records()
        .count()
}

#[tokio::test]
async fn the_sample_district_reads_in_full() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample-district");
    let mock = MockOneRoster::start(Dataset::from_csv_dir(&dir).unwrap())
        .await
        .unwrap();
    for (version, auth) in [("1.2", "oauth2-client-credentials"), ("1.1", "oauth1")] {
        let (mut session, _) = connect(
            &mock,
            Source {
                version,
                auth,
                page_size: "100",
                ..Source::default()
            },
        )
        .await;
        for (kind, file) in [
            (EntityKind::Org, "orgs.csv"),
            (EntityKind::AcademicSession, "academicSessions.csv"),
            (EntityKind::Course, "courses.csv"),
            (EntityKind::Class, "classes.csv"),
            (EntityKind::User, "users.csv"),
            (EntityKind::Enrollment, "enrollments.csv"),
            (EntityKind::Demographics, "demographics.csv"),
            (EntityKind::Category, "categories.csv"),
            (EntityKind::LineItem, "lineItems.csv"),
            (EntityKind::Result, "results.csv"),
        ] {
            let read = read_all(&mut session, kind, None).await.unwrap();
            assert_eq!(
                read.len(),
                csv_rows(&dir, file),
                "{file} over OneRoster {version}"
            );
        }
        let users = read_all(&mut session, EntityKind::User, None)
            .await
            .unwrap();
        assert!(
            users.iter().all(|u| text(u, "role").is_some()),
            "every user has a role ({version})"
        );
    }
}

#[tokio::test]
async fn a_1p2_server_refuses_oauth1_with_a_message_that_says_what_to_change() {
    let mock = MockOneRoster::start(district()).await.unwrap();
    let (mut session, _) = connect(
        &mock,
        Source {
            version: "1.2",
            auth: "oauth1",
            ..Source::default()
        },
    )
    .await;
    let err = session.test_connection().await.unwrap_err();
    assert!(
        matches!(
            &err.failure,
            Failure::Plugin {
                kind: "authentication",
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("(401)") && text.contains("set Auth to oauth2-client-credentials"),
        "{text}"
    );
}

#[tokio::test]
async fn connection_failures_say_what_to_fix() {
    let mock = MockOneRoster::start(district()).await.unwrap();
    // A wrong client secret: the token endpoint refuses it.
    let (mut session, _) = connect(
        &mock,
        Source {
            secret: "wrong",
            ..Source::default()
        },
    )
    .await;
    let err = session.test_connection().await.unwrap_err().to_string();
    assert!(
        err.contains("authentication error") && err.contains("Client Secret"),
        "{err}"
    );
    // A wrong OAuth 1.0a secret: the server refuses the signature.
    let (mut session, _) = connect(
        &mock,
        Source {
            version: "1.1",
            auth: "oauth1",
            secret: "wrong",
            ..Source::default()
        },
    )
    .await;
    let err = session.test_connection().await.unwrap_err().to_string();
    assert!(
        err.contains("(401)") && err.contains("check the OAuth Client ID and Client Secret"),
        "{err}"
    );
    // A Service URL with a path the server does not have.
    let (mut session, _) = connect(
        &mock,
        Source {
            service_url: Some(format!("{}/sis", mock.base_url())),
            ..Source::default()
        },
    )
    .await;
    let err = session.test_connection().await.unwrap_err().to_string();
    assert!(
        err.contains("configuration error") && err.contains("wrong Service URL or wrong version (tried the OneRoster 1.2 path /ims/oneroster/rostering/v1p2)"),
        "{err}"
    );
    // A Service URL that already ends in the base path works as it is.
    let (mut session, _) = connect(
        &mock,
        Source {
            service_url: Some(format!("{}/ims/oneroster/rostering/v1p2/", mock.base_url())),
            ..Source::default()
        },
    )
    .await;
    assert!(
        session
            .test_connection()
            .await
            .unwrap()
            .contains(": 2 schools; services: rostering")
    );
    // Nothing listening.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let (mut session, _) = connect(
        &mock,
        Source {
            version: "1.1",
            auth: "oauth1",
            service_url: Some(format!("http://{closed}")),
            ..Source::default()
        },
    )
    .await;
    let err = session.test_connection().await.unwrap_err().to_string();
    assert!(
        err.contains("unavailable error")
            && err.contains(&format!("http://{closed}/ims/oneroster/v1p1/orgs?limit=1")),
        "{err}"
    );
}

#[tokio::test]
async fn a_delta_read_brings_what_changed_since() {
    let since = "2025-01-01T00:00:00Z";
    for (version, auth) in [("1.2", "oauth2-client-credentials"), ("1.1", "oauth1")] {
        let mock = MockOneRoster::start(district()).await.unwrap();
        let (mut session, _) = connect(
            &mock,
            Source {
                version,
                auth,
                ..Source::default()
            },
        )
        .await;
        assert_eq!(
            read_all(&mut session, EntityKind::User, None)
                .await
                .unwrap()
                .len(),
            35
        );
        assert_eq!(
            read_all(&mut session, EntityKind::User, Some(since))
                .await
                .unwrap()
                .len(),
            0
        );

        mock.update("users", "st-1", |u| {
            u.insert("givenName".into(), json!("Sophie"));
        });
        mock.mark_deleted("users", "st-2");
        mock.add(
            "users",
            json!({"sourcedId": "st-new", "enabledUser": "true", "givenName": "Nia", "familyName": "Obi",
                   "roles": [{"roleType": "primary", "role": "student", "org": {"sourcedId": "s2", "type": "org"}}]}),
        );
        mock.mark_deleted("enrollments", "e-3");

        let changed = read_all(&mut session, EntityKind::User, Some(since))
            .await
            .unwrap();
        let summary: Vec<(&str, Status, Option<&str>)> = changed
            .iter()
            .map(|e| (e.source_id.as_str(), e.status, text(e, "givenName")))
            .collect();
        assert_eq!(
            summary,
            [
                ("st-1", Status::Active, Some("Sophie")),
                ("st-2", Status::ToBeDeleted, Some("Liam")),
                ("st-new", Status::Active, Some("Nia")),
            ],
            "{version}"
        );
        assert!(
            changed
                .iter()
                .all(|e| e.date_last_modified.as_deref().is_some_and(|t| t > since))
        );
        let enrollments = read_all(&mut session, EntityKind::Enrollment, Some(since))
            .await
            .unwrap();
        assert_eq!(enrollments.len(), 1);
        assert_eq!(
            (enrollments[0].source_id.as_str(), enrollments[0].status),
            ("e-3", Status::ToBeDeleted)
        );
        let filters: Vec<String> = mock
            .request_log()
            .iter()
            .filter_map(|r| r.param("filter"))
            .collect();
        assert!(
            filters
                .iter()
                .all(|f| f == &format!("dateLastModified>'{since}'")),
            "{filters:?}"
        );
        assert_eq!(
            read_all(&mut session, EntityKind::User, None)
                .await
                .unwrap()
                .len(),
            36
        );
    }
}

#[tokio::test]
async fn a_server_without_filter_support_gets_a_full_read_for_a_delta() {
    let config = MockConfig {
        filter: false,
        ..MockConfig::default()
    };
    let mock = MockOneRoster::start_with(district(), config).await.unwrap();
    let (mut session, _) = connect(&mock, Source::default()).await;
    let read = read_all(&mut session, EntityKind::User, Some("2025-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(read.len(), 35);
}

#[tokio::test]
async fn reads_complete_through_429_and_500() {
    let mock = MockOneRoster::start(district()).await.unwrap();
    let (mut session, client) = connect(&mock, Source::default()).await;
    assert_eq!(
        read_all(&mut session, EntityKind::Org, None)
            .await
            .unwrap()
            .len(),
        3
    );
    mock.fail_with_429(2, 1);
    assert_eq!(
        read_all(&mut session, EntityKind::User, None)
            .await
            .unwrap()
            .len(),
        35
    );
    mock.fail_with_500(3);
    assert_eq!(
        read_all(&mut session, EntityKind::User, None)
            .await
            .unwrap()
            .len(),
        35
    );
    // A body cut off once is sent again by the host.
    mock.truncate_bodies(1);
    assert_eq!(
        read_all(&mut session, EntityKind::User, None)
            .await
            .unwrap()
            .len(),
        35
    );
    let statuses: Vec<u16> = mock.request_log().iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 2);
    assert_eq!(statuses.iter().filter(|s| **s == 500).count(), 3);
    assert!(client.stats().retries >= 6, "{:?}", client.stats());

    // When the server keeps failing, the read fails with what to do.
    mock.fail_with_500(100);
    let err = read_all(&mut session, EntityKind::User, None)
        .await
        .unwrap_err();
    assert!(
        err.contains("unavailable error")
            && err.contains("answered 500")
            && err.contains("run again later"),
        "{err}"
    );
    mock.clear_faults();
    mock.fail_with_429(100, 0);
    let err = read_all(&mut session, EntityKind::User, None)
        .await
        .unwrap_err();
    assert!(
        err.contains("rate limited error") && err.contains("429"),
        "{err}"
    );
}

#[tokio::test]
async fn a_token_the_server_forgot_is_fetched_again() {
    let mock = MockOneRoster::start(district()).await.unwrap();
    let (mut session, client) = connect(&mock, Source::default()).await;
    assert_eq!(
        read_all(&mut session, EntityKind::User, None)
            .await
            .unwrap()
            .len(),
        35
    );
    mock.revoke_tokens();
    assert_eq!(
        read_all(&mut session, EntityKind::User, None)
            .await
            .unwrap()
            .len(),
        35
    );
    assert_eq!(
        (mock.token_requests(), client.stats().token_fetches),
        (2, 2)
    );
}

#[tokio::test]
async fn broken_pages_fail_with_a_clear_error() {
    let mock = MockOneRoster::start(district()).await.unwrap();
    let (mut session, _) = connect(&mock, Source::default()).await;
    mock.malformed_json(1);
    let err = read_all(&mut session, EntityKind::User, None)
        .await
        .unwrap_err();
    assert!(
        err.contains("invalid data error")
            && err.contains("`users` at offset 0")
            && err.contains("not valid JSON"),
        "{err}"
    );

    mock.truncate_bodies(100);
    let err = read_all(&mut session, EntityKind::Class, None)
        .await
        .unwrap_err();
    assert!(
        err.contains("unavailable error")
            && err.contains("reading `classes` at offset 0")
            && err.contains("attempts"),
        "{err}"
    );
    mock.clear_faults();
    assert_eq!(
        read_all(&mut session, EntityKind::Class, None)
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn paging_survives_a_repeated_page_a_lying_total_and_a_capped_limit() {
    let config = MockConfig {
        link_header: false,
        ..MockConfig::default()
    };
    let mock = MockOneRoster::start_with(district(), config).await.unwrap();
    let (mut session, _) = connect(&mock, Source::default()).await;
    mock.repeat_page_once();
    assert_eq!(
        read_all(&mut session, EntityKind::User, None)
            .await
            .unwrap()
            .len(),
        35
    );
    for lie in [7, -20] {
        mock.lie_about_total(lie);
        assert_eq!(
            read_all(&mut session, EntityKind::User, None)
                .await
                .unwrap()
                .len(),
            35,
            "total off by {lie}"
        );
    }
    mock.clear_faults();
    mock.configure(|c| c.max_limit = 4);
    assert_eq!(
        read_all(&mut session, EntityKind::User, None)
            .await
            .unwrap()
            .len(),
        35,
        "pages of 4 for a limit of 10"
    );
    mock.configure(|c| c.link_header = true);
    assert_eq!(
        read_all(&mut session, EntityKind::User, None)
            .await
            .unwrap()
            .len(),
        35
    );
}

#[tokio::test]
async fn slow_pages_still_read() {
    let mock = MockOneRoster::start(district()).await.unwrap();
    let (mut session, _) = connect(&mock, Source::default()).await;
    mock.slow_pages(Duration::from_millis(200));
    assert_eq!(
        read_all(&mut session, EntityKind::User, None)
            .await
            .unwrap()
            .len(),
        35
    );
}

fn reference(kind: EntityKind, id: &str) -> Value {
    Value::Reference(Reference {
        kind,
        source_id: id.into(),
    })
}

fn entity(kind: EntityKind, id: &str, attributes: Vec<(&str, Value)>) -> Entity {
    Entity {
        kind,
        source_id: id.into(),
        status: Status::Active,
        date_last_modified: Some("2024-10-01T08:00:00Z".into()),
        attributes: attributes
            .into_iter()
            .map(|(name, value)| Attribute {
                name: name.into(),
                value,
            })
            .collect(),
    }
}

#[tokio::test]
async fn grades_are_written_back_to_the_gradebook() {
    for (version, auth) in [("1.2", "oauth2-client-credentials"), ("1.1", "oauth1")] {
        let mock = MockOneRoster::start(district()).await.unwrap();
        let (mut session, _) = connect(
            &mock,
            Source {
                version,
                auth,
                ..Source::default()
            },
        )
        .await;
        let line_item = entity(
            EntityKind::LineItem,
            "li-essay",
            vec![
                ("title", Value::Text("Essay".into())),
                ("assignDate", Value::DateTime("2024-10-01T00:00:00Z".into())),
                ("dueDate", Value::DateTime("2024-10-08T00:00:00Z".into())),
                ("class", reference(EntityKind::Class, "c-alg-1")),
                ("school", reference(EntityKind::Org, "s1")),
                ("category", reference(EntityKind::Category, "cat-hw")),
                ("resultValueMax", Value::Number(20.0)),
                ("googleCourseWorkId", Value::Text("cw-1".into())),
            ],
        );
        let result = entity(
            EntityKind::Result,
            "r-essay-1",
            vec![
                ("lineItem", reference(EntityKind::LineItem, "li-essay")),
                ("student", reference(EntityKind::User, "st-1")),
                ("scoreStatus", Value::Text("fully graded".into())),
                ("score", Value::Number(18.5)),
                ("scoreDate", Value::Date("2024-10-09".into())),
                ("late", Value::Boolean(true)),
            ],
        );
        let incomplete = entity(
            EntityKind::Result,
            "r-bad",
            vec![("score", Value::Number(1.0))],
        );
        let mut gone = entity(EntityKind::Result, "r-2", vec![]);
        gone.status = Status::ToBeDeleted;
        let user = entity(EntityKind::User, "st-1", vec![]);
        let changes: Vec<ExportChange> = [
            (Action::Add, line_item),
            (Action::Update, result),
            (Action::Update, incomplete),
            (Action::Delete, gone),
            (Action::Update, user),
        ]
        .into_iter()
        .map(|(action, entity)| ExportChange {
            action,
            entity,
            target_id: None,
            target_refs: Vec::new(),
        })
        .collect();
        let outcomes = session.export(&changes).await.unwrap();
        let errors: Vec<(Option<&str>, Option<&str>)> = outcomes
            .iter()
            .map(|o| match o {
                ExportOutcome::Applied(id) => (Some(id.as_str()), None),
                ExportOutcome::Rejected(why) | ExportOutcome::Retry(why) => {
                    (None, Some(why.as_str()))
                }
            })
            .collect();
        assert_eq!(errors[0], (Some("li-essay"), None), "{version}: {errors:?}");
        assert_eq!(
            errors[1],
            (Some("r-essay-1"), None),
            "{version}: {errors:?}"
        );
        assert!(
            errors[2]
                .1
                .is_some_and(|m| m.contains("was not sent") && m.contains("No lineItem")),
            "{errors:?}"
        );
        assert_eq!(errors[3], (Some("r-2"), None));
        assert!(
            errors[4].1.is_some_and(|m| m.starts_with("unsupported")),
            "{errors:?}"
        );

        let stored = mock.record("lineItems", "li-essay").unwrap();
        assert_eq!(
            (
                stored["title"].as_str(),
                stored["class"]["sourcedId"].as_str()
            ),
            (Some("Essay"), Some("c-alg-1"))
        );
        assert_eq!(
            stored.get("school").is_some(),
            version == "1.2",
            "1.1 line items have no school"
        );
        let stored = mock.record("results", "r-essay-1").unwrap();
        assert_eq!(stored["score"], 18.5);
        assert_eq!(stored.get("late").is_some(), version == "1.2");
        assert_eq!(
            mock.record("results", "r-2").unwrap()["status"],
            "tobedeleted"
        );
        // What was written reads back.
        let line_items = read_all(&mut session, EntityKind::LineItem, None)
            .await
            .unwrap();
        assert!(
            line_items
                .iter()
                .any(|l| l.source_id == "li-essay" && text(l, "title") == Some("Essay"))
        );
    }
}

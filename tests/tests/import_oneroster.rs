//! The sample district imported end to end through each OneRoster connector
//! and auth kind: real plugins, real HTTP on loopback to the mock SIS, the
//! whole pipeline into SQLite (and PostgreSQL when DATABASE_URL is set);
//! then a delta with edits, adds and deletes, and faults that must either
//! be ridden out or commit nothing.

use std::path::Path;

use homeroom_host::config::{DistrictConfig, Organization, SourceConfig};
use homeroom_host::pipeline::{Engine, ImportOptions, Mode};
use homeroom_host::store::RunStatus;
use homeroom_tests::oneroster_mock::{
    CLIENT_ID, CLIENT_SECRET, Dataset, MockOneRoster, Service, Version,
};
use homeroom_tests::support::{database_urls, engine, org_id};
use serde_json::json;

fn sample() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/sample-district"
    ))
}

/// What the sample district holds, per kind.
const SAMPLE: &[(&str, u64)] = &[
    ("academic-session", 7),
    ("category", 3),
    ("class", 61),
    ("course", 28),
    ("demographics", 360),
    ("enrollment", 1275),
    ("line-item", 4),
    ("org", 3),
    ("result", 72),
    ("user", 817),
];

async fn setup(engine: &Engine, org: &str, mut source: SourceConfig) {
    // Every delta below is small; never hold it, commit it.
    source.advanced.hold.updated_share = 1.0;
    source.advanced.hold.deleted_share = 1.0;
    engine
        .apply_config(&DistrictConfig {
            organization: Organization {
                id: org.into(),
                name: "Maplewood".into(),
                ..Default::default()
            },
            sources: vec![source],
            vendors: Vec::new(),
        })
        .await
        .expect("apply");
}

fn assert_full_import(run: &homeroom_host::store::Run, what: &str) {
    assert_eq!(
        run.status,
        RunStatus::Committed,
        "{what}: {:?}",
        run.report.failure
    );
    for (kind, n) in SAMPLE {
        let c = run
            .report
            .counts
            .get(*kind)
            .unwrap_or_else(|| panic!("{what}: no {kind} counts"));
        assert_eq!((c.read, c.add), (*n, *n), "{what}: {kind}");
    }
}

fn rest_source(mock: &MockOneRoster, version: Version, auth: &str) -> SourceConfig {
    let mut s = SourceConfig::new("sis", "oneroster");
    s.settings
        .insert("service_url".into(), mock.service_url(version));
    s.settings.insert("version".into(), version.label().into());
    s.settings.insert("auth".into(), auth.into());
    s.settings.insert("client_id".into(), CLIENT_ID.into());
    s.settings.insert("page_size".into(), "200".into());
    if auth == "oauth2-client-credentials" {
        s.settings.insert("token_url".into(), mock.token_url());
    }
    s.secrets
        .insert("client_secret".into(), "HOMEROOM_TEST_SIS_SECRET".into());
    s
}

fn set_secret() {
    // The source names the environment variable; every test sets the same value.
    unsafe { std::env::set_var("HOMEROOM_TEST_SIS_SECRET", CLIENT_SECRET) };
}

#[tokio::test]
async fn the_sample_district_from_a_csv_drop() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let engine = engine(&url).await;
        let org = org_id("csv");
        let mut s = SourceConfig::new("sis", "oneroster-csv");
        s.folder = Some(sample().display().to_string());
        setup(&engine, &org, s).await;
        let first = engine
            .import(&org, "sis", ImportOptions::default())
            .await
            .unwrap();
        assert_full_import(&first, &url);
        let again = engine
            .import(&org, "sis", ImportOptions::default())
            .await
            .unwrap();
        assert_eq!(
            again.report.changes(),
            0,
            "{url}: {:?}",
            again.report.counts
        );
    }
}

#[tokio::test]
async fn the_sample_district_over_rest_with_each_auth_then_a_delta() {
    set_secret();
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        for (version, auth) in [
            (Version::V1p2, "oauth2-client-credentials"),
            (Version::V1p1, "oauth2-client-credentials"),
            (Version::V1p1, "oauth1"),
        ] {
            let what = format!("{url} OneRoster {} {auth}", version.label());
            let mock = MockOneRoster::start(Dataset::from_csv_dir(sample()).unwrap())
                .await
                .unwrap();
            let engine = engine(&url).await;
            let org = org_id("rest");
            setup(&engine, &org, rest_source(&mock, version, auth)).await;
            let first = engine
                .import(&org, "sis", ImportOptions::default())
                .await
                .unwrap();
            assert_full_import(&first, &what);

            // The SIS edits one student, adds one and deletes one.
            let students: Vec<_> = mock
                .records("users")
                .into_iter()
                .filter(|u| u["role"] == "student" || u["roles"].to_string().contains("student"))
                .collect();
            let edited = students[0]["sourcedId"].as_str().unwrap().to_string();
            let gone = students[1]["sourcedId"].as_str().unwrap().to_string();
            assert!(mock.update("users", &edited, |u| {
                u.insert("givenName".into(), json!("Renamed"));
            }));
            assert!(mock.mark_deleted("users", &gone));
            let mut added = students[2].clone();
            added["sourcedId"] = json!("stu-new-1");
            added["username"] = json!("new.student");
            added["email"] = json!("new.student@maplewood.example");
            mock.add("users", added);
            let delta = engine
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
            assert_eq!(
                delta.status,
                RunStatus::Committed,
                "{what}: {:?}",
                delta.report.failure
            );
            let users = &delta.report.counts["user"];
            assert_eq!(
                (users.read, users.add, users.update, users.delete),
                (3, 1, 1, 1),
                "{what}: {users:?}"
            );
            let enrollments = delta
                .report
                .counts
                .get("enrollment")
                .map(|c| c.delete)
                .unwrap_or(0);
            let had: u64 = mock
                .records("enrollments")
                .iter()
                .filter(|e| e["user"]["sourcedId"] == gone.as_str())
                .count() as u64;
            assert_eq!(
                enrollments, had,
                "{what}: the deleted student's enrollments go too"
            );
            let renamed = engine
                .store()
                .entity_of(&org, "sis", "user", &edited)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(renamed.data["givenName"]["v"], "Renamed");
        }
    }
}

#[tokio::test]
async fn faults_are_ridden_out_or_commit_nothing() {
    set_secret();
    let tmp = tempfile::tempdir().unwrap();
    let url = &database_urls(tmp.path())[0];
    let mock = MockOneRoster::start(Dataset::from_csv_dir(sample()).unwrap())
        .await
        .unwrap();
    let engine = engine(url).await;
    let mut engine_fast = engine.clone();
    engine_fast.http_limits.initial_backoff = std::time::Duration::from_millis(5);
    engine_fast.http_limits.max_backoff = std::time::Duration::from_millis(50);
    let org = org_id("faults");
    setup(
        &engine_fast,
        &org,
        rest_source(&mock, Version::V1p2, "oauth2-client-credentials"),
    )
    .await;

    // Malformed JSON on every page: the run fails and commits nothing.
    mock.malformed_json(10_000);
    let failed = engine_fast
        .import(&org, "sis", ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(failed.status, RunStatus::Failed);
    let why = failed.report.failure.clone().unwrap_or_default();
    assert!(why.contains("nothing was committed"), "{why}");
    assert!(
        engine.store().entity_counts(&org).await.unwrap().is_empty(),
        "nothing committed"
    );

    // A 429 storm and 500s the host's retries ride out: a complete import.
    mock.clear_faults();
    mock.fail_with_429(3, 0);
    mock.fail_with_500(2);
    let ok = engine_fast
        .import(&org, "sis", ImportOptions::default())
        .await
        .unwrap();
    assert_full_import(&ok, "after retries");

    // A page that repeats is never a duplicated import.
    mock.clear_faults();
    mock.repeat_page_once();
    let again = engine_fast
        .import(&org, "sis", ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(
        again.status,
        RunStatus::Committed,
        "{:?}",
        again.report.failure
    );
    assert_eq!(again.report.changes(), 0, "{:?}", again.report.counts);
}

#[tokio::test]
async fn pages_a_server_announces_are_read_several_at_once() {
    set_secret();
    let tmp = tempfile::tempdir().unwrap();
    let url = &database_urls(tmp.path())[0];
    for width in [1, 3] {
        let mock = MockOneRoster::start(Dataset::from_csv_dir(sample()).unwrap())
            .await
            .unwrap();
        // Each page takes a while, so pages read at once overlap at the server.
        mock.slow_pages(std::time::Duration::from_millis(30));
        let mut engine = engine(url).await;
        engine.read_concurrency = width;
        let org = org_id(&format!("width-{width}"));
        setup(
            &engine,
            &org,
            rest_source(&mock, Version::V1p2, "oauth2-client-credentials"),
        )
        .await;
        let run = engine
            .import(&org, "sis", ImportOptions::default())
            .await
            .unwrap();
        assert_full_import(&run, &format!("{width} at once"));
        assert_eq!(
            mock.most_in_flight(),
            width,
            "the server saw at most {width} requests at a time, and that many"
        );
        assert_eq!(mock.token_requests(), 1, "the instances share one token");
    }
}

/// A OneRoster 1.2 provider of the rostering service only (404 on the
/// gradebook's collections and on demographics) is a normal provider: a
/// first import takes what it offers and says what it does not; a provider
/// that stops offering the gradebook deletes none of the gradebook records
/// already in the hub.
#[tokio::test]
async fn a_provider_of_rostering_only_imports_what_it_offers() {
    set_secret();
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let what = format!("{url} rostering only");
        let mock = MockOneRoster::start(Dataset::from_csv_dir(sample()).unwrap())
            .await
            .unwrap();
        mock.offer_only(&[Service::Rostering]);
        mock.offer_demographics(false);
        let engine = engine(&url).await;
        let org = org_id("rostering-only");
        setup(
            &engine,
            &org,
            rest_source(&mock, Version::V1p2, "oauth2-client-credentials"),
        )
        .await;
        let run = engine
            .import(&org, "sis", ImportOptions::default())
            .await
            .unwrap();
        assert_eq!(
            run.status,
            RunStatus::Committed,
            "{what}: {:?}",
            run.report.failure
        );
        let not_offered: Vec<&str> = run.report.not_offered.keys().map(String::as_str).collect();
        assert_eq!(
            not_offered,
            ["category", "demographics", "line-item", "result"],
            "{what}"
        );
        assert!(
            run.report.warnings.iter().any(|w| w.kind == "category"
                && w.message.contains("does not offer the gradebook service")),
            "{what}: {:?}",
            run.report.warnings
        );
        assert!(
            run.report.counts["user"].add > 300,
            "{what}: {:?}",
            run.report.counts
        );
        assert!(run.report.counts["enrollment"].add > 0, "{what}");

        // The gradebook comes, then goes again: nothing of it is deleted.
        mock.offer_only(&Service::ALL);
        let full = engine
            .import(&org, "sis", ImportOptions::default())
            .await
            .unwrap();
        let categories = full.report.counts["category"].add;
        assert!(categories > 0, "{what}: {:?}", full.report.counts);
        mock.offer_only(&[Service::Rostering]);
        let again = engine
            .import(&org, "sis", ImportOptions::default())
            .await
            .unwrap();
        assert_eq!(
            again.status,
            RunStatus::Committed,
            "{what}: {:?}",
            again.report.hold
        );
        assert_eq!(
            again.report.changes(),
            0,
            "{what}: {:?}",
            again.report.counts
        );
        let kept = engine.store().entity_counts(&org).await.unwrap();
        let held = kept.iter().find(|(k, _)| k == "category").map(|(_, n)| *n);
        assert_eq!(held, Some(categories as i64), "{what}");
    }
}

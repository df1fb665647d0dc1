//! Microsoft Entra ID as a second source beside a SIS, through the real
//! engine over loopback, on SQLite and PostgreSQL: the SIS (the OneRoster
//! mock's sample district, 1.2 with client credentials) and the directory
//! (the mock Graph) become one set of people, matched by a domain of
//! uniqueness on `identifier` (the SIS's number, the directory's
//! employeeId), the directory master of `email` and `username` and the SIS
//! of everything else. Then quick runs of the directory from its deltaLink.

use homeroom_host::config::{
    Domain, DomainMode, MasterField, Requirement, RequirementAction, SourceConfig,
};
use homeroom_host::pipeline::{Engine, ImportOptions, Mode};
use homeroom_host::store::{Run, RunStatus};
use homeroom_tests::entra_mock::{self, MockGraph};
use homeroom_tests::oneroster_mock::{self, Dataset, MockOneRoster, Version};
use homeroom_tests::support::{configure_sources, count, database_urls, engine, org_id};
use serde_json::{Value as Json, json};

/// The SIS's people (the sample's sourcedIds) and their directory accounts:
/// (SIS id, directory id, directory given name, account name).
const PEOPLE: [(&str, &str, &str, &str); 9] = [
    ("t-1", "1f0c-t1", "Grace B.", "ghopper"),
    ("t-2", "1f0c-t2", "Alan", "aturing"),
    ("a-1", "1f0c-a1", "Ada", "abyron"),
    ("st-1", "1f0c-s1", "Sofia", "smartinez"),
    ("st-2", "1f0c-s2", "Liam", "lchen"),
    ("st-3", "1f0c-s3", "Noah", "npatel"),
    ("st-4", "1f0c-s4", "Emma", "eokafor"),
    ("st-5", "1f0c-s5", "Mia", "mrossi"),
    ("st-6", "1f0c-s6", "Lucas", "lnguyen"),
];
/// Users in the sample SIS (the nine above and a guardian, who has no
/// directory account).
const SIS_USERS: u64 = 10;

fn directory() -> Vec<Json> {
    let mut users: Vec<Json> = PEOPLE
        .iter()
        .map(|(sis, id, given, name)| {
            entra_mock::user(
                id,
                given,
                "Directory",
                &format!("{name}@springfield.org"),
                Some(&sis.to_uppercase()),
            )
        })
        .collect();
    // A new hire the SIS does not have yet, and a service account with no
    // employee id (no person at all).
    users.push(entra_mock::user(
        "1f0c-new",
        "Nia",
        "Clark",
        "nclark@springfield.org",
        Some("T-9"),
    ));
    users.push(entra_mock::user(
        "1f0c-svc",
        "Scanner",
        "Service",
        "scanner@springfield.org",
        None,
    ));
    users
}

fn by_identifier() -> Vec<Domain> {
    vec![Domain {
        kind: "user".into(),
        attributes: vec!["identifier".into()],
        mode: DomainMode::Unattended,
    }]
}

fn master(attribute: &str, source: &str) -> MasterField {
    MasterField {
        kind: "user".into(),
        attribute: attribute.into(),
        source: source.into(),
    }
}

fn sis(mock: &MockOneRoster) -> SourceConfig {
    let mut s = SourceConfig::new("sis", "oneroster");
    s.settings
        .insert("service_url".into(), mock.service_url(Version::V1p2));
    s.settings.insert("version".into(), "1.2".into());
    s.settings
        .insert("auth".into(), "oauth2-client-credentials".into());
    s.settings
        .insert("client_id".into(), oneroster_mock::CLIENT_ID.into());
    s.settings.insert("token_url".into(), mock.token_url());
    s.secrets
        .insert("client_secret".into(), "HOMEROOM_TEST_SIS_SECRET".into());
    s.domains = by_identifier();
    s.master_fields = vec![master("*", "sis")];
    s
}

fn entra(mock: &MockGraph) -> SourceConfig {
    let mut s = SourceConfig::new("entra", "entra");
    s.settings.insert("service_url".into(), mock.base_url());
    s.settings
        .insert("auth".into(), "oauth2-client-credentials".into());
    s.settings.insert("token_url".into(), mock.token_url());
    s.settings
        .insert("client_id".into(), entra_mock::CLIENT_ID.into());
    // No scopes: the manifest's default, https://graph.microsoft.com/.default,
    // is what the mock token endpoint insists on.
    s.settings.insert("page_size".into(), "4".into());
    s.secrets
        .insert("client_secret".into(), "HOMEROOM_TEST_ENTRA_SECRET".into());
    s.domains = by_identifier();
    s.master_fields = vec![master("email", "entra"), master("username", "entra")];
    // An account without an employee id is no one the SIS knows (a
    // scanner, a shared mailbox): left out and named in the run report.
    s.requirements = vec![Requirement {
        kind: "user".into(),
        attribute: "identifier".into(),
        action: RequirementAction::Skip,
    }];
    // The directory's first run updates every person: never hold it.
    s.advanced.hold.updated_share = 1.0;
    s.advanced.hold.deleted_share = 1.0;
    s
}

async fn setup(engine: &Engine, org: &str, sources: Vec<SourceConfig>) {
    unsafe {
        std::env::set_var("HOMEROOM_TEST_SIS_SECRET", oneroster_mock::CLIENT_SECRET);
        std::env::set_var("HOMEROOM_TEST_ENTRA_SECRET", entra_mock::CLIENT_SECRET);
    }
    configure_sources(engine, org, sources).await;
}

fn committed(run: &Run, what: &str) {
    assert_eq!(
        run.status,
        RunStatus::Committed,
        "{what}: {:?}",
        run.report.failure
    );
}

fn quick() -> ImportOptions {
    ImportOptions {
        mode: Mode::Quick,
        ..Default::default()
    }
}

/// An attribute's value in an entity's data.
fn value(data: &serde_json::Map<String, Json>, attr: &str) -> Json {
    data.get(attr).map(|c| c["v"].clone()).unwrap_or(Json::Null)
}

#[tokio::test]
async fn a_sis_and_a_directory_become_one_set_of_people() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let what = url.split(':').next().unwrap_or("db").to_string();
        let sis_mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
        let graph = MockGraph::start(directory()).await.unwrap();
        let engine = engine(&url).await;
        let org = org_id("entra");
        setup(&engine, &org, vec![sis(&sis_mock), entra(&graph)]).await;
        let store = engine.store();

        let first = engine
            .import(&org, "sis", ImportOptions::default())
            .await
            .unwrap();
        committed(&first, &what);
        assert_eq!(count(&first, "user", |c| c.add), SIS_USERS, "{what}");

        let started = std::time::Instant::now();
        let dir = engine
            .import(&org, "entra", ImportOptions::default())
            .await
            .unwrap();
        let took = started.elapsed();
        committed(&dir, &what);
        let users = &dir.report.counts["user"];
        eprintln!(
            "{what}: directory import of {} accounts in {took:?}, {} Graph requests, {} token requests: {users:?}",
            users.read,
            graph.requests().len(),
            graph.token_requests()
        );
        assert_eq!(
            (
                users.read,
                users.skipped,
                users.add,
                users.update,
                users.errors
            ),
            (11, 1, 1, 9, 0),
            "{what}: nine people matched, the new hire added, the service account left out"
        );
        let people = store.entities(&org, "user", None, 0, 1000).await.unwrap();
        assert_eq!(
            people.len() as u64,
            SIS_USERS + 1,
            "{what}: one entity per person"
        );
        for (sis_id, dir_id, _, name) in PEOPLE {
            let from_sis = store.entity_of(&org, "sis", "user", sis_id).await.unwrap();
            let from_dir = store
                .entity_of(&org, "entra", "user", dir_id)
                .await
                .unwrap();
            let (a, b) = (from_sis.unwrap(), from_dir.unwrap());
            assert_eq!(a.id, b.id, "{what}: {sis_id} and {dir_id} are one person");
            let family = value(&a.data, "familyName");
            assert_ne!(family, "Directory", "{what}: the SIS's names stand");
            assert_eq!(
                value(&a.data, "email"),
                json!(format!("{name}@springfield.org")),
                "{what}: {sis_id}: the directory's email"
            );
            assert_eq!(
                value(&a.data, "username"),
                json!(format!("{name}@springfield.org")),
                "{what}: {sis_id}"
            );
            assert!(
                !value(&a.data, "role").is_null(),
                "{what}: {sis_id} keeps the SIS's role"
            );
        }
        let grace = store
            .entity_of(&org, "sis", "user", "t-1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(value(&grace.data, "givenName"), "Grace", "{what}");
        assert_eq!(value(&grace.data, "role"), "teacher", "{what}");
        let new_hire = store
            .entity_of(&org, "entra", "user", "1f0c-new")
            .await
            .unwrap()
            .expect("the new hire is a person of the hub");
        assert_eq!(value(&new_hire.data, "givenName"), "Nia", "{what}");
        assert!(
            value(&new_hire.data, "role").is_null(),
            "{what}: no role until the SIS has them"
        );
        assert!(
            store
                .entity_of(&org, "entra", "user", "1f0c-svc")
                .await
                .unwrap()
                .is_none(),
            "{what}: the service account is no one"
        );

        // The SIS again: it does not take the emails back.
        let again = engine
            .import(&org, "sis", ImportOptions::default())
            .await
            .unwrap();
        committed(&again, &what);
        assert_eq!(
            count(&again, "user", |c| c.update),
            0,
            "{what}: {:?}",
            again.report.counts
        );

        // In the directory: an email changes, an account is deleted.
        graph.update("1f0c-s1", |u| {
            u["mail"] = json!("sofia.martinez@springfield.org")
        });
        graph.delete("1f0c-s2");
        let before = graph.requests().len();
        let delta = engine.import(&org, "entra", quick()).await.unwrap();
        committed(&delta, &what);
        let users = &delta.report.counts["user"];
        assert_eq!(
            (users.read, users.update, users.delete),
            (2, 1, 1),
            "{what}: {users:?}"
        );
        let asked = &graph.requests()[before..];
        assert!(
            asked
                .iter()
                .all(|r| r.path.ends_with("/token") || r.query.contains("deltatoken=t")),
            "{what}: a quick run calls the deltaLink only: {asked:?}"
        );
        let sofia = store
            .entity_of(&org, "sis", "user", "st-1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            value(&sofia.data, "email"),
            "sofia.martinez@springfield.org",
            "{what}"
        );
        // Liam's account is gone; Liam is still a student of the SIS.
        let liam = store
            .entity_of(&org, "sis", "user", "st-2")
            .await
            .unwrap()
            .unwrap();
        assert!(liam.active, "{what}: the SIS still feeds the person");
        let links = store.entity_sources(&liam.id).await.unwrap();
        assert!(
            links.iter().any(|(s, _, active)| s == "entra" && !active)
                && links.iter().any(|(s, _, active)| s == "sis" && *active),
            "{what}: {links:?}"
        );

        // Nothing changed: nothing changes.
        let idle = engine.import(&org, "entra", quick()).await.unwrap();
        committed(&idle, &what);
        assert_eq!(idle.report.changes(), 0, "{what}: {:?}", idle.report.counts);
    }
}

#[tokio::test]
async fn an_expired_delta_token_and_throttling_read_everything_again() {
    let tmp = tempfile::tempdir().unwrap();
    let url = &database_urls(tmp.path())[0];
    let sis_mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let graph = MockGraph::start(directory()).await.unwrap();
    let engine = engine(url).await;
    let org = org_id("entra-gone");
    setup(&engine, &org, vec![sis(&sis_mock), entra(&graph)]).await;
    for source in ["sis", "entra"] {
        let run = engine
            .import(&org, source, ImportOptions::default())
            .await
            .unwrap();
        committed(&run, source);
    }
    graph.update("1f0c-s3", |u| {
        u["mail"] = json!("noah.patel@springfield.org")
    });
    graph.expire_tokens();
    graph.fail_with_429(2, 1);
    let delta = engine.import(&org, "entra", quick()).await.unwrap();
    committed(&delta, "resync");
    let users = &delta.report.counts["user"];
    assert_eq!((users.read, users.update), (11, 1), "{users:?}");
    assert!(
        delta
            .report
            .warnings
            .iter()
            .any(|w| w.message.contains("410 Gone")),
        "{:?}",
        delta.report.warnings
    );
    let statuses: Vec<u16> = graph.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 2);
    assert!(statuses.contains(&410));
    let noah = engine
        .store()
        .entity_of(&org, "sis", "user", "st-3")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(value(&noah.data, "email"), "noah.patel@springfield.org");
}

#[tokio::test]
async fn the_fault_matrix_is_ridden_out_or_named() {
    let tmp = tempfile::tempdir().unwrap();
    let url = &database_urls(tmp.path())[0];
    let graph = MockGraph::start(directory()).await.unwrap();
    let engine = engine(url).await;
    let org = org_id("entra-faults");
    setup(&engine, &org, vec![entra(&graph)]).await;
    // A 429 storm shorter than the host's retries, 503s, a body cut
    // mid-way: the host retries, and every account arrives once.
    for fault in ["429", "503", "truncated"] {
        match fault {
            "429" => graph.fail_with_429(4, 0),
            "503" => graph.fail_with_503(3),
            _ => graph.truncate_bodies(2),
        }
        let run = engine
            .import(&org, "entra", ImportOptions::default())
            .await
            .unwrap();
        committed(&run, fault);
        let users = &run.report.counts["user"];
        assert_eq!((users.read, users.errors), (11, 0), "{fault}: {users:?}");
    }
    let people = engine
        .store()
        .entities(&org, "user", None, 0, 100)
        .await
        .unwrap();
    assert_eq!(people.len(), 10, "no account twice");

    // Malformed JSON fails the run, naming the page (the first broken body
    // is the latest-deltaLink request, which only warns); so does a
    // nextLink that names its own page.
    for (fault, says) in [("malformed", "not valid JSON"), ("repeat", "never end")] {
        match fault {
            "malformed" => graph.malformed_json(2),
            _ => graph.repeat_pages(1),
        }
        let run = engine
            .import(&org, "entra", ImportOptions::default())
            .await
            .unwrap();
        assert_eq!(run.status, RunStatus::Failed, "{fault}");
        let failure = run.report.failure.clone().unwrap_or_default();
        assert!(
            failure.contains(says) && failure.contains("reading users"),
            "{fault}: {failure}"
        );
    }
}

#[tokio::test]
async fn education_users_and_schools_where_the_tenant_has_them() {
    let tmp = tempfile::tempdir().unwrap();
    let url = &database_urls(tmp.path())[0];
    // School Data Sync: teachers and students have a primary role and their
    // number; the administrator is `none` and has no number.
    let users = directory()
        .into_iter()
        .map(|mut u| {
            let number = u["employeeId"].as_str().unwrap_or_default().to_string();
            u["primaryRole"] = json!(match number.as_str() {
                n if n.starts_with("ST-") => "student",
                n if n.starts_with("T-") => "teacher",
                _ => "none",
            });
            u
        })
        .collect();
    let graph = MockGraph::start(users).await.unwrap();
    let engine = engine(url).await;
    let org = org_id("entra-edu");
    let mut source = entra(&graph);
    source.settings.insert("education".into(), "on".into());
    setup(&engine, &org, vec![source]).await;
    let run = engine
        .import(&org, "entra", ImportOptions::default())
        .await
        .unwrap();
    committed(&run, "education");
    assert_eq!(
        count(&run, "org", |c| c.add),
        entra_mock::SCHOOLS.len() as u64
    );
    let users = &run.report.counts["user"];
    assert_eq!(
        (users.read, users.skipped, users.add),
        (11, 2, 9),
        "the administrator and the service account have no number: {users:?}"
    );
    let store = engine.store();
    let sofia = store
        .entity_of(&org, "entra", "user", "1f0c-s1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(value(&sofia.data, "role"), "student");
    assert_eq!(value(&sofia.data, "identifier"), "ST-1");
    let school = store
        .entity_of(&org, "entra", "org", "e5c1-s2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(value(&school.data, "name"), "Springfield High");
    assert_eq!(value(&school.data, "identifier"), "SH-102");

    graph.update("1f0c-t2", |u| {
        u["mail"] = json!("alan.turing@springfield.org")
    });
    let before = graph.requests().len();
    let delta = engine.import(&org, "entra", quick()).await.unwrap();
    committed(&delta, "education quick");
    assert_eq!(
        count(&delta, "user", |c| c.update),
        1,
        "{:?}",
        delta.report.counts
    );
    assert!(
        graph.requests()[before..]
            .iter()
            .any(|r| r.path == "/v1.0/education/users/delta"),
        "the quick run calls the education users' deltaLink"
    );
}

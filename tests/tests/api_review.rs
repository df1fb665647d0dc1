//! Issue 18, part B, through the REST API in-process: reviewing a run of
//! thousands of changes (filters by kind, action, role, school and text,
//! everything a filter shows left out or kept at once, applied by the
//! approval; the users split by role), names instead of ids (the run
//! carries the integration's name, an enrollment its person and class, a
//! full name is found, two people of one name are told apart by source and
//! identifier), and error messages an admin reads without backticks. Every
//! test runs on SQLite and, with DATABASE_URL, on PostgreSQL.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use homeroom_host::app::secrets::SecretBox;
use homeroom_host::app::{App, Role, issue_token};
use homeroom_host::pipeline::Engine;
use homeroom_host::serve;
use homeroom_tests::review::{District, district, waiting_import};
use homeroom_tests::support::{database_urls, engine, org_id};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Harness {
    router: Router,
    engine: Engine,
}

struct Reply {
    status: StatusCode,
    json: Value,
    text: String,
}

impl Harness {
    async fn new(url: &str) -> Harness {
        let engine = engine(url).await;
        let app = App::new(engine.clone(), SecretBox::random());
        Harness {
            router: serve::router(app),
            engine,
        }
    }

    async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
        let b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        let request = match body {
            Some(j) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(j.to_string())),
            None => b.body(Body::empty()),
        }
        .expect("request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024 * 1024)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&bytes).to_string();
        Reply {
            status,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    async fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, token, None).await
    }

    async fn token(&self, org: &str, role: Role) -> String {
        issue_token(
            &self.engine.store(),
            &format!("{} of {org}", role.as_str()),
            false,
            "test",
            &[(org, role)],
        )
        .await
        .expect("token")
        .1
    }
}

/// An organization whose first import of `d` waits for approval; returns
/// (org, run id, operator token, viewer token, admin token).
async fn waiting_run(h: &Harness, dir: &Path, d: &District) -> (String, String, [String; 3]) {
    let org = org_id("review");
    let run = waiting_import(&h.engine, &dir.join(format!("sis-{org}")), &org, d).await;
    let tokens = [
        h.token(&org, Role::Operator).await,
        h.token(&org, Role::Viewer).await,
        h.token(&org, Role::Admin).await,
    ];
    (org, run.id, tokens)
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Every action of a filtered list, page by page (500 at a time).
async fn all_actions(h: &Harness, run: &str, query: &str, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let r = h
            .get(
                &format!("{run}/actions?{query}&limit=500&offset={offset}"),
                token,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
        out.extend(r.json["actions"].as_array().cloned().unwrap_or_default());
        match r.json["next_offset"].as_i64() {
            Some(n) => offset = n,
            None => return out,
        }
    }
}

fn role_of(a: &Value) -> &str {
    a["after"]["role"]["v"].as_str().unwrap_or("")
}

/// 3,000 students and the rest: an operator reviews them by role, school
/// and name in a few requests, leaves out the teachers and contacts by
/// filter (no list of numbers), puts the contacts back, and the approval
/// applies exactly the rest and says how many it left out.
#[tokio::test]
async fn a_big_run_is_reviewed_by_filter_and_approved_with_its_exclusions() {
    let tmp = tempfile::tempdir().unwrap();
    let d = district(3_000);
    let students = d.students_s1 + d.students_s2;
    let users = students + d.teachers + d.contacts + d.admins;
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let (org, run_id, [operator, viewer, admin]) = waiting_run(&h, tmp.path(), &d).await;
        let base = format!("/api/v1/organizations/{org}");
        let run = format!("{base}/runs/{run_id}");
        let clock = Instant::now();

        // The report's users split by role.
        let roles = h.get(&format!("{run}/roles"), &viewer).await;
        assert_eq!(roles.status, StatusCode::OK, "{url}: {}", roles.text);
        let add_of = |role: &str| {
            roles
                .json
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["role"] == role)
                .map(|r| r["add"].as_u64().unwrap())
        };
        assert_eq!(
            add_of("student"),
            Some(students as u64),
            "{url}: {}",
            roles.text
        );
        assert_eq!(add_of("teacher"), Some(d.teachers as u64), "{}", roles.text);
        assert_eq!(add_of("contact"), Some(d.contacts as u64), "{}", roles.text);
        assert_eq!(add_of("admin"), Some(d.admins as u64), "{}", roles.text);
        assert_eq!(add_of("other"), None, "{}", roles.text);

        // All user adds: one count, pages of at most 500.
        let page = h
            .get(
                &format!("{run}/actions?kind=user&action=add&limit=500"),
                &viewer,
            )
            .await;
        assert_eq!(page.json["total"], users as u64, "{url}: {}", page.text);
        assert_eq!(page.json["actions"].as_array().unwrap().len(), 500);

        // By role: teachers (and aides) only; the count is the role split's.
        let teachers = all_actions(&h, &run, "role=teacher", &viewer).await;
        assert_eq!(teachers.len(), d.teachers, "{url}");
        assert!(
            teachers
                .iter()
                .all(|a| ["teacher", "aide"].contains(&role_of(a)))
        );
        let contacts = all_actions(&h, &run, "role=contacts&action=add", &viewer).await;
        assert_eq!(contacts.len(), d.contacts);
        assert!(
            contacts
                .iter()
                .all(|a| ["parent", "guardian"].contains(&role_of(a)))
        );

        // By school: the students of s1, and its teachers, nothing of s2.
        let of_s1 = h
            .get(
                &format!("{run}/actions?role=student&school=s1&limit=1"),
                &viewer,
            )
            .await;
        assert_eq!(
            of_s1.json["total"], d.students_s1 as u64,
            "{url}: {}",
            of_s1.text
        );
        let of_s2 = h
            .get(
                &format!("{run}/actions?kind=user&school=s2&limit=1"),
                &viewer,
            )
            .await;
        assert_eq!(
            of_s2.json["total"],
            (d.students_s2 + d.contacts) as u64,
            "{url}: {}",
            of_s2.text
        );

        // By text: a full name, in any case; two people of one name are
        // told apart by their identifiers.
        let ada = all_actions(&h, &run, &format!("q={}", enc("ada LOVELACE")), &viewer).await;
        assert_eq!(ada.len(), 2, "{url}: {ada:?}");
        let mut ids: Vec<&str> = ada
            .iter()
            .map(|a| a["source_record_id"].as_str().unwrap())
            .collect();
        ids.sort();
        assert_eq!(ids, ["ada-1", "ada-2"]);
        assert!(ada.iter().all(|a| a["label"] == "Ada Lovelace"), "{ada:?}");
        let one = h
            .get(
                &format!("{run}/actions?q={}&school=s2", enc("Ada Lovelace")),
                &viewer,
            )
            .await;
        assert_eq!(one.json["total"], 1, "{}", one.text);
        assert_eq!(one.json["actions"][0]["source_record_id"], "ada-2");
        // A search's `%` and `_` are letters, not wildcards.
        for literal in ["%", "_"] {
            let r = h
                .get(&format!("{run}/actions?q={}", enc(literal)), &viewer)
                .await;
            assert_eq!(
                r.json["total"], 0,
                "{url}: {literal} matched {}",
                r.json["total"]
            );
        }

        // Enrollments name the person and the class.
        let enrollments = all_actions(&h, &run, "kind=enrollment", &viewer).await;
        assert_eq!(enrollments.len(), 5);
        assert!(
            enrollments
                .iter()
                .any(|a| a["label"] == "Given1 Family1 in Algebra 1"),
            "{url}: {:?}",
            enrollments.iter().map(|a| &a["label"]).collect::<Vec<_>>()
        );
        let reviewed = clock.elapsed();
        assert!(
            reviewed < Duration::from_secs(60),
            "{url}: review took {reviewed:?}"
        );
        eprintln!("{url}: {users} user adds reviewed through the API in {reviewed:?}");

        // Bad filters: a clear message without backticks.
        for (q, says) in [
            ("role=wizard", "is not a role"),
            ("action=merge", "is not an action"),
            ("kind=pets", "is not a kind of record"),
        ] {
            let r = h.get(&format!("{run}/actions?{q}"), &viewer).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{q}: {}",
                r.text
            );
            assert!(r.text.contains(says), "{}", r.text);
            assert!(!r.text.contains('`'), "{}", r.text);
        }

        // A viewer cannot leave anything out.
        let select = |filter: Value, select: &str| json!({"filter": filter, "select": select});
        let r = h
            .call(
                "POST",
                &format!("{run}/selection"),
                &viewer,
                Some(select(json!({"role": "teacher"}), "exclude")),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

        // Leave out every teacher and every contact, then put the contacts back.
        let r = h
            .call(
                "POST",
                &format!("{run}/selection"),
                &operator,
                Some(select(json!({"role": "teacher"}), "exclude")),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.text);
        assert_eq!(r.json["matched"], d.teachers as u64);
        assert_eq!(r.json["excluded"], d.teachers as u64);
        let r = h
            .call(
                "POST",
                &format!("{run}/selection"),
                &operator,
                Some(select(json!({"role": "contact"}), "exclude")),
            )
            .await;
        assert_eq!(
            r.json["excluded"],
            (d.teachers + d.contacts) as u64,
            "{}",
            r.text
        );
        let r = h
            .call(
                "POST",
                &format!("{run}/selection"),
                &operator,
                Some(select(json!({"role": "contact", "q": ""}), "include")),
            )
            .await;
        assert_eq!(r.json["matched"], d.contacts as u64, "{}", r.text);
        assert_eq!(r.json["excluded"], d.teachers as u64, "{}", r.text);
        let listed = h.get(&format!("{run}/actions?role=teacher"), &viewer).await;
        assert_eq!(
            listed.json["excluded"], d.teachers as u64,
            "{}",
            listed.text
        );
        assert!(
            listed.json["actions"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["excluded"] == true)
        );

        // The approval applies the rest and says how many it left out; so does its audit entry.
        let approved = h
            .call(
                "POST",
                &format!("{run}/approve"),
                &operator,
                Some(json!({})),
            )
            .await;
        assert_eq!(approved.status, StatusCode::OK, "{url}: {}", approved.text);
        assert_eq!(
            approved.json["excluded"], d.teachers as u64,
            "{}",
            approved.text
        );
        let audit = h.get(&format!("{base}/audit?limit=50"), &admin).await;
        let entry = audit
            .json
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "run.approve")
            .cloned()
            .expect("audited");
        assert_eq!(
            entry["detail"]["excluded"], d.teachers as u64,
            "{url}: {entry}"
        );
        let by_filter = audit
            .json
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "run.exclusions")
            .count();
        assert_eq!(by_filter, 3, "{url}: each selection by filter is audited");
        for (kind, n) in [
            ("student", students),
            ("teacher", 0),
            ("contact", d.contacts),
            ("admin", d.admins),
        ] {
            let r = h
                .get(&format!("{base}/entities?kind={kind}&limit=1"), &viewer)
                .await;
            assert_eq!(r.json["total"], n as u64, "{url}: {kind}: {}", r.text);
        }
        // The records search finds a full name, in either order.
        for name in ["Ada Lovelace", "lovelace ada"] {
            let r = h
                .get(
                    &format!("{base}/entities?kind=student&q={}", enc(name)),
                    &viewer,
                )
                .await;
            assert_eq!(r.json["total"], 2, "{url}: {name}: {}", r.text);
            // Told apart by source and identifier.
            let mut told: Vec<String> = r.json["entities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e["sources"][0]["source_name"].as_str().unwrap_or(""),
                        e["sources"][0]["source_record_id"].as_str().unwrap_or("")
                    )
                })
                .collect();
            told.sort();
            assert_eq!(
                told,
                ["Springfield SIS ada-1", "Springfield SIS ada-2"],
                "{url}: {}",
                r.text
            );
        }
        // Committed: nothing more can be left out.
        let r = h
            .call(
                "POST",
                &format!("{run}/selection"),
                &operator,
                Some(select(json!({}), "include")),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    }
}

/// "Apply only these": the approval applies exactly what the filter
/// showed; the run carries the integration's name, not its id; an unknown
/// run's message names no internals.
#[tokio::test]
async fn apply_only_what_a_filter_shows_and_names_not_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let d = district(60);
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let (org, run_id, [operator, viewer, _admin]) = waiting_run(&h, tmp.path(), &d).await;
        let base = format!("/api/v1/organizations/{org}");
        let run = format!("{base}/runs/{run_id}");

        let summary = h.get(&run, &viewer).await;
        assert_eq!(
            summary.json["source_name"], "Springfield SIS",
            "{url}: {}",
            summary.text
        );
        let list = h.get(&format!("{base}/runs"), &viewer).await;
        assert_eq!(
            list.json[0]["source_name"], "Springfield SIS",
            "{}",
            list.text
        );

        let r = h
            .call(
                "POST",
                &format!("{run}/selection"),
                &operator,
                Some(json!({"filter": {"role": "student", "school": "s1"}, "select": "only"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.text);
        assert_eq!(r.json["matched"], d.students_s1 as u64, "{}", r.text);
        let total = r.json["total"].as_u64().unwrap();
        assert_eq!(
            r.json["excluded"],
            total - d.students_s1 as u64,
            "{}",
            r.text
        );
        let approved = h
            .call("POST", &format!("{run}/approve"), &operator, None)
            .await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
        assert_eq!(
            approved.json["applied"], d.students_s1 as u64,
            "{url}: {}",
            approved.text
        );
        let students = h
            .get(&format!("{base}/entities?kind=student&limit=1"), &viewer)
            .await;
        assert_eq!(
            students.json["total"], d.students_s1 as u64,
            "{}",
            students.text
        );

        let missing = h
            .get(&format!("{base}/runs/no-such-run/actions"), &viewer)
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(!missing.text.contains('`'), "{}", missing.text);
    }
}

/// While a run reads, its progress says the source's total and how far it
/// is in it (never past 100%), and how many records it has read in all:
/// the OneRoster connector over loopback to the mock (slow pages), its
/// totals those of the mock's collections.
#[tokio::test]
async fn progress_shows_the_sources_total_and_share() {
    use homeroom_host::config::{DistrictConfig, Organization, SourceConfig};
    use homeroom_tests::oneroster_mock::{
        CLIENT_ID, CLIENT_SECRET, Dataset, MockOneRoster, Version,
    };

    let sample = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/sample-district"
    ));
    // SAFETY: set once, before any run reads it; no other test of this file reads it.
    unsafe { std::env::set_var("HOMEROOM_TEST_REVIEW_SIS_SECRET", CLIENT_SECRET) };
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let dataset = Dataset::from_csv_dir(sample).unwrap();
        let users = csv_rows(&sample.join("users.csv"));
        let mock = MockOneRoster::start(dataset).await.unwrap();
        mock.slow_pages(Duration::from_millis(120));
        let h = Harness::new(&url).await;
        let org = org_id("progress");
        let mut s = SourceConfig::new("sis", "oneroster");
        s.name = Some("Maplewood OneRoster".into());
        for (k, v) in [
            ("service_url", mock.service_url(Version::V1p2)),
            ("version", "1.2".into()),
            ("auth", "oauth2-client-credentials".into()),
            ("client_id", CLIENT_ID.into()),
            ("page_size", "100".into()),
            ("token_url", mock.token_url()),
        ] {
            s.settings.insert(k.into(), v);
        }
        s.secrets.insert(
            "client_secret".into(),
            "HOMEROOM_TEST_REVIEW_SIS_SECRET".into(),
        );
        s.advanced.preview = true;
        h.engine
            .apply_config(&DistrictConfig {
                organization: Organization {
                    id: org.clone(),
                    name: "Maplewood".into(),
                    ..Default::default()
                },
                sources: vec![s],
                vendors: Vec::new(),
            })
            .await
            .expect("apply");
        let operator = h.token(&org, Role::Operator).await;
        let base = format!("/api/v1/organizations/{org}");
        let r = h
            .call(
                "POST",
                &format!("{base}/sources/sis/runs"),
                &operator,
                Some(json!({"mode": "full"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{url}: {}", r.text);
        let run = format!("{base}/runs/{}", r.json["run_id"].as_str().unwrap());
        let mut seen: Vec<(u64, u64, u64)> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let r = h.get(&run, &operator).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            if r.json["status"] != "running" && r.json["status"] != "queued" {
                assert_eq!(r.json["status"], "awaiting_approval", "{url}: {}", r.text);
                break;
            }
            let p = &r.json["progress"];
            if let Some(total) = p["total"].as_u64() {
                seen.push((
                    p["done"].as_u64().unwrap(),
                    total,
                    p["read"].as_u64().unwrap_or(0),
                ));
            }
            assert!(Instant::now() < deadline, "{url}: the run did not finish");
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        assert!(!seen.is_empty(), "{url}: the progress never said a total");
        assert!(
            seen.iter().any(|(_, total, _)| *total == users as u64),
            "{url}: no progress said the users' total {users}: {seen:?}"
        );
        assert!(seen.iter().all(|(_, total, _)| *total > 0), "{seen:?}");
        assert!(seen.iter().any(|(_, _, read)| *read > 0), "{url}: {seen:?}");
        // How far it is counts within what the source reads now: the
        // host's count of all records read is told apart.
        assert!(
            seen.iter().all(|(done, total, _)| done <= total),
            "{url}: {seen:?}"
        );
    }
}

/// Data rows of a CSV file (its header aside).
fn csv_rows(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count()
}

//! The OneRoster provider end to end, over real HTTP on loopback: a
//! district imported from a OneRoster CSV package, vendor clients made and
//! agreements granted through the REST API, and vendors reading through the
//! hub's OneRoster 1.1 and 1.2 API: a Python client written apart from the
//! hub (plain `requests`, `tests/clients/oneroster_read.py`) reads the whole
//! district in both versions; a scoped client tries every way out of its
//! agreement (OR-injection, hidden fields in filter, sort and fields,
//! relationship endpoints of ids outside it) and finds none; an expired
//! agreement serves nothing; the read log names every read, per vendor and
//! per student; a purged student is gone from every answer, with a record
//! of the purge. Each runs on SQLite and, with DATABASE_URL, on PostgreSQL.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use homeroom_host::app::secrets::SecretBox;
use homeroom_host::app::{App, Role, issue_token};
use homeroom_host::config::{DistrictConfig, MasterField, Organization, SourceConfig, SyncMode};
use homeroom_host::pipeline::{Engine, ImportOptions};
use homeroom_host::secret::Secret;
use homeroom_host::serve;
use homeroom_host::store::RunStatus;
use homeroom_tests::district::{self, Options, Summary};
use homeroom_tests::oneroster_mock::{self, Dataset, MockOneRoster, Version as MockVersion};
use homeroom_tests::support::{database_urls, engine, org_id, serve_until_shutdown};
use serde_json::{Value, json};

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/oneroster_read.py");

struct Hub {
    base: String,
    org: String,
    admin: String,
    engine: Engine,
    http: reqwest::Client,
    summary: Summary,
    /// The key its secrets are sealed with (every host of one hub has it).
    key: SecretBox,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn hub(url: &str, dir: &Path) -> Hub {
    let summary = district::write_package(&Options::default(), dir).expect("district");
    let engine = engine(url).await;
    let org = org_id("provider");
    let mut sis = SourceConfig::new("sis", "oneroster-csv");
    sis.folder = Some(dir.display().to_string());
    sis.advanced.auto_commit = true;
    engine
        .apply_config(&DistrictConfig {
            organization: Organization {
                id: org.clone(),
                name: "Maplewood".into(),
                ..Default::default()
            },
            sources: vec![sis],
            vendors: Vec::new(),
        })
        .await
        .expect("apply");
    let run = engine
        .import(&org, "sis", ImportOptions::default())
        .await
        .expect("import");
    assert_eq!(run.status, RunStatus::Committed, "{:?}", run.report.failure);
    serve_hub(engine, org, summary, SecretBox::random()).await
}

/// The hub's API and provider over loopback, with an admin token.
async fn serve_hub(engine: Engine, org: String, summary: Summary, key: SecretBox) -> Hub {
    let app = App::new(engine.clone(), key.clone());
    let admin = issue_token(
        engine.store(),
        "admin",
        false,
        "test",
        &[(&org, Role::Admin)],
    )
    .await
    .expect("token")
    .1;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = serve_until_shutdown(listener, serve::router(app));
    Hub {
        base,
        org,
        admin,
        engine,
        http: reqwest::Client::new(),
        summary,
        key,
        _stop: stop,
    }
}

struct Reply {
    status: u16,
    json: Value,
    headers: reqwest::header::HeaderMap,
}

impl Hub {
    async fn api(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}/api/v1/organizations/{}{path}", self.base, self.org);
        let mut b = self
            .http
            .request(method.parse().unwrap(), &url)
            .bearer_auth(&self.admin);
        if let Some(body) = body {
            b = b.json(&body);
        }
        reply(b.send().await.expect("api answers")).await
    }

    /// A vendor client with an agreement; (client id, secret).
    async fn vendor(
        &self,
        name: &str,
        scopes: Option<Vec<&str>>,
        terms: Value,
    ) -> (String, String) {
        let made = self
            .api(
                "POST",
                "/vendors",
                Some(json!({"name": name, "scopes": scopes})),
            )
            .await;
        assert_eq!(made.status, 201, "{}", made.json);
        let id = made.json["client"]["id"].as_str().unwrap().to_string();
        let secret = made.json["client_secret"].as_str().unwrap().to_string();
        let granted = self
            .api("PUT", &format!("/vendors/{id}/agreement"), Some(terms))
            .await;
        assert_eq!(granted.status, 200, "{}", granted.json);
        (id, secret)
    }

    async fn token(&self, id: &str, secret: &str, scope: Option<&str>) -> Reply {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        reply(
            self.http
                .post(format!("{}/ims/oneroster/token", self.base))
                .basic_auth(id, Some(secret))
                .form(&form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn bearer(&self, id: &str, secret: &str) -> String {
        let t = self.token(id, secret, None).await;
        assert_eq!(t.status, 200, "{}", t.json);
        t.json["access_token"].as_str().unwrap().to_string()
    }

    /// A GET of the 1.2 rostering service, the query written as clients
    /// write it (unencoded quotes and spaces, which reqwest encodes).
    async fn read(&self, token: &str, path_and_query: &str) -> Reply {
        let url = format!("{}/ims/oneroster/rostering/v1p2{path_and_query}", self.base);
        reply(self.http.get(url).bearer_auth(token).send().await.unwrap()).await
    }

    /// Every record of a 1.2 collection, along `rel="next"`.
    async fn all(&self, token: &str, path: &str, envelope: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = format!(
            "{}/ims/oneroster/rostering/v1p2{path}{sep}limit=97",
            self.base
        );
        loop {
            let r = reply(self.http.get(&url).bearer_auth(token).send().await.unwrap()).await;
            assert_eq!(r.status, 200, "{url}: {}", r.json);
            out.extend(r.json[envelope].as_array().cloned().unwrap_or_default());
            let link = r
                .headers
                .get("link")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            match link
                .split(", ")
                .find(|l| l.ends_with("rel=\"next\""))
                .and_then(|l| l.strip_prefix('<'))
                .and_then(|l| l.split_once('>'))
            {
                Some((next, _)) => url = next.to_string(),
                None => break,
            }
        }
        out
    }

    async fn counts(&self) -> BTreeMap<String, i64> {
        self.engine
            .store()
            .entity_counts(&self.org)
            .await
            .unwrap()
            .into_iter()
            .collect()
    }
}

async fn reply(r: reqwest::Response) -> Reply {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    Reply {
        status,
        json: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    }
}

fn every_school(kinds: &[&str]) -> Value {
    json!({"all_schools": true, "kinds": kinds, "expires_on": "2099-06-30"})
}

const ALL_KINDS: [&str; 10] = [
    "orgs",
    "academicSessions",
    "courses",
    "classes",
    "users",
    "enrollments",
    "demographics",
    "categories",
    "lineItems",
    "results",
];

fn minor(r: &Reply) -> &str {
    r.json["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]
        .as_str()
        .unwrap_or_default()
}

fn python_with_requests() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import requests"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("HOMEROOM_REQUIRE_PYTHON").as_deref() == Ok("1") {
            panic!("HOMEROOM_REQUIRE_PYTHON=1 but python3 with requests is not here");
        }
        eprintln!("note: the Python client part skipped: install python3 and requests");
    }
    ok
}

/// A client from elsewhere reads the whole district, in both versions, and
/// every count is the hub's.
#[tokio::test]
async fn a_python_client_reads_the_whole_district_in_both_versions() {
    if !python_with_requests() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let dir = tmp.path().join(format!("district-{}", url.len()));
        let hub = hub(&url, &dir).await;
        let (id, secret) = hub
            .vendor("Lumen Touch", None, every_school(&ALL_KINDS))
            .await;
        let counts = hub.counts().await;
        for version in ["1.2", "1.1"] {
            let out = tokio::process::Command::new("python3")
                .args([CLIENT, &hub.base, &id, &secret, version, "150", "--grade"])
                .output()
                .await
                .expect("python3 runs");
            assert!(
                out.status.success(),
                "{version}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let read: Value = serde_json::from_slice(&out.stdout).expect("the client's JSON");
            assert_eq!(read["problems"], json!([]), "{url} {version}");
            let n = |c: &str| read["counts"][c].as_i64().unwrap_or(-1);
            for (collection, kind) in [
                ("orgs", "org"),
                ("academicSessions", "academic-session"),
                ("courses", "course"),
                ("classes", "class"),
                ("users", "user"),
                ("enrollments", "enrollment"),
                ("demographics", "demographics"),
            ] {
                assert_eq!(
                    n(collection),
                    counts.get(kind).copied().unwrap_or(0),
                    "{url} {version}: {collection}"
                );
            }
            assert_eq!(n("schools") as u64, hub.summary.schools, "{version}");
            assert_eq!(n("students") as u64, hub.summary.students, "{version}");
            assert_eq!(n("teachers") as u64, hub.summary.teachers, "{version}");
            assert!(n("users") > 0 && n("enrollments") > 0);
            assert_eq!(
                read["students_in_classes"], read["student_enrollments"],
                "{version}: each class's students are its student enrollments"
            );
            // The grade it wrote is the hub's: a result of the vendor's
            // source, naming the hub's student, as it reads it back.
            let graded = &read["graded"];
            assert_eq!(graded["score"], 17.5, "{url} {version}: {graded}");
            let result = hub
                .engine
                .store()
                .entity(&hub.org, graded["result"].as_str().unwrap())
                .await
                .expect("the written result is an entity of the hub");
            assert_eq!(result.kind, "result");
            let data = Value::Object(result.data.clone());
            assert_eq!(data["score"]["v"], 17.5, "{url} {version}: {data}");
            assert_eq!(
                data["score"]["s"],
                format!("vendor:{id}"),
                "{url} {version}"
            );
            assert_eq!(
                data["student"]["v"]["id"], graded["student"],
                "{url} {version}"
            );
            // Demographics are served under their person's id.
            let users: HashSet<&str> = read["ids"]["users"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert!(
                read["ids"]["demographics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|d| users.contains(d.as_str().unwrap_or_default())),
                "{version}"
            );
        }
        // Every page the client read is in the log.
        let log = hub
            .api("GET", &format!("/vendors/{id}/reads?limit=10000"), None)
            .await;
        assert_eq!(log.status, 200);
        let reads = log.json.as_array().unwrap();
        assert!(reads.len() > 40, "{}", reads.len());
        assert!(reads.iter().all(|r| r["status"] == 200), "{}", log.json);
    }
}

/// A client granted one school and a few fields finds no way to the rest.
#[tokio::test]
async fn no_query_escapes_the_agreement() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let dir = tmp.path().join(format!("district-{}", url.len()));
        let hub = hub(&url, &dir).await;
        let (all_id, all_secret) = hub
            .vendor("District analytics", None, every_school(&ALL_KINDS))
            .await;
        let all = hub.bearer(&all_id, &all_secret).await;
        let schools = hub.all(&all, "/schools", "orgs").await;
        assert!(schools.len() >= 2);
        let (mine, theirs) = (
            schools[0]["sourcedId"].as_str().unwrap().to_string(),
            schools[1]["sourcedId"].as_str().unwrap().to_string(),
        );
        let (id, secret) = hub
            .vendor(
                "Reading app",
                Some(vec!["roster.readonly", "roster-core.readonly"]),
                json!({
                    "schools": [mine],
                    "kinds": ["orgs", "users", "classes", "enrollments"],
                    "attributes": {"users": ["givenName", "familyName", "roles"]},
                    "expires_on": "2099-06-30",
                }),
            )
            .await;
        let token = hub.bearer(&id, &secret).await;

        // What the client may see, told from the unscoped view.
        let every_user = hub.all(&all, "/users", "users").await;
        let at = |u: &Value, school: &str| {
            u["roles"]
                .as_array()
                .is_some_and(|rs| rs.iter().any(|r| r["org"]["sourcedId"] == school))
        };
        let inside: HashSet<String> = every_user
            .iter()
            .filter(|u| at(u, &mine))
            .map(|u| u["sourcedId"].as_str().unwrap().to_string())
            .collect();
        let outside = every_user
            .iter()
            .find(|u| !at(u, &mine) && at(u, &theirs) && u["roles"][0]["role"] == "student")
            .expect("a student of the other school")["sourcedId"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(!inside.is_empty() && !inside.contains(&outside));

        let seen = hub.all(&token, "/users", "users").await;
        let seen_ids: HashSet<String> = seen
            .iter()
            .map(|u| u["sourcedId"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            seen_ids, inside,
            "{url}: the users of its school, all of them, only them"
        );
        for u in &seen {
            let keys: Vec<&str> = u.as_object().unwrap().keys().map(String::as_str).collect();
            assert!(
                keys.iter().all(|k| [
                    "sourcedId",
                    "status",
                    "dateLastModified",
                    "givenName",
                    "familyName",
                    "roles"
                ]
                .contains(k)),
                "{url}: {keys:?}"
            );
        }
        let total = |r: &Reply| -> i64 {
            r.headers
                .get("x-total-count")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1)
        };

        // OR-injection, as real clients write filters (unencoded).
        for filter in [
            "familyName='nobody' OR sourcedId>''",
            "sourcedId!='x' OR roles.org.sourcedId='THEIRS'",
            "(givenName~'a' OR givenName!='a') OR familyName!=''",
            "sourcedId='OUTSIDE'",
            "sourcedId='OUTSIDE' OR sourcedId='OUTSIDE'",
        ] {
            let filter = filter
                .replace("THEIRS", &theirs)
                .replace("OUTSIDE", &outside);
            let r = hub
                .read(&token, &format!("/users?limit=10000&filter={filter}"))
                .await;
            assert_eq!(r.status, 200, "{filter}: {}", r.json);
            let ids: HashSet<String> = r.json["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["sourcedId"].as_str().unwrap().to_string())
                .collect();
            assert!(ids.is_subset(&inside), "{url}: {filter} escaped");
            assert!(!ids.contains(&outside), "{url}: {filter}");
            assert_eq!(total(&r), ids.len() as i64, "{filter}");
        }

        // Hidden fields are refused as fields that do not exist are, in the
        // filter, the sort and the selection.
        for (query, code) in [
            ("filter=email~'@'", "invalid_filter_field"),
            ("filter=givenName='a' OR email~'@'", "invalid_filter_field"),
            ("filter=noSuchField='x'", "invalid_filter_field"),
            ("sort=email", "invalid_sort_field"),
            ("sort=birthDate", "invalid_sort_field"),
            ("fields=givenName,email", "invalid_selection_field"),
            ("fields=password", "invalid_selection_field"),
            ("filter=givenName=unquoted", "invalid_filter_field"),
        ] {
            let r = hub.read(&token, &format!("/users?{query}")).await;
            assert_eq!(r.status, 400, "{query}: {}", r.json);
            assert_eq!(minor(&r), code, "{query}: {}", r.json);
            assert_eq!(r.json["imsx_codeMajor"], "failure");
            let text = r.json["imsx_description"].as_str().unwrap();
            assert!(!text.contains('`'), "{text}");
        }
        let hidden = hub.read(&token, "/users?filter=email~'@'").await;
        let absent = hub.read(&token, "/users?filter=noSuchField~'@'").await;
        assert_eq!(
            hidden.json["imsx_description"]
                .as_str()
                .unwrap()
                .replace("email", "noSuchField"),
            absent.json["imsx_description"].as_str().unwrap(),
            "a hidden field reads as one that does not exist"
        );

        // Ids outside the agreement, by every door.
        let their_class = hub
            .all(&all, &format!("/schools/{theirs}/classes"), "classes")
            .await[0]["sourcedId"]
            .as_str()
            .unwrap()
            .to_string();
        for path in [
            format!("/users/{outside}"),
            format!("/students/{outside}"),
            format!("/users/{outside}/classes"),
            format!("/students/{outside}/classes"),
            format!("/schools/{theirs}"),
            format!("/orgs/{theirs}"),
            format!("/schools/{theirs}/students"),
            format!("/schools/{theirs}/classes"),
            format!("/classes/{their_class}"),
            format!("/classes/{their_class}/students"),
            format!("/schools/{mine}/classes/{their_class}/students"),
            format!("/schools/{theirs}/classes/{their_class}/enrollments"),
        ] {
            let r = hub.read(&token, &path).await;
            assert_eq!(r.status, 404, "{url}: {path}: {}", r.json);
            assert_eq!(minor(&r), "unknownobject", "{path}");
        }
        // A gradebook endpoint under a rostering parent answers for a
        // client that sees both, and not for one outside the class.
        let gradebook = |path: String, token: String| {
            let http = hub.http.clone();
            let url = format!("{}/ims/oneroster/gradebook/v1p2{path}", hub.base);
            async move { reply(http.get(url).bearer_auth(token).send().await.unwrap()).await }
        };
        let items = gradebook(format!("/classes/{their_class}/lineItems"), all.clone()).await;
        assert_eq!(items.status, 200, "{}", items.json);
        assert!(items.json["lineItems"].is_array());
        let hidden = gradebook(format!("/classes/{their_class}/lineItems"), token.clone()).await;
        assert_eq!(hidden.status, 404, "{}", hidden.json);

        // Kinds it was not granted, and scopes it does not hold.
        for path in ["/courses", "/academicSessions", "/demographics"] {
            let r = hub.read(&token, path).await;
            assert_eq!(r.status, 403, "{path}: {}", r.json);
            assert_eq!(minor(&r), "forbidden");
        }
        let r = hub
            .token(
                &id,
                &secret,
                Some("https://purl.imsglobal.org/spec/or/v1p2/scope/roster-demographics.readonly"),
            )
            .await;
        assert_eq!(
            (r.status, r.json["error"].as_str()),
            (400, Some("invalid_scope"))
        );

        // Paging adds up, and the relationship endpoints of its own school work.
        let first = hub.read(&token, "/users?limit=5&offset=0").await;
        assert_eq!(total(&first), inside.len() as i64);
        let link = first.headers.get("link").unwrap().to_str().unwrap();
        assert!(
            link.contains("rel=\"next\"") && link.contains("rel=\"last\""),
            "{link}"
        );
        let own = hub
            .all(&token, &format!("/schools/{mine}/students"), "users")
            .await;
        assert!(!own.is_empty());
        assert!(
            own.iter()
                .all(|u| inside.contains(u["sourcedId"].as_str().unwrap()))
        );

        // A client that sends its secret along is not written down.
        let careless = hub
            .read(&token, &format!("/users?limit=1&client_secret={secret}"))
            .await;
        assert_eq!(careless.status, 200);
        assert!(!careless.headers["link"].to_str().unwrap().contains(&secret));

        // The log names the reads, and the reads of a student.
        let log = hub
            .api("GET", &format!("/vendors/{id}/reads?limit=10000"), None)
            .await;
        assert!(
            !log.json.to_string().contains(&secret),
            "the secret is in the read log"
        );
        let reads = log.json.as_array().unwrap();
        assert!(reads.iter().any(|r| {
            r["endpoint"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/users/{outside}"))
                && r["status"] == 404
                && r["served"] == 0
        }));
        assert!(reads.iter().any(|r| {
            r["query"]
                .as_str()
                .unwrap()
                .contains("familyName='nobody' OR sourcedId>''")
        }));
        let someone = inside.iter().next().unwrap();
        let theirs_log = hub
            .api("GET", &format!("/entities/{someone}/reads"), None)
            .await;
        assert!(
            theirs_log
                .json
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["client_id"] == id.as_str()),
            "{url}: the student's report names the reading app: {}",
            theirs_log.json
        );
        let never = hub
            .api("GET", &format!("/entities/{outside}/reads"), None)
            .await;
        assert!(
            never
                .json
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["client_id"] != id.as_str()),
            "{url}: the other school's student was never served to it"
        );
    }
}

/// An agreement past its last day serves nothing; a revoked client's token
/// stops; a wrong secret gets no token.
#[tokio::test]
async fn expired_agreements_and_revoked_clients_serve_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let dir = tmp.path().join(format!("district-{}", url.len()));
        let hub = hub(&url, &dir).await;
        let (id, secret) = hub.vendor("Old app", None, every_school(&ALL_KINDS)).await;
        let token = hub.bearer(&id, &secret).await;
        assert_eq!(hub.read(&token, "/users?limit=1").await.status, 200);

        // A past last day cannot be granted...
        let past = hub
            .api(
                "PUT",
                &format!("/vendors/{id}/agreement"),
                Some(json!({"all_schools": true, "kinds": ["users"], "expires_on": "2020-06-30"})),
            )
            .await;
        assert_eq!(past.status, 422, "{}", past.json);
        // ...but one granted before comes to pass: the day is moved back as
        // the calendar would.
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::query("UPDATE vendor_agreements SET expires_on = '2020-06-30' WHERE client_id = $1")
            .bind(&id)
            .execute(&pool)
            .await
            .unwrap();
        for path in [
            "/users",
            "/users?filter=givenName~'a' OR sourcedId>''",
            "/schools",
            "/orgs",
        ] {
            let r = hub.read(&token, path).await;
            assert_eq!(r.status, 403, "{url}: {path}: {}", r.json);
            assert!(
                r.json["imsx_description"]
                    .as_str()
                    .unwrap()
                    .contains("2020-06-30")
            );
            assert!(r.json.get("users").is_none());
        }
        let listed = hub.api("GET", "/vendors", None).await;
        assert_eq!(
            listed.json[0]["agreement"]["expired"], true,
            "{}",
            listed.json
        );

        // Wrong secret, no token; revoked client, token stops.
        let wrong = hub.token(&id, "not-the-secret", None).await;
        assert_eq!(
            (wrong.status, wrong.json["error"].as_str()),
            (401, Some("invalid_client"))
        );
        assert!(!wrong.json.to_string().contains("not-the-secret"));
        let no_token = hub.read("", "/users").await;
        assert_eq!(
            (no_token.status, minor(&no_token)),
            (401, "unauthorisedrequest")
        );
        assert_eq!(
            hub.api("DELETE", &format!("/vendors/{id}"), None)
                .await
                .status,
            204
        );
        let after = hub.read(&token, "/users").await;
        assert_eq!(after.status, 401, "{}", after.json);
        // The secret is kept as its hash only.
        let row: (String,) = sqlx::query_as("SELECT secret_hash FROM vendor_clients WHERE id = $1")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_ne!(row.0, secret);
        assert_eq!(row.0.len(), 64);
    }
}

/// A student purged on request is gone from every answer and every table
/// that held them, and the purge is on record.
#[tokio::test]
async fn a_purged_student_is_gone_with_a_record_of_the_purge() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let dir = tmp.path().join(format!("district-{}", url.len()));
        let hub = hub(&url, &dir).await;
        let (id, secret) = hub
            .vendor("Analytics", None, every_school(&ALL_KINDS))
            .await;
        let token = hub.bearer(&id, &secret).await;
        let students = hub.all(&token, "/students", "users").await;
        let student = students[0]["sourcedId"].as_str().unwrap().to_string();
        let enrollments = |all: &Vec<Value>| {
            all.iter()
                .filter(|e| e["user"]["sourcedId"] == student.as_str())
                .count()
        };
        let before = hub.all(&token, "/enrollments", "enrollments").await;
        assert!(enrollments(&before) > 0);
        assert_eq!(
            hub.read(&token, &format!("/users/{student}")).await.status,
            200
        );
        let demo = hub.read(&token, &format!("/demographics/{student}")).await;
        assert_eq!(demo.status, 200, "{}", demo.json);

        let refused = hub
            .api(
                "POST",
                &format!("/entities/{student}/purge"),
                Some(json!({"reason": " "})),
            )
            .await;
        assert_eq!(refused.status, 422);
        let purged = hub
            .api(
                "POST",
                &format!("/entities/{student}/purge"),
                Some(json!({"reason": "parent's request of 2026-12-01"})),
            )
            .await;
        assert_eq!(purged.status, 200, "{}", purged.json);
        assert!(
            purged.json["removed"]["entities"].as_u64().unwrap() as usize
                >= 2 + enrollments(&before),
            "{}",
            purged.json
        );

        assert_eq!(
            hub.read(&token, &format!("/users/{student}")).await.status,
            404
        );
        assert_eq!(
            hub.read(&token, &format!("/demographics/{student}"))
                .await
                .status,
            404
        );
        let after = hub.all(&token, "/enrollments", "enrollments").await;
        assert_eq!(enrollments(&after), 0);
        assert_eq!(after.len(), before.len() - enrollments(&before));
        let record = hub.api("GET", &format!("/entities/{student}"), None).await;
        assert_eq!(record.status, 404, "{}", record.json);
        let log = hub.api("GET", "/purges", None).await;
        let entry = &log.json[0];
        assert_eq!(entry["entity_id"], student.as_str());
        assert_eq!(entry["reason"], "parent's request of 2026-12-01");
        assert!(entry["purged_by"].as_str().unwrap().starts_with("admin"));
        // Nothing of the person is left in the tables that held them.
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        for table in [
            "entities WHERE id",
            "entity_links WHERE entity_id",
            "entity_history WHERE entity_id",
            "changes WHERE entity_id",
        ] {
            let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table} = $1"))
                .bind(&student)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(n, 0, "{url}: {table}");
        }
    }
}

/// A OneRoster 1.1 client signs each request with OAuth 1.0a instead of
/// asking for a token: a good signature reads, a replayed one, a wrong
/// secret and a client not made for signing do not.
#[tokio::test]
async fn a_1p1_client_signs_its_requests_with_oauth1() {
    use homeroom_host::capabilities::http::oauth1;
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let dir = tmp.path().join(format!("district-{}", url.len()));
        let hub = hub(&url, &dir).await;
        let made = hub
            .api(
                "POST",
                "/vendors",
                Some(json!({"name": "Old SIS app", "oauth1": true})),
            )
            .await;
        assert_eq!(made.status, 201, "{}", made.json);
        assert_eq!(made.json["client"]["signs_requests"], true);
        let id = made.json["client"]["id"].as_str().unwrap().to_string();
        let secret = made.json["client_secret"].as_str().unwrap().to_string();
        let granted = hub
            .api(
                "PUT",
                &format!("/vendors/{id}/agreement"),
                Some(every_school(&["users", "orgs"])),
            )
            .await;
        assert_eq!(granted.status, 200);
        let (plain_id, plain_secret) = hub.vendor("New app", None, every_school(&["users"])).await;

        let signed = |key: &str, secret: &str, nonce: &str, target: &str| {
            let url =
                reqwest::Url::parse(&format!("{}/ims/oneroster/v1p1{target}", hub.base)).unwrap();
            let header = oauth1::authorization_header(
                "GET",
                &url,
                &[],
                key,
                secret,
                nonce,
                oauth1::unix_now(),
            );
            (url, header)
        };
        let get = |(url, header): (reqwest::Url, String)| {
            let http = hub.http.clone();
            async move {
                reply(
                    http.get(url)
                        .header("authorization", header)
                        .send()
                        .await
                        .unwrap(),
                )
                .await
            }
        };
        let target = "/users?limit=5&filter=givenName~'a' AND role='student'";
        let first = signed(&id, &secret, "n-1", target);
        let ok = get(first.clone()).await;
        assert_eq!(ok.status, 200, "{url}: {}", ok.json);
        let users = ok.json["users"].as_array().unwrap();
        assert!(!users.is_empty() && users.len() <= 5);
        assert!(
            users
                .iter()
                .all(|u| u["role"] == "student" && u.get("roles").is_none()),
            "1.1's shape"
        );

        let again = get(first.clone()).await;
        assert_eq!(
            (again.status, minor(&again)),
            (401, "unauthorisedrequest"),
            "a replayed nonce"
        );
        // A second host over the same database, behind the same address
        // (as a load balancer has it), knows the nonce too; a request
        // signed anew reads there.
        let other = serve_hub(
            engine(&url).await,
            hub.org.clone(),
            Summary::default(),
            hub.key.clone(),
        )
        .await;
        let to_other = |(url, header): (reqwest::Url, String)| {
            let http = hub.http.clone();
            let at = url.as_str().replace(&hub.base, &other.base);
            let host = hub.base.trim_start_matches("http://").to_string();
            async move {
                reply(
                    http.get(at)
                        .header("host", host)
                        .header("authorization", header)
                        .send()
                        .await
                        .unwrap(),
                )
                .await
            }
        };
        let replayed = to_other(first).await;
        assert_eq!(replayed.status, 401, "{url}: replayed to another host");
        assert!(
            replayed.json["imsx_description"]
                .as_str()
                .unwrap()
                .contains("sent before"),
            "{url}: {}",
            replayed.json
        );
        let fresh = to_other(signed(&id, &secret, "n-9", target)).await;
        assert_eq!(fresh.status, 200, "{url}: {}", fresh.json);
        let wrong = get(signed(&id, "not-it", "n-2", target)).await;
        assert_eq!(wrong.status, 401);
        let plain = get(signed(&plain_id, &plain_secret, "n-3", target)).await;
        assert_eq!(plain.status, 401);
        assert!(
            plain.json["imsx_description"]
                .as_str()
                .unwrap()
                .contains("not set up to sign")
        );
        // The client may ask for tokens too; its reads are logged either way.
        assert_eq!(hub.token(&id, &secret, None).await.status, 200);
        let log = hub.api("GET", &format!("/vendors/{id}/reads"), None).await;
        assert!(
            log.json
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["status"] == 200 && r["served"].as_i64().unwrap() > 0)
        );
    }
}

/// Vendors and their agreements as configuration as code: applying the
/// district's file makes the client once (its secret told once), grants the
/// agreement with schools named as the district knows them, and `export`
/// gives the vendors back; applying it again changes nothing.
#[tokio::test]
async fn vendors_come_from_the_district_file() {
    use homeroom_host::app::local::Local;
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let dir = tmp.path().join(format!("district-{}", url.len()));
        let hub = hub(&url, &dir).await;
        let (all_id, all_secret) = hub
            .vendor("Everything", None, every_school(&ALL_KINDS))
            .await;
        let all = hub.bearer(&all_id, &all_secret).await;
        let schools = hub.all(&all, "/schools", "orgs").await;
        let school = &schools[0];
        let local = Local::new(hub.engine.clone()).with_secrets(SecretBox::random());
        let file = format!(
            r#"
[organization]
id = "{org}"
name = "Maplewood"

[[vendor]]
name = "Reading app"
scopes = ["roster-core.readonly"]

[vendor.agreement]
schools = ["{name}"]
kinds = ["users", "orgs"]
attributes = {{ users = ["givenName", "familyName", "roles"] }}
expires_on = "2099-06-30"
"#,
            org = hub.org,
            name = school["name"].as_str().unwrap(),
        );
        let mut config = DistrictConfig::parse(&file).expect("the file parses");
        // The file names the sources as they are.
        config.sources = local.export(&hub.org).await.unwrap().sources;
        let told = local.apply(&config).await.expect("apply");
        let made = told
            .iter()
            .find(|t| t.contains("client id"))
            .expect("the secret is told once");
        let words: Vec<&str> = made.split_whitespace().collect();
        let id = words[words.iter().position(|w| *w == "id").unwrap() + 1].to_string();
        let secret = words[words.iter().position(|w| *w == "secret").unwrap() + 1].to_string();
        let token = hub.bearer(&id, &secret).await;
        let users = hub.all(&token, "/users", "users").await;
        assert!(!users.is_empty());
        assert!(users.iter().all(|u| {
            u["roles"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["org"]["sourcedId"] == school["sourcedId"])
        }));
        assert!(users.iter().all(|u| u.get("email").is_none()));

        let again = local.apply(&config).await.expect("apply again");
        assert!(again.iter().all(|t| !t.starts_with("vendor")), "{again:?}");
        let listed = hub.api("GET", "/vendors", None).await;
        assert_eq!(listed.json.as_array().unwrap().len(), 2, "{}", listed.json);

        let exported = local.export(&hub.org).await.unwrap();
        let text = exported.to_toml();
        let back = DistrictConfig::parse(&text).expect("the export parses");
        let reading = back
            .vendors
            .iter()
            .find(|v| v.name == "Reading app")
            .expect("exported");
        let a = reading.agreement.as_ref().unwrap();
        assert_eq!(
            a.schools,
            vec![school["sourcedId"].as_str().unwrap().to_string()]
        );
        assert_eq!(a.kinds, vec!["users".to_string(), "orgs".to_string()]);
        // What the export says applies as a no-op.
        let same = local.apply(&back).await.expect("apply the export");
        assert!(same.iter().all(|t| !t.starts_with("vendor")), "{same:?}");

        let wrong = DistrictConfig::parse(
            &file
                .replace(school["name"].as_str().unwrap(), "No Such School")
                .replace("Reading app", "Another app"),
        )
        .unwrap();
        let err = local
            .apply(&DistrictConfig {
                sources: config.sources.clone(),
                ..wrong
            })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("No Such School"), "{err}");
        // A refused file makes no client (whose secret the error would lose).
        let listed = hub.api("GET", "/vendors", None).await;
        assert_eq!(listed.json.as_array().unwrap().len(), 2, "{}", listed.json);
    }
}

/// The SIS of the grade-sync article as a two-way integration (the
/// OneRoster mock, 1.2 rostering and gradebook), imported; its client
/// secret sealed in the hub, so the exports a commit starts can sign in.
async fn sis_hub(url: &str) -> (Hub, MockOneRoster) {
    let mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let engine = engine(url).await;
    let org = org_id("gradebook");
    let mut sis = SourceConfig::new("sis", "oneroster");
    sis.sync_mode = SyncMode::Sync;
    for (k, v) in [
        ("service_url", mock.service_url(MockVersion::V1p2)),
        ("version", "1.2".into()),
        ("auth", "oauth2-client-credentials".into()),
        ("client_id", oneroster_mock::CLIENT_ID.into()),
        ("token_url", mock.token_url()),
    ] {
        sis.settings.insert(k.into(), v);
    }
    sis.advanced.auto_commit = true;
    for kind in [
        "org",
        "academic-session",
        "course",
        "class",
        "user",
        "category",
    ] {
        sis.master_fields.push(MasterField {
            kind: kind.into(),
            attribute: "*".into(),
            source: "sis".into(),
        });
    }
    engine
        .apply_config(&DistrictConfig {
            organization: Organization {
                id: org.clone(),
                name: "Springfield".into(),
                ..Default::default()
            },
            sources: vec![sis],
            vendors: Vec::new(),
        })
        .await
        .expect("apply");
    let secrets = BTreeMap::from([(
        "client_secret".to_string(),
        Secret::new(oneroster_mock::CLIENT_SECRET.to_string()),
    )]);
    let run = engine
        .import(
            &org,
            "sis",
            ImportOptions {
                secrets: Some(secrets),
                ..Default::default()
            },
        )
        .await
        .expect("import");
    assert_eq!(run.status, RunStatus::Committed, "{:?}", run.report.failure);
    let hub = serve_hub(engine, org, Summary::default(), SecretBox::random()).await;
    let sealed = hub
        .api(
            "PUT",
            "/sources/sis/delivery",
            Some(json!({"secrets": {"client_secret": oneroster_mock::CLIENT_SECRET}})),
        )
        .await;
    assert_eq!(sealed.status, 200, "{}", sealed.json);
    (hub, mock)
}

impl Hub {
    /// A write to the 1.2 gradebook service.
    async fn write(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}/ims/oneroster/gradebook/v1p2{path}", self.base);
        let mut b = self
            .http
            .request(method.parse().unwrap(), url)
            .bearer_auth(token);
        if let Some(body) = body {
            b = b.json(&body);
        }
        reply(b.send().await.unwrap()).await
    }

    /// The hub's id of a SIS record.
    async fn hub_id(&self, kind: &str, sis_id: &str) -> String {
        self.engine
            .store()
            .entity_of(&self.org, "sis", kind, sis_id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("the SIS's {kind} {sis_id} is in the hub"))
            .id
    }
}

/// Approve the export to the SIS that waits, held for `why`.
async fn approve_held_export(hub: &Hub, why: &str) {
    let held = held_export(hub).await;
    let reason = held["hold_reason"].as_str().unwrap_or_default();
    assert!(reason.contains(why), "held for {why}: {held}");
    let id = held["id"].as_str().unwrap();
    let approved = hub
        .api("POST", &format!("/runs/{id}/approve"), Some(json!({})))
        .await;
    assert!(approved.status < 300, "{}", approved.json);
}

/// The export to the SIS that waits for approval.
async fn held_export(hub: &Hub) -> Value {
    for _ in 0..200 {
        let runs = hub.api("GET", "/runs?source=sis&limit=100", None).await;
        if let Some(r) = runs.json.as_array().and_then(|runs| {
            runs.iter()
                .find(|r| r["mode"] == "export" && r["status"] == "held")
                .cloned()
        }) {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no export to the SIS was held");
}

/// Wait for the SIS mock to hold what `found` looks for.
async fn in_sis(mock: &MockOneRoster, collection: &str, found: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        if let Some(r) = mock.records(collection).into_iter().find(|r| found(r)) {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "the SIS never got it: {collection} {:?}",
        mock.records(collection)
    );
}

/// A vendor writes a line item and grades through the hub's gradebook
/// API: they enter the hub as a source of the vendor's own, the commit
/// exports them, and the SIS's gradebook holds them under the SIS's own
/// ids; a delete leaves every list and the SIS. Writes outside the
/// agreement, without the scope, or under another record's id are
/// refused, and keep nothing.
#[tokio::test]
async fn a_vendors_grades_reach_the_sis_through_the_hub() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let (hub, sis) = sis_hub(&url).await;
        let high = hub.hub_id("org", "s1").await;
        let (id, secret) = hub
            .vendor(
                "Lumen Touch",
                None,
                json!({"schools": [high], "kinds": ALL_KINDS, "expires_on": "2099-06-30"}),
            )
            .await;
        let token = hub.bearer(&id, &secret).await;
        let algebra = hub.hub_id("class", "c-alg-1").await;
        let tests = hub.hub_id("category", "cat-test").await;
        let sofia = hub.hub_id("user", "st-1").await;
        let mia = hub.hub_id("user", "st-5").await; // at the other school
        let before = hub.counts().await;
        // The vendor's own ids, GUID-like as OneRoster advises: the hub's
        // ids are one space (and the test database outlives a run).
        let quiz_id = format!("lt-quiz-{}", hub.org);
        let grade_id = format!("lt-grade-{}", hub.org);

        // A line item, then a grade for it.
        let quiz = json!({"lineItem": {
            "title": "Fractions quiz", "description": "Written in Lumen Touch",
            "assignDate": "2024-10-01T08:00:00Z", "dueDate": "2024-10-04T23:59:00Z",
            "class": {"sourcedId": algebra, "type": "class"},
            "school": {"sourcedId": high, "type": "org"},
            "category": {"sourcedId": tests, "type": "category"},
            "resultValueMin": 0.0, "resultValueMax": 10.0,
        }});
        let made = hub
            .write(
                &token,
                "PUT",
                &format!("/lineItems/{quiz_id}"),
                Some(quiz.clone()),
            )
            .await;
        assert_eq!(made.status, 201, "{url}: {}", made.json);
        assert_eq!(
            made.json["lineItem"]["sourcedId"],
            quiz_id.as_str(),
            "{url}"
        );
        assert_eq!(
            made.json["lineItem"]["class"]["sourcedId"],
            algebra.as_str()
        );
        let grade = |score: f64| {
            json!({"result": {
                "lineItem": {"sourcedId": quiz_id, "type": "lineItem"},
                "student": {"sourcedId": sofia, "type": "user"},
                "score": score, "scoreStatus": "fully graded", "scoreDate": "2024-10-05",
            }})
        };
        let graded = hub
            .write(
                &token,
                "PUT",
                &format!("/results/{grade_id}"),
                Some(grade(8.0)),
            )
            .await;
        assert_eq!(graded.status, 201, "{url}: {}", graded.json);
        // The vendor reads back what it wrote, by its ids.
        let read = hub
            .write(
                &token,
                "GET",
                &format!("/classes/{algebra}/lineItems"),
                None,
            )
            .await;
        assert_eq!(read.status, 200, "{url}: {}", read.json);
        assert!(
            read.json["lineItems"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["sourcedId"] == quiz_id.as_str() && l["title"] == "Fractions quiz"),
            "{url}: {}",
            read.json
        );

        // The grade loop carries both to the SIS, under the SIS's ids.
        let in_gradebook = in_sis(&sis, "lineItems", |l| l["title"] == "Fractions quiz").await;
        assert_eq!(
            in_gradebook["class"]["sourcedId"], "c-alg-1",
            "{url}: {in_gradebook}"
        );
        assert_eq!(in_gradebook["category"]["sourcedId"], "cat-test", "{url}");
        let sis_quiz = in_gradebook["sourcedId"].as_str().unwrap().to_string();
        let first = in_sis(&sis, "results", |r| {
            r["lineItem"]["sourcedId"] == sis_quiz.as_str() && r["score"] == 8.0
        })
        .await;
        assert_eq!(first["student"]["sourcedId"], "st-1", "{url}: {first}");

        // A regrade.
        let regraded = hub
            .write(
                &token,
                "PUT",
                &format!("/results/{grade_id}"),
                Some(grade(9.5)),
            )
            .await;
        assert_eq!(
            regraded.status, 200,
            "{url}: a second PUT updates: {}",
            regraded.json
        );
        assert_eq!(regraded.json["result"]["score"], 9.5, "{url}");

        // The regrade updates every result the SIS was sent (one of one),
        // more than the hold threshold: the export waits for a person.
        approve_held_export(&hub, "result").await;
        let sis_grade = in_sis(&sis, "results", |r| {
            r["lineItem"]["sourcedId"] == sis_quiz.as_str() && r["score"] == 9.5
        })
        .await;
        assert_eq!(
            sis_grade["student"]["sourcedId"], "st-1",
            "{url}: {sis_grade}"
        );

        // Each write is a run of the vendor's own source.
        let source = format!("vendor:{id}");
        let runs = hub.api("GET", "/runs?limit=100", None).await;
        assert_eq!(runs.status, 200, "{}", runs.json);
        let vendor_runs: Vec<&Value> = runs.json["runs"]
            .as_array()
            .or(runs.json.as_array())
            .unwrap()
            .iter()
            .filter(|r| r["source_id"] == source.as_str())
            .collect();
        assert_eq!(vendor_runs.len(), 3, "{url}: {}", runs.json);
        assert!(vendor_runs.iter().all(|r| r["status"] == "committed"));

        // Refused, each with its reason, and nothing kept.
        let counts = hub.counts().await;
        let refusals = [
            (
                "a student outside the agreement",
                &format!("/results/{grade_id}-2"),
                json!({"result": {"lineItem": {"sourcedId": quiz_id}, "student": {"sourcedId": mia},
                    "score": 5.0, "scoreStatus": "fully graded", "scoreDate": "2024-10-05"}}),
                400,
            ),
            (
                "a class that does not exist",
                &format!("/lineItems/{quiz_id}-2"),
                json!({"lineItem": {"title": "Nowhere", "assignDate": "2024-10-01", "dueDate": "2024-10-02",
                    "class": {"sourcedId": "no-such-class"}}}),
                400,
            ),
            (
                "another record's id",
                &format!("/lineItems/{algebra}"),
                quiz.clone(),
                400,
            ),
            (
                "a sourcedId that is not the path's",
                &format!("/results/{grade_id}-3"),
                json!({"result": {"sourcedId": format!("{grade_id}-4"), "lineItem": {"sourcedId": quiz_id},
                    "student": {"sourcedId": sofia}, "score": 1.0}}),
                400,
            ),
        ];
        for (why, path, body, status) in refusals {
            let r = hub.write(&token, "PUT", path, Some(body)).await;
            assert_eq!(r.status, status, "{url}: {why}: {}", r.json);
            assert_eq!(minor(&r), "invaliddata", "{url}: {why}");
        }
        let not_json = reply(
            hub.http
                .put(format!(
                    "{}/ims/oneroster/gradebook/v1p2/results/x",
                    hub.base
                ))
                .bearer_auth(&token)
                .body("{\"result\": ")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(not_json.status, 400, "{url}");
        assert!(
            not_json.json["imsx_description"]
                .as_str()
                .unwrap()
                .contains("not JSON"),
            "{url}: {}",
            not_json.json
        );
        let theirs = hub
            .write(&token, "DELETE", &format!("/categories/{tests}"), None)
            .await;
        assert_eq!(
            theirs.status, 404,
            "{url}: a vendor deletes only what it wrote"
        );
        let readonly = hub
            .token(
                &id,
                &secret,
                Some("https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.readonly"),
            )
            .await;
        let readonly = readonly.json["access_token"].as_str().unwrap().to_string();
        let r = hub
            .write(
                &readonly,
                "PUT",
                &format!("/results/{grade_id}"),
                Some(grade(1.0)),
            )
            .await;
        assert_eq!(r.status, 403, "{url}: {}", r.json);
        assert!(
            r.json["imsx_description"]
                .as_str()
                .unwrap()
                .contains("gradebook.createput")
        );
        let roster = reply(
            hub.http
                .put(format!(
                    "{}/ims/oneroster/rostering/v1p2/users/{sofia}",
                    hub.base
                ))
                .bearer_auth(&token)
                .json(&json!({"user": {"givenName": "Sofia"}}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(roster.status, 404, "{url}: {}", roster.json);
        assert!(
            roster.json["imsx_description"]
                .as_str()
                .unwrap_or_default()
                .contains("read only"),
            "{url}: rosters are read only: {}",
            roster.json
        );
        assert_eq!(
            hub.counts().await,
            counts,
            "{url}: refused writes keep nothing"
        );

        // A delete: gone from the vendor's reads and from the SIS.
        let gone = hub
            .write(&token, "DELETE", &format!("/results/{grade_id}"), None)
            .await;
        assert_eq!(gone.status, 204, "{url}: {}", gone.json);
        let again = hub
            .write(&token, "GET", &format!("/results/{grade_id}"), None)
            .await;
        assert_eq!(again.status, 404, "{url}");
        let listed = hub.write(&token, "GET", "/results", None).await;
        assert!(
            !listed.json["results"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["sourcedId"] == grade_id.as_str()),
            "{url}"
        );
        // Deleting every result the SIS was sent waits for a person too.
        approve_held_export(&hub, "deleted").await;
        in_sis(&sis, "results", |r| {
            r["sourcedId"] == sis_grade["sourcedId"] && r["status"] == "tobedeleted"
        })
        .await;
        // Written again under its id, the grade comes back.
        let back = hub
            .write(
                &token,
                "PUT",
                &format!("/results/{grade_id}"),
                Some(grade(7.0)),
            )
            .await;
        assert_eq!(back.status, 201, "{url}: {}", back.json);
        assert_eq!(back.json["result"]["score"], 7.0, "{url}");
        let after = hub.counts().await;
        assert_eq!(
            after.get("line-item").copied().unwrap_or(0),
            before.get("line-item").copied().unwrap_or(0) + 1,
            "{url}"
        );
    }
}

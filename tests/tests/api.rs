//! `homeroom serve` end to end, in-process: the REST API's auth and role
//! rules on every route, isolation between organizations, write-only
//! secrets, the wizard and a run through the API, CSRF on the UI's forms and
//! escaping of hostile values. Every test runs on SQLite and, with
//! DATABASE_URL, on PostgreSQL.

use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use homeroom_host::app::secrets::SecretBox;
use homeroom_host::app::{App, Role, issue_token};
use homeroom_host::config::{DistrictConfig, Domain, DomainMode, Organization, SourceConfig};
use homeroom_host::pipeline::{Engine, ImportOptions};
use homeroom_host::serve;
use homeroom_host::store::RunStatus;
use homeroom_tests::support::{Fixture, database_urls, engine, org_id};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Harness {
    router: Router,
    app: App,
    engine: Engine,
}

struct Reply {
    status: StatusCode,
    json: Value,
    text: String,
    headers: axum::http::HeaderMap,
}

impl Harness {
    async fn new(url: &str) -> Harness {
        let engine = engine(url).await;
        let app = App::new(engine.clone(), SecretBox::random());
        Harness {
            router: serve::router(app.clone()),
            app,
            engine,
        }
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024 * 1024)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&bytes).to_string();
        Reply {
            status,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            headers,
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let request = match body {
            Some(j) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(j.to_string())),
            None => b.body(Body::empty()),
        }
        .expect("request");
        self.send(request).await
    }

    async fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, Some(token), None).await
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

    /// Sign in to the UI; returns the session cookie and a CSRF token.
    async fn sign_in(&self, token: &str, org: &str) -> (String, String) {
        let login = self.call("GET", "/login", None, None).await;
        assert_eq!(login.status, StatusCode::OK);
        let login_cookie = set_cookie(&login.headers, "homeroom_login").expect("login cookie");
        let csrf = hidden_csrf(&login.text).expect("csrf field on the sign-in form");
        assert_eq!(login_cookie, csrf);
        let form = format!("token={}&csrf={csrf}&next=%2F", enc(token));
        let reply = self
            .send(
                Request::post("/login")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::COOKIE, format!("homeroom_login={login_cookie}"))
                    .body(Body::from(form))
                    .expect("request"),
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
        let session = set_cookie(&reply.headers, "homeroom_session").expect("session cookie");
        let cookie_line = reply
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("homeroom_session="))
            .unwrap_or_default()
            .to_string();
        assert!(
            cookie_line.contains("HttpOnly") && cookie_line.contains("SameSite=Strict"),
            "{cookie_line}"
        );
        let page = self
            .page(&session, &format!("/orgs/{org}/integrations"))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let csrf = hidden_csrf(&page.text).expect("csrf field on the sign-out form");
        (session, csrf)
    }

    async fn page(&self, session: &str, path: &str) -> Reply {
        self.send(
            Request::get(path)
                .header(header::COOKIE, format!("homeroom_session={session}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
    }

    async fn post_form(&self, session: &str, path: &str, form: &str) -> Reply {
        self.send(
            Request::post(path)
                .header(header::COOKIE, format!("homeroom_session={session}"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form.to_string()))
                .expect("request"),
        )
        .await
    }

    async fn wait_for_run(&self, org: &str, run: &str, token: &str) -> Value {
        for _ in 0..600 {
            let r = self
                .get(&format!("/api/v1/organizations/{org}/runs/{run}"), token)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            // Queued (a worker takes it at once here), then running.
            if r.json["status"] != "running" && r.json["status"] != "queued" {
                return r.json;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("run {run} did not finish in a minute");
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn set_cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
}

fn hidden_csrf(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[at..].split('"').next()?.to_string())
}

fn students(n: usize, prefix: &str) -> Fixture {
    let mut f = Fixture::default();
    f.with_schools();
    for i in 1..=n {
        f.student(
            &format!("{prefix}st{i}"),
            &format!("Given{i}"),
            &format!("Family{i}"),
            &format!("{prefix}st{i}@sis.example"),
            if i % 2 == 0 { "s1" } else { "s2" },
            "05",
        );
    }
    f
}

fn fixture_source(id: &str, dir: &Path) -> SourceConfig {
    let mut s = SourceConfig::new(id, "fixture-connector");
    s.folder = Some(dir.display().to_string());
    s
}

/// The objects of one organization the route table points at.
struct Org {
    id: String,
    source: String,
    waiting_run: String,
    entity: String,
    duplicate: String,
    admin: String,
    operator: String,
    viewer: String,
}

/// An organization with two sources, a committed run, a queued duplicate
/// pair and a run waiting for approval.
async fn populate(h: &Harness, dir: &Path, name: &str, source: &str) -> Org {
    let org = org_id(name);
    let sis_dir = dir.join(format!("sis-{org}"));
    let idp_dir = dir.join(format!("idp-{org}"));
    let mut sis = students(6, "");
    sis.write(&sis_dir);
    let mut idp = Fixture::default();
    idp.add(
        "user",
        "aad-1",
        json!({"givenName": "Given1", "familyName": "Family1", "email": "other1@district.org", "role": "student"}),
    );
    idp.write(&idp_dir);
    let mut entra = fixture_source("entra", &idp_dir);
    entra.domains = vec![Domain {
        kind: "user".into(),
        attributes: vec!["givenName".into(), "familyName".into()],
        mode: DomainMode::Manual,
    }];
    let config = DistrictConfig {
        organization: Organization {
            id: org.clone(),
            name: format!("{name} district"),
            ..Default::default()
        },
        sources: vec![fixture_source(source, &sis_dir), entra],
        vendors: Vec::new(),
    };
    h.engine.apply_config(&config).await.expect("apply");
    let first = h
        .engine
        .import(&org, source, ImportOptions::default())
        .await
        .expect("import");
    assert_eq!(first.status, RunStatus::Committed, "{:?}", first.report);
    let second = h
        .engine
        .import(&org, "entra", ImportOptions::default())
        .await
        .expect("import");
    assert_eq!(second.report.duplicates, 1, "{:?}", second.report);
    // A run that waits: preview on, one new student.
    let mut with_preview = config.sources[0].clone();
    with_preview.advanced.preview = true;
    h.engine
        .store()
        .upsert_source(&org, &with_preview)
        .await
        .expect("save");
    sis.student("st-new", "New", "Student", "new@sis.example", "s1", "03");
    sis.write(&sis_dir);
    let waiting = h
        .engine
        .import(&org, source, ImportOptions::default())
        .await
        .expect("import");
    assert_eq!(waiting.status, RunStatus::AwaitingApproval);
    let entity = h
        .engine
        .store()
        .entity_of(&org, source, "user", "st1")
        .await
        .expect("entity")
        .expect("st1 was imported");
    let duplicate = h.engine.store().duplicates(&org, true).await.expect("dups")[0]
        .id
        .clone();
    Org {
        admin: h.token(&org, Role::Admin).await,
        operator: h.token(&org, Role::Operator).await,
        viewer: h.token(&org, Role::Viewer).await,
        id: org,
        source: source.to_string(),
        waiting_run: waiting.id,
        entity: entity.id,
        duplicate,
    }
}

/// (method, path, body, least role) of every route under /api/v1 that
/// belongs to an organization.
fn org_routes(o: &Org, token_id: &str) -> Vec<(&'static str, String, Option<Value>, Role)> {
    let base = format!("/api/v1/organizations/{}", o.id);
    let s = format!("{base}/sources/{}", o.source);
    let r = format!("{base}/runs/{}", o.waiting_run);
    vec![
        ("GET", base.clone(), None, Role::Viewer),
        ("GET", format!("{base}/overview"), None, Role::Viewer),
        ("GET", format!("{base}/audit"), None, Role::Admin),
        ("GET", format!("{base}/tokens"), None, Role::Admin),
        (
            "POST",
            format!("{base}/tokens"),
            Some(json!({"name": "x", "role": "viewer"})),
            Role::Admin,
        ),
        (
            "DELETE",
            format!("{base}/tokens/{token_id}"),
            None,
            Role::Admin,
        ),
        ("GET", format!("{base}/sources"), None, Role::Viewer),
        (
            "POST",
            format!("{base}/sources"),
            Some(json!({"app": "lumen-touch"})),
            Role::Admin,
        ),
        ("GET", s.clone(), None, Role::Viewer),
        ("DELETE", s.clone(), None, Role::Admin),
        ("PUT", format!("{s}/delivery"), Some(json!({})), Role::Admin),
        ("POST", format!("{s}/test-connection"), None, Role::Admin),
        (
            "PUT",
            format!("{s}/terms"),
            Some(json!({"accepted": true})),
            Role::Admin,
        ),
        ("GET", format!("{s}/schools"), None, Role::Admin),
        (
            "PUT",
            format!("{s}/schools"),
            Some(json!({"mode": "all"})),
            Role::Admin,
        ),
        ("PUT", format!("{s}/mapping"), Some(json!([])), Role::Admin),
        (
            "PUT",
            format!("{s}/requirements"),
            Some(json!([])),
            Role::Admin,
        ),
        ("PUT", format!("{s}/filters"), Some(json!([])), Role::Admin),
        ("PUT", format!("{s}/rules"), Some(json!([])), Role::Admin),
        ("PUT", format!("{s}/domains"), Some(json!([])), Role::Admin),
        (
            "PUT",
            format!("{s}/master-fields"),
            Some(json!([])),
            Role::Admin,
        ),
        (
            "PUT",
            format!("{s}/schedule"),
            Some(json!(null)),
            Role::Admin,
        ),
        ("POST", format!("{s}/finish"), None, Role::Admin),
        ("POST", format!("{s}/enable"), None, Role::Admin),
        ("POST", format!("{s}/disable"), None, Role::Admin),
        (
            "POST",
            format!("{s}/runs"),
            Some(json!({"mode": "full"})),
            Role::Operator,
        ),
        ("GET", format!("{base}/runs"), None, Role::Viewer),
        ("GET", r.clone(), None, Role::Viewer),
        (
            "GET",
            format!("{r}/actions?kind=user&action=add"),
            None,
            Role::Viewer,
        ),
        (
            "PUT",
            format!("{r}/exclusions"),
            Some(json!({"exclude": []})),
            Role::Operator,
        ),
        (
            "POST",
            format!("{r}/approve"),
            Some(json!({"exclude": []})),
            Role::Operator,
        ),
        ("POST", format!("{r}/discard"), None, Role::Operator),
        (
            "GET",
            format!("{base}/entities?kind=student&q=given"),
            None,
            Role::Viewer,
        ),
        (
            "GET",
            format!("{base}/entities/{}", o.entity),
            None,
            Role::Viewer,
        ),
        ("GET", format!("{base}/duplicates"), None, Role::Viewer),
        (
            "POST",
            format!("{base}/duplicates/{}/resolve", o.duplicate),
            Some(json!({"resolution": "ignore"})),
            Role::Operator,
        ),
    ]
}

/// Every route: no token → 401; a bad token → 401; another organization's
/// admin → 404; a viewer on a write → 403; an operator on an admin's
/// write → 403; the roles that may read, read. Nothing denied changes
/// anything.
#[tokio::test]
async fn every_route_checks_token_role_and_organization() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let a = populate(&h, tmp.path(), "auth-a", "sis").await;
        let b = populate(&h, tmp.path(), "auth-b", "b-sis").await;
        let spare = issue_token(
            &h.engine.store(),
            "spare",
            false,
            "test",
            &[(a.id.as_str(), Role::Viewer)],
        )
        .await
        .unwrap()
        .0;
        let audit_before = h
            .engine
            .store()
            .audit_log(&a.id, 0, 1000)
            .await
            .unwrap()
            .len();

        let global: Vec<(&str, &str, Option<Value>)> = vec![
            ("GET", "/api/v1/me", None),
            ("GET", "/api/v1/organizations", None),
            (
                "POST",
                "/api/v1/organizations",
                Some(json!({"id": "new-org", "name": "New"})),
            ),
            ("GET", "/api/v1/gallery", None),
            ("GET", "/api/v1/gallery/lumen-touch", None),
            ("GET", "/api/v1/openapi.json", None),
        ];
        for (method, path, body) in &global {
            let r = h.call(method, path, None, body.clone()).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path}: {}",
                r.text
            );
            assert!(
                r.json["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("token")),
                "{}",
                r.text
            );
            let r = h
                .call(method, path, Some("hr_not-a-token"), body.clone())
                .await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        }
        for path in [
            "/api/v1/me",
            "/api/v1/organizations",
            "/api/v1/gallery",
            "/api/v1/gallery/lumen-touch",
            "/api/v1/openapi.json",
        ] {
            let r = h.get(path, &a.viewer).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        }
        // Only a platform token creates organizations.
        let r = h
            .call(
                "POST",
                "/api/v1/organizations",
                Some(&a.admin),
                Some(json!({"id": "x-org", "name": "X"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

        for (method, path, body, least) in org_routes(&a, &spare) {
            let what = format!("{method} {path}");
            let r = h.call(method, &path, None, body.clone()).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.text);
            assert!(
                r.json["error"].is_string(),
                "{what}: errors are JSON: {}",
                r.text
            );
            let r = h.call(method, &path, Some("hr_forged"), body.clone()).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
            let r = h.call(method, &path, Some(&b.admin), body.clone()).await;
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "{what}: another organization's admin: {}",
                r.text
            );
            if least > Role::Viewer {
                let r = h.call(method, &path, Some(&a.viewer), body.clone()).await;
                assert_eq!(
                    r.status,
                    StatusCode::FORBIDDEN,
                    "{what}: viewer: {}",
                    r.text
                );
                assert!(
                    r.json["error"].as_str().unwrap_or("").contains("role"),
                    "{}",
                    r.text
                );
            }
            if least == Role::Admin {
                let r = h.call(method, &path, Some(&a.operator), body.clone()).await;
                assert_eq!(
                    r.status,
                    StatusCode::FORBIDDEN,
                    "{what}: operator: {}",
                    r.text
                );
            }
            if least == Role::Viewer && method == "GET" {
                for t in [&a.viewer, &a.operator, &a.admin] {
                    let r = h.call(method, &path, Some(t), None).await;
                    assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.text);
                }
            }
        }

        // Nothing denied changed anything.
        let run = h.engine.store().run(&a.waiting_run).await.unwrap();
        assert_eq!(run.status, RunStatus::AwaitingApproval, "{url}");
        assert!(h.engine.store().source(&a.id, "sis").await.is_ok());
        assert_eq!(
            h.engine
                .store()
                .duplicates(&a.id, true)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            h.engine
                .store()
                .audit_log(&a.id, 0, 1000)
                .await
                .unwrap()
                .len(),
            audit_before,
            "no audit row for a refused request"
        );
        assert_eq!(h.engine.store().tokens(&a.id).await.unwrap().len(), 4);

        // Unknown API routes answer JSON too.
        let r = h.get("/api/v1/nothing-here", &a.admin).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(r.json["error"].is_string());
    }
}

/// One organization's token sees nothing of another's, even by id under
/// its own organization's path.
#[tokio::test]
async fn organizations_are_isolated() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let a = populate(&h, tmp.path(), "iso-a", "sis").await;
        let b = populate(&h, tmp.path(), "iso-b", "b-sis").await;
        let t = &a.admin;
        let orgs = h.get("/api/v1/organizations", t).await;
        assert_eq!(orgs.json.as_array().map(Vec::len), Some(1), "{}", orgs.text);
        assert_eq!(orgs.json[0]["id"], a.id.as_str());

        let base = format!("/api/v1/organizations/{}", a.id);
        for path in [
            format!("/api/v1/organizations/{}", b.id),
            format!("/api/v1/organizations/{}/runs", b.id),
            format!("{base}/runs/{}", b.waiting_run),
            format!("{base}/runs/{}/actions", b.waiting_run),
            format!("{base}/entities/{}", b.entity),
            format!("{base}/sources/{}", b.source),
        ] {
            let r = h.get(&path, t).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text);
        }
        for (method, path, body) in [
            (
                "POST",
                format!("{base}/runs/{}/approve", b.waiting_run),
                json!({}),
            ),
            (
                "POST",
                format!("{base}/runs/{}/discard", b.waiting_run),
                json!({}),
            ),
            (
                "PUT",
                format!("{base}/runs/{}/exclusions", b.waiting_run),
                json!({"exclude": [1]}),
            ),
            (
                "POST",
                format!("{base}/duplicates/{}/resolve", b.duplicate),
                json!({"resolution": "delete"}),
            ),
            (
                "PUT",
                format!("{base}/sources/{}/delivery", b.source),
                json!({}),
            ),
            ("DELETE", format!("{base}/sources/{}", b.source), json!({})),
            (
                "POST",
                format!("{base}/sources/{}/runs", b.source),
                json!({}),
            ),
        ] {
            let r = h.call(method, &path, Some(t), Some(body)).await;
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "{method} {path}: {}",
                r.text
            );
        }
        let b_tokens = h.engine.store().tokens(&b.id).await.unwrap();
        let r = h
            .call(
                "DELETE",
                &format!("{base}/tokens/{}", b_tokens[0].id),
                Some(t),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(
            h.engine.store().tokens(&b.id).await.unwrap().len(),
            b_tokens.len()
        );

        // Lists hold only the organization's own.
        let runs = h.get(&format!("{base}/runs"), t).await;
        assert!(!runs.text.contains(&b.waiting_run));
        let students = h
            .get(&format!("{base}/entities?kind=student&limit=500"), t)
            .await;
        assert_eq!(students.json["total"], 7, "{url}: {}", students.text);
        assert!(!students.text.contains(&b.entity));
        let dups = h.get(&format!("{base}/duplicates?status=all"), t).await;
        assert!(!dups.text.contains(&b.duplicate));
        assert!(dups.text.contains(&a.duplicate));

        // B's objects are untouched.
        let run = h.engine.store().run(&b.waiting_run).await.unwrap();
        assert_eq!(run.status, RunStatus::AwaitingApproval);
        assert_eq!(
            h.engine
                .store()
                .duplicates(&b.id, true)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(h.engine.store().source(&b.id, &b.source).await.is_ok());
    }
}

/// Secret values go in and never come out: not in any answer, not in the
/// configuration row, not in the audit log, not in the UI; they are
/// stored encrypted and opened only for a connector session.
#[tokio::test]
async fn secrets_are_write_only() {
    const SECRET: &str = "s3cr3t-VALUE-42-do-not-show";
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let a = populate(&h, tmp.path(), "secret", "sis").await;
        let base = format!("/api/v1/organizations/{}", a.id);
        let made = h
            .call(
                "POST",
                &format!("{base}/sources"),
                Some(&a.admin),
                Some(json!({"app": "lumen-touch", "id": "lumen"})),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        assert_eq!(made.json["state"], "setup");
        assert_eq!(made.json["config"]["enabled"], false);

        // A secret sent as a plain setting is refused.
        let r = h
            .call(
                "PUT",
                &format!("{base}/sources/lumen/delivery"),
                Some(&a.admin),
                Some(json!({"settings": {"client_secret": SECRET}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(
            r.json["error"].as_str().unwrap().contains("secrets"),
            "{}",
            r.text
        );
        assert!(!r.text.contains(SECRET));

        let r = h
            .call(
                "PUT",
                &format!("{base}/sources/lumen/delivery"),
                Some(&a.admin),
                Some(json!({
                    "settings": {"service_url": "https://sis.example.org", "client_id": "homeroom"},
                    "secrets": {"client_secret": SECRET},
                })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(!r.text.contains(SECRET));
        assert_eq!(r.json["secrets_set"], json!(["client_secret"]));

        // An empty value keeps what is stored.
        let r = h
            .call(
                "PUT",
                &format!("{base}/sources/lumen/delivery"),
                Some(&a.admin),
                Some(json!({"secrets": {"client_secret": ""}})),
            )
            .await;
        assert_eq!(
            r.json["secrets_set"],
            json!(["client_secret"]),
            "{}",
            r.text
        );

        for path in [
            format!("{base}/sources/lumen"),
            format!("{base}/sources"),
            format!("{base}/audit"),
            format!("{base}/overview"),
            "/api/v1/openapi.json".to_string(),
        ] {
            let r = h.get(&path, &a.admin).await;
            assert_eq!(r.status, StatusCode::OK, "{path}");
            assert!(!r.text.contains(SECRET), "{path} shows the secret");
        }
        use sqlx::Row;
        for row in sqlx::query("SELECT config FROM sources")
            .fetch_all(h.engine.store().pool())
            .await
            .unwrap()
        {
            assert!(!row.get::<String, _>("config").contains(SECRET));
        }
        for row in sqlx::query("SELECT nonce, ciphertext FROM source_secrets")
            .fetch_all(h.engine.store().pool())
            .await
            .unwrap()
        {
            assert!(!row.get::<String, _>("ciphertext").contains(SECRET));
            assert!(
                !row.get::<String, _>("ciphertext").contains(&hex(SECRET)),
                "stored encrypted"
            );
        }
        for row in sqlx::query("SELECT detail FROM audit_log")
            .fetch_all(h.engine.store().pool())
            .await
            .unwrap()
        {
            assert!(!row.get::<String, _>("detail").contains(SECRET));
        }

        // The UI's Delivery Config page never renders it.
        let (session, _) = h.sign_in(&a.admin, &a.id).await;
        let page = h
            .page(
                &session,
                &format!("/orgs/{}/sources/lumen/setup/delivery", a.id),
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(
            page.text
                .contains("type=\"password\" name=\"secret.client_secret\""),
            "a password input"
        );
        assert!(!page.text.contains(SECRET));

        // The host can still open it for a session.
        let config = h
            .engine
            .store()
            .source(&a.id, "lumen")
            .await
            .unwrap()
            .config;
        let secrets = h.app.resolve_secrets(&a.id, &config).await.unwrap();
        assert_eq!(secrets["client_secret"].expose(), SECRET);
        assert_eq!(format!("{:?}", secrets["client_secret"]), "[redacted]");

        // null removes it.
        let r = h
            .call(
                "PUT",
                &format!("{base}/sources/lumen/delivery"),
                Some(&a.admin),
                Some(json!({"secrets": {"client_secret": null}})),
            )
            .await;
        assert_eq!(r.json["secrets_set"], json!([]), "{}", r.text);
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The wizard through the API, then a run: it answers at once with the run
/// id, waits for approval, lists its actions a page at a time, and an
/// approval with exclusions applies only the rest. Each change is audited.
#[tokio::test]
async fn wizard_run_and_partial_approval_through_the_api() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let org = org_id("flow");
        h.engine
            .store()
            .upsert_organization(&org, "Flow district")
            .await
            .unwrap();
        let admin = h.token(&org, Role::Admin).await;
        let operator = h.token(&org, Role::Operator).await;
        let dir = tmp.path().join(format!("flow-{org}"));
        students(12, "").write(&dir);
        let base = format!("/api/v1/organizations/{org}");
        let call = |method: &'static str, path: String, body: Value| {
            let h = &h;
            let admin = admin.clone();
            async move {
                let r = h.call(method, &path, Some(&admin), Some(body)).await;
                assert!(
                    r.status.is_success(),
                    "{method} {path}: {} {}",
                    r.status,
                    r.text
                );
                r.json
            }
        };
        let made = call(
            "POST",
            format!("{base}/sources"),
            json!({"app": "fixture-connector", "id": "sis", "name": "Springfield SIS"}),
        )
        .await;
        assert_eq!(made["state"], "setup");
        let s = format!("{base}/sources/sis");
        // Not finished: it cannot run yet.
        let r = h
            .call(
                "POST",
                &format!("{s}/runs"),
                Some(&operator),
                Some(json!({})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        let r = h
            .call("POST", &format!("{s}/finish"), Some(&admin), None)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let why = r.json["error"].as_str().unwrap();
        assert!(
            why.contains("folder") && why.contains("Terms of Use"),
            "{why}"
        );

        call(
            "PUT",
            format!("{s}/delivery"),
            json!({
                "folder": dir.display().to_string(),
                "settings": {"page_size": "5"},
                "advanced": {"preview": true, "sis_id_prefix": null},
            }),
        )
        .await;
        let test = call("POST", format!("{s}/test-connection"), json!({})).await;
        assert_eq!(test["ok"], true, "{test}");
        call("PUT", format!("{s}/terms"), json!({"accepted": true})).await;
        let schools = call("GET", format!("{s}/schools"), Value::Null).await;
        assert!(schools.is_array());
        call("PUT", format!("{s}/schools"), json!({"mode": "all"})).await;
        call(
            "PUT",
            format!("{s}/mapping"),
            json!([{"kind": "student", "target": "username", "fn": "lower", "from": "email"}]),
        )
        .await;
        call(
            "PUT",
            format!("{s}/requirements"),
            json!([{"kind": "student", "attribute": "email", "action": "report"}]),
        )
        .await;
        call(
            "PUT",
            format!("{s}/filters"),
            json!([{"kind": "student", "template": "grade-range", "min": "KG", "max": "12"}]),
        )
        .await;
        call(
            "PUT",
            format!("{s}/domains"),
            json!([{"kind": "student", "attributes": ["email"], "mode": "unattended"}]),
        )
        .await;
        call(
            "PUT",
            format!("{s}/master-fields"),
            json!([{"kind": "user", "attribute": "email", "source": "sis"}]),
        )
        .await;
        let r = h
            .call(
                "PUT",
                &format!("{s}/schedule"),
                Some(&admin),
                Some(json!({"every": "day", "at": "25:99"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.json["error"].as_str().unwrap().contains("HH:MM"));
        call(
            "PUT",
            format!("{s}/schedule"),
            json!({"every": "day", "at": "02:30", "expires": "2030-06-30"}),
        )
        .await;
        let bad = h
            .call(
                "PUT",
                &format!("{s}/master-fields"),
                Some(&admin),
                Some(json!([{"kind": "enrollment", "attribute": "class", "source": "sis"}])),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
        let done = call("POST", format!("{s}/finish"), json!({})).await;
        assert_eq!(done["state"], "enabled");
        assert_eq!(done["config"]["schedule"]["at"], "02:30");

        // Run: 202 at once, then the run waits for approval (preview).
        let r = h
            .call(
                "POST",
                &format!("{s}/runs"),
                Some(&operator),
                Some(json!({"mode": "full"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        let run_id = r.json["run_id"].as_str().unwrap().to_string();
        let run = h.wait_for_run(&org, &run_id, &operator).await;
        assert_eq!(run["status"], "awaiting_approval", "{run}");
        assert_eq!(run["report"]["counts"]["user"]["add"], 12);
        assert_eq!(run["trigger"], "api");
        let counts = h.get(&format!("{base}/overview"), &operator).await;
        assert_eq!(counts.json["students"], 0, "nothing held is visible");

        // Action lists, a page at a time.
        let r = h
            .get(
                &format!("{base}/runs/{run_id}/actions?kind=user&action=add&limit=5"),
                &operator,
            )
            .await;
        assert_eq!(r.json["total"], 12, "{}", r.text);
        assert_eq!(r.json["actions"].as_array().unwrap().len(), 5);
        assert_eq!(r.json["next_offset"], 5);
        let page3 = h
            .get(
                &format!("{base}/runs/{run_id}/actions?kind=user&action=add&limit=5&offset=10"),
                &operator,
            )
            .await;
        assert_eq!(page3.json["actions"].as_array().unwrap().len(), 2);
        assert!(page3.json["next_offset"].is_null());
        let bad = h
            .get(
                &format!("{base}/runs/{run_id}/actions?action=merge"),
                &operator,
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let left_out: Vec<i64> = r.json["actions"].as_array().unwrap()[..2]
            .iter()
            .map(|a| a["seq"].as_i64().unwrap())
            .collect();
        let left_ids: Vec<String> = r.json["actions"].as_array().unwrap()[..2]
            .iter()
            .map(|a| a["source_record_id"].as_str().unwrap().to_string())
            .collect();

        // Approve all but two.
        let approved = h
            .call(
                "POST",
                &format!("{base}/runs/{run_id}/approve"),
                Some(&operator),
                Some(json!({"exclude": left_out})),
            )
            .await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
        assert_eq!(approved.json["excluded"], 2);
        assert_eq!(approved.json["run"]["status"], "committed");
        let again = h
            .call(
                "POST",
                &format!("{base}/runs/{run_id}/approve"),
                Some(&operator),
                None,
            )
            .await;
        assert_eq!(again.json["already_committed"], true, "{}", again.text);
        let o = h.get(&format!("{base}/overview"), &operator).await;
        assert_eq!(o.json["students"], 10, "{url}: {}", o.text);
        assert_eq!(o.json["schools"], 2);
        let list = h
            .get(&format!("{base}/entities?kind=student&q=given1"), &operator)
            .await;
        assert!(list.json["total"].as_i64().unwrap() >= 1);
        for id in &left_ids {
            let found = h
                .get(
                    &format!("{base}/entities?kind=student&q={id}%40"),
                    &operator,
                )
                .await;
            assert_eq!(found.json["total"], 0, "{id} was left out: {}", found.text);
        }

        // A record: values, provenance per attribute, its history.
        let one = &list.json["entities"][0];
        let detail = h
            .get(
                &format!("{base}/entities/{}", one["id"].as_str().unwrap()),
                &operator,
            )
            .await;
        assert_eq!(detail.status, StatusCode::OK);
        let email = detail.json["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "email")
            .unwrap();
        assert_eq!(email["source"], "sis");
        assert_eq!(detail.json["sources"][0]["source_id"], "sis");
        assert_eq!(detail.json["history"][0]["run_id"], run_id.as_str());
        assert_eq!(detail.json["history"][0]["action"], "add");

        // Disable stops runs; the audit log names who did what.
        call("POST", format!("{s}/disable"), json!({})).await;
        let r = h
            .call("POST", &format!("{s}/runs"), Some(&operator), None)
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        let audit = h.get(&format!("{base}/audit?limit=500"), &admin).await;
        let actions: Vec<&str> = audit
            .json
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["action"].as_str().unwrap())
            .collect();
        for expected in [
            "source.activate",
            "source.delivery",
            "source.terms",
            "source.schools",
            "source.mapping",
            "source.requirements",
            "source.filters",
            "source.domains",
            "source.master_fields",
            "source.schedule",
            "source.finish",
            "run.start",
            "run.approve",
            "source.disable",
        ] {
            assert!(
                actions.contains(&expected),
                "{expected} not audited: {actions:?}"
            );
        }
        let approve = audit
            .json
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["action"] == "run.approve")
            .unwrap();
        assert!(
            approve["actor"]
                .as_str()
                .unwrap()
                .starts_with("operator of"),
            "{approve}"
        );
        assert!(approve["at"].as_str().unwrap().starts_with("20"));

        // Delete keeps history.
        let r = h.call("DELETE", &s, Some(&admin), None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = h.get(&s, &admin).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = h.get(&format!("{base}/runs/{run_id}"), &admin).await;
        assert_eq!(r.status, StatusCode::OK);
    }
}

/// Tokens: an admin makes one for a role; its value is shown once and kept
/// only as a hash; revoking it locks it out.
#[tokio::test]
async fn tokens_are_hashed_scoped_and_revocable() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let org = org_id("tokens");
        h.engine
            .store()
            .upsert_organization(&org, "Tokens")
            .await
            .unwrap();
        let admin = h.token(&org, Role::Admin).await;
        let base = format!("/api/v1/organizations/{org}");
        let r = h
            .call(
                "POST",
                &format!("{base}/tokens"),
                Some(&admin),
                Some(json!({"name": "reporting", "role": "viewer"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let token = r.json["token"].as_str().unwrap().to_string();
        let id = r.json["id"].as_str().unwrap().to_string();
        let me = h.get("/api/v1/me", &token).await;
        assert_eq!(me.json["organizations"][0]["role"], "viewer");
        let list = h.get(&format!("{base}/tokens"), &admin).await;
        assert!(!list.text.contains(&token), "never listed again");
        use sqlx::Row;
        let stored: Vec<String> = sqlx::query("SELECT token_hash FROM api_tokens")
            .fetch_all(h.engine.store().pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("token_hash"))
            .collect();
        assert!(!stored.iter().any(|s| s.contains(&token)));
        let r = h
            .call("DELETE", &format!("{base}/tokens/{id}"), Some(&admin), None)
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let me = h.get("/api/v1/me", &token).await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED);
        let bad = h
            .call(
                "POST",
                &format!("{base}/tokens"),
                Some(&admin),
                Some(json!({"name": "x", "role": "owner"})),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.json["error"].is_string());
    }
}

/// Every UI form needs its session's CSRF token; the sign-in form needs the
/// one of its own cookie.
#[tokio::test]
async fn ui_forms_refuse_a_missing_or_wrong_csrf_token() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let a = populate(&h, tmp.path(), "csrf", "sis").await;
        // Sign-in without its cookie.
        let r = h
            .send(
                Request::post("/login")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(format!("token={}&csrf=abc", enc(&a.admin))))
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(set_cookie(&r.headers, "homeroom_session").is_none());

        let (session, csrf) = h.sign_in(&a.admin, &a.id).await;
        let path = format!("/orgs/{}/sources/sis/disable", a.id);
        for form in [
            String::new(),
            "csrf=".into(),
            "csrf=0123456789abcdef".into(),
            format!("csrf={}x", csrf),
        ] {
            let r = h.post_form(&session, &path, &form).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{form}: {}", r.text);
            assert!(r.text.contains("expired"));
        }
        assert!(
            h.engine.store().source(&a.id, "sis").await.unwrap().enabled,
            "nothing changed"
        );
        let r = h.post_form(&session, &path, &format!("csrf={csrf}")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert!(!h.engine.store().source(&a.id, "sis").await.unwrap().enabled);

        // Another session's CSRF token does not do.
        let (other, other_csrf) = h.sign_in(&a.operator, &a.id).await;
        let approve = format!("/orgs/{}/runs/{}/approve", a.id, a.waiting_run);
        let r = h.post_form(&other, &approve, &format!("csrf={csrf}")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // The right one, with the right role, works; a viewer is refused.
        let (viewer, viewer_csrf) = h.sign_in(&a.viewer, &a.id).await;
        let r = h
            .post_form(&viewer, &approve, &format!("csrf={viewer_csrf}"))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let r = h
            .post_form(&other, &approve, &format!("csrf={other_csrf}"))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(
            h.engine.store().run(&a.waiting_run).await.unwrap().status,
            RunStatus::Committed
        );

        // Signed out, the session is gone.
        let r = h
            .post_form(&session, "/logout", &format!("csrf={csrf}"))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let r = h.page(&session, &format!("/orgs/{}", a.id)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "back to sign-in");
        // Pages of another organization are not found.
        let r = h.page(&other, "/orgs/not-mine").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
}

/// A value from a source system is text, never markup, wherever the UI
/// shows it.
#[tokio::test]
async fn hostile_values_are_escaped_in_every_page() {
    const HOSTILE: &str = "<script>alert(1)</script>";
    const ATTR: &str = "\"><img src=x onerror=alert(2)>";
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let org = org_id("xss");
        let dir = tmp.path().join(format!("xss-{org}"));
        let mut f = students(2, "");
        f.student("evil", HOSTILE, ATTR, "evil@sis.example", "s1", "05");
        f.add(
            "class",
            "c-evil",
            json!({"title": HOSTILE, "school": {"kind": "org", "id": "s1"}}),
        );
        f.write(&dir);
        let mut s = fixture_source("sis", &dir);
        s.name = Some(HOSTILE.into());
        s.advanced.preview = true;
        h.engine
            .apply_config(&DistrictConfig {
                organization: Organization {
                    id: org.clone(),
                    name: ATTR.into(),
                    ..Default::default()
                },
                sources: vec![s],
                vendors: Vec::new(),
            })
            .await
            .unwrap();
        let run = h
            .engine
            .import(&org, "sis", ImportOptions::default())
            .await
            .unwrap();
        let admin = h.token(&org, Role::Admin).await;
        let (session, _) = h.sign_in(&admin, &org).await;
        let actions = format!("/orgs/{org}/runs/{}/actions?kind=user&action=add", run.id);
        let waiting = h.page(&session, &actions).await;
        h.engine.approve(&run.id, &[]).await.unwrap();
        let evil = h
            .engine
            .store()
            .entity_of(&org, "sis", "user", "evil")
            .await
            .unwrap()
            .unwrap();
        let mut pages = vec![waiting];
        for path in [
            format!("/orgs/{org}"),
            format!("/orgs/{org}/records?kind=student"),
            format!("/orgs/{org}/records?kind=class"),
            format!("/orgs/{org}/records/{}", evil.id),
            format!("/orgs/{org}/records?kind=student&q={}", enc(HOSTILE)),
            format!("/orgs/{org}/integrations"),
            format!("/orgs/{org}/runs/{}", run.id),
            actions.clone(),
            format!("/orgs/{org}/sources/sis/setup/delivery"),
        ] {
            pages.push(h.page(&session, &path).await);
        }
        for (i, p) in pages.iter().enumerate() {
            assert_eq!(p.status, StatusCode::OK, "page {i}: {}", p.text);
            assert!(
                !p.text.contains(HOSTILE),
                "page {i} has raw markup from the source"
            );
            assert!(!p.text.contains("<img src=x"), "page {i}");
            assert!(
                p.headers
                    .get(header::CONTENT_SECURITY_POLICY)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("script-src 'self'")),
                "page {i} has a content security policy"
            );
        }
        assert!(
            pages[4]
                .text
                .contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "the record page shows the text"
        );
        assert!(
            pages[1]
                .text
                .contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"),
            "{}",
            pages[1].text
        );
    }
}

/// First start on an empty database: a demo organization and one admin
/// token (shown once, kept hashed); a second start makes nothing.
#[tokio::test]
async fn first_start_makes_a_demo_organization_and_an_admin_token() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("fresh.db").display());
    let h = Harness::new(&url).await;
    let token = h
        .app
        .first_start()
        .await
        .unwrap()
        .expect("a token on first start");
    assert!(h.app.first_start().await.unwrap().is_none(), "only once");
    let me = h.get("/api/v1/me", &token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json["platform"], true);
    assert_eq!(me.json["organizations"][0]["id"], "demo");
    assert_eq!(me.json["organizations"][0]["role"], "admin");
    let gallery = h.get("/api/v1/gallery", &token).await;
    let ids: Vec<&str> = gallery
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    for id in ["oneroster", "lumen-touch", "focus", "fixture-connector"] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    let lumen = h.get("/api/v1/gallery?q=lumen", &token).await;
    assert_eq!(lumen.json.as_array().unwrap().len(), 1);
    assert!(
        lumen.json[0]["settings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "client_secret" && s["secret"] == true)
    );
    // The platform token creates organizations and becomes their admin.
    let r = h
        .call(
            "POST",
            "/api/v1/organizations",
            Some(&token),
            Some(json!({"id": "springfield", "name": "Springfield"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = h
        .call(
            "POST",
            "/api/v1/organizations",
            Some(&token),
            Some(json!({"id": "springfield", "name": "Again"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = h
        .call(
            "POST",
            "/api/v1/organizations",
            Some(&token),
            Some(json!({"id": "Bad Id", "name": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The sign-in page and `/` work for a person.
    let r = h.call("GET", "/", None, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
    let (session, _) = h.sign_in(&token, "demo").await;
    let home = h.page(&session, "/").await;
    // Two organizations now (demo and springfield): `/` asks which.
    assert_eq!(home.headers[header::LOCATION], "/orgs");
    let gallery = h.page(&session, "/orgs/demo/gallery?q=focus").await;
    assert!(gallery.text.contains("Focus") && !gallery.text.contains("Lumen Touch"));
}

/// The OpenAPI document is generated from the routes and names the token scheme.
#[tokio::test]
async fn openapi_document_describes_every_route() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("doc.db").display());
    let h = Harness::new(&url).await;
    h.engine
        .store()
        .upsert_organization("o", "O")
        .await
        .unwrap();
    let t = h.token("o", Role::Viewer).await;
    let doc = h.get("/api/v1/openapi.json", &t).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.json["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        doc.json["components"]["securitySchemes"]["token"]["scheme"],
        "bearer"
    );
    let paths = doc.json["paths"].as_object().unwrap();
    for p in [
        "/api/v1/organizations/{org}/sources/{id}/delivery",
        "/api/v1/organizations/{org}/runs/{run}/approve",
        "/api/v1/organizations/{org}/runs/{run}/actions",
        "/api/v1/organizations/{org}/duplicates/{id}/resolve",
        "/api/v1/organizations/{org}/entities/{id}",
        "/api/v1/organizations/{org}/audit",
        "/api/v1/gallery",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} missing from {:?}",
            paths.keys().collect::<Vec<_>>()
        );
    }
    let operations: usize = paths
        .values()
        .map(|v| v.as_object().map(|o| o.len()).unwrap_or(0))
        .sum();
    assert!(operations >= 40, "{operations} operations");
}

/// File sources read only inside their organization's own folder below the
/// operator's drop root: an organization admin who names another
/// organization's drop folder, `/etc`, a `..` path or a link out is refused
/// at save with what to do; a folder of its own is taken and Test Connection
/// reads it; a link made after the save is refused at the run.
#[tokio::test]
async fn file_sources_read_only_their_organizations_drop_folder() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let drops = tmp.path().join(format!("drops-{}", org_id("d")));
        let engine = engine(&url)
            .await
            .with_drop_root(homeroom_host::capabilities::drops::DropRoot::new(&drops));
        let app = App::new(engine.clone(), SecretBox::random());
        let h = Harness {
            router: serve::router(app.clone()),
            app,
            engine,
        };
        let north = org_id("north");
        let south = org_id("south");
        for org in [&north, &south] {
            h.engine
                .store()
                .upsert_organization(org, "District")
                .await
                .unwrap();
        }
        let admin = h.token(&north, Role::Admin).await;
        students(3, "").write(&drops.join(&north).join("sis"));
        students(5, "").write(&drops.join(&south).join("sis"));
        let base = format!("/api/v1/organizations/{north}");
        let made = h
            .call(
                "POST",
                &format!("{base}/sources"),
                Some(&admin),
                Some(json!({"app": "fixture-connector", "id": "sis"})),
            )
            .await;
        assert!(made.status.is_success(), "{}", made.text);
        let delivery = format!("{base}/sources/sis/delivery");
        let theirs = drops.join(&south).join("sis").display().to_string();
        for bad in [theirs.as_str(), "/etc", "../", "sis/../../x"] {
            let r = h
                .call("PUT", &delivery, Some(&admin), Some(json!({"folder": bad})))
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{url} {bad}: {}",
                r.text
            );
            assert!(
                r.text.contains("outside this organization's drop folder"),
                "{url} {bad}: {}",
                r.text
            );
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(
                drops.join(&south).join("sis"),
                drops.join(&north).join("out"),
            )
            .unwrap();
            let r = h
                .call(
                    "PUT",
                    &delivery,
                    Some(&admin),
                    Some(json!({"folder": "out"})),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{url}: {}",
                r.text
            );
        }
        let r = h
            .call(
                "PUT",
                &delivery,
                Some(&admin),
                Some(json!({"folder": "sis"})),
            )
            .await;
        assert!(r.status.is_success(), "{url}: {}", r.text);
        let test = h
            .call(
                "POST",
                &format!("{base}/sources/sis/test-connection"),
                Some(&admin),
                Some(json!({})),
            )
            .await;
        assert_eq!(test.json["ok"], true, "{url}: {}", test.text);

        // The folder becomes a link out after the save: the run refuses it.
        #[cfg(unix)]
        {
            let mine = drops.join(&north).join("sis");
            std::fs::rename(&mine, drops.join(&north).join("sis-old")).unwrap();
            std::os::unix::fs::symlink(drops.join(&south).join("sis"), &mine).unwrap();
            let test = h
                .call(
                    "POST",
                    &format!("{base}/sources/sis/test-connection"),
                    Some(&admin),
                    Some(json!({})),
                )
                .await;
            assert_ne!(test.json["ok"], true, "{url}: {}", test.text);
            assert!(
                test.text
                    .contains("outside this organization's drop folder"),
                "{url}: {}",
                test.text
            );
        }
    }
}

/// An integration's type is its sync mode, set in the Delivery Config as
/// far as its app goes: Google Classroom may export, a SIS connector that
/// only imports may not; an export is refused on an import.
#[tokio::test]
async fn the_sync_mode_makes_an_integration_an_export() {
    let tmp = tempfile::tempdir().unwrap();
    let url = database_urls(tmp.path()).remove(0);
    let h = Harness::new(&url).await;
    let a = populate(&h, tmp.path(), "sync-mode", "sis").await;
    let base = format!("/api/v1/organizations/{}", a.id);
    let made = h
        .call(
            "POST",
            &format!("{base}/sources"),
            Some(&a.admin),
            Some(json!({"app": "google-classroom", "id": "classroom"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    assert_eq!(made.json["type"], "import");
    let r = h
        .call(
            "PUT",
            &format!("{base}/sources/classroom/delivery"),
            Some(&a.admin),
            Some(json!({"sync_mode": "export"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (r.json["type"].as_str(), r.json["target"].as_str()),
        (Some("export"), Some("Google Classroom"))
    );
    // The kinds it is sent: only what its connector exports.
    let r = h
        .call(
            "PUT",
            &format!("{base}/sources/classroom/delivery"),
            Some(&a.admin),
            Some(json!({"export_kinds": ["class", "result"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("does not export `result`"), "{}", r.text);
    let r = h
        .call(
            "PUT",
            &format!("{base}/sources/classroom/export"),
            Some(&a.admin),
            Some(json!({"kinds": ["class", "enrollment"],
                "filters": [{"kind": "class", "template": "school-in-list", "schools": ["org-hs1"]}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json["config"]["export"]["kinds"],
        json!(["class", "enrollment"]),
        "{}",
        r.text
    );
    let r = h
        .call(
            "PUT",
            &format!("{base}/sources/classroom/export"),
            Some(&a.admin),
            Some(json!({"filters": [{"kind": "teapot", "template": "active-only"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("`teapot` is not a kind"), "{}", r.text);

    let r = h
        .call(
            "PUT",
            &format!("{base}/sources/sis/delivery"),
            Some(&a.admin),
            Some(json!({"sync_mode": "export"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("only imports"), "{}", r.text);
    let r = h
        .call(
            "POST",
            &format!("{base}/sources/sis/exports"),
            Some(&a.admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.text.contains("is an import"), "{}", r.text);
}

/// Issue 18's small faults, through the API: an app already active is
/// not activated again by accident (a second one is named apart); an
/// approval's audit entry counts the actions an admin unchecked before it;
/// a discard leaves the run's read time as it was.
#[tokio::test]
async fn a_second_activation_is_named_apart_and_approval_and_discard_keep_their_facts() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let a = populate(&h, tmp.path(), "facts-a", "sis").await;
        let b = populate(&h, tmp.path(), "facts-b", "sis").await;
        let base = format!("/api/v1/organizations/{}", a.id);

        // Activate, again by accident, then on purpose.
        let first = h
            .call(
                "POST",
                &format!("{base}/sources"),
                Some(&a.admin),
                Some(json!({"app": "oneroster-csv"})),
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{url}: {}", first.text);
        let again = h
            .call(
                "POST",
                &format!("{base}/sources"),
                Some(&a.admin),
                Some(json!({"app": "oneroster-csv"})),
            )
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{url}: {}", again.text);
        assert!(again.text.contains("is active already"), "{}", again.text);
        assert!(
            again.text.contains("give it a name of its own"),
            "{}",
            again.text
        );
        let named = h
            .call(
                "POST",
                &format!("{base}/sources"),
                Some(&a.admin),
                Some(json!({"app": "oneroster-csv", "name": "Second feed"})),
            )
            .await;
        assert_eq!(named.status, StatusCode::CREATED, "{url}: {}", named.text);
        assert_eq!(named.json["name"], "Second feed");
        assert_ne!(named.json["id"], first.json["id"]);
        let same_name = h
            .call(
                "POST",
                &format!("{base}/sources"),
                Some(&a.admin),
                Some(json!({"app": "oneroster-csv", "name": "second FEED"})),
            )
            .await;
        assert_eq!(same_name.status, StatusCode::CONFLICT, "{}", same_name.text);

        // Uncheck one action, then approve with no list: the audit says one was left out.
        let run = format!("{base}/runs/{}", a.waiting_run);
        let actions = h.get(&format!("{run}/actions"), &a.operator).await;
        let seq = actions.json["actions"][0]["seq"].as_i64().unwrap();
        let put = h
            .call(
                "PUT",
                &format!("{run}/exclusions"),
                Some(&a.operator),
                Some(json!({"exclude": [seq]})),
            )
            .await;
        assert!(put.status.is_success(), "{}", put.text);
        let approved = h
            .call(
                "POST",
                &format!("{run}/approve"),
                Some(&a.operator),
                Some(json!({})),
            )
            .await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
        assert_eq!(approved.json["excluded"], 1, "{url}: {}", approved.text);
        let audit = h.get(&format!("{base}/audit?limit=50"), &a.admin).await;
        let entry = audit
            .json
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "run.approve")
            .cloned()
            .expect("the approval is audited");
        assert_eq!(entry["detail"]["excluded"], 1, "{url}: {entry}");

        // Discard: the run still says when its read finished.
        let run_b = format!("/api/v1/organizations/{}/runs/{}", b.id, b.waiting_run);
        let before = h.get(&run_b, &b.operator).await;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let discarded = h
            .call(
                "POST",
                &format!("{run_b}/discard"),
                Some(&b.operator),
                Some(json!({})),
            )
            .await;
        assert_eq!(discarded.status, StatusCode::OK, "{}", discarded.text);
        let after = h.get(&run_b, &b.operator).await;
        assert_eq!(after.json["status"], "discarded");
        assert_eq!(
            after.json["finished_at"], before.json["finished_at"],
            "{url}"
        );
    }
}

/// Settings are checked when they are saved, against the manifest's types
/// and bounds, with a message that names the field and what to change.
#[tokio::test]
async fn settings_are_checked_when_saved_with_what_to_change() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let a = populate(&h, tmp.path(), "checks", "sis").await;
        let base = format!("/api/v1/organizations/{}", a.id);
        let made = h
            .call(
                "POST",
                &format!("{base}/sources"),
                Some(&a.admin),
                Some(json!({"app": "oneroster-csv"})),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        let s = format!("{base}/sources/{}", made.json["id"].as_str().unwrap());
        let refused = |body: Value, says: &'static str| {
            let (h, s, admin) = (&h, s.clone(), a.admin.clone());
            async move {
                let r = h
                    .call(
                        "PUT",
                        &format!("{s}/delivery"),
                        Some(&admin),
                        Some(body.clone()),
                    )
                    .await;
                assert_eq!(
                    r.status,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{body}: {}",
                    r.text
                );
                assert!(r.text.contains(says), "{body}: {}", r.text);
            }
        };
        refused(
            json!({"settings": {"page_size": "999999"}}),
            "Rows per page: “999999” is not accepted: it is out of range: use 1 to 50000",
        )
        .await;
        refused(
            json!({"settings": {"page_size": "abc"}}),
            "it must be a number",
        )
        .await;
        refused(json!({"name": "x".repeat(4800)}), "keep it to 120").await;
        refused(json!({"name": "   "}), "the name is empty").await;
        let ok = h
            .call(
                "PUT",
                &format!("{s}/delivery"),
                Some(&a.admin),
                Some(json!({"settings": {"page_size": "2000"}, "name": "Spring feed"})),
            )
            .await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);

        let schedule = |body: Value| {
            let (h, s, admin) = (&h, s.clone(), a.admin.clone());
            async move {
                h.call("PUT", &format!("{s}/schedule"), Some(&admin), Some(body))
                    .await
            }
        };
        let past = schedule(json!({"every": "day", "at": "02:00", "expires": "2020-01-01"})).await;
        assert_eq!(
            past.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            past.text
        );
        assert!(past.text.contains("has passed"), "{}", past.text);
        let weekly = schedule(json!({"every": "week", "at": "02:00"})).await;
        assert_eq!(
            weekly.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            weekly.text
        );
        assert!(weekly.text.contains("needs its weekday"), "{}", weekly.text);
        let good = schedule(json!({"every": "week", "weekday": "monday", "at": "02:00", "paused": true, "resume_on": "2031-08-15"})).await;
        assert_eq!(good.status, StatusCode::OK, "{}", good.text);
        assert_eq!(good.json["config"]["schedule"]["resume_on"], "2031-08-15");
        assert!(
            good.json["next_run"]
                .as_str()
                .unwrap_or_default()
                .contains("2031-08-18"),
            "{}",
            good.text
        );
    }
}

//! Walls around secrets, as an admin meets them through `homeroom serve`
//! (the REST API and the admin UI, in-process) with the real OneRoster
//! connector against the mock SIS on loopback:
//!
//! - a stored write-only secret cannot be re-pointed: a save that changes
//!   the URL a stored secret is sent to (the token URL, the service URL's
//!   origin) clears it in the same save and says so in the audit log, and
//!   Test Connection then reports the secret missing instead of sending it to
//!   the new URL; a save that enters the secret with the new URL keeps it;
//! - credentials never go over plain http to another machine;
//! - the gallery, the API and the wizard show the hosts an app may reach,
//!   and which one gets the credentials, before anything is activated.
//!
//! Every test runs on SQLite and, with DATABASE_URL, on PostgreSQL.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use homeroom_host::app::secrets::SecretBox;
use homeroom_host::app::{App, Role, issue_token};
use homeroom_host::config::{DistrictConfig, Organization, SourceConfig};
use homeroom_host::pipeline::Engine;
use homeroom_host::serve;
use homeroom_tests::oneroster_mock::{CLIENT_ID, CLIENT_SECRET, Dataset, MockOneRoster, Version};
use homeroom_tests::support::{database_urls, engine, org_id};
use serde_json::{Value, json};
use tower::ServiceExt;

// ---------------------------------------------------------------------------
// The server in-process

struct Harness {
    router: Router,
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
            router: serve::router(app),
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
        self.send(request).await
    }

    /// A new organization and an admin token for it.
    /// Activate the OneRoster 1.2 app as source `sis` through the API.
    async fn activate_oneroster(&self, org: &str, admin: &str) {
        let r = self
            .call(
                "POST",
                &format!("/api/v1/organizations/{org}/sources"),
                admin,
                Some(json!({"app": "oneroster-1-2", "id": "sis"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }

    async fn organization(&self, name: &str) -> (String, String) {
        let org = org_id(name);
        self.engine
            .apply_config(&DistrictConfig {
                organization: Organization {
                    id: org.clone(),
                    name: format!("{name} district"),
                    ..Default::default()
                },
                sources: vec![],
                vendors: Vec::new(),
            })
            .await
            .expect("apply");
        let token = issue_token(
            &self.engine.store(),
            &format!("admin of {org}"),
            false,
            "test",
            &[(org.as_str(), Role::Admin)],
        )
        .await
        .expect("token")
        .1;
        (org, token)
    }

    /// Sign in to the UI; returns the session cookie and its CSRF token.
    async fn sign_in(&self, token: &str, org: &str) -> (String, String) {
        let login = self
            .send(Request::get("/login").body(Body::empty()).unwrap())
            .await;
        assert_eq!(login.status, StatusCode::OK);
        let login_cookie = set_cookie(&login.headers, "homeroom_login").expect("login cookie");
        let csrf = hidden_csrf(&login.text).expect("csrf field on the sign-in form");
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
        let page = self
            .page(&session, &format!("/orgs/{org}/integrations"))
            .await;
        let csrf = hidden_csrf(&page.text).expect("csrf field");
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

    /// The `detail` of every audit entry with this action, newest first.
    async fn audited(&self, org: &str, token: &str, action: &str) -> Vec<Value> {
        let r = self
            .call(
                "GET",
                &format!("/api/v1/organizations/{org}/audit?limit=500"),
                token,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["action"] == action)
            .map(|a| a["detail"].clone())
            .collect()
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

// ---------------------------------------------------------------------------
// A server of the admin's choosing

/// What the server at a re-pointed URL saw: every request, as text.
#[derive(Clone, Default)]
struct Elsewhere {
    seen: Arc<Mutex<Vec<String>>>,
    port: u16,
}

impl Elsewhere {
    /// Answers every request as a token endpoint would, so a client secret
    /// sent there would be "accepted".
    async fn start() -> Elsewhere {
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = seen.clone();
        let app = Router::new().fallback(move |req: axum::extract::Request| {
            let log = log.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .unwrap_or_default();
                let headers: Vec<String> = parts
                    .headers
                    .iter()
                    .map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v.as_bytes())))
                    .collect();
                log.lock().unwrap().push(format!(
                    "{} {}\n{}\n\n{}",
                    parts.method,
                    parts.uri,
                    headers.join("\n"),
                    String::from_utf8_lossy(&body)
                ));
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"access_token":"from-elsewhere","token_type":"Bearer","expires_in":3600}"#,
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Elsewhere { seen, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn basic_of(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// Nothing any server saw carries the secret, raw or in a Basic header.
fn assert_never_sent(elsewhere: &Elsewhere, secret: &str) {
    let basic = basic_of(CLIENT_ID, secret);
    for request in elsewhere.requests() {
        assert!(
            !request.contains(secret) && !request.contains(&basic),
            "the secret went to a server of the admin's choosing:\n{request}"
        );
    }
}

// ---------------------------------------------------------------------------
// Re-pointing a stored secret

/// The issue's case: the token URL changed, nothing else, and Test
/// Connection pressed. The stored client secret is cleared by the save, the
/// audit entry says so, Test Connection says the secret is missing, and the
/// new token URL never sees it. Entering the secret with the new URL keeps it.
#[tokio::test]
async fn a_changed_token_url_clears_the_stored_client_secret() {
    let mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let elsewhere = Elsewhere::start().await;
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let (org, admin) = h.organization("repoint").await;
        let base = format!("/api/v1/organizations/{org}");
        let s = format!("{base}/sources/sis");
        h.activate_oneroster(&org, &admin).await;

        let settings = |token_url: &str| {
            json!({
                "service_url": mock.base_url(),
                "token_url": token_url,
                "client_id": CLIENT_ID,
                "auth": "oauth2-client-credentials",
            })
        };
        let r = h
            .call(
                "PUT",
                &format!("{s}/delivery"),
                &admin,
                Some(json!({
                    "settings": settings(&mock.token_url()),
                    "secrets": {"client_secret": CLIENT_SECRET},
                })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["secrets_set"], json!(["client_secret"]));
        let r = h
            .call("POST", &format!("{s}/test-connection"), &admin, None)
            .await;
        assert_eq!(r.json["ok"], true, "the secret works: {}", r.text);

        // Only the token URL changes: the stored secret is cleared.
        let r = h
            .call(
                "PUT",
                &format!("{s}/delivery"),
                &admin,
                Some(json!({"settings": settings(&elsewhere.url("/oauth/token"))})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            r.json["secrets_set"],
            json!([]),
            "the stored client secret survived a changed token URL: {}",
            r.text
        );
        let saves = h.audited(&org, &admin, "source.delivery").await;
        assert_eq!(
            saves[0]["cleared"],
            json!(["cleared client_secret because token_url changed"]),
            "the audit entry of the save says so: {}",
            saves[0]
        );
        assert!(saves[1].get("cleared").is_none(), "{}", saves[1]);

        let r = h
            .call("POST", &format!("{s}/test-connection"), &admin, None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["ok"], false, "{}", r.text);
        let message = r.json["message"].as_str().unwrap();
        assert!(
            message.contains("client_secret") && message.contains("required"),
            "Test Connection says the secret is missing: {message}"
        );
        assert!(
            elsewhere.requests().is_empty(),
            "the new token URL was sent a request: {:?}",
            elsewhere.requests()
        );
        assert_never_sent(&elsewhere, CLIENT_SECRET);

        // The secret entered together with the new URL is kept.
        let r = h
            .call(
                "PUT",
                &format!("{s}/delivery"),
                &admin,
                Some(json!({
                    "settings": settings(&mock.token_url()),
                    "secrets": {"client_secret": CLIENT_SECRET},
                })),
            )
            .await;
        assert_eq!(
            r.json["secrets_set"],
            json!(["client_secret"]),
            "{}",
            r.text
        );
        let saves = h.audited(&org, &admin, "source.delivery").await;
        assert!(saves[0].get("cleared").is_none(), "{}", saves[0]);
        let r = h
            .call("POST", &format!("{s}/test-connection"), &admin, None)
            .await;
        assert_eq!(r.json["ok"], true, "{}", r.text);

        // Saving the same settings again clears nothing.
        let r = h
            .call(
                "PUT",
                &format!("{s}/delivery"),
                &admin,
                Some(json!({"settings": settings(&mock.token_url())})),
            )
            .await;
        assert_eq!(
            r.json["secrets_set"],
            json!(["client_secret"]),
            "{}",
            r.text
        );
    }
}

/// The same through the wizard: Delivery Config with a new Token URL and the
/// secret field left empty ("keep the stored value"), then Test Connection.
#[tokio::test]
async fn the_wizard_test_connection_after_a_changed_token_url_sends_no_stored_secret() {
    let mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let elsewhere = Elsewhere::start().await;
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let (org, admin) = h.organization("wizard-repoint").await;
        let base = format!("/api/v1/organizations/{org}");
        h.activate_oneroster(&org, &admin).await;
        let r = h
            .call(
                "PUT",
                &format!("{base}/sources/sis/delivery"),
                &admin,
                Some(json!({
                    "settings": {
                        "service_url": mock.base_url(),
                        "token_url": mock.token_url(),
                        "client_id": CLIENT_ID,
                    },
                    "secrets": {"client_secret": CLIENT_SECRET},
                })),
            )
            .await;
        assert_eq!(
            r.json["secrets_set"],
            json!(["client_secret"]),
            "{}",
            r.text
        );

        let (session, csrf) = h.sign_in(&admin, &org).await;
        let path = format!("/orgs/{org}/sources/sis/setup/delivery");
        let service_url = mock.base_url();
        let new_token_url = elsewhere.url("/token");
        let form = [
            ("csrf", csrf.as_str()),
            ("go", "test"),
            ("name", "SIS"),
            ("auth", "oauth2-client-credentials"),
            ("set.service_url", service_url.as_str()),
            ("set.version", "1.2"),
            ("set.token_url", new_token_url.as_str()),
            ("set.client_id", CLIENT_ID),
            // Left empty: "keep the stored value".
            ("secret.client_secret", ""),
            ("adv.kind.org", "1"),
            ("adv.kind.academic-session", "1"),
            ("adv.kind.course", "1"),
            ("adv.kind.class", "1"),
            ("adv.kind.user", "1"),
            ("adv.kind.enrollment", "1"),
            ("adv.kind.demographics", "1"),
            ("adv.kind.category", "1"),
            ("adv.kind.line-item", "1"),
            ("adv.kind.result", "1"),
            ("adv.hold_updated", "50"),
            ("adv.hold_deleted", "50"),
            ("adv.max_error", "10"),
            ("adv.blank_values", "ignore"),
        ]
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");

        // A save the host refuses (users without their orgs) clears nothing.
        let refused = form.replace("adv.kind.org=1&", "");
        let page = h.post_form(&session, &path, &refused).await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            page.text
        );
        let r = h
            .call("GET", &format!("{base}/sources/sis"), &admin, None)
            .await;
        assert_eq!(
            r.json["secrets_set"],
            json!(["client_secret"]),
            "{}",
            r.text
        );

        let page = h.post_form(&session, &path, &form).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(
            page.text.contains("The connection failed") && page.text.contains("client_secret"),
            "the wizard says the secret is missing: {}",
            page.text
        );
        assert!(
            elsewhere.requests().is_empty(),
            "Test Connection sent the stored client secret to the new Token URL: {:?}",
            elsewhere.requests()
        );
        assert_never_sent(&elsewhere, CLIENT_SECRET);
        let saves = h.audited(&org, &admin, "source.delivery").await;
        assert_eq!(
            saves[0]["cleared"],
            json!(["cleared client_secret because token_url changed"]),
            "{}",
            saves[0]
        );
        // The page shows the field empty, for the admin to enter it again.
        assert!(
            !page.text.contains("stored: leave empty to keep it"),
            "{}",
            page.text
        );
    }
}

/// OAuth 1.0a signs every request with the consumer secret, which goes to the
/// Service URL's origin: a new origin clears it; a new path on the same
/// origin does not.
#[tokio::test]
async fn a_service_url_on_another_origin_clears_the_oauth1_secret() {
    let mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let elsewhere = Elsewhere::start().await;
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let (org, admin) = h.organization("repoint-oauth1").await;
        let base = format!("/api/v1/organizations/{org}");
        let s = format!("{base}/sources/lumen");
        let r = h
            .call(
                "POST",
                &format!("{base}/sources"),
                &admin,
                Some(json!({"app": "lumen-touch", "id": "lumen"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let delivery = format!("{s}/delivery");
        let put = |service_url: String, secret: Option<&str>| {
            let mut body =
                json!({"settings": {"service_url": service_url, "client_id": CLIENT_ID}});
            if let Some(secret) = secret {
                body["secrets"] = json!({"client_secret": secret});
            }
            h.call("PUT", &delivery, &admin, Some(body))
        };
        let r = put(mock.base_url(), Some(CLIENT_SECRET)).await;
        assert_eq!(
            r.json["secrets_set"],
            json!(["client_secret"]),
            "{}",
            r.text
        );
        let r = h
            .call("POST", &format!("{s}/test-connection"), &admin, None)
            .await;
        assert_eq!(r.json["ok"], true, "{}", r.text);

        // Another path of the same origin: the secret stays.
        let r = put(mock.service_url(Version::V1p1), None).await;
        assert_eq!(
            r.json["secrets_set"],
            json!(["client_secret"]),
            "{}",
            r.text
        );
        let r = h
            .call("POST", &format!("{s}/test-connection"), &admin, None)
            .await;
        assert_eq!(r.json["ok"], true, "{}", r.text);

        // Another origin: cleared, and said.
        let r = put(elsewhere.url("/ims/oneroster/v1p1"), None).await;
        assert_eq!(r.json["secrets_set"], json!([]), "{}", r.text);
        let saves = h.audited(&org, &admin, "source.delivery").await;
        assert_eq!(
            saves[0]["cleared"],
            json!(["cleared client_secret because service_url changed"]),
            "{}",
            saves[0]
        );
        let r = h
            .call("POST", &format!("{s}/test-connection"), &admin, None)
            .await;
        assert_eq!(r.json["ok"], false, "{}", r.text);
        assert!(
            r.json["message"]
                .as_str()
                .unwrap()
                .contains("client_secret"),
            "{}",
            r.text
        );
        assert!(
            elsewhere.requests().is_empty(),
            "a request went to the new Service URL without the secret being entered again: {:?}",
            elsewhere.requests()
        );
    }
}

/// A secret the configuration file names by environment variable is
/// re-pointed no more than a stored one: the save drops the reference.
#[tokio::test]
async fn a_secret_from_an_environment_variable_is_not_re_pointed_either() {
    let mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let elsewhere = Elsewhere::start().await;
    // SAFETY: set once, read by this test only.
    unsafe { std::env::set_var("HOMEROOM_WALLS_SIS_SECRET", CLIENT_SECRET) };
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let (org, admin) = h.organization("repoint-env").await;
        let mut source = SourceConfig::new("sis", "oneroster");
        for (k, v) in [
            ("service_url", mock.base_url()),
            ("token_url", mock.token_url()),
            ("client_id", CLIENT_ID.to_string()),
        ] {
            source.settings.insert(k.into(), v);
        }
        source
            .secrets
            .insert("client_secret".into(), "HOMEROOM_WALLS_SIS_SECRET".into());
        h.engine
            .apply_config(&DistrictConfig {
                organization: Organization {
                    id: org.clone(),
                    name: "Env".into(),
                    ..Default::default()
                },
                sources: vec![source],
                vendors: Vec::new(),
            })
            .await
            .unwrap();
        let s = format!("/api/v1/organizations/{org}/sources/sis");
        let r = h
            .call("POST", &format!("{s}/test-connection"), &admin, None)
            .await;
        assert_eq!(r.json["ok"], true, "{}", r.text);

        let r = h
            .call(
                "PUT",
                &format!("{s}/delivery"),
                &admin,
                Some(json!({"settings": {
                    "service_url": mock.base_url(),
                    "token_url": elsewhere.url("/token"),
                    "client_id": CLIENT_ID,
                }})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["secrets_set"], json!([]), "{}", r.text);
        assert_eq!(r.json["config"]["secrets"], json!({}), "{}", r.text);
        let r = h
            .call("POST", &format!("{s}/test-connection"), &admin, None)
            .await;
        assert_eq!(r.json["ok"], false, "{}", r.text);
        assert!(
            elsewhere.requests().is_empty(),
            "{:?}",
            elsewhere.requests()
        );
        let saves = h.audited(&org, &admin, "source.delivery").await;
        assert_eq!(
            saves[0]["cleared"],
            json!(["cleared client_secret because token_url changed"]),
            "{}",
            saves[0]
        );
    }
}

// ---------------------------------------------------------------------------
// Plain http

/// A Service URL over plain http to another machine: Test Connection refuses
/// to send the credentials and says to use https.
#[tokio::test]
async fn test_connection_refuses_credentials_over_plain_http_to_another_machine() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let (org, admin) = h.organization("clear-text").await;
        let base = format!("/api/v1/organizations/{org}");
        let r = h
            .call(
                "POST",
                &format!("{base}/sources"),
                &admin,
                Some(json!({"app": "lumen-touch", "id": "lumen"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let r = h
            .call(
                "PUT",
                &format!("{base}/sources/lumen/delivery"),
                &admin,
                Some(json!({
                    "settings": {"service_url": "http://sis.example.invalid", "client_id": "homeroom"},
                    "secrets": {"client_secret": "clear-text-secret-77"},
                })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = h
            .call(
                "POST",
                &format!("{base}/sources/lumen/test-connection"),
                &admin,
                None,
            )
            .await;
        assert_eq!(r.json["ok"], false, "{}", r.text);
        let message = r.json["message"].as_str().unwrap();
        assert!(
            message.contains("plain http") && message.contains("use an https://"),
            "{message}"
        );
        assert!(!message.contains("clear-text-secret-77"), "{message}");
    }
}

// ---------------------------------------------------------------------------
// What the admin is shown

#[tokio::test]
async fn the_gallery_the_api_and_the_wizard_show_the_allowed_hosts() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let (org, admin) = h.organization("hosts").await;

        // The API, before activation.
        let r = h
            .call("GET", "/api/v1/gallery/oneroster", &admin, None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            r.json["allowed_hosts"],
            json!([{
                "pattern": "{service_url}",
                "setting": "service_url",
                "setting_label": "Service URL",
                "credentials": true,
            }]),
            "{}",
            r.text
        );
        let r = h
            .call("GET", "/api/v1/gallery/oneroster-csv", &admin, None)
            .await;
        assert_eq!(r.json["allowed_hosts"], json!([]), "{}", r.text);
        let r = h.call("GET", "/api/v1/gallery", &admin, None).await;
        let lumen = r
            .json
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == "lumen-touch")
            .unwrap();
        assert_eq!(lumen["allowed_hosts"][0]["credentials"], true, "{lumen}");

        // The gallery page: each card says what the app may reach.
        let (session, _) = h.sign_in(&admin, &org).await;
        let page = h.page(&session, &format!("/orgs/{org}/gallery")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(
            page.text.contains("May reach:")
                && page.text.contains("the host of the Service URL")
                && page.text.contains("gets the credentials"),
            "{}",
            page.text
        );
        assert!(
            page.text.contains("Reaches no host on the network."),
            "the CSV app's card: {}",
            page.text
        );

        // The wizard's Delivery Config shows them with this source's values.
        let base = format!("/api/v1/organizations/{org}");
        h.call(
            "POST",
            &format!("{base}/sources"),
            &admin,
            Some(json!({"app": "oneroster-1-2", "id": "sis"})),
        )
        .await;
        let page = h
            .page(&session, &format!("/orgs/{org}/sources/sis/setup/delivery"))
            .await;
        assert!(
            page.text.contains("Hosts this app may reach")
                && page
                    .text
                    .contains("the host of the Service URL: not set yet"),
            "{}",
            page.text
        );
        h.call(
            "PUT",
            &format!("{base}/sources/sis/delivery"),
            &admin,
            Some(json!({"settings": {"service_url": "https://sis.example.org:8443/ims", "client_id": "c"}})),
        )
        .await;
        let page = h
            .page(&session, &format!("/orgs/{org}/sources/sis/setup/delivery"))
            .await;
        assert!(
            page.text.contains("<code>sis.example.org:8443</code>")
                && page.text.contains("gets the credentials")
                && page
                    .text
                    .contains("the client secret goes only to the Token URL"),
            "{}",
            page.text
        );
    }
}

/// A configuration file the operator applies (`homeroom apply`) that changes
/// the token URL clears a client secret stored through the API, as a save
/// there does, and the audit log says so.
#[tokio::test]
async fn a_configuration_file_that_re_points_a_stored_secret_clears_it() {
    let mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let elsewhere = Elsewhere::start().await;
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let (org, admin) = h.organization("repoint-file").await;
        let base = format!("/api/v1/organizations/{org}");
        h.activate_oneroster(&org, &admin).await;
        let r = h
            .call(
                "PUT",
                &format!("{base}/sources/sis/delivery"),
                &admin,
                Some(json!({
                    "settings": {"service_url": mock.base_url(), "token_url": mock.token_url(),
                                 "client_id": CLIENT_ID, "auth": "oauth2-client-credentials"},
                    "secrets": {"client_secret": CLIENT_SECRET},
                })),
            )
            .await;
        assert_eq!(
            r.json["secrets_set"],
            json!(["client_secret"]),
            "{}",
            r.text
        );

        let local = homeroom_host::app::local::Local::new(h.engine.clone());
        let mut file = local.export(&org).await.unwrap();
        // The same file applied again clears nothing.
        assert!(local.apply(&file).await.unwrap().is_empty());
        let sis = file.sources.iter_mut().find(|s| s.id == "sis").unwrap();
        sis.settings
            .insert("token_url".into(), elsewhere.url("/oauth/token"));
        let cleared = local.apply(&file).await.unwrap();
        assert_eq!(
            cleared,
            ["source `sis`: cleared client_secret because token_url changed"]
        );
        let r = h
            .call("GET", &format!("{base}/sources/sis"), &admin, None)
            .await;
        assert_eq!(r.json["secrets_set"], json!([]), "{}", r.text);
        let audited = h.audited(&org, &admin, "source.secrets_cleared").await;
        assert_eq!(
            audited[0]["cleared"],
            json!(["cleared client_secret because token_url changed"]),
            "{url}"
        );
    }
}

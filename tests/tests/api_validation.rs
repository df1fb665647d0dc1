//! Issue 18, part A, through the REST API in-process (tower): organizations
//! (the operator's platform token makes them, a district admin manages only
//! their own, each has its own integrations, runs and tokens), every setting
//! checked when it is saved with a message that says what to change and
//! nothing kept of a refused save, the same check on a configuration file,
//! and one approval choice. Every test runs on SQLite and, with
//! DATABASE_URL, on PostgreSQL.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use homeroom_host::app::secrets::SecretBox;
use homeroom_host::app::{App, Role, issue_token};
use homeroom_host::config::{Approval, DistrictConfig};
use homeroom_host::serve;
use homeroom_tests::support::{database_urls, engine, org_id};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Harness {
    router: Router,
    engine: homeroom_host::pipeline::Engine,
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
        let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&bytes).to_string();
        Reply {
            status,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    /// A platform token: the host's operator, who makes organizations.
    async fn operator(&self) -> String {
        issue_token(self.engine.store(), "operator", true, "test", &[])
            .await
            .expect("token")
            .1
    }

    async fn token(&self, org: &str, role: Role) -> String {
        issue_token(
            self.engine.store(),
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

/// The error an admin reads: no backticks, no Rust internals.
fn plain(r: &Reply) -> String {
    let e = r.json["error"].as_str().unwrap_or_default().to_string();
    assert!(!e.is_empty(), "no error message: {}", r.text);
    assert!(
        !e.contains("Error(") && !e.contains("panicked") && !e.contains("unwrap"),
        "{e}"
    );
    e
}

#[tokio::test]
async fn the_operator_makes_organizations_and_each_keeps_its_own_records() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let operator = h.operator().await;
        let (a, b) = (org_id("hd1"), org_id("hd2"));

        // The operator makes two districts and is admin of both.
        for (id, name) in [(&a, "Hudson District One"), (&b, "Hudson District Two")] {
            let r = h
                .call(
                    "POST",
                    "/api/v1/organizations",
                    &operator,
                    Some(json!({"id": id, "name": name})),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            assert_eq!(r.json["role"], "admin");
        }
        let mine = h
            .call("GET", "/api/v1/organizations", &operator, None)
            .await;
        let ids: Vec<&str> = mine
            .json
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["id"].as_str())
            .collect();
        assert!(
            ids.contains(&a.as_str()) && ids.contains(&b.as_str()),
            "{ids:?}"
        );

        // A district a configuration file made (`homeroom apply`) is the
        // operator's to manage too, though no token made it.
        let filed = org_id("filed");
        h.engine
            .store()
            .upsert_organization(&filed, "Filed District")
            .await
            .unwrap();
        let listed = h
            .call("GET", "/api/v1/organizations", &operator, None)
            .await;
        let entry = listed
            .json
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == filed.as_str())
            .cloned();
        assert_eq!(
            entry.as_ref().map(|e| e["role"].clone()),
            Some(json!("admin")),
            "{}",
            listed.text
        );
        let opened = h
            .call(
                "GET",
                &format!("/api/v1/organizations/{filed}/sources"),
                &operator,
                None,
            )
            .await;
        assert_eq!(opened.status, StatusCode::OK, "{}", opened.text);

        // A name is checked as an integration's is.
        for (name, says) in [
            ("   ", "the organization's name is empty"),
            (&"D".repeat(4800) as &str, "keep it to 120"),
        ] {
            let r = h
                .call(
                    "POST",
                    "/api/v1/organizations",
                    &operator,
                    Some(json!({"id": org_id("bad"), "name": name})),
                )
                .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
            assert!(plain(&r).contains(says), "{}", r.text);
        }
        let twice = h
            .call(
                "POST",
                "/api/v1/organizations",
                &operator,
                Some(json!({"id": a, "name": "Again"})),
            )
            .await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text);

        // A district admin manages their own organization only: renames
        // it, cannot make organizations, cannot see the other district.
        let admin_a = h.token(&a, Role::Admin).await;
        let viewer_a = h.token(&a, Role::Viewer).await;
        let r = h
            .call(
                "POST",
                "/api/v1/organizations",
                &admin_a,
                Some(json!({"id": org_id("mine"), "name": "Mine"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert!(plain(&r).contains("platform token"), "{}", r.text);
        let renamed = h
            .call(
                "PUT",
                &format!("/api/v1/organizations/{a}"),
                &admin_a,
                Some(json!({"name": "  Hudson Unified  "})),
            )
            .await;
        assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
        assert_eq!(renamed.json["name"], "Hudson Unified");
        let read = h
            .call(
                "GET",
                &format!("/api/v1/organizations/{a}"),
                &viewer_a,
                None,
            )
            .await;
        assert_eq!(read.json["name"], "Hudson Unified", "{}", read.text);
        let too_long = h
            .call(
                "PUT",
                &format!("/api/v1/organizations/{a}"),
                &admin_a,
                Some(json!({"name": "x".repeat(4800)})),
            )
            .await;
        assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
        let still = h
            .call(
                "GET",
                &format!("/api/v1/organizations/{a}"),
                &viewer_a,
                None,
            )
            .await;
        assert_eq!(
            still.json["name"], "Hudson Unified",
            "a refused rename keeps the name"
        );
        let by_viewer = h
            .call(
                "PUT",
                &format!("/api/v1/organizations/{a}"),
                &viewer_a,
                Some(json!({"name": "Viewer's"})),
            )
            .await;
        assert_eq!(
            by_viewer.status,
            StatusCode::FORBIDDEN,
            "{}",
            by_viewer.text
        );
        for (method, body) in [("GET", None), ("PUT", Some(json!({"name": "Taken over"})))] {
            let r = h
                .call(
                    method,
                    &format!("/api/v1/organizations/{b}"),
                    &admin_a,
                    body,
                )
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{method}: {}", r.text);
        }

        // The same integration id in both: two integrations, no prefix
        // needed; each district's lists hold only its own.
        for (org, name) in [(&a, "North SIS"), (&b, "South SIS")] {
            let r = h
                .call(
                    "POST",
                    &format!("/api/v1/organizations/{org}/sources"),
                    &operator,
                    Some(json!({"app": "fixture-connector", "id": "sis", "name": name})),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        let listed = h
            .call(
                "GET",
                &format!("/api/v1/organizations/{a}/sources"),
                &admin_a,
                None,
            )
            .await;
        let names: Vec<&str> = listed
            .json
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        assert_eq!(names, vec!["North SIS"], "{}", listed.text);
        // Tokens are the organization's: A's admin lists only A's.
        let tokens = h
            .call(
                "GET",
                &format!("/api/v1/organizations/{a}/tokens"),
                &admin_a,
                None,
            )
            .await;
        assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
        assert!(
            tokens.text.contains(&format!("admin of {a}"))
                && !tokens.text.contains(&format!("of {b}")),
            "{}",
            tokens.text
        );
        let other = h
            .call(
                "GET",
                &format!("/api/v1/organizations/{b}/sources"),
                &admin_a,
                None,
            )
            .await;
        assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.text);
    }
}

/// Each setting is checked when it is saved, against the manifest's types
/// and the canonical model, with a message that says what to change; a
/// refused save keeps nothing of itself.
#[tokio::test]
async fn every_setting_is_checked_when_saved() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let org = org_id("checks");
        h.engine
            .store()
            .upsert_organization(&org, "Checks District")
            .await
            .unwrap();
        let admin = h.token(&org, Role::Admin).await;
        let base = format!("/api/v1/organizations/{org}");
        let made = h
            .call(
                "POST",
                &format!("{base}/sources"),
                &admin,
                Some(json!({"app": "oneroster-csv", "id": "sis", "name": "Spring SIS"})),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        let s = format!("{base}/sources/sis");
        let before = h.call("GET", &s, &admin, None).await.json["config"].clone();

        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "delivery",
                json!({"settings": {"page_size": "999999"}}),
                "Rows per page: “999999” is not accepted: it is out of range: use 1 to 50000",
            ),
            (
                "delivery",
                json!({"settings": {"page_size": "abc"}}),
                "it must be a number",
            ),
            (
                "delivery",
                json!({"name": "N".repeat(4800)}),
                "the name is 4800 characters long: keep it to 120",
            ),
            ("delivery", json!({"name": ""}), "the name is empty"),
            (
                "mapping",
                json!([{"kind": "student", "target": "username", "fn": "regex-replace", "from": "email", "pattern": "([a-z", "replacement": "x"}]),
                "bad pattern",
            ),
            (
                "mapping",
                json!([{"kind": "student", "target": "favouriteColour", "fn": "constant", "value": "blue"}]),
                "“favouriteColour” is not an attribute of student",
            ),
            (
                "filters",
                json!([{"kind": "student", "template": "grade-range", "min": "banana", "max": "05"}]),
                "“banana” is not a grade. Use one of IT, PR, PK",
            ),
            (
                "filters",
                json!([{"kind": "student", "template": "custom", "all": [{"attribute": "grades", "op": "equals", "value": "banana"}]}]),
                "“banana” is not a grade",
            ),
            (
                "filters",
                json!([{"kind": "student", "template": "custom", "all": [{"attribute": "email", "op": "matches", "value": "(["}]}]),
                "the pattern “([” is not a regular expression that can be read",
            ),
            (
                "filters",
                json!([{"kind": "teacher", "template": "custom", "any": [{"attribute": "shoeSize", "op": "equals", "value": "9"}]}]),
                "“shoeSize” is not an attribute of teacher",
            ),
            (
                "requirements",
                json!([{"kind": "student", "attribute": "emial", "action": "report"}]),
                "“emial” is not an attribute of student. Use one of",
            ),
            (
                "domains",
                json!([{"kind": "student", "attributes": ["givenName", "nickname"], "mode": "manual"}]),
                "a domain of uniqueness: “nickname” is not an attribute of student",
            ),
            (
                "master-fields",
                json!([{"kind": "user", "attribute": "mood", "source": "sis"}]),
                "a master field: “mood” is not an attribute of user",
            ),
            (
                "schedule",
                json!({"every": "week", "weekday": "monday"}),
                "a weekly schedule needs its time of day",
            ),
            (
                "schedule",
                json!({"every": "week", "at": "02:00"}),
                "a weekly schedule needs its weekday",
            ),
            (
                "schedule",
                json!({"every": "day", "at": "02:00", "expires": "2020-01-01"}),
                "the expiry date 2020-01-01 has passed",
            ),
            (
                "terms",
                json!({"accepted": false}),
                "the Terms of Use must be accepted",
            ),
        ];
        for (step, body, says) in &cases {
            let r = h
                .call("PUT", &format!("{s}/{step}"), &admin, Some(body.clone()))
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{step} {body}: {}",
                r.text
            );
            let e = plain(&r);
            assert!(e.contains(says), "{step} {body}: {e}");
        }
        // Nothing of a refused save was kept.
        let after = h.call("GET", &s, &admin, None).await.json["config"].clone();
        assert_eq!(before, after, "a refused save changed the integration");

        // What the model has is taken: extensions, demographics of a
        // person, every CEDS grade, a pattern that compiles.
        for (step, body) in [
            (
                "mapping",
                json!([{"kind": "student", "target": "metadata.stateId", "fn": "copy", "from": "identifier"}]),
            ),
            (
                "filters",
                json!([{"kind": "student", "template": "grade-range", "min": "KG", "max": "05"},
                               {"kind": "student", "template": "custom", "all": [{"attribute": "email", "op": "matches", "value": "@hudson\\.k12\\.us$"}]}]),
            ),
            (
                "domains",
                json!([{"kind": "student", "attributes": ["givenName", "familyName", "birthDate"], "mode": "manual"}]),
            ),
            (
                "schedule",
                json!({"every": "week", "weekday": "monday", "at": "02:00"}),
            ),
        ] {
            let r = h
                .call("PUT", &format!("{s}/{step}"), &admin, Some(body.clone()))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{step} {body}: {}", r.text);
        }
    }
}

/// A configuration file is checked by the same rules (one check for the
/// file, the API and the UI).
#[test]
fn a_configuration_file_is_checked_the_same_way() {
    let file = |extra: &str| {
        format!(
            "[organization]\nid = \"hd\"\nname = \"Hudson\"\n\n[[source]]\nid = \"sis\"\nplugin = \"oneroster-csv\"\n{extra}"
        )
    };
    let refused = |extra: &str, says: &str| {
        let err = DistrictConfig::parse(&file(extra))
            .expect_err(extra)
            .to_string();
        assert!(err.contains(says), "{extra}: {err}");
    };
    refused(
        "[[source.filters]]\nkind = \"student\"\ntemplate = \"grade-range\"\nmin = \"banana\"\nmax = \"05\"\n",
        "“banana” is not a grade",
    );
    refused(
        "[[source.requirements]]\nkind = \"student\"\nattribute = \"emial\"\naction = \"report\"\n",
        "“emial” is not an attribute of student",
    );
    refused(
        "schedule = { every = \"week\", weekday = \"friday\" }\n",
        "a weekly schedule needs its time of day",
    );
    let long = DistrictConfig::parse(&file("").replace("Hudson", &"H".repeat(4800)))
        .expect_err("a long organization name")
        .to_string();
    assert!(long.contains("keep it to 120"), "{long}");
    DistrictConfig::parse(&file(
        "[[source.filters]]\nkind = \"student\"\ntemplate = \"grade-range\"\nmin = \"KG\"\nmax = \"05\"\n",
    ))
    .expect("a good file is taken");
}

/// One approval choice: saying it sets it whatever the older pair of
/// switches says, and a new integration reviews its first import.
#[tokio::test]
async fn one_approval_choice() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let h = Harness::new(&url).await;
        let org = org_id("approval");
        h.engine
            .store()
            .upsert_organization(&org, "Approval District")
            .await
            .unwrap();
        let admin = h.token(&org, Role::Admin).await;
        let base = format!("/api/v1/organizations/{org}");
        let made = h
            .call(
                "POST",
                &format!("{base}/sources"),
                &admin,
                Some(json!({"app": "fixture-connector", "id": "sis", "name": "SIS"})),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        let stored = h.engine.store().source(&org, "sis").await.unwrap();
        assert!(
            stored.config.advanced.review_first,
            "a new integration reviews its first import"
        );
        for (choice, expect) in [
            ("always", Approval::Always),
            ("threshold", Approval::Threshold),
            ("review", Approval::Review),
        ] {
            // The older "preview" switch says the opposite: the choice wins.
            let r = h
                .call(
                    "PUT",
                    &format!("{base}/sources/sis/delivery"),
                    &admin,
                    Some(json!({"advanced": {"approval": choice, "preview": choice != "review", "auto_commit": choice == "review", "review_first": true}})),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{choice}: {}", r.text);
            let a = h
                .engine
                .store()
                .source(&org, "sis")
                .await
                .unwrap()
                .config
                .advanced;
            assert_eq!(a.approval(), expect, "{choice}");
            assert_eq!(a.preview, expect == Approval::Review, "{choice}: {a:?}");
            assert_eq!(a.auto_commit, expect != Approval::Review, "{choice}: {a:?}");
        }
        let bad = h
            .call(
                "PUT",
                &format!("{base}/sources/sis/delivery"),
                &admin,
                Some(json!({"advanced": {"approval": "sometimes"}})),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    }
}

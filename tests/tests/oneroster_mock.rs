//! The mock OneRoster provider over real HTTP: paging and its headers, the
//! filter grammar, token issuance and scopes, OAuth 1.0a verification (with
//! requests this test signs itself), grade writes, the CSV loader, and every
//! fault the handle can switch on.

use std::time::{Duration, Instant};

use homeroom_tests::district::{self, Options};
use homeroom_tests::oneroster_mock::dataset::DEFAULT_TIME;
use homeroom_tests::oneroster_mock::{
    CLIENT_ID, CLIENT_SECRET, Dataset, MockClient, MockConfig, MockOneRoster, Version, oauth,
};
use serde_json::{Value as Json, json};

const V12: &str = "/ims/oneroster/rostering/v1p2";
const V11: &str = "/ims/oneroster/v1p1";
const GRADEBOOK: &str = "/ims/oneroster/gradebook/v1p2";
const SCOPE: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/";

async fn token(mock: &MockOneRoster, scope: Option<&str>) -> String {
    let mut form = vec![("grant_type", "client_credentials".to_string())];
    if let Some(scope) = scope {
        form.push(("scope", scope.to_string()));
    }
    let answer: Json = reqwest::Client::new()
        .post(mock.token_url())
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&form)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_string()
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Json,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn ids(&self, key: &str) -> Vec<String> {
        self.body[key]
            .as_array()
            .unwrap_or_else(|| panic!("no `{key}` in {}", self.body))
            .iter()
            .map(|r| r["sourcedId"].as_str().unwrap().to_string())
            .collect()
    }
}

async fn get(url: &str, token: &str) -> Answer {
    let r = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Json::String(text)),
    }
}

fn next_link(answer: &Answer) -> Option<String> {
    let link = answer.header("link")?;
    link.split(", <").find_map(|part| {
        let part = part.trim_start_matches('<');
        let (url, rel) = part.split_once(">; ")?;
        (rel == "rel=\"next\"").then(|| url.to_string())
    })
}

#[tokio::test]
async fn pages_follow_limit_offset_with_total_and_link_headers() {
    let mock = MockOneRoster::start(Dataset::sample().with_students(250))
        .await
        .unwrap();
    let t = token(&mock, None).await;
    let first = get(&format!("{}{V12}/users?limit=100", mock.base_url()), &t).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-total-count"), Some("260"));
    let link = first.header("link").unwrap();
    assert!(
        link.contains("offset=100>; rel=\"next\"") && link.contains("offset=200>; rel=\"last\""),
        "{link}"
    );
    assert!(!link.contains("rel=\"prev\""), "{link}");

    let mut ids = first.ids("users");
    let mut next = next_link(&first);
    let mut pages = 1;
    while let Some(url) = next {
        let page = get(&url, &t).await;
        ids.extend(page.ids("users"));
        next = next_link(&page);
        pages += 1;
    }
    assert_eq!(pages, 3);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 260);

    // The same records under 1.1, in the 1.1 shape.
    let page = get(
        &format!("{}{V11}/users?limit=5&offset=255", mock.base_url()),
        &t,
    )
    .await;
    assert_eq!(page.ids("users").len(), 5);
    let user = &page.body["users"][0];
    assert_eq!(user["role"], "student");
    assert_eq!(
        user["orgs"][0]["href"],
        format!("{}{V11}/orgs/s1", mock.base_url())
    );
    assert!(user.get("roles").is_none());
    // Past the end: an empty page.
    let page = get(
        &format!("{}{V12}/users?limit=100&offset=300", mock.base_url()),
        &t,
    )
    .await;
    assert_eq!(page.ids("users").len(), 0);
    // Derived collections and single records.
    let schools = get(&format!("{}{V12}/schools", mock.base_url()), &t).await;
    assert_eq!(schools.ids("orgs"), ["s1", "s2"]);
    let one = get(&format!("{}{V12}/classes/c-read", mock.base_url()), &t).await;
    assert_eq!(one.body["class"]["school"]["sourcedId"], "s2");
    let missing = get(&format!("{}{V12}/classes/nope", mock.base_url()), &t).await;
    assert_eq!(missing.status, 404);
    // A limit above the server's maximum is capped.
    mock.configure(|c| c.max_limit = 50);
    let capped = get(&format!("{}{V12}/users?limit=1000", mock.base_url()), &t).await;
    assert_eq!(
        (capped.ids("users").len(), capped.header("x-total-count")),
        (50, Some("260"))
    );
    assert!(mock.requests_to("users") >= 5);
}

#[tokio::test]
async fn the_filter_grammar_selects_and_orders_records() {
    let mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let t = token(&mock, None).await;
    let base = mock.base_url();
    let query = |path: &str, params: &[(&str, &str)]| {
        let mut url = reqwest::Url::parse(&format!("{base}{path}")).unwrap();
        url.query_pairs_mut().extend_pairs(params);
        url.to_string()
    };
    let ids = |a: Answer, key: &str| a.ids(key);
    let orgs = |f: &str| query(&format!("{V12}/orgs"), &[("filter", f)]);
    assert_eq!(
        ids(get(&orgs("type='school'"), &t).await, "orgs"),
        ["s1", "s2"]
    );
    assert_eq!(
        ids(
            get(&orgs("type='school' AND identifier='SHS'"), &t).await,
            "orgs"
        ),
        ["s1"]
    );
    assert_eq!(
        ids(
            get(&orgs("type='district' OR identifier='SES'"), &t).await,
            "orgs"
        ),
        ["d1", "s2"]
    );
    assert_eq!(
        ids(get(&orgs("name~'elementary'"), &t).await, "orgs"),
        ["s2"]
    );
    assert_eq!(ids(get(&orgs("type!='school'"), &t).await, "orgs"), ["d1"]);
    let lines = |f: &str| query(&format!("{GRADEBOOK}/results"), &[("filter", f)]);
    assert_eq!(
        ids(get(&lines("score>='9'"), &t).await, "results"),
        ["r-1", "r-3"]
    );
    assert_eq!(ids(get(&lines("score<'9'"), &t).await, "results"), ["r-2"]);
    assert_eq!(
        ids(get(&lines("student.sourcedId='st-2'"), &t).await, "results"),
        ["r-2"]
    );

    // dateLastModified compares as times: a delta.
    let since = "2025-01-01T00:00:00Z";
    let delta = |path: &str| query(path, &[("filter", &format!("dateLastModified>'{since}'"))]);
    assert_eq!(
        ids(get(&delta(&format!("{V12}/users")), &t).await, "users"),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(
            get(
                &query(
                    &format!("{V12}/users"),
                    &[("filter", &format!("dateLastModified<'{since}'"))]
                ),
                &t
            )
            .await,
            "users"
        )
        .len(),
        10
    );
    assert!(mock.update("users", "st-1", |u| {
        u.insert("givenName".into(), json!("Sophie"));
    }));
    assert!(mock.mark_deleted("users", "st-2"));
    mock.add("users", json!({"sourcedId": "st-new", "givenName": "New", "familyName": "Kid",
        "enabledUser": "true", "roles": [{"roleType": "primary", "role": "student", "org": {"sourcedId": "s1", "type": "org"}}]}));
    let changed = get(&delta(&format!("{V11}/users")), &t).await;
    assert_eq!(changed.ids("users"), ["st-1", "st-2", "st-new"]);
    assert_eq!(changed.body["users"][0]["givenName"], "Sophie");
    assert_eq!(changed.body["users"][1]["status"], "tobedeleted");
    assert_eq!(changed.header("x-total-count"), Some("3"));

    // Sorting.
    let sorted = get(
        &query(
            &format!("{V12}/users"),
            &[("sort", "familyName"), ("orderBy", "desc"), ("limit", "3")],
        ),
        &t,
    )
    .await;
    assert_eq!(
        sorted.ids("users"),
        ["t-2", "st-5", "g-1"],
        "Turing, Rossi, Rossi"
    );

    // A filter the grammar does not allow is refused as the spec says.
    let bad = get(&orgs("type = school"), &t).await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.to_string().contains("invalid_filter_field"),
        "{}",
        bad.body
    );
    mock.configure(|c| c.filter = false);
    assert_eq!(get(&orgs("type='school'"), &t).await.status, 400);
}

#[tokio::test]
async fn tokens_are_issued_for_known_clients_and_scopes_are_enforced() {
    let config = MockConfig {
        clients: vec![
            MockClient {
                id: CLIENT_ID.into(),
                secret: CLIENT_SECRET.into(),
                scopes: homeroom_tests::oneroster_mock::all_scopes(),
            },
            MockClient {
                id: "core-only".into(),
                secret: "c0re".into(),
                scopes: vec![format!("{SCOPE}roster-core.readonly")],
            },
        ],
        ..MockConfig::default()
    };
    let mock = MockOneRoster::start_with(Dataset::sample(), config)
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let post = |form: Vec<(&'static str, String)>, basic: Option<(&'static str, &'static str)>| {
        let mut r = client.post(mock.token_url()).form(&form);
        if let Some((id, secret)) = basic {
            r = r.basic_auth(id, Some(secret));
        }
        r.send()
    };
    let grant = || vec![("grant_type", "client_credentials".to_string())];

    // HTTP Basic client authentication.
    let r = post(grant(), Some((CLIENT_ID, CLIENT_SECRET)))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Json = r.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(
        body["scope"]
            .as_str()
            .unwrap()
            .contains("roster-demographics.readonly")
    );
    // Client credentials in the form.
    let mut form = grant();
    form.push(("client_id", "core-only".into()));
    form.push(("client_secret", "c0re".into()));
    let core: Json = post(form, None).await.unwrap().json().await.unwrap();
    let core = core["access_token"].as_str().unwrap().to_string();
    // Refusals as RFC 6749 words them.
    let r = post(grant(), Some((CLIENT_ID, "wrong"))).await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    assert_eq!(r.json::<Json>().await.unwrap()["error"], "invalid_client");
    let mut form = grant();
    form.push((
        "scope",
        format!("{SCOPE}roster-core.readonly {SCOPE}gradebook.createput"),
    ));
    form.push(("client_id", "core-only".into()));
    form.push(("client_secret", "c0re".into()));
    let r = post(form, None).await.unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.json::<Json>().await.unwrap()["error"].clone()
        ),
        (400, json!("invalid_scope"))
    );
    let r = post(
        vec![("grant_type", "password".into())],
        Some((CLIENT_ID, CLIENT_SECRET)),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(mock.token_requests(), 5);

    // Scopes per request: core reads users, not demographics nor the gradebook.
    let base = mock.base_url();
    assert_eq!(get(&format!("{base}{V12}/users"), &core).await.status, 200);
    let refused = get(&format!("{base}{V12}/demographics"), &core).await;
    assert_eq!(refused.status, 403);
    assert!(
        refused
            .body
            .to_string()
            .contains("roster-demographics.readonly")
    );
    assert_eq!(
        get(&format!("{base}{GRADEBOOK}/lineItems"), &core)
            .await
            .status,
        403
    );
    // A narrower token asked for by scope.
    let demo = token(&mock, Some(&format!("{SCOPE}roster-demographics.readonly"))).await;
    assert_eq!(
        get(&format!("{base}{V12}/demographics"), &demo)
            .await
            .status,
        200
    );
    assert_eq!(get(&format!("{base}{V12}/users"), &demo).await.status, 403);
    // No token, an unknown one, an expired one.
    let none = reqwest::get(format!("{base}{V12}/users")).await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(
        get(&format!("{base}{V12}/users"), "made-up").await.status,
        401
    );
    mock.configure(|c| c.token_lifetime = Duration::from_millis(50));
    let short = token(&mock, None).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let expired = get(&format!("{base}{V12}/users"), &short).await;
    assert_eq!(expired.status, 401);
    assert!(expired.body.to_string().contains("expired"));
}

async fn signed_get(
    url: &str,
    key: &str,
    secret: &str,
    timestamp: i64,
    nonce: &str,
) -> (u16, String) {
    let header = oauth::sign("GET", url, key, secret, timestamp, nonce);
    let r = reqwest::Client::new()
        .get(url)
        .header("authorization", header)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn oauth1_signatures_are_verified_for_1p1() {
    let mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let now = chrono::Utc::now().timestamp();
    let url = format!(
        "{}{V11}/users?limit=3&offset=0&filter={}",
        mock.base_url(),
        oauth::percent_encode("dateLastModified>'2020-01-01T00:00:00Z'")
    );
    let (status, body) = signed_get(&url, CLIENT_ID, CLIENT_SECRET, now, "nonce-1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Json>(&body).unwrap()["users"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        mock.request_log()[0].auth,
        homeroom_tests::oneroster_mock::AuthSeen::OAuth1
    );

    // A replayed nonce, a wrong secret, an old timestamp, an unknown key.
    let (status, body) = signed_get(&url, CLIENT_ID, CLIENT_SECRET, now, "nonce-1").await;
    assert_eq!(status, 401);
    assert!(body.contains("replay"), "{body}");
    let (status, body) = signed_get(&url, CLIENT_ID, "not-the-secret", now, "nonce-2").await;
    assert_eq!(status, 401);
    assert!(body.contains("does not match"), "{body}");
    let (status, body) = signed_get(&url, CLIENT_ID, CLIENT_SECRET, now - 3600, "nonce-3").await;
    assert_eq!(status, 401);
    assert!(body.contains("away from the server's clock"), "{body}");
    let (status, _) = signed_get(&url, "nobody", CLIENT_SECRET, now, "nonce-4").await;
    assert_eq!(status, 401);
    // A request changed after signing.
    let header = oauth::sign("GET", &url, CLIENT_ID, CLIENT_SECRET, now, "nonce-5");
    let r = reqwest::Client::new()
        .get(url.replace("limit=3", "limit=4"))
        .header("authorization", header)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // OneRoster 1.2 takes OAuth 2 only.
    let url12 = format!("{}{V12}/users", mock.base_url());
    let (status, body) = signed_get(&url12, CLIENT_ID, CLIENT_SECRET, now, "nonce-6").await;
    assert_eq!(status, 401);
    assert!(body.contains("OAuth 2"), "{body}");
}

#[tokio::test]
async fn grade_writes_follow_the_gradebook_schema() {
    let mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let t = token(&mock, None).await;
    let base = mock.base_url();
    let put = |url: String, body: Json, token: String| async move {
        let r = reqwest::Client::new()
            .put(url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    let r#ref = |t: &str, path: &str, id: &str| json!({"href": format!("{base}{path}/{id}"), "sourcedId": id, "type": t});
    let line_item = json!({"lineItem": {
        "sourcedId": "li-9", "status": "active", "title": "Essay", "assignDate": "2024-10-01T00:00:00Z",
        "dueDate": "2024-10-08T00:00:00Z", "class": r#ref("class", "/classes", "c-alg-1"),
        "school": r#ref("org", "/orgs", "s1"), "category": r#ref("category", "/categories", "cat-hw"),
        "resultValueMin": 0, "resultValueMax": 20}});
    let (status, body) = put(
        format!("{base}{GRADEBOOK}/lineItems/li-9"),
        line_item.clone(),
        t.clone(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let stored = mock.record("lineItems", "li-9").unwrap();
    assert_eq!(stored["title"], "Essay");
    assert!(stored["dateLastModified"].as_str().unwrap() > DEFAULT_TIME);

    let mut extra = line_item.clone();
    extra["lineItem"]["colour"] = json!("red");
    let (status, body) = put(
        format!("{base}{GRADEBOOK}/lineItems/li-9"),
        extra,
        t.clone(),
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("`colour` is not a field"), "{body}");
    let mut no_href = line_item.clone();
    no_href["lineItem"]["class"] = json!({"sourcedId": "c-alg-1", "type": "class"});
    assert_eq!(
        put(
            format!("{base}{GRADEBOOK}/lineItems/li-9"),
            no_href,
            t.clone()
        )
        .await
        .0,
        422
    );
    // 1.1 has no `school` on a line item.
    let (status, body) = put(
        format!("{base}{V11}/lineItems/li-9"),
        line_item.clone(),
        t.clone(),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    // A result, and its deletion.
    let result = json!({"result": {"lineItem": r#ref("lineItem", "/lineItems", "li-9"),
        "student": r#ref("user", "/users", "st-1"), "scoreStatus": "fully graded", "score": 18.5,
        "scoreDate": "2024-10-09", "late": "true"}});
    assert_eq!(
        put(format!("{base}{GRADEBOOK}/results/r-9"), result, t.clone())
            .await
            .0,
        201
    );
    assert_eq!(mock.record("results", "r-9").unwrap()["score"], 18.5);
    let r = reqwest::Client::new()
        .delete(format!("{base}{GRADEBOOK}/results/r-9"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        mock.record("results", "r-9").unwrap()["status"],
        "tobedeleted"
    );
    // Writing needs gradebook.createput.
    let read_only = token(&mock, Some(&format!("{SCOPE}gradebook.readonly"))).await;
    assert_eq!(
        put(
            format!("{base}{GRADEBOOK}/lineItems/li-9"),
            line_item,
            read_only
        )
        .await
        .0,
        403
    );
    // Users are read-only.
    assert_eq!(
        put(format!("{base}{V12}/users/st-1"), json!({"user": {}}), t)
            .await
            .0,
        405
    );
}

#[tokio::test]
async fn faults_switch_on_and_wear_off() {
    let mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let t = token(&mock, None).await;
    let url = format!("{}{V12}/users?limit=4", mock.base_url());

    mock.fail_with_429(2, 7);
    for _ in 0..2 {
        let a = get(&url, &t).await;
        assert_eq!((a.status, a.header("retry-after")), (429, Some("7")));
    }
    assert_eq!(get(&url, &t).await.status, 200);

    mock.fail_with_500(1);
    assert_eq!(get(&url, &t).await.status, 500);
    assert_eq!(get(&url, &t).await.status, 200);

    mock.slow_pages(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(get(&url, &t).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    mock.slow_pages(Duration::ZERO);

    mock.malformed_json(1);
    let a = get(&url, &t).await;
    assert_eq!(a.status, 200);
    assert!(a.body.is_string(), "not JSON: {}", a.body);
    assert!(get(&url, &t).await.body.is_object());

    mock.truncate_bodies(1);
    let r = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    let promised: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    match r.bytes().await {
        Err(_) => {}
        Ok(b) => panic!(
            "the body should break off, got {} of {promised} bytes",
            b.len()
        ),
    }
    assert!(get(&url, &t).await.body.is_object());

    mock.repeat_page_once();
    let first = get(&url, &t).await.ids("users");
    let repeated = get(&format!("{url}&offset=4"), &t).await.ids("users");
    assert_eq!(repeated, first, "offset ignored once");
    let second = get(&format!("{url}&offset=4"), &t).await.ids("users");
    assert_ne!(second, first);

    mock.lie_about_total(5);
    assert_eq!(get(&url, &t).await.header("x-total-count"), Some("15"));
    mock.lie_about_total(-4);
    assert_eq!(get(&url, &t).await.header("x-total-count"), Some("6"));
    mock.clear_faults();
    assert_eq!(get(&url, &t).await.header("x-total-count"), Some("10"));
    let statuses: Vec<u16> = mock.request_log().iter().map(|r| r.status).collect();
    assert_eq!(&statuses[..5], [429, 429, 200, 500, 200]);
}

#[tokio::test]
async fn a_csv_package_loads_into_rest_records() {
    for version in [district::Version::V1_2, district::Version::V1_1] {
        let dir = tempfile::tempdir().unwrap();
        let summary = district::write_package(
            &Options {
                students: 40,
                version,
                ..Options::default()
            },
            dir.path(),
        )
        .unwrap();
        let dataset = Dataset::from_csv_dir(dir.path()).unwrap();
        for file in [
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
        ] {
            assert_eq!(
                dataset.len(file) as u64,
                summary.rows(&format!("{file}.csv")),
                "{file} of {}",
                version.label()
            );
        }
        let mock = MockOneRoster::start(dataset).await.unwrap();
        let t = token(&mock, None).await;
        let users = get(&format!("{}{V12}/users?limit=10000", mock.base_url()), &t).await;
        let all = users.body["users"].as_array().unwrap();
        assert_eq!(all.len() as u64, summary.rows("users.csv"));
        assert!(
            all.iter()
                .all(|u| u["roles"].as_array().is_some_and(|r| !r.is_empty())),
            "every 1.2 user has roles"
        );
        let students = get(
            &format!("{}{V12}/students?limit=10000", mock.base_url()),
            &t,
        )
        .await;
        assert_eq!(students.ids("users").len() as u64, summary.students);
        let v11 = get(&format!("{}{V11}/users?limit=1", mock.base_url()), &t).await;
        assert!(
            v11.body["users"][0]["role"].is_string() && v11.body["users"][0]["orgs"].is_array()
        );
        let schools = get(&format!("{}{V12}/schools", mock.base_url()), &t).await;
        assert_eq!(schools.ids("orgs").len() as u64, summary.schools);
    }
    assert!(
        Dataset::from_csv_dir(std::path::Path::new("/nonexistent"))
            .unwrap_err()
            .to_string()
            .contains("not a OneRoster CSV package")
    );
}

#[tokio::test]
async fn the_service_url_names_each_version() {
    let mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
    assert_eq!(
        mock.service_url(Version::V1p1),
        format!("{}{V11}", mock.base_url())
    );
    assert_eq!(
        mock.service_url(Version::V1p2),
        format!("{}{V12}", mock.base_url())
    );
    let t = token(&mock, None).await;
    // Gradebook collections live under the gradebook base path in 1.2 only.
    assert_eq!(
        get(&format!("{}{V12}/lineItems", mock.base_url()), &t)
            .await
            .status,
        404
    );
    assert_eq!(
        get(&format!("{}{V11}/lineItems", mock.base_url()), &t)
            .await
            .status,
        200
    );
}

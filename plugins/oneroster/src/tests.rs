//! The connector against a fake OneRoster server behind [`Env`], natively.

use std::collections::BTreeMap;

use homeroom_sdk::connector_bindings::homeroom::plugin::http::{
    HttpError, Method, Request, Response,
};
use homeroom_sdk::{Action, Change, Entity, EntityKind, PluginError, Status, Value};
use serde_json::{Value as Json, json};

use crate::apply;
use crate::config::Config;
use crate::env::Env;
use crate::read::{self, PageMark};

type Handler = Box<dyn FnMut(&Request) -> Result<Response, HttpError>>;

struct Fake {
    settings: BTreeMap<String, String>,
    handler: Handler,
    requests: Vec<Request>,
    warnings: Vec<String>,
    progress: Vec<(u64, Option<u64>)>,
}

impl Env for Fake {
    fn send(&mut self, request: &Request) -> Result<Response, HttpError> {
        self.requests.push(request.clone());
        (self.handler)(request)
    }

    fn setting(&self, name: &str) -> Option<String> {
        self.settings.get(name).cloned()
    }

    fn warn(&mut self, message: &str) {
        self.warnings.push(message.to_string());
    }

    fn progress(&mut self, done: u64, total: Option<u64>) {
        self.progress.push((done, total));
    }
}

impl Fake {
    fn new(
        settings: &[(&str, &str)],
        handler: impl FnMut(&Request) -> Result<Response, HttpError> + 'static,
    ) -> Fake {
        let mut all: BTreeMap<String, String> =
            [("service_url", "https://sis.test"), ("page_size", "10")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        for (k, v) in settings {
            all.insert(k.to_string(), v.to_string());
        }
        Fake {
            settings: all,
            handler: Box::new(handler),
            requests: Vec::new(),
            warnings: Vec::new(),
            progress: Vec::new(),
        }
    }

    fn config(&self) -> Config {
        Config::from_env(self).expect("config")
    }

    fn urls(&self) -> Vec<String> {
        self.requests.iter().map(|r| r.url.clone()).collect()
    }
}

fn response(status: u16, headers: &[(&str, String)], body: impl Into<Vec<u8>>) -> Response {
    Response {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        body: body.into(),
    }
}

fn query(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

fn users(n: usize) -> Vec<Json> {
    (0..n)
        .map(|i| {
            json!({"sourcedId": format!("u{i:03}"), "status": "active",
                   "dateLastModified": "2024-08-01T00:00:00Z",
                   "givenName": format!("G{i}"), "familyName": "F", "enabledUser": "true",
                   "roles": [{"roleType": "primary", "role": "student",
                              "org": {"href": "x", "sourcedId": "s1", "type": "org"}}]})
        })
        .collect()
}

/// A page of `records` per `limit`/`offset`, with `X-Total-Count`.
fn page_of(key: &str, records: &[Json], url: &str, total_header: bool) -> Response {
    let limit: usize = query(url, "limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100);
    let offset: usize = query(url, "offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let items: Vec<Json> = records.iter().skip(offset).take(limit).cloned().collect();
    let headers = if total_header {
        vec![("X-Total-Count", records.len().to_string())]
    } else {
        vec![]
    };
    response(200, &headers, json!({ key: items }).to_string())
}

/// Read every page like the host does: each page, the pages it lists ahead
/// (on a fresh instance, as the host may), then its `next`.
fn read_all(
    env: &mut Fake,
    kind: EntityKind,
    since: Option<&str>,
) -> Result<(Vec<Entity>, Vec<Option<String>>), PluginError> {
    let config = env.config();
    let mut memory: Option<PageMark> = None;
    let mut cursor: Option<String> = None;
    let mut entities = Vec::new();
    let mut cursors = Vec::new();
    for _ in 0..100 {
        let page = read::read(env, &config, kind, since, cursor.as_deref(), &mut memory)?;
        entities.extend(page.entities);
        cursors.push(page.next.clone());
        for ahead in &page.ahead {
            let mut fresh: Option<PageMark> = None;
            let one = read::read(env, &config, kind, since, Some(ahead), &mut fresh)?;
            assert!(one.next.is_none() && one.ahead.is_empty(), "{ahead}");
            entities.extend(one.entities);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok((entities, cursors)),
        }
    }
    panic!("the read did not end")
}

#[test]
fn a_full_read_pages_through_every_record() {
    let data = users(25);
    let mut env = Fake::new(&[], move |r| Ok(page_of("users", &data, &r.url, true)));
    let (entities, cursors) = read_all(&mut env, EntityKind::User, None).unwrap();
    assert_eq!(entities.len(), 25);
    // The first page says 25 in all: the other two are listed ahead, to be
    // read at once, and `next` looks past the total in case it was short.
    assert_eq!(cursors, [Some("30".to_string()), None]);
    assert_eq!(
        env.urls(),
        [
            "https://sis.test/ims/oneroster/rostering/v1p2/users?limit=10&offset=0",
            "https://sis.test/ims/oneroster/rostering/v1p2/users?limit=10&offset=10",
            "https://sis.test/ims/oneroster/rostering/v1p2/users?limit=10&offset=20",
            "https://sis.test/ims/oneroster/rostering/v1p2/users?limit=10&offset=30",
        ]
    );
    assert_eq!(
        env.progress,
        [(10, Some(25)), (20, Some(25)), (25, Some(25))]
    );
    let first = &entities[0];
    assert_eq!(first.text("role"), Some("student"));
    assert!(matches!(
        first.get("enabledUser"),
        Some(Value::Boolean(true))
    ));
    assert!(env.requests.iter().all(|r| r.method == Method::Get));
}

#[test]
fn without_paging_headers_a_short_page_ends_the_read() {
    let data = users(20);
    let mut env = Fake::new(&[], move |r| Ok(page_of("users", &data, &r.url, false)));
    let (entities, _) = read_all(&mut env, EntityKind::User, None).unwrap();
    assert_eq!(entities.len(), 20);
    // Two full pages, then an empty one ends it.
    assert_eq!(env.requests.len(), 3);
}

#[test]
fn a_server_capping_the_limit_is_followed_by_its_total() {
    let data = users(12);
    let mut env = Fake::new(&[], move |r| {
        let capped = r.url.replace("limit=10", "limit=5");
        Ok(page_of("users", &data, &capped, true))
    });
    let (entities, _) = read_all(&mut env, EntityKind::User, None).unwrap();
    assert_eq!(entities.len(), 12);
    assert!(env.urls()[1].ends_with("offset=5"), "{:?}", env.urls());
}

#[test]
fn a_delta_read_sends_an_encoded_filter_and_reads_deletions() {
    let mut env = Fake::new(&[("version", "1.1")], |r| {
        assert_eq!(
            query(&r.url, "filter").as_deref(),
            Some("dateLastModified%3E%272024-09-01T00%3A00%3A00Z%27")
        );
        Ok(response(
            200,
            &[],
            json!({"enrollments": [{"sourcedId": "e1", "status": "tobedeleted",
                                    "dateLastModified": "2024-09-02T10:00:00.000Z"}]})
            .to_string(),
        ))
    });
    let (entities, _) = read_all(
        &mut env,
        EntityKind::Enrollment,
        Some("2024-09-01T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(entities.len(), 1);
    assert_eq!(entities[0].status, Status::ToBeDeleted);
    assert_eq!(
        entities[0].date_last_modified.as_deref(),
        Some("2024-09-02T10:00:00.000Z")
    );
    assert!(
        env.urls()[0].starts_with(
            "https://sis.test/ims/oneroster/v1p1/enrollments?limit=10&offset=0&filter="
        )
    );
}

#[test]
fn a_refused_delta_filter_falls_back_to_the_full_set() {
    let data = users(15);
    let mut env = Fake::new(&[], move |r| {
        if query(&r.url, "filter").is_some() {
            return Ok(response(
                400,
                &[],
                json!({"imsx_codeMajor": "failure", "imsx_description": "filter not supported"})
                    .to_string(),
            ));
        }
        Ok(page_of("users", &data, &r.url, true))
    });
    let (entities, cursors) =
        read_all(&mut env, EntityKind::User, Some("2024-09-01T00:00:00Z")).unwrap();
    assert_eq!(entities.len(), 15);
    // Fallen back to the full set, the pages ahead and the next stay on it.
    assert_eq!(cursors, [Some("full:20".to_string()), None]);
    assert!(
        env.warnings[0].contains("refused the delta filter")
            && env.warnings[0].contains("filter not supported")
    );
    assert_eq!(
        env.requests.len(),
        4,
        "filtered, unfiltered, then the page ahead and the look past the total unfiltered"
    );
    assert!(env.urls()[2..].iter().all(|u| query(u, "filter").is_none()));
}

#[test]
fn a_record_without_id_is_skipped_with_a_warning() {
    let mut env = Fake::new(&[], |_| {
        Ok(response(
            200,
            &[],
            json!({"classes": [{"sourcedId": "c1", "title": "Art"}, {"title": "no id"}]})
                .to_string(),
        ))
    });
    let (entities, _) = read_all(&mut env, EntityKind::Class, None).unwrap();
    assert_eq!(entities.len(), 1);
    assert!(
        env.warnings
            .iter()
            .any(|w| w
                .contains("`classes` at offset 0: record 1 skipped: the record has no sourcedId")),
        "{:?}",
        env.warnings
    );

    let mut env = Fake::new(&[], |_| {
        Ok(response(
            200,
            &[],
            json!({"classes": [{"title": "a"}, {"id": 2}]}).to_string(),
        ))
    });
    let err = read_all(&mut env, EntityKind::Class, None).unwrap_err();
    assert!(
        matches!(&err, PluginError::InvalidData(m) if m.contains("`classes` at offset 0") && m.contains("none of the 2 records")),
        "{err:?}"
    );
}

#[test]
fn broken_pages_are_refused_naming_endpoint_and_offset() {
    let data = users(20);
    let mut env = Fake::new(&[], move |r| {
        if query(&r.url, "offset").as_deref() == Some("10") {
            return Ok(response(200, &[], r#"{"users": [{"sourcedId": "u010", "#));
        }
        Ok(page_of("users", &data, &r.url, true))
    });
    let err = read_all(&mut env, EntityKind::User, None).unwrap_err();
    assert!(
        matches!(&err, PluginError::InvalidData(m) if m.contains("`users` at offset 10") && m.contains("not valid JSON")),
        "{err:?}"
    );

    let mut env = Fake::new(&[], |_| Ok(response(200, &[], r#"{"students": []}"#)));
    let err = read_all(&mut env, EntityKind::User, None).unwrap_err();
    assert!(
        matches!(&err, PluginError::InvalidData(m) if m.contains("`users` at offset 0") && m.contains("no `users` list")),
        "{err:?}"
    );
}

#[test]
fn a_repeated_page_is_asked_for_again_and_refused_if_it_stays() {
    let data = users(25);
    let mut repeated = false;
    let mut env = Fake::new(&[], move |r| {
        if query(&r.url, "offset").as_deref() == Some("10") && !repeated {
            repeated = true;
            return Ok(page_of(
                "users",
                &data,
                &r.url.replace("offset=10", "offset=0"),
                true,
            ));
        }
        Ok(page_of("users", &data, &r.url, true))
    });
    let (entities, _) = read_all(&mut env, EntityKind::User, None).unwrap();
    assert_eq!(entities.len(), 25);
    let mut ids: Vec<&str> = entities.iter().map(|e| e.source_id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 25, "no record twice");
    assert!(
        env.warnings
            .iter()
            .any(|w| w.contains("sent the records of the previous page again"))
    );

    let data = users(25);
    let mut env = Fake::new(&[], move |r| {
        Ok(page_of(
            "users",
            &data,
            &r.url.replace("offset=10", "offset=0"),
            true,
        ))
    });
    let err = read_all(&mut env, EntityKind::User, None).unwrap_err();
    assert!(
        matches!(&err, PluginError::InvalidData(m) if m.contains("ignores `offset`")),
        "{err:?}"
    );
}

#[test]
fn user_agents_read_nothing_and_send_nothing() {
    let mut env = Fake::new(&[], |_| panic!("no request"));
    let (entities, _) = read_all(&mut env, EntityKind::UserAgent, None).unwrap();
    assert!(entities.is_empty());
}

#[test]
fn gradebook_kinds_read_from_the_gradebook_service() {
    let mut env = Fake::new(&[], |_| {
        Ok(response(
            200,
            &[],
            r#"{"categories": [{"sourcedId": "cat1", "title": "Homework", "weight": 0.4}]}"#,
        ))
    });
    let (entities, _) = read_all(&mut env, EntityKind::Category, None).unwrap();
    assert!(env.urls()[0].starts_with("https://sis.test/ims/oneroster/gradebook/v1p2/categories?"));
    assert!(matches!(entities[0].get("weight"), Some(Value::Number(w)) if (*w - 0.4).abs() < 1e-9));
}

fn orgs_server(r: &Request) -> Result<Response, HttpError> {
    let orgs = json!([
        {"sourcedId": "d1", "name": "District", "type": "district"},
        {"sourcedId": "s1", "name": "North High", "type": "school", "identifier": "NH"},
        {"sourcedId": "s2", "name": "South Middle", "type": "school"},
        {"sourcedId": "s3", "name": "Closed", "type": "school", "status": "tobedeleted"}
    ]);
    let all = orgs.as_array().cloned().unwrap_or_default();
    if r.url.contains("/schools?") {
        let schools: Vec<Json> = all
            .iter()
            .filter(|o| o["type"] == "school")
            .cloned()
            .collect();
        return Ok(page_of("orgs", &schools, &r.url, true));
    }
    Ok(page_of("orgs", &all, &r.url, true))
}

#[test]
fn the_connection_test_says_what_it_found() {
    let mut env = Fake::new(
        &[(
            "service_url",
            "https://sis.test/ims/oneroster/rostering/v1p2/",
        )],
        orgs_server,
    );
    let config = env.config();
    let message = read::test_connection(&mut env, &config).unwrap();
    assert_eq!(
        message,
        "OneRoster 1.2 at https://sis.test/ims/oneroster/rostering/v1p2: 2 schools"
    );
    assert_eq!(
        env.urls()[0],
        "https://sis.test/ims/oneroster/rostering/v1p2/orgs?limit=1"
    );

    let mut env = Fake::new(&[("page_size", "1")], orgs_server);
    let config = env.config();
    let schools = read::list_schools(&mut env, &config).unwrap();
    let names: Vec<(&str, Option<&str>)> = schools
        .iter()
        .map(|s| (s.name.as_str(), s.identifier.as_deref()))
        .collect();
    assert_eq!(names, [("North High", Some("NH")), ("South Middle", None)]);
}

#[test]
fn connection_failures_say_what_to_fix() {
    let fails = |status: u16, body: &'static str, settings: &[(&str, &str)]| {
        let mut env = Fake::new(settings, move |_| {
            Ok(response(
                status,
                &[("content-type", "text/html".to_string())],
                body,
            ))
        });
        let config = env.config();
        read::test_connection(&mut env, &config).unwrap_err()
    };
    let err = fails(401, "", &[]);
    assert!(
        matches!(&err, PluginError::Auth(m) if m.contains("check the OAuth Client ID and Client Secret")),
        "{err:?}"
    );
    let err = fails(401, "", &[("auth", "oauth1")]);
    assert!(
        err.message()
            .contains("set Auth to oauth2-client-credentials"),
        "{err:?}"
    );
    let err = fails(403, r#"{"imsx_description": "scope missing"}"#, &[]);
    assert!(
        matches!(&err, PluginError::Auth(m) if m.contains("https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly") && m.contains("scope missing")),
        "{err:?}"
    );
    let err = fails(404, "", &[]);
    assert!(
        matches!(&err, PluginError::Config(m) if m.contains("wrong Service URL or wrong version (tried the OneRoster 1.2 path /ims/oneroster/rostering/v1p2)")),
        "{err:?}"
    );
    let err = fails(200, "<html>login</html>", &[]);
    assert!(
        matches!(&err, PluginError::Config(m) if m.contains("not with JSON (text/html)") && m.contains("not a OneRoster 1.2 server") && m.contains("try 1.1")),
        "{err:?}"
    );
    let err = fails(200, r#"{"users": []}"#, &[("version", "1.1")]);
    assert!(
        matches!(&err, PluginError::Config(m) if m.contains("no `orgs` list") && m.contains("try 1.2")),
        "{err:?}"
    );
    let err = fails(503, "", &[]);
    assert!(matches!(&err, PluginError::Unavailable(_)), "{err:?}");

    let mut env = Fake::new(&[("service_url", "https://nowhere.test")], |_| {
        Err(HttpError::Connection("connection refused".into()))
    });
    let config = env.config();
    let err = read::test_connection(&mut env, &config).unwrap_err();
    assert!(
        matches!(&err, PluginError::Unavailable(m) if m.contains("https://nowhere.test/ims/oneroster/rostering/v1p2/orgs?limit=1") && m.contains("connection refused")),
        "{err:?}"
    );
    let mut env = Fake::new(&[], |_| Err(HttpError::Auth("invalid_client".into())));
    let config = env.config();
    let err = read::test_connection(&mut env, &config).unwrap_err();
    assert!(
        matches!(&err, PluginError::Auth(m) if m.contains("Token URL") && m.contains("invalid_client")),
        "{err:?}"
    );
}

fn change(action: Action, entity: Entity) -> Change {
    Change { action, entity }
}

#[test]
fn grades_are_written_back_one_outcome_per_change() {
    let mut env = Fake::new(&[], |r| {
        if r.url.ends_with("/results/r-bad") {
            return Ok(response(
                422,
                &[],
                r#"{"imsx_description": "score out of range"}"#,
            ));
        }
        if r.url.ends_with("/results/r-gone") {
            return Ok(response(404, &[], ""));
        }
        Ok(response(201, &[], ""))
    });
    let config = env.config();
    let line_item = Entity::new(EntityKind::LineItem, "li 1")
        .with_text("title", "Quiz")
        .with_ref("class", EntityKind::Class, "c1")
        .with_ref("school", EntityKind::Org, "s1")
        .with_ref("category", EntityKind::Category, "cat1");
    let result = Entity::new(EntityKind::Result, "r1")
        .with_ref("lineItem", EntityKind::LineItem, "li 1")
        .with_ref("student", EntityKind::User, "u1")
        .with("score", Value::Number(9.0))
        .with_text("scoreStatus", "fully graded");
    let outcomes = apply::apply(
        &mut env,
        &config,
        vec![
            change(Action::Add, line_item),
            change(Action::Update, result),
            change(Action::Update, Entity::new(EntityKind::Result, "r-bad")),
            change(Action::Delete, Entity::new(EntityKind::Result, "r-gone")),
            change(Action::Add, Entity::new(EntityKind::User, "u1")),
        ],
    );
    let errors: Vec<(&str, Option<&str>)> = outcomes
        .iter()
        .map(|o| (o.source_id.as_str(), o.error.as_deref()))
        .collect();
    assert_eq!(errors[0], ("li 1", None));
    assert_eq!(errors[1], ("r1", None));
    assert!(
        errors[2]
            .1
            .is_some_and(|m| m.contains("422") && m.contains("score out of range")),
        "{errors:?}"
    );
    assert_eq!(errors[3], ("r-gone", None), "deleting what is gone is done");
    assert!(
        errors[4].1.is_some_and(|m| m.starts_with("unsupported")),
        "{errors:?}"
    );
    assert_eq!(
        env.requests.len(),
        4,
        "nothing is sent for an unsupported kind"
    );

    let put = &env.requests[0];
    assert_eq!(put.method, Method::Put);
    assert_eq!(
        put.url,
        "https://sis.test/ims/oneroster/gradebook/v1p2/lineItems/li%201"
    );
    let body: Json = serde_json::from_slice(put.body.as_deref().unwrap_or_default()).unwrap();
    assert_eq!(body["lineItem"]["sourcedId"], "li 1");
    assert_eq!(
        body["lineItem"]["class"],
        json!({"href": "https://sis.test/ims/oneroster/rostering/v1p2/classes/c1", "sourcedId": "c1", "type": "class"})
    );
    assert_eq!(
        body["lineItem"]["category"]["href"],
        "https://sis.test/ims/oneroster/gradebook/v1p2/categories/cat1"
    );
    let body: Json =
        serde_json::from_slice(env.requests[1].body.as_deref().unwrap_or_default()).unwrap();
    assert_eq!(body["result"]["score"], 9.0);
    assert_eq!(body["result"]["lineItem"]["sourcedId"], "li 1");
    assert_eq!(env.requests[3].method, Method::Delete);
    assert!(
        put.headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == "application/json")
    );
}

#[test]
fn a_1p1_write_back_uses_the_1p1_path_and_schema() {
    let mut env = Fake::new(&[("version", "1.1")], |_| Ok(response(200, &[], "")));
    let config = env.config();
    let result = Entity::new(EntityKind::Result, "r1")
        .with_ref("lineItem", EntityKind::LineItem, "li1")
        .with_ref("class", EntityKind::Class, "c1")
        .with("late", Value::Boolean(true));
    let outcomes = apply::apply(&mut env, &config, vec![change(Action::Update, result)]);
    assert_eq!(outcomes[0].error, None);
    assert_eq!(
        env.requests[0].url,
        "https://sis.test/ims/oneroster/v1p1/results/r1"
    );
    let body: Json =
        serde_json::from_slice(env.requests[0].body.as_deref().unwrap_or_default()).unwrap();
    assert_eq!(
        body["result"]["lineItem"]["href"],
        "https://sis.test/ims/oneroster/v1p1/lineItems/li1"
    );
    assert!(
        body["result"].get("class").is_none() && body["result"].get("late").is_none(),
        "{body}"
    );
}

#[test]
fn transport_failures_of_a_write_become_that_change_s_error() {
    let mut env = Fake::new(&[], |_| Err(HttpError::Timeout("30 s".into())));
    let config = env.config();
    let outcomes = apply::apply(
        &mut env,
        &config,
        vec![change(
            Action::Update,
            Entity::new(EntityKind::LineItem, "li1"),
        )],
    );
    assert!(
        outcomes[0]
            .error
            .as_deref()
            .is_some_and(|m| m.contains("did not answer in time")),
        "{outcomes:?}"
    );
}

//! The connector against a fake OneRoster server behind [`Env`], natively.

use homeroom_sdk::connector_bindings::homeroom::plugin::http::{
    HttpError, Method, Request, Response,
};
use homeroom_sdk::{
    Action, Entity, EntityKind, ExportChange, ExportOutcome, PluginError, Status, TargetRef, Value,
};
use serde_json::{Value as Json, json};

use crate::apply;
use crate::config::Config;
use crate::read::{self, PageMark};
use homeroom_sdk::fake::FakeHost;

/// The SDK's fake host, with this connector's settings by default.
type Fake = FakeHost;

fn new_fake(
    settings: &[(&str, &str)],
    handler: impl FnMut(&Request) -> Result<Response, HttpError> + 'static,
) -> Fake {
    let mut fake = FakeHost::new(handler)
        .with_setting("service_url", "https://sis.test")
        .with_setting("page_size", "10");
    for (k, v) in settings {
        fake.settings.insert(k.to_string(), v.to_string());
    }
    fake
}

trait Setup {
    fn config(&self) -> Config;
    fn url_list(&self) -> Vec<String>;
}

impl Setup for Fake {
    fn config(&self) -> Config {
        Config::from_env(self).expect("config")
    }

    fn url_list(&self) -> Vec<String> {
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
    let mut env = new_fake(&[], move |r| Ok(page_of("users", &data, &r.url, true)));
    let (entities, cursors) = read_all(&mut env, EntityKind::User, None).unwrap();
    assert_eq!(entities.len(), 25);
    // The first page says 25 in all: the other two are listed ahead, to be
    // read at once, and `next` looks past the total in case it was short.
    assert_eq!(cursors, [Some("30".to_string()), None]);
    assert_eq!(
        env.url_list(),
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
    let mut env = new_fake(&[], move |r| Ok(page_of("users", &data, &r.url, false)));
    let (entities, _) = read_all(&mut env, EntityKind::User, None).unwrap();
    assert_eq!(entities.len(), 20);
    // Two full pages, then an empty one ends it.
    assert_eq!(env.requests.len(), 3);
}

#[test]
fn a_server_capping_the_limit_is_followed_by_its_total() {
    let data = users(12);
    let mut env = new_fake(&[], move |r| {
        let capped = r.url.replace("limit=10", "limit=5");
        Ok(page_of("users", &data, &capped, true))
    });
    let (entities, _) = read_all(&mut env, EntityKind::User, None).unwrap();
    assert_eq!(entities.len(), 12);
    assert!(
        env.url_list()[1].ends_with("offset=5"),
        "{:?}",
        env.url_list()
    );
}

#[test]
fn a_delta_read_sends_an_encoded_filter_and_reads_deletions() {
    let mut env = new_fake(&[("version", "1.1")], |r| {
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
        env.url_list()[0].starts_with(
            "https://sis.test/ims/oneroster/v1p1/enrollments?limit=10&offset=0&filter="
        )
    );
}

#[test]
fn a_refused_delta_filter_falls_back_to_the_full_set() {
    let data = users(15);
    let mut env = new_fake(&[], move |r| {
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
    assert!(
        env.url_list()[2..]
            .iter()
            .all(|u| query(u, "filter").is_none())
    );
}

#[test]
fn a_record_without_id_is_skipped_with_a_warning() {
    let mut env = new_fake(&[], |_| {
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

    let mut env = new_fake(&[], |_| {
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
    let mut env = new_fake(&[], move |r| {
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

    let mut env = new_fake(&[], |_| Ok(response(200, &[], r#"{"students": []}"#)));
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
    let mut env = new_fake(&[], move |r| {
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
    let mut env = new_fake(&[], move |r| {
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
    let mut env = new_fake(&[], |_| panic!("no request"));
    let (entities, _) = read_all(&mut env, EntityKind::UserAgent, None).unwrap();
    assert!(entities.is_empty());
}

#[test]
fn gradebook_kinds_read_from_the_gradebook_service() {
    let mut env = new_fake(&[], |_| {
        Ok(response(
            200,
            &[],
            r#"{"categories": [{"sourcedId": "cat1", "title": "Homework", "weight": 0.4}]}"#,
        ))
    });
    let (entities, _) = read_all(&mut env, EntityKind::Category, None).unwrap();
    assert!(
        env.url_list()[0].starts_with("https://sis.test/ims/oneroster/gradebook/v1p2/categories?")
    );
    assert!(matches!(entities[0].get("weight"), Some(Value::Number(w)) if (*w - 0.4).abs() < 1e-9));
}

fn orgs_server(r: &Request) -> Result<Response, HttpError> {
    if !(r.url.contains("/orgs?") || r.url.contains("/schools?")) {
        return Ok(not_found(&r.url));
    }
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
    let mut env = new_fake(
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
        "OneRoster 1.2 at https://sis.test/ims/oneroster/rostering/v1p2: 2 schools; services: rostering; not offered: gradebook, resources, demographics"
    );
    assert_eq!(
        env.url_list()[0],
        "https://sis.test/ims/oneroster/rostering/v1p2/orgs?limit=1"
    );

    let mut env = new_fake(&[("page_size", "1")], orgs_server);
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
        let mut env = new_fake(settings, move |_| {
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

    let mut env = new_fake(&[("service_url", "https://nowhere.test")], |_| {
        Err(HttpError::Connection("connection refused".into()))
    });
    let config = env.config();
    let err = read::test_connection(&mut env, &config).unwrap_err();
    assert!(
        matches!(&err, PluginError::Unavailable(m) if m.contains("https://nowhere.test/ims/oneroster/rostering/v1p2/orgs?limit=1") && m.contains("connection refused")),
        "{err:?}"
    );
    let mut env = new_fake(&[], |_| Err(HttpError::Auth("invalid_client".into())));
    let config = env.config();
    let err = read::test_connection(&mut env, &config).unwrap_err();
    assert!(
        matches!(&err, PluginError::Auth(m) if m.contains("Token URL") && m.contains("invalid_client")),
        "{err:?}"
    );
}

fn change(action: Action, entity: Entity) -> ExportChange {
    ExportChange {
        action,
        entity,
        target_id: None,
        target_refs: Vec::new(),
    }
}

/// An outcome as (the id it was applied under, the reason it was not).
fn outcome_of(o: &ExportOutcome) -> (Option<&str>, Option<&str>) {
    match o {
        ExportOutcome::Applied(id) => (Some(id), None),
        ExportOutcome::Rejected(why) | ExportOutcome::Retry(why) => (None, Some(why)),
    }
}

/// A coursework as the Classroom connector reads it, under the SIS's ids:
/// title, description, dates, class, category (its topic), points, state,
/// and no school nor `resultValueMin`.
fn coursework(id: &str, class: &str) -> Entity {
    let mut e = Entity::new(EntityKind::LineItem, id)
        .with_text("title", "Quiz")
        .with_text("description", "Chapter 3")
        .with("assignDate", Value::DateTime("2024-09-01T10:00:00Z".into()))
        .with("dueDate", Value::DateTime("2024-09-09T23:59:00Z".into()))
        .with_ref("class", EntityKind::Class, class)
        .with_ref("category", EntityKind::Category, "cat1")
        .with("resultValueMax", Value::Number(20.0))
        .with_text("status", "PUBLISHED");
    e.date_last_modified = Some("2024-09-02T08:00:00.000Z".into());
    e
}

/// A graded submission as the Classroom connector reads it.
fn grade(id: &str, line_item: &str) -> Entity {
    let mut e = Entity::new(EntityKind::Result, id)
        .with_ref("lineItem", EntityKind::LineItem, line_item)
        .with_ref("student", EntityKind::User, "u1")
        .with_ref("class", EntityKind::Class, "c1")
        .with_text("scoreStatus", "fully graded")
        .with("score", Value::Number(9.0))
        .with("scoreDate", Value::Date("2024-10-01".into()));
    e.date_last_modified = Some("2024-10-01T09:30:00Z".into());
    e
}

/// The entity without the attribute `name`.
fn without(mut e: Entity, name: &str) -> Entity {
    e.attributes.retain(|a| a.name != name);
    e
}

fn body_of(r: &Request) -> Json {
    serde_json::from_slice(r.body.as_deref().unwrap_or_default()).unwrap_or(Json::Null)
}

/// The URLs of the requests sent with `method`.
fn sent(env: &Fake, method: Method) -> Vec<String> {
    env.requests
        .iter()
        .filter(|r| r.method == method)
        .map(|r| r.url.clone())
        .collect()
}

/// A OneRoster 1.2 SIS whose classes `c1` and `c2` are in the schools `s1`
/// and `s2` (other classes are not there), and whose gradebook takes every
/// write.
fn sis(r: &Request) -> Result<Response, HttpError> {
    if r.url.contains("/rostering/v1p2/classes/") {
        let class = collection_of(&r.url);
        let school = match class {
            "c1" => "s1",
            "c2" => "s2",
            _ => return Ok(not_found(&r.url)),
        };
        return Ok(response(
            200,
            &[],
            json!({"class": {"sourcedId": class, "status": "active", "title": "Algebra",
                             "school": {"href": "x", "sourcedId": school, "type": "org"}}})
            .to_string(),
        ));
    }
    assert!(r.url.contains("/gradebook/v1p2/"), "{}", r.url);
    Ok(response(201, &[], ""))
}

#[test]
fn grades_are_written_back_one_outcome_per_change() {
    let mut env = new_fake(&[], |r| {
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
    let line_item = coursework("li 1", "c1").with_ref("school", EntityKind::Org, "s1");
    let result = grade("r1", "li 1");
    let outcomes = apply::export(
        &mut env,
        &config,
        vec![
            change(Action::Add, line_item),
            change(Action::Update, result),
            change(Action::Update, grade("r-bad", "li 1")),
            change(Action::Delete, Entity::new(EntityKind::Result, "r-gone")),
            change(Action::Add, Entity::new(EntityKind::User, "u1")),
        ],
    );
    let errors: Vec<(Option<&str>, Option<&str>)> = outcomes.iter().map(outcome_of).collect();
    assert_eq!(errors[0], (Some("li 1"), None));
    assert_eq!(errors[1], (Some("r1"), None));
    assert!(
        matches!(outcomes[2], ExportOutcome::Rejected(_)),
        "a 422 is the SIS refusing"
    );
    assert!(
        errors[2]
            .1
            .is_some_and(|m| m.contains("422") && m.contains("score out of range")),
        "{errors:?}"
    );
    assert_eq!(
        errors[3],
        (Some("r-gone"), None),
        "deleting what is gone is done"
    );
    assert!(
        errors[4].1.is_some_and(|m| m.starts_with("unsupported")),
        "{errors:?}"
    );
    assert_eq!(
        env.requests.len(),
        4,
        "nothing is sent for an unsupported kind, nor read for a line item with its school"
    );

    let put = &env.requests[0];
    assert_eq!(put.method, Method::Put);
    assert_eq!(
        put.url,
        "https://sis.test/ims/oneroster/gradebook/v1p2/lineItems/li%201"
    );
    let body = body_of(put);
    assert_eq!(body["lineItem"]["sourcedId"], "li 1");
    assert_eq!(
        body["lineItem"]["class"],
        json!({"href": "https://sis.test/ims/oneroster/rostering/v1p2/classes/c1", "sourcedId": "c1", "type": "class"})
    );
    assert_eq!(body["lineItem"]["school"]["sourcedId"], "s1");
    assert_eq!(
        body["lineItem"]["category"]["href"],
        "https://sis.test/ims/oneroster/gradebook/v1p2/categories/cat1"
    );
    assert_eq!(
        body["lineItem"]["dateLastModified"],
        "2024-09-02T08:00:00.000Z"
    );
    let body = body_of(&env.requests[1]);
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
    let mut env = new_fake(&[("version", "1.1")], |_| Ok(response(200, &[], "")));
    let config = env.config();
    let result = grade("r1", "li1").with("late", Value::Boolean(true));
    let outcomes = apply::export(&mut env, &config, vec![change(Action::Update, result)]);
    assert_eq!(outcome_of(&outcomes[0]), (Some("r1"), None));
    assert_eq!(
        env.requests[0].url,
        "https://sis.test/ims/oneroster/v1p1/results/r1"
    );
    let body = body_of(&env.requests[0]);
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
    let mut env = new_fake(&[], |_| Err(HttpError::Timeout("30 s".into())));
    let config = env.config();
    let outcomes = apply::export(
        &mut env,
        &config,
        vec![change(
            Action::Update,
            coursework("li1", "c1").with_ref("school", EntityKind::Org, "s1"),
        )],
    );
    assert!(
        matches!(&outcomes[0], ExportOutcome::Retry(m) if m.contains("did not answer in time")),
        "a SIS that does not answer is tried again at the next export: {outcomes:?}"
    );
}

/// A grade that came from elsewhere (Classroom) goes to the SIS under the
/// ids the SIS knows: its own id there, and its line item's and student's.
#[test]
fn a_write_uses_the_ids_the_sis_knows() {
    let mut env = new_fake(&[], |r| {
        Ok(if r.url.ends_with("/results/r-busy") {
            response(503, &[], "")
        } else {
            response(201, &[], "")
        })
    });
    let config = env.config();
    let mut result = Entity::new(EntityKind::Result, "hub-r1")
        .with_ref("lineItem", EntityKind::LineItem, "hub-li")
        .with_ref("student", EntityKind::User, "hub-u")
        .with("score", Value::Number(7.0))
        .with_text("scoreStatus", "fully graded")
        .with("scoreDate", Value::Date("2024-10-01".into()));
    result.date_last_modified = Some("2024-10-01T09:30:00Z".into());
    let mut mapped = change(Action::Update, result);
    mapped.target_id = Some("r-sis".into());
    mapped.target_refs = vec![
        TargetRef {
            kind: EntityKind::LineItem,
            source_id: "hub-li".into(),
            target_id: "li-sis".into(),
        },
        TargetRef {
            kind: EntityKind::User,
            source_id: "hub-u".into(),
            target_id: "u-sis".into(),
        },
    ];
    let mut busy = change(Action::Update, grade("hub-r2", "li-sis"));
    busy.target_id = Some("r-busy".into());
    let outcomes = apply::export(&mut env, &config, vec![mapped, busy]);
    assert_eq!(outcome_of(&outcomes[0]), (Some("r-sis"), None));
    assert!(
        matches!(outcomes[1], ExportOutcome::Retry(_)),
        "{outcomes:?}"
    );
    assert!(
        env.requests[0]
            .url
            .ends_with("/gradebook/v1p2/results/r-sis")
    );
    let body = body_of(&env.requests[0]);
    assert_eq!(body["result"]["sourcedId"], "r-sis");
    assert_eq!(body["result"]["lineItem"]["sourcedId"], "li-sis");
    assert_eq!(body["result"]["student"]["sourcedId"], "u-sis");
}

/// OneRoster 1.2 requires the school on a line item; Classroom has none.
/// It is the school of the line item's class, read once per class and kept
/// across runs.
#[test]
fn a_1p2_line_item_takes_the_school_of_its_class_read_once() {
    let mut env = new_fake(&[], sis);
    let config = env.config();
    let outcomes = apply::export(
        &mut env,
        &config,
        vec![
            change(Action::Add, coursework("li1", "c1")),
            change(Action::Add, coursework("li2", "c1")),
            change(Action::Update, coursework("li3", "c2")),
        ],
    );
    let ids: Vec<_> = outcomes.iter().map(outcome_of).collect();
    assert_eq!(
        ids,
        [
            (Some("li1"), None),
            (Some("li2"), None),
            (Some("li3"), None)
        ]
    );
    assert_eq!(
        sent(&env, Method::Get),
        [
            "https://sis.test/ims/oneroster/rostering/v1p2/classes/c1",
            "https://sis.test/ims/oneroster/rostering/v1p2/classes/c2",
        ],
        "one read per class"
    );
    let puts: Vec<Json> = env
        .requests
        .iter()
        .filter(|r| r.method == Method::Put)
        .map(body_of)
        .collect();
    assert_eq!(puts.len(), 3);
    assert_eq!(
        puts[0]["lineItem"]["school"],
        json!({"href": "https://sis.test/ims/oneroster/rostering/v1p2/orgs/s1", "sourcedId": "s1", "type": "org"})
    );
    assert_eq!(puts[1]["lineItem"]["school"]["sourcedId"], "s1");
    assert_eq!(puts[2]["lineItem"]["school"]["sourcedId"], "s2");
    assert_eq!(
        env.storage.get("class-school:c1").map(Vec::as_slice),
        Some(&b"s1"[..])
    );
    assert_eq!(
        env.storage.get("class-school:c2").map(Vec::as_slice),
        Some(&b"s2"[..])
    );

    // The next run takes the school from storage: no read.
    let before = env.requests.len();
    let outcomes = apply::export(
        &mut env,
        &config,
        vec![change(Action::Update, coursework("li4", "c1"))],
    );
    assert_eq!(outcome_of(&outcomes[0]), (Some("li4"), None));
    let after: Vec<&Request> = env.requests[before..].iter().collect();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].method, Method::Put);
    assert_eq!(body_of(after[0])["lineItem"]["school"]["sourcedId"], "s1");
    assert!(env.warnings.is_empty(), "{:?}", env.warnings);
}

#[test]
fn a_failing_school_read_is_tried_again_at_the_next_export() {
    let failures: [fn() -> Result<Response, HttpError>; 3] = [
        || Ok(response(500, &[], "")),
        || Ok(response(429, &[], "")),
        || Err(HttpError::Timeout("30 s".into())),
    ];
    for fail in failures {
        let mut env = new_fake(&[], move |r| {
            if r.url.contains("/classes/") {
                return fail();
            }
            Ok(response(201, &[], ""))
        });
        let config = env.config();
        let outcomes = apply::export(
            &mut env,
            &config,
            vec![
                change(Action::Add, coursework("li1", "c1")),
                change(Action::Add, coursework("li2", "c1")),
                change(
                    Action::Add,
                    coursework("li3", "c1").with_ref("school", EntityKind::Org, "s1"),
                ),
            ],
        );
        for o in &outcomes[..2] {
            assert!(
                matches!(o, ExportOutcome::Retry(m) if m.contains("reading `classes/c1`") && m.contains("requires the school on a line item")),
                "{outcomes:?}"
            );
        }
        assert_eq!(
            outcome_of(&outcomes[2]),
            (Some("li3"), None),
            "a line item with its school goes"
        );
        assert_eq!(sent(&env, Method::Get).len(), 1, "asked once in a run");
        assert_eq!(sent(&env, Method::Put).len(), 1);
        assert!(env.storage.is_empty(), "no school is kept");
    }
    let mut env = new_fake(&[], |r| {
        if r.url.contains("/classes/") {
            return Ok(response(500, &[], ""));
        }
        Ok(response(201, &[], ""))
    });
    let config = env.config();
    let outcomes = apply::export(
        &mut env,
        &config,
        vec![change(Action::Add, coursework("li1", "c1"))],
    );
    assert!(
        matches!(&outcomes[0], ExportOutcome::Retry(m) if m.contains("answered 500")),
        "{outcomes:?}"
    );
}

#[test]
fn a_class_the_sis_does_not_have_rejects_its_line_items_with_the_reason() {
    let mut env = new_fake(&[], sis);
    let config = env.config();
    let outcomes = apply::export(
        &mut env,
        &config,
        vec![
            change(Action::Add, coursework("li1", "gone")),
            change(Action::Add, coursework("li2", "c1")),
            change(Action::Add, coursework("li3", "gone")),
        ],
    );
    for o in [&outcomes[0], &outcomes[2]] {
        assert!(
            matches!(o, ExportOutcome::Rejected(m)
                if m.starts_with("the line item's class `gone` is not in the SIS (HTTP 404 on https://sis.test/ims/oneroster/rostering/v1p2/classes/gone")
                    && m.contains("OneRoster 1.2 requires the school on a line item")),
            "{outcomes:?}"
        );
    }
    assert_eq!(outcome_of(&outcomes[1]), (Some("li2"), None));
    assert_eq!(
        sent(&env, Method::Get),
        [
            "https://sis.test/ims/oneroster/rostering/v1p2/classes/gone",
            "https://sis.test/ims/oneroster/rostering/v1p2/classes/c1",
        ]
    );
    assert_eq!(sent(&env, Method::Put).len(), 1);
    assert!(!env.storage.contains_key("class-school:gone"));

    // A class without a school, and credentials that may not read classes.
    let mut env = new_fake(&[], |r| {
        if r.url.ends_with("/classes/c9") {
            return Ok(response(200, &[], r#"{"class": {"sourcedId": "c9"}}"#));
        }
        if r.url.ends_with("/classes/c8") {
            return Ok(response(403, &[], ""));
        }
        Ok(response(201, &[], ""))
    });
    let config = env.config();
    let outcomes = apply::export(
        &mut env,
        &config,
        vec![
            change(Action::Add, coursework("li1", "c9")),
            change(Action::Add, coursework("li2", "c8")),
        ],
    );
    assert!(
        matches!(&outcomes[0], ExportOutcome::Rejected(m) if m.starts_with("the SIS's class `c9` has no school")),
        "{outcomes:?}"
    );
    assert!(
        matches!(&outcomes[1], ExportOutcome::Rejected(m) if m.contains("roster-core.readonly")),
        "{outcomes:?}"
    );
    assert!(sent(&env, Method::Put).is_empty());
}

#[test]
fn a_full_storage_costs_a_warning_not_the_write() {
    let mut env = new_fake(&[], sis);
    env.storage_full = true;
    let config = env.config();
    let outcomes = apply::export(
        &mut env,
        &config,
        vec![
            change(Action::Add, coursework("li1", "c1")),
            change(Action::Add, coursework("li2", "c1")),
            change(Action::Add, coursework("li3", "c2")),
        ],
    );
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, ExportOutcome::Applied(_))),
        "{outcomes:?}"
    );
    assert_eq!(sent(&env, Method::Get).len(), 2);
    assert_eq!(env.warnings.len(), 1, "{:?}", env.warnings);
    assert!(
        env.warnings[0].contains("could not be kept in the plugin's storage"),
        "{:?}",
        env.warnings
    );
}

#[test]
fn a_line_item_with_points_starts_at_0() {
    let mut env = new_fake(&[], sis);
    let config = env.config();
    let outcomes = apply::export(
        &mut env,
        &config,
        vec![
            change(Action::Add, coursework("li1", "c1")),
            change(
                Action::Add,
                coursework("li2", "c1").with("resultValueMin", Value::Number(5.0)),
            ),
            change(
                Action::Add,
                without(coursework("li3", "c1"), "resultValueMax"),
            ),
        ],
    );
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, ExportOutcome::Applied(_))),
        "{outcomes:?}"
    );
    let puts: Vec<Json> = env
        .requests
        .iter()
        .filter(|r| r.method == Method::Put)
        .map(body_of)
        .collect();
    assert_eq!(puts[0]["lineItem"]["resultValueMin"], json!(0));
    assert_eq!(puts[0]["lineItem"]["resultValueMax"], 20.0);
    assert_eq!(
        puts[1]["lineItem"]["resultValueMin"], 5.0,
        "a minimum given stays"
    );
    // OneRoster 1.2 does not require points: an ungraded coursework goes without.
    assert!(
        puts[2]["lineItem"].get("resultValueMin").is_none()
            && puts[2]["lineItem"].get("resultValueMax").is_none(),
        "{}",
        puts[2]
    );
}

#[test]
fn a_line_item_without_a_due_date_is_rejected_before_it_is_sent() {
    let mut env = new_fake(&[], sis);
    let config = env.config();
    let outcomes = apply::export(
        &mut env,
        &config,
        vec![
            change(Action::Add, without(coursework("li1", "c1"), "dueDate")),
            change(Action::Add, coursework("li2", "c2")),
            change(
                Action::Add,
                without(without(coursework("li3", "c1"), "dueDate"), "category"),
            ),
        ],
    );
    assert_eq!(
        outcome_of(&outcomes[0]),
        (
            None,
            Some(
                "line item `li1` was not sent: the SIS (OneRoster 1.2) would refuse it. No dueDate: the coursework has no due date in Classroom; give it one, or the SIS cannot take it."
            )
        )
    );
    assert!(
        matches!(outcomes[0], ExportOutcome::Rejected(_)),
        "{outcomes:?}"
    );
    assert_eq!(
        outcome_of(&outcomes[1]),
        (Some("li2"), None),
        "the others go"
    );
    assert!(
        matches!(&outcomes[2], ExportOutcome::Rejected(m)
            if m.contains("No dueDate: the coursework has no due date in Classroom")
                && m.contains("No category: the coursework has no topic in Classroom")),
        "every missing field is named: {outcomes:?}"
    );
    // Nothing was asked or sent for the refused ones, not even their school.
    assert_eq!(
        env.url_list(),
        [
            "https://sis.test/ims/oneroster/rostering/v1p2/classes/c2",
            "https://sis.test/ims/oneroster/gradebook/v1p2/lineItems/li2",
        ]
    );

    // A due date that is not one is refused too.
    let mut env = new_fake(&[], sis);
    let config = env.config();
    let bad = coursework("li1", "c1").with("dueDate", Value::Text("next Friday".into()));
    let outcomes = apply::export(&mut env, &config, vec![change(Action::Add, bad)]);
    assert!(
        matches!(&outcomes[0], ExportOutcome::Rejected(m) if m.contains("Its dueDate `next Friday` is not a date-time")),
        "{outcomes:?}"
    );
    assert!(env.requests.is_empty());
}

#[test]
fn a_1p1_line_item_sends_no_school() {
    let mut env = new_fake(&[("version", "1.1")], |r| {
        assert!(!r.url.contains("/classes/"), "no school is read: {}", r.url);
        Ok(response(201, &[], ""))
    });
    let config = env.config();
    let line_item =
        coursework("li1", "c1").with_ref("gradingPeriod", EntityKind::AcademicSession, "gp1");
    let outcomes = apply::export(
        &mut env,
        &config,
        vec![
            change(Action::Add, line_item),
            change(Action::Add, without(coursework("li2", "c1"), "dueDate")),
        ],
    );
    assert_eq!(outcome_of(&outcomes[0]), (Some("li1"), None));
    assert_eq!(
        outcome_of(&outcomes[1]),
        (
            None,
            Some(
                "line item `li2` was not sent: the SIS (OneRoster 1.1) would refuse it. No dueDate: the coursework has no due date in Classroom; give it one, or the SIS cannot take it."
            )
        )
    );
    assert_eq!(
        env.url_list(),
        ["https://sis.test/ims/oneroster/v1p1/lineItems/li1"]
    );
    let body = body_of(&env.requests[0]);
    assert!(body["lineItem"].get("school").is_none(), "{body}");
    assert_eq!(body["lineItem"]["gradingPeriod"]["sourcedId"], "gp1");
    assert_eq!(body["lineItem"]["resultValueMin"], json!(0));
    assert_eq!(body["lineItem"]["resultValueMax"], 20.0);
}

#[test]
fn a_result_goes_with_its_score_date_as_a_date() {
    let mut env = new_fake(&[], sis);
    let config = env.config();
    let mut undated = without(grade("r3", "li1"), "scoreDate");
    undated.date_last_modified = None;
    let outcomes = apply::export(
        &mut env,
        &config,
        vec![
            change(
                Action::Update,
                grade("r1", "li1").with(
                    "scoreDate",
                    Value::DateTime("2024-10-02T15:30:00-05:00".into()),
                ),
            ),
            change(Action::Update, without(grade("r2", "li1"), "scoreDate")),
            change(Action::Update, undated),
            change(Action::Update, without(grade("r4", "li1"), "scoreStatus")),
            change(
                Action::Update,
                grade("r5", "li1").with("scoreDate", Value::Text("yesterday".into())),
            ),
            change(Action::Update, without(grade("r6", "li1"), "score")),
        ],
    );
    let ids: Vec<_> = outcomes.iter().map(outcome_of).collect();
    assert_eq!(ids[0], (Some("r1"), None));
    assert_eq!(ids[1], (Some("r2"), None));
    assert_eq!(
        ids[5],
        (Some("r6"), None),
        "a result without a score (a text score, a status) goes"
    );
    let bodies: Vec<Json> = env.requests.iter().map(body_of).collect();
    assert_eq!(bodies.len(), 3);
    assert_eq!(bodies[0]["result"]["scoreDate"], "2024-10-02");
    assert_eq!(
        bodies[1]["result"]["scoreDate"], "2024-10-01",
        "the day it last changed"
    );
    assert!(
        matches!(&outcomes[2], ExportOutcome::Rejected(m)
            if m == "result `r3` was not sent: the SIS (OneRoster 1.2) would refuse it. No scoreDate: the grade has no score date, nor a time it last changed to take it from; give it one where the grade comes from, or the SIS cannot take it."),
        "{outcomes:?}"
    );
    assert!(
        matches!(&outcomes[3], ExportOutcome::Rejected(m) if m.contains("No scoreStatus")),
        "{outcomes:?}"
    );
    assert!(
        matches!(&outcomes[4], ExportOutcome::Rejected(m) if m.contains("Its scoreDate `yesterday` is not a date (YYYY-MM-DD")),
        "{outcomes:?}"
    );
}

/// A 404 with the imsx status body OneRoster servers send.
fn not_found(url: &str) -> Response {
    let path = url.split('?').next().unwrap_or(url);
    response(
        404,
        &[("content-type", "application/json".to_string())],
        json!({"imsx_codeMajor": "failure", "imsx_severity": "error",
               "imsx_description": format!("no such endpoint: {path}")})
        .to_string(),
    )
}

/// The collection a URL reads (`…/lineItems?limit=1` → `lineItems`).
fn collection_of(url: &str) -> &str {
    let path = url.split('?').next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or(path)
}

/// The optional part of a server a collection belongs to.
fn part_of(collection: &str) -> &'static str {
    match collection {
        "categories" | "lineItems" | "results" | "scoreScales" => "gradebook",
        "resources" => "resources",
        "demographics" => "demographics",
        _ => "rostering",
    }
}

fn records(collection: &str, n: usize) -> Vec<Json> {
    (0..n)
        .map(|i| json!({"sourcedId": format!("{collection}-{i:03}"), "status": "active", "title": "T"}))
        .collect()
}

/// A district's server offering rostering and the optional parts named
/// (`gradebook`, `resources`, `demographics`), each optional collection with
/// three records; the parts not offered answer 404, as such servers do.
fn district(
    offers: &'static [&'static str],
) -> impl FnMut(&Request) -> Result<Response, HttpError> {
    move |r| {
        let collection = collection_of(&r.url).to_string();
        match part_of(&collection) {
            "rostering" => orgs_server(r),
            part if offers.contains(&part) => {
                Ok(page_of(&collection, &records(&collection, 3), &r.url, true))
            }
            _ => Ok(not_found(&r.url)),
        }
    }
}

fn unsupported(err: &PluginError) -> &str {
    match err {
        PluginError::Unsupported(m) => m,
        other => panic!("not unsupported: {other:?}"),
    }
}

#[test]
fn a_rostering_only_server_does_not_offer_the_gradebook_kinds() {
    for (kind, path, things) in [
        (EntityKind::Category, "categories", "categories"),
        (EntityKind::LineItem, "lineItems", "line items"),
        (EntityKind::Result, "results", "results"),
    ] {
        for since in [None, Some("2024-09-01T00:00:00Z")] {
            let mut env = new_fake(&[], district(&[]));
            let err = read_all(&mut env, kind, since).unwrap_err();
            let m = unsupported(&err);
            assert_eq!(
                m,
                format!(
                    "the server does not offer the gradebook service (HTTP 404 on https://sis.test/ims/oneroster/gradebook/v1p2/{path}; the server says: no such endpoint: https://sis.test/ims/oneroster/gradebook/v1p2/{path}); {things} are not imported. If it should, check the Service URL and the Version"
                )
            );
            assert_eq!(env.requests.len(), 1, "asked once: {:?}", env.url_list());
        }
    }
    // The rostering kinds of the same server are read.
    let mut env = new_fake(&[], district(&[]));
    let (orgs, _) = read_all(&mut env, EntityKind::Org, None).unwrap();
    assert_eq!(orgs.len(), 4);

    // Offered, the same kinds are read.
    let mut env = new_fake(&[], district(&["gradebook"]));
    let (categories, _) = read_all(&mut env, EntityKind::Category, None).unwrap();
    assert_eq!(categories.len(), 3);
}

#[test]
fn demographics_and_1p1_collections_a_server_lacks_are_unsupported() {
    // Demographics: a rostering collection many servers do not serve.
    let mut env = new_fake(&[], district(&["gradebook"]));
    let err = read_all(&mut env, EntityKind::Demographics, None).unwrap_err();
    let m = unsupported(&err);
    assert!(
        m.starts_with("the server does not offer demographics (HTTP 404 on https://sis.test/ims/oneroster/rostering/v1p2/demographics")
            && m.contains("); demographics are not imported."),
        "{m}"
    );

    // OneRoster 1.1: one base path, the same rule per collection; 501 too.
    let mut env = new_fake(&[("version", "1.1")], |r| {
        if r.url.contains("/lineItems?") {
            return Ok(response(501, &[], ""));
        }
        district(&[])(r)
    });
    let err = read_all(&mut env, EntityKind::LineItem, None).unwrap_err();
    assert_eq!(
        unsupported(&err),
        "the server does not offer the gradebook service (HTTP 501 on https://sis.test/ims/oneroster/v1p1/lineItems); line items are not imported. If it should, check the Service URL and the Version"
    );
    let err = read_all(&mut env, EntityKind::Category, None).unwrap_err();
    assert!(
        unsupported(&err).contains("HTTP 404 on https://sis.test/ims/oneroster/v1p1/categories"),
        "{err:?}"
    );

    // A core rostering collection that is not there is a wrong Service URL
    // or Version, not a kind the server leaves out.
    let mut env = new_fake(&[("version", "1.1")], |r| Ok(not_found(&r.url)));
    let err = read_all(&mut env, EntityKind::User, None).unwrap_err();
    assert!(
        matches!(&err, PluginError::Config(m) if m.contains("wrong Service URL or wrong version")),
        "{err:?}"
    );

    // Refused credentials stay auth errors, on the first page too.
    let mut env = new_fake(&[], |_| Ok(response(403, &[], "")));
    let err = read_all(&mut env, EntityKind::Category, None).unwrap_err();
    assert!(
        matches!(&err, PluginError::Auth(m) if m.contains("gradebook.readonly")),
        "{err:?}"
    );
    // Other statuses keep their messages.
    let mut env = new_fake(&[], |_| Ok(response(503, &[], "")));
    let err = read_all(&mut env, EntityKind::Result, None).unwrap_err();
    assert!(matches!(&err, PluginError::Unavailable(_)), "{err:?}");
}

#[test]
fn a_404_after_the_first_page_stays_an_error() {
    for total_header in [true, false] {
        let data = records("categories", 25);
        let mut env = new_fake(&[], move |r| {
            if query(&r.url, "offset").as_deref() != Some("0") {
                return Ok(not_found(&r.url));
            }
            Ok(page_of("categories", &data, &r.url, total_header))
        });
        // The pages ahead (with a total) or the next page (without) are not
        // there: the collection was, so this is an error, not a kind the
        // server leaves out.
        let err = read_all(&mut env, EntityKind::Category, None).unwrap_err();
        assert!(
            matches!(&err, PluginError::Config(m) if m.contains("was not found (404) reading `categories` at offset 10") && m.contains("or the server does not offer the gradebook service")),
            "{err:?}"
        );
    }
    // The same collection missing from its first page is not offered.
    let mut env = new_fake(&[], |r| Ok(not_found(&r.url)));
    let err = read_all(&mut env, EntityKind::Category, None).unwrap_err();
    assert!(
        unsupported(&err).contains("categories are not imported"),
        "{err:?}"
    );
}

#[test]
fn the_connection_test_lists_the_services_offered() {
    let base = "OneRoster 1.2 at https://sis.test/ims/oneroster/rostering/v1p2: 2 schools";
    for (offers, found) in [
        (
            &[][..],
            "services: rostering; not offered: gradebook, resources, demographics",
        ),
        (
            &["gradebook"][..],
            "services: rostering, gradebook; not offered: resources, demographics",
        ),
        (
            &["gradebook", "resources", "demographics"][..],
            "services: rostering, gradebook, resources, demographics",
        ),
    ] {
        let mut env = new_fake(&[], district(offers));
        let config = env.config();
        let message = read::test_connection(&mut env, &config).unwrap();
        assert_eq!(message, format!("{base}; {found}"));
        let probes: Vec<String> = env.url_list().into_iter().skip(2).collect();
        assert_eq!(
            probes,
            [
                "https://sis.test/ims/oneroster/gradebook/v1p2/categories?limit=1",
                "https://sis.test/ims/oneroster/resources/v1p2/resources?limit=1",
                "https://sis.test/ims/oneroster/rostering/v1p2/demographics?limit=1",
            ]
        );
    }

    // OneRoster 1.1 serves everything under one base path; notes stay last.
    let mut env = new_fake(
        &[
            ("service_url", "https://sis.test/ims/oneroster/v1p1"),
            ("version", "1.2"),
        ],
        district(&["gradebook"]),
    );
    let config = env.config();
    let message = read::test_connection(&mut env, &config).unwrap();
    assert!(
        message.starts_with(
            "OneRoster 1.1 at https://sis.test/ims/oneroster/v1p1: 2 schools; services: rostering, gradebook; not offered: resources, demographics (note: the Service URL ends in /ims/oneroster/v1p1"
        ),
        "{message}"
    );
    assert!(
        env.url_list()
            .contains(&"https://sis.test/ims/oneroster/v1p1/categories?limit=1".to_string())
    );
}

#[test]
fn a_service_the_credentials_may_not_read_is_named_with_its_scope() {
    let mut env = new_fake(&[], |r| match collection_of(&r.url) {
        "categories" => Ok(response(
            403,
            &[],
            r#"{"imsx_codeMajor": "failure", "imsx_description": "scope"}"#,
        )),
        "resources" => Ok(response(500, &[], "")),
        "demographics" => Err(HttpError::Timeout("30 s".into())),
        _ => orgs_server(r),
    });
    let config = env.config();
    let message = read::test_connection(&mut env, &config).unwrap();
    assert_eq!(
        message,
        "OneRoster 1.2 at https://sis.test/ims/oneroster/rostering/v1p2: 2 schools; services: rostering; offered but not granted to these credentials: gradebook (needs the scope https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.readonly); could not tell: resources (HTTP 500), demographics (no answer)"
    );

    // 401 on demographics, and a 200 that is not a collection.
    let mut env = new_fake(&[("version", "1.1")], |r| match collection_of(&r.url) {
        "demographics" => Ok(response(401, &[], "")),
        "resources" => Ok(response(200, &[], "<html>portal</html>")),
        "categories" => Ok(page_of(
            "categories",
            &records("categories", 2),
            &r.url,
            true,
        )),
        _ => orgs_server(r),
    });
    let config = env.config();
    let message = read::test_connection(&mut env, &config).unwrap();
    assert!(
        message.ends_with(
            "2 schools; services: rostering, gradebook; offered but not granted to these credentials: demographics (needs the scope https://purl.imsglobal.org/spec/or/v1p1/scope/roster-demographics.readonly); could not tell: resources (HTTP 200 without a `resources` list)"
        ),
        "{message}"
    );
}

#[test]
fn the_connection_test_fails_only_when_rostering_is_missing() {
    // Rostering only: a normal provider, the test succeeds.
    let mut env = new_fake(&[], district(&[]));
    let config = env.config();
    let message = read::test_connection(&mut env, &config).unwrap();
    assert!(
        message.ends_with("; services: rostering; not offered: gradebook, resources, demographics"),
        "{message}"
    );

    // A gradebook without rostering (orgs 404): the Service URL is wrong,
    // the test fails as before, and nothing more is asked.
    let mut env = new_fake(&[], |r| match part_of(collection_of(&r.url)) {
        "rostering" => Ok(not_found(&r.url)),
        _ => Ok(response(200, &[], r#"{"categories": []}"#)),
    });
    let config = env.config();
    let err = read::test_connection(&mut env, &config).unwrap_err();
    assert!(
        matches!(&err, PluginError::Config(m) if m.contains("was not found (404) reading `orgs`") && m.contains("wrong Service URL or wrong version")),
        "{err:?}"
    );
    assert_eq!(env.requests.len(), 1);

    // Rostering refused: an auth error, as before.
    let mut env = new_fake(&[], |r| match part_of(collection_of(&r.url)) {
        "rostering" => Ok(response(403, &[], "")),
        _ => Ok(response(200, &[], r#"{"categories": []}"#)),
    });
    let config = env.config();
    let err = read::test_connection(&mut env, &config).unwrap_err();
    assert!(
        matches!(&err, PluginError::Auth(m) if m.contains("roster-core.readonly")),
        "{err:?}"
    );
}

//! A mock Clever Data API for tests, written from Clever's own OpenAPI
//! (Swagger 2.0) documents in `shared/specs/clever`: `v3.0.yml` and
//! `v3.1.yml` (the Data API: `/districts`, `/schools`, `/terms`,
//! `/courses`, `/sections`, `/users` with `role`, each answering
//! `{"data": [{"data": RECORD}], "links": [{"rel", "uri"}]}`, paged by
//! `limit`, `starting_after` and `ending_before`), `v3.0-events.yml` and
//! `v3.1-events.yml` (`/events` with `record_type` (multi) and the
//! `TYPE.created` / `.updated` / `.deleted` events whose `data.object` is the
//! record and whose updates carry `previous_attributes`), and `full-v3.yml`
//! (the bearer security and the error bodies, `{"message": ...}`). Real HTTP
//! on 127.0.0.1 (axum), any port, under both `/v3.0` and `/v3.1`.
//!
//! What the documents leave open is played as Clever's developer
//! documentation describes it: ids are 24 hex digits in creation order and
//! pages follow id order; `ending_before=last` with `limit=1` is the newest
//! event; a `starting_after` naming an event Clever no longer keeps answers
//! 404 (the events window has passed: [`MockClever::expire_events`]); the
//! rate limit (1,200 requests a minute per token by default) is told in
//! `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`
//! (Unix seconds), and past it the answer is 429 with `Retry-After`. The
//! `count` parameter the documents list has no field in any response
//! schema, so it is accepted and ignored: Clever says no total to lie about.
//!
//! Faults are switched at runtime through the handle: a 429 storm, 500s, a
//! body cut off mid-way, malformed JSON, a page that repeats
//! (`starting_after` ignored once). The handle also edits the district
//! (create, update, delete), each edit recorded as the event Clever would
//! send, for quick-import tests, and logs every request.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use chrono::{SecondsFormat, Utc};
use serde_json::{Value as Json, json};

use crate::support::json_message as message;

/// The district token the mock accepts.
pub const TOKEN: &str = "clever-test-district-token";

/// The collections of the Data API, in the order an import reads them.
pub const COLLECTIONS: [&str; 6] = [
    "districts",
    "schools",
    "terms",
    "courses",
    "sections",
    "users",
];

/// One event as the events API sends it.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub created: String,
    pub object: Json,
    pub previous: Option<Json>,
}

/// A district as Clever holds it: each collection by id (so in id order).
#[derive(Debug, Clone, Default)]
pub struct District {
    pub collections: BTreeMap<String, BTreeMap<String, Json>>,
    next_id: u64,
}

impl District {
    /// A fresh id, after every earlier one.
    pub fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!(
            "{:024x}",
            0x5f00_0000_0000_0000_0000_0000u128 + self.next_id as u128
        )
    }

    fn add(&mut self, collection: &str, mut record: Json) -> String {
        let id = self.new_id();
        record["id"] = json!(id);
        self.collections
            .entry(collection.into())
            .or_default()
            .insert(id.clone(), record);
        id
    }

    pub fn count(&self, collection: &str) -> usize {
        self.collections.get(collection).map_or(0, BTreeMap::len)
    }

    /// One district of `schools` schools, each with two terms' worth of
    /// sections: per school 2 courses, `sections` sections of
    /// `students` students and one teacher each (a co-teacher on the first),
    /// one staff member; one contact per student of the first section.
    pub fn generated(schools: usize, sections: usize, students: usize) -> District {
        let mut d = District::default();
        let district = d.add(
            "districts",
            json!({"name": "Maplewood Unified", "nces_id": "0600001"}),
        );
        let term = d.add(
            "terms",
            json!({"district": district, "name": "Fall 2024",
            "start_date": "2024-08-15T00:00:00.000Z", "end_date": "2024-12-20T00:00:00.000Z"}),
        );
        d.add(
            "terms",
            json!({"district": district, "name": "Spring 2025",
            "start_date": "2025-01-06T00:00:00.000Z", "end_date": "2025-06-10T00:00:00.000Z"}),
        );
        let mut n = 0;
        for s in 0..schools {
            let school = d.add("schools", json!({"district": district, "name": format!("School {s}"),
                "school_number": format!("{}", 100 + s), "sis_id": format!("SCH-{s}"), "low_grade": "6", "high_grade": "8"}));
            let courses: Vec<String> = (0..2)
                .map(|c| d.add("courses", json!({"district": district, "name": format!("Course {s}-{c}"), "number": format!("C{s}{c}")})))
                .collect();
            d.add("users", json!({"district": district, "email": format!("staff{s}@maplewood.org"),
                "name": {"first": "Sam", "last": format!("Staff{s}")},
                "roles": {"staff": {"staff_id": format!("STF-{s}"), "schools": [school], "title": "Counselor"}}}));
            let mut co_teacher = None;
            for x in 0..sections {
                let teacher = d.add("users", json!({"district": district, "email": format!("t{s}-{x}@maplewood.org"),
                    "name": {"first": "Terry", "last": format!("Teacher{s}x{x}")},
                    "roles": {"teacher": {"teacher_number": format!("T{s}{x}"), "sis_id": format!("TS{s}{x}"),
                        "school": school, "schools": [school], "credentials": {"district_username": format!("teach{s}{x}")}}}}));
                let mut pupils = Vec::new();
                for _ in 0..students {
                    n += 1;
                    pupils.push(d.add("users", json!({"district": district, "email": format!("s{n}@maplewood.org"),
                        "name": {"first": "Stu", "last": format!("Dent{n}"), "middle": "Q"},
                        "roles": {"student": {"student_number": format!("{}", 10_000 + n), "sis_id": format!("SIS{n}"),
                            "state_id": format!("ST{n}"), "grade": "7", "school": school, "schools": [school],
                            "dob": "1/2/2012", "credentials": {"district_username": format!("stu{n}")}}}})));
                }
                let mut teachers = vec![json!(teacher)];
                if let Some(co) = &co_teacher {
                    teachers.push(json!(co));
                }
                co_teacher.get_or_insert(teacher.clone());
                if x == 0 {
                    for p in &pupils {
                        d.add("users", json!({"district": district, "email": null, "name": {"first": "Pat", "last": "Parent"},
                            "roles": {"contact": {"phone": "555-0100", "phone_type": "Cell",
                                "student_relationships": [{"student": p, "relationship": "Parent", "type": "Parent/Guardian"}]}}}));
                    }
                }
                d.add("sections", json!({"district": district, "school": school, "course": courses[x % 2],
                    "term_id": term, "name": format!("Section {s}-{x}"), "sis_id": format!("SEC{s}{x}"),
                    "section_number": format!("{x}"), "period": format!("{}", x + 1), "grade": "7", "subject": "math",
                    "teacher": teacher, "teachers": teachers, "students": pupils}));
            }
        }
        d
    }

    /// Students, teachers, staff and contacts (`users` by role).
    pub fn users_with(&self, role: &str) -> usize {
        self.collections.get("users").map_or(0, |u| {
            u.values()
                .filter(|r| r["roles"].get(role).is_some())
                .count()
        })
    }

    /// Students plus teachers of every section (the enrollments).
    pub fn enrollments(&self) -> usize {
        self.collections.get("sections").map_or(0, |s| {
            s.values()
                .map(|x| {
                    x["students"].as_array().map_or(0, Vec::len)
                        + x["teachers"].as_array().map_or(0, Vec::len)
                })
                .sum()
        })
    }
}

#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Requests per window per token.
    pub rate_limit: u64,
    pub rate_window: Duration,
    /// Largest page served, whatever `limit` asks.
    pub max_limit: usize,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            rate_limit: 1200,
            rate_window: Duration::from_secs(60),
            max_limit: 10_000,
        }
    }
}

#[derive(Debug, Default)]
struct Faults {
    too_many: u32,
    retry_after_secs: u64,
    server_errors: u32,
    truncated: u32,
    malformed: u32,
    repeat: u32,
}

/// One request the mock answered.
#[derive(Debug, Clone)]
pub struct Logged {
    pub path: String,
    pub query: String,
    pub status: u16,
    pub at: Instant,
}

struct State {
    district: District,
    events: Vec<Event>,
    /// Events at or before this index are no longer kept.
    expired: usize,
    config: MockConfig,
    faults: Faults,
    window: (Instant, u64),
    log: Vec<Logged>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct MockClever {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl MockClever {
    pub async fn start(district: District) -> anyhow::Result<MockClever> {
        MockClever::start_with(district, MockConfig::default()).await
    }

    pub async fn start_with(district: District, config: MockConfig) -> anyhow::Result<MockClever> {
        let state = Arc::new(Mutex::new(State {
            district,
            events: Vec::new(),
            expired: 0,
            config,
            faults: Faults::default(),
            window: (Instant::now(), 0),
            log: Vec::new(),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = state.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
            let state = shared.clone();
            async move { handle(&state, &uri, &headers) }
        });
        let tx = crate::support::serve_until_shutdown(listener, app);
        Ok(MockClever {
            addr,
            state,
            _shutdown: tx,
        })
    }

    /// `http://127.0.0.1:PORT`: the Service URL to configure.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn district(&self) -> District {
        lock(&self.state).district.clone()
    }

    pub fn requests(&self) -> Vec<Logged> {
        lock(&self.state).log.clone()
    }

    pub fn fail_with_429(&self, n: u32, retry_after_secs: u64) {
        let mut s = lock(&self.state);
        s.faults.too_many = n;
        s.faults.retry_after_secs = retry_after_secs;
    }

    pub fn fail_with_500(&self, n: u32) {
        lock(&self.state).faults.server_errors = n;
    }

    pub fn truncate_bodies(&self, n: u32) {
        lock(&self.state).faults.truncated = n;
    }

    pub fn malformed_json(&self, n: u32) {
        lock(&self.state).faults.malformed = n;
    }

    /// The next `n` pages asked for after an id are the first page again.
    pub fn repeat_pages(&self, n: u32) {
        lock(&self.state).faults.repeat = n;
    }

    /// Clever no longer keeps any event recorded so far.
    pub fn expire_events(&self) {
        let mut s = lock(&self.state);
        s.expired = s.events.len();
    }

    /// Create a record (an id is given), with its `created` event.
    pub fn create(&self, collection: &str, record: Json) -> String {
        let mut s = lock(&self.state);
        let id = s.district.add(collection, record);
        let object = s.district.collections[collection][&id].clone();
        record_event(&mut s, collection, "created", object, None);
        id
    }

    /// Change a record's fields, with its `updated` event (and the old
    /// values of the changed fields as `previous_attributes`).
    pub fn update(&self, collection: &str, id: &str, change: impl FnOnce(&mut Json)) {
        let mut s = lock(&self.state);
        let Some(record) = s
            .district
            .collections
            .get_mut(collection)
            .and_then(|c| c.get_mut(id))
        else {
            panic!("no {collection} {id}");
        };
        let before = record.clone();
        change(record);
        let after = record.clone();
        let previous: serde_json::Map<String, Json> = before
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| after.get(k.as_str()) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        record_event(
            &mut s,
            collection,
            "updated",
            after,
            Some(Json::Object(previous)),
        );
    }

    pub fn delete(&self, collection: &str, id: &str) {
        let mut s = lock(&self.state);
        let Some(record) = s
            .district
            .collections
            .get_mut(collection)
            .and_then(|c| c.remove(id))
        else {
            panic!("no {collection} {id}");
        };
        record_event(&mut s, collection, "deleted", record, None);
    }
}

fn record_event(
    s: &mut State,
    collection: &str,
    action: &str,
    object: Json,
    previous: Option<Json>,
) {
    let id = s.district.new_id();
    s.events.push(Event {
        id,
        kind: format!("{collection}.{action}"),
        created: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        object,
        previous,
    });
}

fn handle(state: &Mutex<State>, uri: &Uri, headers: &HeaderMap) -> Response {
    let mut s = lock(state);
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let mut response = answer(&mut s, &path, &query, headers);
    // The rate limit's headers on every answer.
    let (limit, window) = (s.config.rate_limit, s.config.rate_window);
    let (started, used) = s.window;
    let reset = Utc::now().timestamp()
        + (window.saturating_sub(started.elapsed()))
            .as_secs_f64()
            .ceil() as i64;
    let h = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", limit.to_string()),
        (
            "x-ratelimit-remaining",
            limit.saturating_sub(used).to_string(),
        ),
        ("x-ratelimit-reset", reset.to_string()),
    ] {
        h.insert(name, value.parse().expect("header"));
    }
    s.log.push(Logged {
        path,
        query,
        status: response.status().as_u16(),
        at: Instant::now(),
    });
    response
}

fn answer(s: &mut State, path: &str, query: &str, headers: &HeaderMap) -> Response {
    if s.faults.too_many > 0 {
        s.faults.too_many -= 1;
        let mut r = message(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
        r.headers_mut()
            .insert(header::RETRY_AFTER, s.faults.retry_after_secs.into());
        return r;
    }
    if s.faults.server_errors > 0 {
        s.faults.server_errors -= 1;
        return message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the mock failed on purpose",
        );
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(TOKEN) {
        return message(StatusCode::UNAUTHORIZED, "invalid district token");
    }
    // The rate limit: a window per token.
    let window = s.config.rate_window;
    if s.window.0.elapsed() >= window {
        s.window = (Instant::now(), 0);
    }
    if s.window.1 >= s.config.rate_limit {
        let wait = window
            .saturating_sub(s.window.0.elapsed())
            .as_secs_f64()
            .ceil() as u64;
        let mut r = message(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
        r.headers_mut().insert(header::RETRY_AFTER, wait.into());
        return r;
    }
    s.window.1 += 1;
    let Some((version, collection)) = path
        .strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .filter(|(v, _)| *v == "v3.0" || *v == "v3.1")
    else {
        return message(StatusCode::NOT_FOUND, &format!("no Clever API at {path}"));
    };
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let limit = match get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(l)) if l >= 1 => l.min(s.config.max_limit),
        Some(_) => return message(StatusCode::BAD_REQUEST, "limit must be a positive integer"),
    };
    let items: Vec<(String, Json)> = if collection == "events" {
        let types: Vec<&str> = params
            .iter()
            .filter(|(n, _)| n == "record_type")
            .map(|(_, v)| v.as_str())
            .collect();
        let kept = &s.events[s.expired..];
        if let Some(after) = get("starting_after")
            && !kept.iter().any(|e| e.id == after)
        {
            return message(
                StatusCode::NOT_FOUND,
                &format!("event {after} not found: it may be older than the events Clever keeps"),
            );
        }
        kept.iter()
            .filter(|e| types.is_empty() || types.iter().any(|t| e.kind.split('.').next() == Some(*t)))
            .map(|e| {
                let mut body = json!({"id": e.id, "type": e.kind, "created": e.created, "data": {"object": e.object}});
                if let Some(p) = &e.previous {
                    body["previous_attributes"] = p.clone();
                }
                (e.id.clone(), body)
            })
            .collect()
    } else if COLLECTIONS.contains(&collection) {
        let role = get("role");
        s.district
            .collections
            .get(collection)
            .into_iter()
            .flatten()
            .filter(|(_, r)| {
                role.as_ref()
                    .is_none_or(|role| r["roles"].get(role.as_str()).is_some())
            })
            .map(|(id, r)| (id.clone(), r.clone()))
            .collect()
    } else {
        return message(
            StatusCode::NOT_FOUND,
            &format!("no Clever collection at {path}"),
        );
    };
    let mut after = get("starting_after");
    if after.is_some() && s.faults.repeat > 0 {
        s.faults.repeat -= 1;
        after = None;
    }
    let (start, end) = match (after, get("ending_before")) {
        (Some(a), _) => {
            let start = items.partition_point(|(id, _)| id.as_str() <= a.as_str());
            (start, (start + limit).min(items.len()))
        }
        (None, Some(b)) => {
            let end = if b == "last" {
                items.len()
            } else {
                items.partition_point(|(id, _)| id.as_str() < b.as_str())
            };
            (end.saturating_sub(limit), end)
        }
        (None, None) => (0, limit.min(items.len())),
    };
    let page = &items[start..end];
    let base = format!("/{version}/{collection}");
    let keep: String = params
        .iter()
        .filter(|(n, _)| !["starting_after", "ending_before"].contains(&n.as_str()))
        .map(|(n, v)| {
            format!(
                "&{n}={}",
                form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
        .collect();
    let mut links =
        vec![json!({"rel": "self", "uri": format!("{base}?{}", keep.trim_start_matches('&'))})];
    if end < items.len()
        && let Some((last, _)) = page.last()
    {
        links.push(json!({"rel": "next", "uri": format!("{base}?starting_after={last}{keep}")}));
    }
    if start > 0
        && let Some((first, _)) = page.first()
    {
        links.push(json!({"rel": "prev", "uri": format!("{base}?ending_before={first}{keep}")}));
    }
    let body = json!({
        "data": page.iter().map(|(_, r)| json!({"data": r})).collect::<Vec<_>>(),
        "links": links,
    })
    .to_string();
    let builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json");
    let response = if s.faults.malformed > 0 {
        s.faults.malformed -= 1;
        builder.body(Body::from("{\"data\": [{\"data\": {'id': broken"))
    } else if s.faults.truncated > 0 {
        s.faults.truncated -= 1;
        crate::support::cut_off(builder, body)
    } else {
        builder.body(Body::from(body))
    };
    response.unwrap_or_else(|e| message(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
}

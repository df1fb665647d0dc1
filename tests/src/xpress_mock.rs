//! A mock A4L xPress Roster provider for tests, written from the public
//! description of xPress Roster and SIF 3: A4L's xPress Developers Guide
//! (data.a4l.org/xpress-developers-guide) and the xPress API developer
//! guidance (xpressapi.org, component 1 "Authentication": the OAuth 2.0
//! password grant, `POST /token` with `grant_type=password`, `username`,
//! `password`, `client_id`, `client_secret`, answered `{"access_token",
//! "token_type": "bearer", "expires_in"}`, the token then sent as a Bearer
//! header; component 3 "Data": the object URLs such as `xCourses`), the RIC
//! One API Data Manual (ricone.org: the xPress objects xLea, xSchool,
//! xCalendar, xCourse, xRoster, xStaff, xStudent, xContact and their
//! fields), the SIF 3.2 Base Architecture's "Changes Since" (as A4L's
//! document publishes it: `GET .../xStudents?changesSinceMarker=M`, an
//! opaque marker per object type, the next marker in the `changesSinceMarker`
//! response header, paging allowed), and the public RIC One client code
//! (NYSED's RICOne Java client library: paging in the `navigationPage`
//! (from 1) and `navigationPageSize` request headers, the
//! `navigationLastPage` response header, collection bodies
//! `{"xStudents": {"xStudent": [...]}}`). Real HTTP on 127.0.0.1 (axum).
//!
//! What those leave open is played as the RIC One provider behaves: the
//! objects live under `/api/requests`; a page past the end, or changes
//! since a marker with none, answer 204 No Content; a page of one record
//! writes the record as the object itself (JSON born of XML); every answer
//! also says `navigationPage`, `navigationPageSize` (as served: at most
//! [`MockConfig::max_page_size`]) and `navigationCount`; the changes since
//! a marker are the records created or changed after it (a deletion is not
//! among them). The delivery config's API Key is required in the
//! `X-API-Key` header of every object request ([`API_KEY`]); the A4L
//! documents name no header for it, so the name is the connector's
//! default. Errors are `{"message": ...}`.
//!
//! Faults are switched at runtime through the handle: a 429 storm, 500s, a
//! body cut off mid-way, malformed JSON, a page served again in place of
//! the next (`navigationPage` ignored), a `navigationLastPage` that lies,
//! markers refused (410) and a provider without changes since. The handle
//! edits the district (create, update, delete), each edit a change after
//! the markers handed out so far, and logs every request.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value as Json, json};

use crate::support::json_message as message;

pub const CLIENT_ID: &str = "maplewood-xpress-client";
pub const CLIENT_SECRET: &str = "xpress-client-s3cret";
pub const USERNAME: &str = "maplewood-sync";
pub const PASSWORD: &str = "xpress-pa55word";
pub const API_KEY: &str = "xpress-api-key-7f7f";
const ACCESS_TOKEN: &str = "xpress-test-access-token";
/// Where the objects are, under the server's root.
pub const BASE_PATH: &str = "/api/requests";

/// The object collections, in the order an import reads them, with the
/// name of one item in a body.
pub const COLLECTIONS: [(&str, &str); 8] = [
    ("xLeas", "xLea"),
    ("xSchools", "xSchool"),
    ("xCalendars", "xCalendar"),
    ("xCourses", "xCourse"),
    ("xRosters", "xRoster"),
    ("xStaffs", "xStaff"),
    ("xStudents", "xStudent"),
    ("xContacts", "xContact"),
];

/// A district's objects, per collection by refId.
#[derive(Debug, Clone, Default)]
pub struct District {
    pub collections: BTreeMap<String, BTreeMap<String, Json>>,
    next: u64,
}

fn ref_id(kind: usize, n: u64) -> String {
    format!("{:08X}-0000-4000-8000-{n:012X}", kind + 1)
}

impl District {
    pub fn count(&self, collection: &str) -> usize {
        self.collections.get(collection).map_or(0, BTreeMap::len)
    }

    fn insert(&mut self, collection: &str, mut record: Json) -> String {
        let kind = COLLECTIONS
            .iter()
            .position(|(c, _)| *c == collection)
            .unwrap_or(0);
        self.next += 1;
        let id = ref_id(kind, self.next);
        record["refId"] = json!(id);
        self.collections
            .entry(collection.to_string())
            .or_default()
            .insert(id.clone(), record);
        id
    }

    /// One district of `schools` schools, each with two terms, `rosters`
    /// rosters of `students` students (one teacher each; the first roster
    /// also has the second teacher as other staff), a principal, and a
    /// contact for every student.
    pub fn generated(schools: usize, rosters: usize, students: usize) -> District {
        let mut d = District::default();
        let lea = d.insert(
            "xLeas",
            json!({"leaName": "Maplewood Unified", "localId": "MW", "stateProvinceId": "NY-000123"}),
        );
        let mut n = 0;
        for s in 0..schools {
            let school = d.insert(
                "xSchools",
                json!({"leaRefId": lea, "schoolName": format!("School {s}"), "localId": format!("{}", 100 + s)}),
            );
            let calendar = d.insert(
                "xCalendars",
                json!({"schoolRefId": school, "schoolYear": "2026", "sessions": {"sessionList": [
                    {"sessionType": "Semester", "sessionCode": "S1", "description": "Fall", "startDate": "2025-09-02", "endDate": "2026-01-23"},
                    {"sessionType": "Semester", "sessionCode": "S2", "description": "Spring", "startDate": "2026-01-26", "endDate": "2026-06-19"}]}}),
            );
            d.insert(
                "xStaffs",
                json!({"name": {"givenName": "Pat", "familyName": format!("Principal{s}")}, "localId": format!("P{s}"),
                       "email": {"emailType": "Organizational", "emailAddress": format!("principal{s}@maplewood.org")},
                       "primaryAssignment": {"leaRefId": lea, "schoolRefId": school, "jobFunction": "Principal"}}),
            );
            let mut teachers = Vec::new();
            for t in 0..rosters {
                teachers.push(d.insert(
                    "xStaffs",
                    json!({"name": {"givenName": "Terry", "familyName": format!("Teacher{s}x{t}")}, "localId": format!("T{s}{t}"),
                           "email": {"emailType": "Organizational", "emailAddress": format!("t{s}x{t}@maplewood.org")},
                           "primaryAssignment": {"leaRefId": lea, "schoolRefId": school, "jobFunction": "Teacher"}}),
                ));
            }
            for r in 0..rosters {
                let course = d.insert(
                    "xCourses",
                    json!({"schoolRefId": school, "schoolCourseId": format!("C{s}{r}"), "courseTitle": format!("Course {s}-{r}"), "subject": "Mathematics"}),
                );
                let mut refs = Vec::new();
                for _ in 0..students {
                    n += 1;
                    let student = d.insert(
                        "xStudents",
                        json!({"name": {"givenName": "Sam", "familyName": format!("Student{n}")}, "localId": format!("{}", 10_000 + n),
                               "email": {"emailType": "Organizational", "emailAddress": format!("s{n}@maplewood.org")},
                               "enrollment": {"leaRefId": lea, "schoolRefId": school, "gradeLevel": "09"}}),
                    );
                    let contact = d.insert(
                        "xContacts",
                        json!({"name": {"givenName": "Alex", "familyName": format!("Student{n}")}, "localId": format!("K{n}"),
                               "relationships": {"relationship": [{"studentRefId": student, "relationshipCode": "Mother"}]}}),
                    );
                    if let Some(st) = d
                        .collections
                        .get_mut("xStudents")
                        .and_then(|c| c.get_mut(&student))
                    {
                        st["studentContacts"] = json!({"contactPersonRefId": [contact]});
                    }
                    refs.push(json!({"refId": student}));
                }
                let mut roster = json!({"courseRefId": course, "courseTitle": format!("Course {s}-{r}"), "schoolRefId": school,
                    "schoolSectionId": format!("{s}-{r}"), "subject": "Mathematics",
                    "meetingTimes": {"meetingTime": [{"schoolCalendarRefId": calendar, "sessionCode": "S1"}]},
                    "students": {"studentReference": refs},
                    "primaryStaff": {"staffPersonReference": {"refId": teachers[r]}, "teacherOfRecord": true}});
                if r == 0 && rosters > 1 {
                    roster["otherStaffs"] = json!({"otherStaff": [{"staffPersonReference": {"refId": teachers[1]}, "teacherOfRecord": false}]});
                }
                d.insert("xRosters", roster);
            }
        }
        d
    }

    /// The sessions of every calendar.
    pub fn sessions(&self) -> usize {
        self.collections
            .get("xCalendars")
            .into_iter()
            .flatten()
            .map(|(_, c)| c["sessions"]["sessionList"].as_array().map_or(0, Vec::len))
            .sum()
    }

    /// Students and staff of every roster.
    pub fn enrollments(&self) -> usize {
        self.collections
            .get("xRosters")
            .into_iter()
            .flatten()
            .map(|(_, r)| {
                r["students"]["studentReference"]
                    .as_array()
                    .map_or(0, Vec::len)
                    + usize::from(r["primaryStaff"].is_object())
                    + r["otherStaffs"]["otherStaff"]
                        .as_array()
                        .map_or(0, Vec::len)
            })
            .sum()
    }

    pub fn users(&self) -> usize {
        self.count("xStaffs") + self.count("xStudents") + self.count("xContacts")
    }
}

#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Largest page served, whatever `navigationPageSize` asks.
    pub max_page_size: usize,
    /// Whether the provider offers changes since (a marker header and the
    /// `changesSinceMarker` parameter).
    pub changes_since: bool,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            max_page_size: 10_000,
            changes_since: true,
        }
    }
}

#[derive(Debug, Default)]
struct Faults {
    too_many: u32,
    server_errors: u32,
    truncated: u32,
    malformed: u32,
    repeat: u32,
    last_page_lie: i64,
}

/// One request the mock answered.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    /// Whether it carried the API key, and the `navigationPage` it asked for.
    pub api_key: bool,
    pub page: Option<String>,
}

struct State {
    district: District,
    /// The change counter: a marker names a count; each edit is one more.
    version: u64,
    /// When each record last changed, per collection.
    changed: BTreeMap<(String, String), u64>,
    /// Markers below this are no longer kept (410).
    oldest_marker: u64,
    config: MockConfig,
    faults: Faults,
    log: Vec<Logged>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct MockXPress {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl MockXPress {
    pub async fn start(district: District) -> anyhow::Result<MockXPress> {
        MockXPress::start_with(district, MockConfig::default()).await
    }

    pub async fn start_with(district: District, config: MockConfig) -> anyhow::Result<MockXPress> {
        let state = Arc::new(Mutex::new(State {
            district,
            version: 1,
            changed: BTreeMap::new(),
            oldest_marker: 0,
            config,
            faults: Faults::default(),
            log: Vec::new(),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { handle(&state, &method, &uri, &headers, &body) }
            },
        );
        let tx = crate::support::serve_until_shutdown(listener, app);
        Ok(MockXPress {
            addr,
            state,
            _shutdown: tx,
        })
    }

    /// The Service Base URL to configure.
    pub fn base_url(&self) -> String {
        format!("http://{}{BASE_PATH}", self.addr)
    }

    pub fn token_url(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    pub fn district(&self) -> District {
        lock(&self.state).district.clone()
    }

    pub fn requests(&self) -> Vec<Logged> {
        lock(&self.state).log.clone()
    }

    pub fn fail_with_429(&self, n: u32) {
        lock(&self.state).faults.too_many = n;
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

    /// The next `n` pages after the first are served as the page before.
    pub fn repeat_pages(&self, n: u32) {
        lock(&self.state).faults.repeat = n;
    }

    /// `navigationLastPage` says `by` pages more (or fewer) than there are.
    pub fn lie_about_last_page(&self, by: i64) {
        lock(&self.state).faults.last_page_lie = by;
    }

    /// Every marker handed out so far is refused (410 Gone).
    pub fn expire_markers(&self) {
        let mut s = lock(&self.state);
        s.oldest_marker = s.version + 1;
    }

    fn touch(s: &mut State, collection: &str, id: &str) {
        s.version += 1;
        let v = s.version;
        s.changed
            .insert((collection.to_string(), id.to_string()), v);
    }

    pub fn create(&self, collection: &str, record: Json) -> String {
        let mut s = lock(&self.state);
        let id = s.district.insert(collection, record);
        Self::touch(&mut s, collection, &id);
        id
    }

    pub fn update(&self, collection: &str, id: &str, change: impl FnOnce(&mut Json)) {
        let mut s = lock(&self.state);
        if let Some(r) = s
            .district
            .collections
            .get_mut(collection)
            .and_then(|c| c.get_mut(id))
        {
            change(r);
        }
        Self::touch(&mut s, collection, id);
    }

    pub fn delete(&self, collection: &str, id: &str) {
        let mut s = lock(&self.state);
        if let Some(c) = s.district.collections.get_mut(collection) {
            c.remove(id);
        }
        s.version += 1;
    }
}

fn handle(
    state: &Mutex<State>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let mut s = lock(state);
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let response = if path == "/token" && method == Method::POST {
        token(headers, body)
    } else {
        objects(&mut s, &path, &query, headers)
    };
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    s.log.push(Logged {
        method: method.to_string(),
        path,
        query,
        status: response.status().as_u16(),
        api_key: header_text("x-api-key").as_deref() == Some(API_KEY),
        page: header_text("navigationPage"),
    });
    response
}

/// The password grant. The client authenticates in the form, as the
/// guide's example shows, or by HTTP Basic (RFC 6749 section 2.3.1).
fn token(headers: &HeaderMap, body: &[u8]) -> Response {
    let form: BTreeMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let get = |k: &str| form.get(k).map(String::as_str);
    let client = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::oneroster_mock::oauth::basic_credentials)
        .or_else(|| Some((get("client_id")?.into(), get("client_secret")?.into())));
    let ok = get("grant_type") == Some("password")
        && get("username") == Some(USERNAME)
        && get("password") == Some(PASSWORD)
        && client == Some((CLIENT_ID.to_string(), CLIENT_SECRET.to_string()));
    if !ok {
        let mut r = Response::new(Body::from(
            json!({"error": "invalid_grant", "error_description": "bad credentials"}).to_string(),
        ));
        *r.status_mut() = StatusCode::BAD_REQUEST;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            "application/json".parse().expect("header"),
        );
        return r;
    }
    let mut r = Response::new(Body::from(
        json!({"access_token": ACCESS_TOKEN, "token_type": "bearer", "expires_in": 3600})
            .to_string(),
    ));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/json".parse().expect("header"),
    );
    r
}

fn objects(s: &mut State, path: &str, query: &str, headers: &HeaderMap) -> Response {
    if s.faults.too_many > 0 {
        s.faults.too_many -= 1;
        let mut r = message(StatusCode::TOO_MANY_REQUESTS, "too many requests");
        r.headers_mut().insert(header::RETRY_AFTER, 0.into());
        return r;
    }
    if s.faults.server_errors > 0 {
        s.faults.server_errors -= 1;
        return message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the mock failed on purpose",
        );
    }
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if text("authorization") != Some(&format!("Bearer {ACCESS_TOKEN}")) {
        return message(StatusCode::UNAUTHORIZED, "invalid or missing access token");
    }
    if text("x-api-key") != Some(API_KEY) {
        return message(StatusCode::UNAUTHORIZED, "invalid or missing API key");
    }
    let Some((collection, item)) = path
        .strip_prefix(BASE_PATH)
        .and_then(|p| p.strip_prefix('/'))
        .and_then(|p| COLLECTIONS.iter().find(|(c, _)| *c == p))
        .copied()
    else {
        return message(
            StatusCode::NOT_FOUND,
            &format!("no xPress object at {path}"),
        );
    };
    let params: BTreeMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let number = |name: &str| -> Option<usize> {
        text(name)
            .map(str::to_string)
            .or_else(|| params.get(name).cloned())
            .and_then(|v| v.trim().parse().ok())
    };
    let marker = params
        .get("changesSinceMarker")
        .filter(|_| s.config.changes_since);
    let since = match marker.map(|m| m.parse::<u64>()) {
        None => None,
        Some(Ok(m)) if m >= s.oldest_marker => Some(m),
        Some(Ok(_)) => {
            return message(StatusCode::GONE, "the changesSinceMarker is no longer kept");
        }
        Some(Err(_)) => {
            return message(
                StatusCode::BAD_REQUEST,
                "the changesSinceMarker is not one this provider gave",
            );
        }
    };
    let all: Vec<&Json> = s
        .district
        .collections
        .get(collection)
        .into_iter()
        .flatten()
        .filter(|(id, _)| {
            since.is_none_or(|m| {
                s.changed
                    .get(&(collection.to_string(), (*id).clone()))
                    .is_some_and(|v| *v > m)
            })
        })
        .map(|(_, r)| r)
        .collect();
    let total = all.len();
    let size = number("navigationPageSize")
        .unwrap_or(total.max(1))
        .clamp(1, s.config.max_page_size);
    let mut page = number("navigationPage").unwrap_or(1).max(1);
    if page > 1 && s.faults.repeat > 0 {
        s.faults.repeat -= 1;
        page -= 1;
    }
    let last = total.div_ceil(size).max(1) as i64 + s.faults.last_page_lie;
    let start = (page - 1).saturating_mul(size);
    let records: Vec<Json> = all.into_iter().skip(start).take(size).cloned().collect();
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header("navigationPage", page.to_string())
        .header("navigationPageSize", size.to_string())
        .header("navigationLastPage", last.max(1).to_string())
        .header("navigationCount", total.to_string());
    if s.config.changes_since {
        builder = builder.header("changesSinceMarker", s.version.to_string());
    }
    if records.is_empty() {
        return builder
            .status(StatusCode::NO_CONTENT)
            .body(Body::empty())
            .unwrap_or_else(|_| message(StatusCode::INTERNAL_SERVER_ERROR, "no body"));
    }
    let items = if records.len() == 1 {
        records[0].clone()
    } else {
        Json::Array(records)
    };
    let body = json!({ collection: { item: items } }).to_string();
    if s.faults.malformed > 0 {
        s.faults.malformed -= 1;
        return builder
            .body(Body::from(format!(
                "{{\"{collection}\": {{\"{item}\": [{{\"refId\": "
            )))
            .unwrap_or_else(|_| message(StatusCode::INTERNAL_SERVER_ERROR, "no body"));
    }
    if s.faults.truncated > 0 {
        s.faults.truncated -= 1;
        return crate::support::cut_off(builder, body)
            .unwrap_or_else(|_| message(StatusCode::INTERNAL_SERVER_ERROR, "no body"));
    }
    builder
        .body(Body::from(body))
        .unwrap_or_else(|_| message(StatusCode::INTERNAL_SERVER_ERROR, "no body"))
}

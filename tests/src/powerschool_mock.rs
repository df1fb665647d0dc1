//! A mock PowerSchool SIS API for tests, written from PowerSchool's public
//! description as public client code and notes quote it (no PowerSchool
//! code copied):
//!
//! - the token: `POST /oauth/access_token` with HTTP Basic of the plugin's
//!   client id and secret and `grant_type=client_credentials`, answering
//!   `{"access_token", "token_type": "Bearer", "expires_in": "<digits>"}`
//!   (`expires_in` a string): LAS-IT/ps_utilities `PS_API_NOTES.md`,
//!   dougpenny/SwiftyPSCore `Models/Token.swift` and `SwiftyPSCore.swift`,
//!   TEAMSchools/powerschool `powerschool/client.py`;
//! - `GET /ws/v1/metadata` (`{"metadata": {"*_max_page_size": N, ...}}`):
//!   SwiftyPSCore `Models/Metadata.swift`, TEAMSchools `client.py`;
//! - `/ws/v1/district`, `/ws/v1/district/school`, `/ws/v1/district/student`
//!   (with `expansions`), their `/count` (`{"resource": {"count": N}}`),
//!   `page` and `pagesize`: ps_utilities `PS_API_NOTES.md` (pagination,
//!   searching, expansions, the student fields), SwiftyPSCore
//!   `SwiftyPSCoreEndpoints.swift` and `Models/ResourceCount.swift`,
//!   Tools4everBV HelloID PowerSchool connector `departments.ps1`;
//! - `/ws/v1/school/{id}/section`, `/course` (SwiftyPSCore), `/term` and
//!   `/staff` (with `school_affiliations`, HelloID's staff script) by the
//!   same pattern; collections as `{"sections": {"section": [...]}}`, and a
//!   collection of one as an object, not a list (SwiftyPSCore's decoders
//!   catch exactly that);
//! - `/ws/v1/section/{id}/section_enrollment` as
//!   `{"section_enrollments": {"section_enrollment": [...]}}` (`id`,
//!   `section_id`, `student_id`, `entry_date`, `exit_date`, `dropped`): the
//!   resource the developer site lists; no public copy of its document was
//!   at hand, so its fields follow the section and student resources;
//! - PowerQueries: `POST /ws/schema/query/{name}` and `/count` with a JSON
//!   body, records in `record` (TEAMSchools `client.py`); the guardians
//!   query's columns are the Homeroom plugin's own (see the connector);
//! - errors as `{"message", "errors": [{"resource", "field", "code"}]}`
//!   (TEAMSchools `client.py`).
//!
//! What the documents leave open: an empty collection is its wrapper
//! without records; a page size above the metadata's maximum is served at
//! the maximum. Faults are switched at runtime: a 429 storm, 500s, a body
//! cut off mid-way, malformed JSON, a lying `/count`, a page that repeats
//! (`page` ignored, the first page served). Every request is logged.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value as Json, json};

pub const CLIENT_ID: &str = "homeroom-plugin-client";
pub const CLIENT_SECRET: &str = "powerschool-test-client-secret";
/// The guardians PowerQuery the mock knows.
pub const GUARDIANS_QUERY: &str = "com.homeroom.roster.guardians";

/// A district as PowerSchool holds it: records by resource, each keyed by
/// id in id order.
#[derive(Debug, Clone, Default)]
pub struct District {
    pub district: Json,
    pub schools: BTreeMap<u64, Json>,
    /// Per school: terms, courses, sections.
    pub terms: BTreeMap<u64, Vec<Json>>,
    pub courses: BTreeMap<u64, Vec<Json>>,
    pub sections: BTreeMap<u64, Vec<Json>>,
    pub staff: BTreeMap<u64, Json>,
    pub students: BTreeMap<u64, Json>,
    /// Per section id.
    pub enrollments: BTreeMap<u64, Vec<Json>>,
    pub guardians: Vec<Json>,
    next_id: u64,
}

impl District {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// `schools` schools, each with a year and a semester, two courses, one
    /// administrator, and `sections` sections of `students` students with a
    /// teacher each; the first teacher of the first school also teaches at
    /// the second; a dropped enrollment in every first section; a guardian
    /// for every student of a first section, the first guardian with two
    /// children.
    pub fn generated(schools: usize, sections: usize, students: usize) -> District {
        let mut d = District {
            district: json!({"name": "Maplewood Unified", "district_number": "0600001"}),
            next_id: 1000,
            ..District::default()
        };
        let mut shared_teacher = None;
        for s in 0..schools {
            let school = d.id();
            d.schools.insert(
                school,
                json!({"id": school, "name": format!("School {s}"),
                "school_number": 100 + s, "low_grade": 6, "high_grade": 8}),
            );
            let year = d.id();
            let semester = d.id();
            d.terms.insert(
                school,
                vec![
                    json!({"id": year, "name": "2024-2025", "abbreviation": "24-25", "portion": 1,
                    "start_date": "2024-08-15", "end_date": "2025-06-10", "school_id": school}),
                    json!({"id": semester, "name": "Semester 1", "abbreviation": "S1", "portion": 2,
                    "start_date": "2024-08-15", "end_date": "2024-12-20", "school_id": school}),
                ],
            );
            let courses: Vec<u64> = (0..2).map(|_| d.id()).collect();
            d.courses.insert(
                school,
                courses
                    .iter()
                    .enumerate()
                    .map(|(c, id)| {
                        json!({"id": id,
                "course_name": format!("Course {s}-{c}"), "course_number": format!("C{s}{c}")})
                    })
                    .collect(),
            );
            let admin = d.id();
            d.staff.insert(admin, json!({"id": admin, "local_id": 9000 + admin,
                "name": {"first_name": "Sam", "last_name": format!("Admin{s}")},
                "emails": {"work_email": format!("admin{s}@maplewood.org")}, "admin_username": format!("admin{s}"),
                "school_affiliations": {"school_affiliation": {"school_id": school, "type": 2, "status": 1}}}));
            let mut first_section = true;
            for x in 0..sections {
                let teacher = match (s, x, shared_teacher) {
                    (1, 0, Some(t)) => {
                        // The first school's first teacher teaches here too.
                        let record: &mut Json = d.staff.get_mut(&t).expect("teacher");
                        let list = &mut record["school_affiliations"]["school_affiliation"];
                        let first = list.clone();
                        *list = json!([first, {"school_id": school, "type": 1, "status": 1}]);
                        t
                    }
                    _ => {
                        let t = d.id();
                        d.staff.insert(t, json!({"id": t, "local_id": 5000 + t,
                            "name": {"first_name": "Terry", "last_name": format!("Teacher{s}x{x}")},
                            "emails": {"work_email": format!("t{t}@maplewood.org")}, "teacher_username": format!("teach{t}"),
                            "school_affiliations": {"school_affiliation": {"school_id": school, "type": 1, "status": 1}}}));
                        shared_teacher.get_or_insert(t);
                        t
                    }
                };
                let section = d.id();
                d.sections.entry(school).or_default().push(json!({"id": section, "school_id": school,
                    "course_id": courses[x % 2], "term_id": if x % 2 == 0 { year } else { semester },
                    "section_number": format!("{}", x + 1), "expression": format!("{}(A)", x + 1),
                    "staff_id": teacher}));
                let mut roster = Vec::new();
                for _ in 0..students {
                    let student = d.id();
                    d.students.insert(student, json!({"id": student, "local_id": 10_000 + student,
                        "student_username": format!("stu{student}"),
                        "name": {"first_name": "Stu", "middle_name": "Q", "last_name": format!("Dent{student}")},
                        "school_enrollment": {"school_id": school, "grade_level": 7, "enroll_status": "A",
                            "entry_date": "2024-08-15", "exit_date": "2025-06-11"},
                        "contact_info": {"email": format!("s{student}@maplewood.org")},
                        "demographics": {"birth_date": "2012-01-02", "gender": "F"}}));
                    let e = d.id();
                    roster.push(
                        json!({"id": e, "section_id": section, "student_id": student,
                        "entry_date": "2024-08-15", "exit_date": "2025-06-10", "dropped": false}),
                    );
                    if first_section {
                        let g = d.id();
                        d.guardians.push(json!({"guardian_id": g, "first_name": "Pat", "last_name": format!("Parent{student}"),
                            "email": format!("p{student}@example.org"), "phone": "555-0100", "relationship": "Mother",
                            "student_ids": format!("{student}")}));
                    }
                }
                if first_section && students > 1 {
                    // A student who left the section: PowerSchool keeps the row.
                    let e = d.id();
                    let someone = roster[1]["student_id"].clone();
                    roster.push(
                        json!({"id": e, "section_id": section, "student_id": someone,
                        "entry_date": "2024-08-15", "exit_date": "2024-09-01", "dropped": true}),
                    );
                    if let Some(g) = d.guardians.iter_mut().rev().nth(students - 1) {
                        g["student_ids"] = json!(format!(
                            "{},{}",
                            roster[0]["student_id"], roster[1]["student_id"]
                        ));
                    }
                }
                d.enrollments.insert(section, roster);
                first_section = false;
            }
        }
        d
    }

    pub fn sections(&self) -> usize {
        self.sections.values().map(Vec::len).sum()
    }

    /// Enrollments an import makes: students not dropped, and a teacher for
    /// every section.
    pub fn enrollments(&self) -> usize {
        let students: usize = self
            .enrollments
            .values()
            .map(|l| l.iter().filter(|e| e["dropped"] != json!(true)).count())
            .sum();
        students + self.sections()
    }

    /// Users an import makes: students, staff, guardians.
    pub fn users(&self) -> usize {
        self.students.len() + self.staff.len() + self.guardians.len()
    }

    pub fn terms(&self) -> usize {
        self.terms.values().map(Vec::len).sum()
    }

    pub fn courses(&self) -> usize {
        self.courses.values().map(Vec::len).sum()
    }
}

#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Every `*_max_page_size` in the metadata.
    pub max_page_size: u64,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig { max_page_size: 10 }
    }
}

#[derive(Debug, Default)]
struct Faults {
    too_many: u32,
    server_errors: u32,
    truncated: u32,
    malformed: u32,
    repeat: u32,
    lie: i64,
    /// Requests whose path has this in it answer 500, this many times.
    failing_path: Option<(String, u32)>,
}

/// One request the mock answered.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
}

struct State {
    district: District,
    config: MockConfig,
    faults: Faults,
    tokens: Vec<String>,
    log: Vec<Logged>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct MockPowerSchool {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl MockPowerSchool {
    pub async fn start(district: District) -> anyhow::Result<MockPowerSchool> {
        MockPowerSchool::start_with(district, MockConfig::default()).await
    }

    pub async fn start_with(
        district: District,
        config: MockConfig,
    ) -> anyhow::Result<MockPowerSchool> {
        let state = Arc::new(Mutex::new(State {
            district,
            config,
            faults: Faults::default(),
            tokens: Vec::new(),
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
        Ok(MockPowerSchool {
            addr,
            state,
            _shutdown: tx,
        })
    }

    /// `http://127.0.0.1:PORT`: the PowerSchool URL to configure.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token_url(&self) -> String {
        format!("{}/oauth/access_token", self.base_url())
    }

    pub fn district(&self) -> District {
        lock(&self.state).district.clone()
    }

    pub fn requests(&self) -> Vec<Logged> {
        lock(&self.state).log.clone()
    }

    /// Tokens issued so far.
    pub fn tokens_issued(&self) -> usize {
        lock(&self.state).tokens.len()
    }

    pub fn edit(&self, change: impl FnOnce(&mut District)) {
        change(&mut lock(&self.state).district);
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

    /// The next `n` requests for a page after the first get the first page.
    pub fn repeat_pages(&self, n: u32) {
        lock(&self.state).faults.repeat = n;
    }

    /// The next `n` requests whose path contains `part` answer 500.
    pub fn fail_path_with_500(&self, part: &str, n: u32) {
        lock(&self.state).faults.failing_path = Some((part.to_string(), n));
    }

    /// Every `/count` says `by` more (or fewer) than there are.
    pub fn lie_about_counts(&self, by: i64) {
        lock(&self.state).faults.lie = by;
    }
}

fn reply(status: StatusCode, body: Json) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/json".parse().expect("header"),
    );
    r
}

fn message(status: StatusCode, text: &str) -> Response {
    reply(status, json!({"message": text}))
}

fn handle(
    state: &Mutex<State>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let mut s = lock(state);
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let response = answer(&mut s, method, &path, &query, headers, body);
    s.log.push(Logged {
        method: method.to_string(),
        path,
        query,
        status: response.status().as_u16(),
    });
    response
}

fn token(s: &mut State, headers: &HeaderMap, body: &Bytes) -> Response {
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    let form: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    if !form
        .iter()
        .any(|(k, v)| k == "grant_type" && v == "client_credentials")
    {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "unsupported_grant_type"}),
        );
    }
    if basic != Some(expected.as_str()) {
        return reply(
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client", "error_description": "Bad client credentials"}),
        );
    }
    let token = format!("ps-token-{}", s.tokens.len() + 1);
    s.tokens.push(token.clone());
    reply(
        StatusCode::OK,
        json!({"access_token": token, "token_type": "Bearer", "expires_in": "2504956"}),
    )
}

fn answer(
    s: &mut State,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    if path == "/oauth/access_token" || path == "/oauth/access_token/" {
        return token(s, headers, body);
    }
    if s.faults.too_many > 0 {
        s.faults.too_many -= 1;
        let mut r = message(StatusCode::TOO_MANY_REQUESTS, "too many requests");
        r.headers_mut().insert(header::RETRY_AFTER, 0.into());
        return r;
    }
    if let Some((part, n)) = &mut s.faults.failing_path
        && *n > 0
        && path.contains(part.as_str())
    {
        *n -= 1;
        return message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the mock failed on purpose",
        );
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
    if !bearer.is_some_and(|b| s.tokens.iter().any(|t| t == b)) {
        return message(
            StatusCode::UNAUTHORIZED,
            "Authentication failed: invalid or expired access token",
        );
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let max = s.config.max_page_size;
    let d = &s.district;
    let found = match (method.as_str(), segments.as_slice()) {
        ("GET", ["ws", "v1", "metadata"]) => {
            let keys = [
                "school",
                "student",
                "staff",
                "section",
                "section_enrollment",
                "term",
                "course",
                "schema_table_query",
            ];
            let mut metadata =
                json!({"powerschool_version": "24.7.0", "plugin_id": 7, "state": "CA"});
            for k in keys {
                metadata[format!("{k}_max_page_size")] = json!(max);
            }
            return reply(StatusCode::OK, json!({"metadata": metadata}));
        }
        ("GET", ["ws", "v1", "district"]) => {
            return reply(StatusCode::OK, json!({"district": d.district}));
        }
        ("GET", ["ws", "v1", "school", id]) => {
            return match id.parse::<u64>().ok().and_then(|i| d.schools.get(&i)) {
                Some(school) => reply(StatusCode::OK, json!({"school": school})),
                None => message(StatusCode::NOT_FOUND, &format!("no school {id}")),
            };
        }
        ("GET", ["ws", "v1", "student", id]) => {
            return match id.parse::<u64>().ok().and_then(|i| d.students.get(&i)) {
                Some(student) => reply(StatusCode::OK, json!({"student": student})),
                None => message(StatusCode::NOT_FOUND, &format!("no student {id}")),
            };
        }
        ("POST", ["ws", "v1", "student"]) => return write_students(s, body),
        ("GET", ["ws", "v1", "district", "school", rest @ ..]) => collection(
            rest,
            "schools",
            "school",
            d.schools.values().cloned().collect(),
        ),
        ("GET", ["ws", "v1", "district", "student", rest @ ..]) => collection(
            rest,
            "students",
            "student",
            d.students.values().cloned().collect(),
        ),
        ("GET", ["ws", "v1", "school", id, resource, rest @ ..]) => {
            let Some(school) = id.parse::<u64>().ok().filter(|i| d.schools.contains_key(i)) else {
                return message(StatusCode::NOT_FOUND, &format!("no school {id}"));
            };
            match *resource {
                "term" => collection(
                    rest,
                    "terms",
                    "term",
                    d.terms.get(&school).cloned().unwrap_or_default(),
                ),
                "course" => collection(
                    rest,
                    "courses",
                    "course",
                    d.courses.get(&school).cloned().unwrap_or_default(),
                ),
                "section" => collection(
                    rest,
                    "sections",
                    "section",
                    d.sections.get(&school).cloned().unwrap_or_default(),
                ),
                "staff" => collection(
                    rest,
                    "staffs",
                    "staff",
                    d.staff
                        .values()
                        .filter(|t| {
                            let list = &t["school_affiliations"]["school_affiliation"];
                            let list = list
                                .as_array()
                                .cloned()
                                .unwrap_or_else(|| vec![list.clone()]);
                            list.iter().any(|a| a["school_id"] == json!(school))
                        })
                        .cloned()
                        .collect(),
                ),
                _ => return message(StatusCode::NOT_FOUND, &format!("no resource {resource}")),
            }
        }
        ("GET", ["ws", "v1", "section", id, "section_enrollment", rest @ ..]) => {
            let Some(list) = id.parse::<u64>().ok().and_then(|i| d.enrollments.get(&i)) else {
                return message(StatusCode::NOT_FOUND, &format!("no section {id}"));
            };
            collection(
                rest,
                "section_enrollments",
                "section_enrollment",
                list.clone(),
            )
        }
        ("POST", ["ws", "schema", "query", name, rest @ ..]) => {
            if *name != GUARDIANS_QUERY {
                return reply(
                    StatusCode::NOT_FOUND,
                    json!({"message": format!("no named query {name}"),
                    "errors": [{"resource": "query", "field": "name", "code": "missing"}]}),
                );
            }
            collection(rest, "record", "", d.guardians.clone())
        }
        _ => {
            return message(
                StatusCode::NOT_FOUND,
                &format!("no PowerSchool resource at {method} {path}"),
            );
        }
    };
    let (wrapper, inner, records) = match found {
        Ok(found) => found,
        Err(refused) => return *refused,
    };
    if inner == "count" {
        let n = (records.len() as i64 + s.faults.lie).max(0);
        let body = if wrapper == "record" {
            json!({"count": n})
        } else {
            json!({"resource": {"count": n}})
        };
        return reply(StatusCode::OK, body);
    }
    let size = match get("pagesize").map(|p| p.parse::<u64>()) {
        None => max,
        Some(Ok(n)) if n >= 1 => n.min(max),
        Some(_) => {
            return message(
                StatusCode::BAD_REQUEST,
                "pagesize must be a positive number",
            );
        }
    } as usize;
    let mut page = match get("page").map(|p| p.parse::<usize>()) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => return message(StatusCode::BAD_REQUEST, "page must be a positive number"),
    };
    if page > 1 && s.faults.repeat > 0 {
        s.faults.repeat -= 1;
        page = 1;
    }
    let chunk: Vec<Json> = records
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    let body = match (wrapper, chunk.len()) {
        ("record", _) => json!({"name": GUARDIANS_QUERY, "record": chunk}),
        (_, 0) => json!({ (wrapper): {"@expansions": "demographics, addresses"} }),
        // PowerSchool's quirk: a collection of one is the record itself.
        (_, 1) => json!({ (wrapper): { (inner): chunk[0] } }),
        _ => json!({ (wrapper): { (inner): chunk } }),
    }
    .to_string();
    let builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json");
    let response = if s.faults.malformed > 0 {
        s.faults.malformed -= 1;
        builder.body(Body::from(format!("{{\"{wrapper}\": {{'{inner}': [broken")))
    } else if s.faults.truncated > 0 {
        s.faults.truncated -= 1;
        crate::support::cut_off(builder, body)
    } else {
        builder.body(Body::from(body))
    };
    response.unwrap_or_else(|e| message(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
}

/// A collection path's remainder: nothing (the records) or `count`.
fn collection(
    rest: &[&str],
    wrapper: &'static str,
    inner: &'static str,
    records: Vec<Json>,
) -> Result<(&'static str, &'static str, Vec<Json>), Box<Response>> {
    match rest {
        [] | [""] => Ok((wrapper, inner, records)),
        ["count"] => Ok((wrapper, "count", records)),
        _ => Err(Box::new(message(StatusCode::NOT_FOUND, "no such resource"))),
    }
}

/// `POST /ws/v1/student`: INSERT and UPDATE as PowerSchool's student
/// resource takes them (ps_utilities `PS_API_NOTES.md` and
/// `pre_built_post.rb`: `client_uid`, `action`, the fields each action
/// takes; the `results` answer, a result of one as an object). An UPDATE
/// that carries the username or the school enrollment is refused, as the
/// Data Sync article says PowerSchool keeps them from creation.
fn write_students(s: &mut State, body: &Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Json>(body) else {
        return message(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    let list = &body["students"]["student"];
    let list = list
        .as_array()
        .cloned()
        .unwrap_or_else(|| vec![list.clone()]);
    let (mut inserts, mut updates, mut results) = (0, 0, Vec::new());
    let plain = |v: &Json| v.to_string().trim_matches('"').to_string();
    for student in list {
        let uid = student["client_uid"].clone();
        let action = student["action"].as_str().unwrap_or("").to_string();
        let error = |why: &str| {
            json!({"client_uid": uid, "status": "ERROR", "action": action,
            "error_message": {"message": why}})
        };
        let d = &mut s.district;
        let outcome = match action.as_str() {
            "INSERT" => {
                let e = &student["school_enrollment"];
                let school = d
                    .schools
                    .iter()
                    .find(|(_, x)| plain(&x["school_number"]) == plain(&e["school_number"]))
                    .map(|(id, _)| *id);
                let named = student["name"]["first_name"].is_string()
                    && student["name"]["last_name"].is_string();
                let dated = !e["grade_level"].is_null()
                    && e["entry_date"].is_string()
                    && e["exit_date"].is_string();
                let taken = student["student_username"].is_string()
                    && d.students
                        .values()
                        .any(|x| x["student_username"] == student["student_username"]);
                match school {
                    _ if !named => error("name.first_name and name.last_name are required"),
                    _ if !dated => error(
                        "school_enrollment.grade_level, entry_date and exit_date are required",
                    ),
                    _ if taken => error("student_username is already in use"),
                    None => error("school_enrollment.school_number is not a school"),
                    Some(school) => {
                        d.next_id += 1;
                        let id = d.next_id;
                        let mut record = student.clone();
                        if let Some(map) = record.as_object_mut() {
                            map.remove("client_uid");
                            map.remove("action");
                        }
                        record["id"] = json!(id);
                        record["school_enrollment"]["school_id"] = json!(school);
                        d.students.insert(id, record);
                        inserts += 1;
                        json!({"client_uid": uid, "status": "SUCCESS", "action": "INSERT",
                            "success_message": {"id": id, "ref": format!("/ws/v1/student/{id}")}})
                    }
                }
            }
            "UPDATE" => {
                let id = plain(&student["id"]).parse::<u64>().ok();
                match id.and_then(|i| d.students.get_mut(&i)) {
                    None => error("no student with that id"),
                    Some(_)
                        if student.get("student_username").is_some()
                            || student.get("school_enrollment").is_some() =>
                    {
                        error("student_username and school_enrollment cannot be updated")
                    }
                    Some(record) => {
                        for key in ["first_name", "middle_name", "last_name"] {
                            if let Some(v) = student["name"].get(key) {
                                record["name"][key] = v.clone();
                            }
                        }
                        if let Some(email) = student["contact_info"].get("email") {
                            record["contact_info"]["email"] = email.clone();
                        }
                        // The parents the student record keeps (mother,
                        // father, guardian_email ...).
                        if let Some(contact) = student["contact"].as_object() {
                            for (k, v) in contact {
                                record["contact"][k] = v.clone();
                            }
                        }
                        updates += 1;
                        json!({"client_uid": uid, "status": "SUCCESS", "action": "UPDATE",
                            "success_message": {"id": student["id"]}})
                    }
                }
            }
            _ => error("action must be INSERT or UPDATE"),
        };
        results.push(outcome);
    }
    let result = if results.len() == 1 {
        results.remove(0)
    } else {
        Json::Array(results)
    };
    reply(
        StatusCode::OK,
        json!({"results": {"insert_count": inserts, "update_count": updates,
        "delete_count": 0, "result": result}}),
    )
}

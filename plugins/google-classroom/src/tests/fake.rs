//! A small in-memory Classroom behind [`Env`]: direct calls and the batch
//! endpoint, the methods the connector uses, Google's error shape, and a
//! fault hook that can answer any call (direct or a batch part) first.

use std::collections::BTreeMap;

use homeroom_sdk::connector_bindings::homeroom::plugin::http::{
    HttpError, Method, Request, Response,
};
use serde_json::{Value as Json, json};

use crate::batch;
use crate::env::Env;

#[derive(Debug, Clone, Default)]
pub struct Course {
    pub id: String,
    pub name: String,
    pub section: String,
    pub owner: String,
    pub state: String,
    pub creation_time: String,
    pub update_time: String,
    pub aliases: Vec<String>,
    pub teachers: Vec<String>,
    pub students: Vec<String>,
    pub topics: Vec<(String, String)>,
    pub work: Vec<Json>,
    pub submissions: Vec<Json>,
}

/// One call the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub batched: bool,
}

/// Answers a call before the fake does: (method, path) to (status, Google status).
pub type Fault = Box<dyn FnMut(&str, &str) -> Option<(u16, &'static str)>>;

pub struct Fake {
    pub settings: BTreeMap<String, String>,
    pub storage: BTreeMap<String, Vec<u8>>,
    pub warnings: Vec<String>,
    pub courses: Vec<Course>,
    /// The directory: (id, email).
    pub users: Vec<(String, String)>,
    pub admin: bool,
    pub log: Vec<Logged>,
    /// Parts of each batch request.
    pub batches: Vec<usize>,
    pub invitations: Vec<(String, String, String)>,
    pub invitation_cap: usize,
    /// The most items a list page holds.
    pub page_cap: usize,
    pub fault: Option<Fault>,
    /// Whether profiles carry `emailAddress` (the profile.emails scope).
    pub emails: bool,
    next: u64,
}

pub const ME: &str = "admin@d.org";

impl Fake {
    pub fn new() -> Fake {
        Fake {
            settings: [
                ("service_url", "https://classroom.test"),
                ("owner", "me"),
                ("batch_size", "50"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            storage: BTreeMap::new(),
            warnings: Vec::new(),
            courses: Vec::new(),
            users: vec![("1".into(), ME.into())],
            admin: true,
            log: Vec::new(),
            batches: Vec::new(),
            invitations: Vec::new(),
            invitation_cap: 100,
            page_cap: 1000,
            fault: None,
            emails: true,
            next: 1000,
        }
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.settings.insert(name.into(), value.into());
    }

    pub fn add_user(&mut self, id: &str, email: &str) {
        self.users.push((id.into(), email.into()));
    }

    /// A course as if made in the web UI.
    pub fn add_course(&mut self, name: &str, section: &str, created: &str) -> String {
        let id = self.new_id();
        self.courses.push(Course {
            id: id.clone(),
            name: name.into(),
            section: section.into(),
            owner: "1".into(),
            state: "ACTIVE".into(),
            creation_time: created.into(),
            update_time: created.into(),
            teachers: vec![ME.into()],
            ..Course::default()
        });
        id
    }

    pub fn course(&self, ident: &str) -> Option<&Course> {
        self.courses
            .iter()
            .find(|c| c.id == ident || c.aliases.iter().any(|a| a == ident))
    }

    /// Calls whose method and path (without the query) match.
    pub fn count(&self, method: &str, path_start: &str) -> usize {
        self.log
            .iter()
            .filter(|l| l.method == method && l.path.split('?').next() == Some(path_start))
            .count()
    }

    fn new_id(&mut self) -> String {
        self.next += 1;
        format!("{}", 600_000_000_000u64 + self.next)
    }

    fn email_of(&self, ident: &str) -> Option<String> {
        if ident == "me" {
            return Some(ME.to_string());
        }
        self.users
            .iter()
            .find(|(id, email)| id == ident || email.eq_ignore_ascii_case(ident))
            .map(|(_, e)| e.clone())
    }

    fn index(&self, ident: &str) -> Option<usize> {
        self.courses
            .iter()
            .position(|c| c.id == ident || c.aliases.iter().any(|a| a == ident))
    }

    /// Answer one API call.
    pub fn call(&mut self, method: &str, target: &str, body: &[u8], batched: bool) -> (u16, Json) {
        self.log.push(Logged {
            method: method.into(),
            path: target.into(),
            batched,
        });
        if let Some(fault) = &mut self.fault
            && let Some((code, status)) = fault(method, target)
        {
            return err(code, status, "injected");
        }
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let q = |name: &str| -> Vec<String> {
            query
                .split('&')
                .filter_map(|p| p.split_once('='))
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| decode(v))
                .collect()
        };
        let body: Json = serde_json::from_slice(body).unwrap_or(Json::Null);
        let segs: Vec<String> = path
            .trim_start_matches("/v1/")
            .split('/')
            .map(decode)
            .collect();
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let text = |k: &str| body.get(k).and_then(Json::as_str).unwrap_or("").to_string();
        match (method, s.as_slice()) {
            ("GET", ["userProfiles", who]) => match self.email_of(who) {
                Some(email) => {
                    let id = self
                        .users
                        .iter()
                        .find(|(_, e)| *e == email)
                        .map(|(i, _)| i.clone())
                        .unwrap_or_default();
                    let mut p = json!({"id": id, "name": {"fullName": format!("Name of {id}")}});
                    if self.emails {
                        p["emailAddress"] = json!(email);
                    }
                    (200, p)
                }
                None => err(404, "NOT_FOUND", "Requested entity was not found."),
            },
            ("GET", ["courses"]) => {
                let teacher = q("teacherId").first().cloned();
                let teacher = match teacher.map(|t| self.email_of(&t)) {
                    Some(None) => return err(404, "NOT_FOUND", "Requested entity was not found."),
                    Some(Some(e)) => Some(e),
                    None => None,
                };
                let states = q("courseStates");
                let items: Vec<Json> = self
                    .courses
                    .iter()
                    .rev()
                    .filter(|c| teacher.as_ref().is_none_or(|t| c.teachers.contains(t)))
                    .filter(|c| states.is_empty() || states.contains(&c.state))
                    .map(course_json)
                    .collect();
                self.page("courses", items, &q)
            }
            ("POST", ["courses"]) => {
                let alias = text("id");
                if !alias.is_empty() && self.index(&alias).is_some() {
                    return err(409, "ALREADY_EXISTS", "Requested entity already exists");
                }
                if self.email_of(&text("ownerId")).is_none() {
                    return err(404, "NOT_FOUND", "Requested entity was not found.");
                }
                let id = self.new_id();
                let owner = self.email_of(&text("ownerId")).unwrap_or_default();
                let c = Course {
                    id,
                    name: text("name"),
                    section: text("section"),
                    owner: owner.clone(),
                    state: text("courseState"),
                    creation_time: "2024-08-20T00:00:00Z".into(),
                    update_time: "2024-08-20T00:00:00Z".into(),
                    aliases: if alias.is_empty() {
                        vec![]
                    } else {
                        vec![alias]
                    },
                    teachers: vec![owner],
                    ..Course::default()
                };
                let j = course_json(&c);
                self.courses.push(c);
                (200, j)
            }
            ("GET", ["courses", id]) => match self.index(id) {
                Some(i) => (200, course_json(&self.courses[i])),
                None => err(404, "NOT_FOUND", "Requested entity was not found."),
            },
            ("PATCH", ["courses", id]) => {
                let Some(i) = self.index(id) else {
                    return err(404, "NOT_FOUND", "Requested entity was not found.");
                };
                let mask = q("updateMask").join(",");
                let c = &mut self.courses[i];
                for field in mask.split(',') {
                    match field {
                        "name" => c.name = text("name"),
                        "section" => c.section = text("section"),
                        "courseState" => c.state = text("courseState"),
                        _ => return err(400, "INVALID_ARGUMENT", "bad mask"),
                    }
                }
                (200, course_json(c))
            }
            ("GET", ["courses", id, "aliases"]) => match self.index(id) {
                Some(i) => {
                    let items = self.courses[i]
                        .aliases
                        .iter()
                        .map(|a| json!({"alias": a}))
                        .collect();
                    self.page("aliases", items, &q)
                }
                None => err(404, "NOT_FOUND", "Requested entity was not found."),
            },
            ("POST", ["courses", id, "aliases"]) => {
                let alias = text("alias");
                if self.index(&alias).is_some() {
                    return err(409, "ALREADY_EXISTS", "Requested entity already exists");
                }
                match self.index(id) {
                    Some(i) => {
                        self.courses[i].aliases.push(alias.clone());
                        (200, json!({"alias": alias}))
                    }
                    None => err(404, "NOT_FOUND", "Requested entity was not found."),
                }
            }
            ("POST", ["courses", id, roster @ ("teachers" | "students")]) => {
                let Some(i) = self.index(id) else {
                    return err(404, "NOT_FOUND", "Requested entity was not found.");
                };
                let Some(email) = self.email_of(&text("userId")) else {
                    return err(404, "NOT_FOUND", "Requested entity was not found.");
                };
                if !self.admin {
                    return err(
                        403,
                        "PERMISSION_DENIED",
                        "The caller does not have permission",
                    );
                }
                let c = &mut self.courses[i];
                if c.teachers.contains(&email) || c.students.contains(&email) {
                    return err(409, "ALREADY_EXISTS", "Requested entity already exists");
                }
                if *roster == "teachers" {
                    c.teachers.push(email.clone());
                } else {
                    c.students.push(email.clone());
                }
                (200, json!({"courseId": c.id, "userId": email}))
            }
            ("DELETE", ["courses", id, roster @ ("teachers" | "students"), who]) => {
                let Some(i) = self.index(id) else {
                    return err(404, "NOT_FOUND", "Requested entity was not found.");
                };
                let email = self.email_of(who).unwrap_or_default();
                let c = &mut self.courses[i];
                let list = if *roster == "teachers" {
                    &mut c.teachers
                } else {
                    &mut c.students
                };
                match list.iter().position(|e| *e == email) {
                    Some(at) => {
                        list.remove(at);
                        (200, json!({}))
                    }
                    None => err(404, "NOT_FOUND", "Requested entity was not found."),
                }
            }
            ("POST", ["invitations"]) => {
                let Some(email) = self.email_of(&text("userId")) else {
                    return err(404, "NOT_FOUND", "Requested entity was not found.");
                };
                let course = text("courseId");
                if self
                    .invitations
                    .iter()
                    .any(|(c, e, _)| *c == course && *e == email)
                {
                    return err(409, "ALREADY_EXISTS", "Requested entity already exists");
                }
                if self.invitations.len() >= self.invitation_cap {
                    return err(429, "RESOURCE_EXHAUSTED", "too many invitations today");
                }
                self.invitations
                    .push((course.clone(), email.clone(), text("role")));
                (
                    200,
                    json!({"id": "inv1", "courseId": course, "userId": email}),
                )
            }
            ("GET", ["courses", id, "topics"]) => match self.index(id) {
                Some(i) => {
                    let items = self.courses[i]
                        .topics
                        .iter()
                        .map(|(t, n)| json!({"topicId": t, "name": n}))
                        .collect();
                    self.page("topic", items, &q)
                }
                None => err(404, "NOT_FOUND", "Requested entity was not found."),
            },
            ("POST", ["courses", id, "topics"]) => {
                let Some(i) = self.index(id) else {
                    return err(404, "NOT_FOUND", "Requested entity was not found.");
                };
                let name = text("name");
                if self.courses[i].topics.iter().any(|(_, n)| *n == name) {
                    return err(409, "ALREADY_EXISTS", "Requested entity already exists");
                }
                let t = self.new_id();
                self.courses[i].topics.push((t.clone(), name.clone()));
                (200, json!({"topicId": t, "name": name}))
            }
            ("PATCH", ["courses", id, "topics", topic]) => {
                let Some(i) = self.index(id) else {
                    return err(404, "NOT_FOUND", "Requested entity was not found.");
                };
                if q("updateMask").join(",") != "name" {
                    return err(400, "INVALID_ARGUMENT", "bad mask");
                }
                let name = text("name");
                let topics = &mut self.courses[i].topics;
                if topics.iter().any(|(t, n)| *n == name && t != topic) {
                    return err(
                        400,
                        "FAILED_PRECONDITION",
                        "A topic with that name already exists",
                    );
                }
                match topics.iter_mut().find(|(t, _)| t == topic) {
                    Some(t) => {
                        t.1 = name.clone();
                        (200, json!({"topicId": t.0, "name": name}))
                    }
                    None => err(404, "NOT_FOUND", "Requested entity was not found."),
                }
            }
            ("DELETE", ["courses", id, "topics", topic]) => {
                let Some(i) = self.index(id) else {
                    return err(404, "NOT_FOUND", "Requested entity was not found.");
                };
                let topics = &mut self.courses[i].topics;
                match topics.iter().position(|(t, _)| t == topic) {
                    Some(at) => {
                        topics.remove(at);
                        (200, json!({}))
                    }
                    None => err(404, "NOT_FOUND", "Requested entity was not found."),
                }
            }
            ("GET", ["courses", id, "courseWork"]) => match self.index(id) {
                Some(i) => {
                    let items = self.courses[i].work.clone();
                    self.page("courseWork", items, &q)
                }
                None => err(404, "NOT_FOUND", "Requested entity was not found."),
            },
            ("GET", ["courses", id, "courseWork", "-", "studentSubmissions"]) => {
                match self.index(id) {
                    Some(i) => {
                        let items = self.courses[i].submissions.clone();
                        self.page("studentSubmissions", items, &q)
                    }
                    None => err(404, "NOT_FOUND", "Requested entity was not found."),
                }
            }
            _ => err(
                404,
                "NOT_FOUND",
                &format!("Method not found: {method} {path}"),
            ),
        }
    }

    /// A list page by offset tokens.
    fn page(&self, key: &str, items: Vec<Json>, q: &dyn Fn(&str) -> Vec<String>) -> (u16, Json) {
        let size: usize = q("pageSize")
            .first()
            .and_then(|s| s.parse().ok())
            .unwrap_or(100)
            .min(self.page_cap);
        let from: usize = q("pageToken")
            .first()
            .and_then(|s| s.strip_prefix("t").and_then(|n| n.parse().ok()))
            .unwrap_or(0);
        let page: Vec<Json> = items.iter().skip(from).take(size).cloned().collect();
        let mut out = json!({});
        if !page.is_empty() {
            out[key] = Json::Array(page);
        }
        if from + size < items.len() {
            out["nextPageToken"] = json!(format!("t{}", from + size));
        }
        (200, out)
    }

    fn batch(&mut self, request: &Request) -> Response {
        let ct = request
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let boundary = batch::boundary(&ct).expect("a multipart batch request");
        let body = request.body.clone().unwrap_or_default();
        let parts = batch::split(&body, &boundary).expect("a closed multipart body");
        assert!(parts.len() <= 50, "a batch of {} parts", parts.len());
        self.batches.push(parts.len());
        let mut out = Vec::new();
        for part in parts {
            let (mime, http) = batch::head(part);
            let id = batch::header(&mime, "content-id").unwrap_or("").to_string();
            let eol = http.iter().position(|&b| b == b'\n').unwrap_or(http.len());
            let line = String::from_utf8_lossy(&http[..eol]).trim().to_string();
            let mut words = line.split_whitespace();
            let method = words.next().unwrap_or("").to_string();
            let target = words.next().unwrap_or("").to_string();
            let rest = if eol < http.len() {
                &http[eol + 1..]
            } else {
                &[][..]
            };
            let (_, payload) = batch::head(rest);
            let payload = String::from_utf8_lossy(payload).trim().to_string();
            let (status, json) = self.call(&method, &target, payload.as_bytes(), true);
            let id = id.trim_start_matches('<').trim_end_matches('>');
            let text = json.to_string();
            out.push(format!(
                "--resp\r\nContent-Type: application/http\r\nContent-ID: <response-{id}>\r\n\r\nHTTP/1.1 {status} X\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: {}\r\n\r\n{text}\r\n",
                text.len()
            ));
        }
        out.push("--resp--\r\n".into());
        Response {
            status: 200,
            headers: vec![(
                "Content-Type".into(),
                "multipart/mixed; boundary=resp".into(),
            )],
            body: out.concat().into_bytes(),
        }
    }
}

fn err(code: u16, status: &str, message: &str) -> (u16, Json) {
    (
        code,
        json!({"error": {"code": code, "message": message, "status": status}}),
    )
}

fn course_json(c: &Course) -> Json {
    json!({"id": c.id, "name": c.name, "section": c.section, "courseState": c.state,
           "creationTime": c.creation_time, "updateTime": c.update_time})
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Env for Fake {
    fn send(&mut self, request: &Request) -> Result<Response, HttpError> {
        let root = self.settings["service_url"].clone();
        let Some(target) = request.url.strip_prefix(&root) else {
            return Err(HttpError::Denied(request.url.clone()));
        };
        if target == "/batch" {
            assert_eq!(request.method, Method::Post);
            return Ok(self.batch(request));
        }
        let method = match request.method {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        };
        let body = request.body.clone().unwrap_or_default();
        let (status, json) = self.call(method, target, &body, false);
        Ok(Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: json.to_string().into_bytes(),
        })
    }

    fn setting(&self, name: &str) -> Option<String> {
        self.settings.get(name).cloned()
    }

    fn warn(&mut self, message: &str) {
        self.warnings.push(message.to_string());
    }

    fn storage_get(&self, key: &str) -> Option<Vec<u8>> {
        self.storage.get(key).cloned()
    }

    fn storage_set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        self.storage.insert(key.to_string(), value.to_vec());
        Ok(())
    }
}

//! What goes over the wire: Google's JSON error shape, answers, query
//! parameters, request bodies checked against the discovery document's
//! schemas (proto3 JSON: camelCase or snake_case names, unknown names
//! refused), update masks and page tokens.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Map, Value as Json, json};

/// An error as Google APIs give it:
/// `{"error": {"code": N, "message": "...", "status": "NOT_FOUND"}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub status: &'static str,
    pub message: String,
    /// `Retry-After` (seconds), for 429 and 503 faults.
    pub retry_after: Option<u64>,
    /// Extra headers (`WWW-Authenticate` on 401 and scope errors).
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    pub fn new(code: u16, status: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            status,
            message: message.into(),
            retry_after: None,
            headers: Vec::new(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "INVALID_ARGUMENT", message)
    }

    pub fn failed_precondition(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "FAILED_PRECONDITION", message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(401, "UNAUTHENTICATED", message)
    }

    pub fn permission_denied(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "PERMISSION_DENIED", message)
    }

    /// 403 with Google's generic message.
    pub fn denied() -> ApiError {
        ApiError::permission_denied("The caller does not have permission")
    }

    pub fn not_found() -> ApiError {
        ApiError::new(404, "NOT_FOUND", "Requested entity was not found.")
    }

    pub fn already_exists() -> ApiError {
        ApiError::new(409, "ALREADY_EXISTS", "Requested entity already exists")
    }

    pub fn exhausted(message: impl Into<String>) -> ApiError {
        ApiError::new(429, "RESOURCE_EXHAUSTED", message)
    }

    pub fn body(&self) -> Json {
        json!({"error": {"code": self.code, "message": self.message, "status": self.status}})
    }

    pub(crate) fn answer(&self, pretty: bool) -> Answer {
        let mut a = Answer::json(self.code, &self.body(), pretty);
        if let Some(secs) = self.retry_after {
            a.headers.push(("Retry-After".into(), secs.to_string()));
        }
        a.headers.extend(self.headers.iter().cloned());
        a
    }
}

/// An HTTP answer, before it becomes an axum response or a batch part.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// JSON as Google's front end sends it (pretty-printed unless
    /// `prettyPrint=false`).
    pub fn json(status: u16, value: &Json, pretty: bool) -> Answer {
        let text = if pretty {
            serde_json::to_string_pretty(value)
        } else {
            serde_json::to_string(value)
        }
        .unwrap_or_else(|_| "{}".into());
        Answer {
            status,
            headers: vec![(
                "Content-Type".into(),
                "application/json; charset=UTF-8".into(),
            )],
            body: text.into_bytes(),
        }
    }
}

/// `fooBar` from `foo_bar` (names already camelCase stay as they are).
pub(crate) fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for ch in name.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

/// `foo_bar` from `fooBar` (how Google names fields in error messages).
pub(crate) fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for ch in name.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// The system parameters every method takes (the discovery document's
/// top-level `parameters`).
const GLOBAL_PARAMS: &[&str] = &[
    "$.xgafv",
    "accessToken",
    "alt",
    "callback",
    "fields",
    "key",
    "oauthToken",
    "prettyPrint",
    "quotaUser",
    "uploadType",
    "uploadProtocol",
];

/// Decoded query parameters, names in camelCase.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: &str) -> Query {
        Query {
            pairs: form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| {
                    let k = if k.starts_with('$') {
                        k.to_string()
                    } else {
                        camel(&k)
                    };
                    (k, v.into_owned())
                })
                .collect(),
        }
    }

    /// The last value given, if not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Every value of a repeated parameter (also comma-separated).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(',').map(str::trim).map(str::to_string))
            .filter(|v| !v.is_empty())
            .collect()
    }

    pub fn pretty(&self) -> bool {
        self.get("prettyPrint") != Some("false")
    }

    /// Refuse parameters the method does not take, as Google's front end does.
    pub fn check(&self, allowed: &[&str]) -> Result<(), ApiError> {
        for (k, _) in &self.pairs {
            if !allowed.contains(&k.as_str()) && !GLOBAL_PARAMS.contains(&k.as_str()) {
                return Err(ApiError::invalid(format!(
                    "Invalid JSON payload received. Unknown name \"{k}\": Cannot bind query parameter. Field '{k}' could not be found in request message."
                )));
            }
        }
        Ok(())
    }

    /// `pageSize`: absent or 0 is `default`; at most `max`.
    pub fn page_size(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        let size = match self.get("pageSize") {
            None => 0,
            Some(v) => v.parse::<i32>().map_err(|_| {
                ApiError::invalid(format!(
                    "Invalid value at 'page_size' (TYPE_INT32), \"{v}\""
                ))
            })?,
        };
        if size < 0 {
            return Err(ApiError::invalid("page_size must not be negative"));
        }
        let size = if size == 0 { default } else { size as usize };
        Ok(size.clamp(1, max.max(1)))
    }

    /// What identifies the list request, for page tokens: every parameter
    /// but the page ones and the system ones.
    pub fn fingerprint(&self, method: &str, args: &[String]) -> u64 {
        let mut parts: Vec<String> = self
            .pairs
            .iter()
            .filter(|(k, _)| {
                k != "pageToken" && k != "pageSize" && !GLOBAL_PARAMS.contains(&k.as_str())
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        parts.sort();
        fnv(&format!("{method}|{}|{}", args.join("/"), parts.join("&")))
    }
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A page of a list: `items` sorted ascending by key (a key is unique; a
/// page token carries the last key handed out, so items created or removed
/// between pages neither repeat nor shift the rest).
pub(crate) fn paginate(
    mut items: Vec<(Vec<i64>, Json)>,
    query: &Query,
    fingerprint: u64,
    size: usize,
) -> Result<(Vec<Json>, Option<String>), ApiError> {
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let after = match query.get("pageToken") {
        None => None,
        Some(token) => Some(decode_token(token, fingerprint)?),
    };
    let mut rest = items
        .into_iter()
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
        .peekable();
    let mut page = Vec::new();
    let mut last = None;
    while page.len() < size {
        match rest.next() {
            Some((k, item)) => {
                last = Some(k);
                page.push(item);
            }
            None => break,
        }
    }
    let next = match (rest.peek(), last) {
        (Some(_), Some(last)) => Some(encode_token(fingerprint, &last)),
        _ => None,
    };
    Ok((page, next))
}

fn encode_token(fingerprint: u64, key: &[i64]) -> String {
    let keys = key.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{fingerprint:016x}.{keys}"))
}

fn decode_token(token: &str, fingerprint: u64) -> Result<Vec<i64>, ApiError> {
    let bad = || ApiError::invalid("Invalid page token.");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (fp, keys) = raw.split_once('.').ok_or_else(bad)?;
    if u64::from_str_radix(fp, 16).ok() != Some(fingerprint) {
        return Err(ApiError::invalid(
            "Invalid page token: the list request must be otherwise identical to the one that returned it.",
        ));
    }
    keys.split(',')
        .map(|k| k.parse::<i64>().map_err(|_| bad()))
        .collect()
}

/// A list answer: `{key: [...], "nextPageToken": ...}`, or `{}` when the
/// list is empty (proto3 leaves an empty repeated field out).
pub(crate) fn list_body(key: &str, items: Vec<Json>, next: Option<String>) -> Json {
    let mut m = Map::new();
    if !items.is_empty() {
        m.insert(key.into(), Json::Array(items));
    }
    if let Some(t) = next {
        m.insert("nextPageToken".into(), Json::String(t));
    }
    Json::Object(m)
}

/// The kind of a schema field.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Str,
    Num,
    Int,
    Bool,
    /// An enum: its proto type name (for error messages) and values.
    Enum(&'static str, &'static [&'static str]),
    /// A message: its fields.
    Msg(&'static [(&'static str, Kind)]),
    StrList,
    AnyList,
    Any,
}

pub(crate) const COURSE_STATES: &[&str] = &[
    "COURSE_STATE_UNSPECIFIED",
    "ACTIVE",
    "ARCHIVED",
    "PROVISIONED",
    "DECLINED",
    "SUSPENDED",
];
pub(crate) const ROLES: &[&str] = &["COURSE_ROLE_UNSPECIFIED", "STUDENT", "TEACHER", "OWNER"];
pub(crate) const WORK_STATES: &[&str] = &[
    "COURSE_WORK_STATE_UNSPECIFIED",
    "PUBLISHED",
    "DRAFT",
    "DELETED",
];
pub(crate) const WORK_TYPES: &[&str] = &[
    "COURSE_WORK_TYPE_UNSPECIFIED",
    "ASSIGNMENT",
    "SHORT_ANSWER_QUESTION",
    "MULTIPLE_CHOICE_QUESTION",
];
pub(crate) const ASSIGNEE_MODES: &[&str] = &[
    "ASSIGNEE_MODE_UNSPECIFIED",
    "ALL_STUDENTS",
    "INDIVIDUAL_STUDENTS",
];
pub(crate) const MODIFICATION_MODES: &[&str] = &[
    "SUBMISSION_MODIFICATION_MODE_UNSPECIFIED",
    "MODIFIABLE_UNTIL_TURNED_IN",
    "MODIFIABLE",
];
pub(crate) const SUBMISSION_STATES: &[&str] = &[
    "SUBMISSION_STATE_UNSPECIFIED",
    "NEW",
    "CREATED",
    "TURNED_IN",
    "RETURNED",
    "RECLAIMED_BY_STUDENT",
];

const DATE: &[(&str, Kind)] = &[
    ("year", Kind::Int),
    ("month", Kind::Int),
    ("day", Kind::Int),
];
const TIME_OF_DAY: &[(&str, Kind)] = &[
    ("hours", Kind::Int),
    ("minutes", Kind::Int),
    ("seconds", Kind::Int),
    ("nanos", Kind::Int),
];

/// The `Course` schema.
pub(crate) const COURSE: &[(&str, Kind)] = &[
    ("id", Kind::Str),
    ("name", Kind::Str),
    ("section", Kind::Str),
    ("descriptionHeading", Kind::Str),
    ("description", Kind::Str),
    ("room", Kind::Str),
    ("ownerId", Kind::Str),
    ("creationTime", Kind::Str),
    ("updateTime", Kind::Str),
    ("enrollmentCode", Kind::Str),
    (
        "courseState",
        Kind::Enum("google.classroom.v1.Course.CourseState", COURSE_STATES),
    ),
    ("alternateLink", Kind::Str),
    ("teacherGroupEmail", Kind::Str),
    ("courseGroupEmail", Kind::Str),
    ("teacherFolder", Kind::Any),
    ("courseMaterialSets", Kind::AnyList),
    ("guardiansEnabled", Kind::Bool),
    ("calendarId", Kind::Str),
    ("gradebookSettings", Kind::Any),
    ("subject", Kind::Str),
    ("levels", Kind::Str),
];

pub(crate) const COURSE_ALIAS: &[(&str, Kind)] = &[("alias", Kind::Str)];

/// `Teacher` and `Student` (a student's `studentWorkFolder` too).
pub(crate) const MEMBER: &[(&str, Kind)] = &[
    ("courseId", Kind::Str),
    ("userId", Kind::Str),
    ("profile", Kind::Any),
    ("studentWorkFolder", Kind::Any),
];

pub(crate) const INVITATION: &[(&str, Kind)] = &[
    ("id", Kind::Str),
    ("userId", Kind::Str),
    ("courseId", Kind::Str),
    ("role", Kind::Enum("google.classroom.v1.CourseRole", ROLES)),
];

pub(crate) const TOPIC: &[(&str, Kind)] = &[
    ("courseId", Kind::Str),
    ("topicId", Kind::Str),
    ("name", Kind::Str),
    ("updateTime", Kind::Str),
];

pub(crate) const COURSE_WORK: &[(&str, Kind)] = &[
    ("courseId", Kind::Str),
    ("id", Kind::Str),
    ("title", Kind::Str),
    ("description", Kind::Str),
    ("materials", Kind::AnyList),
    (
        "state",
        Kind::Enum(
            "google.classroom.v1.CourseWork.CourseWorkState",
            WORK_STATES,
        ),
    ),
    ("alternateLink", Kind::Str),
    ("creationTime", Kind::Str),
    ("updateTime", Kind::Str),
    ("dueDate", Kind::Msg(DATE)),
    ("dueTime", Kind::Msg(TIME_OF_DAY)),
    ("scheduledTime", Kind::Str),
    ("maxPoints", Kind::Num),
    (
        "workType",
        Kind::Enum("google.classroom.v1.CourseWorkType", WORK_TYPES),
    ),
    ("associatedWithDeveloper", Kind::Bool),
    (
        "assigneeMode",
        Kind::Enum("google.classroom.v1.AssigneeMode", ASSIGNEE_MODES),
    ),
    (
        "individualStudentsOptions",
        Kind::Msg(&[("studentIds", Kind::StrList)]),
    ),
    (
        "submissionModificationMode",
        Kind::Enum(
            "google.classroom.v1.SubmissionModificationMode",
            MODIFICATION_MODES,
        ),
    ),
    ("creatorUserId", Kind::Str),
    ("topicId", Kind::Str),
    ("gradeCategory", Kind::Any),
    ("gradingPeriodId", Kind::Str),
    ("assignment", Kind::Any),
    ("multipleChoiceQuestion", Kind::Any),
];

pub(crate) const STUDENT_SUBMISSION: &[(&str, Kind)] = &[
    ("courseId", Kind::Str),
    ("courseWorkId", Kind::Str),
    ("id", Kind::Str),
    ("userId", Kind::Str),
    ("creationTime", Kind::Str),
    ("updateTime", Kind::Str),
    (
        "state",
        Kind::Enum(
            "google.classroom.v1.StudentSubmission.SubmissionState",
            SUBMISSION_STATES,
        ),
    ),
    ("late", Kind::Bool),
    ("draftGrade", Kind::Num),
    ("assignedGrade", Kind::Num),
    ("draftRubricGrades", Kind::Any),
    ("assignedRubricGrades", Kind::Any),
    ("alternateLink", Kind::Str),
    (
        "courseWorkType",
        Kind::Enum("google.classroom.v1.CourseWorkType", WORK_TYPES),
    ),
    ("associatedWithDeveloper", Kind::Bool),
    ("submissionHistory", Kind::AnyList),
    ("assignmentSubmission", Kind::Any),
    ("shortAnswerSubmission", Kind::Any),
    ("multipleChoiceSubmission", Kind::Any),
];

/// Parse a request body as the message `fields` (named `root` in errors,
/// `course_work`): a JSON object, names camelCase or snake_case (answered
/// camelCase), unknown names and wrong types refused with the messages
/// Google's front end gives, `null` as absent, numbers given as strings
/// turned into numbers.
pub(crate) fn parse_body(
    body: &[u8],
    root: &str,
    fields: &'static [(&'static str, Kind)],
) -> Result<Map<String, Json>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Json = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("Invalid JSON payload received. {e}")))?;
    check_message(&value, root, fields)
}

fn check_message(
    value: &Json,
    path: &str,
    fields: &'static [(&'static str, Kind)],
) -> Result<Map<String, Json>, ApiError> {
    let Some(obj) = value.as_object() else {
        return Err(ApiError::invalid(format!(
            "Invalid JSON payload received. Expected an object at '{path}'."
        )));
    };
    let mut out = Map::new();
    for (name, v) in obj {
        let key = camel(name);
        let Some((_, kind)) = fields.iter().find(|(f, _)| *f == key) else {
            return Err(ApiError::invalid(format!(
                "Invalid JSON payload received. Unknown name \"{name}\" at '{path}': Cannot find field."
            )));
        };
        if v.is_null() {
            continue;
        }
        let at = format!("{path}.{}", snake(&key));
        out.insert(key, check_value(v, &at, *kind)?);
    }
    Ok(out)
}

fn check_value(v: &Json, at: &str, kind: Kind) -> Result<Json, ApiError> {
    let wrong = |ty: &str| ApiError::invalid(format!("Invalid value at '{at}' ({ty}), {v}"));
    match kind {
        Kind::Str => v
            .is_string()
            .then(|| v.clone())
            .ok_or_else(|| wrong("TYPE_STRING")),
        Kind::Bool => v
            .is_boolean()
            .then(|| v.clone())
            .ok_or_else(|| wrong("TYPE_BOOL")),
        Kind::Num => match v {
            Json::Number(_) => Ok(v.clone()),
            Json::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|f| json!(f))
                .ok_or_else(|| wrong("TYPE_DOUBLE")),
            _ => Err(wrong("TYPE_DOUBLE")),
        },
        Kind::Int => match v {
            Json::Number(n) if n.is_i64() => Ok(v.clone()),
            Json::Number(n) => n
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 2_147_483_648.0)
                .map(|f| json!(f as i64))
                .ok_or_else(|| wrong("TYPE_INT32")),
            Json::String(s) => s
                .trim()
                .parse::<i32>()
                .map(|i| json!(i))
                .map_err(|_| wrong("TYPE_INT32")),
            _ => Err(wrong("TYPE_INT32")),
        },
        Kind::Enum(type_name, values) => match v.as_str() {
            Some(s) if values.contains(&s) => Ok(v.clone()),
            _ => Err(ApiError::invalid(format!(
                "Invalid value at '{at}' (type.googleapis.com/{type_name}), {v}"
            ))),
        },
        Kind::Msg(fields) => check_message(v, at, fields).map(Json::Object),
        Kind::StrList => match v.as_array() {
            Some(items) if items.iter().all(Json::is_string) => Ok(v.clone()),
            _ => Err(wrong("TYPE_STRING")),
        },
        Kind::AnyList => v
            .is_array()
            .then(|| v.clone())
            .ok_or_else(|| wrong("TYPE_MESSAGE")),
        Kind::Any => Ok(v.clone()),
    }
}

/// The `updateMask` of a patch: required, each path one of `allowed`
/// (camelCase or snake_case given; answered camelCase).
pub(crate) fn update_mask(query: &Query, allowed: &[&str]) -> Result<Vec<String>, ApiError> {
    let paths = query.all("updateMask");
    if paths.is_empty() {
        return Err(ApiError::invalid("Update mask is required"));
    }
    let mut out: Vec<String> = Vec::new();
    for p in paths {
        let c = camel(&p);
        if !allowed.contains(&c.as_str()) {
            return Err(ApiError::invalid(format!(
                "Invalid field mask: non-updatable field '{p}' (updatable: {})",
                allowed
                    .iter()
                    .map(|a| snake(a))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

/// A string field of a parsed body ("" when absent).
pub(crate) fn text<'a>(body: &'a Map<String, Json>, key: &str) -> &'a str {
    body.get(key).and_then(Json::as_str).unwrap_or("")
}

/// Decode `%XX` in a path segment (not `+`, which is a plus in a path).
pub(crate) fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Header name → value (names lowercase), first value kept.
pub(crate) fn header_map(lines: &[(String, String)]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (k, v) in lines {
        m.entry(k.to_ascii_lowercase()).or_insert_with(|| v.clone());
    }
    m
}

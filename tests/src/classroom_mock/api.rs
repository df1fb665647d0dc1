//! The Classroom methods: routing by the discovery document's `flatPath`s,
//! authentication and scopes, faults, and each method as its description
//! says it behaves (error codes included).

use std::time::Instant;

use serde_json::{Map, Value as Json, json};

use super::model::{Course, CourseWork, Invitation, Member, MockUser, Submission, Topic};
use super::wire::{
    self, Answer, ApiError, COURSE, COURSE_ALIAS, COURSE_STATES, COURSE_WORK, INVITATION, MEMBER,
    Query, ROLES, STUDENT_SUBMISSION, SUBMISSION_STATES, TOPIC, WORK_STATES, list_body, paginate,
    parse_body, text, update_mask,
};
use super::{LoggedCall, SCOPE_PREFIX, State, all_scopes};

/// How a request reached the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Direct,
    Batch,
    /// The test handle acting as the configured user: no token, no
    /// faults, not logged.
    Handle,
}

pub(crate) struct ApiRequest {
    pub method: String,
    /// The raw (still percent-encoded) path.
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
    pub via: Via,
}

/// A routed request: the discovery method id (without `classroom.`), its
/// `flatPath` and the decoded path arguments.
pub(crate) struct Route {
    pub id: &'static str,
    pub pattern: &'static str,
    pub args: Vec<String>,
}

/// Find the method a request names.
pub(crate) fn route(method: &str, path: &str) -> Result<Route, ApiError> {
    let missing = || {
        ApiError::new(
            404,
            "NOT_FOUND",
            format!("Method not found: {method} {path}"),
        )
    };
    let rest = path.strip_prefix("/v1/").ok_or_else(missing)?;
    let raw: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    if raw.iter().any(|s| s.is_empty()) {
        return Err(missing());
    }
    // `invitations/{id}:accept` is the one custom verb served.
    let accept = raw.len() == 2 && raw[0] == "invitations" && raw[1].ends_with(":accept");
    let mut segs = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        let s = if accept && i == 1 {
            s.trim_end_matches(":accept")
        } else {
            s
        };
        segs.push(wire::percent_decode(s).ok_or_else(|| {
            ApiError::invalid(format!("Invalid percent-encoding in path segment '{s}'"))
        })?);
    }
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let r = |id, pattern, args: &[&str]| Route {
        id,
        pattern,
        args: args.iter().map(|a| a.to_string()).collect(),
    };
    Ok(match (method, s.as_slice()) {
        ("GET", ["courses"]) => r("courses.list", "/v1/courses", &[]),
        ("POST", ["courses"]) => r("courses.create", "/v1/courses", &[]),
        ("GET", ["courses", id]) => r("courses.get", "/v1/courses/{id}", &[id]),
        ("PATCH", ["courses", id]) => r("courses.patch", "/v1/courses/{id}", &[id]),
        ("PUT", ["courses", id]) => r("courses.update", "/v1/courses/{id}", &[id]),
        ("DELETE", ["courses", id]) => r("courses.delete", "/v1/courses/{id}", &[id]),
        ("GET", ["courses", c, "aliases"]) => r(
            "courses.aliases.list",
            "/v1/courses/{courseId}/aliases",
            &[c],
        ),
        ("POST", ["courses", c, "aliases"]) => r(
            "courses.aliases.create",
            "/v1/courses/{courseId}/aliases",
            &[c],
        ),
        ("DELETE", ["courses", c, "aliases", a]) => r(
            "courses.aliases.delete",
            "/v1/courses/{courseId}/aliases/{alias}",
            &[c, a],
        ),
        ("GET", ["courses", c, "teachers"]) => r(
            "courses.teachers.list",
            "/v1/courses/{courseId}/teachers",
            &[c],
        ),
        ("POST", ["courses", c, "teachers"]) => r(
            "courses.teachers.create",
            "/v1/courses/{courseId}/teachers",
            &[c],
        ),
        ("GET", ["courses", c, "teachers", u]) => r(
            "courses.teachers.get",
            "/v1/courses/{courseId}/teachers/{userId}",
            &[c, u],
        ),
        ("DELETE", ["courses", c, "teachers", u]) => r(
            "courses.teachers.delete",
            "/v1/courses/{courseId}/teachers/{userId}",
            &[c, u],
        ),
        ("GET", ["courses", c, "students"]) => r(
            "courses.students.list",
            "/v1/courses/{courseId}/students",
            &[c],
        ),
        ("POST", ["courses", c, "students"]) => r(
            "courses.students.create",
            "/v1/courses/{courseId}/students",
            &[c],
        ),
        ("GET", ["courses", c, "students", u]) => r(
            "courses.students.get",
            "/v1/courses/{courseId}/students/{userId}",
            &[c, u],
        ),
        ("DELETE", ["courses", c, "students", u]) => r(
            "courses.students.delete",
            "/v1/courses/{courseId}/students/{userId}",
            &[c, u],
        ),
        ("GET", ["courses", c, "topics"]) => {
            r("courses.topics.list", "/v1/courses/{courseId}/topics", &[c])
        }
        ("POST", ["courses", c, "topics"]) => r(
            "courses.topics.create",
            "/v1/courses/{courseId}/topics",
            &[c],
        ),
        ("GET", ["courses", c, "topics", t]) => r(
            "courses.topics.get",
            "/v1/courses/{courseId}/topics/{id}",
            &[c, t],
        ),
        ("PATCH", ["courses", c, "topics", t]) => r(
            "courses.topics.patch",
            "/v1/courses/{courseId}/topics/{id}",
            &[c, t],
        ),
        ("DELETE", ["courses", c, "topics", t]) => r(
            "courses.topics.delete",
            "/v1/courses/{courseId}/topics/{id}",
            &[c, t],
        ),
        ("GET", ["courses", c, "courseWork"]) => r(
            "courses.courseWork.list",
            "/v1/courses/{courseId}/courseWork",
            &[c],
        ),
        ("POST", ["courses", c, "courseWork"]) => r(
            "courses.courseWork.create",
            "/v1/courses/{courseId}/courseWork",
            &[c],
        ),
        ("GET", ["courses", c, "courseWork", w]) => r(
            "courses.courseWork.get",
            "/v1/courses/{courseId}/courseWork/{id}",
            &[c, w],
        ),
        ("PATCH", ["courses", c, "courseWork", w]) => r(
            "courses.courseWork.patch",
            "/v1/courses/{courseId}/courseWork/{id}",
            &[c, w],
        ),
        ("DELETE", ["courses", c, "courseWork", w]) => r(
            "courses.courseWork.delete",
            "/v1/courses/{courseId}/courseWork/{id}",
            &[c, w],
        ),
        ("GET", ["courses", c, "courseWork", w, "studentSubmissions"]) => r(
            "courses.courseWork.studentSubmissions.list",
            "/v1/courses/{courseId}/courseWork/{courseWorkId}/studentSubmissions",
            &[c, w],
        ),
        ("GET", ["courses", c, "courseWork", w, "studentSubmissions", id]) => r(
            "courses.courseWork.studentSubmissions.get",
            "/v1/courses/{courseId}/courseWork/{courseWorkId}/studentSubmissions/{id}",
            &[c, w, id],
        ),
        ("PATCH", ["courses", c, "courseWork", w, "studentSubmissions", id]) => r(
            "courses.courseWork.studentSubmissions.patch",
            "/v1/courses/{courseId}/courseWork/{courseWorkId}/studentSubmissions/{id}",
            &[c, w, id],
        ),
        ("GET", ["invitations"]) => r("invitations.list", "/v1/invitations", &[]),
        ("POST", ["invitations"]) => r("invitations.create", "/v1/invitations", &[]),
        ("POST", ["invitations", id]) if accept => {
            r("invitations.accept", "/v1/invitations/{id}:accept", &[id])
        }
        ("GET", ["invitations", id]) if !accept => {
            r("invitations.get", "/v1/invitations/{id}", &[id])
        }
        ("DELETE", ["invitations", id]) if !accept => {
            r("invitations.delete", "/v1/invitations/{id}", &[id])
        }
        ("GET", ["userProfiles", u]) => r("userProfiles.get", "/v1/userProfiles/{userId}", &[u]),
        _ => return Err(missing()),
    })
}

/// The scopes (any one of them) a method takes, from the discovery
/// document (suffixes of `https://www.googleapis.com/auth/classroom.`).
fn scopes_for(id: &str) -> &'static [&'static str] {
    const ROSTER_READ: &[&str] = &[
        "profile.emails",
        "profile.photos",
        "rosters",
        "rosters.readonly",
    ];
    const ROSTER_CREATE: &[&str] = &["profile.emails", "profile.photos", "rosters"];
    const WORK_READ: &[&str] = &[
        "coursework.me",
        "coursework.me.readonly",
        "coursework.students",
        "coursework.students.readonly",
    ];
    match id {
        "courses.list" | "courses.get" | "courses.aliases.list" => &["courses", "courses.readonly"],
        "courses.create"
        | "courses.patch"
        | "courses.update"
        | "courses.delete"
        | "courses.aliases.create"
        | "courses.aliases.delete" => &["courses"],
        "courses.teachers.create" | "courses.students.create" => ROSTER_CREATE,
        "courses.teachers.list"
        | "courses.teachers.get"
        | "courses.students.list"
        | "courses.students.get"
        | "userProfiles.get" => ROSTER_READ,
        "courses.teachers.delete" | "courses.students.delete" => &["rosters"],
        "invitations.create" | "invitations.accept" | "invitations.delete" => &["rosters"],
        "invitations.list" | "invitations.get" => &["rosters", "rosters.readonly"],
        "courses.topics.list" | "courses.topics.get" => &["topics", "topics.readonly"],
        "courses.topics.create" | "courses.topics.patch" | "courses.topics.delete" => &["topics"],
        "courses.courseWork.create" | "courses.courseWork.patch" | "courses.courseWork.delete" => {
            &["coursework.students"]
        }
        "courses.courseWork.list" | "courses.courseWork.get" => WORK_READ,
        "courses.courseWork.studentSubmissions.list"
        | "courses.courseWork.studentSubmissions.get" => &[
            "coursework.me",
            "coursework.me.readonly",
            "coursework.students",
            "coursework.students.readonly",
            "student-submissions.me.readonly",
            "student-submissions.students.readonly",
        ],
        "courses.courseWork.studentSubmissions.patch" => &["coursework.me", "coursework.students"],
        _ => &[],
    }
}

/// The query parameters a method takes (besides the system ones).
fn params_for(id: &str) -> &'static [&'static str] {
    const PAGE: &[&str] = &["pageSize", "pageToken"];
    match id {
        "courses.list" => &[
            "courseStates",
            "pageSize",
            "pageToken",
            "studentId",
            "teacherId",
        ],
        "courses.patch"
        | "courses.topics.patch"
        | "courses.courseWork.patch"
        | "courses.courseWork.studentSubmissions.patch" => &["updateMask"],
        "courses.aliases.list"
        | "courses.teachers.list"
        | "courses.students.list"
        | "courses.topics.list" => PAGE,
        "courses.students.create" => &["enrollmentCode"],
        "invitations.list" => &["courseId", "pageSize", "pageToken", "userId"],
        "courses.courseWork.list" => &["courseWorkStates", "orderBy", "pageSize", "pageToken"],
        "courses.courseWork.studentSubmissions.list" => {
            &["late", "pageSize", "pageToken", "states", "userId"]
        }
        _ => &[],
    }
}

/// Answer one API request (a direct one, a batch part or the handle's).
pub(crate) fn call(s: &mut State, req: &ApiRequest) -> Answer {
    let query = Query::parse(&req.query);
    let pretty = query.pretty();
    match execute(s, req) {
        Ok(body) => Answer::json(200, &body, pretty),
        Err(e) => e.answer(pretty),
    }
}

/// Carry out one API request and log it (unless the handle made it).
pub(crate) fn execute(s: &mut State, req: &ApiRequest) -> Result<Json, ApiError> {
    let query = Query::parse(&req.query);
    let (result, id, pattern) = match route(&req.method, &req.path) {
        Err(e) => (Err(e), "", req.path.clone()),
        Ok(r) => (run(s, req, &query, &r), r.id, r.pattern.to_string()),
    };
    if req.via != Via::Handle {
        s.log.push(LoggedCall {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            pattern,
            method_id: id.to_string(),
            batched: req.via == Via::Batch,
            status: result.as_ref().map(|_| 200).unwrap_or_else(|e| e.code),
        });
    }
    result
}

const AUTH_HELP: &str = "Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

fn authenticate(s: &State, req: &ApiRequest, query: &Query) -> Result<Vec<String>, ApiError> {
    let bearer = req
        .authorization
        .as_deref()
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .or_else(|| query.get("accessToken"))
        .or_else(|| query.get("oauthToken"));
    let realm = "Bearer realm=\"https://accounts.google.com/\"";
    let Some(token) = bearer else {
        let mut e = ApiError::unauthenticated(format!(
            "Request is missing required authentication credential. {AUTH_HELP}"
        ));
        e.headers.push(("WWW-Authenticate".into(), realm.into()));
        return Err(e);
    };
    match s.tokens.get(token) {
        Some(t) if t.expires > Instant::now() => Ok(t.scopes.clone()),
        _ => {
            let mut e = ApiError::unauthenticated(format!(
                "Request had invalid authentication credentials. {AUTH_HELP}"
            ));
            e.headers.push((
                "WWW-Authenticate".into(),
                format!("{realm}, error=\"invalid_token\""),
            ));
            Err(e)
        }
    }
}

fn run(s: &mut State, req: &ApiRequest, query: &Query, r: &Route) -> Result<Json, ApiError> {
    let trusted = req.via == Via::Handle;
    let granted = if trusted {
        all_scopes()
    } else {
        authenticate(s, req, query)?
    };
    if !trusted {
        let needed = scopes_for(r.id);
        if !needed
            .iter()
            .any(|n| granted.iter().any(|g| *g == format!("{SCOPE_PREFIX}{n}")))
        {
            let mut e =
                ApiError::permission_denied("Request had insufficient authentication scopes.");
            e.headers.push((
                "WWW-Authenticate".into(),
                format!(
                    "Bearer realm=\"https://accounts.google.com/\", error=\"insufficient_scope\", scope=\"{}\"",
                    needed
                        .iter()
                        .map(|n| format!("{SCOPE_PREFIX}{n}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            ));
            return Err(e);
        }
        s.faults.before()?;
    }
    query.check(params_for(r.id))?;
    let emails = granted
        .iter()
        .any(|g| *g == format!("{SCOPE_PREFIX}profile.emails"));
    let body = {
        let mut cx = Cx {
            s,
            q: query,
            body: &req.body,
            args: &r.args,
            emails,
            id: r.id,
        };
        cx.dispatch()?
    };
    if !trusted && req.method != "GET" && s.faults.after_commit > 0 {
        s.faults.after_commit -= 1;
        return Err(ApiError::new(
            503,
            "UNAVAILABLE",
            "The service is currently unavailable.",
        ));
    }
    Ok(body)
}

struct Cx<'a> {
    s: &'a mut State,
    q: &'a Query,
    body: &'a [u8],
    args: &'a [String],
    emails: bool,
    id: &'static str,
}

fn empty() -> Json {
    json!({})
}

impl Cx<'_> {
    fn dispatch(&mut self) -> Result<Json, ApiError> {
        match self.id {
            "courses.list" => self.courses_list(),
            "courses.create" => self.courses_create(),
            "courses.get" => {
                let i = self.course(0)?;
                Ok(self.s.courses[i].to_json())
            }
            "courses.patch" => self.courses_patch(),
            "courses.update" => self.courses_update(),
            "courses.delete" => self.courses_delete(),
            "courses.aliases.list" => self.aliases_list(),
            "courses.aliases.create" => self.aliases_create(),
            "courses.aliases.delete" => self.aliases_delete(),
            "courses.teachers.list" => self.members_list(Role::Teacher),
            "courses.teachers.create" => self.members_create(Role::Teacher),
            "courses.teachers.get" => self.members_get(Role::Teacher),
            "courses.teachers.delete" => self.members_delete(Role::Teacher),
            "courses.students.list" => self.members_list(Role::Student),
            "courses.students.create" => self.members_create(Role::Student),
            "courses.students.get" => self.members_get(Role::Student),
            "courses.students.delete" => self.members_delete(Role::Student),
            "invitations.list" => self.invitations_list(),
            "invitations.create" => self.invitations_create(),
            "invitations.get" => {
                let inv = self.invitation(0)?;
                Ok(inv.to_json())
            }
            "invitations.delete" => {
                let inv = self.invitation(0)?;
                self.s.invitations.retain(|i| i.id != inv.id);
                Ok(empty())
            }
            "invitations.accept" => {
                let inv = self.invitation(0)?;
                if inv.user_id != self.s.config.user.id {
                    return Err(ApiError::denied());
                }
                accept_invitation(self.s, &inv.id)?;
                Ok(empty())
            }
            "userProfiles.get" => match self.s.find_user(&self.args[0]) {
                Some(u) => Ok(u.profile(self.emails)),
                None => Err(ApiError::denied()),
            },
            "courses.topics.list" => self.topics_list(),
            "courses.topics.create" => self.topics_create(),
            "courses.topics.get" => {
                let (i, t) = self.topic()?;
                Ok(self.s.courses[i].topics[t].to_json())
            }
            "courses.topics.patch" => self.topics_patch(),
            "courses.topics.delete" => self.topics_delete(),
            "courses.courseWork.list" => self.work_list(),
            "courses.courseWork.create" => self.work_create(),
            "courses.courseWork.get" => {
                let (i, w) = self.work(1)?;
                Ok(self.s.courses[i].course_work[w].to_json())
            }
            "courses.courseWork.patch" => self.work_patch(),
            "courses.courseWork.delete" => self.work_delete(),
            "courses.courseWork.studentSubmissions.list" => self.submissions_list(),
            "courses.courseWork.studentSubmissions.get" => {
                let (i, n) = self.submission()?;
                Ok(self.s.courses[i].submissions[n].to_json())
            }
            "courses.courseWork.studentSubmissions.patch" => self.submissions_patch(),
            _ => Err(ApiError::not_found()),
        }
    }

    fn me(&self) -> String {
        self.s.config.user.id.clone()
    }

    fn admin(&self) -> bool {
        self.s.config.admin
    }

    /// The course named by path argument `arg` (an id or an alias), which
    /// the requesting user may see.
    fn course(&self, arg: usize) -> Result<usize, ApiError> {
        self.course_by(&self.args[arg])
    }

    fn course_by(&self, ident: &str) -> Result<usize, ApiError> {
        let i = self.s.course_index(ident).ok_or_else(ApiError::not_found)?;
        let me = self.me();
        let c = &self.s.courses[i];
        if self.admin() || c.is_teacher(&me) || c.is_student(&me) {
            Ok(i)
        } else {
            Err(ApiError::denied())
        }
    }

    /// The requesting user may change the course (a domain admin or one of
    /// its teachers).
    fn teach(&self, i: usize) -> Result<(), ApiError> {
        if self.admin() || self.s.courses[i].is_teacher(&self.me()) {
            Ok(())
        } else {
            Err(ApiError::denied())
        }
    }

    fn modifiable(&self, i: usize) -> Result<(), ApiError> {
        if self.s.courses[i].course_state == "ARCHIVED" {
            Err(ApiError::failed_precondition(
                "@CourseNotModifiable The requested course is not modifiable (it is archived).",
            ))
        } else {
            Ok(())
        }
    }

    fn body(
        &self,
        root: &str,
        fields: &'static [(&'static str, wire::Kind)],
    ) -> Result<Map<String, Json>, ApiError> {
        parse_body(self.body, root, fields)
    }

    fn page(
        &self,
        key: &str,
        items: Vec<(Vec<i64>, Json)>,
        default_size: usize,
    ) -> Result<Json, ApiError> {
        let size = self
            .q
            .page_size(default_size, self.s.config.max_page_size)?;
        let fp = self.q.fingerprint(self.id, self.args);
        let (items, next) = paginate(items, self.q, fp, size)?;
        Ok(list_body(key, items, next))
    }

    fn default_page(&self) -> usize {
        self.s.config.default_page_size
    }

    // --- courses --------------------------------------------------------

    fn courses_list(&mut self) -> Result<Json, ApiError> {
        let teacher = self.q.get("teacherId");
        let student = self.q.get("studentId");
        if teacher.is_some() && student.is_some() {
            return Err(ApiError::invalid(
                "Only one of teacher_id and student_id may be specified.",
            ));
        }
        let resolve = |ident: Option<&str>| -> Result<Option<String>, ApiError> {
            match ident {
                None => Ok(None),
                Some(i) => self
                    .s
                    .find_user(i)
                    .map(|u| Some(u.id))
                    .ok_or_else(ApiError::not_found),
            }
        };
        let teacher = resolve(teacher)?;
        let student = resolve(student)?;
        let states = self.q.all("courseStates");
        for st in &states {
            if !COURSE_STATES.contains(&st.as_str()) {
                return Err(ApiError::invalid(format!(
                    "Invalid value at 'course_states' (type.googleapis.com/google.classroom.v1.Course.CourseState), \"{st}\""
                )));
            }
        }
        let me = self.me();
        let admin = self.admin();
        let items = self
            .s
            .courses
            .iter()
            .filter(|c| admin || c.is_teacher(&me) || c.is_student(&me))
            .filter(|c| teacher.as_ref().is_none_or(|t| c.is_teacher(t)))
            .filter(|c| student.as_ref().is_none_or(|t| c.is_student(t)))
            .filter(|c| {
                states.is_empty()
                    || states.iter().any(|s| s == "COURSE_STATE_UNSPECIFIED")
                    || states.contains(&c.course_state)
            })
            .map(|c| (vec![-(c.seq as i64)], c.to_json()))
            .collect();
        self.page("courses", items, self.default_page())
    }

    fn courses_create(&mut self) -> Result<Json, ApiError> {
        let b = self.body("course", COURSE)?;
        let name = text(&b, "name").to_string();
        check_course_name(&name)?;
        check_course_lengths(&b)?;
        let owner_ident = text(&b, "ownerId");
        if owner_ident.is_empty() {
            return Err(ApiError::invalid("owner_id must be specified."));
        }
        let owner = self
            .s
            .find_user(owner_ident)
            .ok_or_else(ApiError::not_found)?;
        if !self.admin() {
            let me = self.s.config.user.clone();
            if owner.id != me.id || !me.can_create_courses {
                return Err(ApiError::denied());
            }
        }
        if !owner.can_create_courses {
            return Err(ApiError::failed_precondition(
                "@UserCannotOwnCourse The user cannot own a course.",
            ));
        }
        let alias = text(&b, "id").to_string();
        if !alias.is_empty() {
            check_alias(&alias)?;
            if alias.starts_with("d:") && !self.admin() {
                return Err(ApiError::denied());
            }
            if self.s.course_index(&alias).is_some() {
                return Err(ApiError::already_exists());
            }
        }
        let state = match text(&b, "courseState") {
            "" | "COURSE_STATE_UNSPECIFIED" => "PROVISIONED".to_string(),
            other => other.to_string(),
        };
        let id = self.s.new_course_id();
        let stamp = self.s.stamp();
        let seq = self.s.next_seq();
        let member_seq = self.s.next_seq();
        let code = self.s.enrollment_code();
        let (teacher_group_email, course_group_email) = self.s.group_emails(&name, &id);
        let course = Course {
            id,
            aliases: if alias.is_empty() {
                vec![]
            } else {
                vec![alias]
            },
            name,
            section: text(&b, "section").into(),
            description_heading: text(&b, "descriptionHeading").into(),
            description: text(&b, "description").into(),
            room: text(&b, "room").into(),
            subject: text(&b, "subject").into(),
            levels: text(&b, "levels").into(),
            owner_id: owner.id.clone(),
            course_state: state,
            creation_time: stamp.clone(),
            update_time: stamp,
            enrollment_code: code,
            teacher_group_email,
            course_group_email,
            teachers: vec![Member {
                user_id: owner.id,
                seq: member_seq,
            }],
            students: vec![],
            topics: vec![],
            course_work: vec![],
            submissions: vec![],
            seq,
        };
        let json = course.to_json();
        self.s.courses.push(course);
        Ok(json)
    }

    fn courses_patch(&mut self) -> Result<Json, ApiError> {
        let i = self.course(0)?;
        let mask = update_mask(
            self.q,
            &[
                "courseState",
                "description",
                "descriptionHeading",
                "name",
                "ownerId",
                "room",
                "section",
                "subject",
                "learningStandardSettings",
                "levels",
            ],
        )?;
        let b = self.body("course", COURSE)?;
        self.teach(i)?;
        if self.s.courses[i].course_state == "ARCHIVED" && mask.iter().any(|m| m != "courseState") {
            self.modifiable(i)?;
        }
        check_course_lengths(&b)?;
        let mut c = self.s.courses[i].clone();
        for field in &mask {
            let v = text(&b, field).to_string();
            match field.as_str() {
                "name" => {
                    check_course_name(&v)?;
                    c.name = v;
                }
                "section" => c.section = v,
                "descriptionHeading" => c.description_heading = v,
                "description" => c.description = v,
                "room" => c.room = v,
                "subject" => c.subject = v,
                "levels" => c.levels = v,
                "courseState" => {
                    if v.is_empty() || v == "COURSE_STATE_UNSPECIFIED" {
                        return Err(ApiError::invalid("course_state must be specified."));
                    }
                    c.course_state = v;
                }
                "ownerId" => {
                    if !self.admin() {
                        return Err(ApiError::denied());
                    }
                    if v.is_empty() {
                        return Err(ApiError::invalid("owner_id must be specified."));
                    }
                    let owner = self.s.find_user(&v).ok_or_else(ApiError::not_found)?;
                    if !c.is_teacher(&owner.id) {
                        return Err(ApiError::failed_precondition(
                            "@IneligibleOwner The new owner must already be a teacher of the course.",
                        ));
                    }
                    c.owner_id = owner.id;
                }
                _ => {}
            }
        }
        c.update_time = self.s.stamp();
        let json = c.to_json();
        self.s.courses[i] = c;
        Ok(json)
    }

    fn courses_update(&mut self) -> Result<Json, ApiError> {
        let i = self.course(0)?;
        let b = self.body("course", COURSE)?;
        self.teach(i)?;
        let name = text(&b, "name").to_string();
        check_course_name(&name)?;
        check_course_lengths(&b)?;
        let state = text(&b, "courseState").to_string();
        if self.s.courses[i].course_state == "ARCHIVED" && (state.is_empty() || state == "ARCHIVED")
        {
            self.modifiable(i)?;
        }
        let stamp = self.s.stamp();
        let c = &mut self.s.courses[i];
        c.name = name;
        c.section = text(&b, "section").into();
        c.description_heading = text(&b, "descriptionHeading").into();
        c.description = text(&b, "description").into();
        c.room = text(&b, "room").into();
        c.subject = text(&b, "subject").into();
        if b.contains_key("levels") {
            c.levels = text(&b, "levels").into();
        }
        if !state.is_empty() && state != "COURSE_STATE_UNSPECIFIED" {
            c.course_state = state;
        }
        c.update_time = stamp;
        Ok(c.to_json())
    }

    fn courses_delete(&mut self) -> Result<Json, ApiError> {
        let i = self.course(0)?;
        if !self.admin() && self.s.courses[i].owner_id != self.me() {
            return Err(ApiError::denied());
        }
        let c = self.s.courses.remove(i);
        self.s.invitations.retain(|inv| inv.course_id != c.id);
        Ok(empty())
    }

    // --- aliases --------------------------------------------------------

    fn aliases_list(&mut self) -> Result<Json, ApiError> {
        let i = self.course(0)?;
        let items = self.s.courses[i]
            .aliases
            .iter()
            .enumerate()
            .map(|(n, a)| (vec![n as i64], json!({"alias": a})))
            .collect();
        self.page("aliases", items, self.default_page())
    }

    fn aliases_create(&mut self) -> Result<Json, ApiError> {
        let i = self.course(0)?;
        let b = self.body("course_alias", COURSE_ALIAS)?;
        let alias = text(&b, "alias").to_string();
        check_alias(&alias)?;
        if alias.starts_with("d:") && !self.admin() {
            return Err(ApiError::denied());
        }
        self.teach(i)?;
        if self.s.course_index(&alias).is_some() {
            return Err(ApiError::already_exists());
        }
        self.s.courses[i].aliases.push(alias.clone());
        Ok(json!({"alias": alias}))
    }

    fn aliases_delete(&mut self) -> Result<Json, ApiError> {
        let i = self.course(0)?;
        let alias = self.args[1].clone();
        if !(alias.starts_with("d:") || alias.starts_with("p:")) {
            return Err(ApiError::invalid(
                "The alias to delete may not be the Classroom-assigned identifier.",
            ));
        }
        if alias.starts_with("d:") && !self.admin() {
            return Err(ApiError::failed_precondition(
                "A domain-scoped alias can be deleted only by a domain administrator.",
            ));
        }
        self.teach(i)?;
        let c = &mut self.s.courses[i];
        let before = c.aliases.len();
        c.aliases.retain(|a| *a != alias);
        if c.aliases.len() == before {
            return Err(ApiError::not_found());
        }
        Ok(empty())
    }

    // --- teachers and students ------------------------------------------

    fn member_json(&self, course_id: &str, user_id: &str) -> Json {
        let profile = match self.s.users.iter().find(|u| u.id == user_id) {
            Some(u) => u.profile(self.emails),
            None => json!({"id": user_id}),
        };
        json!({"courseId": course_id, "userId": user_id, "profile": profile})
    }

    fn members_list(&mut self, role: Role) -> Result<Json, ApiError> {
        let i = self.course(0)?;
        let c = &self.s.courses[i];
        let items = role
            .members(c)
            .iter()
            .map(|m| (vec![m.seq as i64], self.member_json(&c.id, &m.user_id)))
            .collect();
        // The documented default for both lists.
        self.page(role.key(), items, 30)
    }

    fn members_create(&mut self, role: Role) -> Result<Json, ApiError> {
        let i = self.course(0)?;
        let root = match role {
            Role::Teacher => "teacher",
            Role::Student => "student",
        };
        let b = self.body(root, MEMBER)?;
        let ident = text(&b, "userId");
        if ident.is_empty() {
            return Err(ApiError::invalid("user_id must be specified."));
        }
        let user = self.s.find_user(ident).ok_or_else(ApiError::not_found)?;
        if !self.admin() {
            // Non-admins invite; a student may join with the enrollment code.
            let joins_self = role == Role::Student
                && user.id == self.me()
                && self.q.get("enrollmentCode") == Some(self.s.courses[i].enrollment_code.as_str());
            if !joins_self {
                return Err(ApiError::denied());
            }
        }
        self.modifiable(i)?;
        add_member(self.s, i, &user.id, role)?;
        let id = self.s.courses[i].id.clone();
        Ok(self.member_json(&id, &user.id))
    }

    /// The member named by path argument 1, of the course of argument 0.
    fn member(&self, role: Role) -> Result<(usize, String), ApiError> {
        let i = self.course(0)?;
        let user = self
            .s
            .find_user(&self.args[1])
            .ok_or_else(ApiError::not_found)?;
        if role
            .members(&self.s.courses[i])
            .iter()
            .any(|m| m.user_id == user.id)
        {
            Ok((i, user.id))
        } else {
            Err(ApiError::not_found())
        }
    }

    fn members_get(&mut self, role: Role) -> Result<Json, ApiError> {
        let (i, user) = self.member(role)?;
        Ok(self.member_json(&self.s.courses[i].id, &user))
    }

    fn members_delete(&mut self, role: Role) -> Result<Json, ApiError> {
        let (i, user) = self.member(role)?;
        self.teach(i)?;
        let c = &mut self.s.courses[i];
        match role {
            Role::Teacher => {
                if c.owner_id == user {
                    return Err(ApiError::failed_precondition(
                        "@CannotRemoveCourseOwner The owner of the course cannot be removed as a teacher.",
                    ));
                }
                c.teachers.retain(|m| m.user_id != user);
            }
            Role::Student => c.students.retain(|m| m.user_id != user),
        }
        Ok(empty())
    }

    // --- invitations ----------------------------------------------------

    fn invitation(&self, arg: usize) -> Result<Invitation, ApiError> {
        self.s
            .invitations
            .iter()
            .find(|inv| inv.id == self.args[arg])
            .cloned()
            .ok_or_else(ApiError::not_found)
    }

    fn invitations_list(&mut self) -> Result<Json, ApiError> {
        let course = self.q.get("courseId");
        let user = self.q.get("userId");
        if course.is_none() && user.is_none() {
            return Err(ApiError::invalid(
                "At least one of course_id or user_id must be specified.",
            ));
        }
        // An unknown course or user matches nothing.
        let course = course.map(|c| {
            self.s
                .course_index(c)
                .map(|i| self.s.courses[i].id.clone())
                .unwrap_or_default()
        });
        let user = user.map(|u| self.s.find_user(u).map(|u| u.id).unwrap_or_default());
        let items = self
            .s
            .invitations
            .iter()
            .filter(|inv| course.as_ref().is_none_or(|c| inv.course_id == *c))
            .filter(|inv| user.as_ref().is_none_or(|u| inv.user_id == *u))
            .map(|inv| (vec![inv.seq as i64], inv.to_json()))
            .collect();
        self.page("invitations", items, 500)
    }

    fn invitations_create(&mut self) -> Result<Json, ApiError> {
        let b = self.body("invitation", INVITATION)?;
        let course = text(&b, "courseId");
        let ident = text(&b, "userId");
        let role = text(&b, "role");
        if course.is_empty() || ident.is_empty() {
            return Err(ApiError::invalid(
                "course_id and user_id must be specified.",
            ));
        }
        if role.is_empty() || role == ROLES[0] {
            return Err(ApiError::invalid("role must be specified."));
        }
        let i = self.course_by(course)?;
        let user = self.s.find_user(ident).ok_or_else(ApiError::not_found)?;
        self.teach(i)?;
        let c = &self.s.courses[i];
        let already = match role {
            "STUDENT" => c.is_student(&user.id) || c.is_teacher(&user.id),
            "TEACHER" => c.is_teacher(&user.id),
            _ => c.owner_id == user.id,
        };
        if already {
            return Err(ApiError::failed_precondition(
                "The user already has this role or a role with greater permissions in the course.",
            ));
        }
        if role == "OWNER" && !c.is_teacher(&user.id) {
            return Err(ApiError::failed_precondition(
                "@IneligibleOwner The invited owner must already be a teacher of the course.",
            ));
        }
        if self
            .s
            .invitations
            .iter()
            .any(|inv| inv.course_id == c.id && inv.user_id == user.id)
        {
            return Err(ApiError::already_exists());
        }
        let owner = c.owner_id.clone();
        let course_id = c.id.clone();
        let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
        let sent = self.s.invitations_sent.entry((owner, day)).or_insert(0);
        if *sent >= self.s.config.invitation_daily_cap {
            return Err(ApiError::exhausted(
                "Resource has been exhausted (e.g. check quota): the course owner has sent too many invitations today.",
            ));
        }
        *sent += 1;
        let inv = Invitation {
            id: self.s.new_id(),
            course_id,
            user_id: user.id,
            role: role.to_string(),
            seq: self.s.next_seq(),
        };
        let json = inv.to_json();
        self.s.invitations.push(inv);
        Ok(json)
    }

    // --- topics ---------------------------------------------------------

    fn topic(&self) -> Result<(usize, usize), ApiError> {
        let i = self.course(0)?;
        let t = self.s.courses[i]
            .topics
            .iter()
            .position(|t| t.topic_id == self.args[1])
            .ok_or_else(ApiError::not_found)?;
        Ok((i, t))
    }

    fn topics_list(&mut self) -> Result<Json, ApiError> {
        let i = self.course(0)?;
        let items = self.s.courses[i]
            .topics
            .iter()
            .map(|t| (vec![-(t.seq as i64)], t.to_json()))
            .collect();
        self.page("topic", items, self.default_page())
    }

    fn topics_create(&mut self) -> Result<Json, ApiError> {
        let i = self.course(0)?;
        let b = self.body("topic", TOPIC)?;
        let name = topic_name(text(&b, "name"))?;
        self.teach(i)?;
        self.modifiable(i)?;
        if self.s.courses[i].topics.iter().any(|t| t.name == name) {
            return Err(ApiError::already_exists());
        }
        let topic = Topic {
            topic_id: self.s.new_id(),
            course_id: self.s.courses[i].id.clone(),
            name,
            update_time: self.s.stamp(),
            seq: self.s.next_seq(),
        };
        let json = topic.to_json();
        self.s.courses[i].topics.push(topic);
        Ok(json)
    }

    fn topics_patch(&mut self) -> Result<Json, ApiError> {
        let (i, t) = self.topic()?;
        let mask = update_mask(self.q, &["name"])?;
        let b = self.body("topic", TOPIC)?;
        self.teach(i)?;
        self.modifiable(i)?;
        if mask.iter().any(|m| m == "name") {
            let name = topic_name(text(&b, "name"))?;
            let c = &self.s.courses[i];
            if c.topics
                .iter()
                .enumerate()
                .any(|(n, x)| n != t && x.name == name)
            {
                return Err(ApiError::failed_precondition(
                    "A topic with this name already exists in the course.",
                ));
            }
            let stamp = self.s.stamp();
            let topic = &mut self.s.courses[i].topics[t];
            topic.name = name;
            topic.update_time = stamp;
        }
        Ok(self.s.courses[i].topics[t].to_json())
    }

    fn topics_delete(&mut self) -> Result<Json, ApiError> {
        let (i, t) = self.topic()?;
        self.teach(i)?;
        let c = &mut self.s.courses[i];
        let topic = c.topics.remove(t);
        for w in &mut c.course_work {
            if w.topic_id == topic.topic_id {
                w.topic_id.clear();
            }
        }
        Ok(empty())
    }

    // --- course work ----------------------------------------------------

    /// The course work named by path argument `arg` of the course of argument 0.
    fn work(&self, arg: usize) -> Result<(usize, usize), ApiError> {
        let i = self.course(0)?;
        let w = self.s.courses[i]
            .course_work
            .iter()
            .position(|w| w.id == self.args[arg])
            .ok_or_else(ApiError::not_found)?;
        Ok((i, w))
    }

    fn associated(&self, i: usize, w: usize) -> Result<(), ApiError> {
        if self.s.courses[i].course_work[w].associated_with_developer {
            Ok(())
        } else {
            Err(ApiError::permission_denied(
                "@ProjectPermissionDenied The Developer Console project is not permitted to make this request.",
            ))
        }
    }

    fn work_list(&mut self) -> Result<Json, ApiError> {
        let i = self.course(0)?;
        let mut states = self.q.all("courseWorkStates");
        for st in &states {
            if !WORK_STATES.contains(&st.as_str()) {
                return Err(ApiError::invalid(format!(
                    "Invalid value at 'course_work_states' (type.googleapis.com/google.classroom.v1.CourseWork.CourseWorkState), \"{st}\""
                )));
            }
        }
        if states.is_empty() {
            states.push("PUBLISHED".into());
        }
        let order = parse_order(self.q.get("orderBy").unwrap_or("updateTime desc"))?;
        let items = self.s.courses[i]
            .course_work
            .iter()
            .filter(|w| states.contains(&w.state))
            .map(|w| {
                let mut key: Vec<i64> = order
                    .iter()
                    .map(|(field, desc)| {
                        let v = match field.as_str() {
                            "updateTime" => millis(&w.update_time),
                            _ => w.due_millis().unwrap_or(i64::MAX),
                        };
                        if *desc { -v } else { v }
                    })
                    .collect();
                key.push(w.seq as i64);
                (key, w.to_json())
            })
            .collect();
        self.page("courseWork", items, self.default_page())
    }

    fn work_create(&mut self) -> Result<Json, ApiError> {
        let i = self.course(0)?;
        let b = self.body("course_work", COURSE_WORK)?;
        self.teach(i)?;
        self.modifiable(i)?;
        let me = self.me();
        let work = new_work(self.s, i, &b, &me, true)?;
        let json = work.to_json();
        self.s.courses[i].course_work.push(work);
        assign(self.s, i);
        Ok(json)
    }

    fn work_patch(&mut self) -> Result<Json, ApiError> {
        let (i, w) = self.work(1)?;
        let mask = update_mask(
            self.q,
            &[
                "title",
                "description",
                "state",
                "dueDate",
                "dueTime",
                "maxPoints",
                "scheduledTime",
                "submissionModificationMode",
                "topicId",
                "gradingPeriodId",
            ],
        )?;
        let b = self.body("course_work", COURSE_WORK)?;
        self.teach(i)?;
        self.associated(i, w)?;
        self.modifiable(i)?;
        let mut work = self.s.courses[i].course_work[w].clone();
        for field in &mask {
            let v = text(&b, field).to_string();
            match field.as_str() {
                "title" => {
                    check_title(&v)?;
                    work.title = v;
                }
                "description" => work.description = v,
                "state" => match v.as_str() {
                    "PUBLISHED" | "DRAFT" => work.state = v,
                    _ => return Err(ApiError::invalid("state must be PUBLISHED or DRAFT.")),
                },
                "dueDate" => work.due_date = b.get("dueDate").cloned(),
                "dueTime" => work.due_time = b.get("dueTime").cloned(),
                "maxPoints" => work.max_points = max_points(b.get("maxPoints"))?,
                "scheduledTime" => work.scheduled_time = v,
                "submissionModificationMode" => {
                    work.submission_modification_mode = if v.is_empty() {
                        "MODIFIABLE_UNTIL_TURNED_IN".into()
                    } else {
                        v
                    }
                }
                "topicId" => {
                    if !v.is_empty() && !self.s.courses[i].topics.iter().any(|t| t.topic_id == v) {
                        return Err(ApiError::invalid(format!(
                            "topic_id '{v}' does not match a topic of the course."
                        )));
                    }
                    work.topic_id = v;
                }
                "gradingPeriodId" => work.grading_period_id = v,
                _ => {}
            }
        }
        let (d, t) = due(work.due_date.take(), work.due_time.take())?;
        work.due_date = d;
        work.due_time = t;
        work.update_time = self.s.stamp();
        let json = work.to_json();
        self.s.courses[i].course_work[w] = work;
        Ok(json)
    }

    fn work_delete(&mut self) -> Result<Json, ApiError> {
        let (i, w) = self.work(1)?;
        self.teach(i)?;
        self.associated(i, w)?;
        let c = &mut self.s.courses[i];
        let work = c.course_work.remove(w);
        c.submissions.retain(|s| s.course_work_id != work.id);
        Ok(empty())
    }

    // --- student submissions --------------------------------------------

    fn submission(&mut self) -> Result<(usize, usize), ApiError> {
        let i = self.course(0)?;
        refresh_late(&mut self.s.courses[i]);
        let c = &self.s.courses[i];
        let n = c
            .submissions
            .iter()
            .position(|s| s.course_work_id == self.args[1] && s.id == self.args[2])
            .ok_or_else(ApiError::not_found)?;
        Ok((i, n))
    }

    fn submissions_list(&mut self) -> Result<Json, ApiError> {
        let i = self.course(0)?;
        let work = self.args[1].clone();
        if work != "-" && !self.s.courses[i].course_work.iter().any(|w| w.id == work) {
            return Err(ApiError::not_found());
        }
        let user = match self.q.get("userId") {
            None => None,
            Some(u) => Some(self.s.find_user(u).map(|u| u.id).unwrap_or_default()),
        };
        let states = self.q.all("states");
        for st in &states {
            if !SUBMISSION_STATES.contains(&st.as_str()) {
                return Err(ApiError::invalid(format!(
                    "Invalid value at 'states' (type.googleapis.com/google.classroom.v1.StudentSubmission.SubmissionState), \"{st}\""
                )));
            }
        }
        let late = match self.q.get("late") {
            None | Some("LATE_VALUES_UNSPECIFIED") => None,
            Some("LATE_ONLY") => Some(true),
            Some("NOT_LATE_ONLY") => Some(false),
            Some(other) => {
                return Err(ApiError::invalid(format!(
                    "Invalid value at 'late' (type.googleapis.com/google.classroom.v1.ListStudentSubmissionsRequest.LateValues), \"{other}\""
                )));
            }
        };
        refresh_late(&mut self.s.courses[i]);
        let c = &self.s.courses[i];
        let items = c
            .submissions
            .iter()
            .filter(|s| work == "-" || s.course_work_id == work)
            .filter(|s| c.is_student(&s.user_id))
            .filter(|s| user.as_ref().is_none_or(|u| s.user_id == *u))
            .filter(|s| states.is_empty() || states.contains(&s.state))
            .filter(|s| late.is_none_or(|l| s.late == l))
            .map(|s| (vec![s.seq as i64], s.to_json()))
            .collect();
        self.page("studentSubmissions", items, self.default_page())
    }

    fn submissions_patch(&mut self) -> Result<Json, ApiError> {
        let (i, n) = self.submission()?;
        let mask = update_mask(self.q, &["assignedGrade", "draftGrade"])?;
        let b = self.body("student_submission", STUDENT_SUBMISSION)?;
        self.teach(i)?;
        let w = self.s.courses[i]
            .course_work
            .iter()
            .position(|w| w.id == self.args[1])
            .ok_or_else(ApiError::not_found)?;
        self.associated(i, w)?;
        let mut grades = Vec::new();
        for field in &mask {
            let grade = match b.get(field) {
                None => None,
                Some(v) => Some(grade_value(v)?),
            };
            grades.push((field.clone(), grade));
        }
        let me = self.me();
        for (field, grade) in grades {
            set_grade(self.s, i, n, &field, grade, &me);
        }
        Ok(self.s.courses[i].submissions[n].to_json())
    }
}

/// Course work from a create body, checked as Classroom checks it.
pub(crate) fn new_work(
    s: &mut State,
    i: usize,
    b: &Map<String, Json>,
    creator: &str,
    api: bool,
) -> Result<CourseWork, ApiError> {
    let title = text(b, "title").to_string();
    check_title(&title)?;
    let work_type = text(b, "workType").to_string();
    if work_type.is_empty() || work_type == "COURSE_WORK_TYPE_UNSPECIFIED" {
        return Err(ApiError::invalid("work_type must be specified."));
    }
    let mcq = b.get("multipleChoiceQuestion").cloned();
    if (work_type == "MULTIPLE_CHOICE_QUESTION") != mcq.is_some() {
        return Err(ApiError::invalid(
            "multiple_choice_question must be set if and only if work_type is MULTIPLE_CHOICE_QUESTION.",
        ));
    }
    let state = match text(b, "state") {
        "" | "COURSE_WORK_STATE_UNSPECIFIED" => "DRAFT".to_string(),
        "DELETED" => {
            return Err(ApiError::invalid("Course work cannot be created DELETED."));
        }
        s => s.to_string(),
    };
    let max_points = max_points(b.get("maxPoints"))?;
    let (due_date, due_time) = due(b.get("dueDate").cloned(), b.get("dueTime").cloned())?;
    let topic_id = text(b, "topicId").to_string();
    if !topic_id.is_empty() && !s.courses[i].topics.iter().any(|t| t.topic_id == topic_id) {
        return Err(ApiError::invalid(format!(
            "topic_id '{topic_id}' does not match a topic of the course."
        )));
    }
    let assignee_mode = match text(b, "assigneeMode") {
        "" | "ASSIGNEE_MODE_UNSPECIFIED" => "ALL_STUDENTS".to_string(),
        m => m.to_string(),
    };
    let student_ids: Vec<String> = b
        .get("individualStudentsOptions")
        .and_then(|o| o.get("studentIds"))
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if assignee_mode == "INDIVIDUAL_STUDENTS" {
        if student_ids.is_empty() {
            return Err(ApiError::invalid(
                "individual_students_options.student_ids must be set with INDIVIDUAL_STUDENTS.",
            ));
        }
        if let Some(id) = student_ids.iter().find(|id| !s.courses[i].is_student(id)) {
            return Err(ApiError::invalid(format!(
                "'{id}' is not a student of the course."
            )));
        }
    } else if !student_ids.is_empty() {
        return Err(ApiError::invalid(
            "individual_students_options is set only with INDIVIDUAL_STUDENTS.",
        ));
    }
    let materials = b
        .get("materials")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    if materials.len() > 20 {
        return Err(ApiError::invalid(
            "Course work may have at most 20 materials.",
        ));
    }
    let stamp = s.stamp();
    Ok(CourseWork {
        id: s.new_id(),
        course_id: s.courses[i].id.clone(),
        title,
        description: text(b, "description").into(),
        state,
        work_type,
        max_points,
        topic_id,
        due_date,
        due_time,
        scheduled_time: text(b, "scheduledTime").into(),
        assignee_mode,
        student_ids,
        submission_modification_mode: match text(b, "submissionModificationMode") {
            "" | "SUBMISSION_MODIFICATION_MODE_UNSPECIFIED" => "MODIFIABLE_UNTIL_TURNED_IN".into(),
            m => m.into(),
        },
        creator_user_id: creator.to_string(),
        creation_time: stamp.clone(),
        update_time: stamp,
        associated_with_developer: api,
        materials,
        multiple_choice_question: mcq,
        grading_period_id: text(b, "gradingPeriodId").into(),
        seq: s.next_seq(),
    })
}

/// Which roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Teacher,
    Student,
}

impl Role {
    fn members(self, c: &Course) -> &[Member] {
        match self {
            Role::Teacher => &c.teachers,
            Role::Student => &c.students,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Role::Teacher => "teachers",
            Role::Student => "students",
        }
    }
}

/// The most teachers a course may have.
const TEACHER_LIMIT: usize = 20;

/// Add a teacher or student (refused when already a member of either roster).
pub(crate) fn add_member(
    s: &mut State,
    i: usize,
    user_id: &str,
    role: Role,
) -> Result<(), ApiError> {
    let c = &s.courses[i];
    if c.is_teacher(user_id) || c.is_student(user_id) {
        return Err(ApiError::already_exists());
    }
    if role == Role::Teacher && c.teachers.len() >= TEACHER_LIMIT {
        return Err(ApiError::failed_precondition(
            "@CourseTeacherLimitReached The course has reached the maximum number of teachers.",
        ));
    }
    let course_id = c.id.clone();
    let seq = s.next_seq();
    let member = Member {
        user_id: user_id.to_string(),
        seq,
    };
    let c = &mut s.courses[i];
    match role {
        Role::Teacher => c.teachers.push(member),
        Role::Student => c.students.push(member),
    }
    // Classroom removes the user's pending invitation to the course.
    s.invitations
        .retain(|inv| !(inv.course_id == course_id && inv.user_id == user_id));
    if role == Role::Student {
        assign(s, i);
    }
    Ok(())
}

/// Accept an invitation as the invited user.
pub(crate) fn accept_invitation(s: &mut State, id: &str) -> Result<(), ApiError> {
    let inv = s
        .invitations
        .iter()
        .find(|inv| inv.id == id)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    let i = s
        .course_index(&inv.course_id)
        .ok_or_else(ApiError::not_found)?;
    match inv.role.as_str() {
        "STUDENT" => add_member(s, i, &inv.user_id, Role::Student)?,
        "TEACHER" => {
            let c = &mut s.courses[i];
            c.students.retain(|m| m.user_id != inv.user_id);
            add_member(s, i, &inv.user_id, Role::Teacher)?;
        }
        _ => {
            if !s.courses[i].is_teacher(&inv.user_id) {
                return Err(ApiError::failed_precondition(
                    "@IneligibleOwner The new owner must already be a teacher of the course.",
                ));
            }
            let stamp = s.stamp();
            let c = &mut s.courses[i];
            c.owner_id = inv.user_id.clone();
            c.update_time = stamp;
        }
    }
    s.invitations.retain(|x| x.id != inv.id);
    Ok(())
}

/// Give every student the course work assigned to them a submission
/// (state `CREATED`) if they have none yet.
pub(crate) fn assign(s: &mut State, i: usize) {
    let mut wanted = Vec::new();
    {
        let c = &s.courses[i];
        for w in &c.course_work {
            for m in &c.students {
                let assigned =
                    w.assignee_mode != "INDIVIDUAL_STUDENTS" || w.student_ids.contains(&m.user_id);
                if assigned
                    && !c
                        .submissions
                        .iter()
                        .any(|x| x.course_work_id == w.id && x.user_id == m.user_id)
                {
                    wanted.push((
                        w.id.clone(),
                        w.work_type.clone(),
                        w.associated_with_developer,
                        m.user_id.clone(),
                    ));
                }
            }
        }
    }
    for (work_id, work_type, associated, user_id) in wanted {
        let stamp = s.stamp();
        let id = format!("Cg4I{}", s.new_id());
        let seq = s.next_seq();
        let course_id = s.courses[i].id.clone();
        s.courses[i].submissions.push(Submission {
            id,
            course_id,
            course_work_id: work_id,
            user_id: user_id.clone(),
            state: "CREATED".into(),
            assigned_grade: None,
            draft_grade: None,
            creation_time: stamp.clone(),
            update_time: stamp.clone(),
            course_work_type: work_type,
            associated_with_developer: associated,
            history: vec![json!({"stateHistory": {
                "state": "CREATED",
                "stateTimestamp": stamp,
                "actorUserId": user_id,
            }})],
            late: false,
            seq,
        });
    }
}

/// Set (or clear) `assignedGrade` or `draftGrade` of submission `n`,
/// recording it in the submission's history.
pub(crate) fn set_grade(
    s: &mut State,
    i: usize,
    n: usize,
    field: &str,
    grade: Option<f64>,
    actor: &str,
) {
    let stamp = s.stamp();
    let c = &mut s.courses[i];
    let max = c
        .course_work
        .iter()
        .find(|w| w.id == c.submissions[n].course_work_id)
        .map(|w| w.max_points)
        .unwrap_or(0.0);
    let sub = &mut c.submissions[n];
    let change = if field == "assignedGrade" {
        sub.assigned_grade = grade;
        "ASSIGNED_GRADE_POINTS_EARNED_CHANGE"
    } else {
        sub.draft_grade = grade;
        "DRAFT_GRADE_POINTS_EARNED_CHANGE"
    };
    let mut history = Map::new();
    if let Some(g) = grade {
        history.insert("pointsEarned".into(), json!(g));
    }
    if max != 0.0 {
        history.insert("maxPoints".into(), json!(max));
    }
    history.insert("gradeTimestamp".into(), json!(stamp));
    history.insert("actorUserId".into(), json!(actor));
    history.insert("gradeChangeType".into(), json!(change));
    sub.history.push(json!({"gradeHistory": history}));
    sub.update_time = stamp;
}

/// Work out `late` for the course's submissions: past due and not turned in.
fn refresh_late(c: &mut Course) {
    let now = chrono::Utc::now().timestamp_millis();
    for sub in &mut c.submissions {
        let due = c
            .course_work
            .iter()
            .find(|w| w.id == sub.course_work_id)
            .and_then(CourseWork::due_millis);
        sub.late = due.is_some_and(|d| d < now)
            && matches!(
                sub.state.as_str(),
                "NEW" | "CREATED" | "RECLAIMED_BY_STUDENT"
            );
    }
}

fn millis(stamp: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(stamp)
        .map(|t| t.timestamp_millis())
        .unwrap_or(0)
}

/// `orderBy` of `courseWork.list`: `field [asc|desc]`, comma-separated.
fn parse_order(order: &str) -> Result<Vec<(String, bool)>, ApiError> {
    let mut out = Vec::new();
    for part in order.split(',') {
        let words: Vec<&str> = part.split_whitespace().collect();
        let bad = || ApiError::invalid(format!("Invalid order_by: '{order}'"));
        let field = wire::camel(words.first().ok_or_else(bad)?);
        if field != "updateTime" && field != "dueDate" {
            return Err(bad());
        }
        let desc = match words.get(1) {
            None => false,
            Some(d) if d.eq_ignore_ascii_case("asc") => false,
            Some(d) if d.eq_ignore_ascii_case("desc") => true,
            Some(_) => return Err(bad()),
        };
        if words.len() > 2 {
            return Err(bad());
        }
        out.push((field, desc));
    }
    Ok(out)
}

fn check_course_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::invalid("The course name is required."));
    }
    if name.chars().count() > 750 {
        return Err(ApiError::invalid(
            "The course name must be at most 750 characters.",
        ));
    }
    let lower = name.to_lowercase();
    if lower.contains("http://") || lower.contains("https://") || lower.contains("www.") {
        return Err(ApiError::failed_precondition(
            "@CourseTitleCannotContainUrl The course title cannot contain a URL.",
        ));
    }
    Ok(())
}

fn check_course_lengths(b: &Map<String, Json>) -> Result<(), ApiError> {
    for (field, max) in [
        ("section", 2800),
        ("descriptionHeading", 3600),
        ("description", 30_000),
        ("room", 650),
        ("levels", 999),
    ] {
        if text(b, field).chars().count() > max {
            return Err(ApiError::invalid(format!(
                "{} must be at most {max} characters.",
                wire::snake(field)
            )));
        }
    }
    Ok(())
}

fn check_alias(alias: &str) -> Result<(), ApiError> {
    let scoped = alias.starts_with("d:") || alias.starts_with("p:");
    if !scoped || alias.len() <= 2 || alias.len() > 256 {
        return Err(ApiError::invalid(format!(
            "Invalid alias '{alias}': an alias is `d:` (domain) or `p:` (project) and a name, at most 256 characters."
        )));
    }
    Ok(())
}

fn check_title(title: &str) -> Result<(), ApiError> {
    let n = title.chars().count();
    if title.trim().is_empty() || n > 3000 {
        return Err(ApiError::invalid(
            "The title is required and must be at most 3000 characters.",
        ));
    }
    Ok(())
}

/// A topic name as Classroom keeps it: trimmed, inner whitespace collapsed.
fn topic_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(ApiError::invalid("The topic name must not be empty."));
    }
    if name.chars().count() > 100 {
        return Err(ApiError::invalid(
            "The topic name must be at most 100 characters.",
        ));
    }
    Ok(name)
}

fn max_points(v: Option<&Json>) -> Result<f64, ApiError> {
    let p = v.and_then(Json::as_f64).unwrap_or(0.0);
    if p < 0.0 || p.fract() != 0.0 {
        return Err(ApiError::invalid(
            "max_points must be a non-negative integer value.",
        ));
    }
    Ok(p)
}

fn grade_value(v: &Json) -> Result<f64, ApiError> {
    match v.as_f64() {
        Some(g) if g >= 0.0 => Ok((g * 100.0).round() / 100.0),
        _ => Err(ApiError::invalid("A grade must be a non-negative number.")),
    }
}

/// `dueDate` and `dueTime`: both or neither, each in range.
fn due(date: Option<Json>, time: Option<Json>) -> Result<(Option<Json>, Option<Json>), ApiError> {
    if date.is_some() != time.is_some() {
        return Err(ApiError::invalid(
            "due_date and due_time must be specified together.",
        ));
    }
    let field = |j: &Json, k: &str| j.get(k).and_then(Json::as_i64).unwrap_or(0);
    if let Some(d) = &date
        && chrono::NaiveDate::from_ymd_opt(
            field(d, "year") as i32,
            field(d, "month") as u32,
            field(d, "day") as u32,
        )
        .is_none()
    {
        return Err(ApiError::invalid(format!("Invalid due_date: {d}")));
    }
    if let Some(t) = &time
        && (!(0..24).contains(&field(t, "hours"))
            || !(0..60).contains(&field(t, "minutes"))
            || !(0..60).contains(&field(t, "seconds")))
    {
        return Err(ApiError::invalid(format!("Invalid due_time: {t}")));
    }
    Ok((date, time))
}

impl State {
    /// A user of the directory by numeric id, email (any case) or `me`.
    pub(crate) fn find_user(&self, ident: &str) -> Option<MockUser> {
        if ident == "me" {
            return Some(self.config.user.clone());
        }
        self.users
            .iter()
            .find(|u| {
                if ident.contains('@') {
                    u.email.eq_ignore_ascii_case(ident)
                } else {
                    u.id == ident
                }
            })
            .cloned()
    }

    /// The course with this id or alias.
    pub(crate) fn course_index(&self, ident: &str) -> Option<usize> {
        self.courses
            .iter()
            .position(|c| c.id == ident || c.aliases.iter().any(|a| a == ident))
    }
}

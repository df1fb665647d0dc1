//! A mock Google Classroom API for end-to-end tests, written from the
//! Classroom v1 discovery document (`classroom.v1.json`, revision 20261028,
//! kept in `shared/specs/google-classroom/`): real HTTP on 127.0.0.1
//! (axum), any port. Paths are the document's (`servicePath` is empty and
//! every method path starts `v1/`), bodies are its schemas in proto3 JSON
//! (camelCase out, camelCase or snake_case in, unknown names refused with
//! 400, default values left out of answers, an empty list answered `{}`).
//!
//! Methods served (discovery ids, `classroom.` left off):
//! `courses.list` (`pageSize`/`pageToken`, `teacherId`, `studentId`,
//! `courseStates`; newest first), `courses.create` (an alias in `id`
//! creates the course with that alias, a taken alias answers 409
//! `ALREADY_EXISTS`), `courses.get`/`patch` (`updateMask`)/`update`/
//! `delete` (by id or alias), `courses.aliases.list`/`create`/`delete`,
//! `courses.teachers.*` and `courses.students.*` (`list`, `create` by
//! email or id, `get`, `delete`), `invitations.create`/`list`/`get`/
//! `delete`/`accept`, `userProfiles.get`, `courses.topics.list`/`create`/
//! `get`/`patch`/`delete`, `courses.courseWork.list`/`create`/`get`/
//! `patch`/`delete` and `courses.courseWork.studentSubmissions.list`
//! (`-` for all course work, `userId`, `states`, `late`)/`get`/`patch`
//! (`assignedGrade`, `draftGrade`). Each refuses what its description says
//! it refuses, with the code it names: an unknown user 404, a member
//! already in the course 409, a topic name taken 409 on create and
//! `FAILED_PRECONDITION` on patch, a new owner who is not yet a teacher
//! `FAILED_PRECONDITION` (`@IneligibleOwner`), changes to an archived
//! course `@CourseNotModifiable`, changes to course work the mock's
//! Developer Console project did not create (made in the web UI: the
//! handle's) 403 `@ProjectPermissionDenied`, a profile not in the
//! directory 403. Errors are Google's shape,
//! `{"error": {"code", "message", "status"}}`. Batch calls go to the
//! document's `batchPath` (`POST /batch`; `/batch/classroom/v1` too), at
//! most 50 parts (see [`batch`]).
//!
//! Auth as Google does it: `POST /token` takes the refresh-token grant (the
//! client id, secret and refresh token of [`ClassroomConfig`]; client
//! authentication by form fields or HTTP Basic) and answers Google's token
//! JSON or its errors (`invalid_grant` 400, `invalid_client` 401). Every
//! API call needs `Authorization: Bearer` with a token it issued and not
//! expired, else 401 `UNAUTHENTICATED` with `WWW-Authenticate`; a token
//! without one of the method's scopes (the document's, per method) gets 403.
//! `emailAddress` is in profiles only with the `classroom.profile.emails`
//! scope. The token acts as [`ClassroomConfig::user`], a domain admin by
//! default (`admin: false` plays a teacher: own courses only, members by
//! invitation).
//!
//! Faults are switched at runtime through the [`MockClassroom`] handle: a
//! 429 `RESOURCE_EXHAUSTED` storm (the next N calls, or each call with
//! probability p from a seeded rng, optionally with `Retry-After`), 500
//! `INTERNAL` or 503 `UNAVAILABLE` for the next N calls, writes that are
//! done but answered 503 (the response lost), a daily cap on invitations
//! per course owner (429 past it), and latency per HTTP request. Faults
//! are drawn per API call, so inside a batch one part can answer 429 while
//! the others succeed.
//!
//! The handle also plays the people on the other side (users of the
//! Workspace directory, a teacher who makes course work and grades in the
//! web UI, an invitee who accepts) and shows what the mock holds: requests
//! by method and path pattern (direct or in a batch), each course with its
//! aliases, members, topics, course work and submissions, and a
//! [`Snapshot`] of everything. State lives in memory behind a mutex, for
//! as long as the handle: a host process killed and started again talks to
//! the same server and finds what its last run left.
//!
//! Left out: announcements, course work materials, add-ons, rubrics,
//! student groups, guardians, registrations, grading periods, the custom
//! verbs other than `invitations.accept` (`turnIn`, `return`, `reclaim`,
//! `modifyAttachments`, `modifyAssignees`), partial responses (`fields` is
//! taken and ignored) and Drive folders.

pub mod api;
pub mod batch;
pub mod model;
pub mod oauth;
pub mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value as Json};

pub use model::{Course, CourseWork, Invitation, Member, MockUser, Snapshot, Submission, Topic};
pub use wire::ApiError;

use api::{ApiRequest, Role, Via};
use wire::Answer;

/// The OAuth client the default configuration accepts.
pub const CLIENT_ID: &str = "homeroom-test.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "homeroom-test-secret";
/// The refresh token the default configuration accepts.
pub const REFRESH_TOKEN: &str = "1//homeroom-test-refresh-token";
/// The domain admin the default refresh token acts as (`me`).
pub const ADMIN_EMAIL: &str = "admin@homeroom.test";
pub const ADMIN_ID: &str = "100000000000000000001";

pub const SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/classroom.";

/// Every Classroom scope of the discovery document.
pub fn all_scopes() -> Vec<String> {
    [
        "addons.student",
        "addons.teacher",
        "announcements",
        "announcements.readonly",
        "courses",
        "courses.readonly",
        "coursework.me",
        "coursework.me.readonly",
        "coursework.students",
        "coursework.students.readonly",
        "courseworkmaterials",
        "courseworkmaterials.readonly",
        "guardianlinks.me.readonly",
        "guardianlinks.students",
        "guardianlinks.students.readonly",
        "profile.emails",
        "profile.photos",
        "push-notifications",
        "rosters",
        "rosters.readonly",
        "student-submissions.me.readonly",
        "student-submissions.students.readonly",
        "topics",
        "topics.readonly",
    ]
    .iter()
    .map(|s| format!("{SCOPE_PREFIX}{s}"))
    .collect()
}

#[derive(Debug, Clone)]
pub struct ClassroomConfig {
    pub client_id: String,
    pub client_secret: String,
    /// The one refresh token `/token` takes.
    pub refresh_token: String,
    /// Who the refresh token (and every token it buys) acts as: `me`. In
    /// the directory from the start.
    pub user: MockUser,
    /// Whether [`ClassroomConfig::user`] is a domain administrator (sees
    /// and changes every course, adds members directly, creates `d:`
    /// aliases). A non-admin sees the courses they are in and must invite.
    pub admin: bool,
    /// The scopes the refresh token was granted (all by default).
    pub scopes: Vec<String>,
    pub token_lifetime: Duration,
    /// The page size of lists when `pageSize` is 0 or absent and the
    /// document names no default (teachers and students: 30, invitations:
    /// 500, as documented).
    pub default_page_size: usize,
    /// The most items one page holds, whatever `pageSize` asks.
    pub max_page_size: usize,
    /// Invitations a course owner may be sent in one (UTC) day; past it
    /// `invitations.create` answers 429 `RESOURCE_EXHAUSTED`.
    pub invitation_daily_cap: u32,
    /// The most calls one batch request may hold (Classroom: 50).
    pub max_batch_parts: usize,
    /// Seeds ids, enrollment codes and tokens.
    pub seed: u64,
}

impl Default for ClassroomConfig {
    fn default() -> Self {
        ClassroomConfig {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            refresh_token: REFRESH_TOKEN.into(),
            user: MockUser::new(ADMIN_EMAIL, ADMIN_ID, "Homeroom Admin"),
            admin: true,
            scopes: all_scopes(),
            token_lifetime: Duration::from_secs(3600),
            default_page_size: 100,
            max_page_size: 1000,
            invitation_daily_cap: 100,
            max_batch_parts: 50,
            seed: 20_261_028,
        }
    }
}

/// One API call the mock answered (a batch part is one call).
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedCall {
    pub method: String,
    /// The raw (encoded) path.
    pub path: String,
    pub query: String,
    /// The discovery `flatPath` with a leading slash
    /// (`/v1/courses/{courseId}/teachers`); the path itself when unrouted.
    pub pattern: String,
    /// The discovery method id without `classroom.` (`courses.teachers.create`);
    /// empty when unrouted.
    pub method_id: String,
    /// Whether it came in a batch.
    pub batched: bool,
    pub status: u16,
}

/// How many calls, direct and in batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCount {
    pub direct: u64,
    pub batched: u64,
}

impl CallCount {
    pub fn total(&self) -> u64 {
        self.direct + self.batched
    }
}

#[derive(Debug, Default)]
pub(crate) struct Faults {
    too_many: u32,
    storm: Option<(f64, StdRng)>,
    retry_after: Option<u64>,
    internal: u32,
    unavailable: u32,
    pub(crate) after_commit: u32,
    latency: Duration,
}

impl Faults {
    /// The fault a call gets before it is carried out, if any.
    pub(crate) fn before(&mut self) -> Result<(), ApiError> {
        let storm_hit = match &mut self.storm {
            Some((p, rng)) => rng.r#gen::<f64>() < *p,
            None => false,
        };
        if self.too_many > 0 || storm_hit {
            if !storm_hit {
                self.too_many -= 1;
            }
            let mut e = ApiError::exhausted(
                "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'classroom.googleapis.com'.",
            );
            e.retry_after = self.retry_after;
            return Err(e);
        }
        if self.internal > 0 {
            self.internal -= 1;
            return Err(ApiError::new(
                500,
                "INTERNAL",
                "Internal error encountered.",
            ));
        }
        if self.unavailable > 0 {
            self.unavailable -= 1;
            let mut e = ApiError::new(503, "UNAVAILABLE", "The service is currently unavailable.");
            e.retry_after = self.retry_after;
            return Err(e);
        }
        Ok(())
    }
}

pub(crate) struct Token {
    pub(crate) scopes: Vec<String>,
    pub(crate) expires: Instant,
}

pub(crate) struct State {
    pub(crate) config: ClassroomConfig,
    pub(crate) users: Vec<MockUser>,
    pub(crate) courses: Vec<Course>,
    pub(crate) invitations: Vec<Invitation>,
    /// Invitations sent per (course owner, UTC day).
    pub(crate) invitations_sent: HashMap<(String, String), u32>,
    pub(crate) tokens: HashMap<String, Token>,
    pub(crate) refresh_revoked: bool,
    pub(crate) faults: Faults,
    pub(crate) log: Vec<LoggedCall>,
    pub(crate) batch_requests: u64,
    pub(crate) token_requests: u64,
    seq: u64,
    rng: StdRng,
    last_stamp: DateTime<Utc>,
}

impl State {
    /// A fresh `updateTime`, later than every earlier one.
    pub(crate) fn stamp(&mut self) -> String {
        let now = Utc::now().max(self.last_stamp + chrono::Duration::milliseconds(1));
        self.last_stamp = now;
        now.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A numeric identifier, as Classroom's look (12 digits).
    pub(crate) fn new_id(&mut self) -> String {
        self.rng
            .gen_range(100_000_000_000u64..1_000_000_000_000)
            .to_string()
    }

    pub(crate) fn new_course_id(&mut self) -> String {
        loop {
            let id = self.new_id();
            if self.course_index(&id).is_none() {
                return id;
            }
        }
    }

    pub(crate) fn random_text(&mut self, n: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| ALPHABET[self.rng.gen_range(0..ALPHABET.len())] as char)
            .collect()
    }

    pub(crate) fn enrollment_code(&mut self) -> String {
        const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
        (0..7)
            .map(|_| ALPHABET[self.rng.gen_range(0..ALPHABET.len())] as char)
            .collect()
    }

    /// `teacherGroupEmail` and `courseGroupEmail`, in Classroom's form.
    pub(crate) fn group_emails(&mut self, name: &str, id: &str) -> (String, String) {
        let domain = self
            .config
            .user
            .email
            .rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .unwrap_or_else(|| "homeroom.test".into());
        let slug: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(20)
            .collect();
        let tag = format!(
            "{:08x}",
            id.bytes()
                .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        );
        (
            format!("{slug}_teachers_{tag}@{domain}"),
            format!("{slug}_{tag}@{domain}"),
        )
    }
}

pub(crate) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running mock Classroom. Dropping it stops the server.
pub struct MockClassroom {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for MockClassroom {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl MockClassroom {
    /// Serve with the default configuration (a domain admin, every scope).
    pub async fn start() -> anyhow::Result<MockClassroom> {
        MockClassroom::start_with(ClassroomConfig::default()).await
    }

    pub async fn start_with(config: ClassroomConfig) -> anyhow::Result<MockClassroom> {
        let state = Arc::new(Mutex::new(State {
            users: vec![config.user.clone()],
            rng: StdRng::seed_from_u64(config.seed),
            config,
            courses: Vec::new(),
            invitations: Vec::new(),
            invitations_sent: HashMap::new(),
            tokens: HashMap::new(),
            refresh_revoked: false,
            faults: Faults::default(),
            log: Vec::new(),
            batch_requests: 0,
            token_requests: 0,
            seq: 0,
            last_stamp: Utc::now(),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { serve(state, method, uri, headers, body).await }
            },
        );
        let tx = crate::support::serve_until_shutdown(listener, app);
        Ok(MockClassroom {
            addr,
            state,
            shutdown: Some(tx),
        })
    }

    /// `http://127.0.0.1:PORT`: the discovery document's `rootUrl`
    /// (API paths are `/v1/...` under it).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Google's `token_uri`.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url())
    }

    /// The batch endpoint (`batchPath`).
    pub fn batch_url(&self) -> String {
        format!("{}/batch", self.base_url())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    // --- directory and configuration ------------------------------------

    /// Add a user to the Workspace directory (or replace the one with this id).
    pub fn add_user(&self, email: &str, id: &str, full_name: &str) -> MockUser {
        let user = MockUser::new(email, id, full_name);
        self.put_user(user.clone());
        user
    }

    /// Add (or replace, by id) a user built by hand.
    pub fn put_user(&self, user: MockUser) {
        let mut s = self.lock();
        s.users.retain(|u| u.id != user.id);
        s.users.push(user);
    }

    /// A user by id, email or `me`.
    pub fn user(&self, ident: &str) -> Option<MockUser> {
        self.lock().find_user(ident)
    }

    /// Change the configuration of the running server (a new
    /// [`ClassroomConfig::user`] joins the directory).
    pub fn configure(&self, change: impl FnOnce(&mut ClassroomConfig)) {
        let mut s = self.lock();
        change(&mut s.config);
        let user = s.config.user.clone();
        if !s.users.iter().any(|u| u.id == user.id) {
            s.users.push(user);
        }
    }

    /// Set the daily invitation cap per course owner.
    pub fn set_invitation_daily_cap(&self, cap: u32) {
        self.lock().config.invitation_daily_cap = cap;
    }

    /// Forget today's invitation counts.
    pub fn reset_invitation_counts(&self) {
        self.lock().invitations_sent.clear();
    }

    // --- tokens ---------------------------------------------------------

    /// Every access token issued so far stops working (401); the refresh
    /// token still buys new ones.
    pub fn expire_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// The refresh token is revoked: `/token` answers `invalid_grant`.
    pub fn revoke_refresh_token(&self, revoked: bool) {
        self.lock().refresh_revoked = revoked;
    }

    pub fn token_requests(&self) -> u64 {
        self.lock().token_requests
    }

    // --- faults ---------------------------------------------------------

    /// The next `n` API calls (batch parts included) answer 429
    /// `RESOURCE_EXHAUSTED`, with `Retry-After` if given.
    pub fn fail_with_429(&self, n: u32, retry_after_secs: Option<u64>) {
        let mut s = self.lock();
        s.faults.too_many = n;
        s.faults.retry_after = retry_after_secs;
    }

    /// Each API call answers 429 with probability `p` (a seeded rng, so a
    /// run repeats); `p` 0 ends the storm.
    pub fn storm_429(&self, p: f64, seed: u64, retry_after_secs: Option<u64>) {
        let mut s = self.lock();
        s.faults.storm = (p > 0.0).then(|| (p, StdRng::seed_from_u64(seed)));
        s.faults.retry_after = retry_after_secs;
    }

    /// The next `n` API calls answer 500 `INTERNAL`.
    pub fn fail_with_500(&self, n: u32) {
        self.lock().faults.internal = n;
    }

    /// The next `n` API calls answer 503 `UNAVAILABLE`.
    pub fn fail_with_503(&self, n: u32) {
        self.lock().faults.unavailable = n;
    }

    /// The next `n` writes (not GET) that succeed are carried out but
    /// answered 503: the client cannot tell whether they happened.
    pub fn lose_write_responses(&self, n: u32) {
        self.lock().faults.after_commit = n;
    }

    /// Every HTTP request (a batch is one) waits this long after it is
    /// carried out, before it is answered.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().faults.latency = latency;
    }

    pub fn clear_faults(&self) {
        self.lock().faults = Faults::default();
    }

    // --- counts ---------------------------------------------------------

    /// Every API call answered so far, oldest first.
    pub fn calls(&self) -> Vec<LoggedCall> {
        self.lock().log.clone()
    }

    /// Calls by HTTP method and `flatPath` pattern
    /// (`count("POST", "/v1/courses/{courseId}/teachers")`).
    pub fn count(&self, method: &str, pattern: &str) -> CallCount {
        self.count_where(|c| c.method.eq_ignore_ascii_case(method) && c.pattern == pattern)
    }

    /// Calls by discovery method id (`count_method("courses.create")`).
    pub fn count_method(&self, method_id: &str) -> CallCount {
        self.count_where(|c| c.method_id == method_id)
    }

    /// All API calls.
    pub fn count_all(&self) -> CallCount {
        self.count_where(|_| true)
    }

    fn count_where(&self, f: impl Fn(&LoggedCall) -> bool) -> CallCount {
        let mut n = CallCount::default();
        for c in self.lock().log.iter().filter(|c| f(c)) {
            if c.batched {
                n.batched += 1;
            } else {
                n.direct += 1;
            }
        }
        n
    }

    /// Batch HTTP requests (each holds many calls).
    pub fn batch_requests(&self) -> u64 {
        self.lock().batch_requests
    }

    /// Forget the request log and counts.
    pub fn reset_counts(&self) {
        let mut s = self.lock();
        s.log.clear();
        s.batch_requests = 0;
        s.token_requests = 0;
    }

    // --- what the mock holds --------------------------------------------

    pub fn snapshot(&self) -> Snapshot {
        let s = self.lock();
        Snapshot {
            users: s.users.clone(),
            courses: s.courses.clone(),
            invitations: s.invitations.clone(),
        }
    }

    /// Every course, oldest first.
    pub fn courses(&self) -> Vec<Course> {
        self.lock().courses.clone()
    }

    /// A course by id or alias.
    pub fn course(&self, id_or_alias: &str) -> Option<Course> {
        let s = self.lock();
        s.course_index(id_or_alias).map(|i| s.courses[i].clone())
    }

    fn members(&self, course: &str, role: Role) -> Vec<MockUser> {
        let s = self.lock();
        let Some(i) = s.course_index(course) else {
            return Vec::new();
        };
        let c = &s.courses[i];
        let members = match role {
            Role::Teacher => &c.teachers,
            Role::Student => &c.students,
        };
        members
            .iter()
            .filter_map(|m| s.users.iter().find(|u| u.id == m.user_id).cloned())
            .collect()
    }

    /// The teachers of a course (by id or alias), in the order they joined.
    pub fn teachers(&self, course: &str) -> Vec<MockUser> {
        self.members(course, Role::Teacher)
    }

    pub fn students(&self, course: &str) -> Vec<MockUser> {
        self.members(course, Role::Student)
    }

    pub fn topics(&self, course: &str) -> Vec<Topic> {
        self.course(course).map(|c| c.topics).unwrap_or_default()
    }

    pub fn course_work(&self, course: &str) -> Vec<CourseWork> {
        self.course(course)
            .map(|c| c.course_work)
            .unwrap_or_default()
    }

    pub fn submissions(&self, course: &str) -> Vec<Submission> {
        self.course(course)
            .map(|c| c.submissions)
            .unwrap_or_default()
    }

    pub fn invitations(&self) -> Vec<Invitation> {
        self.lock().invitations.clone()
    }

    // --- playing the other side -----------------------------------------

    /// Make an API call as [`ClassroomConfig::user`] without HTTP: no
    /// token, no faults, not logged (`act("POST", "/v1/courses", Some(body))`).
    /// Answers the body, or the error the API would give.
    pub fn act(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<Json>,
    ) -> Result<Json, ApiError> {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let req = ApiRequest {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            query: query.to_string(),
            authorization: None,
            body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
            via: Via::Handle,
        };
        api::execute(&mut self.lock(), &req)
    }

    /// A teacher makes course work in the web UI: published, an
    /// `ASSIGNMENT`, created by the course owner, not associated with the
    /// mock's Developer Console project (so the API may read it but not
    /// change it or its grades). Every student gets a submission.
    pub fn create_course_work(
        &self,
        course: &str,
        title: &str,
        max_points: f64,
    ) -> Result<CourseWork, ApiError> {
        let mut s = self.lock();
        let i = s.course_index(course).ok_or_else(ApiError::not_found)?;
        let mut body = Map::new();
        body.insert("title".into(), Json::from(title));
        body.insert("workType".into(), Json::from("ASSIGNMENT"));
        body.insert("state".into(), Json::from("PUBLISHED"));
        body.insert("maxPoints".into(), Json::from(max_points));
        let owner = s.courses[i].owner_id.clone();
        let work = api::new_work(&mut s, i, &body, &owner, false)?;
        s.courses[i].course_work.push(work.clone());
        api::assign(&mut s, i);
        Ok(work)
    }

    fn grade(
        &self,
        course: &str,
        course_work_id: &str,
        student: &str,
        field: &str,
        grade: Option<f64>,
    ) -> Result<Submission, ApiError> {
        let mut s = self.lock();
        let i = s.course_index(course).ok_or_else(ApiError::not_found)?;
        let user = s.find_user(student).ok_or_else(ApiError::not_found)?;
        let n = s.courses[i]
            .submissions
            .iter()
            .position(|x| x.course_work_id == course_work_id && x.user_id == user.id)
            .ok_or_else(ApiError::not_found)?;
        let actor = s.courses[i].owner_id.clone();
        api::set_grade(&mut s, i, n, field, grade, &actor);
        Ok(s.courses[i].submissions[n].clone())
    }

    /// A teacher sets a student's `assignedGrade` in the web UI (the
    /// submission's `updateTime` moves); `student` is an id or email.
    pub fn set_assigned_grade(
        &self,
        course: &str,
        course_work_id: &str,
        student: &str,
        grade: f64,
    ) -> Result<Submission, ApiError> {
        self.grade(
            course,
            course_work_id,
            student,
            "assignedGrade",
            Some(grade),
        )
    }

    pub fn set_draft_grade(
        &self,
        course: &str,
        course_work_id: &str,
        student: &str,
        grade: f64,
    ) -> Result<Submission, ApiError> {
        self.grade(course, course_work_id, student, "draftGrade", Some(grade))
    }

    /// A teacher returns a submission (state `RETURNED`).
    pub fn return_submission(
        &self,
        course: &str,
        course_work_id: &str,
        student: &str,
    ) -> Result<Submission, ApiError> {
        let mut s = self.lock();
        let i = s.course_index(course).ok_or_else(ApiError::not_found)?;
        let user = s.find_user(student).ok_or_else(ApiError::not_found)?;
        let stamp = s.stamp();
        let actor = s.courses[i].owner_id.clone();
        let sub = s.courses[i]
            .submissions
            .iter_mut()
            .find(|x| x.course_work_id == course_work_id && x.user_id == user.id)
            .ok_or_else(ApiError::not_found)?;
        sub.state = "RETURNED".into();
        sub.update_time = stamp.clone();
        sub.history.push(serde_json::json!({"stateHistory": {
            "state": "RETURNED", "stateTimestamp": stamp, "actorUserId": actor,
        }}));
        Ok(sub.clone())
    }

    /// The invited user accepts an invitation: they join the course (or
    /// become its owner).
    pub fn accept_invitation(&self, invitation_id: &str) -> Result<(), ApiError> {
        api::accept_invitation(&mut self.lock(), invitation_id)
    }
}

async fn serve(
    state: Arc<Mutex<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let answer = if path == "/token" {
        oauth::token(&mut lock(&state), &method, &headers, &body)
    } else if path == "/batch" || path == "/batch/classroom/v1" {
        batch::serve(&state, &method, &headers, &body)
    } else {
        let req = ApiRequest {
            method: method.as_str().to_string(),
            path: path.clone(),
            query: uri.query().unwrap_or_default().to_string(),
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body: body.to_vec(),
            via: Via::Direct,
        };
        api::call(&mut lock(&state), &req)
    };
    let latency = if path == "/token" {
        Duration::ZERO
    } else {
        lock(&state).faults.latency
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    respond(answer)
}

fn respond(answer: Answer) -> Response {
    let mut r = Response::new(Body::from(answer.body));
    *r.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in &answer.headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            r.headers_mut().append(name, value);
        }
    }
    r.into_response()
}

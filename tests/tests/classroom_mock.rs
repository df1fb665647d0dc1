//! The mock Google Classroom over real HTTP: what a Classroom connector
//! relies on. Tokens and 401s, alias-keyed idempotent course creation,
//! members by email, unique topics, the batch protocol (order, Content-IDs,
//! the 50-part cap, a 429 inside one part), the fault knobs, and a grade
//! set "in Classroom" coming back through `studentSubmissions.list`.

use std::time::{Duration, Instant};

use homeroom_tests::classroom_mock::{
    CLIENT_ID, CLIENT_SECRET, ClassroomConfig, MockClassroom, REFRESH_TOKEN, SCOPE_PREFIX,
};
use serde_json::{Value as Json, json};

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Json,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn error_status(&self) -> &str {
        self.body["error"]["status"].as_str().unwrap_or("")
    }
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Json::String(text)),
    }
}

async fn token_with(mock: &MockClassroom, form: &[(&str, &str)]) -> Answer {
    answer(
        reqwest::Client::new()
            .post(mock.token_url())
            .form(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn token(mock: &MockClassroom) -> String {
    let a = token_with(
        mock,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", REFRESH_TOKEN),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["access_token"].as_str().unwrap().to_string()
}

/// A client with a token, as a connector holds one.
struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    async fn new(mock: &MockClassroom) -> Api {
        Api {
            base: mock.base_url(),
            token: token(mock).await,
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, method: &str, path: &str, body: Option<Json>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        answer(req.send().await.unwrap()).await
    }

    async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None).await
    }

    async fn post(&self, path: &str, body: Json) -> Answer {
        self.send("POST", path, Some(body)).await
    }

    /// A batch of `(content id, method, path, body)`; the answer parts as
    /// (Content-ID, status, headers, body), in order.
    async fn batch(&self, calls: &[(String, &str, String, Option<Json>)]) -> (u16, Vec<Part>) {
        let boundary = "batch_homeroom";
        let mut body = String::new();
        for (id, method, path, json) in calls {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <{id}>\r\n\r\n{method} {path} HTTP/1.1\r\n"
            ));
            match json {
                Some(j) => body.push_str(&format!(
                    "Content-Type: application/json; charset=UTF-8\r\n\r\n{j}\r\n"
                )),
                None => body.push_str("\r\n"),
            }
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        let r = self
            .http
            .post(format!("{}/batch", self.base))
            .bearer_auth(&self.token)
            .header(
                "Content-Type",
                format!("multipart/mixed; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = r.text().await.unwrap();
        if status != 200 {
            return (status, vec![Part::error(&text)]);
        }
        assert!(ct.starts_with("multipart/mixed"), "{ct}");
        let b = ct.split("boundary=").nth(1).unwrap().trim_matches('"');
        (status, parse_multipart(&text, b))
    }
}

#[derive(Debug)]
struct Part {
    content_id: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Json,
}

impl Part {
    fn error(text: &str) -> Part {
        Part {
            content_id: String::new(),
            status: 0,
            headers: vec![],
            body: serde_json::from_str(text).unwrap_or(Json::Null),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A client's reading of a `multipart/mixed` batch answer.
fn parse_multipart(text: &str, boundary: &str) -> Vec<Part> {
    let delim = format!("--{boundary}");
    let mut parts = Vec::new();
    for chunk in text.split(&delim).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let chunk = chunk.trim_start_matches("\r\n");
        let (mime, http) = chunk.split_once("\r\n\r\n").unwrap();
        let content_id = mime
            .lines()
            .find_map(|l| l.strip_prefix("Content-ID: "))
            .unwrap_or("")
            .to_string();
        let (head, body) = http.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status_line = lines.next().unwrap();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parts.push(Part {
            content_id,
            status,
            headers,
            body: serde_json::from_str(body.trim_end()).unwrap(),
        });
    }
    parts
}

fn course_body(alias: Option<&str>, name: &str, section: &str) -> Json {
    let mut b = json!({"name": name, "section": section, "ownerId": "me", "courseState": "ACTIVE"});
    if let Some(a) = alias {
        b["id"] = json!(a);
    }
    b
}

#[tokio::test]
async fn token_then_list_and_every_call_needs_a_bearer() {
    let mock = MockClassroom::start().await.unwrap();
    let t = token_with(
        &mock,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", REFRESH_TOKEN),
        ],
    )
    .await;
    assert_eq!(t.status, 200);
    assert_eq!(t.body["token_type"], "Bearer");
    assert_eq!(t.body["expires_in"], 3600);
    assert!(
        t.body["access_token"]
            .as_str()
            .unwrap()
            .starts_with("ya29.")
    );

    // Wrong refresh token: 400 invalid_grant; wrong secret or client: 401 invalid_client.
    let bad = token_with(
        &mock,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", "1//nope"),
        ],
    )
    .await;
    assert_eq!(
        (bad.status, bad.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    for (id, secret) in [
        (CLIENT_ID, "wrong"),
        ("other.apps.googleusercontent.com", CLIENT_SECRET),
    ] {
        let bad = token_with(
            &mock,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", id),
                ("client_secret", secret),
                ("refresh_token", REFRESH_TOKEN),
            ],
        )
        .await;
        assert_eq!(
            (bad.status, bad.body["error"].as_str()),
            (401, Some("invalid_client"))
        );
    }

    let api = Api::new(&mock).await;
    // An empty list is `{}` in proto3 JSON.
    let empty = api.get("/v1/courses").await;
    assert_eq!((empty.status, &empty.body), (200, &json!({})));
    let made = api
        .post("/v1/courses", course_body(None, "Biology", "P1"))
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    assert_eq!(
        made.body["ownerId"],
        homeroom_tests::classroom_mock::ADMIN_ID
    );
    assert_eq!(made.body["courseState"], "ACTIVE");
    for field in [
        "id",
        "creationTime",
        "updateTime",
        "enrollmentCode",
        "alternateLink",
    ] {
        assert!(made.body[field].is_string(), "{field} in {}", made.body);
    }
    let list = api.get("/v1/courses?pageSize=10").await;
    assert_eq!(list.body["courses"][0]["id"], made.body["id"]);

    // No bearer, or one the mock never issued: 401 UNAUTHENTICATED.
    let none = answer(
        reqwest::Client::new()
            .get(format!("{}/v1/courses", mock.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((none.status, none.error_status()), (401, "UNAUTHENTICATED"));
    assert_eq!(none.body["error"]["code"], 401);
    assert!(none.header("www-authenticate").is_some());
    let forged = Api {
        token: "ya29.forged".into(),
        ..Api::new(&mock).await
    };
    let a = forged.get("/v1/courses").await;
    assert_eq!((a.status, a.error_status()), (401, "UNAUTHENTICATED"));
    mock.expire_tokens();
    assert_eq!(api.get("/v1/courses").await.status, 401);

    // A token narrowed to read-only scopes cannot create.
    let ro = token_with(
        &mock,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", REFRESH_TOKEN),
            ("scope", &format!("{SCOPE_PREFIX}courses.readonly")),
        ],
    )
    .await;
    let ro = Api {
        token: ro.body["access_token"].as_str().unwrap().into(),
        ..Api::new(&mock).await
    };
    assert_eq!(ro.get("/v1/courses").await.status, 200);
    let denied = ro
        .post("/v1/courses", course_body(None, "Chem", "P2"))
        .await;
    assert_eq!(
        (denied.status, denied.error_status()),
        (403, "PERMISSION_DENIED")
    );

    // Unauthenticated calls are counted too (they reached the API).
    assert_eq!(mock.count("GET", "/v1/courses").direct, 6);
    assert_eq!(mock.count_method("courses.create").total(), 2);
}

#[tokio::test]
async fn alias_create_is_idempotent() {
    let mock = MockClassroom::start().await.unwrap();
    let api = Api::new(&mock).await;
    let first = api
        .post(
            "/v1/courses",
            course_body(Some("d:sis-class-101"), "Algebra I", "Period 2"),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let id = first.body["id"].as_str().unwrap().to_string();
    assert!(
        id.chars().all(|c| c.is_ascii_digit()),
        "a generated id, not the alias: {id}"
    );

    let again = api
        .post(
            "/v1/courses",
            course_body(Some("d:sis-class-101"), "Algebra I", "Period 2"),
        )
        .await;
    assert_eq!(
        (again.status, again.error_status()),
        (409, "ALREADY_EXISTS")
    );
    assert_eq!(again.body["error"]["code"], 409);

    // The alias resolves, plain or percent-encoded, for get, patch and delete.
    for path in [
        "/v1/courses/d:sis-class-101",
        "/v1/courses/d%3Asis-class-101",
    ] {
        let got = api.get(path).await;
        assert_eq!(
            (got.status, got.body["id"].as_str()),
            (200, Some(id.as_str()))
        );
    }
    let patched = api
        .send(
            "PATCH",
            "/v1/courses/d:sis-class-101?updateMask=name,section",
            Some(json!({"name": "Algebra 1", "section": "Period 3", "room": "ignored"})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(
        (
            patched.body["name"].as_str(),
            patched.body["section"].as_str()
        ),
        (Some("Algebra 1"), Some("Period 3"))
    );
    assert!(
        patched.body.get("room").is_none(),
        "only masked fields change"
    );
    let no_mask = api
        .send(
            "PATCH",
            "/v1/courses/d:sis-class-101",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(
        (no_mask.status, no_mask.error_status()),
        (400, "INVALID_ARGUMENT")
    );

    // A project alias added later; the list holds both.
    let added = api
        .post(
            &format!("/v1/courses/{id}/aliases"),
            json!({"alias": "p:homeroom-7"}),
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    let taken = api
        .post(
            &format!("/v1/courses/{id}/aliases"),
            json!({"alias": "p:homeroom-7"}),
        )
        .await;
    assert_eq!(taken.status, 409);
    let aliases = api.get(&format!("/v1/courses/{id}/aliases")).await;
    assert_eq!(
        aliases.body["aliases"],
        json!([{"alias": "d:sis-class-101"}, {"alias": "p:homeroom-7"}])
    );

    // A write whose answer is lost, retried: the second create sees 409,
    // and the mock holds one course.
    mock.lose_write_responses(1);
    let lost = api
        .post(
            "/v1/courses",
            course_body(Some("d:sis-class-202"), "Geometry", "P1"),
        )
        .await;
    assert_eq!(lost.status, 503);
    let retry = api
        .post(
            "/v1/courses",
            course_body(Some("d:sis-class-202"), "Geometry", "P1"),
        )
        .await;
    assert_eq!(retry.status, 409);
    assert_eq!(api.get("/v1/courses/d:sis-class-202").await.status, 200);

    let snapshot = mock.snapshot();
    assert_eq!(snapshot.courses.len(), 2);
    assert!(snapshot.duplicate_courses().is_empty());
    let course = mock.course("d:sis-class-101").unwrap();
    assert_eq!(course.aliases, vec!["d:sis-class-101", "p:homeroom-7"]);
    assert_eq!(
        (course.name.as_str(), course.section.as_str()),
        ("Algebra 1", "Period 3")
    );

    // Deleting by alias removes the course and frees the alias.
    assert_eq!(
        api.send("DELETE", "/v1/courses/d:sis-class-101", None)
            .await
            .body,
        json!({})
    );
    assert_eq!(api.get("/v1/courses/d:sis-class-101").await.status, 404);
    assert!(mock.course(&id).is_none());
}

#[tokio::test]
async fn members_by_email() {
    let mock = MockClassroom::start().await.unwrap();
    mock.add_user(
        "t.rivera@homeroom.test",
        "200000000000000000001",
        "Tess Rivera",
    );
    for n in 1..=3 {
        mock.add_user(
            &format!("s{n}@homeroom.test"),
            &format!("30000000000000000000{n}"),
            &format!("Student Number{n}"),
        );
    }
    let api = Api::new(&mock).await;
    let id = api
        .post("/v1/courses", course_body(Some("p:c1"), "History", ""))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();

    let teacher = api
        .post(
            "/v1/courses/p:c1/teachers",
            json!({"userId": "T.Rivera@homeroom.test"}),
        )
        .await;
    assert_eq!(teacher.status, 200, "{}", teacher.body);
    assert_eq!(teacher.body["userId"], "200000000000000000001");
    assert_eq!(teacher.body["courseId"], id.as_str());
    assert_eq!(
        teacher.body["profile"]["emailAddress"],
        "t.rivera@homeroom.test"
    );
    assert_eq!(teacher.body["profile"]["name"]["fullName"], "Tess Rivera");
    let twice = api
        .post(
            "/v1/courses/p:c1/teachers",
            json!({"userId": "t.rivera@homeroom.test"}),
        )
        .await;
    assert_eq!(
        (twice.status, twice.error_status()),
        (409, "ALREADY_EXISTS")
    );
    // A teacher cannot also be added as a student.
    let as_student = api
        .post(
            "/v1/courses/p:c1/students",
            json!({"userId": "200000000000000000001"}),
        )
        .await;
    assert_eq!(as_student.status, 409);
    let stranger = api
        .post(
            "/v1/courses/p:c1/students",
            json!({"userId": "nobody@homeroom.test"}),
        )
        .await;
    assert_eq!(
        (stranger.status, stranger.error_status()),
        (404, "NOT_FOUND")
    );
    let snake = api
        .post(
            "/v1/courses/p:c1/students",
            json!({"user_id": "s1@homeroom.test", "nickname": "x"}),
        )
        .await;
    assert_eq!(
        (snake.status, snake.error_status()),
        (400, "INVALID_ARGUMENT"),
        "unknown field"
    );

    for n in 1..=3 {
        let s = api
            .post(
                "/v1/courses/p:c1/students",
                json!({"userId": format!("s{n}@homeroom.test")}),
            )
            .await;
        assert_eq!(s.status, 200, "{}", s.body);
    }
    // Paged: two pages of two and one.
    let p1 = api.get("/v1/courses/p:c1/students?pageSize=2").await;
    assert_eq!(p1.body["students"].as_array().unwrap().len(), 2);
    let next = p1.body["nextPageToken"].as_str().unwrap();
    let p2 = api
        .get(&format!(
            "/v1/courses/p:c1/students?pageSize=2&pageToken={next}"
        ))
        .await;
    assert_eq!(p2.body["students"].as_array().unwrap().len(), 1);
    assert!(p2.body.get("nextPageToken").is_none());
    assert_eq!(
        p2.body["students"][0]["profile"]["emailAddress"],
        "s3@homeroom.test"
    );

    let got = api.get("/v1/courses/p:c1/students/s2@homeroom.test").await;
    assert_eq!(got.body["userId"], "300000000000000000002");
    assert_eq!(
        api.send("DELETE", "/v1/courses/p:c1/students/s2@homeroom.test", None)
            .await
            .status,
        200
    );
    assert_eq!(
        api.get("/v1/courses/p:c1/students/s2@homeroom.test")
            .await
            .status,
        404
    );
    // The owner cannot be removed.
    let owner = api
        .send("DELETE", "/v1/courses/p:c1/teachers/me", None)
        .await;
    assert_eq!(owner.error_status(), "FAILED_PRECONDITION");

    let teachers: Vec<String> = mock.teachers("p:c1").into_iter().map(|u| u.email).collect();
    assert_eq!(
        teachers,
        vec!["admin@homeroom.test", "t.rivera@homeroom.test"]
    );
    let students: Vec<String> = mock.students(&id).into_iter().map(|u| u.email).collect();
    assert_eq!(students, vec!["s1@homeroom.test", "s3@homeroom.test"]);

    // Profiles: `me`, by email, and 403 for someone outside the directory.
    assert_eq!(
        api.get("/v1/userProfiles/me").await.body["emailAddress"],
        "admin@homeroom.test"
    );
    assert_eq!(
        api.get("/v1/userProfiles/s3@homeroom.test").await.body["id"],
        "300000000000000000003"
    );
    assert_eq!(
        api.get("/v1/userProfiles/ghost@homeroom.test").await.status,
        403
    );

    // Invitations, capped per owner per day.
    mock.set_invitation_daily_cap(1);
    let inv = api
        .post(
            "/v1/invitations",
            json!({"courseId": "p:c1", "userId": "s2@homeroom.test", "role": "STUDENT"}),
        )
        .await;
    assert_eq!(inv.status, 200, "{}", inv.body);
    assert_eq!(inv.body["courseId"], id.as_str());
    let dup = api
        .post(
            "/v1/invitations",
            json!({"courseId": id, "userId": "s2@homeroom.test", "role": "STUDENT"}),
        )
        .await;
    assert_eq!(dup.status, 409);
    mock.add_user(
        "s4@homeroom.test",
        "300000000000000000004",
        "Fourth Student",
    );
    let capped = api
        .post(
            "/v1/invitations",
            json!({"courseId": id, "userId": "s4@homeroom.test", "role": "STUDENT"}),
        )
        .await;
    assert_eq!(
        (capped.status, capped.error_status()),
        (429, "RESOURCE_EXHAUSTED")
    );
    let listed = api.get(&format!("/v1/invitations?courseId={id}")).await;
    assert_eq!(listed.body["invitations"].as_array().unwrap().len(), 1);
    mock.accept_invitation(inv.body["id"].as_str().unwrap())
        .unwrap();
    assert!(mock.invitations().is_empty());
    assert_eq!(mock.students(&id).len(), 3);
}

#[tokio::test]
async fn topic_names_are_unique_per_course() {
    let mock = MockClassroom::start().await.unwrap();
    let api = Api::new(&mock).await;
    api.post("/v1/courses", course_body(Some("d:a"), "Art", ""))
        .await;
    api.post("/v1/courses", course_body(Some("d:b"), "Band", ""))
        .await;
    let made = api
        .post("/v1/courses/d:a/topics", json!({"name": "Unit 1"}))
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    assert!(made.body["topicId"].is_string() && made.body["updateTime"].is_string());
    // The same name, also once whitespace is collapsed: 409.
    for name in ["Unit 1", "  Unit   1 "] {
        let dup = api
            .post("/v1/courses/d:a/topics", json!({"name": name}))
            .await;
        assert_eq!(
            (dup.status, dup.error_status()),
            (409, "ALREADY_EXISTS"),
            "{name:?}"
        );
    }
    // Case matters, and another course may use the name.
    assert_eq!(
        api.post("/v1/courses/d:a/topics", json!({"name": "unit 1"}))
            .await
            .status,
        200
    );
    assert_eq!(
        api.post("/v1/courses/d:b/topics", json!({"name": "Unit 1"}))
            .await
            .status,
        200
    );
    let two = api
        .post("/v1/courses/d:a/topics", json!({"name": "Unit 2"}))
        .await;
    // Renaming onto a taken name is FAILED_PRECONDITION (topics.patch).
    let clash = api
        .send(
            "PATCH",
            &format!(
                "/v1/courses/d:a/topics/{}?updateMask=name",
                two.body["topicId"].as_str().unwrap()
            ),
            Some(json!({"name": "Unit 1"})),
        )
        .await;
    assert_eq!(
        (clash.status, clash.error_status()),
        (400, "FAILED_PRECONDITION")
    );
    let list = api.get("/v1/courses/d:a/topics").await;
    assert_eq!(list.body["topic"].as_array().unwrap().len(), 3);
    let mut names = mock.course("d:a").unwrap().topic_names();
    names.sort();
    assert_eq!(names, vec!["Unit 1", "Unit 2", "unit 1"]);
}

#[tokio::test]
async fn a_batch_of_three_answers_three_parts_in_order() {
    let mock = MockClassroom::start().await.unwrap();
    let api = Api::new(&mock).await;
    api.post("/v1/courses", course_body(Some("d:batch"), "Batch", ""))
        .await;
    let calls = vec![
        (
            "item1:1@homeroom".to_string(),
            "POST",
            "/v1/courses/d:batch/topics".to_string(),
            Some(json!({"name": "Week 1"})),
        ),
        (
            "item2".to_string(),
            "GET",
            "/v1/courses/d:batch".to_string(),
            None,
        ),
        (
            "item3".to_string(),
            "GET",
            "/v1/courses/d:nope".to_string(),
            None,
        ),
    ];
    let (status, parts) = api.batch(&calls).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = parts.iter().map(|p| p.content_id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "<response-item1:1@homeroom>",
            "<response-item2>",
            "<response-item3>"
        ]
    );
    let statuses: Vec<u16> = parts.iter().map(|p| p.status).collect();
    assert_eq!(statuses, vec![200, 200, 404]);
    assert_eq!(parts[0].body["name"], "Week 1");
    assert_eq!(parts[1].body["name"], "Batch");
    assert_eq!(parts[2].body["error"]["status"], "NOT_FOUND");
    assert_eq!(mock.batch_requests(), 1);
    let topics = mock.count("POST", "/v1/courses/{courseId}/topics");
    assert_eq!((topics.direct, topics.batched), (0, 1));
    assert_eq!(mock.count_method("courses.get").batched, 2);
    assert_eq!(mock.topics("d:batch").len(), 1);
}

#[tokio::test]
async fn a_batch_of_51_parts_is_refused() {
    let mock = MockClassroom::start().await.unwrap();
    let api = Api::new(&mock).await;
    let calls: Vec<_> = (0..51)
        .map(|n| (format!("c{n}"), "GET", "/v1/courses".to_string(), None))
        .collect();
    let (status, parts) = api.batch(&calls).await;
    assert_eq!(status, 400);
    assert_eq!(parts[0].body["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(mock.count_all().total(), 0, "no part was carried out");
    let (status, parts) = api.batch(&calls[..50]).await;
    assert_eq!((status, parts.len()), (200, 50));
}

#[tokio::test]
async fn the_429_storm_knob() {
    let mock = MockClassroom::start().await.unwrap();
    let api = Api::new(&mock).await;
    mock.fail_with_429(2, Some(7));
    for _ in 0..2 {
        let a = api.get("/v1/courses").await;
        assert_eq!((a.status, a.error_status()), (429, "RESOURCE_EXHAUSTED"));
        assert_eq!(a.header("retry-after"), Some("7"));
    }
    assert_eq!(api.get("/v1/courses").await.status, 200);

    // Inside a batch: one part answers 429, the others succeed.
    mock.fail_with_429(1, None);
    let calls: Vec<_> = (0..3)
        .map(|n| (format!("c{n}"), "GET", "/v1/courses".to_string(), None))
        .collect();
    let (status, parts) = api.batch(&calls).await;
    assert_eq!(status, 200);
    assert_eq!(
        parts.iter().map(|p| p.status).collect::<Vec<_>>(),
        vec![429, 200, 200]
    );
    assert_eq!(parts[0].body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert!(parts[0].header("retry-after").is_none());

    // Seeded probability: the same seed plays the same storm.
    let mut runs = Vec::new();
    for _ in 0..2 {
        mock.storm_429(0.5, 42, Some(1));
        let mut seen = Vec::new();
        for _ in 0..20 {
            seen.push(api.get("/v1/courses").await.status);
        }
        runs.push(seen);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&429) && runs[0].contains(&200),
        "{:?}",
        runs[0]
    );
    mock.clear_faults();

    mock.fail_with_503(1);
    assert_eq!(api.get("/v1/courses").await.error_status(), "UNAVAILABLE");
    mock.fail_with_500(1);
    assert_eq!(api.get("/v1/courses").await.status, 500);
    assert_eq!(api.get("/v1/courses").await.status, 200);

    mock.set_latency(Duration::from_millis(30));
    let t = Instant::now();
    assert_eq!(api.get("/v1/courses").await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(30));
}

#[tokio::test]
async fn a_grade_set_in_classroom_shows_in_student_submissions() {
    let mock = MockClassroom::start().await.unwrap();
    mock.add_user("ana@homeroom.test", "400000000000000000001", "Ana Ruiz");
    mock.add_user("ben@homeroom.test", "400000000000000000002", "Ben Ode");
    let api = Api::new(&mock).await;
    api.post("/v1/courses", course_body(Some("d:bio"), "Biology", "P4"))
        .await;
    for who in ["ana@homeroom.test", "ben@homeroom.test"] {
        assert_eq!(
            api.post("/v1/courses/d:bio/students", json!({"userId": who}))
                .await
                .status,
            200
        );
    }
    let work = mock
        .create_course_work("d:bio", "Lab report", 20.0)
        .unwrap();
    let subs = mock.submissions("d:bio");
    assert_eq!(subs.len(), 2);
    assert!(
        subs.iter()
            .all(|s| s.state == "CREATED" && s.assigned_grade.is_none())
    );
    let before = subs
        .iter()
        .find(|s| s.user_id == "400000000000000000001")
        .unwrap()
        .update_time
        .clone();

    let graded = mock
        .set_assigned_grade("d:bio", &work.id, "ana@homeroom.test", 17.5)
        .unwrap();
    assert!(graded.update_time > before);

    let all = api
        .get("/v1/courses/d:bio/courseWork/-/studentSubmissions")
        .await;
    assert_eq!(all.body["studentSubmissions"].as_array().unwrap().len(), 2);
    let ana = api
        .get("/v1/courses/d:bio/courseWork/-/studentSubmissions?userId=ana@homeroom.test")
        .await;
    let list = ana.body["studentSubmissions"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["assignedGrade"], 17.5);
    assert_eq!(list[0]["courseWorkId"], work.id.as_str());
    assert_eq!(list[0]["updateTime"], graded.update_time.as_str());
    let listed_work = api.get("/v1/courses/d:bio/courseWork").await;
    assert_eq!(listed_work.body["courseWork"][0]["maxPoints"], 20.0);

    // Course work made in the web UI may not be graded through the API ...
    let sub_id = list[0]["id"].as_str().unwrap();
    let refused = api
        .send(
            "PATCH",
            &format!("/v1/courses/d:bio/courseWork/{}/studentSubmissions/{sub_id}?updateMask=assignedGrade", work.id),
            Some(json!({"assignedGrade": 3})),
        )
        .await;
    assert_eq!(
        (refused.status, refused.error_status()),
        (403, "PERMISSION_DENIED")
    );

    // ... but the project's own may, and each student got a submission.
    let own = api
        .post(
            "/v1/courses/d:bio/courseWork",
            json!({"title": "Quiz", "workType": "ASSIGNMENT", "state": "PUBLISHED", "maxPoints": 10}),
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.body["associatedWithDeveloper"], true);
    let own_id = own.body["id"].as_str().unwrap();
    let bens = api
        .get(&format!(
            "/v1/courses/d:bio/courseWork/{own_id}/studentSubmissions?userId=400000000000000000002"
        ))
        .await;
    let ben = &bens.body["studentSubmissions"][0];
    assert_eq!(ben["state"], "CREATED");
    let set = api
        .send(
            "PATCH",
            &format!(
                "/v1/courses/d:bio/courseWork/{own_id}/studentSubmissions/{}?updateMask=assignedGrade,draftGrade",
                ben["id"].as_str().unwrap()
            ),
            Some(json!({"assignedGrade": 9, "draftGrade": 9})),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(
        (
            set.body["assignedGrade"].as_f64(),
            set.body["draftGrade"].as_f64()
        ),
        (Some(9.0), Some(9.0))
    );
    assert_eq!(mock.submissions("d:bio").len(), 4);
}

#[tokio::test]
async fn a_teacher_who_is_not_an_admin_must_invite() {
    let config = ClassroomConfig {
        admin: false,
        ..ClassroomConfig::default()
    };
    let mock = MockClassroom::start_with(config).await.unwrap();
    mock.add_user("kid@homeroom.test", "500000000000000000001", "Kid Grade");
    let api = Api::new(&mock).await;
    assert_eq!(
        api.post("/v1/courses", course_body(Some("d:x"), "Music", ""))
            .await
            .status,
        403
    );
    assert_eq!(
        api.post("/v1/courses", course_body(Some("p:x"), "Music", ""))
            .await
            .status,
        200
    );
    let direct = api
        .post(
            "/v1/courses/p:x/students",
            json!({"userId": "kid@homeroom.test"}),
        )
        .await;
    assert_eq!(direct.status, 403);
    let inv = api
        .post(
            "/v1/invitations",
            json!({"courseId": "p:x", "userId": "kid@homeroom.test", "role": "STUDENT"}),
        )
        .await;
    assert_eq!(inv.status, 200, "{}", inv.body);
    let accept = api
        .post(
            &format!(
                "/v1/invitations/{}:accept",
                inv.body["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(accept.status, 403, "only the invitee accepts");
}

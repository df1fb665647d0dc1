//! Native tests of the connector against a fake PowerSchool behind the
//! SDK's `Env`: the mapping of each resource, paging within the metadata's
//! page size, a count that lies low, a page served twice, and cursors the
//! connector did not write. The end-to-end tests
//! (tests/tests/powerschool_connector.rs) run the component in the real host
//! against the mock server.

use std::collections::BTreeMap;

use homeroom_sdk::connector_bindings::homeroom::plugin::http::{HttpError, Request, Response};
use homeroom_sdk::env::Env;
use homeroom_sdk::{Entity, EntityKind, Value};
use serde_json::{Value as Json, json};

use crate::config::Config;
use crate::{map, read};

#[derive(Default)]
struct Fake {
    students: Vec<Json>,
    max: u64,
    /// What `/count` adds to the truth.
    lie: i64,
    /// Pages after the first answered with the first, this many times.
    repeat: usize,
    /// Schools 1..=N, each with one full-year term.
    schools: u64,
    storage: BTreeMap<String, Vec<u8>>,
    warnings: Vec<String>,
    urls: Vec<String>,
}

impl Env for Fake {
    fn send(&mut self, request: &Request) -> Result<Response, HttpError> {
        self.urls.push(request.url.clone());
        let path = request.url.split('?').next().unwrap_or("").to_string();
        let query = request.url.split_once('?').map(|(_, q)| q).unwrap_or("");
        let get = |k: &str| {
            query
                .split('&')
                .find_map(|p| p.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.parse::<usize>().ok())
        };
        let body = if path.ends_with("/ws/v1/metadata") {
            json!({"metadata": {"student_max_page_size": self.max}})
        } else if path.ends_with("/school/count") {
            json!({"resource": {"count": self.schools}})
        } else if path.ends_with("/term/count") {
            json!({"resource": {"count": 1}})
        } else if path.ends_with("/term") {
            let school: u64 = path
                .rsplit('/')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            json!({"terms": {"term": {"id": 100_000 + school, "name": "2024-2025", "portion": 1}}})
        } else if path.ends_with("/ws/v1/district/school") {
            let size = get("pagesize").unwrap_or(100) as u64;
            let page = get("page").unwrap_or(1) as u64;
            let ids: Vec<Json> = ((page - 1) * size + 1..=(page * size).min(self.schools))
                .map(|i| json!({"id": i, "school_number": i}))
                .collect();
            json!({"schools": {"school": ids}})
        } else if path.ends_with("/count") {
            json!({"resource": {"count": self.students.len() as i64 + self.lie}})
        } else if path.ends_with("/ws/v1/district/student") {
            let size = get("pagesize").unwrap_or(100);
            let mut page = get("page").unwrap_or(1);
            if page > 1 && self.repeat > 0 {
                self.repeat -= 1;
                page = 1;
            }
            let chunk: Vec<Json> = self
                .students
                .iter()
                .skip((page - 1) * size)
                .take(size)
                .cloned()
                .collect();
            match chunk.len() {
                0 => json!({"students": ""}),
                1 => json!({"students": {"student": chunk[0]}}),
                _ => json!({"students": {"student": chunk}}),
            }
        } else {
            json!({"schools": {"@expansions": ""}})
        };
        Ok(Response {
            status: 200,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        })
    }

    fn setting(&self, _: &str) -> Option<String> {
        None
    }

    fn warn(&mut self, message: &str) {
        self.warnings.push(message.to_string());
    }

    fn progress(&mut self, _: u64, _: Option<u64>) {}

    fn storage_get(&self, key: &str) -> Option<Vec<u8>> {
        self.storage.get(key).cloned()
    }

    fn storage_set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        self.storage.insert(key.to_string(), value.to_vec());
        Ok(())
    }
}

fn config(page_size: Option<u64>) -> Config {
    Config {
        base: "https://ps.example.org".into(),
        page_size,
        guardians_query: None,
        organizations: BTreeMap::new(),
    }
}

fn fake(n: u64, max: u64) -> Fake {
    Fake {
        students: (1..=n)
            .map(|i| json!({"id": i, "local_id": 1000 + i, "name": {"first_name": "A", "last_name": format!("B{i}")},
                "school_enrollment": {"school_id": 7, "grade_level": 0, "enroll_status": "A"}}))
            .collect(),
        max,
        ..Fake::default()
    }
}

/// Every user a full read sends (students, then staff of no schools).
fn users(env: &mut Fake, config: &Config) -> Result<Vec<Entity>, String> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = read::read(env, config, EntityKind::User, None, cursor.as_deref())
            .map_err(|e| e.message().to_string())?;
        all.extend(page.entities);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}

#[test]
fn pages_are_bounded_by_the_metadata_and_read_to_the_short_one() {
    let mut env = fake(7, 3);
    let read = users(&mut env, &config(Some(50))).unwrap();
    assert_eq!(read.len(), 7);
    let pages: Vec<&String> = env
        .urls
        .iter()
        .filter(|u| u.contains("/student?"))
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages.iter().all(|u| u.contains("pagesize=3")), "{pages:?}");
    assert!(env.warnings.is_empty(), "{:?}", env.warnings);
    // A last page of one comes as an object, and is read.
    assert_eq!(read[6].source_id, "student-7");
    assert_eq!(read[6].text("identifier"), Some("1007"));
    assert!(matches!(read[6].get("grades"), Some(Value::Texts(g)) if g == &["KG"]));
}

#[test]
fn a_count_that_lies_low_loses_nothing_and_is_warned() {
    let mut env = fake(9, 4);
    env.lie = -5;
    assert_eq!(users(&mut env, &config(None)).unwrap().len(), 9);
    assert!(
        env.warnings
            .iter()
            .any(|w| w.contains("count said 4 but 9 came")),
        "{:?}",
        env.warnings
    );
}

#[test]
fn a_page_served_twice_is_asked_again_then_refused() {
    let mut env = fake(9, 4);
    env.repeat = 1;
    let read = users(&mut env, &config(None)).unwrap();
    let mut ids: Vec<&str> = read.iter().map(|e| e.source_id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 9);
    let mut env = fake(9, 4);
    env.repeat = 2;
    let err = users(&mut env, &config(None)).unwrap_err();
    assert!(
        err.contains("page 2") && err.contains("ignore the page parameter"),
        "{err}"
    );
}

#[test]
fn a_cursor_this_connector_did_not_write_is_refused() {
    let mut env = fake(1, 4);
    let err = read::read(
        &mut env,
        &config(None),
        EntityKind::User,
        None,
        Some("page:2"),
    )
    .unwrap_err();
    assert!(
        err.message().contains("not one this connector wrote"),
        "{err:?}"
    );
}

#[test]
fn records_map_to_the_hubs_names() {
    let staff = json!({"id": 5, "local_id": 77, "name": {"first_name": "T", "last_name": "R"},
        "emails": {"work_email": "t@x.org"},
        "school_affiliations": {"school_affiliation": [{"school_id": 2, "type": 2}, {"school_id": 3, "type": 1}]}});
    let e = map::staff(&staff, "2").unwrap();
    assert_eq!(
        (e.text("role"), e.text("email")),
        (Some("teacher"), Some("t@x.org"))
    );
    assert_eq!(map::affiliations(&staff), ["2", "3"]);
    let admin = json!({"id": 6, "school_affiliations": {"school_affiliation": {"school_id": 2, "type": 2}}});
    assert_eq!(
        map::staff(&admin, "2").unwrap().text("role"),
        Some("administrator")
    );
    let g =
        map::guardian(&json!({"guardian_id": 9, "relationship": "Father", "student_ids": "1, 2"}))
            .unwrap();
    assert_eq!(
        (g.source_id.as_str(), g.text("role")),
        ("guardian-9", Some("parent"))
    );
    let Some(Value::References(agents)) = g.get("agents") else {
        panic!("{g:?}");
    };
    assert_eq!(
        agents
            .iter()
            .map(|r| r.source_id.as_str())
            .collect::<Vec<_>>(),
        ["student-1", "student-2"]
    );
    let term = map::term(
        &json!({"id": 3, "name": "2024-2025", "portion": 1, "end_date": "2025-06-10"}),
        "2",
    )
    .unwrap();
    assert_eq!(
        (term.text("type"), term.text("schoolYear")),
        (Some("schoolYear"), Some("2025"))
    );
    let dropped = json!({"id": 4, "student_id": 1, "dropped": true});
    assert!(
        map::student_enrollment(&dropped, "8", "2")
            .unwrap()
            .is_none()
    );
    assert!(
        map::student_enrollment(&json!({"id": 4}), "8", "2")
            .unwrap_err()
            .contains("names no student")
    );
    for (level, code) in [("-1", "PK"), ("0", "KG"), ("9", "09"), ("12", "12")] {
        assert_eq!(map::grade(level), code);
    }
}

#[test]
fn a_district_of_many_schools_keeps_their_list_in_storage_not_the_cursor() {
    let mut env = fake(0, 100);
    env.schools = 400;
    let mut terms = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = read::read(
            &mut env,
            &config(None),
            EntityKind::AcademicSession,
            None,
            cursor.as_deref(),
        )
        .unwrap();
        terms.extend(page.entities);
        if let Some(next) = &page.next {
            assert!(next.len() < 1024, "a cursor of {} bytes", next.len());
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(terms.len(), 400);
    assert!(env.storage.contains_key("schools.academic-session"));
    // Without the kept list, the read says what to do.
    let next = read::read(
        &mut env,
        &config(None),
        EntityKind::AcademicSession,
        None,
        None,
    )
    .unwrap()
    .next
    .unwrap();
    env.storage.clear();
    let err = read::read(
        &mut env,
        &config(None),
        EntityKind::AcademicSession,
        None,
        Some(&next),
    )
    .unwrap_err();
    assert!(err.message().contains("run the import again"), "{err:?}");
}

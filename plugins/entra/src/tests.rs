//! Native tests of the connector against a fake Graph behind the SDK's
//! `Env`: a full read paged by nextLink that keeps a deltaLink, a quick read
//! from it (a change and a removal), a 410 that reads everything, a
//! repeating nextLink, and errors as an admin reads them. The end-to-end
//! test (tests/tests/entra_second_source.rs) runs the component in the real
//! host against the mock Graph.

use std::collections::BTreeMap;

use homeroom_sdk::connector_bindings::homeroom::plugin::http::{HttpError, Request, Response};
use homeroom_sdk::env::Env;
use homeroom_sdk::{EntityKind, Page, Status};
use serde_json::{Value as Json, json};

use crate::config::Config;
use crate::read;

const BASE: &str = "https://graph.microsoft.com/v1.0";

#[derive(Default)]
struct Fake {
    users: Vec<Json>,
    /// Changes after each delta token (token n: the changes from n on).
    changes: Vec<Json>,
    gone: bool,
    status: Option<u16>,
    loop_link: bool,
    storage: BTreeMap<String, Vec<u8>>,
    warnings: Vec<String>,
    urls: Vec<String>,
    clock: i64,
}

fn param(url: &str, name: &str) -> Option<String> {
    homeroom_sdk::paging::query_value(url, name)
}

impl Fake {
    fn answer(&self, url: &str) -> (u16, Json) {
        if let Some(status) = self.status {
            return (
                status,
                json!({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}),
            );
        }
        let delta_link = |n: usize| format!("{BASE}/users/delta?$deltatoken=t{n}");
        if url.contains("/users/delta") {
            match param(url, "$deltatoken").as_deref() {
                Some("latest") => {
                    return (
                        200,
                        json!({"value": [], "@odata.deltaLink": delta_link(self.changes.len())}),
                    );
                }
                Some(t) if self.gone => {
                    let _ = t;
                    return (
                        410,
                        json!({"error": {"code": "syncStateNotFound", "message": "resync required"}}),
                    );
                }
                Some(t) => {
                    let from: usize = t.trim_start_matches('t').parse().unwrap_or(0);
                    let value: Vec<Json> = self.changes[from..].to_vec();
                    return (
                        200,
                        json!({"value": value, "@odata.deltaLink": delta_link(self.changes.len())}),
                    );
                }
                None => return (400, json!({})),
            }
        }
        let top: usize = param(url, "$top")
            .and_then(|t| t.parse().ok())
            .unwrap_or(100);
        let skip: usize = param(url, "$skiptoken")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let value: Vec<Json> = self.users.iter().skip(skip).take(top).cloned().collect();
        let mut body = json!({"@odata.context": "x", "value": value});
        if self.loop_link {
            body["@odata.nextLink"] = json!(url);
        } else if skip + top < self.users.len() {
            body["@odata.nextLink"] =
                json!(format!("{BASE}/users?$top={top}&$skiptoken={}", skip + top));
        }
        (200, body)
    }
}

impl Env for Fake {
    fn send(&mut self, request: &Request) -> Result<Response, HttpError> {
        self.urls.push(request.url.clone());
        let (status, body) = self.answer(&request.url);
        let (h, m, sec) = (self.clock / 3600, self.clock / 60 % 60, self.clock % 60);
        Ok(Response {
            status,
            headers: vec![(
                "Date".into(),
                format!("Thu, 01 Jan 1970 {h:02}:{m:02}:{sec:02} GMT"),
            )],
            body: serde_json::to_vec(&body).unwrap(),
        })
    }
    fn setting(&self, _name: &str) -> Option<String> {
        None
    }
    fn warn(&mut self, message: &str) {
        self.warnings.push(message.to_string());
    }
    fn progress(&mut self, _done: u64, _total: Option<u64>) {}
    fn storage_get(&self, key: &str) -> Option<Vec<u8>> {
        self.storage.get(key).cloned()
    }
    fn storage_set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        self.storage.insert(key.into(), value.to_vec());
        Ok(())
    }
}

fn user(n: usize) -> Json {
    json!({"id": format!("u{n}"), "userPrincipalName": format!("user{n}@contoso.org"),
        "mail": format!("first{n}.last@contoso.org"), "givenName": format!("First{n}"),
        "surname": "Last", "accountEnabled": true, "employeeId": format!("E{n}"),
        "onPremisesSamAccountName": format!("user{n}")})
}

fn fake(n: usize) -> Fake {
    Fake {
        users: (1..=n).map(user).collect(),
        clock: 1_000,
        ..Default::default()
    }
}

fn config() -> Config {
    Config::from_settings(|name| (name == "page_size").then(|| "2".to_string())).unwrap()
}

/// Every page of a read, as the host asks for them.
fn read_all(env: &mut Fake, since: Option<&str>) -> Result<Vec<Page>, homeroom_sdk::PluginError> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = read::read(env, &config(), EntityKind::User, since, cursor.as_deref())?;
        cursor = page.next.clone();
        pages.push(page);
        if cursor.is_none() || pages.len() > 50 {
            return Ok(pages);
        }
    }
}

#[test]
fn a_full_read_pages_by_next_link_and_keeps_a_delta_link() {
    let mut env = fake(5);
    let pages = read_all(&mut env, None).unwrap();
    let users: Vec<_> = pages.iter().flat_map(|p| p.entities.iter()).collect();
    assert_eq!((pages.len(), users.len()), (3, 5));
    let u1 = users[0];
    assert_eq!(u1.source_id, "u1");
    assert_eq!(u1.text("email"), Some("first1.last@contoso.org"));
    assert_eq!(u1.text("username"), Some("user1@contoso.org"));
    assert_eq!(u1.text("identifier"), Some("E1"));
    assert_eq!(u1.text("familyName"), Some("Last"));
    assert!(u1.text("role").is_none(), "a directory names no role");
    assert!(env.urls[0].contains("$deltatoken=latest"), "{:?}", env.urls);
    assert!(env.urls[1].contains("$select=id,userPrincipalName") && env.urls[1].contains("$top=2"));
    assert!(env.storage.contains_key(read::STORAGE_KEY));
    assert!(env.warnings.is_empty(), "{:?}", env.warnings);
    // Other kinds are empty and ask nothing.
    let before = env.urls.len();
    let org = read::read(&mut env, &config(), EntityKind::Org, None, None).unwrap();
    assert!(org.entities.is_empty() && org.next.is_none() && env.urls.len() == before);
}

#[test]
fn a_quick_read_takes_the_changes_and_removals_since_the_kept_link() {
    let mut env = fake(3);
    read_all(&mut env, None).unwrap();
    let mut changed = user(2);
    changed["mail"] = json!("new.mail@contoso.org");
    env.changes = vec![
        changed,
        json!({"id": "u3", "@removed": {"reason": "deleted"}}),
    ];
    env.clock = 2_000;
    let since = "1970-01-01T00:16:00Z"; // 960: the full read's run began
    let pages = read_all(&mut env, Some(since)).unwrap();
    let got: Vec<_> = pages.iter().flat_map(|p| p.entities.iter()).collect();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].text("email"), Some("new.mail@contoso.org"));
    assert_eq!(
        (got[1].source_id.as_str(), got[1].status),
        ("u3", Status::ToBeDeleted)
    );
    assert!(env.urls.last().unwrap().contains("$deltatoken=t0"));
    // The next round starts from the link that round ended with.
    let later = "1970-01-01T00:30:00Z"; // 1800: the quick run's
    let idle = read_all(&mut env, Some(later)).unwrap();
    assert!(idle.iter().all(|p| p.entities.is_empty()));
    assert!(env.urls.last().unwrap().contains("$deltatoken=t2"));
}

#[test]
fn an_expired_token_or_none_kept_reads_every_user_and_says_so() {
    let mut env = fake(3);
    let pages = read_all(&mut env, Some("1970-01-01T00:25:00Z")).unwrap();
    assert_eq!(pages.iter().map(|p| p.entities.len()).sum::<usize>(), 3);
    assert!(
        env.warnings[0].contains("no Graph deltaLink was kept"),
        "{:?}",
        env.warnings
    );
    env.gone = true;
    env.clock = 3_000;
    let pages = read_all(&mut env, Some("1970-01-01T00:16:00Z")).unwrap();
    assert_eq!(pages.iter().map(|p| p.entities.len()).sum::<usize>(), 3);
    assert!(
        env.warnings
            .last()
            .unwrap()
            .contains("410 Gone: syncStateNotFound"),
        "{:?}",
        env.warnings
    );
}

#[test]
fn errors_tell_the_admin_what_to_do() {
    let mut env = fake(3);
    env.status = Some(403);
    let e = read_all(&mut env, None).unwrap_err();
    assert!(
        e.message().contains("User.Read.All") && e.message().contains("Insufficient privileges"),
        "{}",
        e.message()
    );
    let mut env = fake(3);
    env.loop_link = true;
    let e = read_all(&mut env, None).unwrap_err();
    assert!(e.message().contains("never end"), "{}", e.message());
    let mut env = fake(1);
    env.users.push(json!({"mail": "no-id@contoso.org"}));
    let pages = read_all(&mut env, None).unwrap();
    assert_eq!(pages[0].entities.len(), 1);
    assert!(env.warnings[0].contains("has no id"), "{:?}", env.warnings);
    let e = read::read(&mut env, &config(), EntityKind::User, None, Some("what")).unwrap_err();
    assert!(e.message().contains("not one this connector wrote"));
}

#[test]
fn the_connection_test_says_what_quick_imports_can_do() {
    let mut env = fake(2);
    let said = read::test_connection(&mut env, &config()).unwrap();
    assert!(
        said.contains("users readable (at least one)") && said.contains("delta queries: available"),
        "{said}"
    );
    env.status = Some(401);
    let e = read::test_connection(&mut env, &config()).unwrap_err();
    assert!(
        e.message().contains("refused the token (401)") && e.message().contains("Client secret"),
        "{}",
        e.message()
    );
}

#[test]
fn education_users_say_their_role_and_number_and_schools_are_orgs() {
    let student = json!({"id": "x1", "userPrincipalName": "s@contoso.org", "primaryRole": "student",
        "student": {"studentNumber": "ST-7"}, "teacher": null});
    let e = crate::map::user(&student).unwrap();
    assert_eq!(
        (e.text("role"), e.text("identifier")),
        (Some("student"), Some("ST-7"))
    );
    let faculty = crate::map::user(&json!({"id": "x2", "primaryRole": "faculty"})).unwrap();
    assert_eq!(
        (faculty.text("role"), faculty.text("identifier")),
        (None, None)
    );
    let school =
        crate::map::school(&json!({"id": "s1", "displayName": "North", "schoolNumber": "N-1"}))
            .unwrap();
    assert_eq!(
        (school.kind, school.text("type"), school.text("identifier")),
        (EntityKind::Org, Some("school"), Some("N-1"))
    );
    assert!(crate::map::school(&json!({"displayName": "No id"})).is_err());
}

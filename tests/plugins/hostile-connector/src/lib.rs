//! A connector that misbehaves on purpose. The `behaviour` setting picks how;
//! `well` behaves, so a test can show the host still works after the others.

use homeroom_sdk::prelude::*;

struct Hostile;

fn behaviour() -> String {
    settings::get("behaviour").unwrap_or_else(|| "well".into())
}

fn user(id: &str) -> Entity {
    Entity::new(EntityKind::User, id)
        .with_text("givenName", "Ada")
        .with_text("familyName", "Lovelace")
}

/// How many lines a flood writes (setting `lines`, 50,000 by default).
fn flood_lines() -> u64 {
    settings::get("lines")
        .and_then(|n| n.parse().ok())
        .unwrap_or(50_000)
}

/// The page, or (setting `fail` = `yes`) an error, so the run's log is shown.
fn after_flood(page: Result<Page, PluginError>) -> Result<Page, PluginError> {
    match settings::get("fail").as_deref() {
        Some("yes") => Err(PluginError::Unavailable("failed after the flood".into())),
        _ => page,
    }
}

#[inline(never)]
fn recurse_in_memory(depth: u64) -> u64 {
    let mut frame = [depth as u8; 512];
    std::hint::black_box(&mut frame);
    if std::hint::black_box(depth) == u64::MAX {
        return depth;
    }
    std::hint::black_box(recurse_in_memory(depth + 1)) + u64::from(frame[7])
}

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if std::hint::black_box(depth) == u64::MAX {
        return depth;
    }
    std::hint::black_box(recurse(depth + 1)).wrapping_add(1)
}

/// Everything the plugin can observe, as one string per line.
fn observe() -> Vec<String> {
    let mut seen = Vec::new();
    for (k, v) in settings::all() {
        seen.push(format!("setting {k}={v}"));
    }
    for (k, v) in std::env::vars() {
        seen.push(format!("env {k}={v}"));
    }
    for a in std::env::args() {
        seen.push(format!("arg {a}"));
    }
    if let Ok(dir) = std::fs::read_dir("/") {
        for e in dir.flatten() {
            seen.push(format!("file {}", e.path().display()));
        }
    }
    if let Some(base) = settings::get("service_url") {
        match http::send(http::HttpMethod::Get, &format!("{base}/echo"), &[], None) {
            Ok(r) => {
                for (k, v) in &r.headers {
                    seen.push(format!("response-header {k}={v}"));
                }
                seen.push(format!(
                    "response-body {}",
                    String::from_utf8_lossy(&r.body)
                ));
            }
            Err(e) => seen.push(format!("error {}", e.message())),
        }
    }
    match http::send(
        http::HttpMethod::Get,
        "http://forbidden.invalid/steal",
        &[],
        None,
    ) {
        Ok(r) => seen.push(format!("forbidden-status {}", r.status)),
        Err(e) => seen.push(format!("forbidden-error {}", e.message())),
    }
    for key in ["password", "token", "api_key", "client_secret"] {
        if let Some(v) = storage::get_string(key) {
            seen.push(format!("storage {key}={v}"));
        }
    }
    seen
}

impl Connector for Hostile {
    fn test_connection() -> Result<String, PluginError> {
        Ok(format!("behaviour {}", behaviour()))
    }

    fn list_schools() -> Result<Vec<School>, PluginError> {
        Ok(vec![School {
            source_id: "s1".into(),
            name: "Test School".into(),
            identifier: None,
        }])
    }

    fn read(
        kind: EntityKind,
        _since: Option<String>,
        cursor: Option<String>,
    ) -> Result<Page, PluginError> {
        log::info(&format!(
            "hostile read of {} as {}",
            kind.name(),
            behaviour()
        ));
        let page = |entities| {
            Ok(Page {
                entities,
                next: None,
                total: None,
                ahead: Vec::new(),
            })
        };
        match behaviour().as_str() {
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "allocate" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1024 * 1024]);
                    log::debug(&format!("holding {} MiB", hoard.len()));
                }
            }
            "panic" => panic!("hostile plugin panicked on purpose"),
            "forbidden-host" => {
                let r = http::send(
                    http::HttpMethod::Get,
                    "http://forbidden.invalid/steal",
                    &[],
                    None,
                )?;
                Err(PluginError::InvalidData(format!(
                    "forbidden host answered {}",
                    r.status
                )))
            }
            "empty-id" => page(vec![user("ok-1"), user("")]),
            "wrong-kind" => page(vec![Entity::new(EntityKind::Class, "c1")]),
            "stuck-cursor" => Ok(Page {
                entities: vec![user(&format!("u-{}", cursor.clone().unwrap_or_default()))],
                next: Some("same".into()),
                total: None,
                ahead: Vec::new(),
            }),
            // A read whose first page lists 40 more, each slow to read (a
            // spin of `spin` steps: the sandbox's clock stands still).
            "slow-ahead" => {
                let Some(at) = cursor else {
                    return Ok(Page {
                        entities: vec![user("slow-0")],
                        next: None,
                        total: Some(41),
                        ahead: (1..=40).map(|i| i.to_string()).collect(),
                    });
                };
                let steps: u64 = settings::get("spin")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(10_000_000);
                let mut x: u64 = 0;
                for _ in 0..steps {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
                page(vec![user(&format!("slow-{at}"))])
            }
            // A read that claims more pages than any source has.
            "ahead-flood" => Ok(Page {
                entities: vec![user("u1")],
                next: None,
                total: None,
                ahead: (0..200_000).map(|i| i.to_string()).collect(),
            }),
            "bad-date" => page(vec![
                user("u1").with("birthDate", Value::Date("31/02/2020".into())),
            ]),
            // Fill the plugin's storage: a thousand values of 1 MiB.
            "storage-flood" => {
                let value = vec![7u8; 1024 * 1024];
                let mut refused = None;
                for i in 0..1_000 {
                    if let Err(why) = storage::set(&format!("flood-{i}"), &value) {
                        refused = Some(format!("after {i} values: {why}"));
                        break;
                    }
                }
                // Say what the host answered, so the test sees the plugin heard it.
                let mut first = user("u1");
                if let Some(why) = refused {
                    first.set("storageRefused", Value::Text(why));
                }
                page(vec![first, user("u2")])
            }
            // Log error lines in a loop through the log interface.
            "log-flood" => {
                for i in 0..flood_lines() {
                    log::error(&format!("flood line {i}"));
                }
                after_flood(page(vec![user("u1"), user("u2")]))
            }
            // Print error lines in a loop to stderr.
            "stderr-flood" => {
                for i in 0..flood_lines() {
                    eprintln!("stderr flood line {i}");
                }
                after_flood(page(vec![user("u1"), user("u2")]))
            }
            "huge-value" => page(vec![
                user("u1"),
                user("u2").with_text("bio", "x".repeat(2 * 1024 * 1024)),
            ]),
            // Escapes and line breaks that would paint the terminal and fake
            // a line of the host's output, in an error, a warning, stderr.
            "ansi-error" => {
                let fake = "\u{1b}[2K\r\u{1b}[32m✔ run succeeded: 0 errors\u{1b}[0m\r\n";
                log::warn(&format!("careful\r\n{fake}"));
                eprintln!("\u{1b}]0;owned\u{7}stderr says {fake}");
                Err(PluginError::Unavailable(format!(
                    "\u{1b}[31mthe source is down\u{1b}[0m\r\n{fake}"
                )))
            }
            // A 1 MiB error message.
            "huge-error" => Err(PluginError::Unavailable(format!(
                "the source is down: {}",
                "because ".repeat(128 * 1024)
            ))),
            "bad-name" => page(vec![user("u1").with_text("given\u{1b}[2Kname", "Ada")]),
            "reserved-name" => page(vec![user("u1").with_text("sourcedId", "u1")]),
            "duplicate-id" => page(vec![
                user("dup-1"),
                user("u2"),
                user("dup-1").with_text("givenName", "Grace"),
            ]),
            // Recursion with a frame on the stack in linear memory, which
            // runs past its bottom.
            "stack-overflow" => {
                let depth = recurse_in_memory(0);
                page(vec![user(&format!("u{depth}"))])
            }
            // Recursion with small frames, which exhausts the call stack.
            "deep-recursion" => {
                let depth = recurse(0);
                page(vec![user(&format!("u{depth}"))])
            }
            "spy" => {
                let mut e = user("spy");
                e.set("observed", Value::Texts(observe()));
                page(vec![e])
            }
            _ => page(vec![user("u1"), user("u2")]),
        }
    }

    fn export_changes(changes: Vec<ExportChange>) -> Result<Vec<ExportOutcome>, PluginError> {
        Ok(changes
            .into_iter()
            .map(|c| ExportOutcome::Applied(c.entity.source_id))
            .collect())
    }
}

homeroom_sdk::export_connector!(Hostile);

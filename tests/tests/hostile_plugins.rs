//! Hostile plugins end in their own clear error within their limits, and the
//! host goes on: a well-behaved run in the same process succeeds afterwards.
//! What a plugin stores, logs, prints and returns is held to caps (a storage
//! quota, log lines kept first and last with a count between, value, reason
//! and message sizes), and what it says reaches an admin as printable text.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use homeroom_host::bindings::types::{EntityKind, Value};
use homeroom_host::capabilities::http::{ConnectionClient, HttpLimits};
use homeroom_host::capabilities::log::Origin;
use homeroom_host::capabilities::storage::KeyValue;
use homeroom_host::gallery::Package;
use homeroom_host::gallery::grant::grant;
use homeroom_host::model::record::Record;
use homeroom_host::model::report::RunReport;
use homeroom_host::runtime::{
    ConnectorSession, Failure, Limits, RuleSession, Runtime, SessionOptions,
};
use homeroom_host::secret::Secret;
use homeroom_host::store::{DbKeyValue, Store};
use homeroom_host::testing::TEST_PLUGINS_DIR;

fn limits() -> Limits {
    Limits {
        memory_bytes: 64 * 1024 * 1024,
        call_timeout: Duration::from_secs(2),
        rule_fuel: 50_000_000,
        max_instances: 4,
        ..Limits::builtin()
    }
}

/// Limits for a plugin that does a lot on purpose (a flood): time enough
/// that only the caps stop it.
fn patient() -> Limits {
    Limits {
        call_timeout: Duration::from_secs(60),
        rule_fuel: Limits::builtin().rule_fuel,
        ..limits()
    }
}

/// Nothing in `text` a terminal would act on: no escape, no carriage return,
/// no other control character but the host's own line breaks.
fn printable(text: &str) -> bool {
    !text.chars().any(|c| c.is_control() && c != '\n')
}

fn package(name: &str) -> Arc<Package> {
    Arc::new(
        Package::from_dir(&Path::new(TEST_PLUGINS_DIR).join(name), None)
            .expect("test plugin package"),
    )
}

async fn connector(runtime: &Runtime, behaviour: &str) -> ConnectorSession {
    connector_with(runtime, &[("behaviour", behaviour)], None).await
}

async fn connector_with(
    runtime: &Runtime,
    settings: &[(&str, &str)],
    storage: Option<Arc<dyn KeyValue>>,
) -> ConnectorSession {
    let package = package("hostile-connector");
    let loaded = runtime.load(&package).expect("load hostile connector");
    let settings = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ConnectorSession::start(
        runtime,
        loaded,
        SessionOptions {
            settings,
            storage,
            ..Default::default()
        },
    )
    .await
    .expect("start")
}

async fn read_users(session: &mut ConnectorSession) -> Result<u64, String> {
    session
        .read_all(EntityKind::User, None, |_page| Ok::<(), ()>(()))
        .await
        .map_err(|e| e.to_string())
}

async fn well_behaved_read_works(runtime: &Runtime) {
    let mut ok = connector(runtime, "well").await;
    assert_eq!(
        read_users(&mut ok).await,
        Ok(2),
        "a well-behaved run after a hostile one"
    );
}

#[tokio::test]
async fn endless_loop_is_stopped_at_the_time_limit() {
    let runtime = Runtime::new(limits()).unwrap();
    let mut session = connector(&runtime, "loop").await;
    let started = Instant::now();
    let err = session
        .read_page(EntityKind::User, None, None)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(
        err.failure,
        Failure::Timeout(Duration::from_secs(2)),
        "{err}"
    );
    assert!(
        elapsed < Duration::from_secs(6),
        "stopped after {elapsed:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("hostile-connector")
            && text.contains("read(user)")
            && text.contains("time limit"),
        "{text}"
    );
    assert!(
        text.contains("hostile read of user as loop"),
        "the plugin's last log line is in the report: {text}"
    );
    // The store that trapped is discarded; the session refuses further calls.
    let again = session
        .read_page(EntityKind::User, None, None)
        .await
        .unwrap_err();
    assert_eq!(again.failure, Failure::Discarded);
    well_behaved_read_works(&runtime).await;
}

#[tokio::test]
async fn unbounded_allocation_is_stopped_at_the_memory_limit() {
    let runtime = Runtime::new(limits()).unwrap();
    let mut session = connector(&runtime, "allocate").await;
    let err = session
        .read_page(EntityKind::User, None, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.failure,
        Failure::OutOfMemory {
            limit_bytes: 64 * 1024 * 1024
        },
        "{err}"
    );
    assert!(err.to_string().contains("memory limit of 64 MiB"), "{err}");
    well_behaved_read_works(&runtime).await;
}

#[tokio::test]
async fn a_panic_is_reported_with_its_message() {
    let runtime = Runtime::new(limits()).unwrap();
    let mut session = connector(&runtime, "panic").await;
    let err = session
        .read_page(EntityKind::User, None, None)
        .await
        .unwrap_err();
    match &err.failure {
        Failure::Trap(msg) => assert!(msg.contains("hostile plugin panicked on purpose"), "{msg}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    well_behaved_read_works(&runtime).await;
}

#[tokio::test]
async fn a_host_outside_the_manifest_is_denied() {
    let runtime = Runtime::new(limits()).unwrap();
    let package = package("hostile-connector");
    let settings = BTreeMap::from([
        ("behaviour".to_string(), "forbidden-host".to_string()),
        ("service_url".to_string(), "http://127.0.0.1:9/".to_string()),
    ]);
    let granted = grant(
        &package.manifest,
        &settings,
        &BTreeMap::new(),
        HttpLimits::default(),
    )
    .unwrap();
    let client = ConnectionClient::new(granted.connection.unwrap()).unwrap();
    let loaded = runtime.load(&package).unwrap();
    let mut session = ConnectorSession::start(
        &runtime,
        loaded,
        SessionOptions {
            settings: granted.settings,
            http: Some(Arc::new(client)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let err = session
        .read_page(EntityKind::User, None, None)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err.failure,
            Failure::Plugin {
                kind: "configuration",
                ..
            }
        ),
        "{text}"
    );
    assert!(text.contains("forbidden.invalid"), "{text}");
    well_behaved_read_works(&runtime).await;
}

#[tokio::test]
async fn malformed_pages_are_refused_with_the_record_named() {
    let runtime = Runtime::new(limits()).unwrap();
    for (behaviour, expected) in [
        ("empty-id", "empty source id"),
        ("wrong-kind", "a read of user returned class record `c1`"),
        ("stuck-cursor", "would never end"),
        ("ahead-flood", "200000 pages ahead"),
        ("bad-date", "invalid value in `birthDate`"),
        (
            "huge-value",
            "user record `u2` has a value of 2 MiB in `bio` (the limit is 64 KiB",
        ),
        (
            "bad-name",
            "user record `u1` has an attribute named `given\\u{1b}[2Kname`, which is not an attribute name",
        ),
        (
            "reserved-name",
            "user record `u1` has an attribute named `sourcedId`, which every record carries",
        ),
    ] {
        let mut session = connector(&runtime, behaviour).await;
        let err = read_users(&mut session).await.unwrap_err();
        assert!(err.contains(expected), "{behaviour}: {err}");
        assert!(
            err.contains("nothing from this call was used"),
            "{behaviour}: {err}"
        );
    }
    well_behaved_read_works(&runtime).await;
}

/// A user record as the pipeline holds it when the rules run.
fn user(id: &str, email: &str) -> Record {
    Record {
        kind: EntityKind::User,
        source_id: id.into(),
        deleted: false,
        modified: None,
        attrs: [
            ("email", serde_json::json!(email)),
            ("role", serde_json::json!("student")),
            ("givenName", serde_json::json!("Ada")),
            ("grades", serde_json::json!(["09"])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    }
}

async fn rule(runtime: &Runtime, behaviour: &str) -> RuleSession {
    let package = package("hostile-rule");
    let loaded = runtime.load(&package).unwrap();
    let settings = BTreeMap::from([("behaviour".to_string(), behaviour.to_string())]);
    RuleSession::start(
        runtime,
        loaded,
        SessionOptions {
            settings,
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_rule_that_burns_compute_runs_out_of_fuel() {
    let runtime = Runtime::new(limits()).unwrap();
    let mut burn = rule(&runtime, "burn").await;
    let started = Instant::now();
    let err = burn
        .apply(&mut vec![user("u1", "A@X.ORG")])
        .await
        .unwrap_err();
    assert_eq!(
        err.failure,
        Failure::OutOfFuel { budget: 50_000_000 },
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(err.to_string().contains("compute budget"), "{err}");

    // The host goes on: a well-behaved rule in the same runtime works.
    let mut well = rule(&runtime, "well").await;
    let mut page = vec![user("u1", "A@X.ORG")];
    let dropped = well.apply(&mut page).await.unwrap();
    assert!(dropped.is_empty());
    assert_eq!(page[0].attrs["email"], "a@x.org");
}

#[tokio::test]
async fn a_rule_declaring_reads_sees_only_those_attributes() {
    let runtime = Runtime::new(limits()).unwrap();
    let mut peek = rule(&runtime, "peek").await;
    assert_eq!(
        peek.reads(),
        Some(&["email".to_string(), "role".to_string()][..])
    );
    let mut page = vec![user("u1", "a@x.org")];
    let dropped = peek.apply(&mut page).await.unwrap();
    assert!(page.is_empty());
    // givenName and grades never crossed into the guest.
    assert_eq!(dropped[0].1, "saw email,role");
    // The dropped record is the host's own, whole.
    assert_eq!(dropped[0].0, user("u1", "a@x.org"));
}

#[tokio::test]
async fn a_transform_declaring_reads_keeps_what_it_did_not_read() {
    let runtime = Runtime::new(limits()).unwrap();
    let mut well = rule(&runtime, "well").await;
    let mut page = vec![user("u1", "A@X.ORG"), user("u2", "b@x.org")];
    let dropped = well.apply(&mut page).await.unwrap();
    assert!(dropped.is_empty());
    let mut want = user("u1", "a@x.org");
    assert_eq!(page[0], want, "email lowercased, givenName and grades kept");
    want = user("u2", "b@x.org");
    assert_eq!(page[1], want, "a kept record is untouched");
}

#[tokio::test]
async fn a_rule_may_not_lose_records_or_change_identities() {
    let runtime = Runtime::new(limits()).unwrap();
    let batch = vec![user("u1", "a@x.org"), user("u2", "b@x.org")];
    let err = rule(&runtime, "wrong-count")
        .await
        .apply(&mut batch.clone())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("1 verdicts came back for 2 records"),
        "{err}"
    );
    let err = rule(&runtime, "rename")
        .await
        .apply(&mut batch.clone())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("changed the identity of user record `u1`"),
        "{err}"
    );
}

#[tokio::test]
async fn a_component_for_another_world_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(TEST_PLUGINS_DIR).join("hostile-rule");
    let manifest = std::fs::read_to_string(src.join("manifest.toml")).unwrap();
    let with_version = |v: &str| {
        manifest
            .lines()
            .map(|l| {
                if l.starts_with("world_version") {
                    format!("world_version = \"{v}\"")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    std::fs::write(dir.path().join("manifest.toml"), with_version("0.9.0")).unwrap();
    std::fs::copy(src.join("plugin.wasm"), dir.path().join("plugin.wasm")).unwrap();
    let err = Package::from_dir(dir.path(), None).unwrap_err().to_string();
    assert!(
        err.contains("homeroom:plugin@0.9.0") && err.contains("runs homeroom:plugin@0.1.0, 0.2.0"),
        "{err}"
    );

    // A manifest that names the other version than its component speaks.
    let built_for = if manifest.contains("world_version = \"0.1.0\"") {
        "0.1.0"
    } else {
        "0.2.0"
    };
    let other = if built_for == "0.1.0" {
        "0.2.0"
    } else {
        "0.1.0"
    };
    std::fs::write(dir.path().join("manifest.toml"), with_version(other)).unwrap();
    let package = Arc::new(Package::from_dir(dir.path(), None).unwrap());
    let err = Runtime::new(limits())
        .unwrap()
        .load(&package)
        .err()
        .expect("a component of another version than its manifest says must not load")
        .to_string();
    assert!(
        err.contains(&format!("says world_version {other}"))
            && err.contains(&format!("built for homeroom:plugin@{built_for}")),
        "{err}"
    );

    std::fs::write(
        dir.path().join("manifest.toml"),
        std::fs::read_to_string(src.join("manifest.toml")).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("plugin.wasm"), b"\0asm not really").unwrap();
    let package = Arc::new(Package::from_dir(dir.path(), None).unwrap());
    let runtime = Runtime::new(limits()).unwrap();
    let err = runtime
        .load(&package)
        .err()
        .expect("garbage must not load")
        .to_string();
    assert!(err.contains("not a valid WebAssembly component"), "{err}");
}

#[tokio::test]
async fn a_plugin_never_sees_a_secret() {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/echo",
        get(|headers: axum::http::HeaderMap| async move {
            // The server saw the credentials the host added...
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            assert!(auth.starts_with("Basic "), "host added basic auth");
            // ...and answers normally, without echoing them.
            axum::Json(serde_json::json!({"ok": true}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let secret = "pa55-W0RD-never-in-guest";
    let runtime = Runtime::new(limits()).unwrap();
    let package = package("hostile-connector");
    let settings = BTreeMap::from([
        ("behaviour".to_string(), "spy".to_string()),
        ("auth".to_string(), "basic".to_string()),
        ("username".to_string(), "district".to_string()),
        ("service_url".to_string(), format!("http://{addr}")),
    ]);
    let secrets = BTreeMap::from([("password".to_string(), Secret::new(secret))]);
    let granted = grant(
        &package.manifest,
        &settings,
        &secrets,
        HttpLimits::default(),
    )
    .unwrap();
    assert!(
        !format!("{granted:?}").contains(secret),
        "the grant's Debug hides the secret"
    );
    let client = ConnectionClient::new(granted.connection.unwrap()).unwrap();
    let loaded = runtime.load(&package).unwrap();
    let mut session = ConnectorSession::start(
        &runtime,
        loaded,
        SessionOptions {
            settings: granted.settings,
            http: Some(Arc::new(client)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let page = session
        .read_page(EntityKind::User, None, None)
        .await
        .unwrap();
    let observed = serde_json::to_string(&page).unwrap();
    assert!(
        observed.contains("setting username=district"),
        "the spy reports what it sees: {observed}"
    );
    assert!(
        observed.contains("response-body {\\\"ok\\\":true}"),
        "{observed}"
    );
    assert!(observed.contains("forbidden-error"), "{observed}");
    let basic = base64_of(&format!("district:{secret}"));
    for needle in [secret, basic.as_str(), "password="] {
        assert!(
            !observed.contains(needle),
            "the guest saw `{needle}`: {observed}"
        );
    }
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Sum of the sizes of the files in `dir` (a SQLite database, its WAL).
fn bytes_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

#[tokio::test]
async fn a_storage_flood_stops_at_the_quota_and_the_run_report_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("homeroom.db").display());
    let store = Store::open(&url).await.unwrap();
    // The operator allows at most 8 MiB per plugin and source (below the
    // default quota of 64 MiB, so it is the quota).
    let mut limits = patient();
    limits.plugin_max.storage_bytes = 8 * 1024 * 1024;
    let runtime = Runtime::new(limits).unwrap();
    let kv: Arc<dyn KeyValue> = Arc::new(DbKeyValue::new(store.clone(), "district", "sis"));
    for run in 0..2 {
        let mut session = connector_with(
            &runtime,
            &[("behaviour", "storage-flood")],
            Some(kv.clone()),
        )
        .await;
        // The plugin hears the refusal (0.2.0's `set` returns it) and stops
        // writing; its read goes on and succeeds.
        let mut heard = None;
        let read = session
            .read_all(EntityKind::User, None, |page| {
                heard = heard.take().or_else(|| {
                    page.entities[0]
                        .attributes
                        .iter()
                        .find_map(|a| match &a.value {
                            Value::Text(t) if a.name == "storageRefused" => Some(t.clone()),
                            _ => None,
                        })
                });
                Ok::<(), ()>(())
            })
            .await
            .map_err(|e| e.to_string());
        assert_eq!(read, Ok(2), "run {run}");
        let heard = heard.unwrap_or_default();
        assert!(
            heard.starts_with("after 8 values: the host refused to store `flood-8`")
                && heard.contains("past its quota of 8 MiB"),
            "run {run}: the plugin heard {heard:?}"
        );
        let (warnings, _) = session.take_warnings();
        assert!(
            warnings.iter().all(|w| w.origin == Origin::Host),
            "{warnings:?}"
        );
        let text: Vec<&str> = warnings.iter().map(|w| w.text.as_str()).collect();
        let text = text.join("\n");
        assert!(
            text.contains("the host refused to store `flood-8`")
                && text.contains("past its quota of 8 MiB"),
            "run {run}: {text}"
        );
        let usage = kv.usage().await.unwrap();
        assert!(usage.bytes <= 8 * 1024 * 1024, "run {run}: {usage:?}");
        assert_eq!(usage.keys, 8, "run {run}: eight values of 1 MiB fit");
    }
    // A thousand values of 1 MiB were written twice; the database holds
    // its quota and no more (WAL included, with room for pages and frames).
    let on_disk = bytes_in(tmp.path());
    assert!(on_disk < 48 * 1024 * 1024, "{on_disk} bytes on disk");
    // Another source's storage is its own, with its own quota.
    let other = DbKeyValue::new(store, "district", "lms");
    assert_eq!(other.usage().await.unwrap().keys, 0);
    well_behaved_read_works(&runtime).await;
}

#[tokio::test]
async fn a_log_flood_keeps_the_first_and_last_lines_and_counts_the_rest() {
    let runtime = Runtime::new(patient()).unwrap();
    for (behaviour, line) in [
        ("log-flood", "error: flood line"),
        ("stderr-flood", "stderr: stderr flood line"),
    ] {
        // A flood is no failure: the read succeeds.
        let mut ok = connector_with(&runtime, &[("behaviour", behaviour)], None).await;
        assert_eq!(read_users(&mut ok).await, Ok(2), "{behaviour}");

        let mut failing =
            connector_with(&runtime, &[("behaviour", behaviour), ("fail", "yes")], None).await;
        let err = read_users(&mut failing).await.unwrap_err();
        assert!(err.contains("failed after the flood"), "{behaviour}: {err}");
        // 50,001 lines (the read's own, then the flood): the first five,
        // a count, the last twenty.
        let lines: Vec<&str> = err.lines().map(str::trim).collect();
        let first = lines.iter().position(|l| l.starts_with(line)).unwrap();
        assert_eq!(lines[first], format!("{line} 0"), "{behaviour}: {err}");
        assert!(
            lines.contains(&"… 49,976 more lines not kept"),
            "{behaviour}: {err}"
        );
        assert_eq!(
            lines.last().copied(),
            Some(format!("{line} 49999").as_str()),
            "{behaviour}: {err}"
        );
        assert!(lines.len() < 40, "{behaviour}: {err}");
    }
    well_behaved_read_works(&runtime).await;
}

#[tokio::test]
async fn escapes_and_line_breaks_never_reach_the_admin() {
    let runtime = Runtime::new(limits()).unwrap();
    let mut session = connector(&runtime, "ansi-error").await;
    let err = session
        .read_page(EntityKind::User, None, None)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(printable(&text), "{text:?}");
    // The fake "succeeded" line is part of the plugin's own line.
    let first = text.lines().next().unwrap();
    assert!(
        first.ends_with("unavailable error: the source is down ✔ run succeeded: 0 errors"),
        "{text}"
    );
    assert!(
        text.lines().all(|l| !l.trim_start().starts_with('✔')),
        "{text}"
    );
    assert!(
        err.recent_log
            .iter()
            .any(|l| l.starts_with("stderr: stderr says ✔")),
        "{:?}",
        err.recent_log
    );
    let (warnings, _) = session.take_warnings();
    let said: Vec<(Origin, &str)> = warnings
        .iter()
        .map(|w| (w.origin, w.text.as_str()))
        .collect();
    assert_eq!(
        said,
        [(Origin::Plugin, "careful ✔ run succeeded: 0 errors")]
    );
}

#[tokio::test]
async fn a_huge_error_is_cut() {
    let runtime = Runtime::new(limits()).unwrap();
    let mut session = connector(&runtime, "huge-error").await;
    let err = session
        .read_page(EntityKind::User, None, None)
        .await
        .unwrap_err();
    let Failure::Plugin { message, .. } = &err.failure else {
        panic!("{err}");
    };
    assert!(message.starts_with("the source is down: because because"));
    assert!(
        message.ends_with('…') && message.len() <= 2_000,
        "{}",
        message.len()
    );
    assert!(err.to_string().len() < 4_000);
}

#[tokio::test]
async fn an_id_twice_in_a_page_is_named_in_a_warning() {
    let runtime = Runtime::new(limits()).unwrap();
    let mut session = connector(&runtime, "duplicate-id").await;
    let page = session
        .read_page(EntityKind::User, None, None)
        .await
        .unwrap();
    assert_eq!(page.entities.len(), 3, "the pipeline decides which stands");
    let (warnings, _) = session.take_warnings();
    assert!(
        warnings.iter().any(|w| w.origin == Origin::Host && w.text.contains(
            "user `dup-1` is in one page twice, as records 1 and 3 of 3 (they differ in `givenName`)"
        )),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn a_stack_overflow_is_said_in_the_admins_words() {
    let runtime = Runtime::new(limits()).unwrap();
    for behaviour in ["stack-overflow", "deep-recursion"] {
        let mut session = connector(&runtime, behaviour).await;
        let err = session
            .read_page(EntityKind::User, None, None)
            .await
            .unwrap_err();
        assert_eq!(
            err.failure,
            Failure::Trap("it ran out of stack (deep recursion)".into()),
            "{behaviour}: {err}"
        );
        let text = err.to_string();
        assert!(text.contains("report it to the plugin's vendor"), "{text}");
        for wasmtime_words in ["out of bounds", "call stack exhausted", "wasm", "trap"] {
            assert!(!text.contains(wasmtime_words), "{behaviour}: {text}");
        }
        let again = session
            .read_page(EntityKind::User, None, None)
            .await
            .unwrap_err();
        assert_eq!(again.failure, Failure::Discarded);
    }
    well_behaved_read_works(&runtime).await;
}

/// A copy of the hostile connector whose manifest asks for `needs`.
fn needing(needs: &str) -> (tempfile::TempDir, Arc<Package>) {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(TEST_PLUGINS_DIR).join("hostile-connector");
    let manifest = std::fs::read_to_string(src.join("manifest.toml")).unwrap();
    std::fs::write(
        dir.path().join("manifest.toml"),
        format!("{manifest}\n[needs]\n{needs}\n"),
    )
    .unwrap();
    std::fs::copy(src.join("plugin.wasm"), dir.path().join("plugin.wasm")).unwrap();
    let package = Arc::new(Package::from_dir(dir.path(), None).unwrap());
    (dir, package)
}

#[tokio::test]
async fn a_manifest_may_ask_for_more_within_the_operators_maximum() {
    let (_dir, package) = needing("value_bytes = 4194304");
    let settings = BTreeMap::from([("behaviour".to_string(), "huge-value".to_string())]);
    let read = |runtime: Arc<Runtime>| {
        let package = package.clone();
        let settings = settings.clone();
        async move {
            let loaded = runtime.load(&package).unwrap();
            let mut session = ConnectorSession::start(
                &runtime,
                loaded,
                SessionOptions {
                    settings,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            read_users(&mut session).await
        }
    };
    // The built-in maximum for a value is 1 MiB: asking for 4 MiB gets 1.
    let err = read(Runtime::new(limits()).unwrap()).await.unwrap_err();
    assert!(
        err.contains("has a value of 2 MiB in `bio` (the limit is 1 MiB"),
        "{err}"
    );
    // An operator who allows 8 MiB lets it have the 4 MiB it asked for.
    let mut generous = limits();
    generous.plugin_max.value_bytes = 8 * 1024 * 1024;
    assert_eq!(read(Runtime::new(generous).unwrap()).await, Ok(2));
}

#[tokio::test]
async fn a_rules_reasons_and_values_are_held_to_their_caps() {
    let runtime = Runtime::new(patient()).unwrap();
    let mut huge = rule(&runtime, "huge-reason").await;
    let page = vec![
        user("u1", "a@x.org"),
        user("u2", "b@x.org"),
        user("u3", "c@x.org"),
    ];
    let dropped = huge.apply(&mut page.clone()).await.unwrap();
    assert_eq!(dropped.len(), 3);
    for (_, why) in &dropped {
        assert!(why.starts_with("not wanted: because"), "{why:?}");
        assert!(why.ends_with('…') && why.len() <= 1024, "{}", why.len());
        assert!(printable(why), "{why:?}");
    }
    // Three 8 MB reasons make a run report of a few kilobytes.
    let mut report = RunReport::default();
    report.left_out_by_rule(huge.plugin_id(), &dropped);
    let size = serde_json::to_string(&report).unwrap().len();
    assert!(size < 8 * 1024, "{size} bytes");

    let err = rule(&runtime, "huge-value")
        .await
        .apply(&mut page.clone())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("user record `u1` has a value of 1 MiB in `email`"),
        "{err}"
    );
}

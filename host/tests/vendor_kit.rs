//! A vendor's afternoon, with the `homeroom` binary only: `plugin new`
//! makes a connector crate, its own `cargo test` passes natively, `plugin
//! keygen` and `plugin package --key` build, check, lay out and sign it,
//! and a district imports it through the engine from a plugins folder the
//! operator trusts, against the API the template reads (served here on
//! loopback, as the template's README describes it): exact counts, the
//! secret never printed, a wrong key refused with what to check, and the
//! records that break the data contract told by record.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Path as UrlPath, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json};
use serde_json::{Value, json};

const KEY: &str = "acme-key-7f3a91";
/// Requests the API was sent.
static REQUESTS: AtomicUsize = AtomicUsize::new(0);
const SCHOOLS: usize = 3;
const STUDENTS: usize = 257;
const TEACHERS: usize = 12;

/// The template's example API: `/schools`, `/students`, `/teachers`, pages
/// by `page` and `per_page` from 1, `{"items", "page", "total_pages"}`, the
/// key in X-API-Key. Teacher t12 has no first name (a contract breach).
async fn collection(
    UrlPath(name): UrlPath<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> axum::response::Response {
    REQUESTS.fetch_add(1, Ordering::SeqCst);
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid API key"})),
        )
            .into_response();
    }
    let items: Vec<Value> = match name.as_str() {
        "schools" => (1..=SCHOOLS)
            .map(|i| json!({"id": format!("sch{i}"), "name": format!("School {i}")}))
            .collect(),
        "students" => (1..=STUDENTS)
            .map(|i| json!({"id": format!("s{i}"), "first_name": format!("Stu{i}"), "last_name": "Dent",
                "email": format!("s{i}@acme.test"), "school_id": format!("sch{}", 1 + i % SCHOOLS),
                "grade": (1 + i % 12).to_string()}))
            .collect(),
        "teachers" => (1..=TEACHERS)
            .map(|i| json!({"id": format!("t{i}"), "first_name": if i == TEACHERS { String::new() } else { format!("Tea{i}") },
                "last_name": "Cher", "email": format!("t{i}@acme.test"), "school_id": "sch1"}))
            .collect(),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let page: usize = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let per: usize = q
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    let pages = items.len().div_ceil(per).max(1);
    let items: Vec<Value> = items.into_iter().skip((page - 1) * per).take(per).collect();
    Json(json!({"items": items, "page": page, "total_pages": pages})).into_response()
}

async fn serve_api() -> SocketAddr {
    let app = axum::Router::new().route("/api/{name}", axum::routing::get(collection));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn run(
    dir: &Path,
    program: impl AsRef<std::ffi::OsStr>,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut c = Command::new(program);
    c.current_dir(dir)
        .args(args)
        .env_remove("HOMEROOM_DB")
        .env_remove("HOMEROOM_ORG")
        .env_remove("HOMEROOM_PLUGINS_DIR");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run")
}

fn ok(out: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Builds of the vendor's crate go to one folder beside the workspace's
/// own, so a second run of this test builds nothing again.
fn vendor_target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/vendor-kit")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connector_from_plugin_new_is_packaged_signed_and_imported() {
    let api = serve_api().await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().to_path_buf();
    let homeroom = env!("CARGO_BIN_EXE_homeroom");
    let target = vendor_target();
    let target = target.to_str().unwrap();

    let made = ok(
        run(&dir, homeroom, &["plugin", "new", "acme-sis"], &[]),
        "plugin new",
    );
    assert!(made.contains("acme-sis"), "{made}");
    let krate = dir.join("acme-sis");
    // The workspace's lock file, so the crate builds with the versions
    // this checkout was tested with, offline when they are cached.
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock"),
        krate.join("Cargo.lock"),
    )
    .unwrap();
    let again = run(&dir, homeroom, &["plugin", "new", "acme-sis"], &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let tested = run(&krate, &cargo, &["test"], &[("CARGO_TARGET_DIR", target)]);
    let stderr = String::from_utf8_lossy(&tested.stderr).to_string();
    let stdout = ok(tested, "cargo test of the new crate");
    assert!(stdout.contains("test result: ok. 3 passed"), "{stdout}");
    assert!(
        !stderr.contains("warning:"),
        "the template builds without warnings:\n{stderr}"
    );

    let public = ok(
        run(
            &dir,
            homeroom,
            &["plugin", "keygen", "--out", "vendor.key"],
            &[],
        ),
        "keygen",
    );
    std::fs::write(dir.join("trusted-keys"), format!("# Acme\n{public}")).unwrap();
    let packaged = ok(
        run(
            &krate,
            homeroom,
            &[
                "plugin",
                "package",
                ".",
                "--out",
                "../packages",
                "--key",
                "../vendor.key",
                "--json",
            ],
            &[("CARGO_TARGET_DIR", target)],
        ),
        "plugin package",
    );
    let packaged: Value = serde_json::from_str(packaged.trim()).unwrap();
    assert_eq!(packaged["id"], "acme-sis");
    assert_eq!(packaged["signed"], true);
    for file in ["manifest.toml", "plugin.wasm", "signature"] {
        assert!(dir.join("packages/acme-sis").join(file).exists(), "{file}");
    }

    let trusted = dir.join("trusted-keys");
    let env = [
        ("HOMEROOM_PLUGINS_DIR", "packages"),
        ("HOMEROOM_TRUSTED_KEYS", trusted.to_str().unwrap()),
        ("ACME_KEY", KEY),
    ];
    let listed = ok(run(&dir, homeroom, &["plugins"], &env), "plugins");
    assert!(
        listed.contains("acme-sis"),
        "the signed package loads: {listed}"
    );

    // plugin run: every user read, the breach told by record, no secret.
    let url = format!("http://{api}/api");
    let read = run(
        &dir,
        homeroom,
        &[
            "plugin",
            "run",
            "acme-sis",
            "--set",
            &format!("service_url={url}"),
            "--secret",
            "api_key=env:ACME_KEY",
            "--read",
            "user",
            "--show",
            "2",
            "--record",
            "tape",
        ],
        &env,
    );
    let warned = String::from_utf8_lossy(&read.stderr).to_string();
    let printed = ok(read, "plugin run");
    assert!(
        printed.contains(&format!("{} user records read", STUDENTS + TEACHERS)),
        "{printed}"
    );
    assert!(
        warned.contains("user t12 has no givenName"),
        "the record that breaks the contract is told: {warned}"
    );
    assert!(!printed.contains(KEY) && !warned.contains(KEY));

    // The harness: the answers recorded above, replayed offline with no
    // secret; the recording holds no key; a request not recorded says so.
    let asked = REQUESTS.load(Ordering::SeqCst);
    let tape: String = std::fs::read_dir(dir.join("tape"))
        .unwrap()
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect();
    assert!(tape.contains("Stu1") && !tape.contains(KEY));
    let replay = |kind: &str| {
        run(
            &dir,
            homeroom,
            &[
                "plugin",
                "run",
                "acme-sis",
                "--set",
                &format!("service_url={url}"),
                "--read",
                kind,
                "--replay",
                "tape",
            ],
            &env[..2],
        )
    };
    let replayed = ok(replay("user"), "plugin run --replay");
    assert!(
        replayed.contains(&format!("{} user records read", STUDENTS + TEACHERS)),
        "{replayed}"
    );
    assert_eq!(
        REQUESTS.load(Ordering::SeqCst),
        asked,
        "a replay sends nothing"
    );
    let unrecorded = replay("org");
    assert!(!unrecorded.status.success());
    let said = String::from_utf8_lossy(&unrecorded.stderr);
    assert!(
        said.contains("was not recorded") && said.contains("--record"),
        "{said}"
    );

    // A district imports it through the engine.
    let district = format!(
        "[organization]\nid = \"acme-usd\"\nname = \"Acme USD\"\n\n[[source]]\nid = \"sis\"\nplugin = \"acme-sis\"\n\
         settings = {{ service_url = \"{url}\", page_size = \"50\" }}\nsecrets = {{ api_key = \"ACME_KEY\" }}\n"
    );
    std::fs::write(dir.join("district.toml"), district).unwrap();
    ok(
        run(&dir, homeroom, &["apply", "district.toml"], &env),
        "apply",
    );
    // The report's columns: KIND READ SKIPPED ADD UPDATE DELETE UNCHANGED ERRORS.
    let column = |report: &str, kind: &str, at: usize| -> usize {
        report
            .lines()
            .find(|l| l.split_whitespace().next() == Some(kind))
            .and_then(|l| l.split_whitespace().nth(at))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {kind} counts in {report}"))
    };
    let first = ok(
        run(&dir, homeroom, &["import", "sis", "--auto-commit"], &env),
        "import",
    );
    assert!(first.contains("committed"), "{first}");
    assert_eq!(
        column(&first, "user", 3),
        STUDENTS + TEACHERS,
        "every user added: {first}"
    );
    assert_eq!(column(&first, "org", 3), SCHOOLS, "{first}");
    assert!(
        first.contains("user t12 has no givenName"),
        "told in the run report: {first}"
    );
    assert!(!first.contains(KEY));
    let second = ok(
        run(&dir, homeroom, &["import", "sis", "--auto-commit"], &env),
        "second import",
    );
    assert_eq!(column(&second, "user", 1), STUDENTS + TEACHERS, "{second}");
    assert_eq!(
        column(&second, "user", 6),
        STUDENTS + TEACHERS,
        "nothing changed: {second}"
    );

    // A wrong key: refused, with what to check, and nothing lost.
    let wrong = [env[0], env[1], ("ACME_KEY", "not-the-key")];
    let refused = run(&dir, homeroom, &["import", "sis", "--auto-commit"], &wrong);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(said.contains("check the API key"), "{said}");
    assert!(!said.contains("not-the-key"));
}

/// The SDK's REFERENCE.md is what the host prints from its own tables.
#[test]
fn the_manifest_reference_is_the_hosts_own() {
    let printed = ok(
        run(
            Path::new(env!("CARGO_MANIFEST_DIR")),
            env!("CARGO_BIN_EXE_homeroom"),
            &["plugin", "reference"],
            &[],
        ),
        "plugin reference",
    );
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk/REFERENCE.md");
    let kept = std::fs::read_to_string(&file).unwrap();
    assert!(
        printed == kept,
        "sdk/REFERENCE.md differs from the host: run `cargo run -p homeroom-host --bin homeroom -- plugin reference > sdk/REFERENCE.md`"
    );
    for must in [
        "api_key_header",
        "`partial`",
        "user | `role` | yes",
        "HOMEROOM_TRUSTED_KEYS",
    ] {
        assert!(kept.contains(must), "{must}");
    }
}

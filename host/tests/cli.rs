//! The `homeroom` command line as an admin uses it: the real binary, a real
//! SQLite file, real plugins.

use std::path::Path;
use std::process::{Command, Output};

use homeroom_host::testing::TEST_PLUGINS_DIR;

fn homeroom(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_homeroom"))
        .current_dir(dir)
        .env("HOMEROOM_PLUGINS_DIR", TEST_PLUGINS_DIR)
        .env_remove("HOMEROOM_DB")
        .env_remove("HOMEROOM_ORG")
        .arg("--allow-unsigned")
        .args(args)
        .output()
        .expect("run homeroom")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = homeroom(dir, args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "homeroom {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn plugins_lists_the_gallery() {
    let dir = tempfile::tempdir().unwrap();
    let text = ok(dir.path(), &["plugins"]);
    assert!(
        text.contains("grade-filter") && text.contains("filter-rule"),
        "{text}"
    );
    assert!(
        text.contains("fixture-connector") && text.contains("connector"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(dir.path(), &["plugins", "--json"])).unwrap();
    let ids: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"grade-filter") && ids.contains(&"hostile-connector"),
        "{ids:?}"
    );
}

/// Unsigned packages in a plugins folder are skipped, each with a warning
/// that says how to sign or trust it; the built-in gallery still works.
#[test]
fn unsigned_packages_are_skipped_without_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_homeroom"))
        .current_dir(dir.path())
        .env("HOMEROOM_PLUGINS_DIR", TEST_PLUGINS_DIR)
        .args(["plugins", "--json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("was skipped")
            && err.contains("is not signed")
            && err.contains("homeroom plugin sign")
            && err.contains("HOMEROOM_TRUSTED_KEYS"),
        "{err}"
    );
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert!(ids.contains(&"oneroster"), "the built-ins stay: {ids:?}");
    let with_flag = Command::new(env!("CARGO_BIN_EXE_homeroom"))
        .current_dir(dir.path())
        .env("HOMEROOM_PLUGINS_DIR", TEST_PLUGINS_DIR)
        .args(["--allow-unsigned", "plugins", "--json"])
        .output()
        .unwrap();
    let more: serde_json::Value = serde_json::from_slice(&with_flag.stdout).unwrap();
    assert!(
        more.as_array().unwrap().len() > ids.len(),
        "with --allow-unsigned the folder's packages load too"
    );
}

#[test]
fn import_hold_approve_and_history_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let drop = dir.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    let users: String = (1..=10)
        .map(|i| format!("{{\"id\":\"u{i}\",\"attrs\":{{\"givenName\":\"G{i}\",\"familyName\":\"F{i}\",\"role\":\"student\"}}}}\n"))
        .collect();
    std::fs::write(drop.join("user.jsonl"), &users).unwrap();
    let config = format!(
        "[organization]\nid = \"springfield\"\nname = \"Springfield\"\n\n[[source]]\nid = \"sis\"\nplugin = \"fixture-connector\"\nfolder = {:?}\n",
        drop.display().to_string()
    );
    std::fs::write(dir.path().join("district.toml"), config).unwrap();

    assert!(
        ok(dir.path(), &["apply", "district.toml"])
            .contains("organization `springfield`, 1 sources")
    );
    assert!(
        dir.path().join("homeroom.db").exists(),
        "the embedded SQLite file is created on first use"
    );
    let first = ok(dir.path(), &["import", "sis"]);
    assert!(first.contains("committed"), "{first}");
    assert!(
        first
            .lines()
            .any(|l| l.starts_with("user") && l.split_whitespace().nth(3) == Some("10")),
        "10 adds: {first}"
    );

    // Half the students gone: the run is held.
    let half: String = users.lines().take(5).map(|l| format!("{l}\n")).collect();
    std::fs::write(drop.join("user.jsonl"), half).unwrap();
    let held: serde_json::Value =
        serde_json::from_str(&ok(dir.path(), &["import", "sis", "--json"])).unwrap();
    assert_eq!(held["status"], "held");
    let run_id = held["id"].as_str().unwrap().to_string();
    let actions = ok(dir.path(), &["run", &run_id, "--actions"]);
    assert_eq!(
        actions.lines().filter(|l| l.contains(" delete ")).count(),
        5,
        "{actions}"
    );

    let bad = homeroom(
        dir.path(),
        &["approve", &run_id, "--exclude", "frobnicate:u9"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("names no action"));

    let approved = ok(
        dir.path(),
        &[
            "approve",
            &run_id,
            "--exclude",
            "user:delete:u9",
            "--exclude",
            "delete:u10",
        ],
    );
    assert!(
        approved.contains("3 changes applied, 2 left out"),
        "{approved}"
    );
    let again = ok(dir.path(), &["approve", &run_id]);
    assert!(again.contains("already committed"), "{again}");

    let runs = ok(dir.path(), &["runs"]);
    assert_eq!(
        runs.lines().filter(|l| l.contains("committed")).count(),
        2,
        "{runs}"
    );
    let sources = ok(dir.path(), &["sources"]);
    assert!(
        sources.contains("sis")
            && sources.contains("fixture-connector")
            && sources.contains("committed"),
        "{sources}"
    );

    let exported = ok(dir.path(), &["config", "export"]);
    assert!(
        exported.contains("fixture-connector") && exported.contains("[organization]"),
        "{exported}"
    );
}

#[test]
fn plugin_run_reports_a_plugin_failure_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = homeroom(
        dir.path(),
        &[
            "plugin",
            "run",
            "hostile-connector",
            "--set",
            "behaviour=panic",
            "--read",
            "user",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("plugin `hostile-connector` failed in read(user)")
            && err.contains("panicked on purpose"),
        "{err}"
    );

    let out = homeroom(
        dir.path(),
        &[
            "plugin",
            "run",
            "hostile-connector",
            "--set",
            "behaviour=well",
            "--read",
            "user",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("2 user records read"),
        "{text}"
    );

    let out = homeroom(
        dir.path(),
        &[
            "plugin",
            "run",
            "hostile-connector",
            "--set",
            "password=oops",
            "--read",
            "user",
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is a secret"),
        "a secret passed as a plain setting is refused"
    );
}

/// A vendor's connector that reaches a host it may not, or panics: the
/// failure is said once, with the fix, and no hint a sandboxed plugin
/// cannot use (RUST_BACKTRACE).
#[test]
fn plugin_run_says_a_denial_once_and_a_panic_without_the_backtrace_hint() {
    let dir = tempfile::tempdir().unwrap();
    let run = |behaviour: &str| {
        let out = homeroom(
            dir.path(),
            &[
                "plugin",
                "run",
                "hostile-connector",
                "--set",
                &format!("behaviour={behaviour}"),
                "--set",
                "service_url=http://127.0.0.1:9",
                "--read",
                "user",
            ],
        );
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let denied = run("forbidden-host");
    assert_eq!(denied.matches("forbidden.invalid").count(), 1, "{denied}");
    assert!(
        denied.contains("allowed_hosts = [\"{service_url}\"]"),
        "{denied}"
    );
    let panicked = run("panic");
    assert!(panicked.contains("panicked on purpose"), "{panicked}");
    assert!(!panicked.contains("RUST_BACKTRACE"), "{panicked}");
}

//! `homeroom plugin run` as a vendor uses it: the real binary reads from a
//! mock OneRoster endpoint over loopback, and the secret stays out of sight.

use std::process::Command;

use homeroom_tests::oneroster_mock::{CLIENT_ID, CLIENT_SECRET, Dataset, MockOneRoster, Version};

/// The `homeroom` binary `cargo test` built beside this test.
fn homeroom() -> std::path::PathBuf {
    homeroom_tests::support::homeroom_binary()
}

#[tokio::test]
async fn plugin_run_reads_users_from_a_mock_oneroster_server() {
    let mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let expected = mock.records("users").len();
    let dir = tempfile::tempdir().unwrap();
    let url = mock.service_url(Version::V1p2);
    let token = mock.token_url();
    let run = |json: bool| {
        let (url, token, path) = (url.clone(), token.clone(), dir.path().to_path_buf());
        tokio::task::spawn_blocking(move || {
            let mut c = Command::new(homeroom());
            c.current_dir(path)
                .env("SIS_SECRET", CLIENT_SECRET)
                .args(["plugin", "run", "oneroster-1-2", "--set"])
                .arg(format!("service_url={url}"))
                .args([
                    "--set",
                    &format!("token_url={token}"),
                    "--set",
                    &format!("client_id={CLIENT_ID}"),
                ])
                .args([
                    "--secret",
                    "client_secret=env:SIS_SECRET",
                    "--read",
                    "user",
                    "--show",
                    "3",
                ]);
            if json {
                c.arg("--json");
            }
            c.output().unwrap()
        })
    };
    let out = run(false).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("{expected} user records read")),
        "{stdout}"
    );
    assert!(
        !stdout.contains(CLIENT_SECRET) && !stderr.contains(CLIENT_SECRET),
        "the secret is never printed"
    );
    assert!(
        mock.token_requests() >= 1,
        "the host fetched a token for the plugin"
    );
    // The records shown, in the hub's words, with a sign that more is there.
    let shown: Vec<&str> = stdout.lines().filter(|l| l.contains(" active ")).collect();
    assert_eq!(shown.len(), 3, "{stdout}");
    assert!(
        shown
            .iter()
            .all(|l| l.contains("more; --json shows every attribute")),
        "{stdout}"
    );
    assert!(
        !stdout.contains("Active") && !stdout.contains("Status::"),
        "{stdout}"
    );
    let out = run(true).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first: serde_json::Value = stdout
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("a JSON line: {stdout}"));
    assert_eq!(first["kind"], "user", "{first}");
    assert_eq!(first["status"], "active", "{first}");
    assert!(
        first["attributes"]["givenName"].is_string(),
        "every attribute, by name: {first}"
    );
}

#[tokio::test]
async fn plugin_run_tests_the_connection_and_lists_schools() {
    let mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = mock.service_url(Version::V1p2);
    let token = mock.token_url();
    let run = |secret: &'static str| {
        let (url, token, path) = (url.clone(), token.clone(), dir.path().to_path_buf());
        move || {
            Command::new(homeroom())
                .current_dir(path)
                .args([
                    "plugin",
                    "run",
                    "oneroster",
                    "--set",
                    &format!("service_url={url}"),
                    "--set",
                    &format!("token_url={token}"),
                ])
                .args([
                    "--set",
                    &format!("client_id={CLIENT_ID}"),
                    "--secret",
                    &format!("client_secret={secret}"),
                ])
                .output()
                .unwrap()
        }
    };
    let ok = tokio::task::spawn_blocking(run(CLIENT_SECRET))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success() && text.contains("schools:"),
        "{text}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = tokio::task::spawn_blocking(run("wrong-secret-value"))
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(
        err.contains("Client Secret") || err.contains("client id"),
        "an admin learns what to fix: {err}"
    );
    assert!(!err.contains("wrong-secret-value"), "{err}");
}

//! The README's walk on the command line, with the real binary: a second
//! organization beside the district (as `homeroom serve`'s first start makes
//! the demo one), `apply examples/springfield.toml`, then `import sis` twice
//! with no `--org`: the first imports the sample district, the second reads
//! nothing and says why.

use std::path::Path;
use std::process::{Command, Output};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn homeroom(dir: &Path, args: &[&str]) -> Output {
    Command::new(homeroom_tests::support::homeroom_binary())
        .current_dir(dir)
        .env("HOMEROOM_CACHE_DIR", "off")
        .args(args)
        .output()
        .unwrap()
}

fn says(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn import_sis_finds_the_organization_that_has_it_and_a_second_run_reads_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    copy_dir(
        &examples.join("sample-district"),
        &dir.join("examples/sample-district"),
    );
    std::fs::copy(
        examples.join("springfield.toml"),
        dir.join("examples/springfield.toml"),
    )
    .unwrap();
    std::fs::write(
        dir.join("other.toml"),
        "[organization]\nid = \"other\"\nname = \"Another District\"\n",
    )
    .unwrap();
    for file in ["other.toml", "examples/springfield.toml"] {
        let out = homeroom(dir, &["apply", file]);
        assert!(out.status.success(), "apply {file}: {}", says(&out));
    }

    let first = homeroom(dir, &["import", "sis"]);
    let text = says(&first);
    assert!(first.status.success(), "{text}");
    assert!(
        text.contains("committed") && text.contains("sis (full"),
        "{text}"
    );
    let users = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("user "))
            .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    // KIND READ SKIPPED ADD UPDATE DELETE UNCHANGED ERRORS
    let added = users(&text);
    assert_eq!(
        added.get(1),
        added.get(3),
        "every user read is added: {text}"
    );

    let second = homeroom(dir, &["import", "sis"]);
    let text = says(&second);
    assert!(second.status.success(), "{text}");
    assert!(text.contains("nothing was read again"), "{text}");
    let unchanged = users(&text);
    assert_eq!(unchanged.get(3).map(String::as_str), Some("0"), "{text}");
    assert_eq!(
        unchanged.get(6),
        added.get(1),
        "every user unchanged: {text}"
    );

    // A source no organization has: still asked which organization.
    let neither = homeroom(dir, &["import", "nosuch"]);
    assert!(!neither.status.success());
    assert!(
        says(&neither).contains("choose one with --org"),
        "{}",
        says(&neither)
    );
}

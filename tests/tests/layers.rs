//! The house as ARCHITECTURE.md draws it: the layer table under "## Layers"
//! lists the modules of `host/src` from the bottom up, and every `crate::`
//! path in the host's code must point at a module of a lower layer (or into
//! its own module). No module above `app` may name the store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Module → layer, read from ARCHITECTURE.md.
fn layers() -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let section = text
        .split("## Layers")
        .nth(1)
        .expect("ARCHITECTURE.md has a section `## Layers`");
    let table = section
        .split("```")
        .nth(1)
        .expect("the layer table is a code block");
    let mut out = BTreeMap::new();
    for line in table.lines() {
        let mut words = line.split_whitespace();
        let Some(Ok(layer)) = words.next().map(str::parse::<usize>) else {
            continue;
        };
        for module in words {
            out.insert(module.to_string(), layer);
        }
    }
    assert!(out.len() > 5, "the layer table lists the modules: {out:?}");
    out
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a line of code names through `crate::`.
fn named_modules(line: &str) -> Vec<&str> {
    let code = line.split("//").next().unwrap_or("");
    code.match_indices("crate::")
        .filter(|(at, _)| {
            // `homeroom_crate::` or `my_crate::` are not `crate::`.
            !code[..*at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .map(|(at, m)| {
            let rest = &code[at + m.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|m| !m.is_empty())
        .collect()
}

#[test]
fn every_import_points_down() {
    let layers = layers();
    let src = root().join("host/src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under host/src");
        let own = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|s| s.trim_end_matches(".rs").to_string())
            .expect("a module name");
        if own == "lib" || own == "main" {
            continue;
        }
        seen.insert(own.clone());
        let Some(&own_layer) = layers.get(&own) else {
            wrong.push(format!(
                "{}: module `{own}` is not in ARCHITECTURE.md's layer table",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("a source file");
        for (n, line) in text.lines().enumerate() {
            for target in named_modules(line) {
                if target == own || target == "testing" {
                    continue;
                }
                match layers.get(target) {
                    None => wrong.push(format!(
                        "{}:{}: `crate::{target}` is not in the layer table",
                        rel.display(),
                        n + 1
                    )),
                    Some(&layer) if layer >= own_layer => wrong.push(format!(
                        "{}:{}: `{own}` (layer {own_layer}) imports `{target}` (layer {layer})",
                        rel.display(),
                        n + 1
                    )),
                    Some(_) => {}
                }
                if target == "store" && own_layer > layers["app"] {
                    wrong.push(format!(
                        "{}:{}: `{own}` is a face and names the store; go through `app`",
                        rel.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that do not point down:\n{}",
        wrong.join("\n")
    );
    let listed: std::collections::BTreeSet<String> = layers.keys().cloned().collect();
    let stale: Vec<_> = listed.difference(&seen).collect();
    assert!(
        stale.is_empty(),
        "the layer table lists modules that do not exist: {stale:?}"
    );
}

#[test]
fn the_check_sees_an_upward_import() {
    assert_eq!(
        named_modules("use crate::store::Store; // crate::app"),
        ["store"]
    );
    assert_eq!(
        named_modules("    let x = crate::model::kinds::entity_kind_of(k);"),
        ["model"]
    );
    assert!(named_modules("//! see crate::api").is_empty());
    assert!(named_modules("homeroom_crate::x").is_empty());
}

//! The manifest reference (the SDK's `REFERENCE.md`), printed from the
//! host's own tables: the manifest's fields (`manifest::FIELDS`, held to
//! the structs by a test), the auth kinds and the settings each sends
//! (`AuthKind::secrets` and `settings`, which the host grants by), the
//! setting types, and the data contract (`model::contract::CONTRACT`,
//! `kinds::REQUIRED_REFERENCES`). A test holds the file to this text, so
//! the reference cannot drift from the code.

use std::fmt::Write;

use crate::bindings::WORLD_VERSION;
use crate::gallery::manifest::{AuthKind, FIELDS};
use crate::model::contract::CONTRACT;
use crate::model::kinds::REQUIRED_REFERENCES;

/// The reference, as Markdown.
pub fn markdown() -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Plugin manifest and data contract reference\n\n\
         Printed by `homeroom plugin reference` from the host's own tables; a test \
         fails when this file and the host differ. The walk-through is GUIDE.md.\n\n\
         A package is a folder: `manifest.toml`, `plugin.wasm` (a component built for \
         wasm32-wasip2 against `homeroom:plugin@{WORLD_VERSION}`, the SDK's world) and, \
         once signed, `signature`. `homeroom plugin package CRATE --out DIR [--key KEY]` \
         makes one. A host loads the packages of the folder `--plugins-dir` \
         (HOMEROOM_PLUGINS_DIR) names, each package a folder inside it, and skips one \
         that does not load with a warning that says why.\n\n\
         Signing: `homeroom plugin keygen --out vendor.key` prints the public key; the \
         operator adds it as a line of the file HOMEROOM_TRUSTED_KEYS names (hex \
         Ed25519 public keys, one a line, `#` comments). Unsigned packages load only \
         with `--allow-unsigned` (local development).\n"
    );
    let _ = write!(md, "## Manifest fields\n");
    let mut table = None;
    for (t, field, ty, required, meaning) in FIELDS {
        if table != Some(*t) {
            table = Some(*t);
            let title = if t.is_empty() { "top level" } else { t };
            let _ = writeln!(
                md,
                "\n### {title}\n\n| field | type | required | meaning |\n|---|---|---|---|"
            );
        }
        let req = if *required { "yes" } else { "" };
        // A table cell cannot hold a bare `|`.
        let ty = ty.replace(" | ", " or ");
        let _ = writeln!(md, "| `{field}` | {ty} | {req} | {meaning} |");
    }
    let _ = writeln!(
        md,
        "\nA `{{setting}}` in `allowed_hosts` is replaced by the host (and port) of that \
         setting's URL, so `allowed_hosts = [\"{{service_url}}\"]` lets the connector reach \
         only the server the admin named. Every other host is refused.\n"
    );
    let _ = writeln!(
        md,
        "## Auth kinds\n\n\
         The host signs every request in; the plugin sees none of the secrets. Each kind \
         reads settings by fixed names: declare them with those names (secrets with \
         `secret = true`). A manifest whose auth kind misses a required secret, or with a \
         secret no auth kind sends, is refused at load with the fix.\n\n\
         | auth | secrets it sends | settings it reads | what the host does |\n|---|---|---|---|"
    );
    let names = |list: &[(&str, bool)]| {
        let v: Vec<String> = list
            .iter()
            .map(|(n, req)| {
                if *req {
                    format!("`{n}`")
                } else {
                    format!("`{n}` (optional)")
                }
            })
            .collect();
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    for kind in AuthKind::ALL {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} |",
            kind.label(),
            names(kind.secrets()),
            names(kind.settings()),
            kind.meaning()
        );
    }
    let _ = writeln!(
        md,
        "\n## Setting types\n\n\
         | type | the value |\n|---|---|\n\
         | `text` | any text (the default) |\n\
         | `url` | an absolute http or https URL; `{{name}}` in `allowed_hosts` takes its host |\n\
         | `number` | a number, within `min` and `max` when given |\n\
         | `choice` | one of `choices` |\n\
         | `boolean` | true or false |\n"
    );
    let _ = writeln!(
        md,
        "## Data contract\n\n\
         What each kind of record must carry for the hub to use it. A record that \
         breaks it is still taken, and each breach is told by record in `plugin run` \
         and the run report (a kind declared `partial` is not asked for its required \
         attributes). Values are compared without case.\n\n\
         | kind | attribute | required | values | meaning |\n|---|---|---|---|---|"
    );
    for term in CONTRACT {
        let values = term
            .values
            .map(|v| v.join(", "))
            .unwrap_or_else(|| "any text".into());
        let req = if term.required { "yes" } else { "" };
        let _ = writeln!(
            md,
            "| {} | `{}` | {req} | {values} | {} |",
            term.kind.cli_name(),
            term.attribute,
            term.meaning
        );
    }
    let _ = writeln!(
        md,
        "\nReferences a record cannot go without (a user needs one of its orgs):\n\n\
         | kind | attribute | points at |\n|---|---|---|"
    );
    for (kind, attribute, target) in REQUIRED_REFERENCES {
        let _ = writeln!(
            md,
            "| {} | `{attribute}` | {} |",
            kind.cli_name(),
            target.cli_name()
        );
    }
    md
}

//! The vendor's kit: what a connector vendor runs beside the SDK. A new
//! connector crate from the template (`homeroom plugin new`), a package
//! made from a crate (`homeroom plugin package`: built for wasm32-wasip2,
//! its manifest checked as the host loads it, laid out as the gallery
//! reads it, signed when a key is given, then loaded back as a package),
//! and the manifest reference printed from the host's own tables
//! (`reference`).
//!
//! It owns files a vendor asked for and the cargo build it runs; it does
//! not touch the store, a district's sources or the gallery a host serves.

pub mod reference;

use std::path::{Path, PathBuf};
use std::process::Command;

use ed25519_dalek::SigningKey;

use crate::gallery::Package;
use crate::gallery::manifest::Manifest;
use crate::gallery::package::sign_dir;

#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error(
        "`{0}` cannot name a connector: use 1-64 lowercase letters, digits or dashes, starting with a letter (acme-sis)"
    )]
    BadName(String),
    #[error("{0} already exists: choose another name or folder, or remove it")]
    Exists(PathBuf),
    #[error(
        "the Homeroom SDK is not at {0}: pass --sdk with the folder of the SDK (the `sdk` folder of a Homeroom checkout)"
    )]
    NoSdk(PathBuf),
    #[error("{0} has no Cargo.toml: pass the folder of the connector's crate")]
    NoCrate(PathBuf),
    #[error("{path} has no manifest.toml beside Cargo.toml: a package needs its manifest")]
    NoManifest { path: PathBuf },
    #[error("{path}: {why}")]
    Manifest { path: PathBuf, why: String },
    #[error("cargo could not be run ({0}): install Rust from https://rustup.rs")]
    NoCargo(String),
    #[error(
        "the build for wasm32-wasip2 failed (cargo's messages are above); the target is added with `rustup target add wasm32-wasip2`"
    )]
    BuildFailed,
    #[error(
        "the build made no .wasm component: is the crate's [lib] crate-type = [\"cdylib\", \"rlib\"]?"
    )]
    NoComponent,
    #[error("the package made in {path} does not load: {why}")]
    DoesNotLoad { path: PathBuf, why: String },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> KitError + 'a {
    move |source| KitError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// The template, file by file: (path in the crate, text with `{{...}}`).
const TEMPLATE: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("template/Cargo.toml.in")),
    ("manifest.toml", include_str!("template/manifest.toml.in")),
    ("README.md", include_str!("template/README.md.in")),
    (".gitignore", include_str!("template/gitignore.in")),
    ("src/lib.rs", include_str!("template/src/lib.rs.in")),
    ("src/tests.rs", include_str!("template/src/tests.rs.in")),
];

/// The SDK of the source tree this binary was built from, when it is
/// still there.
pub fn default_sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk")
}

/// Write a new connector crate `name` into `parent/name`, depending on the
/// SDK at `sdk`. Returns the crate's folder.
pub fn new_connector(name: &str, parent: &Path, sdk: &Path) -> Result<PathBuf, KitError> {
    let good = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !good {
        return Err(KitError::BadName(name.to_string()));
    }
    let sdk = sdk
        .canonicalize()
        .ok()
        .filter(|p| p.join("Cargo.toml").exists())
        .ok_or_else(|| KitError::NoSdk(sdk.to_path_buf()))?;
    let dir = parent.join(name);
    if dir.exists() {
        return Err(KitError::Exists(dir));
    }
    let title: String = name
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ");
    let sdk_dep = format!("path = {:?}", sdk.display().to_string());
    for (path, text) in TEMPLATE {
        let text = text
            .replace("{{crate}}", name)
            .replace("{{id}}", name)
            .replace("{{name}}", &title)
            .replace("{{sdk}}", &sdk_dep);
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
        }
        std::fs::write(&file, text).map_err(io("cannot write", &file))?;
    }
    Ok(dir)
}

/// What `package` made.
pub struct Packaged {
    /// The package folder: manifest.toml, plugin.wasm, signature when signed.
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub wasm_bytes: u64,
    pub signed: bool,
}

/// Build the crate at `crate_dir` for wasm32-wasip2 (release), check its
/// manifest, lay the package out in `out/<id>/`, sign it with `key` when
/// given, and load it back as the host would.
pub fn package(
    crate_dir: &Path,
    out: &Path,
    key: Option<&SigningKey>,
) -> Result<Packaged, KitError> {
    let cargo_toml = crate_dir.join("Cargo.toml");
    if !cargo_toml.exists() {
        return Err(KitError::NoCrate(crate_dir.to_path_buf()));
    }
    let manifest_path = crate_dir.join("manifest.toml");
    let text = std::fs::read_to_string(&manifest_path).map_err(|_| KitError::NoManifest {
        path: crate_dir.to_path_buf(),
    })?;
    // The checks the host makes at load, before a long build.
    let manifest = Manifest::parse(&text).map_err(|e| KitError::Manifest {
        path: manifest_path.clone(),
        why: e.to_string(),
    })?;
    let wasm = build(&cargo_toml)?;
    let dir = out.join(&manifest.id);
    std::fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
    std::fs::write(dir.join("manifest.toml"), &text).map_err(io("cannot write", &dir))?;
    let target = dir.join("plugin.wasm");
    let wasm_bytes = std::fs::copy(&wasm, &target).map_err(io("cannot copy to", &target))?;
    let signature = dir.join("signature");
    if signature.exists() {
        // A signature of an earlier build would not verify this one.
        std::fs::remove_file(&signature).map_err(io("cannot remove", &signature))?;
    }
    if let Some(key) = key {
        sign_dir(&dir, key).map_err(|e| KitError::DoesNotLoad {
            path: dir.clone(),
            why: e.to_string(),
        })?;
    }
    // Loaded back as a host loads it: the signature verified, the component
    // compiled and its world checked against the manifest's.
    let trusted = key.map(|k| vec![k.verifying_key()]);
    let does_not_load = |why: String| KitError::DoesNotLoad {
        path: dir.clone(),
        why,
    };
    let loaded =
        Package::from_dir(&dir, trusted.as_deref()).map_err(|e| does_not_load(e.to_string()))?;
    let runtime = crate::runtime::Runtime::new(crate::runtime::Limits::default())
        .map_err(|e| does_not_load(format!("{e:#}")))?;
    runtime
        .load(&std::sync::Arc::new(loaded))
        .map_err(|e| does_not_load(e.to_string()))?;
    Ok(Packaged {
        dir,
        manifest,
        wasm_bytes,
        signed: key.is_some(),
    })
}

/// `cargo build --release --target wasm32-wasip2` of one crate; the
/// component it made.
fn build(cargo_toml: &Path) -> Result<PathBuf, KitError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let rustup_has_target = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("wasm32-wasip2"))
        .unwrap_or(true);
    if !rustup_has_target {
        // As the workspace's own plugin build does: add the target once.
        let _ = Command::new("rustup")
            .args(["target", "add", "wasm32-wasip2"])
            .status();
    }
    let output = Command::new(&cargo)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .arg("--manifest-path")
        .arg(cargo_toml)
        .args(["--message-format", "json-render-diagnostics"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| KitError::NoCargo(e.to_string()))?;
    if !output.status.success() {
        return Err(KitError::BuildFailed);
    }
    // The last artifact with a .wasm file is the crate's component.
    let mut wasm = None;
    for line in output.stdout.split(|b| *b == b'\n') {
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let files = message["filenames"].as_array().cloned().unwrap_or_default();
        if let Some(f) = files
            .iter()
            .filter_map(serde_json::Value::as_str)
            .find(|f| f.ends_with(".wasm"))
        {
            wasm = Some(PathBuf::from(f));
        }
    }
    wasm.ok_or(KitError::NoComponent)
}

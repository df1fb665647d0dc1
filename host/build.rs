//! Builds every plugin crate (`plugins/*` and the test-only `tests/plugins/*`)
//! to a WebAssembly component, in the manner of wasmtime's test-programs
//! artifacts: a nested `cargo build --target wasm32-wasip2` with its own target
//! directory, so the outer cargo never deadlocks on its own lock.
//!
//! Built-in plugins (`plugins/*`) are embedded into the binary; test plugins
//! are written as package folders whose path the host exposes to tests.

use std::collections::BTreeMap;
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

struct PluginCrate {
    dir: PathBuf,
    package: String,
    world: &'static str,
    builtin: bool,
}

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().expect("workspace root").to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));

    for watched in ["plugins", "tests/plugins", "sdk", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let mut crates = Vec::new();
    crates.extend(find_plugins(&root.join("plugins"), true));
    crates.extend(find_plugins(&root.join("tests/plugins"), false));

    ensure_target();

    let wasm_target_dir = out_dir.join("wasm");
    // One nested build per world: the SDK's `connector` and `rule` features
    // each select one world, and cargo unifies features within one build.
    let mut by_world: BTreeMap<&str, Vec<&PluginCrate>> = BTreeMap::new();
    for c in &crates {
        by_world.entry(c.world).or_default().push(c);
    }
    for group in by_world.values() {
        build(&root, &wasm_target_dir, group);
    }

    let release = wasm_target_dir.join(TARGET).join("release");
    let mut builtin = String::from(
        "/// (manifest.toml, component) of every plugin compiled into this binary.\n\
         pub static BUILTIN_PLUGINS: &[(&str, &[u8])] = &[\n",
    );
    let test_dir = out_dir.join("test-plugins");
    for c in &crates {
        let wasm = release.join(format!("{}.wasm", c.package.replace('-', "_")));
        if !wasm.exists() {
            panic!("plugin build produced no component at {}", wasm.display());
        }
        let manifest = c.dir.join("manifest.toml");
        if c.builtin {
            builtin.push_str(&format!(
                "    (include_str!({:?}), include_bytes!({:?})),\n",
                manifest.display().to_string(),
                wasm.display().to_string()
            ));
        } else {
            let dest = test_dir.join(c.dir.file_name().expect("plugin dir name"));
            fs::create_dir_all(&dest).expect("create test plugin dir");
            fs::copy(&manifest, dest.join("manifest.toml")).expect("copy manifest");
            fs::copy(&wasm, dest.join("plugin.wasm")).expect("copy component");
        }
    }
    builtin.push_str("];\n");
    fs::write(out_dir.join("builtin_plugins.rs"), builtin).expect("write builtin_plugins.rs");
    println!(
        "cargo:rustc-env=HOMEROOM_TEST_PLUGINS={}",
        test_dir.display()
    );
}

fn find_plugins(dir: &Path, builtin: bool) -> Vec<PluginCrate> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let cargo_toml = path.join("Cargo.toml");
        let manifest = path.join("manifest.toml");
        if !cargo_toml.exists() || !manifest.exists() {
            continue;
        }
        let cargo: toml::Value =
            toml::from_str(&fs::read_to_string(&cargo_toml).expect("read Cargo.toml"))
                .unwrap_or_else(|e| panic!("{}: {e}", cargo_toml.display()));
        let package = cargo["package"]["name"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no package name", cargo_toml.display()))
            .to_string();
        let plugin: toml::Value =
            toml::from_str(&fs::read_to_string(&manifest).expect("read manifest.toml"))
                .unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        let world = match plugin.get("kind").and_then(|k| k.as_str()) {
            Some("connector") => "connector",
            Some("filter-rule") | Some("transform-rule") => "rule",
            other => panic!("{}: unknown plugin kind {other:?}", manifest.display()),
        };
        found.push(PluginCrate {
            dir: path,
            package,
            world,
            builtin,
        });
    }
    found.sort_by(|a, b| a.package.cmp(&b.package));
    found
}

/// A toolchain that was already installed does not get rust-toolchain.toml's
/// targets, so add the WebAssembly target when it is missing.
fn ensure_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let installed = sysroot
        .as_ref()
        .map(|s| Path::new(s).join("lib/rustlib").join(TARGET).exists())
        .unwrap_or(false);
    if installed {
        return;
    }
    let toolchain = env::var("RUSTUP_TOOLCHAIN").ok();
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", TARGET]);
    if let Some(tc) = &toolchain {
        cmd.args(["--toolchain", tc]);
    }
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "the Rust target {TARGET} is missing and `rustup target add {TARGET}` failed ({s}); install it by hand and build again"
        ),
        Err(e) => panic!(
            "the Rust target {TARGET} is missing and rustup could not be run ({e}); install the target with `rustup target add {TARGET}`"
        ),
    }
}

fn build(root: &Path, target_dir: &Path, crates: &[&PluginCrate]) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .arg("build")
        .arg("--release")
        .arg("--target")
        .arg(TARGET)
        .arg("--target-dir")
        .arg(target_dir);
    for c in crates {
        cmd.arg("-p").arg(&c.package);
    }
    // Flags meant for the host build must not leak into the guest build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "false");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build the plugins: {e}"));
    if !status.success() {
        panic!(
            "building the plugins for {TARGET} failed ({status}); the compiler's messages are above"
        );
    }
}

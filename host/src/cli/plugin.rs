//! `homeroom plugins` and `homeroom plugin ...`: the gallery listing, running
//! a connector locally against a real or mock endpoint, and the vendor's
//! kit (`new`, `package`, `reference`, `keygen`, `sign`; `app::kit` does
//! the work).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;
use ed25519_dalek::SigningKey;

use super::Cli;
use crate::app::kit;
use crate::bindings::types::{Entity, EntityKind};
use crate::capabilities::http::tape::{Tape, TapeMode};
use crate::capabilities::http::{ConnectionClient, HttpLimits};
use crate::gallery::grant::grant;
use crate::gallery::package::sign_dir;
use crate::gallery::{Gallery, Package};
use crate::runtime::{ConnectorSession, Limits, Runtime, SessionOptions};
use crate::secret::Secret;

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Run a connector: test the connection and list schools, or read one kind.
    Run {
        /// A gallery id (`oneroster`, `lumen-touch`) or a package folder.
        package: String,
        /// A non-secret setting, KEY=VALUE (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        settings: Vec<String>,
        /// A secret setting, KEY=VALUE or KEY=env:VARIABLE (repeatable).
        #[arg(long = "secret", value_name = "KEY=VALUE")]
        secrets: Vec<String>,
        /// Read every page of this entity kind (org, user, class, ...).
        #[arg(long)]
        read: Option<String>,
        /// With --read: only what changed since this RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// The folder a file connector reads.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Print at most this many records (all are still read and counted).
        #[arg(long, default_value_t = 20)]
        show: usize,
        /// Keep every answer of the API in this folder, to replay later.
        #[arg(long, value_name = "DIR", conflicts_with = "replay")]
        record: Option<PathBuf>,
        /// Answer from answers recorded with --record: offline, no secrets.
        #[arg(long, value_name = "DIR")]
        replay: Option<PathBuf>,
    },
    /// Start a connector: a crate from the template that builds for
    /// wasm32-wasip2 and tests natively with `cargo test`.
    New {
        /// The connector's id (lowercase letters, digits, dashes): acme-sis.
        name: String,
        /// The folder to make it in (the crate is DIR/NAME).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The Homeroom SDK's folder (default: the SDK of the source tree
        /// this homeroom was built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Build a connector crate for wasm32-wasip2, check its manifest, lay
    /// out the package in OUT/ID/ and, with --key, sign it.
    Package {
        /// The crate's folder (with Cargo.toml and manifest.toml).
        #[arg(default_value = ".")]
        crate_dir: PathBuf,
        /// Where the package folder goes: a folder --plugins-dir can name.
        #[arg(long, default_value = "packages")]
        out: PathBuf,
        /// A secret key made by `keygen`: sign the package.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Print the manifest and data-contract reference (Markdown).
    Reference,
    /// Create a signing key pair for publishing packages.
    Keygen {
        /// Where to write the secret key (hex); the public key is printed.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a package folder with a key made by `keygen`.
    Sign {
        package: PathBuf,
        #[arg(long)]
        key: PathBuf,
    },
}

pub fn load_gallery(cli: &Cli) -> anyhow::Result<Gallery> {
    let mut gallery = Gallery::builtin().context("the built-in plugins could not be loaded")?;
    if let Some(dir) = &cli.plugins_dir {
        let trusted = trusted_keys()?;
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the plugins folder {}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.join("manifest.toml").exists() {
                continue;
            }
            let check = if cli.allow_unsigned {
                None
            } else {
                Some(trusted.as_slice())
            };
            // One bad package is skipped, not fatal: the rest of the
            // gallery, and every source on it, still works.
            let added = Package::from_dir(&path, check)
                .map_err(anyhow::Error::from)
                .and_then(|package| gallery.add(package).map_err(anyhow::Error::from));
            if let Err(why) = added {
                eprintln!(
                    "warning: the package in {} was skipped: {why:#}",
                    path.display()
                );
                tracing::warn!(package = %path.display(), "a package was skipped: {why:#}");
            }
        }
    }
    Ok(gallery)
}

/// Vendor keys the operator trusts: hex public keys, one per line, in the
/// file named by HOMEROOM_TRUSTED_KEYS.
fn trusted_keys() -> anyhow::Result<Vec<ed25519_dalek::VerifyingKey>> {
    let Ok(path) = std::env::var("HOMEROOM_TRUSTED_KEYS") else {
        return Ok(Vec::new());
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read trusted keys file {path}"))?;
    let mut keys = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let bytes: [u8; 32] = hex::decode(line)
            .ok()
            .and_then(|b| b.try_into().ok())
            .with_context(|| format!("{path}: `{line}` is not a hex Ed25519 public key"))?;
        keys.push(ed25519_dalek::VerifyingKey::from_bytes(&bytes)?);
    }
    Ok(keys)
}

/// A secret key file made by `keygen`.
fn signing_key(path: &std::path::Path) -> anyhow::Result<SigningKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .context("the key file does not hold a hex Ed25519 secret key: make one with homeroom plugin keygen")?;
    Ok(SigningKey::from_bytes(&bytes))
}

pub fn list(gallery: &Gallery, json: bool) -> anyhow::Result<()> {
    use crate::app::views::GalleryEntry;
    let rows = GalleryEntry::all(gallery.packages());
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    // Columns as wide as their longest entry, so a long id never shifts a row.
    let width = |f: fn(&GalleryEntry) -> &str, title: &str| {
        rows.iter()
            .map(|r| f(r).chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let (wi, wn, wv, wk) = (
        width(|r| &r.id, "ID"),
        width(|r| &r.name, "NAME"),
        width(|r| &r.version, "VERSION"),
        width(|r| &r.kind, "KIND"),
    );
    println!(
        "{:<wi$}  {:<wn$}  {:<wv$}  {:<wk$}  PLUGIN",
        "ID", "NAME", "VERSION", "KIND"
    );
    for r in &rows {
        println!(
            "{:<wi$}  {:<wn$}  {:<wv$}  {:<wk$}  {}",
            r.id, r.name, r.version, r.kind, r.plugin
        );
    }
    Ok(())
}

fn pairs(items: &[String], what: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for item in items {
        let Some((k, v)) = item.split_once('=') else {
            bail!("{what} `{item}` must be KEY=VALUE");
        };
        map.insert(k.trim().to_string(), v.to_string());
    }
    Ok(map)
}

pub async fn run(cmd: PluginCommand, gallery: Gallery, json: bool) -> anyhow::Result<()> {
    match cmd {
        PluginCommand::Keygen { out } => {
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            std::fs::write(&out, hex::encode(key.to_bytes()))
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("{}", hex::encode(key.verifying_key().to_bytes()));
            eprintln!(
                "secret key written to {} (keep it private); the line above is the public key.\n\
                 Next: sign each package you publish, `homeroom plugin package CRATE --key {}` \
                 (or `homeroom plugin sign PACKAGE_DIR --key {}`), and give \
                 the public key to the operators who install it: they add it as a line of the \
                 file HOMEROOM_TRUSTED_KEYS names.",
                out.display(),
                out.display(),
                out.display()
            );
            Ok(())
        }
        PluginCommand::Sign { package, key } => {
            sign_dir(&package, &signing_key(&key)?)?;
            println!("signed {}", package.display());
            Ok(())
        }
        PluginCommand::New { name, dir, sdk } => {
            let sdk = sdk.unwrap_or_else(kit::default_sdk);
            let made = kit::new_connector(&name, &dir, &sdk)?;
            println!("made {}", made.display());
            eprintln!(
                "Next: cd {} && cargo test (natively, against the SDK's fake host); then \
                 homeroom plugin package . --out ../packages, and try it with \
                 homeroom --plugins-dir ../packages --allow-unsigned plugin run {name} --set service_url=...",
                made.display()
            );
            Ok(())
        }
        PluginCommand::Package {
            crate_dir,
            out,
            key,
        } => {
            let key = key.as_deref().map(signing_key).transpose()?;
            let made = kit::package(&crate_dir, &out, key.as_ref())?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "id": made.manifest.id,
                        "version": made.manifest.version,
                        "dir": made.dir,
                        "wasm_bytes": made.wasm_bytes,
                        "signed": made.signed,
                    })
                );
            } else {
                println!(
                    "packaged {} {} in {} ({} KiB, {})",
                    made.manifest.id,
                    made.manifest.version,
                    made.dir.display(),
                    made.wasm_bytes / 1024,
                    if made.signed {
                        "signed"
                    } else {
                        "unsigned: sign it with --key before you publish it"
                    }
                );
            }
            Ok(())
        }
        PluginCommand::Reference => {
            print!("{}", kit::reference::markdown());
            Ok(())
        }
        PluginCommand::Run {
            package,
            settings,
            secrets,
            read,
            since,
            dir,
            show,
            record,
            replay,
        } => {
            let requested = package;
            let package = match gallery.get(&requested) {
                Ok(p) => p.clone(),
                Err(_) if std::path::Path::new(&requested).is_dir() => {
                    Arc::new(Package::from_dir(std::path::Path::new(&requested), None)?)
                }
                Err(e) => return Err(e.into()),
            };
            let settings = package.settings_for(&requested, &pairs(&settings, "--set")?);
            let mut secret_map = BTreeMap::new();
            for (k, v) in pairs(&secrets, "--secret")? {
                let value = match v.strip_prefix("env:") {
                    Some(var) => std::env::var(var).with_context(|| {
                        format!("--secret {k}: environment variable {var} is not set")
                    })?,
                    None => v,
                };
                secret_map.insert(k, Secret::new(value));
            }
            // A replay sends nothing, so it signs in nowhere: no secrets.
            let mut manifest = package.manifest.clone();
            if replay.is_some() {
                manifest.auth = vec![crate::gallery::manifest::AuthKind::None];
                manifest.settings.retain(|s| !s.secret);
            }
            let granted = grant(&manifest, &settings, &secret_map, HttpLimits::default())?;
            let tape = match (record, replay) {
                (Some(dir), _) => Some(Tape::new(TapeMode::Record(dir))?),
                (None, Some(dir)) => Some(Tape::new(TapeMode::Replay(dir))?),
                (None, None) => None,
            };
            let http = match granted.connection {
                Some(c) => {
                    let client = ConnectionClient::new(c)?;
                    Some(Arc::new(match tape {
                        Some(tape) => client.with_tape(tape),
                        None => client,
                    }))
                }
                None => None,
            };
            let runtime = Runtime::new(Limits::default()).map_err(|e| anyhow::anyhow!("{e:#}"))?;
            let loaded = runtime.load(&package)?;
            let options = SessionOptions {
                settings: granted.settings,
                http,
                drop_dir: dir,
                ..Default::default()
            };
            let mut session = ConnectorSession::start(&runtime, loaded, options).await?;
            match read {
                None => {
                    let message = session.test_connection().await?;
                    let schools = session.list_schools().await?;
                    if json {
                        println!(
                            "{}",
                            serde_json::json!({"connection": message, "schools": schools})
                        );
                    } else {
                        println!("{message}");
                        println!("{} schools:", schools.len());
                        for s in schools {
                            println!("  {:<20} {}", s.source_id, s.name);
                        }
                    }
                }
                Some(kind) => {
                    let kind = EntityKind::from_cli(&kind)?;
                    let bar = super::progress_bar(json);
                    let mut shown = 0usize;
                    let count = session
                        .read_all(kind, since.as_deref(), |page| {
                            if let Some(total) = page.total {
                                bar.set_length(total);
                            }
                            bar.inc(page.entities.len() as u64);
                            for e in page.entities {
                                if shown < show {
                                    print_entity(&e, json);
                                    shown += 1;
                                }
                            }
                            Ok::<(), std::convert::Infallible>(())
                        })
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    bar.finish_and_clear();
                    // What the connector and the host said of the records
                    // (data-contract breaches among them), on stderr.
                    let (warnings, more) = session.take_warnings();
                    for w in &warnings {
                        eprintln!("warning: {}", w.text);
                    }
                    if more > 0 {
                        eprintln!("warning: ... and {more} more warnings");
                    }
                    if json {
                        eprintln!("{count} records read");
                    } else {
                        println!("{count} {} records read", kind.cli_name());
                    }
                }
            }
            Ok(())
        }
    }
}

/// Attributes a text line shows of a record; `--json` shows them all.
const SHOWN_ATTRIBUTES: usize = 6;

/// One record as the host took it: in words the hub uses (`user`,
/// `active`), never the bindings' Rust names.
fn print_entity(e: &Entity, json: bool) {
    let record = crate::model::record::Record::from_entity(e.clone());
    let status = if record.deleted {
        "tobedeleted"
    } else {
        "active"
    };
    if json {
        let line = serde_json::json!({
            "kind": record.kind.cli_name(),
            "source_id": record.source_id,
            "status": status,
            "date_last_modified": record.modified,
            "attributes": record.attrs,
        });
        println!("{line}");
        return;
    }
    let mut attrs: Vec<String> = e
        .attributes
        .iter()
        .take(SHOWN_ATTRIBUTES)
        .map(|a| format!("{}={}", a.name, crate::model::display_value(&a.value)))
        .collect();
    let more = e.attributes.len().saturating_sub(SHOWN_ATTRIBUTES);
    if more > 0 {
        attrs.push(format!("(+{more} more; --json shows every attribute)"));
    }
    println!("{:<24} {status} {}", e.source_id, attrs.join(" "));
}

//! The `homeroom` command line: argument parsing and printing only. The
//! engine commands call the application layer (`app::local`), `serve` runs
//! the HTTP service (`crate::serve`), the plugin commands drive one package
//! through the gallery and the runtime. Nothing here reaches the store, and
//! nothing here holds logic another face would need too.

mod plugin;
mod sync;

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "homeroom", version, about = "Homeroom: the K-12 data-sync hub")]
pub struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Extra plugin packages to offer beside the built-in ones (folders with
    /// manifest.toml, plugin.wasm and signature).
    #[arg(long, global = true, env = "HOMEROOM_PLUGINS_DIR")]
    pub plugins_dir: Option<PathBuf>,

    /// Accept unsigned packages from --plugins-dir (local development only).
    #[arg(long, global = true)]
    pub allow_unsigned: bool,

    /// The database: sqlite://FILE (the default, created on first use) or postgres://...
    #[arg(long, global = true, env = "HOMEROOM_DB", default_value = crate::app::local::DEFAULT_DB)]
    pub db: String,

    /// The organization to work on (needed only when there are several).
    #[arg(long, global = true, env = "HOMEROOM_ORG")]
    pub org: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// List the plugin gallery: id, name, version, kind.
    Plugins,
    /// Work with one plugin package (for vendors developing locally).
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Run the web UI and REST API, with a worker beside them.
    Serve(crate::serve::ServeArgs),
    /// Run jobs only: scheduled and queued runs, exports, notifications.
    /// Any number of workers share one database.
    Worker(crate::serve::WorkerCommand),
    #[command(flatten)]
    Sync(sync::SyncCommand),
}

/// Parse the command line and run it.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let gallery = plugin::load_gallery(&cli)?;
    match cli.command {
        Command::Plugins => plugin::list(&gallery, cli.json),
        Command::Plugin(cmd) => plugin::run(cmd, gallery, cli.json).await,
        Command::Serve(args) => {
            let holder = args.worker.holder("serve");
            let db = crate::worker::labelled_url(&cli.db, &holder.id);
            let engine = crate::pipeline::Engine::open(&db, gallery)
                .await?
                .with_holder(holder);
            crate::serve::run(args, engine, &db).await
        }
        Command::Worker(args) => {
            let holder = args.worker.holder("worker");
            let db = crate::worker::labelled_url(&cli.db, &holder.id);
            let engine = crate::pipeline::Engine::open(&db, gallery)
                .await?
                .with_holder(holder);
            crate::serve::run_worker(args, engine, &db).await
        }
        Command::Sync(cmd) => {
            let engine = crate::pipeline::Engine::open(&cli.db, gallery)
                .await?
                .with_holder(crate::pipeline::lease::Holder::this_process("cli"));
            // The hub's key, for a vendor client a file makes that signs.
            let key = crate::app::secrets::default_key_path(&cli.db);
            let local = match key.exists() {
                true => {
                    let (b, _) = crate::app::secrets::SecretBox::load_or_create(&key)?;
                    crate::app::local::Local::new(engine).with_secrets(b)
                }
                false => crate::app::local::Local::new(engine),
            };
            sync::run(cmd, local, cli.org, cli.json).await
        }
    }
}

/// A progress bar of records on stderr; hidden for `--json` or when stderr
/// is not a terminal.
fn progress_bar(json: bool) -> indicatif::ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {bar:30} {pos}/{len} records · {per_sec} · {elapsed}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

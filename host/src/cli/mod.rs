//! The `homeroom` command line: argument parsing and printing only. Every
//! command calls into the library (gallery, runtime, store, api); nothing here
//! holds logic another interface would need too.

mod plugin;
mod sync;

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
    #[arg(long, global = true, env = "HOMEROOM_DB", default_value = crate::store::DEFAULT_URL)]
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
    /// Run the web UI and REST API.
    Serve(crate::api::ServeArgs),
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
            let store = crate::store::Store::open(&cli.db).await?;
            let runtime = crate::runtime::Runtime::new(crate::runtime::Limits::default())
                .map_err(|e| anyhow::anyhow!("{e:#}"))?;
            let engine = crate::pipeline::Engine::new(store, runtime, std::sync::Arc::new(gallery));
            crate::api::serve(args, engine, &cli.db).await
        }
        Command::Sync(cmd) => {
            let store = crate::store::Store::open(&cli.db).await?;
            let runtime = crate::runtime::Runtime::new(crate::runtime::Limits::default())
                .map_err(|e| anyhow::anyhow!("{e:#}"))?;
            let engine = crate::pipeline::Engine::new(store, runtime, std::sync::Arc::new(gallery));
            sync::run(cmd, engine, cli.org, cli.json).await
        }
    }
}

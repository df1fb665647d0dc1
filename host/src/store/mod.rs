//! Storage: one schema on SQLite (the embedded default, one file) and on
//! PostgreSQL (production), through sqlx's `Any` driver. It owns the SQL and
//! the migrations; callers get typed rows and never write SQL themselves. It
//! knows nothing of plugins, flows or HTTP: it is handed the rows it writes.
//! Only `reconcile`, `pipeline` and `app` use it; no face does.

mod kv;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

pub use kv::DbKeyValue;

/// The embedded default: a SQLite file in the working directory.
pub const DEFAULT_URL: &str = "sqlite://homeroom.db";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "`{0}` is not a database URL Homeroom understands: use sqlite://FILE or postgres://USER@HOST/DB"
    )]
    BadUrl(String),
    #[error("cannot open the database {url}: {why}")]
    Connect { url: String, why: String },
    #[error("the database schema could not be brought up to date: {0}")]
    Migrate(String),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
}

#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub backend: Backend,
}

pub use crate::secret::redact_url;

impl Store {
    /// Open (creating a SQLite file if needed) and migrate.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::BadUrl(redact_url(url)));
        };
        let connect_err = |e: sqlx::Error| StoreError::Connect {
            url: redact_url(url),
            why: e.to_string(),
        };
        let pool = match backend {
            Backend::Sqlite => {
                // `mode=rwc` creates the file on first start.
                let url = if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                let pool = AnyPoolOptions::new()
                    .max_connections(4)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // 16 KiB pages (the default is 4 KiB): entity rows
                            // are half a kilobyte of JSON, and a full sync
                            // commits millions of them; a quarter of the page
                            // splits and WAL frames made its commit 40% faster.
                            // Takes effect only on a new file (before WAL mode
                            // and the first table), a no-op after.
                            sqlx::query("PRAGMA page_size = 16384")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA busy_timeout = 30000")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA synchronous = NORMAL")
                                .execute(&mut *conn)
                                .await?;
                            // 64 MiB of page cache (the default is 2 MiB): a
                            // sync of millions of records inserts into indexes
                            // far larger than that.
                            sqlx::query("PRAGMA cache_size = -65536")
                                .execute(&mut *conn)
                                .await?;
                            // Reads straight from the file as the kernel
                            // caches it (up to 2 GiB, SQLite's most): every
                            // write (a vendor read's log line, say) makes the
                            // other connections drop their page caches, and a
                            // database past the 64 MiB cache was read from
                            // disk again and again (a vendor's read of a
                            // 50,000-student district never finished).
                            sqlx::query("PRAGMA mmap_size = 2147418112")
                                .execute(&mut *conn)
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await
                    .map_err(connect_err)?;
                // WAL: readers (the UI, exports) never block the writer.
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&pool)
                    .await
                    .map_err(connect_err)?;
                pool
            }
            Backend::Postgres => AnyPoolOptions::new()
                .max_connections(8)
                .connect(url)
                .await
                .map_err(connect_err)?,
        };
        // The job queue's tables (apalis's, `crate::queue`) keep their
        // migrations in the same `_sqlx_migrations` table; each set leaves
        // the other's rows alone.
        let mut migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator.set_ignore_missing(true);
        migrator
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        Ok(Store { pool, backend })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

mod api;
mod entities;
pub mod exports;
pub mod jobs;
pub mod provider;
pub mod review;
mod runs;
pub mod sync;

pub use api::{AttrFilter, AuditRow, SealedSecret, SetupRow, TokenInfo, TokenRow};
pub use entities::{Duplicate, EntityRow, HistoryRow, Resolution};
pub use runs::{Run, RunStatus, SourceRow, now};

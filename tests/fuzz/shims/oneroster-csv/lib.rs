//! The OneRoster CSV connector (`plugins/oneroster-csv/src`) compiled natively,
//! its modules public. Only the connector's `lib.rs` (the host glue, which runs
//! in the component) is left out: `session::Session` is what it drives, and
//! what the connector's native tests and `bench.rs` drive too.
//!
//! The modules name each other as `crate::rows`, `crate::schema`, ...: they
//! sit at this crate's root exactly as at the connector's.

#![allow(dead_code, unused_imports, clippy::all)]

#[path = "../../../../plugins/oneroster-csv/src/convert.rs"]
pub mod convert;
#[path = "../../../../plugins/oneroster-csv/src/manifest.rs"]
pub mod manifest;
#[path = "../../../../plugins/oneroster-csv/src/package.rs"]
pub mod package;
#[path = "../../../../plugins/oneroster-csv/src/refs.rs"]
pub mod refs;
#[path = "../../../../plugins/oneroster-csv/src/rows.rs"]
pub mod rows;
#[path = "../../../../plugins/oneroster-csv/src/schema.rs"]
pub mod schema;
#[path = "../../../../plugins/oneroster-csv/src/session.rs"]
pub mod session;

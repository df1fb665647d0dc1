//! The canonical vocabulary every layer uses: entity kinds and the admin's
//! kinds of record (`kinds`), records and attribute values in the host's
//! working form (`record`), run reports and their counts (`report`),
//! changes with their diffs (`change`), the data contract connectors'
//! records keep (`contract`), records in OneRoster's shape as the
//! provider serves them (`oneroster`) and OneRoster's query language over
//! them (`query`).
//!
//! This is the bottom of the house beside `bindings` (the WIT types shared
//! with plugins) and `secret`: it imports nothing else of the crate, and
//! every other module may import it. It holds no I/O: no SQL, no HTTP, no
//! plugin calls.

pub mod change;
pub mod contract;
pub mod kinds;
pub mod oneroster;
pub mod query;
pub mod record;
pub mod report;

pub use kinds::{UnknownKind, display_value};

//! `host/src/runtime/validate.rs`, the checks the host holds everything a
//! plugin returns to, compiled natively against `homeroom_host`.
//!
//! The file names what it uses as `super::bindings` and
//! `crate::capabilities::...`, `crate::gallery::...`: this crate's root
//! provides exactly those paths, each the host's own public item (no copy).
//! When the host makes `runtime::validate` public, the fuzz target can call
//! `homeroom_host::runtime::validate` and this crate can go.

#![allow(dead_code, unused_imports, clippy::all)]

pub use homeroom_host::bindings;

pub mod capabilities {
    pub mod log {
        pub use homeroom_host::capabilities::log::one_line;
    }
    pub mod storage {
        pub use homeroom_host::capabilities::storage::size;
    }
}

pub mod gallery {
    pub mod manifest {
        pub use homeroom_host::gallery::manifest::{ALWAYS_SENT, is_attribute_name};
    }
}

#[path = "../../../../host/src/runtime/validate.rs"]
pub mod validate;

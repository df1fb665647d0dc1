//! # Homeroom SDK
//!
//! Write a Homeroom connector or rule as a small Rust crate that compiles to a
//! WebAssembly component (`cargo build --target wasm32-wasip2`).
//!
//! A connector implements [`Connector`] and calls [`export_connector!`]; a
//! rule implements [`Rule`] (see the [`rule`] module: batches read in place,
//! `reads` in the manifest) and calls [`export_rule!`]. Pick the world with the
//! crate feature `connector` or `rule`.
//!
//! ```ignore
//! use homeroom_sdk::prelude::*;
//!
//! struct MySis;
//! impl Connector for MySis {
//!     fn test_connection() -> Result<String, PluginError> { Ok("connected".into()) }
//!     fn list_schools() -> Result<Vec<School>, PluginError> { Ok(vec![]) }
//!     fn read(kind: EntityKind, since: Option<String>, cursor: Option<String>) -> Result<Page, PluginError> {
//!         let url = format!("{}/users", settings::required("service_url")?);
//!         let body = http::get_json(&url)?;
//!         /* map body to entities */
//!         # Ok(Page { entities: vec![], next: None, total: None, ahead: vec![] })
//!     }
//!     fn export_changes(_changes: Vec<ExportChange>) -> Result<Vec<ExportOutcome>, PluginError> {
//!         Err(PluginError::Unsupported("this connector only imports".into()))
//!     }
//! }
//! homeroom_sdk::export_connector!(MySis);
//! ```
//!
//! What the SDK owns: the guest-side bindings of `wit/0.2.0` (world
//! `homeroom:plugin@0.2.0`; set `world_version = "0.2.0"` in the manifest), typed helpers
//! over them (entities, attributes, paging cursors, delta checkpoints, HTTP
//! as the connection, settings, the host behind a trait for native tests) and the OneRoster JSON/CSV mapping shared by the OneRoster
//! connectors. What it must not do: reach the network or files any way but
//! through the host interfaces.

extern crate self as homeroom_sdk;

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}

#[cfg(feature = "connector")]
pub mod connector_bindings {
    wit_bindgen::generate!({
        path: "../wit/0.2.0",
        world: "connector",
        pub_export_macro: true,
        export_macro_name: "__export_connector_world",
        default_bindings_module: "homeroom_sdk::connector_bindings",
        runtime_path: "homeroom_sdk::__private::wit_bindgen::rt",
    });
}

#[cfg(all(feature = "rule", feature = "connector"))]
pub mod rule_bindings {
    wit_bindgen::generate!({
        path: "../wit/0.2.0",
        world: "rule",
        pub_export_macro: true,
        export_macro_name: "__export_rule_world",
        default_bindings_module: "homeroom_sdk::rule_bindings",
        runtime_path: "homeroom_sdk::__private::wit_bindgen::rt",
        with: {
            "homeroom:plugin/types@0.2.0": crate::connector_bindings::homeroom::plugin::types,
            "homeroom:plugin/log@0.2.0": crate::connector_bindings::homeroom::plugin::log,
            "homeroom:plugin/settings@0.2.0": crate::connector_bindings::homeroom::plugin::settings,
        },
    });
}

#[cfg(all(feature = "rule", not(feature = "connector")))]
pub mod rule_bindings {
    wit_bindgen::generate!({
        path: "../wit/0.2.0",
        world: "rule",
        pub_export_macro: true,
        export_macro_name: "__export_rule_world",
        default_bindings_module: "homeroom_sdk::rule_bindings",
        runtime_path: "homeroom_sdk::__private::wit_bindgen::rt",
    });
}

#[cfg(feature = "connector")]
use connector_bindings::homeroom::plugin as wit;
#[cfg(all(feature = "rule", not(feature = "connector")))]
use rule_bindings::homeroom::plugin as wit;

/// The vendor guide (`GUIDE.md` beside the SDK), here so that `cargo test`
/// compiles and runs its examples.
#[cfg(feature = "connector")]
#[doc = include_str!("../GUIDE.md")]
pub mod guide {}

#[cfg(feature = "connector")]
pub mod delta;
#[cfg(any(feature = "connector", feature = "rule"))]
mod entity;
#[cfg(feature = "connector")]
pub mod env;
#[cfg(feature = "connector")]
pub mod fake;
#[cfg(feature = "connector")]
pub mod http;
#[cfg(feature = "connector")]
pub mod json;
#[cfg(any(feature = "connector", feature = "rule"))]
pub mod log;
#[cfg(feature = "connector")]
pub mod oneroster;
#[cfg(feature = "connector")]
pub mod paging;
#[cfg(feature = "rule")]
pub mod rule;
#[cfg(any(feature = "connector", feature = "rule"))]
pub mod settings;
#[cfg(feature = "connector")]
pub mod storage;

#[cfg(any(feature = "connector", feature = "rule"))]
pub use entity::{OrgType, Role, grade_level};
#[cfg(feature = "connector")]
pub use wit::export_types::{ExportChange, ExportOutcome, TargetRef};
#[cfg(any(feature = "connector", feature = "rule"))]
pub use wit::types::{
    Action, Attribute, Entity, EntityKind, Page, PluginError, Reference, School, Status, Value,
};

#[cfg(feature = "connector")]
pub use connector_bindings::exports::homeroom::plugin::connector_api::Guest as Connector;
#[cfg(feature = "rule")]
pub use rule::{Batch, RecordRef, ReferenceRef, Rule, ValueRef, Verdict};

/// Everything a plugin usually needs, in one `use`.
pub mod prelude {
    #[cfg(any(feature = "connector", feature = "rule"))]
    pub use crate::{
        Action, Attribute, Entity, EntityKind, OrgType, Page, PluginError, Reference, Role, School,
        Status, Value, log, settings,
    };
    #[cfg(feature = "rule")]
    pub use crate::{Batch, RecordRef, ReferenceRef, Rule, ValueRef, Verdict};
    #[cfg(feature = "connector")]
    pub use crate::{Connector, ExportChange, ExportOutcome, TargetRef, http, paging, storage};
}

/// Export a type implementing [`Connector`] as this component's connector.
#[cfg(feature = "connector")]
#[macro_export]
macro_rules! export_connector {
    ($ty:ident) => {
        // Only a WebAssembly build exports the world; a native build (unit
        // tests, benchmarks) links the plugin as a plain library.
        #[cfg(target_arch = "wasm32")]
        $crate::connector_bindings::__export_connector_world!($ty);
        // Natively the type is still used (a unit struct, as the world's
        // functions take no self), so `cargo test` warns of no dead code.
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = $ty;
        };
    };
}

/// Export a type implementing [`Rule`] as this component's rule.
#[cfg(feature = "rule")]
#[macro_export]
macro_rules! export_rule {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            impl $crate::rule_bindings::exports::homeroom::plugin::rule_api::Guest for $ty {
                fn apply(
                    batch: $crate::rule::wire::Batch,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<$crate::rule::Verdict>,
                    $crate::PluginError,
                > {
                    $crate::rule::run::<$ty>(batch)
                }
            }
            $crate::rule_bindings::__export_rule_world!($ty);
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = $ty;
        };
    };
}

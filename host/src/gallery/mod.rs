//! The gallery: plugin packages (a component plus its manifest), the built-in
//! ones compiled into this binary and any loaded from disk, and the grant of
//! capabilities a configured source gets from its plugin's manifest. It owns
//! no running plugin (that is `runtime`) and no source configuration (`store`).

pub mod grant;
pub mod manifest;
pub mod package;

pub use manifest::{Manifest, PluginKind};
pub use package::{Gallery, Package, PackageError};

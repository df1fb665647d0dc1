//! The host interfaces a plugin may call, each granted against the plugin's
//! manifest and the source's configuration: outbound HTTP as the connection,
//! plugin-scoped storage, log and progress, non-secret settings, and the one
//! preopened file-drop directory. Nothing here gives a plugin ambient authority,
//! and nothing here runs plugin code: the runtime wires these into a store.

pub mod drops;
pub mod http;
pub mod log;
pub mod sandbox;
pub mod storage;

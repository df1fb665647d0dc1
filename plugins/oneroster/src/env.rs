//! What the connector needs from its surroundings: the SDK's [`Env`] (HTTP as
//! the connection, settings, warnings and progress, storage for the school of
//! each class a grade write-back has looked up). In the component these are
//! the host interfaces ([`HostEnv`]); the unit tests put a fake server behind
//! the same trait, so every path of the connector runs natively.

pub use homeroom_sdk::env::{Env, HostEnv};

//! Test support for Homeroom: databases to run on, a host wired as `serve`
//! wires it, fixture districts, and mock source systems.

pub mod browser;
pub mod classroom_mock;
pub mod clever_mock;
pub mod defects;
pub mod district;
pub mod entra_mock;
pub mod oneroster_mock;
pub mod powerschool_mock;
pub mod review;
pub mod sinks;
pub mod support;
pub mod xpress_mock;

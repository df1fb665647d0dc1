//! Log lines and progress, shown to the admin with the run.

use crate::wit::log::{self as host, Level};

pub fn info(message: &str) {
    host::log(Level::Info, message);
}

pub fn warn(message: &str) {
    host::log(Level::Warn, message);
}

pub fn debug(message: &str) {
    host::log(Level::Debug, message);
}

pub fn error(message: &str) {
    host::log(Level::Error, message);
}

/// Report `done` of `total` records of the current call.
pub fn progress(done: u64, total: Option<u64>) {
    host::progress(done, total);
}

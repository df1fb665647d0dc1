//! The WASI context a plugin gets: nothing ambient. No environment variables,
//! no arguments, no sockets, no inherited stdio (stdout and stderr are captured
//! for the failure report), a frozen clock and a seeded random stream (so rules
//! are deterministic), and at most one preopened directory, read-only, opened
//! through cap-std so the plugin cannot name a path outside it.

use std::path::Path;
use std::time::Duration;

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{
    Deterministic, FsPerms, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder,
};

/// Bytes of stdout/stderr kept per store.
const CAPTURE_BYTES: usize = 64 * 1024;

/// The path under which the file-drop directory appears inside the plugin.
pub const DROP_DIR_GUEST_PATH: &str = "/drop";

/// A plugin's captured stdout and stderr (Rust panics print there).
#[derive(Clone)]
pub struct CapturedOutput(MemoryOutputPipe);

impl CapturedOutput {
    fn new() -> Self {
        CapturedOutput(MemoryOutputPipe::new(CAPTURE_BYTES))
    }

    /// The last `n` non-empty lines written.
    pub fn last_lines(&self, n: usize) -> Vec<String> {
        let bytes = self.0.contents();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(n)..]
            .iter()
            .map(|l| l.to_string())
            .collect()
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn wasmtime_wasi::p2::OutputStream> {
        Box::new(self.0.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.0.clone())
    }
}

struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// Build the WASI context for one store. `drop_dir` is the file-drop folder of
/// a file connector, if its source has one.
pub fn wasi_context(drop_dir: Option<&Path>) -> Result<(WasiCtx, CapturedOutput), String> {
    let output = CapturedOutput::new();
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdout(output.clone())
        .stderr(output.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .wall_clock(FrozenClock)
        .monotonic_clock(FrozenClock)
        .secure_random(Deterministic::new(vec![
            0x5e, 0xed, 0x42, 0x17, 0x9a, 0x01, 0xc3, 0x77,
        ]))
        .insecure_random(Deterministic::new(vec![0x13, 0x37, 0x0b, 0xad]))
        .insecure_random_seed(0x486f_6d65_726f_6f6d);
    if let Some(dir) = drop_dir {
        let dir = dir.canonicalize().map_err(|e| {
            format!(
                "the file-drop folder {} cannot be opened ({e}): check the source's folder setting",
                dir.display()
            )
        })?;
        builder
            .preopened_dir(&dir, DROP_DIR_GUEST_PATH, FsPerms::ReadOnly)
            .map_err(|e| {
                format!(
                    "the file-drop folder {} cannot be opened: {e}",
                    dir.display()
                )
            })?;
    }
    Ok((builder.build(), output))
}

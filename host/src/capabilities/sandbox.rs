//! The WASI context a plugin gets: nothing ambient. No environment variables,
//! no arguments, no sockets, no inherited stdio (stdout and stderr are
//! captured line by line into the run's [`PluginLog`], which keeps and traces
//! them within its caps, so a plugin that prints in a loop neither fills the
//! host's memory nor its log, nor crashes for having printed), a frozen clock
//! and a seeded random stream (so rules are deterministic), and at most one
//! preopened directory, read-only, opened through cap-std so the plugin
//! cannot name a path outside it.

use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{
    Deterministic, FsPerms, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder,
};
use wasmtime_wasi_io::bytes::Bytes;

use super::log::{PluginLog, Stream};

/// Bytes one write to stdout or stderr may carry.
const WRITE_PERMIT: usize = 64 * 1024;

/// The path under which the file-drop directory appears inside the plugin.
pub const DROP_DIR_GUEST_PATH: &str = "/drop";

/// A plugin's stdout or stderr (Rust panics print there), written into its
/// run's log. Writes never fail: what is past the log's caps is counted.
#[derive(Clone)]
pub struct CapturedOutput {
    log: PluginLog,
    stream: Stream,
}

impl CapturedOutput {
    pub fn new(log: PluginLog, stream: Stream) -> Self {
        CapturedOutput { log, stream }
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

#[async_trait::async_trait]
impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.log.output(self.stream, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.log.output(self.stream, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
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

/// Build the WASI context for one store, its stdout and stderr written into
/// `log`. `drop_dir` is the file-drop folder of a file connector, if its
/// source has one.
pub fn wasi_context(drop_dir: Option<&Path>, log: &PluginLog) -> Result<WasiCtx, String> {
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdout(CapturedOutput::new(log.clone(), Stream::Stdout))
        .stderr(CapturedOutput::new(log.clone(), Stream::Stderr))
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
    Ok(builder.build())
}

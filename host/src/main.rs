//! The `homeroom` binary: logging set-up and the command line.

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = homeroom_host::cli::Cli::parse();
    // `homeroom plugin ...` shows a plugin's output and warnings itself (in
    // its errors and its warning lines), so the host's log does not print
    // them a second time; HOMEROOM_LOG=debug shows everything, a trap's
    // wasm backtrace included.
    let default = if matches!(cli.command, homeroom_host::cli::Command::Plugin(_)) {
        "warn,homeroom_host::capabilities::log=off,homeroom_host::runtime::state=off"
    } else {
        "warn,homeroom_host=info,homeroom_host::capabilities::log=warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HOMEROOM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        // Colours for a person at a terminal, none in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match homeroom_host::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

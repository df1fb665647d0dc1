//! A worker: takes jobs from the queue (`crate::queue`) and runs each
//! through the application (`App::run_job`), and once a second does the
//! duties any worker may do (`App::tick`: schedules that came due, runs
//! whose worker died, notifications). `homeroom worker` is one and nothing
//! else; `homeroom serve` runs one beside the web service unless told
//! `--workers 0`. Any number share one database; each logs under its id.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use crate::app::App;
use crate::queue::{Handler, Queue};

/// What a worker is, for `homeroom worker` and `homeroom serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct WorkerArgs {
    /// Jobs one worker runs at once.
    #[arg(long, default_value_t = 2, env = "HOMEROOM_CONCURRENCY")]
    pub concurrency: usize,
    /// Seconds a run's lease lasts unrenewed: a worker that dies leaves
    /// its run to another worker this long after its last renewal.
    #[arg(long, default_value_t = crate::pipeline::lease::DEFAULT_LEASE_SECS, env = "HOMEROOM_LEASE_SECS")]
    pub lease: f64,
    /// This worker's name in logs, the UI and the API (default: its role,
    /// host and process id).
    #[arg(long, env = "HOMEROOM_WORKER_ID")]
    pub worker_id: Option<String>,
    /// The SMTP relay notifications are mailed through
    /// (smtp://USER:PASSWORD@HOST:PORT; smtps:// for TLS from the start;
    /// `?tls=required` for STARTTLS).
    #[arg(long, env = "HOMEROOM_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The address notifications come from.
    #[arg(
        long,
        env = "HOMEROOM_MAIL_FROM",
        default_value = "Homeroom <homeroom@localhost>"
    )]
    pub mail_from: String,
    /// A test clock for the schedules: `START*SPEED` (RFC 3339 start, and
    /// how many times faster than real time it runs). Leases keep real time.
    #[arg(long, env = "HOMEROOM_TEST_CLOCK", hide = true)]
    pub test_clock: Option<String>,
}

impl Default for WorkerArgs {
    /// What the command line gives when no option is set.
    fn default() -> Self {
        WorkerArgs {
            concurrency: 2,
            lease: crate::pipeline::lease::DEFAULT_LEASE_SECS,
            worker_id: None,
            smtp_url: None,
            mail_from: "Homeroom <homeroom@localhost>".into(),
            test_clock: None,
        }
    }
}

/// The schedules' clock: real time, or a test clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Option<(std::time::Instant, chrono::DateTime<chrono::Utc>, f64)>,
}

impl Clock {
    pub fn real() -> Clock {
        Clock { start: None }
    }

    /// `START*SPEED`.
    pub fn parse(spec: &str) -> anyhow::Result<Clock> {
        let (start, speed) = spec.split_once('*').unwrap_or((spec, "1"));
        let start = chrono::DateTime::parse_from_rfc3339(start.trim())
            .map_err(|e| anyhow::anyhow!("the test clock `{spec}`: {e}"))?
            .with_timezone(&chrono::Utc);
        let speed: f64 = speed
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("the test clock `{spec}`: the speed is not a number"))?;
        Ok(Clock {
            start: Some((std::time::Instant::now(), start, speed)),
        })
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        match self.start {
            None => chrono::Utc::now(),
            Some((real, start, speed)) => {
                let passed = real.elapsed().as_secs_f64() * speed;
                start + chrono::Duration::milliseconds((passed * 1000.0) as i64)
            }
        }
    }
}

impl WorkerArgs {
    pub fn clock(&self) -> anyhow::Result<Clock> {
        match &self.test_clock {
            Some(spec) => Clock::parse(spec),
            None => Ok(Clock::real()),
        }
    }

    /// The relay, when one is configured.
    pub fn relay(&self) -> anyhow::Result<Option<crate::notify::Relay>> {
        self.smtp_url
            .as_deref()
            .map(|url| crate::notify::Relay::new(url, &self.mail_from))
            .transpose()
            .map_err(Into::into)
    }

    /// Who holds this process's leases: the given id, or `role-host-pid`.
    pub fn holder(&self, role: &str) -> crate::pipeline::lease::Holder {
        let mut holder = crate::pipeline::lease::Holder::this_process(role);
        if let Some(id) = &self.worker_id {
            holder.id = id.clone();
        }
        holder.secs = self.lease.max(1.0);
        holder
    }
}

/// A PostgreSQL URL whose connections say which worker opened them
/// (`application_name`, in `pg_stat_activity`); any other URL as it is.
pub fn labelled_url(db_url: &str, name: &str) -> String {
    let pg = db_url.starts_with("postgres:") || db_url.starts_with("postgresql:");
    if !pg || db_url.contains("application_name=") {
        return db_url.to_string();
    }
    let sep = if db_url.contains('?') { '&' } else { '?' };
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{db_url}{sep}application_name={name}")
}

/// Run a worker named `name` over `queue` until `shutdown` resolves: its
/// jobs and its duties once a second. Its runs are leased to the app's
/// holder (the process).
pub async fn run(
    app: App,
    queue: Queue,
    args: &WorkerArgs,
    name: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let id = name.to_string();
    let clock = args.clock()?;
    let span = tracing::info_span!("worker", id = %id);
    let duties = {
        let app = app.clone();
        tokio::spawn(
            async move {
                let mut every = tokio::time::interval(Duration::from_secs(1));
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    if let Err(e) = app.tick(clock.now()).await {
                        tracing::error!("the worker's duties stopped for a moment: {e}");
                    }
                }
            }
            .instrument(span.clone()),
        )
    };
    let handler: Handler = {
        let span = span.clone();
        Arc::new(move |job| {
            let app = app.clone();
            Box::pin(async move { app.run_job(job).await }.instrument(span.clone()))
        })
    };
    tracing::info!(parent: &span, concurrency = args.concurrency, lease_secs = args.lease, "worker started");
    let outcome = queue.work(&id, args.concurrency, handler, shutdown).await;
    duties.abort();
    outcome.map_err(Into::into)
}

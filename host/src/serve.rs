//! `homeroom serve` and `homeroom worker`: the host's long-running
//! processes. Serve composes the two HTTP faces, the REST API
//! (`crate::api`) and the admin UI (`crate::ui`), with a health check and
//! the security headers every answer carries, and runs it beside a worker
//! (`crate::worker`) unless told `--workers 0`; a worker alone runs jobs
//! only. Both set up the same way: the secret key, the drop root, the job
//! queue, the SMTP relay. Neither holds an operation of its own: those are
//! `crate::app`'s.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;

use crate::app::secrets::{self, SecretBox};
use crate::app::{App, DEMO_ORG};
use crate::capabilities::drops::DropRoot;
use crate::pipeline::Engine;
use crate::queue::Queue;
use crate::worker::WorkerArgs;

/// `homeroom worker`: jobs only.
#[derive(clap::Args)]
pub struct WorkerCommand {
    #[command(flatten)]
    pub host: HostArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Workers this process runs beside the web service (0: the web
    /// service only; runs wait for a `homeroom worker` elsewhere).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    #[command(flatten)]
    pub host: HostArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

/// What every long-running process of the host needs.
#[derive(clap::Args)]
pub struct HostArgs {
    /// The key that encrypts secrets entered in the UI or the API (created
    /// on first start; back it up with the database). Default: homeroom.key
    /// beside the SQLite database, or in the working directory.
    #[arg(long, env = "HOMEROOM_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// The folder file sources read below: each organization reads only its
    /// own folder in it (`<drop root>/<organization id>/`). Default: `drops`
    /// beside the SQLite database, or in the working directory.
    #[arg(long, env = "HOMEROOM_DROP_ROOT")]
    pub drop_root: Option<PathBuf>,
}

async fn health() -> &'static str {
    "ok"
}

/// The whole HTTP service: health check, REST API with its OpenAPI
/// document, admin UI, and the security headers on every answer.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .merge(crate::api::router())
        .merge(crate::provider::router())
        .merge(crate::ui::router(app.clone()))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(app)
}

/// Headers every answer carries: no sniffing, no framing, no caching of
/// pages that hold district data, and a strict content policy for pages.
async fn security_headers(request: Request, next: Next) -> Response {
    let is_static = request.uri().path().starts_with("/static/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The application of a long-running process, with its queue: the secret
/// key (created on first start), the drop root, the relay.
async fn open(
    host: &HostArgs,
    worker: &WorkerArgs,
    engine: Engine,
    db_url: &str,
) -> anyhow::Result<(App, Queue, std::path::PathBuf)> {
    let key_path = host
        .secret_key_file
        .clone()
        .unwrap_or_else(|| secrets::default_key_path(db_url));
    let (secret_box, created) = SecretBox::load_or_create(&key_path)?;
    if created {
        eprintln!(
            "created {}: it encrypts the secrets entered in the UI; back it up with the database",
            key_path.display()
        );
    }
    let drop_root = host
        .drop_root
        .clone()
        .unwrap_or_else(|| crate::app::beside_database(db_url, "drops"));
    std::fs::create_dir_all(&drop_root).map_err(|e| {
        anyhow::anyhow!(
            "cannot make the drop root {}: {e} (pass --drop-root)",
            drop_root.display()
        )
    })?;
    let id = engine.holder.id.clone();
    let queue = Queue::open(db_url, &id, crate::queue::Timing::for_lease(worker.lease)).await?;
    let engine = engine.with_drop_root(DropRoot::new(&drop_root));
    let app = App::with_jobs(engine, secret_box, Some(queue.clone()), worker.relay()?);
    Ok((app, queue, drop_root))
}

/// `homeroom worker`: runs jobs until interrupted.
pub async fn run_worker(args: WorkerCommand, engine: Engine, db_url: &str) -> anyhow::Result<()> {
    let (app, queue, _) = open(&args.host, &args.worker, engine, db_url).await?;
    println!("Homeroom worker {} is running", app.worker_id());
    let name = app.worker_id().to_string();
    crate::worker::run(app, queue, &args.worker, &name, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// `homeroom serve`.
pub async fn run(args: ServeArgs, engine: Engine, db_url: &str) -> anyhow::Result<()> {
    let (app, queue, drop_root) = open(&args.host, &args.worker, engine, db_url).await?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}: {e} (is another homeroom running? pass --bind)",
                args.bind
            )
        })?;
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let token = app
        .first_start()
        .await
        .map_err(|e| anyhow::anyhow!("first start: {e}"))?;
    if let Some(token) = token {
        println!(
            "First start: made the organization `{}` and an admin token. It is shown this once \
             and kept only as a hash, so copy it now:\n\n    {token}\n\nSign in with it in the \
             browser, or send it to the API as `Authorization: Bearer <token>`.\n",
            DEMO_ORG.0
        );
    }
    println!(
        "File sources read below {} (each organization in a folder of its own; the sample district is in {}/{}/{})",
        drop_root.display(),
        drop_root.display(),
        DEMO_ORG.0,
        crate::app::SAMPLE_FOLDER
    );
    let (stop_workers, stopped) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for n in 0..args.workers {
        let mut stopped = stopped.clone();
        let app = app.clone();
        let queue = queue.clone();
        let worker = args.worker.clone();
        workers.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            let name = match n {
                0 => app.worker_id().to_string(),
                n => format!("{}-{n}", app.worker_id()),
            };
            if let Err(e) = crate::worker::run(app, queue, &worker, &name, shutdown).await {
                tracing::error!(worker = n, "the worker stopped: {e:#}");
            }
        }));
    }
    match args.workers {
        0 => println!(
            "No worker runs here (--workers 0): runs wait for a `homeroom worker` on this database"
        ),
        n => println!(
            "{n} worker(s) run here beside the web service, as {}",
            app.worker_id()
        ),
    }
    println!("Homeroom is running: open http://{addr}/");
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    let _ = stop_workers.send(true);
    for w in workers {
        let _ = w.await;
    }
    Ok(())
}

//! `homeroom serve`: the HTTP service. It composes the two HTTP faces, the
//! REST API (`crate::api`) and the admin UI (`crate::ui`), with a health
//! check and the security headers every answer carries, and runs it: the
//! secret key, the listener, the first start. It holds no operation of its
//! own: those are `crate::app`'s.

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

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
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

/// `homeroom serve`.
pub async fn run(args: ServeArgs, engine: Engine, db_url: &str) -> anyhow::Result<()> {
    let key_path = args
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
    let drop_root = args
        .drop_root
        .clone()
        .unwrap_or_else(|| crate::app::beside_database(db_url, "drops"));
    std::fs::create_dir_all(&drop_root).map_err(|e| {
        anyhow::anyhow!(
            "cannot make the drop root {}: {e} (pass --drop-root)",
            drop_root.display()
        )
    })?;
    let engine = engine.with_drop_root(DropRoot::new(&drop_root));
    let app = App::new(engine, secret_box);
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
    println!("Homeroom is running: open http://{addr}/");
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

//! `homeroom serve`: the HTTP face of the hub (REST API under /api/v1 and the
//! admin UI). It owns routing, authentication of API callers and rendering;
//! it calls the library for everything else and never runs plugin code itself.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};

use crate::gallery::Gallery;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
}

struct AppState {
    gallery: Gallery,
}

#[derive(serde::Serialize)]
struct GalleryEntry {
    id: String,
    name: String,
    vendor: String,
    version: String,
    kind: &'static str,
    description: String,
    plugin: String,
    entities: Vec<String>,
}

fn entries(gallery: &Gallery) -> Vec<GalleryEntry> {
    let mut out = Vec::new();
    for p in gallery.packages() {
        let m = &p.manifest;
        let entities: Vec<String> = m.entities.iter().map(|e| e.kind.clone()).collect();
        out.push(GalleryEntry {
            id: m.id.clone(),
            name: m.name.clone(),
            vendor: m.vendor.clone(),
            version: m.version.clone(),
            kind: m.kind.label(),
            description: m.description.clone(),
            plugin: m.id.clone(),
            entities: entities.clone(),
        });
        for l in &m.listings {
            out.push(GalleryEntry {
                id: l.id.clone(),
                name: l.name.clone(),
                vendor: l.vendor.clone().unwrap_or_else(|| m.vendor.clone()),
                version: m.version.clone(),
                kind: m.kind.label(),
                description: l.description.clone(),
                plugin: m.id.clone(),
                entities: entities.clone(),
            });
        }
    }
    out
}

async fn health() -> &'static str {
    "ok"
}

async fn gallery_json(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    Json(entries(&state.gallery))
}

/// Escape text for HTML: every value that came from a plugin or a source.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

async fn gallery_page(State(state): State<Arc<AppState>>) -> Html<String> {
    let mut cards = String::new();
    for e in entries(&state.gallery) {
        cards.push_str(&format!(
            "<li class=\"card\"><h2>{}</h2><p class=\"meta\">{} · v{} · {}</p><p>{}</p><p class=\"syncs\">Syncs: {}</p></li>\n",
            escape(&e.name),
            escape(&e.vendor),
            escape(&e.version),
            e.kind,
            escape(&e.description),
            escape(&e.entities.join(", "))
        ));
    }
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Homeroom · Gallery</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}}ul{{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(18rem,1fr));gap:1rem}}.card{{border:1px solid #ccd;border-radius:8px;padding:1rem}}.meta{{color:#556}}</style>\
         </head><body><h1>Homeroom</h1><h2>Gallery</h2><ul>{cards}</ul></body></html>"
    ))
}

pub fn router(gallery: Gallery) -> Router {
    let state = Arc::new(AppState { gallery });
    Router::new()
        .route("/", get(gallery_page))
        .route("/healthz", get(health))
        .route("/api/v1/gallery", get(gallery_json))
        .with_state(state)
}

pub async fn serve(args: ServeArgs, gallery: Gallery) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}: {e} (is another homeroom running? pass --bind)",
                args.bind
            )
        })?;
    let addr = listener.local_addr()?;
    println!("Homeroom is running: open http://{addr}/");
    axum::serve(listener, router(gallery))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(super::escape("<b a='x'>&"), "&lt;b a=&#39;x&#39;&gt;&amp;");
    }
}

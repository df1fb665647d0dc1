//! Shared set-up for end-to-end tests: every storage test runs on SQLite and,
//! when `DATABASE_URL` names one, on PostgreSQL; an engine built like the
//! product's with the test plugins added to the gallery; and fixture
//! districts written as JSON lines for the fixture connector.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use homeroom_host::gallery::{Gallery, Package};
use homeroom_host::pipeline::Engine;
use homeroom_host::runtime::{Limits, Runtime};
use homeroom_host::store::Store;
use homeroom_host::testing::TEST_PLUGINS_DIR;
use serde_json::{Value, json};

/// The databases every storage test runs on: a fresh SQLite file, and
/// PostgreSQL when `DATABASE_URL` is set. Under CI (`HOMEROOM_REQUIRE_POSTGRES=1`)
/// a missing PostgreSQL fails the test instead of passing silently.
pub fn database_urls(dir: &Path) -> Vec<String> {
    let mut urls = vec![format!("sqlite://{}", dir.join("homeroom.db").display())];
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => urls.push(url),
        _ => {
            if std::env::var("HOMEROOM_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!(
                    "HOMEROOM_REQUIRE_POSTGRES=1 but DATABASE_URL is not set: the PostgreSQL half of this test cannot run"
                );
            }
            eprintln!("note: PostgreSQL part skipped: set DATABASE_URL=postgres://... to run it");
        }
    }
    urls
}

/// A connector built for `homeroom:plugin@0.1.0` and kept as built
/// (`tests/fixtures/connector-0.1.0/README.md`): the fixture connector of
/// the last 0.1.0 tree, as `fixture-connector-0-1-0`.
pub const CONNECTOR_0_1_0_DIR: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/connector-0.1.0");

/// The built-in gallery plus the test plugins, and the 0.1.0 connector.
pub fn gallery() -> Gallery {
    let mut gallery = Gallery::builtin().expect("built-in gallery");
    gallery
        .add(Package::from_dir(Path::new(CONNECTOR_0_1_0_DIR), None).expect("the 0.1.0 connector"))
        .expect("unique ids");
    for entry in std::fs::read_dir(TEST_PLUGINS_DIR).expect("test plugins were built") {
        let path = entry.expect("dir entry").path();
        gallery
            .add(Package::from_dir(&path, None).expect("test plugin package"))
            .expect("unique ids");
    }
    gallery
}

pub async fn engine(url: &str) -> Engine {
    let store = Store::open(url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let runtime = Runtime::new(Limits::default()).expect("runtime");
    Engine::new(store, runtime, Arc::new(gallery()))
}

/// Configure `org` (named Maplewood) with `source` as its one source.
pub async fn configure(engine: &Engine, org: &str, source: homeroom_host::config::SourceConfig) {
    configure_sources(engine, org, vec![source]).await;
}

/// Configure `org` (named Maplewood) with `sources` (a SIS and a directory).
pub async fn configure_sources(
    engine: &Engine,
    org: &str,
    sources: Vec<homeroom_host::config::SourceConfig>,
) {
    engine
        .apply_config(&homeroom_host::config::DistrictConfig {
            organization: homeroom_host::config::Organization {
                id: org.into(),
                name: "Maplewood".into(),
                ..Default::default()
            },
            sources,
            vendors: Vec::new(),
        })
        .await
        .expect("apply");
}

/// A unique organization id, so tests sharing one PostgreSQL never meet.
/// One count of one kind in a run's report (0 where the kind is absent):
/// `count(&run, "class", |c| c.add)`.
pub fn count(
    run: &homeroom_host::store::Run,
    kind: &str,
    f: impl Fn(&homeroom_host::model::report::KindCounts) -> u64,
) -> u64 {
    run.report.counts.get(kind).map(f).unwrap_or(0)
}

pub fn org_id(name: &str) -> String {
    format!("{name}-{}", uuid_like())
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:x}{:x}{}",
        nanos,
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A district as the fixture connector reads it: `<kind>.jsonl` files.
#[derive(Default, Clone)]
pub struct Fixture {
    pub files: std::collections::BTreeMap<String, Vec<Value>>,
}

pub fn org_ref(id: &str) -> Value {
    json!({"kind": "org", "id": id})
}

impl Fixture {
    pub fn add(&mut self, kind: &str, id: &str, attrs: Value) -> &mut Self {
        self.files
            .entry(kind.to_string())
            .or_default()
            .push(json!({"id": id, "attrs": attrs}));
        self
    }

    pub fn remove(&mut self, kind: &str, id: &str) {
        if let Some(rows) = self.files.get_mut(kind) {
            rows.retain(|r| r["id"] != id);
        }
    }

    pub fn set(&mut self, kind: &str, id: &str, attr: &str, value: Value) {
        if let Some(rows) = self.files.get_mut(kind) {
            for r in rows.iter_mut().filter(|r| r["id"] == id) {
                r["attrs"][attr] = value.clone();
            }
        }
    }

    /// Write the files into `dir` (replacing what was there).
    pub fn write(&self, dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir).expect("fixture dir");
        for entry in std::fs::read_dir(dir).expect("read fixture dir").flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
        for (kind, rows) in &self.files {
            let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
            std::fs::write(dir.join(format!("{kind}.jsonl")), text).expect("write fixture");
        }
        dir.to_path_buf()
    }

    pub fn student(
        &mut self,
        id: &str,
        given: &str,
        family: &str,
        email: &str,
        school: &str,
        grade: &str,
    ) -> &mut Self {
        self.add(
            "user",
            id,
            json!({"givenName": given, "familyName": family, "email": email, "role": "student",
                   "username": id, "grades": [grade], "orgs": [org_ref(school)], "enabledUser": true}),
        )
    }

    /// A district org with two schools.
    pub fn with_schools(&mut self) -> &mut Self {
        self.add(
            "org",
            "d1",
            json!({"name": "Springfield District", "type": "district"}),
        );
        self.add(
            "org",
            "s1",
            json!({"name": "Springfield Elementary", "type": "school", "parent": org_ref("d1")}),
        );
        self.add(
            "org",
            "s2",
            json!({"name": "Springfield High", "type": "school", "parent": org_ref("d1")}),
        )
    }
}

/// A mock's answer whose body is cut off mid-way: half of `body` with the
/// whole length announced, then a broken connection.
pub fn cut_off(
    builder: axum::http::response::Builder,
    body: String,
) -> Result<axum::response::Response, axum::http::Error> {
    use futures::StreamExt;
    let bytes = axum::body::Bytes::from(body);
    let half = bytes.slice(..bytes.len() / 2);
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(half) }).chain(
        futures::stream::once(async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            Err(std::io::Error::other(
                "the mock cut the connection mid-body",
            ))
        }),
    );
    builder
        .header(axum::http::header::CONTENT_LENGTH, bytes.len())
        .body(axum::body::Body::from_stream(stream))
}

/// Serve a mock server's `app` on `listener` on a task of its own until the
/// returned sender fires or is dropped (the mock's handle keeps it).
pub fn serve_until_shutdown(
    listener: tokio::net::TcpListener,
    app: axum::Router,
) -> tokio::sync::oneshot::Sender<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    tx
}

/// The `homeroom` binary of this build (`cargo test` builds it beside the
/// test executables), for tests that run the command line.
pub fn homeroom_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("homeroom"))
        .expect("target dir");
    assert!(
        bin.exists(),
        "{} is missing: run the whole suite with `cargo test` (it builds the binary) or `cargo build -p homeroom-host` first",
        bin.display()
    );
    bin
}

/// A session of the built-in connector `id`, as a source with `settings`
/// and `secrets` runs it (the grant the host makes of them), with short
/// retry waits; each connector's component is compiled once per test run.
pub async fn builtin_session(
    id: &str,
    settings: &std::collections::BTreeMap<String, String>,
    secrets: &std::collections::BTreeMap<String, homeroom_host::secret::Secret>,
) -> homeroom_host::runtime::ConnectorSession {
    use homeroom_host::runtime::{ConnectorSession, LoadedPlugin, SessionOptions};
    type Loaded = (Arc<Runtime>, Arc<LoadedPlugin>);
    static LOADED: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<String, Loaded>>,
    > = std::sync::OnceLock::new();
    let (runtime, loaded) = {
        let mut all = LOADED
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        all.entry(id.to_string())
            .or_insert_with(|| {
                let gallery = Gallery::builtin().expect("built-in gallery");
                let package = gallery
                    .get(id)
                    .unwrap_or_else(|e| panic!("{id} is built in: {e}"))
                    .clone();
                let runtime = Runtime::new(Limits::default()).expect("runtime");
                let loaded = runtime.load(&package).expect("the component loads");
                (runtime, loaded)
            })
            .clone()
    };
    let limits = homeroom_host::capabilities::http::HttpLimits {
        timeout: std::time::Duration::from_secs(10),
        initial_backoff: std::time::Duration::from_millis(10),
        max_backoff: std::time::Duration::from_millis(100),
        ..Default::default()
    };
    let granted =
        homeroom_host::gallery::grant::grant(&loaded.package.manifest, settings, secrets, limits)
            .expect("grant");
    let client = granted.connection.map(|c| {
        Arc::new(homeroom_host::capabilities::http::ConnectionClient::new(c).expect("client"))
    });
    ConnectorSession::start(
        &runtime,
        loaded,
        SessionOptions {
            settings: granted.settings,
            http: client,
            ..Default::default()
        },
    )
    .await
    .expect("session")
}

/// Every entity of `kind` a session reads, in order; the error as text.
pub async fn read_kind(
    session: &mut homeroom_host::runtime::ConnectorSession,
    kind: homeroom_host::bindings::types::EntityKind,
) -> Result<Vec<homeroom_host::bindings::types::Entity>, String> {
    let mut all = Vec::new();
    session
        .read_all(kind, None, |page| {
            all.extend(page.entities);
            Ok::<(), ()>(())
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(all)
}

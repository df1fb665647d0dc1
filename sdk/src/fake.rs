//! A fake host for a connector's native unit tests: the [`Env`] a connector
//! reads through, with settings, a server answering each request, the
//! warnings and progress the connector reports and its plugin storage, all
//! in memory. A vendor tests every path of a connector with `cargo test`
//! alone, no host and no network:
//!
//! ```
//! use homeroom_sdk::env::Env;
//! use homeroom_sdk::fake::{FakeHost, json_response};
//!
//! let mut host = FakeHost::new(|request| {
//!     assert!(request.url.ends_with("/schools?page=1"));
//!     Ok(json_response(200, &serde_json::json!({"schools": []})))
//! })
//! .with_setting("service_url", "https://sis.example");
//! assert_eq!(host.setting("service_url").as_deref(), Some("https://sis.example"));
//! let url = format!("{}/schools?page=1", host.setting("service_url").unwrap());
//! let response = homeroom_sdk::env::get(&mut host, &url, "reading schools", &VENDOR).unwrap();
//! assert_eq!(response.status, 200);
//! assert_eq!(host.requests.len(), 1);
//! # const VENDOR: homeroom_sdk::env::Vendor = homeroom_sdk::env::Vendor {
//! #     name: "Example SIS", url_setting: "Service URL", credential: "API key",
//! #     credentials: "check the API key", forbidden: "check the key's rights", not_found: "",
//! # };
//! ```
//!
//! What it must not do: pretend to be the host's checks. The allow list,
//! the credentials, retries and size caps are the host's; the end-to-end
//! tests run the component in the real host for those.

use std::collections::BTreeMap;

use crate::connector_bindings::homeroom::plugin::http::{HttpError, Request, Response};
use crate::env::Env;

type Server = Box<dyn FnMut(&Request) -> Result<Response, HttpError>>;

/// The host as a connector sees it, in memory.
pub struct FakeHost {
    server: Server,
    pub settings: BTreeMap<String, String>,
    /// Every request the connector sent, in order.
    pub requests: Vec<Request>,
    /// Every warning the connector logged, in order.
    pub warnings: Vec<String>,
    /// Every progress report: records done, and the total when known.
    pub progress: Vec<(u64, Option<u64>)>,
    pub storage: BTreeMap<String, Vec<u8>>,
    /// Refuse every storage write, as the host does past the plugin's quota.
    pub storage_full: bool,
}

impl FakeHost {
    /// A host whose network is `server`: it answers each request the
    /// connector sends (as the host would, with credentials already added).
    pub fn new(server: impl FnMut(&Request) -> Result<Response, HttpError> + 'static) -> FakeHost {
        FakeHost {
            server: Box::new(server),
            settings: BTreeMap::new(),
            requests: Vec::new(),
            warnings: Vec::new(),
            progress: Vec::new(),
            storage: BTreeMap::new(),
            storage_full: false,
        }
    }

    /// A setting as an admin would have filled it in.
    pub fn with_setting(mut self, name: &str, value: &str) -> FakeHost {
        self.settings.insert(name.to_string(), value.to_string());
        self
    }

    /// The URLs requested, in order.
    pub fn urls(&self) -> Vec<&str> {
        self.requests.iter().map(|r| r.url.as_str()).collect()
    }
}

/// An answer with a JSON body and its content type.
pub fn json_response(status: u16, body: &serde_json::Value) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

impl Env for FakeHost {
    fn send(&mut self, request: &Request) -> Result<Response, HttpError> {
        self.requests.push(request.clone());
        (self.server)(request)
    }

    fn setting(&self, name: &str) -> Option<String> {
        self.settings.get(name).filter(|v| !v.is_empty()).cloned()
    }

    fn warn(&mut self, message: &str) {
        self.warnings.push(message.to_string());
    }

    fn progress(&mut self, done: u64, total: Option<u64>) {
        self.progress.push((done, total));
    }

    fn storage_get(&self, key: &str) -> Option<Vec<u8>> {
        self.storage.get(key).cloned()
    }

    fn storage_set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        if self.storage_full {
            return Err("the plugin's storage quota is used up".into());
        }
        self.storage.insert(key.to_string(), value.to_vec());
        Ok(())
    }
}

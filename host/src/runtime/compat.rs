//! Older plugin API versions on this host: a `homeroom:plugin@0.1.0`
//! component runs unchanged beside 0.2.0 ones.
//!
//! Every version shares the newest `types` (see `bindings`), so pages,
//! schools and entities need no conversion. What differs is adapted here,
//! and only here:
//!
//! - the host interfaces 0.1.0 imports (`http`, `storage`, `log`,
//!   `settings`) are the 0.2.0 ones by delegation: the same capabilities,
//!   the same walls (0.1.0's storage `set` cannot say it was refused; the
//!   refusal still reaches the run report);
//! - a connector's 0.1.0 `apply` takes what 0.2.0's `export` is given, and
//!   its outcomes become 0.2.0's: applied (under the hub's id, since 0.1.0
//!   names no destination id) or, with an error, rejected;
//! - a rule's batch and verdicts move between the two versions' records of
//!   the same shape, without copying the batch.
//!
//! It must not hold behaviour of its own: a capability changes in `state`
//! and `capabilities`, for every version at once.

use super::bindings::export_types::{ExportChange, ExportOutcome};
use super::bindings::types::{Change, ChangeOutcome};
use super::bindings::v0_1_0::connector::homeroom::plugin as v1;
use super::bindings::{http, log, rule, settings, storage};
use super::state::PluginState;

type V1Batch = super::bindings::v0_1_0::rule::exports::homeroom::plugin::rule_api::Batch;
type V1Verdict = super::bindings::v0_1_0::rule::exports::homeroom::plugin::rule_api::Verdict;
type Batch = rule::exports::homeroom::plugin::rule_api::Batch;
type Verdict = rule::exports::homeroom::plugin::rule_api::Verdict;

impl v1::log::Host for PluginState {
    async fn log(&mut self, level: v1::log::Level, message: String) {
        let level = match level {
            v1::log::Level::Trace => log::Level::Trace,
            v1::log::Level::Debug => log::Level::Debug,
            v1::log::Level::Info => log::Level::Info,
            v1::log::Level::Warn => log::Level::Warn,
            v1::log::Level::Error => log::Level::Error,
        };
        log::Host::log(self, level, message).await
    }

    async fn progress(&mut self, done: u64, total: Option<u64>) {
        log::Host::progress(self, done, total).await
    }
}

impl v1::settings::Host for PluginState {
    async fn get(&mut self, name: String) -> Option<String> {
        settings::Host::get(self, name).await
    }

    async fn all(&mut self) -> Vec<(String, String)> {
        settings::Host::all(self).await
    }
}

impl v1::storage::Host for PluginState {
    async fn get(&mut self, key: String) -> Option<Vec<u8>> {
        storage::Host::get(self, key).await
    }

    /// 0.1.0 cannot hear the refusal; the run report still says it.
    async fn set(&mut self, key: String, value: Vec<u8>) {
        let _refused = storage::Host::set(self, key, value).await;
    }

    async fn delete(&mut self, key: String) {
        storage::Host::delete(self, key).await
    }
}

impl v1::http::Host for PluginState {
    async fn send(
        &mut self,
        request: v1::http::Request,
    ) -> Result<v1::http::Response, v1::http::HttpError> {
        let method = match request.method {
            v1::http::Method::Get => http::Method::Get,
            v1::http::Method::Post => http::Method::Post,
            v1::http::Method::Put => http::Method::Put,
            v1::http::Method::Patch => http::Method::Patch,
            v1::http::Method::Delete => http::Method::Delete,
        };
        let request = http::Request {
            method,
            url: request.url,
            headers: request.headers,
            body: request.body,
        };
        match http::Host::send(self, request).await {
            Ok(r) => Ok(v1::http::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(e) => Err(match e {
                http::HttpError::Denied(m) => v1::http::HttpError::Denied(m),
                http::HttpError::Timeout(m) => v1::http::HttpError::Timeout(m),
                http::HttpError::TooLarge(m) => v1::http::HttpError::TooLarge(m),
                http::HttpError::Connection(m) => v1::http::HttpError::Connection(m),
                http::HttpError::Auth(m) => v1::http::HttpError::Auth(m),
                http::HttpError::Invalid(m) => v1::http::HttpError::Invalid(m),
            }),
        }
    }
}

/// 0.2.0's export changes as 0.1.0's `apply` takes them: the action and the
/// entity (0.1.0 has no place for destination ids).
pub(crate) fn changes_for_apply(changes: &[ExportChange]) -> Vec<Change> {
    changes
        .iter()
        .map(|c| Change {
            action: c.action,
            entity: c.entity.clone(),
        })
        .collect()
}

/// 0.1.0's outcomes as 0.2.0's: applied under the hub's id (0.1.0 names no
/// destination id), or rejected with the connector's error.
pub(crate) fn outcome_of_apply(outcome: ChangeOutcome) -> ExportOutcome {
    match outcome.error {
        None => ExportOutcome::Applied(outcome.source_id),
        Some(why) => ExportOutcome::Rejected(why),
    }
}

/// Move a batch into 0.1.0's record of the same shape (no copy).
pub(crate) fn batch_to_v1(batch: &mut Batch) -> V1Batch {
    V1Batch {
        names: std::mem::take(&mut batch.names),
        entities: std::mem::take(&mut batch.entities),
        attributes: std::mem::take(&mut batch.attributes),
        items: std::mem::take(&mut batch.items),
        text: std::mem::take(&mut batch.text),
    }
}

/// Give the buffers back, for the next page to reuse.
pub(crate) fn batch_from_v1(batch: &mut Batch, v1: V1Batch) {
    batch.names = v1.names;
    batch.entities = v1.entities;
    batch.attributes = v1.attributes;
    batch.items = v1.items;
    batch.text = v1.text;
}

pub(crate) fn verdict_of_v1(verdict: V1Verdict) -> Verdict {
    match verdict {
        V1Verdict::Keep => Verdict::Keep,
        V1Verdict::Replace(entity) => Verdict::Replace(entity),
        V1Verdict::Drop(why) => Verdict::Drop(why),
    }
}

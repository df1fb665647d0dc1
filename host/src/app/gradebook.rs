//! Vendors write grades: `PUT` and `DELETE` of line items, results and
//! categories through the provider API (OneRoster 1.1 `v1p1/...` and 1.2
//! `gradebook/v1p2/...`).
//!
//! What a vendor writes enters the hub as a source of its own,
//! `vendor:<client id>` ([`vendor_source`]): each write is one run of that
//! source, reconciled and committed at once by the engine
//! ([`crate::pipeline::Engine::write_given`]) and then exported to every
//! destination like any commit, so the grade loop carries it to the SIS.
//! The run history shows every write: who, when, what changed.
//!
//! A vendor knows the hub's records by the hub's ids, so its records keep
//! their sourcedIds as the hub's ids and name what they hang off (a class,
//! a student, a line item) by the hub's ids too.
//!
//! What this module owns: the checks before a write (the token's scope, the
//! agreement's kinds and schools, that every record a write hangs off is one
//! the vendor sees, that the sourcedId is the vendor's own or free), and
//! the answer. It never writes the store but through the engine, and never
//! shapes a record itself: the answer is the provider's read of what was
//! kept.

use serde_json::{Map, Value as Json};

use super::App;
use super::provider::{Answer, Minor, ReadParams, ReadRequest, Refusal, Scope, Vendor};
use crate::bindings::types::EntityKind;
use crate::config::SourceConfig;
use crate::model::oneroster::{self, Collection, Service, Version};
use crate::model::record::{Record, each_reference_in, vendor_source};

/// The most a write's body may hold.
pub const MAX_WRITE_BYTES: usize = 256 * 1024;

/// What a write does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMethod {
    /// Create or replace the record of the path's sourcedId.
    Put,
    Delete,
}

/// One write as the provider face hands it over.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    pub method: WriteMethod,
    pub version: Version,
    pub service: Service,
    /// The path below the service's base (`["lineItems", "li-1"]`).
    pub segments: Vec<String>,
    /// The body as sent (a PUT's JSON).
    pub body: Vec<u8>,
    pub origin: String,
    pub endpoint: String,
}

/// What a write did.
#[derive(Debug, Clone)]
pub enum Written {
    /// A new record (201), as the vendor now reads it.
    Created {
        envelope: &'static str,
        record: Json,
    },
    /// A record it wrote before, replaced (200).
    Updated {
        envelope: &'static str,
        record: Json,
    },
    /// Deleted (204): it leaves every list.
    Deleted,
}

/// What a vendor's writes name as their plugin: none reads them.
const VENDOR_WRITES_PLUGIN: &str = "oneroster-provider";

impl WriteRequest {
    /// The read of the same path, to look up what the write names and to
    /// answer with what was kept.
    fn as_read(&self) -> ReadRequest {
        ReadRequest {
            version: self.version,
            service: self.service,
            segments: self.segments.clone(),
            params: ReadParams::default(),
            origin: self.origin.clone(),
            endpoint: self.endpoint.clone(),
            query: String::new(),
        }
    }
}

/// The kinds a vendor writes.
const WRITABLE: [EntityKind; 3] = [
    EntityKind::LineItem,
    EntityKind::Result,
    EntityKind::Category,
];

fn invalid(message: impl Into<String>) -> Refusal {
    Refusal::new(Minor::InvalidData, message)
}

impl App {
    /// Check one write against the token and the agreement, keep it as a
    /// run of the vendor's source, and answer with what the vendor now
    /// reads.
    pub async fn vendor_write(
        &self,
        vendor: &Vendor,
        request: &WriteRequest,
    ) -> Result<Written, Refusal> {
        let [path, id] = request.segments.as_slice() else {
            return Err(Refusal::new(
                Minor::UnknownObject,
                format!(
                    "{} is read only: vendors write line items, results and categories, one at a time, at lineItems/{{sourcedId}}, results/{{sourcedId}} and categories/{{sourcedId}}",
                    request.endpoint
                ),
            ));
        };
        let collection = oneroster::collection(path, request.version, request.service)
            .filter(|c| WRITABLE.contains(&c.kind))
            .ok_or_else(|| {
                Refusal::new(
                    Minor::UnknownObject,
                    format!(
                        "{} is read only: vendors write line items, results and categories",
                        request.endpoint
                    ),
                )
            })?;
        let (scope, verb) = match request.method {
            WriteMethod::Put => (Scope::GradebookCreatePut, "write"),
            WriteMethod::Delete => (Scope::GradebookDelete, "delete"),
        };
        if !vendor.has(scope) {
            return Err(Refusal::new(
                Minor::Forbidden,
                format!(
                    "this token does not carry the scope {} needed to {verb} {}: ask for it in the token request (the district must have given the client that scope)",
                    scope.uri(),
                    collection.path
                ),
            ));
        }
        let terms = self.terms(vendor).await?;
        if !terms.kinds.contains(collection.kind.cli_name()) {
            return Err(Refusal::new(
                Minor::Forbidden,
                format!(
                    "the district's agreement with this client does not include {}, so it cannot {verb} them",
                    collection.path
                ),
            ));
        }
        let org = vendor.org_id().to_string();
        let source = vendor_source(vendor.client_id());
        let kind = collection.kind;
        let store = self.engine.store();
        // One write at a time, from its checks to its commit: two PUTs of a
        // new sourcedId make one record, the second an update.
        let _one_at_a_time = self.vendor_writes.lock().await;
        // What this vendor wrote under the id before, deleted since or not.
        let wrote = store.entity_of(&org, &source, kind.cli_name(), id).await?;
        let own = wrote.as_ref().filter(|e| e.active);
        let record = match request.method {
            WriteMethod::Delete => {
                if own.is_none() {
                    return Err(Refusal::new(
                        Minor::UnknownObject,
                        format!(
                            "there is no {} with sourcedId {id} that this client wrote: a vendor deletes only what it wrote",
                            collection.single
                        ),
                    ));
                }
                Record {
                    kind,
                    source_id: id.clone(),
                    deleted: true,
                    modified: None,
                    attrs: Default::default(),
                }
            }
            WriteMethod::Put => {
                let record = self.written_record(collection, id, &request.body)?;
                if wrote.is_none()
                    && let Some((home, home_kind)) = store.entity_home(id).await?
                {
                    // The hub's ids are one space: another record has it.
                    let whose = if home == org && home_kind == kind.cli_name() {
                        format!(
                            "is a {} the district's systems keep; a vendor writes its own, under sourcedIds of its own",
                            collection.single
                        )
                    } else {
                        "is taken in the hub".to_string()
                    };
                    return Err(invalid(format!(
                        "the sourcedId {id} {whose}: choose another (a GUID, as OneRoster advises)"
                    )));
                }
                self.check_references(vendor, &terms, request, &record)
                    .await?;
                record
            }
        };
        // Its records are kept as a configured source's are; the source
        // has no row: nothing reads it but these writes.
        let config = SourceConfig::new(&source, VENDOR_WRITES_PLUGIN);
        let run = self
            .engine
            .write_given(
                &org,
                &config,
                kind,
                vec![record],
                "vendor",
                &format!("vendor {}", vendor.client_id()),
            )
            .await
            .map_err(|e| {
                tracing::error!(client = %vendor.client_id(), "a vendor's write was not kept: {e}");
                Refusal::new(
                    Minor::InternalServerError,
                    "the hub could not keep this write; nothing of it was kept: try again",
                )
            })?;
        let report = &run.report;
        if let Some(failure) = &report.failure {
            tracing::error!(client = %vendor.client_id(), run = %run.id, "a vendor's write failed: {failure}");
            return Err(Refusal::new(
                Minor::InternalServerError,
                "the hub could not keep this write; nothing of it was kept: try again",
            ));
        }
        if let Some(issue) = report.errors.first().or(report.skips.first()) {
            return Err(invalid(format!(
                "the {} was not kept: {}",
                collection.single, issue.message
            )));
        }
        self.export_after_commit(&org, &run.triggered_by).await;
        if request.method == WriteMethod::Delete {
            return Ok(Written::Deleted);
        }
        let read = request.as_read();
        let record = match self
            .one(vendor, &terms, &read, collection, id, &mut Vec::new())
            .await
        {
            Ok(Answer::One { record, .. }) => record,
            // Kept, though the agreement does not show it back (a field
            // it does not grant): the write stands.
            _ => Json::Object(Map::new()),
        };
        let envelope = collection.single;
        Ok(if own.is_some() {
            Written::Updated { envelope, record }
        } else {
            Written::Created { envelope, record }
        })
    }

    /// The body of a PUT as a record of the path's sourcedId.
    fn written_record(
        &self,
        collection: &'static Collection,
        id: &str,
        body: &[u8],
    ) -> Result<Record, Refusal> {
        let envelope = collection.single;
        let example = format!("{{\"{envelope}\": {{\"sourcedId\": \"{id}\", ...}}}}");
        let body: Json = serde_json::from_slice(body).map_err(|e| {
            invalid(format!(
                "the body is not JSON ({e}): send the {envelope} as {example}"
            ))
        })?;
        let mut object = match body {
            Json::Object(mut o) => match o.remove(envelope) {
                Some(Json::Object(inner)) => inner,
                Some(_) => return Err(invalid(format!("send the {envelope} as {example}"))),
                // Some clients send the record bare.
                None if o.contains_key("sourcedId") || !o.is_empty() => o,
                None => return Err(invalid(format!("send the {envelope} as {example}"))),
            },
            _ => return Err(invalid(format!("send the {envelope} as {example}"))),
        };
        match object.get("sourcedId") {
            None | Some(Json::Null) => {
                object.insert("sourcedId".into(), Json::String(id.to_string()));
            }
            Some(Json::String(s)) if s == id => {}
            Some(other) => {
                return Err(invalid(format!(
                    "the body's sourcedId {other} is not the path's {id}: a PUT writes the record its path names"
                )));
            }
        }
        let (record, _loosened) = oneroster::record_of(collection.kind, &Json::Object(object))
            .map_err(|why| invalid(format!("the {envelope} cannot be read: {why}")))?;
        if record.deleted {
            return Err(invalid(format!(
                "a PUT with status tobedeleted deletes nothing: DELETE {}/{id} instead",
                collection.path
            )));
        }
        Ok(record)
    }

    /// Every record a write names (its class, student, line item, school,
    /// category, grading period) must be one the vendor sees: a write
    /// never hangs off a record outside the agreement, nor learns whether
    /// one exists.
    async fn check_references(
        &self,
        vendor: &Vendor,
        terms: &super::provider::Terms,
        request: &WriteRequest,
        record: &Record,
    ) -> Result<(), Refusal> {
        let read = request.as_read();
        for (name, value) in &record.attrs {
            let mut named = Vec::new();
            each_reference_in(value, |kind, id| named.push((kind, id.to_string())));
            for (kind, id) in named {
                let Some(c) = oneroster::collection_of(kind) else {
                    continue;
                };
                if self.parent(vendor, terms, &read, c, &id).await.is_err() {
                    return Err(invalid(format!(
                        "its {name} names {} {id}, which is not one this client sees: write only for records the district's agreement shares",
                        c.single
                    )));
                }
            }
        }
        Ok(())
    }
}

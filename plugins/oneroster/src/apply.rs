//! Grade write-back: line items and results go to the gradebook service
//! (`PUT lineItems/{sourcedId}` with `{"lineItem": {...}}`, `PUT
//! results/{sourcedId}` with `{"result": {...}}`; a deletion is a `DELETE`),
//! built from the entity's attributes by the SDK's reverse mapping, under
//! the ids the SIS knows (the destination ids the host gives; the hub's id
//! for a line item the SIS has never had). Each change gets its own
//! outcome: applied under its SIS id, rejected with the SIS's reason, or
//! retried later when the SIS is down or slowing us; nothing else is
//! written.

use homeroom_sdk::connector_bindings::homeroom::plugin::http::Method;
use homeroom_sdk::oneroster::{self, Service};
use homeroom_sdk::{Action, Entity, EntityKind, ExportChange, ExportOutcome, PluginError, Value};

use crate::config::Config;
use crate::env::Env;
use crate::fetch::{self, Purpose};

/// Write every change; one outcome per change, in order.
pub fn export(
    env: &mut dyn Env,
    config: &Config,
    changes: Vec<ExportChange>,
) -> Vec<ExportOutcome> {
    changes
        .iter()
        .map(|change| {
            let entity = as_the_sis_knows_it(change);
            match apply_one(env, config, change.action, &entity) {
                Ok(()) => ExportOutcome::Applied(entity.source_id),
                Err(Failed::Later(why)) => ExportOutcome::Retry(why),
                Err(Failed::Refused(why)) => ExportOutcome::Rejected(why),
            }
        })
        .collect()
}

/// Why a change did not go.
enum Failed {
    /// The SIS is down or asks us to slow down: again at the next export.
    Later(String),
    /// The SIS (or this connector) refuses it.
    Refused(String),
}

/// The entity under the ids the SIS knows: its own (the hub's, for one
/// the SIS has never had) and those of what it refers to.
fn as_the_sis_knows_it(change: &ExportChange) -> Entity {
    let mut entity = change.entity.clone();
    if let Some(id) = &change.target_id {
        entity.source_id = id.clone();
    }
    let target = |r: &mut homeroom_sdk::Reference| {
        if let Some(t) = change
            .target_refs
            .iter()
            .find(|t| t.kind == r.kind && t.source_id == r.source_id)
        {
            r.source_id = t.target_id.clone();
        }
    };
    for a in &mut entity.attributes {
        match &mut a.value {
            Value::Reference(r) => target(r),
            Value::References(rs) => rs.iter_mut().for_each(target),
            _ => {}
        }
    }
    entity
}

fn apply_one(
    env: &mut dyn Env,
    config: &Config,
    action: Action,
    entity: &Entity,
) -> Result<(), Failed> {
    let endpoint = match entity.kind {
        EntityKind::LineItem | EntityKind::Result => oneroster::endpoint(entity.kind),
        _ => None,
    }
    .ok_or_else(|| {
        Failed::Refused(format!(
            "unsupported: the OneRoster connector writes back line items and results (grades) only, not {} records",
            entity.kind.name()
        ))
    })?;
    let resource = format!("{}/{}", endpoint.path, entity.source_id);
    let url = format!(
        "{}/{}/{}",
        config.base(Service::Gradebook),
        endpoint.path,
        fetch::encode(&entity.source_id)
    );
    let (method, body) = match action {
        Action::Add | Action::Update => {
            let href = |type_name: &str, id: &str| match oneroster::ref_path(type_name) {
                Some((service, path)) => {
                    format!("{}/{path}/{}", config.base(service), fetch::encode(id))
                }
                None => format!(
                    "{}/{type_name}/{}",
                    config.base(Service::Rostering),
                    fetch::encode(id)
                ),
            };
            let record = oneroster::entity_to_json(entity, config.version, &href);
            let body = serde_json::json!({ endpoint.single: record });
            (Method::Put, Some(body.to_string().into_bytes()))
        }
        Action::Delete => (Method::Delete, None),
    };
    let purpose = Purpose {
        resource: &resource,
        service: Service::Gradebook,
        method,
        offset: None,
    };
    let response = fetch::send(env, config, &purpose, &url, body).map_err(|e| match e {
        PluginError::Unavailable(m) | PluginError::RateLimited(m) => Failed::Later(m),
        other => Failed::Refused(other.message().to_string()),
    })?;
    match response.status {
        200..=299 => Ok(()),
        // Deleting what is already gone is done.
        404 if method == Method::Delete => Ok(()),
        status => {
            let why = fetch::status_error(config, &purpose, &url, &response)
                .message()
                .to_string();
            Err(if status == 429 || status >= 500 {
                Failed::Later(why)
            } else {
                Failed::Refused(why)
            })
        }
    }
}

//! Grade write-back: line items and results go to the gradebook service
//! (`PUT lineItems/{sourcedId}` with `{"lineItem": {...}}`, `PUT
//! results/{sourcedId}` with `{"result": {...}}`; a deletion is a `DELETE`),
//! built from the entity's attributes by the SDK's reverse mapping. Each
//! change gets its own outcome; nothing else is written.

use homeroom_sdk::connector_bindings::homeroom::plugin::http::Method;
use homeroom_sdk::oneroster::{self, Service};
use homeroom_sdk::{Action, Change, ChangeOutcome, EntityKind};

use crate::config::Config;
use crate::env::Env;
use crate::fetch::{self, Purpose};

/// Write every change; one outcome per change, in order.
pub fn apply(env: &mut dyn Env, config: &Config, changes: Vec<Change>) -> Vec<ChangeOutcome> {
    changes
        .into_iter()
        .map(|change| {
            let source_id = change.entity.source_id.clone();
            ChangeOutcome {
                error: apply_one(env, config, &change).err(),
                source_id,
            }
        })
        .collect()
}

fn apply_one(env: &mut dyn Env, config: &Config, change: &Change) -> Result<(), String> {
    let entity = &change.entity;
    let endpoint = match entity.kind {
        EntityKind::LineItem | EntityKind::Result => oneroster::endpoint(entity.kind),
        _ => None,
    }
    .ok_or_else(|| {
        format!(
            "unsupported: the OneRoster connector writes back line items and results (grades) only, not {} records",
            entity.kind.name()
        )
    })?;
    let resource = format!("{}/{}", endpoint.path, entity.source_id);
    let url = format!(
        "{}/{}/{}",
        config.base(Service::Gradebook),
        endpoint.path,
        fetch::encode(&entity.source_id)
    );
    let (method, body) = match change.action {
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
    let response =
        fetch::send(env, config, &purpose, &url, body).map_err(|e| e.message().to_string())?;
    match response.status {
        200..=299 => Ok(()),
        // Deleting what is already gone is done.
        404 if method == Method::Delete => Ok(()),
        _ => Err(fetch::status_error(config, &purpose, &url, &response)
            .message()
            .to_string()),
    }
}

//! Vendors as a district admin manages them: the clients of the OneRoster
//! provider (the secret shown once, kept as its SHA-256, and sealed besides
//! for a client that signs with OAuth 1.0a), their data-sharing agreements,
//! the read log per client and per person, and the purge of a person's data
//! across the hub with a record of it. Each operation checks the caller's
//! role and is audited.
//!
//! What a vendor reads, and how an agreement holds it in, is
//! `app::provider`'s; this module only keeps what the admin decided.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::{Value as Json, json};
use utoipa::ToSchema;

use super::auth::{hash_token, random_id};
use super::error::{AppError, AppResult};
use super::provider::{
    AgreementTerms, Scope, TOKEN_PATH, VENDOR_SECRETS, names, scope_names, terms_of, today,
};
use super::secrets::SecretBox;
use super::{App, Caller, Role};
use crate::config::{VendorAgreement, VendorConfig};
use crate::model::record::is_vendor_source;
use crate::secret::Secret;
use crate::store::provider::{AgreementRow, PurgeRow, ReadRow, VendorClientRow};
use crate::store::{Store, now};

/// A vendor client as an admin sees it (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VendorClientView {
    /// The OAuth client id.
    pub id: String,
    pub name: String,
    /// The scopes it may ask for (short names).
    pub scopes: Vec<String>,
    pub created_by: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    /// It may sign requests with OAuth 1.0a (OneRoster 1.1 clients) besides
    /// asking for OAuth 2.0 tokens.
    pub signs_requests: bool,
    /// Its data-sharing agreement; none: it sees nothing.
    pub agreement: Option<AgreementView>,
}

/// A new client: its secret, shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewVendorClient {
    pub client: VendorClientView,
    /// Give this to the vendor now: the hub keeps only its hash.
    pub client_secret: String,
    /// Where the vendor asks for tokens (client credentials).
    pub token_path: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgreementView {
    pub terms: AgreementTerms,
    pub granted_by: String,
    pub granted_at: String,
    /// Past its last day: the client sees nothing.
    pub expired: bool,
}

/// One vendor read of the log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadView {
    pub id: String,
    pub client_id: String,
    pub at: String,
    /// The path read.
    pub endpoint: String,
    /// Its query (filter, sort, fields, paging) as the client sent it.
    pub query: String,
    /// Records served.
    pub served: i64,
    /// The HTTP status answered.
    pub status: i64,
}

impl From<ReadRow> for ReadView {
    fn from(r: ReadRow) -> ReadView {
        ReadView {
            id: r.id,
            client_id: r.client_id,
            at: r.at,
            endpoint: r.endpoint,
            query: r.query,
            served: r.served,
            status: r.status,
        }
    }
}

/// The record of a purge: nothing of the person but the hub's id.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PurgeView {
    pub id: String,
    pub entity_id: String,
    pub kind: String,
    pub reason: String,
    pub purged_by: String,
    pub purged_at: String,
    /// Rows removed, per table.
    #[schema(value_type = Object)]
    pub removed: Json,
}

impl From<PurgeRow> for PurgeView {
    fn from(p: PurgeRow) -> PurgeView {
        PurgeView {
            id: p.id,
            entity_id: p.entity_id,
            kind: p.kind,
            reason: p.reason,
            purged_by: p.purged_by,
            purged_at: p.purged_at,
            removed: p.removed,
        }
    }
}

fn agreement_view(row: &AgreementRow) -> AppResult<AgreementView> {
    Ok(AgreementView {
        terms: terms_of(row)?,
        granted_by: row.granted_by.clone(),
        granted_at: row.granted_at.clone(),
        expired: row.expires_on < today(),
    })
}

fn client_view(
    row: VendorClientRow,
    agreement: Option<AgreementView>,
    signs_requests: bool,
) -> VendorClientView {
    VendorClientView {
        signs_requests,
        id: row.id,
        name: row.name,
        scopes: row.scopes,
        created_by: row.created_by,
        created_at: row.created_at,
        revoked_at: row.revoked_at,
        agreement,
    }
}

impl App {
    /// Make a vendor client; its secret is in the answer and nowhere else.
    pub async fn create_vendor_client(
        &self,
        caller: &Caller,
        org: &str,
        name: &str,
        scopes: Option<Vec<String>>,
        signing: bool,
    ) -> AppResult<NewVendorClient> {
        caller.require(org, Role::Admin)?;
        let label = caller.label();
        let who = Who {
            token: &caller.token_id,
            label: &label,
        };
        make_client(
            self.engine.store(),
            Some(&self.secrets),
            org,
            name,
            scopes,
            signing,
            &who,
        )
        .await
    }

    pub async fn vendor_clients(
        &self,
        caller: &Caller,
        org: &str,
    ) -> AppResult<Vec<VendorClientView>> {
        caller.require(org, Role::Viewer)?;
        let store = self.engine.store();
        let signing: HashSet<String> = store
            .sealed_secrets(org, VENDOR_SECRETS)
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect();
        let mut out = Vec::new();
        for row in store.vendor_clients(org).await? {
            let agreement = match store.agreement(&row.id).await? {
                Some(a) => Some(agreement_view(&a)?),
                None => None,
            };
            let signs = signing.contains(&row.id);
            out.push(client_view(row, agreement, signs));
        }
        Ok(out)
    }

    async fn org_client(&self, org: &str, id: &str) -> AppResult<VendorClientRow> {
        match self.engine.store().vendor_client(id).await? {
            Some(c) if c.org_id == org => Ok(c),
            _ => Err(AppError::NotFound(format!("no vendor client {id}"))),
        }
    }

    pub async fn revoke_vendor_client(
        &self,
        caller: &Caller,
        org: &str,
        id: &str,
    ) -> AppResult<()> {
        caller.require(org, Role::Admin)?;
        self.org_client(org, id).await?;
        if !self.engine.store().revoke_vendor_client(org, id).await? {
            return Err(AppError::Conflict(format!(
                "the vendor client {id} was revoked already"
            )));
        }
        self.engine
            .store()
            .delete_secret(org, VENDOR_SECRETS, id)
            .await?;
        self.audit(caller, org, "vendor.revoke", id, json!({}))
            .await
    }

    /// Grant (or change) a client's data-sharing agreement.
    pub async fn grant_agreement(
        &self,
        caller: &Caller,
        org: &str,
        client: &str,
        terms: AgreementTerms,
    ) -> AppResult<AgreementView> {
        caller.require(org, Role::Admin)?;
        let row = self.org_client(org, client).await?;
        let label = caller.label();
        let who = Who {
            token: &caller.token_id,
            label: &label,
        };
        put_agreement(self.engine.store(), &row, terms, &who).await
    }

    pub async fn revoke_agreement(
        &self,
        caller: &Caller,
        org: &str,
        client: &str,
    ) -> AppResult<()> {
        caller.require(org, Role::Admin)?;
        self.org_client(org, client).await?;
        if !self.engine.store().delete_agreement(org, client).await? {
            return Err(AppError::NotFound(format!(
                "the vendor client {client} has no agreement"
            )));
        }
        self.audit(caller, org, "vendor.agreement.revoke", client, json!({}))
            .await
    }

    /// The read log: one client's reads, or every client's.
    pub async fn vendor_reads(
        &self,
        caller: &Caller,
        org: &str,
        client: Option<&str>,
        limit: i64,
    ) -> AppResult<Vec<ReadView>> {
        caller.require(org, Role::Viewer)?;
        if let Some(c) = client {
            self.org_client(org, c).await?;
        }
        let rows = self
            .engine
            .store()
            .vendor_reads(org, client, limit.clamp(1, 10_000))
            .await?;
        Ok(rows.into_iter().map(ReadView::from).collect())
    }

    /// The reads that served a person.
    pub async fn reads_of_person(
        &self,
        caller: &Caller,
        org: &str,
        entity: &str,
        limit: i64,
    ) -> AppResult<Vec<ReadView>> {
        caller.require(org, Role::Viewer)?;
        let rows = self
            .engine
            .store()
            .reads_of_person(org, entity, limit.clamp(1, 10_000))
            .await?;
        Ok(rows.into_iter().map(ReadView::from).collect())
    }

    /// Purge a person's data across the hub: the person, their
    /// demographics, enrollments and results, and everything kept of them
    /// (links, keys, history, the changes of past runs, export state),
    /// leaving a record of the purge that keeps nothing of them but the id.
    pub async fn purge_person(
        &self,
        caller: &Caller,
        org: &str,
        entity: &str,
        reason: &str,
    ) -> AppResult<PurgeView> {
        caller.require(org, Role::Admin)?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(AppError::invalid(
                "say why the data is purged (the request it answers): the purge record keeps it",
            ));
        }
        let store = self.engine.store();
        let person = store.entity(org, entity).await?;
        if person.kind != "user" {
            return Err(AppError::invalid(format!(
                "{entity} is a {} record, not a person: purge a user",
                person.kind
            )));
        }
        let links = store.links_of_entity(org, entity).await?;
        let mut ids = vec![entity.to_string()];
        // What hangs off the person: found by the ids that name it, each
        // source's own, and the hub's (what vendors wrote names that).
        let mut naming: Vec<(Option<&str>, &str)> = links
            .iter()
            .map(|(source, _, rid)| (Some(source.as_str()), rid.as_str()))
            .collect();
        naming.push((None, entity));
        for (source, rid) in naming {
            let candidates = store
                .entities_naming(org, &["enrollment", "result", "demographics"], rid)
                .await?;
            for c in candidates {
                let data: serde_json::Map<String, Json> =
                    serde_json::from_str(&c.data).unwrap_or_default();
                let by = |cell: &Json| {
                    let from = cell.get("s").and_then(Json::as_str);
                    match source {
                        Some(source) => from == Some(source),
                        None => from.is_some_and(is_vendor_source),
                    }
                };
                let hangs = ["user", "student"].iter().any(|attr| {
                    data.get(*attr).is_some_and(|cell| {
                        by(cell) && cell.get("v").is_some_and(|v| names(v, rid))
                    })
                });
                if hangs {
                    ids.push(c.id);
                }
            }
        }
        for demo in store.demographics_of(org, entity).await? {
            ids.push(demo);
        }
        ids.sort();
        ids.dedup();
        let purge = PurgeRow {
            id: uuid::Uuid::now_v7().to_string(),
            entity_id: entity.to_string(),
            kind: person.kind.clone(),
            reason: reason.to_string(),
            purged_by: caller.label(),
            purged_at: now(),
            removed: Json::Null,
        };
        let removed = store.purge_entities(&purge, org, &ids).await?;
        self.audit(
            caller,
            org,
            "record.purge",
            entity,
            json!({"reason": reason, "removed": removed}),
        )
        .await?;
        Ok(PurgeRow { removed, ..purge }.into())
    }

    pub async fn purges(&self, caller: &Caller, org: &str) -> AppResult<Vec<PurgeView>> {
        caller.require(org, Role::Viewer)?;
        let rows = self.engine.store().purges(org).await?;
        Ok(rows.into_iter().map(PurgeView::from).collect())
    }
}

/// Who makes a change, as the audit log names them.
pub(super) struct Who<'a> {
    pub token: &'a str,
    pub label: &'a str,
}

/// Make a vendor client; its secret is in the answer and nowhere else (a
/// signing client's is sealed besides, which needs the hub's key).
pub(super) async fn make_client(
    store: &Store,
    secrets: Option<&SecretBox>,
    org: &str,
    name: &str,
    scopes: Option<Vec<String>>,
    signing: bool,
    who: &Who<'_>,
) -> AppResult<NewVendorClient> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > crate::config::MAX_NAME_CHARS {
        return Err(AppError::invalid(format!(
            "name the vendor client (at most {} characters), for example the product it is for",
            crate::config::MAX_NAME_CHARS
        )));
    }
    let scopes = match scopes {
        None => Scope::ALL.to_vec(),
        Some(list) => list
            .iter()
            .map(|s| {
                Scope::parse(s.trim()).ok_or_else(|| {
                    AppError::invalid(format!(
                        "{s:?} is not a OneRoster scope: use {}",
                        scope_names()
                    ))
                })
            })
            .collect::<AppResult<Vec<_>>>()?,
    };
    let mut scopes: Vec<String> = scopes.iter().map(|s| s.name().to_string()).collect();
    scopes.sort();
    scopes.dedup();
    let secret = random_id();
    let row = VendorClientRow {
        id: format!("hrc_{}", &random_id()[..24]),
        org_id: org.to_string(),
        name: name.to_string(),
        secret_hash: hash_token(&secret),
        scopes,
        created_by: who.label.to_string(),
        created_at: now(),
        revoked_at: None,
    };
    let sealed = match (signing, secrets) {
        (false, _) => None,
        // OAuth 1.0a signatures are checked with the secret itself, so a
        // signing client's secret is also kept sealed with the hub's key
        // (as sources' secrets are), never shown again.
        (true, Some(b)) => Some(b.seal(org, VENDOR_SECRETS, &row.id, &Secret::new(secret.clone()))),
        (true, None) => {
            return Err(AppError::Internal(
                "a vendor client that signs its requests keeps its secret sealed with the hub's key, and there is none beside the database yet: start homeroom serve once (it makes the key), then apply again".into(),
            ));
        }
    };
    store.insert_vendor_client(&row).await?;
    if let Some(sealed) = sealed {
        store.put_secret(org, VENDOR_SECRETS, &sealed).await?;
    }
    store
        .audit(
            org,
            who.token,
            who.label,
            "vendor.create",
            &row.id,
            &json!({"name": row.name, "scopes": row.scopes, "signs_requests": signing}),
        )
        .await?;
    Ok(NewVendorClient {
        client: client_view(row, None, signing),
        client_secret: secret,
        token_path: TOKEN_PATH.to_string(),
    })
}

/// The organization's schools: (hub id, identifier, name).
async fn schools(store: &Store, org: &str) -> AppResult<Vec<(String, String, String)>> {
    let (rows, _) = store
        .entities_filtered(
            org,
            "org",
            Some(crate::store::AttrFilter {
                attribute: "type",
                values: &["school"],
            }),
            None,
            false,
            0,
            100_000,
        )
        .await?;
    let text = |r: &crate::store::EntityRow, name: &str| {
        r.data
            .get(name)
            .and_then(|c| c.get("v"))
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(rows
        .iter()
        .map(|r| (r.id.clone(), text(r, "identifier"), text(r, "name")))
        .collect())
}

/// Grant (or change) a client's agreement, its schools checked against the
/// district's.
pub(super) async fn put_agreement(
    store: &Store,
    client: &VendorClientRow,
    terms: AgreementTerms,
    who: &Who<'_>,
) -> AppResult<AgreementView> {
    let org = client.org_id.as_str();
    if client.revoked_at.is_some() {
        return Err(AppError::Conflict(format!(
            "the vendor client {} is revoked: make a new client for this vendor",
            client.id
        )));
    }
    let terms = terms.normalized()?;
    if terms.expires_on < today() {
        return Err(AppError::invalid(format!(
            "the agreement's last day {} has passed: give a day from today on",
            terms.expires_on
        )));
    }
    let known = schools(store, org).await?;
    for school in &terms.schools {
        if !known.iter().any(|(id, _, _)| id == school) {
            return Err(AppError::invalid(format!(
                "{school:?} is not a school of this district: name schools by their id in the hub (the records list shows it)"
            )));
        }
    }
    let row = AgreementRow {
        client_id: client.id.clone(),
        org_id: org.to_string(),
        terms: serde_json::to_string(&terms).map_err(|e| AppError::Internal(e.to_string()))?,
        expires_on: terms.expires_on.clone(),
        granted_by: who.label.to_string(),
        granted_at: now(),
    };
    store.put_agreement(&row).await?;
    store
        .audit(
            org,
            who.token,
            who.label,
            "vendor.agreement",
            &client.id,
            &serde_json::to_value(&terms).unwrap_or_default(),
        )
        .await?;
    agreement_view(&row)
}

/// Apply a file's vendors: make each one no live client is named after
/// (the sentences returned carry their secrets, to print once) and grant
/// each agreement that differs from the one it holds.
///
/// `check_only`: only the checks (every school known, every agreement
/// valid), so a file that would fail here applies nothing.
pub(super) async fn apply_vendors(
    store: &Store,
    secrets: Option<&SecretBox>,
    org: &str,
    vendors: &[VendorConfig],
    who: &Who<'_>,
    check_only: bool,
) -> AppResult<Vec<String>> {
    let known = schools(store, org).await?;
    let mut told = Vec::new();
    for v in vendors {
        // The agreement is checked first: a client is never made whose
        // secret an error would then swallow.
        let terms = match &v.agreement {
            None => None,
            Some(a) => {
                let mut ids = Vec::new();
                for school in &a.schools {
                    let wanted = school.trim();
                    let found = known.iter().find(|(id, identifier, name)| {
                        id == wanted || identifier == wanted || name.eq_ignore_ascii_case(wanted)
                    });
                    match found {
                        Some((id, _, _)) => ids.push(id.clone()),
                        None => {
                            return Err(AppError::invalid(format!(
                                "vendor {:?}: no school of the district is {wanted:?}; name it by its id in the hub, its identifier or its name (a school the district has not imported yet cannot be granted)",
                                v.name
                            )));
                        }
                    }
                }
                let terms = AgreementTerms {
                    all_schools: a.all_schools,
                    schools: ids,
                    kinds: a.kinds.clone(),
                    attributes: a.attributes.clone(),
                    expires_on: a.expires_on.clone(),
                };
                terms
                    .clone()
                    .normalized()
                    .map_err(|e| AppError::invalid(format!("vendor {:?}: {e}", v.name)))?;
                Some(terms)
            }
        };
        if check_only {
            continue;
        }
        let live = store
            .vendor_clients(org)
            .await?
            .into_iter()
            .find(|c| c.revoked_at.is_none() && c.name.eq_ignore_ascii_case(v.name.trim()));
        let client = match live {
            Some(c) => c,
            None => {
                let made = make_client(
                    store,
                    secrets,
                    org,
                    &v.name,
                    v.scopes.clone(),
                    v.oauth1,
                    who,
                )
                .await?;
                told.push(format!(
                    "vendor {:?}: client id {} and secret {} (shown this once: give them to the vendor now)",
                    v.name, made.client.id, made.client_secret
                ));
                store
                    .vendor_client(&made.client.id)
                    .await?
                    .ok_or_else(|| AppError::Internal("the client just made is not there".into()))?
            }
        };
        let Some(terms) = terms else { continue };
        let held = match store.agreement(&client.id).await? {
            Some(row) => Some(terms_of(&row)?),
            None => None,
        };
        if held.as_ref() != Some(&terms.clone().normalized()?) {
            let until = terms.expires_on.clone();
            put_agreement(store, &client, terms, who).await?;
            told.push(format!(
                "vendor {:?}: agreement granted until {until}",
                v.name
            ));
        }
    }
    Ok(told)
}

/// The organization's live vendors as a file names them (schools by id).
pub(super) async fn exported_vendors(store: &Store, org: &str) -> AppResult<Vec<VendorConfig>> {
    let signing: HashSet<String> = store
        .sealed_secrets(org, VENDOR_SECRETS)
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    let mut out = Vec::new();
    for c in store.vendor_clients(org).await? {
        if c.revoked_at.is_some() {
            continue;
        }
        let agreement = match store.agreement(&c.id).await? {
            Some(row) => {
                let t = terms_of(&row)?;
                // A file names only the fields it narrows, without the
                // three every record has.
                let attributes = t
                    .attributes
                    .iter()
                    .filter_map(|(k, fields)| {
                        let all = crate::model::oneroster::any_version_fields(
                            super::provider::kind_of_collection(k)?,
                        );
                        (fields.len() < all.len()).then(|| {
                            let narrowed = fields
                                .iter()
                                .filter(|f| !crate::model::oneroster::ALWAYS.contains(&f.as_str()))
                                .cloned()
                                .collect();
                            (k.clone(), narrowed)
                        })
                    })
                    .collect();
                Some(VendorAgreement {
                    all_schools: t.all_schools,
                    schools: t.schools,
                    kinds: t.kinds,
                    attributes,
                    expires_on: t.expires_on,
                })
            }
            None => None,
        };
        out.push(VendorConfig {
            scopes: Some(c.scopes.clone()),
            oauth1: signing.contains(&c.id),
            name: c.name,
            agreement,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

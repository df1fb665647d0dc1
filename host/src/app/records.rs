//! The district's records and the duplicates queue: lists, one record with
//! its sources and history, and resolving a pair.

use super::*;

impl App {
    /// The record a source's record id stands for in the organization, if
    /// the hub has it.
    pub async fn record_of(
        &self,
        caller: &Caller,
        org: &str,
        source: &str,
        kind: &str,
        record_id: &str,
    ) -> AppResult<Option<EntityView>> {
        caller.role(org)?;
        Ok(self
            .engine
            .store()
            .entity_of(org, source, kind, record_id)
            .await?
            .as_ref()
            .map(entity_view))
    }

    /// Source record id → (entity id, label) of the organization's orgs
    /// (the district and its schools, the first 500), so a page can show a
    /// school's name where a record points at it.
    pub async fn org_names(
        &self,
        caller: &Caller,
        org: &str,
    ) -> AppResult<HashMap<String, (String, String)>> {
        caller.role(org)?;
        let store = self.engine.store();
        let (orgs, _) = store
            .entities_filtered(org, "org", None, None, false, 0, 500)
            .await?;
        let mut out = HashMap::new();
        for o in orgs {
            let label = entity_label("org", &o.data);
            for (_, record_id, _) in store.entity_sources(&o.id).await? {
                out.insert(record_id, (o.id.clone(), label.clone()));
            }
        }
        Ok(out)
    }

    pub async fn entities(
        &self,
        caller: &Caller,
        org: &str,
        q: &EntityQuery,
    ) -> AppResult<EntityPage> {
        caller.role(org)?;
        let (kind, filter) = list_kind(&q.kind)?;
        let filter = filter.map(|(attribute, values)| AttrFilter { attribute, values });
        let offset = q.offset.max(0);
        let limit = q.limit.clamp(1, 500);
        let (rows, total) = self
            .engine
            .store()
            .entities_filtered(
                org,
                kind,
                filter,
                q.q.as_deref().map(str::trim),
                q.archived,
                offset,
                limit,
            )
            .await?;
        let mut entities: Vec<EntityView> = rows.iter().map(entity_view).collect();
        self.name_sources(org, &mut entities).await?;
        Ok(EntityPage {
            entities,
            total,
            offset,
            limit,
        })
    }

    pub async fn entity(&self, caller: &Caller, org: &str, id: &str) -> AppResult<EntityDetail> {
        caller.role(org)?;
        let e = match self.engine.store().entity(org, id).await {
            Ok(e) => e,
            Err(crate::store::StoreError::NotFound(_)) => {
                return Err(AppError::NotFound(format!("no record `{id}` in `{org}`")));
            }
            Err(e) => return Err(e.into()),
        };
        let sources = self.engine.store().entity_sources(&e.id).await?;
        let history = self.engine.store().entity_history(&e.id).await?;
        Ok(EntityDetail {
            attributes: e
                .data
                .iter()
                .map(|(name, cell)| AttributeView {
                    name: name.clone(),
                    value: cell.get("v").cloned().unwrap_or(Json::Null),
                    source: cell.get("s").and_then(Json::as_str).map(str::to_string),
                })
                .collect(),
            sources: sources
                .into_iter()
                .map(|(source_id, source_record_id, active)| LinkView {
                    source_id,
                    source_record_id,
                    active,
                })
                .collect(),
            history: history
                .into_iter()
                .map(|h| HistoryView {
                    run_id: h.run_id,
                    seq: h.seq,
                    action: h.action,
                    diff: h.diff,
                    at: h.at,
                })
                .collect(),
            entity: entity_view(&e),
        })
    }

    pub async fn duplicates(
        &self,
        caller: &Caller,
        org: &str,
        open_only: bool,
    ) -> AppResult<Vec<DuplicateView>> {
        caller.role(org)?;
        Ok(self
            .engine
            .store()
            .duplicates(org, open_only)
            .await?
            .iter()
            .map(DuplicateView::from)
            .collect())
    }

    pub async fn resolve(
        &self,
        caller: &Caller,
        org: &str,
        dup_id: &str,
        r: &Resolve,
    ) -> AppResult<DuplicateView> {
        caller.require(org, Role::Operator)?;
        let resolution = match r.resolution.as_str() {
            "delete" => crate::store::Resolution::Delete,
            "ignore" => crate::store::Resolution::Ignore,
            "keep" | "keep-as-new" | "create-as-new" => crate::store::Resolution::KeepAsNew,
            other => {
                return Err(AppError::invalid(format!(
                    "`{other}` is not a resolution: use delete, ignore or keep-as-new"
                )));
            }
        };
        let d = self
            .engine
            .store()
            .resolve_duplicate(org, dup_id, r.swap, &r.copy, resolution, &caller.label())
            .await?;
        self.audit(
            caller,
            org,
            "duplicate.resolve",
            dup_id,
            json!({"resolution": r.resolution, "swap": r.swap, "copy": r.copy}),
        )
        .await?;
        Ok(DuplicateView::from(&d))
    }
}

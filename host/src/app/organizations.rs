//! Organizations, their API tokens and their audit log: who may do what in
//! which district, and the record of what they did.

use super::*;

/// The folder of the demo organization's drop folder that holds the sample
/// district (`examples/sample-district`, built into the binary).
pub const SAMPLE_FOLDER: &str = "sample-district";

const SAMPLE_DISTRICT: &[(&str, &[u8])] = &[
    (
        "academicSessions.csv",
        include_bytes!("../../../examples/sample-district/academicSessions.csv"),
    ),
    (
        "categories.csv",
        include_bytes!("../../../examples/sample-district/categories.csv"),
    ),
    (
        "classes.csv",
        include_bytes!("../../../examples/sample-district/classes.csv"),
    ),
    (
        "courses.csv",
        include_bytes!("../../../examples/sample-district/courses.csv"),
    ),
    (
        "demographics.csv",
        include_bytes!("../../../examples/sample-district/demographics.csv"),
    ),
    (
        "enrollments.csv",
        include_bytes!("../../../examples/sample-district/enrollments.csv"),
    ),
    (
        "lineItems.csv",
        include_bytes!("../../../examples/sample-district/lineItems.csv"),
    ),
    (
        "manifest.csv",
        include_bytes!("../../../examples/sample-district/manifest.csv"),
    ),
    (
        "orgs.csv",
        include_bytes!("../../../examples/sample-district/orgs.csv"),
    ),
    (
        "results.csv",
        include_bytes!("../../../examples/sample-district/results.csv"),
    ),
    (
        "roles.csv",
        include_bytes!("../../../examples/sample-district/roles.csv"),
    ),
    (
        "userProfiles.csv",
        include_bytes!("../../../examples/sample-district/userProfiles.csv"),
    ),
    (
        "users.csv",
        include_bytes!("../../../examples/sample-district/users.csv"),
    ),
];

impl App {
    /// On an empty database: a demo organization and an admin token (a
    /// platform token that may also create organizations). Returns the token
    /// in clear, to print once; it is kept only as its hash.
    /// The first start: the demo organization (with the sample district in
    /// its drop folder, when there is a drop root) and the first admin
    /// token, shown once. Later starts: nothing.
    pub async fn first_start(&self) -> AppResult<Option<String>> {
        let store = self.engine.store();
        if store.any_token().await? {
            return Ok(None);
        }
        let mut orgs = store.organizations().await?;
        if !orgs.iter().any(|(id, _)| id == DEMO_ORG.0) {
            store.upsert_organization(DEMO_ORG.0, DEMO_ORG.1).await?;
            orgs.push((DEMO_ORG.0.into(), DEMO_ORG.1.into()));
        }
        if let Some(drops) = self.engine.drop_root() {
            let dir = drops
                .org_dir(DEMO_ORG.0)
                .map_err(|e| AppError::Internal(e.to_string()))?
                .join(SAMPLE_FOLDER);
            if !dir.exists() {
                let io = |e: std::io::Error| {
                    AppError::Internal(format!(
                        "the sample district cannot be written to {}: {e}",
                        dir.display()
                    ))
                };
                std::fs::create_dir_all(&dir).map_err(io)?;
                for (name, bytes) in SAMPLE_DISTRICT {
                    std::fs::write(dir.join(name), bytes).map_err(io)?;
                }
            }
        }
        let roles: Vec<(&str, Role)> = orgs
            .iter()
            .map(|(id, _)| (id.as_str(), Role::Admin))
            .collect();
        let (id, token) = issue_token(store, "first admin", true, "first start", &roles).await?;
        for (org, _) in &orgs {
            store
                .audit(
                    org,
                    &id,
                    "first start",
                    "token.create",
                    &id,
                    &serde_json::json!({"name": "first admin", "role": "admin", "platform": true}),
                )
                .await?;
        }
        Ok(Some(token))
    }

    pub async fn organizations(&self, caller: &Caller) -> AppResult<Vec<OrgInfo>> {
        let all = self.engine.store().organizations().await?;
        Ok(all
            .into_iter()
            .filter_map(|(id, name)| {
                caller.roles.get(&id).map(|role| OrgInfo {
                    id,
                    name,
                    role: *role,
                })
            })
            .collect())
    }

    pub async fn organization(&self, caller: &Caller, org: &str) -> AppResult<OrgInfo> {
        let role = caller.role(org)?;
        let name = self
            .engine
            .store()
            .organizations()
            .await?
            .into_iter()
            .find(|(id, _)| id == org)
            .map(|(_, n)| n)
            .ok_or_else(|| AppError::NotFound(format!("no organization `{org}`")))?;
        Ok(OrgInfo {
            id: org.to_string(),
            name,
            role,
        })
    }

    pub async fn create_organization(&self, caller: &Caller, new: &NewOrg) -> AppResult<OrgInfo> {
        if !caller.platform {
            return Err(AppError::Forbidden(
                "only a platform token (the one printed on first start) may create organizations"
                    .into(),
            ));
        }
        let id = new.id.trim();
        if !is_slug(id) {
            return Err(AppError::invalid(
                "an organization id is 1-64 lowercase letters, digits, - or _",
            ));
        }
        let name = crate::config::Organization::check_name(&new.name).map_err(AppError::invalid)?;
        let name = name.as_str();
        if self
            .engine
            .store()
            .organizations()
            .await?
            .iter()
            .any(|(o, _)| o == id)
        {
            return Err(AppError::Conflict(format!(
                "an organization `{id}` exists already; choose another id"
            )));
        }
        self.engine.store().upsert_organization(id, name).await?;
        self.engine
            .store()
            .grant_role(&caller.token_id, id, Role::Admin.as_str())
            .await?;
        self.audit(caller, id, "organization.create", id, json!({"name": name}))
            .await?;
        Ok(OrgInfo {
            id: id.to_string(),
            name: name.to_string(),
            role: Role::Admin,
        })
    }

    /// Rename an organization: its admins manage their own (a platform
    /// token is admin of those it created).
    pub async fn rename_organization(
        &self,
        caller: &Caller,
        org: &str,
        name: &str,
    ) -> AppResult<OrgInfo> {
        let role = caller.require(org, Role::Admin)?;
        let before = self.organization(caller, org).await?.name;
        let name = crate::config::Organization::check_name(name).map_err(AppError::invalid)?;
        self.engine.store().upsert_organization(org, &name).await?;
        self.audit(
            caller,
            org,
            "organization.rename",
            org,
            json!({"from": before, "to": name}),
        )
        .await?;
        Ok(OrgInfo {
            id: org.to_string(),
            name,
            role,
        })
    }

    pub async fn overview(&self, caller: &Caller, org: &str) -> AppResult<Overview> {
        let organization = self.organization(caller, org).await?;
        let store = self.engine.store();
        let count = |kind: &'static str| async move {
            let (entity, filter) = list_kind(kind)?;
            let filter = filter.map(|(attribute, values)| AttrFilter { attribute, values });
            Ok::<i64, AppError>(
                store
                    .entities_filtered(org, entity, filter, None, false, 0, 0)
                    .await?
                    .1,
            )
        };
        let kinds: Vec<KindCount> = store
            .entity_counts(org)
            .await?
            .into_iter()
            .map(|(kind, count)| KindCount { kind, count })
            .collect();
        let of = |k: &str| {
            kinds
                .iter()
                .find(|c| c.kind == k)
                .map(|c| c.count)
                .unwrap_or(0)
        };
        Ok(Overview {
            schools: count("school").await?,
            teachers: count("teacher").await?,
            students: count("student").await?,
            contacts: count("contact").await?,
            classes: of("class"),
            enrollments: of("enrollment"),
            sources: store.sources(org).await?.len() as i64,
            waiting_runs: store.waiting_runs(org).await?,
            open_duplicates: store.duplicates(org, true).await?.len() as i64,
            recent_runs: store
                .runs(org, None, 5)
                .await?
                .iter()
                .map(RunSummary::from)
                .collect(),
            kinds,
            organization,
        })
    }

    pub async fn tokens(&self, caller: &Caller, org: &str) -> AppResult<Vec<TokenView>> {
        caller.require(org, Role::Admin)?;
        Ok(self
            .engine
            .store()
            .tokens(org)
            .await?
            .into_iter()
            .map(|t| TokenView {
                id: t.id,
                name: t.name,
                role: t.role,
                created_by: t.created_by,
                created_at: t.created_at,
            })
            .collect())
    }

    pub async fn create_token(
        &self,
        caller: &Caller,
        org: &str,
        new: &NewToken,
    ) -> AppResult<IssuedToken> {
        caller.require(org, Role::Admin)?;
        let name = new.name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(AppError::invalid(
                "name the token (1-100 characters) after the person or system that will use it",
            ));
        }
        let (id, token) = super::auth::issue_token(
            self.engine.store(),
            name,
            false,
            &caller.label(),
            &[(org, new.role)],
        )
        .await?;
        self.audit(
            caller,
            org,
            "token.create",
            &id,
            json!({"name": name, "role": new.role.as_str()}),
        )
        .await?;
        Ok(IssuedToken {
            id,
            name: name.to_string(),
            role: new.role,
            token,
        })
    }

    pub async fn revoke_token(&self, caller: &Caller, org: &str, id: &str) -> AppResult<()> {
        caller.require(org, Role::Admin)?;
        if !self.engine.store().revoke_token(org, id).await? {
            return Err(AppError::NotFound(format!("no token `{id}` in `{org}`")));
        }
        self.audit(caller, org, "token.revoke", id, json!({})).await
    }

    pub async fn audit_log(
        &self,
        caller: &Caller,
        org: &str,
        offset: i64,
        limit: i64,
    ) -> AppResult<Vec<AuditView>> {
        caller.require(org, Role::Admin)?;
        Ok(self
            .engine
            .store()
            .audit_log(org, offset.max(0), limit.clamp(1, 500))
            .await?
            .into_iter()
            .map(|a| AuditView {
                id: a.id,
                at: a.at,
                actor_id: a.actor_id,
                actor: a.actor,
                action: a.action,
                target: a.target,
                detail: a.detail,
            })
            .collect())
    }
}

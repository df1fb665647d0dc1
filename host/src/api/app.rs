//! The operations an admin, an operator or a viewer performs, shared by the
//! REST API and the admin UI: each checks the caller's role in the
//! organization first (404 when it has none, 403 when too low), does the
//! work through the engine and the store, and writes an audit row for every
//! change. Nothing here knows about JSON bodies or HTML.

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use serde_json::{Value as Json, json};

use super::auth::{Caller, Role};
use super::error::{ApiError, ApiResult};
use super::model::*;
use super::secrets::SecretBox;
use crate::config::{DistrictConfig, Organization, SchoolsMode, SourceConfig};
use crate::gallery::Package;
use crate::pipeline::{ActionRef, Engine, ImportOptions, Mode};
use crate::runtime::bindings::types::EntityKind;
use crate::secret::Secret;
use crate::store::sync::CommitOutcome;
use crate::store::{AttrFilter, Run, RunStatus, SourceRow};

/// Everything a request handler needs.
pub struct AppInner {
    pub engine: Engine,
    pub secrets: SecretBox,
    /// Live progress of the runs this process is reading, by run id.
    progress: Mutex<HashMap<String, Arc<Mutex<Progress>>>>,
}

#[derive(Clone)]
pub struct App(Arc<AppInner>);

impl Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// Roles of users that the lists know by a kind name.
const STUDENT_ROLES: &[&str] = &["student"];
const TEACHER_ROLES: &[&str] = &["teacher", "aide"];
const CONTACT_ROLES: &[&str] = &["parent", "guardian", "relative"];
const ADMIN_ROLES: &[&str] = &[
    "administrator",
    "districtadministrator",
    "siteadministrator",
    "proctor",
    "systemadministrator",
];

/// An attribute and the values it may have.
pub type ValueFilter = (&'static str, &'static [&'static str]);

/// What a list kind means: (entity kind, attribute filter).
pub fn list_kind(kind: &str) -> ApiResult<(&'static str, Option<ValueFilter>)> {
    Ok(match kind {
        "school" | "schools" => ("org", Some(("type", &["school"][..]))),
        "student" | "students" => ("user", Some(("role", STUDENT_ROLES))),
        "teacher" | "teachers" => ("user", Some(("role", TEACHER_ROLES))),
        "contact" | "contacts" => ("user", Some(("role", CONTACT_ROLES))),
        "admin" | "admins" => ("user", Some(("role", ADMIN_ROLES))),
        "calendar" => ("academic-session", None),
        other => {
            let k = EntityKind::ALL
                .into_iter()
                .map(|k| k.cli_name())
                .find(|k| *k == other)
                .ok_or_else(|| {
                    ApiError::bad(format!(
                        "`{other}` is not a kind of record: use school, student, teacher, contact, admin, calendar or an entity kind ({})",
                        EntityKind::ALL.map(|k| k.cli_name()).join(", ")
                    ))
                })?;
            (k, None)
        }
    })
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Query of an entity list.
#[derive(Debug, Clone, Default)]
pub struct EntityQuery {
    pub kind: String,
    pub q: Option<String>,
    pub archived: bool,
    pub offset: i64,
    pub limit: i64,
}

impl App {
    pub fn new(engine: Engine, secrets: SecretBox) -> App {
        App(Arc::new(AppInner {
            engine,
            secrets,
            progress: Mutex::new(HashMap::new()),
        }))
    }

    pub async fn audit(
        &self,
        caller: &Caller,
        org: &str,
        action: &str,
        target: &str,
        detail: Json,
    ) -> ApiResult<()> {
        self.engine
            .store
            .audit(
                org,
                &caller.token_id,
                &caller.label(),
                action,
                target,
                &detail,
            )
            .await?;
        Ok(())
    }

    // ---- organizations -------------------------------------------------

    pub async fn organizations(&self, caller: &Caller) -> ApiResult<Vec<OrgInfo>> {
        let all = self.engine.store.organizations().await?;
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

    pub async fn organization(&self, caller: &Caller, org: &str) -> ApiResult<OrgInfo> {
        let role = caller.role(org)?;
        let name = self
            .engine
            .store
            .organizations()
            .await?
            .into_iter()
            .find(|(id, _)| id == org)
            .map(|(_, n)| n)
            .ok_or_else(|| ApiError::NotFound(format!("no organization `{org}`")))?;
        Ok(OrgInfo {
            id: org.to_string(),
            name,
            role,
        })
    }

    pub async fn create_organization(&self, caller: &Caller, new: &NewOrg) -> ApiResult<OrgInfo> {
        if !caller.platform {
            return Err(ApiError::Forbidden(
                "only a platform token (the one printed on first start) may create organizations"
                    .into(),
            ));
        }
        let id = new.id.trim();
        if !is_slug(id) {
            return Err(ApiError::bad(
                "an organization id is 1-64 lowercase letters, digits, - or _",
            ));
        }
        let name = new.name.trim();
        if name.is_empty() {
            return Err(ApiError::bad("give the organization a name"));
        }
        if self
            .engine
            .store
            .organizations()
            .await?
            .iter()
            .any(|(o, _)| o == id)
        {
            return Err(ApiError::Conflict(format!(
                "an organization `{id}` exists already; choose another id"
            )));
        }
        self.engine.store.upsert_organization(id, name).await?;
        self.engine
            .store
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

    pub async fn overview(&self, caller: &Caller, org: &str) -> ApiResult<Overview> {
        let organization = self.organization(caller, org).await?;
        let store = &self.engine.store;
        let count = |kind: &'static str| async move {
            let (entity, filter) = list_kind(kind)?;
            let filter = filter.map(|(attribute, values)| AttrFilter { attribute, values });
            Ok::<i64, ApiError>(
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

    // ---- tokens and audit ----------------------------------------------

    pub async fn tokens(&self, caller: &Caller, org: &str) -> ApiResult<Vec<TokenView>> {
        caller.require(org, Role::Admin)?;
        Ok(self
            .engine
            .store
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
    ) -> ApiResult<IssuedToken> {
        caller.require(org, Role::Admin)?;
        let name = new.name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(ApiError::bad(
                "name the token (1-100 characters) after the person or system that will use it",
            ));
        }
        let (id, token) = super::auth::issue_token(
            &self.engine.store,
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

    pub async fn revoke_token(&self, caller: &Caller, org: &str, id: &str) -> ApiResult<()> {
        caller.require(org, Role::Admin)?;
        if !self.engine.store.revoke_token(org, id).await? {
            return Err(ApiError::NotFound(format!("no token `{id}` in `{org}`")));
        }
        self.audit(caller, org, "token.revoke", id, json!({})).await
    }

    pub async fn audit_log(
        &self,
        caller: &Caller,
        org: &str,
        offset: i64,
        limit: i64,
    ) -> ApiResult<Vec<AuditView>> {
        caller.require(org, Role::Admin)?;
        Ok(self
            .engine
            .store
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

    // ---- gallery and sources -------------------------------------------

    pub fn gallery(&self, q: Option<&str>) -> Vec<GalleryEntry> {
        GalleryEntry::all(self.engine.gallery.packages())
            .into_iter()
            .filter(|e| e.kind == "connector")
            .filter(|e| q.is_none_or(|q| e.matches(q)))
            .collect()
    }

    pub fn gallery_entry(&self, id: &str) -> ApiResult<GalleryEntry> {
        let package = self
            .engine
            .gallery
            .get(id)
            .map_err(|_| ApiError::NotFound(format!("no app `{id}` in the gallery")))?;
        let listing = (package.manifest.id != id).then_some(id);
        Ok(GalleryEntry::of(package, listing))
    }

    fn package(&self, config: &SourceConfig) -> ApiResult<Arc<Package>> {
        Ok(self.engine.package_for(config)?.0)
    }

    pub async fn source_row(&self, caller: &Caller, org: &str, id: &str) -> ApiResult<SourceRow> {
        caller.role(org)?;
        self.engine
            .store
            .sources(org)
            .await?
            .into_iter()
            .find(|s| s.config.id == id)
            .ok_or_else(|| ApiError::NotFound(format!("no source `{id}` in `{org}`")))
    }

    async fn summary(&self, org: &str, row: &SourceRow) -> ApiResult<SourceSummary> {
        let c = &row.config;
        let app_name = self
            .gallery_entry(&c.plugin)
            .map(|e| e.name)
            .unwrap_or_else(|_| c.plugin.clone());
        let setup = self.engine.store.setup(org, &c.id).await?;
        let state = if setup.as_ref().is_some_and(|s| s.finished_at.is_none()) && !row.enabled {
            "setup"
        } else if row.enabled {
            "enabled"
        } else {
            "disabled"
        };
        let last_run = self
            .engine
            .store
            .runs(org, Some(&c.id), 1)
            .await?
            .first()
            .map(RunSummary::from);
        Ok(SourceSummary {
            id: c.id.clone(),
            name: c.name.clone().unwrap_or_else(|| app_name.clone()),
            app: c.plugin.clone(),
            app_name,
            kind: "import".into(),
            target: "Homeroom".into(),
            state: state.into(),
            last_run,
        })
    }

    pub async fn sources(&self, caller: &Caller, org: &str) -> ApiResult<Vec<SourceSummary>> {
        caller.role(org)?;
        let mut out = Vec::new();
        for row in self.engine.store.sources(org).await? {
            out.push(self.summary(org, &row).await?);
        }
        Ok(out)
    }

    pub async fn source(&self, caller: &Caller, org: &str, id: &str) -> ApiResult<SourceView> {
        let row = self.source_row(caller, org, id).await?;
        let mut secrets_set: Vec<String> = self
            .engine
            .store
            .sealed_secrets(org, id)
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect();
        for name in row.config.secrets.keys() {
            if !secrets_set.contains(name) {
                secrets_set.push(name.clone());
            }
        }
        secrets_set.sort();
        Ok(SourceView {
            summary: self.summary(org, &row).await?,
            secrets_set,
            setup: self.engine.store.setup(org, id).await?,
            app_entry: self.gallery_entry(&row.config.plugin).ok(),
            config: row.config,
        })
    }

    /// Check a source's configuration against its plugin and save it.
    async fn save(&self, org: &str, config: SourceConfig) -> ApiResult<()> {
        let name = self
            .engine
            .store
            .organizations()
            .await?
            .into_iter()
            .find(|(id, _)| id == org)
            .map(|(_, n)| n)
            .ok_or_else(|| ApiError::NotFound(format!("no organization `{org}`")))?;
        self.engine
            .apply_config(&DistrictConfig {
                organization: Organization {
                    id: org.to_string(),
                    name,
                },
                sources: vec![config],
            })
            .await?;
        Ok(())
    }

    /// Activate a gallery app: a new source in setup, disabled until the
    /// wizard finishes.
    pub async fn activate(
        &self,
        caller: &Caller,
        org: &str,
        req: &Activate,
    ) -> ApiResult<SourceView> {
        caller.require(org, Role::Admin)?;
        let entry = self.gallery_entry(&req.app)?;
        if entry.kind != "connector" {
            return Err(ApiError::bad(format!(
                "`{}` is a rule, not an app: attach it to a source in its Filter Rules step",
                req.app
            )));
        }
        let existing: Vec<String> = self
            .engine
            .store
            .sources(org)
            .await?
            .into_iter()
            .map(|s| s.config.id)
            .collect();
        let id = match &req.id {
            Some(id) => {
                let id = id.trim().to_string();
                if !is_slug(&id) {
                    return Err(ApiError::bad(
                        "a source id is 1-64 lowercase letters, digits, - or _",
                    ));
                }
                if existing.contains(&id) {
                    return Err(ApiError::Conflict(format!(
                        "a source `{id}` exists already in `{org}`; choose another id"
                    )));
                }
                id
            }
            None => {
                let base = entry.id.clone();
                let mut id = base.clone();
                let mut n = 2;
                while existing.contains(&id) {
                    id = format!("{base}-{n}");
                    n += 1;
                }
                id
            }
        };
        let mut config = SourceConfig::new(&id, &entry.id);
        config.name = Some(
            req.name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .unwrap_or(&entry.name)
                .to_string(),
        );
        config.enabled = false;
        self.save(org, config).await?;
        self.engine
            .store
            .create_setup(org, &id, &caller.label())
            .await?;
        self.audit(
            caller,
            org,
            "source.activate",
            &id,
            json!({"app": entry.id}),
        )
        .await?;
        self.source(caller, org, &id).await
    }

    /// Change one part of a source's configuration (a wizard step).
    pub async fn update_source(
        &self,
        caller: &Caller,
        org: &str,
        id: &str,
        step: &str,
        detail: Json,
        change: impl FnOnce(&mut SourceConfig, &Package) -> ApiResult<()>,
    ) -> ApiResult<SourceView> {
        caller.require(org, Role::Admin)?;
        let row = self.source_row(caller, org, id).await?;
        let mut config = row.config;
        let package = self.package(&config)?;
        change(&mut config, &package)?;
        config.enabled = row.enabled;
        self.save(org, config).await?;
        self.audit(caller, org, &format!("source.{step}"), id, detail)
            .await?;
        self.source(caller, org, id).await
    }

    /// Delivery Config: settings, secret values (write-only), folder and
    /// Advanced Settings.
    pub async fn delivery(
        &self,
        caller: &Caller,
        org: &str,
        id: &str,
        d: Delivery,
    ) -> ApiResult<SourceView> {
        caller.require(org, Role::Admin)?;
        let row = self.source_row(caller, org, id).await?;
        let package = self.package(&row.config)?;
        let m = &package.manifest;
        for name in d.secrets.keys() {
            if !m.is_secret(name) {
                return Err(ApiError::bad(format!(
                    "`{name}` is not a secret setting of {}; secrets it takes: {}",
                    m.name,
                    m.settings
                        .iter()
                        .filter(|s| s.secret)
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        if let Some(settings) = &d.settings {
            for name in settings.keys() {
                if m.is_secret(name) {
                    return Err(ApiError::bad(format!(
                        "`{name}` is a secret: send it under `secrets`, where it is stored encrypted and never shown again"
                    )));
                }
                if m.setting(name).is_none() && name != "auth" {
                    return Err(ApiError::bad(format!(
                        "{} has no setting `{name}`; its settings: {}",
                        m.name,
                        m.settings
                            .iter()
                            .filter(|s| !s.secret)
                            .map(|s| s.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
        let files = m.files;
        let detail = json!({
            "settings": d.settings,
            "secrets_changed": d.secrets.iter().filter(|(_, v)| v.as_deref() != Some("")).map(|(k, _)| k).collect::<Vec<_>>(),
            "folder": d.folder,
            "advanced": d.advanced,
        });
        let Delivery {
            name,
            settings,
            secrets,
            folder,
            advanced,
        } = d;
        self.update_source(caller, org, id, "delivery", detail, move |c, _| {
            if let Some(name) = name {
                let name = name.trim();
                c.name = (!name.is_empty()).then(|| name.to_string());
            }
            if let Some(settings) = settings {
                c.settings = settings
                    .into_iter()
                    .map(|(k, v)| (k, v.trim().to_string()))
                    .filter(|(_, v)| !v.is_empty())
                    .collect();
            }
            if let Some(folder) = folder {
                if !files && !folder.trim().is_empty() {
                    return Err(ApiError::bad("this app reads no folder"));
                }
                let folder = folder.trim();
                c.folder = (!folder.is_empty()).then(|| folder.to_string());
            }
            if let Some(advanced) = advanced {
                c.advanced = advanced;
            }
            Ok(())
        })
        .await?;
        for (name, value) in secrets {
            match value {
                None => self.engine.store.delete_secret(org, id, &name).await?,
                Some(v) if v.is_empty() => {}
                Some(v) => {
                    let sealed = self.secrets.seal(org, id, &name, &Secret::new(v));
                    self.engine.store.put_secret(org, id, &sealed).await?;
                }
            }
        }
        self.source(caller, org, id).await
    }

    pub async fn accept_terms(
        &self,
        caller: &Caller,
        org: &str,
        id: &str,
        accepted: bool,
    ) -> ApiResult<SourceView> {
        caller.require(org, Role::Admin)?;
        self.source_row(caller, org, id).await?;
        if !accepted {
            return Err(ApiError::bad(
                "the Terms of Use must be accepted to use this app",
            ));
        }
        self.engine
            .store
            .accept_terms(org, id, &caller.label())
            .await?;
        self.audit(caller, org, "source.terms", id, json!({"accepted": true}))
            .await?;
        self.source(caller, org, id).await
    }

    /// What is still missing before a source can run, in words.
    pub async fn missing(&self, org: &str, row: &SourceRow) -> ApiResult<Vec<String>> {
        let (package, settings) = self.engine.package_for(&row.config)?;
        let stored: Vec<String> = self
            .engine
            .store
            .sealed_secrets(org, &row.config.id)
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect();
        let mut missing = Vec::new();
        for s in &package.manifest.settings {
            if !s.required {
                continue;
            }
            let set = if s.secret {
                stored.contains(&s.name) || row.config.secrets.contains_key(&s.name)
            } else {
                settings.get(&s.name).is_some_and(|v| !v.is_empty()) || s.default.is_some()
            };
            if !set {
                missing.push(format!("{} (Delivery Config)", s.label));
            }
        }
        if package.manifest.files && row.config.folder.is_none() {
            missing.push("the folder to read (Delivery Config)".into());
        }
        if let Some(setup) = self.engine.store.setup(org, &row.config.id).await?
            && setup.terms_accepted_at.is_none()
        {
            missing.push("acceptance of the Terms of Use".into());
        }
        Ok(missing)
    }

    /// Finish the wizard: check nothing required is missing, then enable.
    pub async fn finish(&self, caller: &Caller, org: &str, id: &str) -> ApiResult<SourceView> {
        caller.require(org, Role::Admin)?;
        let row = self.source_row(caller, org, id).await?;
        let missing = self.missing(org, &row).await?;
        if !missing.is_empty() {
            return Err(ApiError::bad(format!(
                "the setup is not complete; still missing: {}",
                missing.join(", ")
            )));
        }
        let mut config = row.config;
        config.enabled = true;
        self.save(org, config).await?;
        self.engine
            .store
            .finish_setup(org, id, &caller.label())
            .await?;
        self.audit(caller, org, "source.finish", id, json!({}))
            .await?;
        self.source(caller, org, id).await
    }

    pub async fn set_enabled(
        &self,
        caller: &Caller,
        org: &str,
        id: &str,
        enabled: bool,
    ) -> ApiResult<SourceView> {
        caller.require(org, Role::Admin)?;
        let row = self.source_row(caller, org, id).await?;
        if enabled {
            let missing = self.missing(org, &row).await?;
            if !missing.is_empty() {
                return Err(ApiError::bad(format!(
                    "`{id}` cannot be enabled yet; still missing: {}",
                    missing.join(", ")
                )));
            }
        }
        let mut config = row.config;
        config.enabled = enabled;
        self.save(org, config).await?;
        if enabled {
            self.engine
                .store
                .finish_setup(org, id, &caller.label())
                .await?;
        }
        self.audit(
            caller,
            org,
            if enabled {
                "source.enable"
            } else {
                "source.disable"
            },
            id,
            json!({}),
        )
        .await?;
        self.source(caller, org, id).await
    }

    pub async fn delete_source(&self, caller: &Caller, org: &str, id: &str) -> ApiResult<()> {
        caller.require(org, Role::Admin)?;
        self.source_row(caller, org, id).await?;
        if let Some(run) = self.engine.store.running_run(org, id).await? {
            return Err(ApiError::Conflict(format!(
                "run {run} of `{id}` is still reading; delete the source when it is over"
            )));
        }
        self.engine.store.delete_source(org, id).await?;
        self.audit(caller, org, "source.delete", id, json!({}))
            .await
    }

    /// The secret values of a source: those entered through the API or the
    /// UI, then those its configuration names by environment variable.
    pub async fn resolve_secrets(
        &self,
        org: &str,
        config: &SourceConfig,
    ) -> ApiResult<BTreeMap<String, Secret>> {
        let sealed = self.engine.store.sealed_secrets(org, &config.id).await?;
        let mut out = self
            .secrets
            .open_all(org, &config.id, &sealed)
            .map_err(ApiError::BadRequest)?;
        for (name, var) in &config.secrets {
            if out.contains_key(name) {
                continue;
            }
            let value = std::env::var(var).map_err(|_| {
                ApiError::bad(format!(
                    "the secret `{name}` is read from the environment variable {var}, which is not set on this host: set it, or enter the value in the Delivery Config step"
                ))
            })?;
            out.insert(name.clone(), Secret::new(value));
        }
        Ok(out)
    }

    pub async fn test_connection(
        &self,
        caller: &Caller,
        org: &str,
        id: &str,
    ) -> ApiResult<TestResult> {
        caller.require(org, Role::Admin)?;
        let row = self.source_row(caller, org, id).await?;
        let outcome = async {
            let secrets = self.resolve_secrets(org, &row.config).await?;
            let (mut session, _) = self
                .engine
                .connect(org, &row.config, &secrets, None)
                .await?;
            session
                .test_connection()
                .await
                .map_err(|e| ApiError::Upstream(e.to_string()))
        }
        .await;
        let result = match outcome {
            Ok(message) => TestResult { ok: true, message },
            Err(e) => TestResult {
                ok: false,
                message: e.to_string(),
            },
        };
        self.audit(
            caller,
            org,
            "source.test_connection",
            id,
            json!({"ok": result.ok}),
        )
        .await?;
        Ok(result)
    }

    pub async fn schools(
        &self,
        caller: &Caller,
        org: &str,
        id: &str,
    ) -> ApiResult<Vec<SchoolView>> {
        caller.require(org, Role::Admin)?;
        let row = self.source_row(caller, org, id).await?;
        let secrets = self.resolve_secrets(org, &row.config).await?;
        let (mut session, _) = self
            .engine
            .connect(org, &row.config, &secrets, None)
            .await?;
        let schools = session
            .list_schools()
            .await
            .map_err(|e| ApiError::Upstream(e.to_string()))?;
        let mapping = &row.config.schools;
        Ok(schools
            .into_iter()
            .map(|s| SchoolView {
                mapped: match mapping.mode {
                    SchoolsMode::All | SchoolsMode::Auto => true,
                    SchoolsMode::Selected => mapping.selected.contains(&s.source_id),
                },
                source_id: s.source_id,
                name: s.name,
                identifier: s.identifier,
            })
            .collect())
    }

    // ---- runs ----------------------------------------------------------

    /// Start an import in the background; returns its run id as soon as
    /// the run exists.
    pub async fn start_run(
        &self,
        caller: &Caller,
        org: &str,
        id: &str,
        mode: Option<&str>,
    ) -> ApiResult<String> {
        caller.require(org, Role::Operator)?;
        let row = self.source_row(caller, org, id).await?;
        let mode = match mode.unwrap_or("full") {
            "full" | "" => Mode::Full,
            "quick" => Mode::Quick,
            other => {
                return Err(ApiError::bad(format!(
                    "`{other}` is not a mode: use full or quick"
                )));
            }
        };
        if !row.enabled {
            return Err(ApiError::Conflict(format!(
                "`{id}` is not enabled: finish its setup or enable it, then run it"
            )));
        }
        if let Some(run) = self.engine.store.running_run(org, id).await? {
            return Err(ApiError::Conflict(format!(
                "run {run} of `{id}` is still reading; wait for it to finish"
            )));
        }
        let secrets = self.resolve_secrets(org, &row.config).await?;
        let cell = Arc::new(Mutex::new(Progress::default()));
        let sink_cell = cell.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let opts = ImportOptions {
            mode,
            trigger: "api".into(),
            by: caller.label(),
            auto_commit: None,
            progress: Some(Arc::new(move |done, total| {
                if let Ok(mut p) = sink_cell.lock() {
                    p.done = done;
                    p.total = total;
                }
            })),
            on_started: Some(tx),
            secrets: Some(secrets),
        };
        let engine = self.engine.clone();
        let (org_s, id_s) = (org.to_string(), id.to_string());
        let task = tokio::spawn(async move { engine.import(&org_s, &id_s, opts).await });
        let run_id = match rx.await {
            Ok(run_id) => run_id,
            // The import ended before it made a run: say why.
            Err(_) => {
                return match task.await {
                    Ok(Ok(run)) => Ok(run.id),
                    Ok(Err(e)) => Err(e.into()),
                    Err(e) => Err(ApiError::Internal(format!("the import stopped: {e}"))),
                };
            }
        };
        if let Ok(mut map) = self.progress.lock() {
            map.insert(run_id.clone(), cell);
        }
        let app = self.clone();
        let watched = run_id.clone();
        let org_w = org.to_string();
        tokio::spawn(async move {
            let outcome = task.await;
            if let Ok(mut map) = app.progress.lock() {
                map.remove(&watched);
            }
            let why = match outcome {
                Ok(Ok(_)) => return,
                Ok(Err(e)) => format!("the run stopped: {e}"),
                Err(e) => {
                    format!("the run stopped unexpectedly ({e}); the server log has the details")
                }
            };
            tracing::error!(run = %watched, "{why}");
            if let Ok(Some(run)) = app.engine.store.org_run(&org_w, &watched).await
                && run.status == RunStatus::Running
            {
                let mut report = run.report.clone();
                report.failure = Some(why);
                let _ = app
                    .engine
                    .store
                    .finish_run(&watched, RunStatus::Failed, None, &report)
                    .await;
            }
        });
        self.audit(
            caller,
            org,
            "run.start",
            &run_id,
            json!({"source": id, "mode": mode.as_str()}),
        )
        .await?;
        Ok(run_id)
    }

    pub fn progress_of(&self, run_id: &str) -> Option<Progress> {
        let map = self.progress.lock().ok()?;
        let cell = map.get(run_id)?;
        let p = *cell.lock().ok()?;
        Some(p)
    }

    pub async fn runs(
        &self,
        caller: &Caller,
        org: &str,
        source: Option<&str>,
        limit: i64,
    ) -> ApiResult<Vec<RunSummary>> {
        caller.role(org)?;
        Ok(self
            .engine
            .store
            .runs(org, source, limit.clamp(1, 500))
            .await?
            .iter()
            .map(RunSummary::from)
            .collect())
    }

    /// A run of the organization; 404 for any other.
    pub async fn run_row(&self, caller: &Caller, org: &str, run_id: &str) -> ApiResult<Run> {
        caller.role(org)?;
        self.engine
            .store
            .org_run(org, run_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no run `{run_id}` in `{org}`")))
    }

    pub async fn run(&self, caller: &Caller, org: &str, run_id: &str) -> ApiResult<RunView> {
        let run = self.run_row(caller, org, run_id).await?;
        Ok(RunView {
            summary: RunSummary::from(&run),
            progress: (run.status == RunStatus::Running)
                .then(|| self.progress_of(run_id).unwrap_or_default()),
            waiting: run.status.is_waiting(),
            report: run.report,
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn actions(
        &self,
        caller: &Caller,
        org: &str,
        run_id: &str,
        kind: Option<&str>,
        action: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> ApiResult<ActionPage> {
        self.run_row(caller, org, run_id).await?;
        if let Some(a) = action
            && !matches!(a, "add" | "update" | "delete")
        {
            return Err(ApiError::bad(format!(
                "`{a}` is not an action: use add, update or delete"
            )));
        }
        let offset = offset.max(0);
        let limit = limit.clamp(1, 500);
        let store = &self.engine.store;
        let rows = store.changes(run_id, kind, action, offset, limit).await?;
        let (total, excluded) = store.count_changes(run_id, kind, action).await?;
        Ok(ActionPage {
            next_offset: (offset + (rows.len() as i64) < total).then_some(offset + limit),
            actions: rows
                .into_iter()
                .map(|c| ActionView {
                    seq: c.seq,
                    kind: c.kind,
                    action: c.action,
                    entity_id: c.entity_id,
                    source_record_id: c.source_record_id,
                    before: c.before,
                    after: c.after,
                    diff: c.diff,
                    excluded: c.excluded,
                })
                .collect(),
            total,
            excluded,
            offset,
            limit,
        })
    }

    /// Leave actions of a waiting run out of its approval, or put them back.
    pub async fn set_exclusions(
        &self,
        caller: &Caller,
        org: &str,
        run_id: &str,
        x: &Exclusions,
    ) -> ApiResult<()> {
        caller.require(org, Role::Operator)?;
        let run = self.run_row(caller, org, run_id).await?;
        if !run.status.is_waiting() {
            return Err(ApiError::Conflict(format!(
                "run {run_id} is {}; only a waiting run's actions can be left out",
                run.status.as_str()
            )));
        }
        for (seqs, excluded) in [(&x.exclude, true), (&x.include, false)] {
            for seq in seqs {
                if !self
                    .engine
                    .store
                    .set_change_excluded(run_id, *seq, excluded)
                    .await?
                {
                    return Err(ApiError::bad(format!(
                        "{seq} is not an action of run {run_id}"
                    )));
                }
            }
        }
        self.audit(
            caller,
            org,
            "run.exclusions",
            run_id,
            json!({"exclude": x.exclude, "include": x.include}),
        )
        .await
    }

    pub async fn approve(
        &self,
        caller: &Caller,
        org: &str,
        run_id: &str,
        exclude: &[i64],
    ) -> ApiResult<Approved> {
        caller.require(org, Role::Operator)?;
        self.run_row(caller, org, run_id).await?;
        let refs: Vec<ActionRef> = exclude.iter().map(|s| ActionRef::Seq(*s)).collect();
        let (run, outcome) = self.engine.approve(run_id, &refs).await?;
        let (applied, excluded, already) = match outcome {
            CommitOutcome::Applied { applied, excluded } => (applied, excluded, false),
            CommitOutcome::AlreadyCommitted => (0, 0, true),
        };
        self.audit(
            caller,
            org,
            "run.approve",
            run_id,
            json!({"exclude": exclude, "applied": applied, "excluded": excluded}),
        )
        .await?;
        Ok(Approved {
            run: RunSummary::from(&run),
            applied,
            excluded,
            already_committed: already,
        })
    }

    pub async fn discard(&self, caller: &Caller, org: &str, run_id: &str) -> ApiResult<RunSummary> {
        caller.require(org, Role::Operator)?;
        self.run_row(caller, org, run_id).await?;
        let run = self.engine.discard(run_id).await?;
        self.audit(caller, org, "run.discard", run_id, json!({}))
            .await?;
        Ok(RunSummary::from(&run))
    }

    // ---- records and duplicates ----------------------------------------

    pub async fn entities(
        &self,
        caller: &Caller,
        org: &str,
        q: &EntityQuery,
    ) -> ApiResult<EntityPage> {
        caller.role(org)?;
        let (kind, filter) = list_kind(&q.kind)?;
        let filter = filter.map(|(attribute, values)| AttrFilter { attribute, values });
        let offset = q.offset.max(0);
        let limit = q.limit.clamp(1, 500);
        let (rows, total) = self
            .engine
            .store
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
        Ok(EntityPage {
            entities: rows.iter().map(entity_view).collect(),
            total,
            offset,
            limit,
        })
    }

    pub async fn entity(&self, caller: &Caller, org: &str, id: &str) -> ApiResult<EntityDetail> {
        caller.role(org)?;
        let e = match self.engine.store.entity(org, id).await {
            Ok(e) => e,
            Err(crate::store::StoreError::NotFound(_)) => {
                return Err(ApiError::NotFound(format!("no record `{id}` in `{org}`")));
            }
            Err(e) => return Err(e.into()),
        };
        let sources = self.engine.store.entity_sources(&e.id).await?;
        let history = self.engine.store.entity_history(&e.id).await?;
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
    ) -> ApiResult<Vec<DuplicateView>> {
        caller.role(org)?;
        Ok(self
            .engine
            .store
            .duplicates(org, open_only)
            .await?
            .iter()
            .map(|d| DuplicateView {
                id: d.id.clone(),
                kind: d.kind.clone(),
                domain: d.domain.clone(),
                primary: entity_view(&d.primary),
                secondary: entity_view(&d.secondary),
                status: d.status.clone(),
                run_id: d.run_id.clone(),
            })
            .collect())
    }

    pub async fn resolve(
        &self,
        caller: &Caller,
        org: &str,
        dup_id: &str,
        r: &Resolve,
    ) -> ApiResult<DuplicateView> {
        caller.require(org, Role::Operator)?;
        let resolution = match r.resolution.as_str() {
            "delete" => crate::store::Resolution::Delete,
            "ignore" => crate::store::Resolution::Ignore,
            "keep" | "keep-as-new" | "create-as-new" => crate::store::Resolution::KeepAsNew,
            other => {
                return Err(ApiError::bad(format!(
                    "`{other}` is not a resolution: use delete, ignore or keep-as-new"
                )));
            }
        };
        let d = self
            .engine
            .store
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
        Ok(DuplicateView {
            id: d.id.clone(),
            kind: d.kind.clone(),
            domain: d.domain.clone(),
            primary: entity_view(&d.primary),
            secondary: entity_view(&d.secondary),
            status: d.status.clone(),
            run_id: d.run_id.clone(),
        })
    }
}

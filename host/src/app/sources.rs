//! The gallery and an organization's sources: activation, the wizard's
//! steps (delivery, terms, schools), secrets, the connection test, enable
//! and delete.
//!
//! A stored secret is never re-pointed: a save whose settings change where
//! a stored secret is sent (`gallery::grant::repointed_secrets`: the token
//! URL for an OAuth2 client secret or password, the service URL's origin
//! for every secret) clears that secret in the same save, before the new
//! settings are written, unless the same save enters a new value for it.
//! The admin enters it again; until then Test Connection says it is
//! missing. The audit entry of the save names each one (`cleared
//! client_secret because token_url changed`).

use std::collections::BTreeSet;

use super::*;
use crate::gallery::grant::repointed_secrets;

impl App {
    pub fn gallery(&self, q: Option<&str>) -> Vec<GalleryEntry> {
        GalleryEntry::all(self.engine.gallery.packages())
            .into_iter()
            .filter(|e| e.kind == "connector")
            .filter(|e| q.is_none_or(|q| e.matches(q)))
            .collect()
    }

    pub fn gallery_entry(&self, id: &str) -> AppResult<GalleryEntry> {
        let package = self
            .engine
            .gallery
            .get(id)
            .map_err(|_| AppError::NotFound(format!("no app `{id}` in the gallery")))?;
        let listing = (package.manifest.id != id).then_some(id);
        Ok(GalleryEntry::of(package, listing))
    }

    fn package(&self, config: &SourceConfig) -> AppResult<Arc<Package>> {
        Ok(self.engine.package_for(config)?.0)
    }

    pub async fn source_row(&self, caller: &Caller, org: &str, id: &str) -> AppResult<SourceRow> {
        caller.role(org)?;
        self.engine
            .store()
            .sources(org)
            .await?
            .into_iter()
            .find(|s| s.config.id == id)
            .ok_or_else(|| AppError::NotFound(format!("no source `{id}` in `{org}`")))
    }

    async fn summary(&self, org: &str, row: &SourceRow) -> AppResult<SourceSummary> {
        let c = &row.config;
        let app_name = self
            .gallery_entry(&c.plugin)
            .map(|e| e.name)
            .unwrap_or_else(|_| c.plugin.clone());
        let setup = self.engine.store().setup(org, &c.id).await?;
        let state = if setup.as_ref().is_some_and(|s| s.finished_at.is_none()) && !row.enabled {
            "setup"
        } else if row.enabled {
            "enabled"
        } else {
            "disabled"
        };
        let last_run = self
            .engine
            .store()
            .runs(org, Some(&c.id), 1)
            .await?
            .first()
            .map(RunSummary::from);
        // The Integrations table: an import's target is the hub; an
        // export's (and a two-way sync's) is the app.
        let target = if c.sync_mode.exports() {
            app_name.clone()
        } else {
            "Homeroom".into()
        };
        Ok(SourceSummary {
            id: c.id.clone(),
            name: c.name.clone().unwrap_or_else(|| app_name.clone()),
            app: c.plugin.clone(),
            app_name,
            kind: c.sync_mode.as_str().into(),
            target,
            state: state.into(),
            last_run,
        })
    }

    pub async fn sources(&self, caller: &Caller, org: &str) -> AppResult<Vec<SourceSummary>> {
        caller.role(org)?;
        let mut out = Vec::new();
        for row in self.engine.store().sources(org).await? {
            out.push(self.summary(org, &row).await?);
        }
        Ok(out)
    }

    /// The names of the secrets stored (sealed) for a source.
    async fn sealed_names(&self, org: &str, id: &str) -> AppResult<Vec<String>> {
        Ok(self
            .engine
            .store()
            .sealed_secrets(org, id)
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect())
    }

    pub async fn source(&self, caller: &Caller, org: &str, id: &str) -> AppResult<SourceView> {
        let row = self.source_row(caller, org, id).await?;
        let mut secrets_set = self.sealed_names(org, id).await?;
        for name in row.config.secrets.keys() {
            if !secrets_set.contains(name) {
                secrets_set.push(name.clone());
            }
        }
        secrets_set.sort();
        let settings = self.org_settings_of(org).await?;
        let tz = settings.tz();
        let next_run = row
            .config
            .schedule
            .as_ref()
            .and_then(|s| s.next_run_text(tz, chrono::Utc::now()));
        Ok(SourceView {
            summary: self.summary(org, &row).await?,
            secrets_set,
            setup: self.engine.store().setup(org, id).await?,
            app_entry: self.gallery_entry(&row.config.plugin).ok(),
            config: row.config,
            time_zone: tz.name().to_string(),
            next_run,
        })
    }

    /// Check a source's configuration against its plugin and save it.
    async fn save(&self, org: &str, config: SourceConfig) -> AppResult<()> {
        let name = self
            .engine
            .store()
            .organizations()
            .await?
            .into_iter()
            .find(|(id, _)| id == org)
            .map(|(_, n)| n)
            .ok_or_else(|| AppError::NotFound(format!("no organization `{org}`")))?;
        self.engine
            .apply_config(&DistrictConfig {
                organization: Organization {
                    id: org.to_string(),
                    name,
                    ..Default::default()
                },
                sources: vec![config],
                vendors: Vec::new(),
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
    ) -> AppResult<SourceView> {
        caller.require(org, Role::Admin)?;
        let entry = self.gallery_entry(&req.app)?;
        if entry.kind != "connector" {
            return Err(AppError::invalid(format!(
                "`{}` is a rule, not an app: attach it to a source in its Filter Rules step",
                req.app
            )));
        }
        let rows = self.engine.store().sources(org).await?;
        let name = req.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        // A second integration of one app is made on purpose, named apart.
        let same: Vec<String> = rows
            .iter()
            .filter(|s| s.config.plugin == entry.id)
            .map(|s| s.config.name.clone().unwrap_or_else(|| s.config.id.clone()))
            .collect();
        if let Some(first) = same.first() {
            match name {
                None => {
                    return Err(AppError::Conflict(format!(
                        "{} is active already as “{first}”. To add a second one on purpose, give it a name of its own",
                        entry.name
                    )));
                }
                Some(n) if same.iter().any(|s| s.eq_ignore_ascii_case(n)) => {
                    return Err(AppError::Conflict(format!(
                        "an integration named “{n}” exists already: choose another name"
                    )));
                }
                Some(_) => {}
            }
        }
        let existing: Vec<String> = rows.into_iter().map(|s| s.config.id).collect();
        let id = match &req.id {
            Some(id) => {
                let id = id.trim().to_string();
                if !is_slug(&id) {
                    return Err(AppError::invalid(
                        "a source id is 1-64 lowercase letters, digits, - or _",
                    ));
                }
                if existing.contains(&id) {
                    return Err(AppError::Conflict(format!(
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
        // A new integration's first import waits for review.
        config.advanced.review_first = true;
        self.save(org, config).await?;
        self.engine
            .store()
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

    /// Change one part of a source's configuration (a wizard step). A
    /// stored secret whose destination the change moves is cleared (see the
    /// module's documentation).
    pub async fn update_source(
        &self,
        caller: &Caller,
        org: &str,
        id: &str,
        step: &str,
        detail: Json,
        change: impl FnOnce(&mut SourceConfig, &Package) -> AppResult<()>,
    ) -> AppResult<SourceView> {
        self.update_source_entering(caller, org, id, step, detail, &BTreeSet::new(), change)
            .await
    }

    /// [`App::update_source`], for a save that also stores new values of the
    /// secrets named in `entered`: those are not cleared.
    #[allow(clippy::too_many_arguments)]
    async fn update_source_entering(
        &self,
        caller: &Caller,
        org: &str,
        id: &str,
        step: &str,
        detail: Json,
        entered: &BTreeSet<String>,
        change: impl FnOnce(&mut SourceConfig, &Package) -> AppResult<()>,
    ) -> AppResult<SourceView> {
        caller.require(org, Role::Admin)?;
        let row = self.source_row(caller, org, id).await?;
        let mut config = row.config;
        let package = self.package(&config)?;
        let before = package.settings_for(&config.plugin, &config.settings);
        change(&mut config, &package)?;
        config.enabled = row.enabled;
        // Refuse what the save would refuse before clearing anything.
        config
            .validate()
            .map_err(|e| AppError::from(crate::pipeline::EngineError::from(e)))?;
        let after = package.settings_for(&config.plugin, &config.settings);
        let cleared = self
            .clear_repointed(org, id, &package, &before, &after, entered, &mut config)
            .await?;
        let detail = with_cleared(detail, &cleared);
        if let Err(e) = self.save(org, config).await {
            if !cleared.is_empty() {
                // The secrets are gone although the settings did not change.
                self.audit(
                    caller,
                    org,
                    "source.secrets_cleared",
                    id,
                    json!({"cleared": cleared}),
                )
                .await?;
            }
            return Err(e);
        }
        self.audit(caller, org, &format!("source.{step}"), id, detail)
            .await?;
        self.source(caller, org, id).await
    }

    /// Clear each stored secret that going from `before` to `after` would
    /// send somewhere new, except those `entered` anew: its sealed value is
    /// deleted now (before the new settings are saved, so no moment sees the
    /// new destination with the old secret), and an environment variable
    /// the configuration named for it is dropped from `config`. Returns what
    /// was cleared, a sentence each.
    #[allow(clippy::too_many_arguments)]
    async fn clear_repointed(
        &self,
        org: &str,
        id: &str,
        package: &Package,
        before: &BTreeMap<String, String>,
        after: &BTreeMap<String, String>,
        entered: &BTreeSet<String>,
        config: &mut SourceConfig,
    ) -> AppResult<Vec<String>> {
        let repointed = repointed_secrets(&package.manifest, before, after);
        if repointed.is_empty() {
            return Ok(Vec::new());
        }
        let sealed = self.sealed_names(org, id).await?;
        let mut cleared = Vec::new();
        for r in repointed {
            if entered.contains(&r.secret) {
                continue;
            }
            let stored = sealed.contains(&r.secret);
            let by_variable = config.secrets.remove(&r.secret).is_some();
            if stored {
                self.engine
                    .store()
                    .delete_secret(org, id, &r.secret)
                    .await?;
            }
            if stored || by_variable {
                cleared.push(r.sentence());
            }
        }
        Ok(cleared)
    }

    /// Delivery Config: settings, secret values (write-only), folder and
    /// Advanced Settings.
    pub async fn delivery(
        &self,
        caller: &Caller,
        org: &str,
        id: &str,
        d: Delivery,
    ) -> AppResult<SourceView> {
        caller.require(org, Role::Admin)?;
        let row = self.source_row(caller, org, id).await?;
        let package = self.package(&row.config)?;
        let m = &package.manifest;
        for name in d.secrets.keys() {
            if !m.is_secret(name) {
                return Err(AppError::invalid(format!(
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
                    return Err(AppError::invalid(format!(
                        "`{name}` is a secret: send it under `secrets`, where it is stored encrypted and never shown again"
                    )));
                }
                if m.setting(name).is_none() && name != "auth" {
                    return Err(AppError::invalid(format!(
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
        if let Some(mode) = d.sync_mode {
            let goes = |dir: crate::gallery::manifest::Direction| {
                m.entities.iter().any(|e| e.directions.contains(&dir))
            };
            use crate::gallery::manifest::Direction;
            if mode.exports() && !goes(Direction::Export) {
                return Err(AppError::invalid(format!(
                    "{} only imports: its sync mode can only be import",
                    m.name
                )));
            }
            if mode.imports() && !goes(Direction::Import) {
                return Err(AppError::invalid(format!(
                    "{} only exports: choose the sync mode export",
                    m.name
                )));
            }
        }
        let entered: BTreeSet<String> = d
            .secrets
            .iter()
            .filter(|(_, v)| v.as_deref().is_some_and(|v| !v.is_empty()))
            .map(|(k, _)| k.clone())
            .collect();
        let detail = json!({
            "settings": d.settings,
            "secrets_changed": d.secrets.iter().filter(|(_, v)| v.as_deref() != Some("")).map(|(k, _)| k).collect::<Vec<_>>(),
            "folder": d.folder,
            "advanced": d.advanced,
            "sync_mode": d.sync_mode.map(|m| m.as_str()),
            "export_kinds": d.export_kinds,
        });
        let Delivery {
            name,
            settings,
            secrets,
            folder,
            advanced,
            sync_mode,
            export_kinds,
        } = d;
        if let Some(kinds) = &export_kinds {
            let exported: Vec<&str> = m
                .entities
                .iter()
                .filter(|e| {
                    e.directions
                        .contains(&crate::gallery::manifest::Direction::Export)
                })
                .map(|e| e.kind.as_str())
                .collect();
            if let Some(k) = kinds.iter().find(|k| !exported.contains(&k.as_str())) {
                return Err(AppError::invalid(format!(
                    "{} does not export `{k}`: choose among {}",
                    m.name,
                    exported.join(", ")
                )));
            }
        }
        self.update_source_entering(
            caller,
            org,
            id,
            "delivery",
            detail,
            &entered,
            move |c, _| {
                if let Some(name) = name {
                    // An empty name is refused by the check at save.
                    c.name = Some(name.trim().to_string());
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
                        return Err(AppError::invalid("this app reads no folder"));
                    }
                    let folder = folder.trim();
                    c.folder = (!folder.is_empty()).then(|| folder.to_string());
                }
                if let Some(mut advanced) = advanced {
                    // One approval choice: when it is said, the older pair
                    // of switches follows it.
                    if let Some(choice) = advanced.approval {
                        advanced.set_approval(choice);
                    }
                    c.advanced = advanced;
                }
                if let Some(mode) = sync_mode {
                    c.sync_mode = mode;
                }
                if let Some(kinds) = export_kinds {
                    c.export.kinds = kinds;
                }
                Ok(())
            },
        )
        .await?;
        for (name, value) in secrets {
            match value {
                None => self.engine.store().delete_secret(org, id, &name).await?,
                Some(v) if v.is_empty() => {}
                Some(v) => {
                    let sealed = self.secrets.seal(org, id, &name, &Secret::new(v));
                    self.engine.store().put_secret(org, id, &sealed).await?;
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
    ) -> AppResult<SourceView> {
        caller.require(org, Role::Admin)?;
        self.source_row(caller, org, id).await?;
        if !accepted {
            return Err(AppError::invalid(
                "the Terms of Use must be accepted to use this app",
            ));
        }
        self.engine
            .store()
            .accept_terms(org, id, &caller.label())
            .await?;
        self.audit(caller, org, "source.terms", id, json!({"accepted": true}))
            .await?;
        self.source(caller, org, id).await
    }

    /// What is still missing before a source can run, in words.
    pub async fn missing(&self, org: &str, row: &SourceRow) -> AppResult<Vec<String>> {
        let (package, settings) = self.engine.package_for(&row.config)?;
        let stored: Vec<String> = self
            .engine
            .store()
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
        if let Some(setup) = self.engine.store().setup(org, &row.config.id).await?
            && setup.terms_accepted_at.is_none()
        {
            missing.push("acceptance of the Terms of Use".into());
        }
        Ok(missing)
    }

    /// Finish the wizard: check nothing required is missing, then enable.
    pub async fn finish(&self, caller: &Caller, org: &str, id: &str) -> AppResult<SourceView> {
        caller.require(org, Role::Admin)?;
        let row = self.source_row(caller, org, id).await?;
        let missing = self.missing(org, &row).await?;
        if !missing.is_empty() {
            return Err(AppError::invalid(format!(
                "the setup is not complete; still missing: {}",
                missing.join(", ")
            )));
        }
        let mut config = row.config;
        config.enabled = true;
        self.save(org, config).await?;
        self.engine
            .store()
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
    ) -> AppResult<SourceView> {
        caller.require(org, Role::Admin)?;
        let row = self.source_row(caller, org, id).await?;
        if enabled {
            let missing = self.missing(org, &row).await?;
            if !missing.is_empty() {
                return Err(AppError::invalid(format!(
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
                .store()
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

    pub async fn delete_source(&self, caller: &Caller, org: &str, id: &str) -> AppResult<()> {
        caller.require(org, Role::Admin)?;
        self.source_row(caller, org, id).await?;
        if let Some(run) = self.engine.store().running_run(org, id).await? {
            return Err(AppError::Conflict(format!(
                "run {run} of `{id}` is still reading; delete the source when it is over"
            )));
        }
        self.engine.store().delete_source(org, id).await?;
        self.audit(caller, org, "source.delete", id, json!({}))
            .await
    }

    /// The secret values of a source: those entered through the API or the
    /// UI, then those its configuration names by environment variable.
    pub async fn resolve_secrets(
        &self,
        org: &str,
        config: &SourceConfig,
    ) -> AppResult<BTreeMap<String, Secret>> {
        let sealed = self.engine.store().sealed_secrets(org, &config.id).await?;
        let mut out = self
            .secrets
            .open_all(org, &config.id, &sealed)
            .map_err(AppError::Invalid)?;
        for (name, var) in &config.secrets {
            if out.contains_key(name) {
                continue;
            }
            let value = std::env::var(var).map_err(|_| {
                AppError::invalid(format!(
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
    ) -> AppResult<TestResult> {
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
                .map_err(|e| AppError::Upstream(e.to_string()))
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
    ) -> AppResult<Vec<SchoolView>> {
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
            .map_err(|e| AppError::Upstream(e.to_string()))?;
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
}

/// An audit detail with the sentences of the secrets a save cleared.
fn with_cleared(detail: Json, cleared: &[String]) -> Json {
    if cleared.is_empty() {
        return detail;
    }
    match detail {
        Json::Object(mut map) => {
            map.insert("cleared".into(), json!(cleared));
            Json::Object(map)
        }
        other => json!({"change": other, "cleared": cleared}),
    }
}

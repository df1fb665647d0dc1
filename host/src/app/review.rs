//! Reviewing a run of thousands of changes: its actions narrowed by kind,
//! action, role (the admin kinds of `model::kinds::ADMIN_KINDS`), school and
//! words of text, a page at a time; everything a filter shows left out or
//! put back at once (the filter goes to the store, never thousands of
//! numbers); the run's users counted by role; the schools a filter offers;
//! enrollments named by their person and class.
//!
//! It owns the checks on a filter and its audit; the SQL is
//! `store::review`'s. It must not approve, discard or commit (`runs.rs`).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::*;
use crate::model::change::Action;
use crate::store::review::ChangeFilter;
use crate::store::sync::ChangeRow;

/// What an admin narrows a run's actions to; every field is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, IntoParams)]
pub struct ActionFilter {
    /// An entity kind (user, org, class, enrollment, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// add, update or delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// student, teacher, contact or admin (or their plurals): users of that role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The source's id of a school: records that refer to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub school: Option<String>,
    /// Words each of which a record must contain (a full name "first last" works).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
}

impl ActionFilter {
    /// Empty fields (as a form sends them) count as unset.
    fn tidy(&self) -> ActionFilter {
        let t = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        ActionFilter {
            kind: t(&self.kind),
            action: t(&self.action),
            role: t(&self.role),
            school: t(&self.school),
            q: t(&self.q),
        }
    }

    /// Whether it narrows anything.
    pub fn is_empty(&self) -> bool {
        let f = self.tidy();
        f.kind.is_none()
            && f.action.is_none()
            && f.role.is_none()
            && f.school.is_none()
            && f.q.is_none()
    }

    /// The store's filter, once every part is checked.
    fn to_store(&self) -> AppResult<ChangeFilter> {
        let f = self.tidy();
        if let Some(k) = &f.kind
            && EntityKind::from_cli(k).is_err()
        {
            return Err(AppError::invalid(format!(
                "{k} is not a kind of record: use user, org, class, course, enrollment, academic-session or another entity kind"
            )));
        }
        if let Some(a) = &f.action
            && Action::parse(a).is_none()
        {
            return Err(AppError::invalid(format!(
                "{a} is not an action: use add, update or delete"
            )));
        }
        let roles = match &f.role {
            None => None,
            Some(r) => Some(role_values(r).ok_or_else(|| {
                AppError::invalid(format!(
                    "{r} is not a role: use {}",
                    user_kinds().map(|k| k.name).collect::<Vec<_>>().join(", ")
                ))
            })?),
        };
        Ok(ChangeFilter {
            kind: f.kind,
            action: f.action,
            roles,
            school: f.school,
            words: f
                .q
                .as_deref()
                .unwrap_or("")
                .split_whitespace()
                .take(8)
                .map(str::to_string)
                .collect(),
        })
    }
}

/// The admin kinds that are users narrowed by role.
fn user_kinds() -> impl Iterator<Item = &'static crate::model::kinds::AdminKind> {
    ADMIN_KINDS
        .iter()
        .filter(|k| k.entity == EntityKind::User && matches!(k.narrow, Some(("role", _))))
}

/// The values of `role` an admin kind (by name or plural) stands for.
fn role_values(name: &str) -> Option<Vec<String>> {
    let k = user_kinds().find(|k| k.name == name || k.plural == name)?;
    let (_, values) = k.narrow?;
    Some(values.iter().map(|v| v.to_string()).collect())
}

/// A run's users of one role, by action.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleCount {
    /// student, teacher, contact, admin, or other (a role none of them names).
    pub role: String,
    /// The list's name: students, teachers, contacts, admins, other users.
    pub label: String,
    pub add: i64,
    pub update: i64,
    pub delete: i64,
}

/// What leaving out (or putting back) everything a filter shows did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Selected {
    /// Actions the filter showed, each now left out (or put back).
    pub matched: u64,
    /// Actions of the whole run left out now.
    pub excluded: i64,
    /// Actions of the whole run.
    pub total: i64,
}

/// What to do with everything a filter shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Leave them out of the approval.
    Exclude,
    /// Put them back in.
    Include,
    /// Apply only them: every other action of the run is left out.
    Only,
}

/// A selection by filter, as the API takes it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SelectFiltered {
    #[serde(default)]
    pub filter: ActionFilter,
    pub select: Selection,
}

/// An action's label: a user's name, a class's title, an enrollment's
/// person and class by name (their ids when the run cannot name them).
fn label_of(row: &ChangeRow, names: &HashMap<(String, String), String>) -> String {
    let Some(data) = row
        .after
        .as_ref()
        .or(row.before.as_ref())
        .and_then(Json::as_object)
    else {
        return String::new();
    };
    if row.kind == "enrollment" {
        let name = |attr: &str, kind: &str| {
            let id = data
                .get(attr)
                .and_then(|c| c.get("v"))
                .and_then(|v| v.get("id"))
                .and_then(Json::as_str)
                .unwrap_or("");
            names
                .get(&(kind.to_string(), id.to_string()))
                .cloned()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| id.to_string())
        };
        return format!("{} in {}", name("user", "user"), name("class", "class"));
    }
    entity_label(&row.kind, data)
}

impl App {
    /// A run of the organization whose actions an operator may still leave
    /// out: one waiting for approval (409 for any other).
    pub(super) async fn waiting_row(
        &self,
        caller: &Caller,
        org: &str,
        run_id: &str,
    ) -> AppResult<crate::store::Run> {
        caller.require(org, Role::Operator)?;
        let run = self.run_row(caller, org, run_id).await?;
        if !run.status.is_waiting() {
            return Err(AppError::Conflict(format!(
                "run {run_id} is {}; only a waiting run's actions can be left out",
                run.status.as_str()
            )));
        }
        Ok(run)
    }

    /// A page of a run's actions a filter shows, with how many it shows
    /// and how many of those are left out.
    pub async fn review_actions(
        &self,
        caller: &Caller,
        org: &str,
        run_id: &str,
        filter: &ActionFilter,
        offset: i64,
        limit: i64,
    ) -> AppResult<ActionPage> {
        self.run_row(caller, org, run_id).await?;
        let f = filter.to_store()?;
        let offset = offset.max(0);
        let limit = limit.clamp(1, 500);
        let store = self.engine.store();
        let rows = store.review_changes(run_id, &f, offset, limit).await?;
        let (total, excluded) = store.review_count(run_id, &f).await?;
        // The people and classes the page's enrollments name.
        let mut refs: Vec<(String, String)> = Vec::new();
        for r in rows.iter().filter(|r| r.kind == "enrollment") {
            let data = r.after.as_ref().or(r.before.as_ref());
            for (attr, kind) in [("user", "user"), ("class", "class")] {
                if let Some(id) = data
                    .and_then(|d| d.get(attr))
                    .and_then(|c| c.get("v"))
                    .and_then(|v| v.get("id"))
                    .and_then(Json::as_str)
                {
                    let key = (kind.to_string(), id.to_string());
                    if !refs.contains(&key) {
                        refs.push(key);
                    }
                }
            }
        }
        let names: HashMap<(String, String), String> = store
            .review_referenced(run_id, &refs)
            .await?
            .into_iter()
            .filter_map(|(key, data)| {
                let d: Json = serde_json::from_str(&data).ok()?;
                Some((key.clone(), entity_label(&key.0, d.as_object()?)))
            })
            .collect();
        Ok(ActionPage {
            next_offset: (offset + (rows.len() as i64) < total).then_some(offset + limit),
            actions: rows
                .into_iter()
                .map(|c| ActionView {
                    label: label_of(&c, &names),
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

    /// Leave out, put back, or apply only everything a filter shows, in
    /// the database, while the run waits.
    pub async fn select_filtered(
        &self,
        caller: &Caller,
        org: &str,
        run_id: &str,
        filter: &ActionFilter,
        select: Selection,
    ) -> AppResult<Selected> {
        self.waiting_row(caller, org, run_id).await?;
        let f = filter.to_store()?;
        let store = self.engine.store();
        let matched = match select {
            Selection::Exclude => store.review_set_excluded(run_id, &f, true).await?,
            Selection::Include => store.review_set_excluded(run_id, &f, false).await?,
            Selection::Only => {
                store
                    .review_set_excluded(run_id, &ChangeFilter::default(), true)
                    .await?;
                store.review_set_excluded(run_id, &f, false).await?
            }
        };
        let (total, excluded) = store.review_count(run_id, &ChangeFilter::default()).await?;
        self.audit(
            caller,
            org,
            "run.exclusions",
            run_id,
            json!({"filter": filter.tidy(), "select": select, "matched": matched, "excluded": excluded}),
        )
        .await?;
        Ok(Selected {
            matched,
            excluded,
            total,
        })
    }

    /// A run's users by role (students, teachers, contacts, admins, then
    /// any other), each by action.
    pub async fn role_split(
        &self,
        caller: &Caller,
        org: &str,
        run_id: &str,
    ) -> AppResult<Vec<RoleCount>> {
        self.run_row(caller, org, run_id).await?;
        let rows = self.engine.store().review_roles(run_id).await?;
        let mut out: Vec<RoleCount> = user_kinds()
            .map(|k| RoleCount {
                role: k.name.to_string(),
                label: k.plural.to_string(),
                add: 0,
                update: 0,
                delete: 0,
            })
            .collect();
        out.push(RoleCount {
            role: "other".into(),
            label: "other users".into(),
            add: 0,
            update: 0,
            delete: 0,
        });
        for (role, action, n) in rows {
            let kind = role.as_deref().and_then(|r| {
                user_kinds().find(|k| matches!(k.narrow, Some((_, vs)) if vs.contains(&r)))
            });
            let at = match kind {
                Some(k) => out.iter().position(|c| c.role == k.name),
                None => Some(out.len() - 1),
            };
            if let Some(c) = at.and_then(|i| out.get_mut(i)) {
                match action.as_str() {
                    "add" => c.add += n,
                    "update" => c.update += n,
                    "delete" => c.delete += n,
                    _ => {}
                }
            }
        }
        out.retain(|c| c.add + c.update + c.delete > 0);
        Ok(out)
    }

    /// Each record's sources, by the integration's name, with its
    /// identifier there (for a page of a list).
    pub(super) async fn name_sources(
        &self,
        org: &str,
        entities: &mut [EntityView],
    ) -> AppResult<()> {
        let ids: Vec<&str> = entities.iter().map(|e| e.id.as_str()).collect();
        let links = self.engine.store().sources_of(&ids).await?;
        if links.is_empty() {
            return Ok(());
        }
        let names = self.source_names(org).await?;
        for (entity, source, record) in links {
            if let Some(e) = entities.iter_mut().find(|e| e.id == entity) {
                e.sources.push(RecordSource {
                    source_name: names
                        .get(&source)
                        .cloned()
                        .unwrap_or_else(|| source.clone()),
                    source_id: source,
                    source_record_id: record,
                });
            }
        }
        Ok(())
    }

    /// The schools a run's filter may name: (source id, name).
    pub async fn review_schools(
        &self,
        caller: &Caller,
        org: &str,
        run_id: &str,
    ) -> AppResult<Vec<(String, String)>> {
        self.run_row(caller, org, run_id).await?;
        Ok(self.engine.store().review_schools(run_id).await?)
    }
}

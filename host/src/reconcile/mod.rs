//! Reconcile: turn a run's staged records into its change set. A record from
//! a known (source, id) updates its entity; otherwise the domains of
//! uniqueness, in priority order, look for an existing entity of another
//! source (unattended: merge; manual: a new entity plus a pair in the
//! duplicates queue); otherwise it is added. Bulk runs find deletes by
//! absence; deltas by `tobedeleted`. Removing a user or class removes its
//! enrollments. Master fields decide who wins each attribute (`merge.rs`).
//!
//! It reads the store and writes change rows; it never applies a change
//! (that is the commit, in `store::sync`).

pub mod merge;

use std::collections::HashSet;

use serde_json::{Map, Value as Json, json};

use crate::config::{DomainMode, SourceConfig};
use crate::pipeline::record::{Attrs, json_text};
use crate::pipeline::report::RunReport;
use crate::store::sync::{ChangeRow, domain_key};
use crate::store::{Store, StoreError};
use merge::{Masters, MergeRules, diff, merge};

/// Staged records read per round trip.
const CHUNK: i64 = 2_000;

pub struct Reconciler<'a> {
    pub store: &'a Store,
    pub org_id: &'a str,
    pub source: &'a SourceConfig,
    pub run_id: &'a str,
    pub masters: Masters,
    seq: i64,
    /// (kind, source record id) deleted in this run, for the enrollment cascade.
    deleted: HashSet<(String, String)>,
}

fn parse_map(s: &str) -> Map<String, Json> {
    serde_json::from_str::<Json>(s)
        .ok()
        .and_then(|j| j.as_object().cloned())
        .unwrap_or_default()
}

impl<'a> Reconciler<'a> {
    pub fn new(
        store: &'a Store,
        org_id: &'a str,
        source: &'a SourceConfig,
        run_id: &'a str,
        masters: Masters,
    ) -> Self {
        Reconciler {
            store,
            org_id,
            source,
            run_id,
            masters,
            seq: 0,
            deleted: HashSet::new(),
        }
    }

    fn rules<'b>(&'b self, kind: &'b str) -> MergeRules<'b> {
        MergeRules {
            kind,
            source: &self.source.id,
            masters: &self.masters,
            blanks: self.source.advanced.blank_values,
            ignore_class_name_edits: self.source.advanced.ignore_class_name_edits,
        }
    }

    fn next_seq(&mut self) -> i64 {
        self.seq += 1;
        self.seq
    }

    /// Reconcile one kind. `bulk`: absence from this run means deleted.
    pub async fn kind(
        &mut self,
        kind: &str,
        bulk: bool,
        report: &mut RunReport,
    ) -> Result<(), StoreError> {
        let existing = self
            .store
            .count_active_links(self.org_id, &self.source.id, kind)
            .await?;
        report.kind(kind).existing = existing;
        let domains = self.source.domains_for(kind);
        // On a first import there is nothing to find: skip every lookup.
        let may_match = !domains.is_empty() && self.store.has_keys(self.org_id, kind).await?;
        let mut after = String::new();
        loop {
            let rows = self
                .store
                .staged_with_links(
                    self.org_id,
                    &self.source.id,
                    self.run_id,
                    kind,
                    &after,
                    CHUNK,
                )
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.source_record_id.clone();
            let ids: Vec<String> = rows
                .iter()
                .filter_map(|r| r.link.as_ref().map(|l| l.entity_id.clone()))
                .collect();
            let current = self.store.entity_data(&ids).await?;
            let mut changes = Vec::new();
            let mut fresh = Vec::new();
            for row in rows {
                let record: Attrs = serde_json::from_str(&row.data).unwrap_or_default();
                match (&row.link, row.deleted) {
                    // Known and unchanged: one hash compare, nothing written.
                    (Some(link), false) if link.active && link.hash == row.hash => {
                        report.kind(kind).unchanged += 1;
                    }
                    (Some(link), true) => {
                        if link.active {
                            self.deleted
                                .insert((kind.to_string(), row.source_record_id.clone()));
                            let seq = self.next_seq();
                            changes.push(delete_row(
                                seq,
                                kind,
                                &link.entity_id,
                                &row.source_record_id,
                                current.get(&link.entity_id),
                            ));
                            report.kind(kind).delete += 1;
                        } else {
                            report.kind(kind).unchanged += 1;
                        }
                    }
                    (None, true) => report.kind(kind).unchanged += 1,
                    (Some(link), false) => {
                        let before = current.get(&link.entity_id).map(|s| parse_map(s));
                        // An archived entity that comes back is an add (reactivation).
                        let before_for_merge = if link.active { before.as_ref() } else { None };
                        let after_data = merge(before_for_merge, &record, &self.rules(kind));
                        let d = diff(before_for_merge, &after_data);
                        let action = if link.active { "update" } else { "add" };
                        let visible = !link.active || !d.is_empty();
                        let seq = self.next_seq();
                        changes.push(ChangeRow {
                            seq,
                            kind: kind.to_string(),
                            action: action.into(),
                            entity_id: link.entity_id.clone(),
                            source_record_id: row.source_record_id.clone(),
                            before: before_for_merge.map(|b| Json::Object(b.clone())),
                            after: Some(Json::Object(after_data)),
                            diff: Some(Json::Object(d)),
                            record_hash: Some(row.hash.clone()),
                            record_data: Some(row.data.clone()),
                            visible,
                            excluded: false,
                        });
                        match (visible, link.active) {
                            (false, _) => report.kind(kind).unchanged += 1,
                            (true, true) => report.kind(kind).update += 1,
                            (true, false) => report.kind(kind).add += 1,
                        }
                    }
                    (None, false) => fresh.push(Fresh {
                        record_id: row.source_record_id,
                        hash: row.hash,
                        data: row.data,
                        record,
                    }),
                }
            }
            let matches = self
                .match_domains(kind, &fresh, &domains, may_match)
                .await?;
            for (f, found) in fresh.iter().zip(matches) {
                changes.push(self.new_record(kind, f, found, &domains, report).await?);
            }
            self.store.insert_changes(self.run_id, &changes).await?;
        }
        if bulk {
            let absent = self
                .store
                .absent_links(self.org_id, &self.source.id, self.run_id, kind)
                .await?;
            let ids: Vec<String> = absent.iter().map(|(_, e)| e.clone()).collect();
            let current = self.store.entity_data(&ids).await?;
            let mut changes = Vec::new();
            for (record_id, entity_id) in absent {
                self.deleted.insert((kind.to_string(), record_id.clone()));
                let seq = self.next_seq();
                changes.push(delete_row(
                    seq,
                    kind,
                    &entity_id,
                    &record_id,
                    current.get(&entity_id),
                ));
                report.kind(kind).delete += 1;
            }
            self.store.insert_changes(self.run_id, &changes).await?;
        }
        if kind == "enrollment" {
            self.cascade_enrollments(report).await?;
        }
        Ok(())
    }

    /// For each new record, the first domain (in priority order) that finds
    /// an existing entity of another source: one query per domain per chunk.
    async fn match_domains(
        &self,
        kind: &str,
        fresh: &[Fresh],
        domains: &[crate::config::Domain],
        may_match: bool,
    ) -> Result<Vec<Option<(usize, String)>>, StoreError> {
        let mut found: Vec<Option<(usize, String)>> = vec![None; fresh.len()];
        if !may_match {
            return Ok(found);
        }
        for (di, domain) in domains.iter().enumerate() {
            let name = domain.attributes.join("+");
            let mut wanted: Vec<(usize, String)> = Vec::new();
            for (i, f) in fresh.iter().enumerate() {
                if found[i].is_some() {
                    continue;
                }
                let probe = Json::Object(
                    f.record
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                );
                if let Some(key) =
                    domain_key(&probe, &domain.attributes, |d, a| d.get(a).map(json_text))
                {
                    wanted.push((i, key));
                }
            }
            if wanted.is_empty() {
                continue;
            }
            let keys: Vec<String> = wanted.iter().map(|(_, k)| k.clone()).collect();
            let hits = self
                .store
                .find_by_keys(self.org_id, kind, &name, &keys, &self.source.id)
                .await?;
            for (i, key) in wanted {
                if let Some(entity) = hits.get(&key) {
                    found[i] = Some((di, entity.clone()));
                }
            }
        }
        Ok(found)
    }

    async fn new_record(
        &mut self,
        kind: &str,
        fresh: &Fresh,
        found: Option<(usize, String)>,
        domains: &[crate::config::Domain],
        report: &mut RunReport,
    ) -> Result<ChangeRow, StoreError> {
        let (record_id, hash, data, record) =
            (&fresh.record_id, &fresh.hash, &fresh.data, &fresh.record);
        if let Some((di, entity_id)) = found {
            let domain = &domains[di];
            let name = domain.attributes.join("+");
            match domain.mode {
                DomainMode::Unattended => {
                    let current = self
                        .store
                        .entity_data(std::slice::from_ref(&entity_id))
                        .await?;
                    let before = current.get(&entity_id).map(|s| parse_map(s));
                    let after = merge(before.as_ref(), record, &self.rules(kind));
                    let mut d = diff(before.as_ref(), &after);
                    d.insert("merged_by".into(), json!(name));
                    report.kind(kind).update += 1;
                    let seq = self.next_seq();
                    return Ok(ChangeRow {
                        seq,
                        kind: kind.into(),
                        action: "update".into(),
                        entity_id,
                        source_record_id: record_id.clone(),
                        before: before.map(Json::Object),
                        after: Some(Json::Object(after)),
                        diff: Some(Json::Object(d)),
                        record_hash: Some(hash.clone()),
                        record_data: Some(data.clone()),
                        visible: true,
                        excluded: false,
                    });
                }
                DomainMode::Manual => {
                    let after = merge(None, record, &self.rules(kind));
                    report.kind(kind).add += 1;
                    report.duplicates += 1;
                    report.warn(kind, record_id, format!("may be the same as an existing {kind} (domain {name}): queued for review"));
                    let seq = self.next_seq();
                    return Ok(ChangeRow {
                        seq,
                        kind: kind.into(),
                        action: "add".into(),
                        entity_id: uuid::Uuid::now_v7().to_string(),
                        source_record_id: record_id.clone(),
                        before: None,
                        after: Some(Json::Object(after)),
                        diff: Some(json!({"duplicate_of": entity_id, "domain": name})),
                        record_hash: Some(hash.clone()),
                        record_data: Some(data.clone()),
                        visible: true,
                        excluded: false,
                    });
                }
            }
        }
        let after = merge(None, record, &self.rules(kind));
        report.kind(kind).add += 1;
        let seq = self.next_seq();
        Ok(ChangeRow {
            seq,
            kind: kind.into(),
            action: "add".into(),
            entity_id: uuid::Uuid::now_v7().to_string(),
            source_record_id: record_id.clone(),
            before: None,
            diff: Some(diff(None, &after).into()),
            after: Some(Json::Object(after)),
            record_hash: Some(hash.clone()),
            record_data: Some(data.clone()),
            visible: true,
            excluded: false,
        })
    }

    /// Enrollments of users or classes deleted in this run go with them.
    async fn cascade_enrollments(&mut self, report: &mut RunReport) -> Result<(), StoreError> {
        let gone: HashSet<(String, String)> = self
            .deleted
            .iter()
            .filter(|(k, _)| k == "user" || k == "class")
            .cloned()
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        let already: HashSet<String> = self
            .deleted
            .iter()
            .filter(|(k, _)| k == "enrollment")
            .map(|(_, id)| id.clone())
            .collect();
        let links = self
            .store
            .active_links(self.org_id, &self.source.id, "enrollment")
            .await?;
        let mut changes = Vec::new();
        for (record_id, entity_id, data) in links {
            if already.contains(&record_id) {
                continue;
            }
            let attrs: Attrs = serde_json::from_str(&data).unwrap_or_default();
            let hit = ["user", "class"].iter().any(|a| {
                attrs
                    .get(*a)
                    .and_then(|r| r.get("id"))
                    .and_then(Json::as_str)
                    .is_some_and(|id| gone.contains(&(a.to_string(), id.to_string())))
            });
            if hit {
                let seq = self.next_seq();
                let mut row = delete_row(seq, "enrollment", &entity_id, &record_id, None);
                row.diff = Some(json!({"cascade": "its user or class was deleted"}));
                changes.push(row);
                report.kind("enrollment").delete += 1;
            }
        }
        self.store.insert_changes(self.run_id, &changes).await
    }
}

/// A staged record no link knows yet.
struct Fresh {
    record_id: String,
    hash: String,
    data: String,
    record: Attrs,
}

fn delete_row(
    seq: i64,
    kind: &str,
    entity_id: &str,
    record_id: &str,
    before: Option<&String>,
) -> ChangeRow {
    ChangeRow {
        seq,
        kind: kind.into(),
        action: "delete".into(),
        entity_id: entity_id.into(),
        source_record_id: record_id.into(),
        before: before.map(|s| Json::Object(parse_map(s))),
        after: None,
        diff: None,
        record_hash: None,
        record_data: None,
        visible: true,
        excluded: false,
    }
}

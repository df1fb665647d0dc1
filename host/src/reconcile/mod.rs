//! Reconcile: turn a run's records into its change set, page by page as the
//! pipeline hands them over. A record from a known (source, id) updates its
//! entity; otherwise the domains of uniqueness, in priority order, look for
//! an existing entity of another source (unattended: merge; manual: a new
//! entity plus a pair in the duplicates queue); otherwise it is added. Bulk
//! runs find deletes by absence; deltas by `tobedeleted`. Removing a user or
//! class removes its enrollments. Master fields decide who wins each
//! attribute (`merge.rs`).
//!
//! What each source said last time is read once per kind, as a map from the
//! record id to the hash of its content (about 40 bytes a record), so an
//! unchanged record costs one hash compare and no query. Only records that
//! changed read their entity. Change rows are written in batches by a
//! background task while the next pages are reconciled.
//!
//! It reads the store and writes change rows; it never applies a change
//! (that is the commit, in `store::sync`).

pub mod merge;

use std::collections::HashMap;

use serde_json::{Map, Value as Json, json};
use tokio::task::JoinHandle;

use crate::bindings::types::EntityKind;
use crate::config::{Domain, DomainMode, SourceConfig};
use crate::model::change::{Action, diff};
use crate::model::record::{Attrs, Record, id_key, is_blank, json_text};
use crate::model::report::RunReport;
use crate::store::sync::{ChangeKey, Current, DuplicateOf, KeyDomain, NewChange, domain_key};
use crate::store::{Store, StoreError};
use merge::{Masters, MergeRules, merge};

/// Change rows handed to the writer at a time.
const FLUSH_AT: usize = 4_000;

/// What a source said last time about one record, and whether this run has seen it.
#[derive(Clone, Copy)]
struct LinkState {
    hash: Option<u128>,
    active: bool,
    seen: bool,
}

impl LinkState {
    /// A link as stored: the hex hash of what the source said, and whether it is active.
    fn said(hash: &str, active: bool) -> LinkState {
        LinkState {
            hash: u128::from_str_radix(hash, 16).ok(),
            active,
            seen: false,
        }
    }
}

pub struct Reconciler<'a> {
    store: &'a Store,
    org_id: &'a str,
    source: &'a SourceConfig,
    run_id: &'a str,
    masters: Masters,
    /// Domains whose keys entities keep (every source's), so a later source finds them.
    key_domains: Vec<KeyDomain>,
    seq: i64,
    /// Users and classes deleted in this run, and the enrollments already
    /// deleted, for the enrollment cascade.
    deleted: foldhash::HashSet<(&'static str, String)>,
    // The kind being reconciled.
    kind: EntityKind,
    /// What the source said last time, per record of the kind: every link
    /// on a full run, only those of the pages seen so far on a delta run.
    links: foldhash::HashMap<u128, LinkState>,
    /// A delta run reads the links of the records it gets, page by page: a
    /// 1% delta must not cost a read of every link.
    delta: bool,
    domains: Vec<Domain>,
    may_match: bool,
    // Change rows waiting for the writer, and the writer's last batch.
    pending: Vec<NewChange>,
    pending_keys: Vec<ChangeKey>,
    writing: Option<JoinHandle<Result<(), StoreError>>>,
}

fn parse_map(s: &str) -> Map<String, Json> {
    serde_json::from_str::<Json>(s)
        .ok()
        .and_then(|j| match j {
            Json::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default()
}

/// JSON text of a value: serialising a `serde_json::Value` cannot fail.
fn to_text(j: &impl serde::Serialize) -> String {
    serde_json::to_string(j).unwrap_or_else(|_| "null".into())
}

/// A new entity's data straight from the record: every non-blank attribute,
/// supplied by `source`. The same as `merge(None, record, …)`, written
/// without building the intermediate map.
fn added_data(record: &Attrs, source: &str) -> String {
    let mut out = Vec::with_capacity(64 * record.len() + 2);
    let source = to_text(&source);
    out.push(b'{');
    let mut first = true;
    for (name, value) in record {
        if is_blank(value) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        let _ = serde_json::to_writer(&mut out, name);
        out.extend_from_slice(b":{\"s\":");
        out.extend_from_slice(source.as_bytes());
        out.extend_from_slice(b",\"v\":");
        let _ = serde_json::to_writer(&mut out, value);
        out.push(b'}');
    }
    out.push(b'}');
    String::from_utf8(out).unwrap_or_else(|_| "{}".into())
}

impl<'a> Reconciler<'a> {
    pub fn new(
        store: &'a Store,
        org_id: &'a str,
        source: &'a SourceConfig,
        run_id: &'a str,
        masters: Masters,
        key_domains: Vec<KeyDomain>,
    ) -> Self {
        Reconciler {
            store,
            org_id,
            source,
            run_id,
            masters,
            key_domains,
            seq: 0,
            deleted: Default::default(),
            kind: EntityKind::Org,
            links: Default::default(),
            delta: false,
            domains: Vec::new(),
            may_match: false,
            pending: Vec::new(),
            pending_keys: Vec::new(),
            writing: None,
        }
    }

    /// Reconcile a delta: the records that changed since the last run, so
    /// nothing is absent and the links are looked up per page.
    pub fn for_delta(mut self) -> Self {
        self.delta = true;
        self
    }

    fn rules(&self) -> MergeRules<'_> {
        MergeRules {
            kind: self.kind.cli_name(),
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

    /// Start a kind: read what the source said last time.
    pub async fn begin_kind(
        &mut self,
        kind: EntityKind,
        report: &mut RunReport,
    ) -> Result<(), StoreError> {
        self.kind = kind;
        let name = kind.cli_name();
        self.links.clear();
        let existing = if self.delta {
            self.store
                .count_active_links(self.org_id, &self.source.id, name)
                .await?
        } else {
            let mut existing = 0u64;
            let links = &mut self.links;
            self.store
                .for_each_link(self.org_id, &self.source.id, name, |id, hash, active| {
                    existing += active as u64;
                    links.insert(id_key(id), LinkState::said(hash, active));
                })
                .await?;
            existing
        };
        report.kind(kind).existing = existing;
        self.domains = self.source.domains_for(name);
        // On a first import there is nothing to find: skip every lookup.
        self.may_match = !self.domains.is_empty() && self.store.has_keys(self.org_id, name).await?;
        Ok(())
    }

    /// Reconcile one page of the current kind's records.
    pub async fn page(
        &mut self,
        records: Vec<Record>,
        report: &mut RunReport,
    ) -> Result<(), StoreError> {
        let kind = self.kind;
        if self.delta {
            let ids: Vec<&str> = records
                .iter()
                .map(|r| r.source_id.as_str())
                .filter(|id| !self.links.contains_key(&id_key(id)))
                .collect();
            let links = &mut self.links;
            self.store
                .link_states(
                    self.org_id,
                    &self.source.id,
                    kind.cli_name(),
                    &ids,
                    |id, hash, active| {
                        links.insert(id_key(id), LinkState::said(hash, active));
                    },
                )
                .await?;
        }
        let mut known: Vec<(Record, u128)> = Vec::new();
        let mut fresh: Vec<(Record, u128)> = Vec::new();
        for r in records {
            let hash = r.hash();
            let key = id_key(&r.source_id);
            match self.links.get_mut(&key) {
                // A record the source repeated within this run counts once:
                // the first stands, the repeat is left out and named.
                Some(s) if s.seen => report.skip(
                    kind,
                    &r.source_id,
                    "the source sent this id twice in one run; the first of the two is imported",
                ),
                Some(s) => {
                    s.seen = true;
                    let unchanged = if r.deleted {
                        !s.active
                    } else {
                        s.active && s.hash == Some(hash)
                    };
                    if unchanged {
                        report.kind(kind).unchanged += 1;
                    } else {
                        known.push((r, hash));
                    }
                }
                None => {
                    self.links.insert(
                        key,
                        LinkState {
                            hash: Some(hash),
                            active: !r.deleted,
                            seen: true,
                        },
                    );
                    if r.deleted {
                        report.kind(kind).unchanged += 1;
                    } else {
                        fresh.push((r, hash));
                    }
                }
            }
        }
        if !known.is_empty() {
            let ids: Vec<&str> = known.iter().map(|(r, _)| r.source_id.as_str()).collect();
            let mut current = self
                .store
                .links_with_entities(self.org_id, &self.source.id, kind.cli_name(), &ids)
                .await?;
            for (r, hash) in known {
                match current.remove(&r.source_id) {
                    Some(cur) => self.changed(r, hash, cur, report),
                    // The link's entity is gone (resolved away): start anew.
                    None if !r.deleted => fresh.push((r, hash)),
                    None => report.kind(kind).unchanged += 1,
                }
            }
        }
        if !fresh.is_empty() {
            let matches = self.match_domains(&fresh).await?;
            let matched: Vec<&str> = matches
                .iter()
                .filter_map(|m| match m {
                    Some((di, e)) if self.domains[*di].mode == DomainMode::Unattended => {
                        Some(e.as_str())
                    }
                    _ => None,
                })
                .collect();
            let mut current = if matched.is_empty() {
                HashMap::new()
            } else {
                self.store.entity_data(&matched).await?
            };
            for ((r, hash), found) in fresh.into_iter().zip(matches) {
                let cur = found
                    .as_ref()
                    .and_then(|(_, e)| current.remove(e).map(|d| (e.clone(), d)));
                self.new_record(r, hash, found, cur, report);
            }
        }
        if self.pending.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// A known record that changed, was deleted, or came back.
    fn changed(&mut self, r: Record, hash: u128, cur: Current, report: &mut RunReport) {
        let kind = self.kind;
        if r.deleted {
            if cur.active {
                self.deleted.insert((kind.cli_name(), r.source_id.clone()));
                let seq = self.next_seq();
                self.pending.push(delete_row(
                    seq,
                    kind,
                    cur.entity_id,
                    r.source_id,
                    Some(cur.data),
                ));
                report.kind(kind).delete += 1;
            } else {
                report.kind(kind).unchanged += 1;
            }
            return;
        }
        let before = cur.active.then(|| parse_map(&cur.data));
        // The stored text is the before image as it is: no need to serialise it again.
        let before_text = cur.active.then_some(cur.data);
        let after = merge(before.as_ref(), &r.attrs, &self.rules());
        let d = diff(before.as_ref(), &after);
        // An archived entity that comes back is an add (reactivation).
        let (action, visible) = if cur.active {
            (Action::Update, !d.is_empty())
        } else {
            (Action::Add, true)
        };
        let seq = self.next_seq();
        if visible {
            self.keys_of(seq, &cur.entity_id, |a| {
                after.get(a).and_then(|c| c.get("v")).map(json_text)
            });
        }
        match (visible, cur.active) {
            (false, _) => report.kind(kind).unchanged += 1,
            (true, true) => report.kind(kind).update += 1,
            (true, false) => report.kind(kind).add += 1,
        }
        self.pending.push(NewChange {
            seq,
            kind,
            action,
            entity_id: cur.entity_id,
            source_record_id: r.source_id,
            before: before_text,
            // A refresh of the link only (no visible change) leaves the entity as it is.
            after: visible.then(|| to_text(&after)),
            diff: (visible && cur.active).then(|| to_text(&d)),
            record_hash: Some(format!("{hash:032x}")),
            visible,
            duplicate: None,
        });
    }

    /// The domain keys an entity will hold, from its data.
    fn keys_of(&mut self, seq: i64, entity_id: &str, value_of: impl Fn(&str) -> Option<String>) {
        for d in self.key_domains.iter().filter(|d| d.kind == self.kind) {
            if let Some(key) = domain_key(&d.attributes, &value_of) {
                self.pending_keys.push(ChangeKey {
                    seq,
                    kind: self.kind,
                    domain: d.name.clone(),
                    key,
                    entity_id: entity_id.to_string(),
                });
            }
        }
    }

    /// For each new record, the first domain (in priority order) that finds
    /// an existing entity of another source: one query per domain per page.
    async fn match_domains(
        &self,
        fresh: &[(Record, u128)],
    ) -> Result<Vec<Option<(usize, String)>>, StoreError> {
        let mut found: Vec<Option<(usize, String)>> = vec![None; fresh.len()];
        if !self.may_match {
            return Ok(found);
        }
        for (di, domain) in self.domains.iter().enumerate() {
            let name = domain.attributes.join("+");
            let mut wanted: Vec<(usize, String)> = Vec::new();
            for (i, (r, _)) in fresh.iter().enumerate() {
                if found[i].is_some() {
                    continue;
                }
                if let Some(key) = domain_key(&domain.attributes, |a| r.attrs.get(a).map(json_text))
                {
                    wanted.push((i, key));
                }
            }
            if wanted.is_empty() {
                continue;
            }
            let keys: Vec<&str> = wanted.iter().map(|(_, k)| k.as_str()).collect();
            let hits = self
                .store
                .find_by_keys(
                    self.org_id,
                    self.kind.cli_name(),
                    &name,
                    &keys,
                    &self.source.id,
                )
                .await?;
            for (i, key) in wanted {
                if let Some(entity) = hits.get(&key) {
                    found[i] = Some((di, entity.clone()));
                }
            }
        }
        Ok(found)
    }

    /// A record no link knows: merged into what a domain found, or added.
    fn new_record(
        &mut self,
        r: Record,
        hash: u128,
        found: Option<(usize, String)>,
        current: Option<(String, String)>,
        report: &mut RunReport,
    ) {
        let kind = self.kind;
        let seq = self.next_seq();
        let record_hash = Some(format!("{hash:032x}"));
        if let Some((di, entity_id)) = found {
            let domain = &self.domains[di];
            let name = domain.attributes.join("+");
            match domain.mode {
                DomainMode::Unattended => {
                    let before_text = current.map(|(_, d)| d);
                    let before = before_text.as_deref().map(parse_map);
                    let after = merge(before.as_ref(), &r.attrs, &self.rules());
                    let mut d = diff(before.as_ref(), &after);
                    d.insert("merged_by".into(), json!(name));
                    report.kind(kind).update += 1;
                    self.keys_of(seq, &entity_id, |a| {
                        after.get(a).and_then(|c| c.get("v")).map(json_text)
                    });
                    self.pending.push(NewChange {
                        seq,
                        kind,
                        action: Action::Update,
                        entity_id,
                        source_record_id: r.source_id,
                        before: before_text,
                        after: Some(to_text(&after)),
                        diff: Some(to_text(&d)),
                        record_hash,
                        visible: true,
                        duplicate: None,
                    });
                    return;
                }
                DomainMode::Manual => {
                    report.kind(kind).add += 1;
                    report.duplicates += 1;
                    report.warn(
                        kind,
                        &r.source_id,
                        format!(
                            "may be the same as an existing {} (domain {name}): queued for review",
                            kind.cli_name()
                        ),
                    );
                    let new_id = uuid::Uuid::now_v7().to_string();
                    self.keys_of(seq, &new_id, |a| {
                        r.attrs.get(a).filter(|v| !is_blank(v)).map(json_text)
                    });
                    self.pending.push(NewChange {
                        seq,
                        kind,
                        action: Action::Add,
                        entity_id: new_id,
                        after: Some(added_data(&r.attrs, &self.source.id)),
                        source_record_id: r.source_id,
                        before: None,
                        diff: None,
                        record_hash,
                        visible: true,
                        duplicate: Some(DuplicateOf {
                            entity_id,
                            domain: name,
                        }),
                    });
                    return;
                }
            }
        }
        report.kind(kind).add += 1;
        let new_id = uuid::Uuid::now_v7().to_string();
        self.keys_of(seq, &new_id, |a| {
            r.attrs.get(a).filter(|v| !is_blank(v)).map(json_text)
        });
        self.pending.push(NewChange {
            seq,
            kind,
            action: Action::Add,
            entity_id: new_id,
            after: Some(added_data(&r.attrs, &self.source.id)),
            source_record_id: r.source_id,
            before: None,
            diff: None,
            record_hash,
            visible: true,
            duplicate: None,
        });
    }

    /// End a kind. `bulk`: what the source no longer sends is deleted.
    pub async fn end_kind(&mut self, bulk: bool, report: &mut RunReport) -> Result<(), StoreError> {
        let kind = self.kind;
        let absent = self.links.values().any(|s| s.active && !s.seen);
        if bulk && absent {
            let mut gone: Vec<(String, String)> = Vec::new();
            let links = &self.links;
            self.store
                .for_each_active_link(
                    self.org_id,
                    &self.source.id,
                    kind.cli_name(),
                    |record, entity| {
                        if links.get(&id_key(record)).is_some_and(|s| !s.seen) {
                            gone.push((record.to_string(), entity.to_string()));
                        }
                    },
                )
                .await?;
            let ids: Vec<&str> = gone.iter().map(|(_, e)| e.as_str()).collect();
            let mut current = self.store.entity_data(&ids).await?;
            for (record_id, entity_id) in gone {
                self.deleted.insert((kind.cli_name(), record_id.clone()));
                let before = current.remove(&entity_id);
                let seq = self.next_seq();
                self.pending
                    .push(delete_row(seq, kind, entity_id, record_id, before));
                report.kind(kind).delete += 1;
            }
        }
        self.links = Default::default();
        if kind == EntityKind::Enrollment {
            self.cascade_enrollments(report).await?;
        }
        Ok(())
    }

    /// Enrollments of users or classes deleted in this run go with them.
    async fn cascade_enrollments(&mut self, report: &mut RunReport) -> Result<(), StoreError> {
        if !self
            .deleted
            .iter()
            .any(|(k, _)| *k == "user" || *k == "class")
        {
            return Ok(());
        }
        let enrollments = self
            .store
            .active_enrollments(self.org_id, &self.source.id)
            .await?;
        for (record_id, entity_id, data) in enrollments {
            if self.deleted.contains(&("enrollment", record_id.clone())) {
                continue;
            }
            let attrs = parse_map(&data);
            let hit = ["user", "class"].iter().any(|a| {
                attrs
                    .get(*a)
                    .and_then(|cell| cell.get("v"))
                    .and_then(|r| r.get("id"))
                    .and_then(Json::as_str)
                    .is_some_and(|id| self.deleted.contains(&(*a, id.to_string())))
            });
            if hit {
                let seq = self.next_seq();
                let mut row = delete_row(seq, EntityKind::Enrollment, entity_id, record_id, None);
                row.diff = Some(to_text(
                    &json!({"cascade": "its user or class was deleted"}),
                ));
                self.pending.push(row);
                report.kind(EntityKind::Enrollment).delete += 1;
            }
        }
        Ok(())
    }

    /// Hand the waiting change rows to the writer, after its last batch is in.
    async fn flush(&mut self) -> Result<(), StoreError> {
        self.wait_for_writer().await?;
        let changes = std::mem::take(&mut self.pending);
        let keys = std::mem::take(&mut self.pending_keys);
        if changes.is_empty() && keys.is_empty() {
            return Ok(());
        }
        let store = self.store.clone();
        let run_id = self.run_id.to_string();
        self.writing = Some(tokio::spawn(async move {
            store.insert_changes(&run_id, &changes, &keys).await
        }));
        Ok(())
    }

    async fn wait_for_writer(&mut self) -> Result<(), StoreError> {
        if let Some(writing) = self.writing.take() {
            writing
                .await
                .map_err(|e| StoreError::Corrupt(format!("the change writer stopped: {e}")))??;
        }
        Ok(())
    }

    /// Write everything still waiting; the change set is complete after this.
    pub async fn finish(&mut self) -> Result<(), StoreError> {
        self.flush().await?;
        self.wait_for_writer().await
    }
}

fn delete_row(
    seq: i64,
    kind: EntityKind,
    entity_id: String,
    record_id: String,
    before: Option<String>,
) -> NewChange {
    NewChange {
        seq,
        kind,
        action: Action::Delete,
        entity_id,
        source_record_id: record_id,
        before,
        after: None,
        diff: None,
        record_hash: None,
        visible: true,
        duplicate: None,
    }
}

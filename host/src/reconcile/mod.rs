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

/// A record's id as the link map's key: `id_key` in two halves. With the
/// state below an entry takes 40 bytes, where a `u128` key and an
/// `Option<u128>` hash took 64 with their alignment: the map holds every
/// link of a kind (3.4 million enrollments at XL) on a full run.
type LinkKey = [u64; 2];

fn halves(x: u128) -> [u64; 2] {
    [(x >> 64) as u64, x as u64]
}

fn link_key(id: &str) -> LinkKey {
    halves(id_key(id))
}

/// What a source said last time about one record, and whether this run has seen it.
#[derive(Clone, Copy)]
struct LinkState {
    /// The hash of what it said, when the stored hash reads as one.
    hash: [u64; 2],
    hashed: bool,
    active: bool,
    seen: bool,
}

const _: () = assert!(std::mem::size_of::<(LinkKey, LinkState)>() == 40);

impl LinkState {
    /// A link as stored: the hex hash of what the source said, and whether it is active.
    fn said(hash: &str, active: bool) -> LinkState {
        let parsed = u128::from_str_radix(hash, 16).ok();
        LinkState {
            hash: halves(parsed.unwrap_or(0)),
            hashed: parsed.is_some(),
            active,
            seen: false,
        }
    }

    /// A record this run is the first to send.
    fn first(hash: u128, active: bool) -> LinkState {
        LinkState {
            hash: halves(hash),
            hashed: true,
            active,
            seen: true,
        }
    }

    fn said_the_same(&self, hash: u128) -> bool {
        self.hashed && self.hash == halves(hash)
    }
}

/// What becomes of a record no link knows.
enum Plan {
    /// A new entity.
    Add { entity: uuid::Uuid },
    /// A new entity, and a pair with `primary` in the duplicates queue (a
    /// manual domain matched).
    Pair {
        entity: uuid::Uuid,
        domain: usize,
        primary: String,
    },
    /// Merged into an entity an unattended domain matched; `in_run`: one
    /// this run already changed or made.
    Merge {
        domain: usize,
        entity: uuid::Uuid,
        in_run: bool,
    },
    /// Merged into a stored entity whose id is not one this hub made.
    MergeStored { domain: usize, entity: String },
    /// A new entity under the id its source gave it (a source whose ids
    /// are the hub's: a vendor writing through the provider API).
    AddGiven { entity: String },
}

impl Plan {
    /// The entity the record goes into, as the run's domain keys know it.
    fn entity(&self) -> Option<uuid::Uuid> {
        match self {
            Plan::Add { entity } | Plan::Pair { entity, .. } | Plan::Merge { entity, .. } => {
                Some(*entity)
            }
            Plan::MergeStored { .. } | Plan::AddGiven { .. } => None,
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
    links: foldhash::HashMap<LinkKey, LinkState>,
    /// A delta run reads the links of the records it gets, page by page: a
    /// 1% delta must not cost a read of every link.
    delta: bool,
    /// The source names its records by the hub's ids: a record no link
    /// knows becomes the entity of that id.
    given_ids: bool,
    domains: Vec<Domain>,
    /// Whether the store holds keys of the kind (on a first import it holds
    /// none, and only this run's own records can match).
    stored_keys: bool,
    /// This run's records of the kind by domain key (the hash of the domain's
    /// index and the key): the entity each went into, so the same person
    /// twice in one feed is found, first import included. Memory: about 48
    /// bytes a record, for kinds with a domain only.
    in_run: foldhash::HashMap<u128, uuid::Uuid>,
    /// Entities of the kind whose known records this run changed so far: a
    /// record merging into one of them merges with what the run made of it,
    /// not with what is stored.
    touched: foldhash::HashSet<uuid::Uuid>,
    // Change rows waiting for the writer, and the writer's last batch.
    pending: Vec<NewChange>,
    pending_keys: Vec<ChangeKey>,
    writing: Option<JoinHandle<Result<(), StoreError>>>,
    /// On a delta run, the count of the kind's active links (for the hold
    /// thresholds), taken beside the read: at size L the count alone took
    /// most of a second of a 1% delta.
    counting: Option<JoinHandle<Result<u64, StoreError>>>,
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
            given_ids: false,
            domains: Vec::new(),
            stored_keys: false,
            in_run: Default::default(),
            touched: Default::default(),
            pending: Vec::new(),
            pending_keys: Vec::new(),
            writing: None,
            counting: None,
        }
    }

    /// Reconcile a delta: the records that changed since the last run, so
    /// nothing is absent and the links are looked up per page.
    pub fn for_delta(mut self) -> Self {
        self.delta = true;
        self
    }

    /// Reconcile records whose ids are the hub's ids of what they are: one
    /// no link knows is added as the entity of its own id, never matched
    /// by a domain. The caller has made sure no other entity has that id.
    pub fn with_given_ids(mut self) -> Self {
        self.given_ids = true;
        self
    }

    fn rules(&self) -> MergeRules<'_> {
        MergeRules {
            kind: self.kind.cli_name(),
            source: &self.source.id,
            masters: &self.masters,
            blanks: self.source.advanced.blank_values,
            ignore_class_name_edits: self.source.advanced.ignore_class_name_edits,
            fill_only: false,
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
        if self.delta {
            let store = self.store.clone();
            let (org_id, source_id) = (self.org_id.to_string(), self.source.id.clone());
            self.counting = Some(tokio::spawn(async move {
                store.count_active_links(&org_id, &source_id, name).await
            }));
        } else {
            let mut existing = 0u64;
            let links = &mut self.links;
            self.store
                .for_each_link(self.org_id, &self.source.id, name, |id, hash, active| {
                    existing += active as u64;
                    links.insert(link_key(id), LinkState::said(hash, active));
                })
                .await?;
            report.kind(kind).existing = existing;
        }
        self.domains = self.source.domains_for(name);
        self.in_run = Default::default();
        self.touched = Default::default();
        // On a first import the store has nothing to find: skip its lookups.
        self.stored_keys =
            !self.domains.is_empty() && self.store.has_keys(self.org_id, name).await?;
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
                .filter(|id| !self.links.contains_key(&link_key(id)))
                .collect();
            let links = &mut self.links;
            self.store
                .link_states(
                    self.org_id,
                    &self.source.id,
                    kind.cli_name(),
                    &ids,
                    |id, hash, active| {
                        links.insert(link_key(id), LinkState::said(hash, active));
                    },
                )
                .await?;
        }
        let mut known: Vec<(Record, u128)> = Vec::new();
        let mut fresh: Vec<(Record, u128)> = Vec::new();
        for r in records {
            let hash = r.hash();
            let key = link_key(&r.source_id);
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
                        s.active && s.said_the_same(hash)
                    };
                    if unchanged {
                        report.kind(kind).unchanged += 1;
                    } else {
                        known.push((r, hash));
                    }
                }
                None => {
                    self.links.insert(key, LinkState::first(hash, !r.deleted));
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
            self.fresh(fresh, report).await?;
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
            self.touch(&cur.entity_id);
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

    /// Note that this run changed a known record's entity (only where
    /// domains can find it): records this run adds or merges are in `in_run`.
    fn touch(&mut self, entity_id: &str) {
        if !self.domains.is_empty()
            && let Ok(id) = uuid::Uuid::parse_str(entity_id)
        {
            self.touched.insert(id);
        }
    }

    /// The records no link knows: each is matched by the domains, in
    /// priority order, against the store and against this run's records
    /// before it (first import included), then merged (unattended), added
    /// with a pair in the duplicates queue (manual) or added. Lookups are
    /// batched: one query per domain per page, and one more for records
    /// merging into an entity this run changed in an earlier batch.
    async fn fresh(
        &mut self,
        fresh: Vec<(Record, u128)>,
        report: &mut RunReport,
    ) -> Result<(), StoreError> {
        let stored = self.match_stored(&fresh).await?;
        let mut plans = Vec::with_capacity(fresh.len());
        // Entities records of this page go into: in the change set by the
        // time a later record of the page merges into one.
        let mut made_here: foldhash::HashSet<uuid::Uuid> = Default::default();
        // Entities this run changed in an earlier page, that records of this
        // page merge into: what the run made of them is read back, unless it
        // still waits here.
        let mut written_ids: Vec<String> = Vec::new();
        for ((r, _), stored) in fresh.iter().zip(stored) {
            let keys = self.domain_keys(r);
            let domains = if self.given_ids {
                0
            } else {
                self.domains.len()
            };
            let hit = (0..domains).find_map(|di| match &stored {
                Some((sdi, entity)) if *sdi == di => Some((di, entity.clone(), false)),
                _ => keys[di]
                    .and_then(|k| self.in_run.get(&k))
                    .map(|e| (di, e.to_string(), true)),
            });
            let plan = match hit {
                Some((domain, entity, from_run))
                    if self.domains[domain].mode == DomainMode::Unattended =>
                {
                    match uuid::Uuid::parse_str(&entity) {
                        Ok(id) => {
                            let here = made_here.contains(&id);
                            let in_run = from_run || here || self.touched.contains(&id);
                            if in_run
                                && !here
                                && !self.pending.iter().any(|c| c.entity_id == entity)
                            {
                                written_ids.push(entity);
                            }
                            Plan::Merge {
                                domain,
                                entity: id,
                                in_run,
                            }
                        }
                        // Not an id this hub made: merge with what is stored.
                        Err(_) => Plan::MergeStored { domain, entity },
                    }
                }
                Some((domain, primary, _)) => Plan::Pair {
                    entity: uuid::Uuid::now_v7(),
                    domain,
                    primary,
                },
                None if self.given_ids => Plan::AddGiven {
                    entity: r.source_id.clone(),
                },
                None => Plan::Add {
                    entity: uuid::Uuid::now_v7(),
                },
            };
            if let Some(id) = plan.entity() {
                made_here.insert(id);
                for key in keys.into_iter().flatten() {
                    self.in_run.entry(key).or_insert(id);
                }
            }
            plans.push(plan);
        }
        // What merging records merge with: the stored entity, or what this
        // run made of it (still waiting here, or already written).
        let stored_ids: Vec<String> = plans
            .iter()
            .filter_map(|p| match p {
                Plan::Merge {
                    entity,
                    in_run: false,
                    ..
                } => Some(entity.to_string()),
                Plan::MergeStored { entity, .. } => Some(entity.clone()),
                _ => None,
            })
            .collect();
        let mut stored_data = if stored_ids.is_empty() {
            HashMap::new()
        } else {
            let ids: Vec<&str> = stored_ids.iter().map(String::as_str).collect();
            self.store.entity_data(&ids).await?
        };
        let written = if written_ids.is_empty() {
            HashMap::new()
        } else {
            self.wait_for_writer().await?;
            let ids: Vec<&str> = written_ids.iter().map(String::as_str).collect();
            self.store.run_entity_data(self.run_id, &ids).await?
        };
        for ((r, hash), plan) in fresh.into_iter().zip(plans) {
            let base = match &plan {
                Plan::Merge {
                    entity,
                    in_run: true,
                    ..
                } => {
                    let id = entity.to_string();
                    self.pending
                        .iter()
                        .rev()
                        .find(|c| c.entity_id == id && c.after.is_some())
                        .map(|c| (c.after.clone(), Some(c.source_record_id.clone())))
                        .or_else(|| {
                            written
                                .get(&id)
                                .map(|(data, record)| (Some(data.clone()), Some(record.clone())))
                        })
                }
                Plan::Merge { entity, .. } => stored_data
                    .remove(&entity.to_string())
                    .map(|d| (Some(d), None)),
                Plan::MergeStored { entity, .. } => {
                    stored_data.remove(entity).map(|d| (Some(d), None))
                }
                _ => None,
            };
            self.new_record(r, hash, plan, base, report);
        }
        Ok(())
    }

    /// The key of each of the kind's domains for a record (hashed with the
    /// domain's place), none where the record lacks one of its attributes.
    fn domain_keys(&self, r: &Record) -> Vec<Option<u128>> {
        self.domains
            .iter()
            .enumerate()
            .map(|(di, d)| {
                domain_key(&d.attributes, |a| r.attrs.get(a).map(json_text)).map(|k| {
                    let mut h = xxhash_rust::xxh3::Xxh3::new();
                    h.update(&(di as u32).to_le_bytes());
                    h.update(k.as_bytes());
                    h.digest128()
                })
            })
            .collect()
    }

    /// For each new record, the first domain (in priority order) that finds
    /// an existing entity: one query per domain per page.
    async fn match_stored(
        &self,
        fresh: &[(Record, u128)],
    ) -> Result<Vec<Option<(usize, String)>>, StoreError> {
        let mut found: Vec<Option<(usize, String)>> = vec![None; fresh.len()];
        if !self.stored_keys {
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
                .find_by_keys(self.org_id, self.kind.cli_name(), &name, &keys)
                .await?;
            for (i, key) in wanted {
                if let Some(entity) = hits.get(&key) {
                    found[i] = Some((di, entity.clone()));
                }
            }
        }
        Ok(found)
    }

    /// A record no link knows, as its plan says. `base`: for a merge, the
    /// data it merges with and, when a record of this run made it, which.
    fn new_record(
        &mut self,
        r: Record,
        hash: u128,
        plan: Plan,
        base: Option<(Option<String>, Option<String>)>,
        report: &mut RunReport,
    ) {
        let kind = self.kind;
        let seq = self.next_seq();
        let record_hash = Some(format!("{hash:032x}"));
        let (entity_id, domain) = match plan {
            Plan::Merge { entity, domain, .. } => (entity.to_string(), domain),
            Plan::MergeStored { entity, domain } => (entity, domain),
            Plan::Pair {
                entity,
                domain,
                primary,
            } => {
                let name = self.domains[domain].attributes.join("+");
                report.duplicates += 1;
                report.warn(
                    kind,
                    &r.source_id,
                    format!(
                        "may be the same as another {} (domain {name}): added, and queued for review in Duplicates",
                        kind.cli_name()
                    ),
                );
                self.add(
                    seq,
                    r,
                    entity.to_string(),
                    record_hash,
                    Some(DuplicateOf {
                        entity_id: primary,
                        domain: name,
                    }),
                    report,
                );
                return;
            }
            Plan::Add { entity } => {
                self.add(seq, r, entity.to_string(), record_hash, None, report);
                return;
            }
            Plan::AddGiven { entity } => {
                self.add(seq, r, entity, record_hash, None, report);
                return;
            }
        };
        // A merge whose entity is gone (an admin resolved it away meanwhile): an add.
        let Some((before_text, first)) = base else {
            let id = uuid::Uuid::now_v7().to_string();
            self.add(seq, r, id, record_hash, None, report);
            return;
        };
        let name = self.domains[domain].attributes.join("+");
        let before = before_text.as_deref().map(parse_map);
        // Merged into what another record of this source supplies: the
        // first of the two stands, this one fills blanks.
        let ours = before.as_ref().is_some_and(|b| {
            b.values()
                .any(|c| c.get("s").and_then(Json::as_str) == Some(self.source.id.as_str()))
        });
        let rules = MergeRules {
            fill_only: ours,
            ..self.rules()
        };
        let after = merge(before.as_ref(), &r.attrs, &rules);
        let mut d = diff(before.as_ref(), &after);
        d.insert("merged_by".into(), json!(name));
        if let Some(first) = &first {
            report.warn(
                kind,
                &r.source_id,
                format!(
                    "the same {} as `{first}` of this run (domain {name}): merged into one",
                    kind.cli_name()
                ),
            );
        }
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
    }

    /// A new entity straight from a record.
    fn add(
        &mut self,
        seq: i64,
        r: Record,
        entity_id: String,
        record_hash: Option<String>,
        duplicate: Option<DuplicateOf>,
        report: &mut RunReport,
    ) {
        let kind = self.kind;
        report.kind(kind).add += 1;
        self.keys_of(seq, &entity_id, |a| {
            r.attrs.get(a).filter(|v| !is_blank(v)).map(json_text)
        });
        self.pending.push(NewChange {
            seq,
            kind,
            action: Action::Add,
            after: Some(added_data(&r.attrs, &self.source.id)),
            entity_id,
            source_record_id: r.source_id,
            before: None,
            diff: None,
            record_hash,
            visible: true,
            duplicate,
        });
    }

    /// End a kind. `bulk`: what the source no longer sends is deleted.
    pub async fn end_kind(&mut self, bulk: bool, report: &mut RunReport) -> Result<(), StoreError> {
        let kind = self.kind;
        if let Some(counting) = self.counting.take() {
            report.kind(kind).existing = counting
                .await
                .map_err(|e| StoreError::Corrupt(format!("the count of links stopped: {e}")))??;
        }
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
                        if links.get(&link_key(record)).is_some_and(|s| !s.seen) {
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

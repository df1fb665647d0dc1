//! A rule instance for one run: a page of records in, one verdict per record
//! out, metered with fuel so a rule's cost is deterministic.
//!
//! This is also the boundary's codec for rules. A page of the pipeline's
//! [`Record`]s crosses packed (`rule-api.batch` in `wit/0.1.0/rule.wit`):
//! every string of the page in one buffer, records and attributes as flat
//! rows pointing into it, so handing a page to the guest is a few copies
//! rather than a guest allocation per string. When the rule's manifest
//! declares `reads`, each record carries only those attributes.
//!
//! A `drop` verdict's reason is made printable (escapes, controls and line
//! breaks taken out) and cut to the plugin's reason cap with "…", so the run
//! report stays small whatever a rule says.
//!
//! A `replace` verdict is checked (`validate::verdicts`, with the plugin's
//! value cap) and merged back into the record it answers: with `reads`, the
//! attributes the rule read are replaced by those it returned (one it read
//! and left out is removed) and every attribute it did not read is kept;
//! without `reads`, the returned attributes are the record's. Kind, source
//! id and deletion stay the record's own.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value as Json;

use super::bindings::rule::Rule;
use super::bindings::rule::exports::homeroom::plugin::rule_api::{Batch, Verdict};
use super::bindings::types::{Entity, EntityKind};
use super::bindings::v0_1_0::rule::Rule as RuleV1;
use super::compat;
use super::error::{Failure, PluginCallError};
use super::state::{Sandbox, SessionOptions, plugin_call};
use super::{LoadedPlugin, Pre, Runtime, validate};
use crate::capabilities::log::one_line;
use crate::model::record::{Record, json_text};

pub struct RuleSession {
    sandbox: Sandbox,
    instance: Instance,
    /// The attributes the manifest says the rule reads; `None` for all.
    reads: Option<Vec<String>>,
    /// Reused from page to page.
    batch: Batch,
}

/// An instance by the API version it speaks.
enum Instance {
    V2(Rule),
    V1(RuleV1),
}

impl RuleSession {
    pub async fn start(
        runtime: &Runtime,
        plugin: Arc<LoadedPlugin>,
        options: SessionOptions,
    ) -> Result<RuleSession, PluginCallError> {
        let pre = match &plugin.pre {
            Pre::Rule(pre) => Ok(pre.clone()),
            Pre::RuleV1(pre) => Err(pre.clone()),
            Pre::Connector(_) | Pre::ConnectorV1(_) => {
                return Err(PluginCallError {
                    plugin: plugin.package.id().to_string(),
                    call: "start".into(),
                    failure: Failure::Instantiate("this plugin is a connector, not a rule".into()),
                    recent_log: Vec::new(),
                });
            }
        };
        let reads = plugin.package.manifest.reads.clone();
        let mut sandbox = Sandbox::new(runtime, plugin, options).await?;
        let instance = match pre {
            Ok(pre) => Instance::V2(plugin_call!(sandbox, "start".to_string(), |store| pre
                .instantiate_async(store))?),
            Err(pre) => Instance::V1(plugin_call!(sandbox, "start".to_string(), |store| pre
                .instantiate_async(store))?),
        };
        Ok(RuleSession {
            sandbox,
            instance,
            reads,
            batch: empty_batch(),
        })
    }

    pub fn plugin_id(&self) -> &str {
        self.sandbox.plugin_id()
    }

    /// The attributes this rule is sent (`None`: all of them).
    pub fn reads(&self) -> Option<&[String]> {
        self.reads.as_deref()
    }

    /// Run the rule on a page. `records` keeps the records the rule kept,
    /// in order, with any replacement merged in; the records it dropped come
    /// back with the rule's reason. On an error `records` is left empty.
    pub async fn apply(
        &mut self,
        records: &mut Vec<Record>,
    ) -> Result<Vec<(Record, String)>, PluginCallError> {
        let call = format!("apply({} records)", records.len());
        let page = std::mem::take(records);
        if let Err(why) = pack(&mut self.batch, &page, self.reads.as_deref()) {
            return Err(self.sandbox.failed(&call, Failure::InvalidData(why)));
        }
        let out = match &self.instance {
            Instance::V2(i) => {
                let api = i.homeroom_plugin_rule_api();
                let batch = &self.batch;
                plugin_call!(self.sandbox, call.clone(), |store| api
                    .call_apply(store, batch))?
            }
            Instance::V1(i) => {
                let api = i.homeroom_plugin_rule_api();
                let batch = compat::batch_to_v1(&mut self.batch);
                let out = plugin_call!(self.sandbox, call.clone(), |store| api
                    .call_apply(store, &batch));
                compat::batch_from_v1(&mut self.batch, batch);
                out?.map(|verdicts| verdicts.into_iter().map(compat::verdict_of_v1).collect())
            }
        };
        let verdicts =
            out.map_err(|e| self.sandbox.failed(&call, Failure::from_plugin_error(e)))?;
        let checks = validate::Checks {
            value_bytes: self.sandbox.caps().value_bytes,
            names: false,
        };
        validate::verdicts(
            page.iter().map(|r| (r.kind, r.source_id.as_str())),
            &verdicts,
            checks,
        )
        .map_err(|m| self.sandbox.failed(&call, Failure::InvalidData(m)))?;
        let mut dropped = Vec::new();
        records.reserve(page.len());
        let reason_bytes = self.sandbox.caps().reason_bytes;
        for (record, verdict) in page.into_iter().zip(verdicts) {
            match verdict {
                Verdict::Keep => records.push(record),
                Verdict::Drop(why) => dropped.push((record, one_line(&why, reason_bytes))),
                Verdict::Replace(entity) => {
                    let merged = merge(record, entity, self.reads.as_deref());
                    match merged {
                        Ok(r) => records.push(r),
                        Err(m) => {
                            records.clear();
                            return Err(self.sandbox.failed(&call, Failure::InvalidData(m)));
                        }
                    }
                }
            }
        }
        Ok(dropped)
    }

    /// The batch a rule reading `reads` (`None`: everything) gets for
    /// `records`, exactly as [`RuleSession::apply`] sends it. For
    /// benchmarks and tests that run a rule's logic natively.
    pub fn pack(records: &[Record], reads: Option<&[String]>) -> Result<Batch, String> {
        let mut batch = empty_batch();
        pack(&mut batch, records, reads)?;
        Ok(batch)
    }
}

fn empty_batch() -> Batch {
    Batch {
        names: Vec::new(),
        entities: Vec::new(),
        attributes: Vec::new(),
        items: Vec::new(),
        text: String::new(),
    }
}

/// The packed batch's layout (`rule-api.batch` in `rule.wit`), which the
/// SDK reads on the other side; `tests/tests/batch_layout.rs` pins both to
/// the WIT.
pub mod wire {
    use crate::bindings::types::EntityKind;

    /// Words per row of the batch's lists.
    pub const ENTITY_WORDS: usize = 8;
    pub const ATTRIBUTE_WORDS: usize = 4;
    pub const ITEM_WORDS: usize = 3;
    /// A date last modified that is not there.
    pub const NONE: u32 = u32::MAX;

    /// `value` case indices in `types.wit` (the host never sends a date as
    /// its own case: dates travel as text).
    pub mod tag {
        pub const NULL: u32 = 0;
        pub const TEXT: u32 = 1;
        pub const INTEGER: u32 = 2;
        pub const NUMBER: u32 = 3;
        pub const BOOLEAN: u32 = 4;
        pub const TEXTS: u32 = 7;
        pub const REFERENCE: u32 = 8;
        pub const REFERENCES: u32 = 9;
    }

    /// An `entity-kind` case index in `types.wit`.
    pub fn kind_index(kind: EntityKind) -> u32 {
        match kind {
            EntityKind::Org => 0,
            EntityKind::AcademicSession => 1,
            EntityKind::Course => 2,
            EntityKind::Class => 3,
            EntityKind::User => 4,
            EntityKind::Enrollment => 5,
            EntityKind::Demographics => 6,
            EntityKind::UserAgent => 7,
            EntityKind::Category => 8,
            EntityKind::LineItem => 9,
            EntityKind::Result => 10,
        }
    }
}

use wire::{ATTRIBUTE_WORDS, ENTITY_WORDS, ITEM_WORDS, NONE, kind_index, tag};

/// Pack `records` into `batch` (its buffers reused), each record carrying
/// the attributes in `reads`, or all of its attributes.
fn pack(batch: &mut Batch, records: &[Record], reads: Option<&[String]>) -> Result<(), String> {
    batch.entities.clear();
    batch.attributes.clear();
    batch.items.clear();
    batch.text.clear();
    batch.entities.reserve(records.len() * ENTITY_WORDS);
    let mut p = Packer { batch };
    match reads {
        Some(reads) => {
            if p.batch.names.as_slice() != reads {
                p.batch.names = reads.to_vec();
            }
            for r in records {
                let first = p.batch.attributes.len() / ATTRIBUTE_WORDS;
                for (i, name) in reads.iter().enumerate() {
                    if let Some(v) = r.attrs.get(name) {
                        p.attribute(i as u32, v)?;
                    }
                }
                p.entity(r, first)?;
            }
        }
        None => {
            p.batch.names.clear();
            let mut index: HashMap<&str, u32> = HashMap::new();
            for r in records {
                let first = p.batch.attributes.len() / ATTRIBUTE_WORDS;
                for (name, v) in &r.attrs {
                    let i = match index.get(name.as_str()) {
                        Some(i) => *i,
                        None => {
                            let i = wire_u32(p.batch.names.len())?;
                            p.batch.names.push(name.clone());
                            index.insert(name, i);
                            i
                        }
                    };
                    p.attribute(i, v)?;
                }
                p.entity(r, first)?;
            }
        }
    }
    Ok(())
}

struct Packer<'a> {
    batch: &'a mut Batch,
}

/// A length or position as the wire's `u32`.
fn wire_u32(n: usize) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| {
        "the page is too large for one rule call (over 4 GiB of text); read smaller pages".into()
    })
}

impl Packer<'_> {
    /// Append `s` to the text; its span.
    fn text(&mut self, s: &str) -> Result<[u32; 2], String> {
        let start = wire_u32(self.batch.text.len())?;
        self.batch.text.push_str(s);
        Ok([start, wire_u32(s.len())?])
    }

    /// The record's row, its attributes being the rows from `first` on.
    fn entity(&mut self, r: &Record, first: usize) -> Result<(), String> {
        let [id_start, id_len] = self.text(&r.source_id)?;
        let [m_start, m_len] = match &r.modified {
            Some(m) => self.text(m)?,
            None => [NONE, 0],
        };
        let count = self.batch.attributes.len() / ATTRIBUTE_WORDS - first;
        self.batch.entities.extend_from_slice(&[
            kind_index(r.kind),
            u32::from(r.deleted),
            id_start,
            id_len,
            m_start,
            m_len,
            wire_u32(first)?,
            wire_u32(count)?,
        ]);
        Ok(())
    }

    fn item(&mut self, kind: u32, s: &str) -> Result<(), String> {
        let [start, len] = self.text(s)?;
        self.batch.items.extend_from_slice(&[kind, start, len]);
        Ok(())
    }

    fn next_item(&self) -> Result<u32, String> {
        wire_u32(self.batch.items.len() / ITEM_WORDS)
    }

    /// An attribute row: the record's JSON value read as `Record::to_entity` reads it.
    fn attribute(&mut self, name: u32, j: &Json) -> Result<(), String> {
        let split = |w: u64| [w as u32, (w >> 32) as u32];
        let [t, a, b] = match j {
            Json::Null => [tag::NULL, 0, 0],
            Json::Bool(v) => [tag::BOOLEAN, u32::from(*v), 0],
            Json::Number(n) => match n.as_i64() {
                Some(i) => {
                    let [a, b] = split(i as u64);
                    [tag::INTEGER, a, b]
                }
                None => {
                    let [a, b] = split(n.as_f64().unwrap_or(0.0).to_bits());
                    [tag::NUMBER, a, b]
                }
            },
            Json::String(s) => {
                let [a, b] = self.text(s)?;
                [tag::TEXT, a, b]
            }
            Json::Array(items) => {
                let first = self.next_item()?;
                if !items.is_empty() && items.iter().all(|i| json_reference(i).is_some()) {
                    for (kind, id) in items.iter().filter_map(json_reference) {
                        self.item(kind_index(kind), id)?;
                    }
                    [tag::REFERENCES, first, wire_u32(items.len())?]
                } else {
                    for i in items {
                        match i {
                            Json::String(s) => self.item(0, s)?,
                            other => self.item(0, &json_text(other))?,
                        }
                    }
                    [tag::TEXTS, first, wire_u32(items.len())?]
                }
            }
            Json::Object(_) => match json_reference(j) {
                Some((kind, id)) => {
                    let row = self.next_item()?;
                    self.item(kind_index(kind), id)?;
                    [tag::REFERENCE, row, 1]
                }
                None => {
                    let [a, b] = self.text(&j.to_string())?;
                    [tag::TEXT, a, b]
                }
            },
        };
        self.batch.attributes.extend_from_slice(&[name, t, a, b]);
        Ok(())
    }
}

/// `{"kind": ..., "id": ...}`, the record's form of a reference.
fn json_reference(j: &Json) -> Option<(EntityKind, &str)> {
    let obj = j.as_object()?;
    if obj.len() != 2 {
        return None;
    }
    let kind = EntityKind::from_cli(obj.get("kind")?.as_str()?).ok()?;
    Some((kind, obj.get("id")?.as_str()?))
}

/// A checked replacement merged into the record it answers (see the module doc).
fn merge(record: Record, entity: Entity, reads: Option<&[String]>) -> Result<Record, String> {
    let returned = Record::from_entity(entity);
    let mut attrs = match reads {
        Some(reads) => {
            let mut attrs = record.attrs;
            for name in reads {
                attrs.remove(name);
            }
            attrs
        }
        None => Default::default(),
    };
    attrs.extend(returned.attrs);
    if attrs.len() > validate::MAX_ATTRIBUTES {
        return Err(format!(
            "the rule's change to {} record `{}` leaves it {} attributes (the limit is {})",
            record.kind.cli_name(),
            validate::short(&record.source_id),
            attrs.len(),
            validate::MAX_ATTRIBUTES
        ));
    }
    Ok(Record {
        kind: record.kind,
        source_id: record.source_id,
        deleted: record.deleted,
        modified: returned.modified,
        attrs,
    })
}

#[cfg(test)]
mod tests {
    use super::super::bindings::types::Status;
    use super::*;
    use serde_json::json;

    fn record() -> Record {
        Record {
            kind: EntityKind::User,
            source_id: "u1".into(),
            deleted: false,
            modified: Some("2025-01-02T03:04:05Z".into()),
            attrs: [
                ("role", json!("student")),
                ("grades", json!(["09", 10])),
                ("school", json!({"kind": "org", "id": "o1"})),
                (
                    "orgs",
                    json!([{"kind": "org", "id": "o1"}, {"kind": "org", "id": "o2"}]),
                ),
                ("age", json!(15)),
                ("gpa", json!(3.5)),
                ("enabledUser", json!(true)),
                ("nickname", json!(null)),
                ("extra", json!({"a": 1})),
                ("empty", json!([])),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        }
    }

    /// The batch read back into entities, as a guest would see them.
    fn unpack(b: &Batch) -> Vec<Entity> {
        use super::super::bindings::types::{Attribute, Reference, Value};
        let text =
            |start: u32, len: u32| b.text[start as usize..(start + len) as usize].to_string();
        let kind = |i: u32| {
            EntityKind::ALL
                .into_iter()
                .find(|k| kind_index(*k) == i)
                .unwrap()
        };
        let item = |row: u32| {
            let w = &b.items[row as usize * ITEM_WORDS..][..ITEM_WORDS];
            (w[0], text(w[1], w[2]))
        };
        let reference = |row: u32| {
            let (k, id) = item(row);
            Reference {
                kind: kind(k),
                source_id: id,
            }
        };
        b.entities
            .chunks(ENTITY_WORDS)
            .map(|e| Entity {
                kind: kind(e[0]),
                source_id: text(e[2], e[3]),
                status: if e[1] == 1 {
                    Status::ToBeDeleted
                } else {
                    Status::Active
                },
                date_last_modified: (e[4] != NONE).then(|| text(e[4], e[5])),
                attributes: b.attributes[e[6] as usize * ATTRIBUTE_WORDS..]
                    [..e[7] as usize * ATTRIBUTE_WORDS]
                    .chunks(ATTRIBUTE_WORDS)
                    .map(|a| Attribute {
                        name: b.names[a[0] as usize].clone(),
                        value: match a[1] {
                            tag::NULL => Value::Null,
                            tag::TEXT => Value::Text(text(a[2], a[3])),
                            tag::INTEGER => {
                                Value::Integer((a[2] as u64 | (a[3] as u64) << 32) as i64)
                            }
                            tag::NUMBER => {
                                Value::Number(f64::from_bits(a[2] as u64 | (a[3] as u64) << 32))
                            }
                            tag::BOOLEAN => Value::Boolean(a[2] == 1),
                            tag::TEXTS => {
                                Value::Texts((a[2]..a[2] + a[3]).map(|r| item(r).1).collect())
                            }
                            tag::REFERENCE => Value::Reference(reference(a[2])),
                            tag::REFERENCES => {
                                Value::References((a[2]..a[2] + a[3]).map(reference).collect())
                            }
                            other => panic!("tag {other}"),
                        },
                    })
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn a_packed_page_reads_as_the_records_entities() {
        let mut other = record();
        other.source_id = "u2".into();
        other.deleted = true;
        other.modified = None;
        other.attrs.insert("only-here".into(), json!("x"));
        let page = vec![record(), other];
        let batch = RuleSession::pack(&page, None).unwrap();
        let seen = unpack(&batch);
        let want: Vec<Entity> = page.iter().map(Record::to_entity).collect();
        assert_eq!(format!("{seen:?}"), format!("{want:?}"));
    }

    #[test]
    fn reads_sends_only_the_declared_attributes() {
        let reads = vec![
            "grades".to_string(),
            "role".to_string(),
            "absent".to_string(),
        ];
        let batch = RuleSession::pack(&[record()], Some(&reads)).unwrap();
        let seen = &unpack(&batch)[0];
        let names: Vec<&str> = seen.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["grades", "role"]);
        assert_eq!(seen.source_id, "u1");
        assert_eq!(
            seen.date_last_modified.as_deref(),
            Some("2025-01-02T03:04:05Z")
        );
    }

    #[test]
    fn a_replacement_keeps_what_the_rule_did_not_read() {
        use super::super::bindings::types::{Attribute, Value};
        let reads = vec!["role".to_string(), "nickname".to_string()];
        let mut out = Entity {
            kind: EntityKind::User,
            source_id: "u1".into(),
            status: Status::Active,
            date_last_modified: Some("2025-01-02T03:04:05Z".into()),
            attributes: vec![
                Attribute {
                    name: "role".into(),
                    value: Value::Text("teacher".into()),
                },
                Attribute {
                    name: "added".into(),
                    value: Value::Boolean(true),
                },
            ],
        };
        let merged = merge(record(), out.clone(), Some(&reads)).unwrap();
        assert_eq!(merged.attrs["role"], json!("teacher"));
        assert_eq!(merged.attrs["added"], json!(true));
        assert_eq!(merged.attrs["grades"], record().attrs["grades"]);
        assert!(!merged.attrs.contains_key("nickname"), "read and left out");
        assert_eq!(merged.attrs.len(), record().attrs.len());

        // Without `reads` the returned attributes are the record's.
        out.attributes.truncate(1);
        let merged = merge(record(), out, None).unwrap();
        assert_eq!(merged.attrs.len(), 1);
        assert_eq!(merged.attrs["role"], json!("teacher"));
    }
}

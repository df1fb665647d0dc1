//! Rules: the batch a filter or transformation rule gets, read through
//! borrowed views, and the trait a rule implements.
//!
//! The host hands a rule its batch packed (see `wit/0.2.0/rule.wit`): every
//! string of the batch in one buffer, records and attributes as flat rows
//! pointing into it. [`Batch`] reads it in place: [`Batch::records`] yields a
//! [`RecordRef`] per record, whose [`RecordRef::get`] and
//! [`RecordRef::text`] borrow from the batch, so a filter allocates nothing
//! to look at a record.
//!
//! A transformation turns the record it changes into an owned [`Entity`]
//! ([`RecordRef::to_entity`]), edits it and answers [`Verdict::Replace`].
//!
//! When the rule's manifest declares `reads = ["role", "grades"]`, each record
//! carries only those attributes, plus its kind, source id, status and date
//! last modified. A transformation's replacement then states the attributes
//! it read as they should now be (one it read and left out is removed) and any
//! it adds; the host keeps every attribute the rule did not read.
//!
//! ```ignore
//! use homeroom_sdk::prelude::*;
//!
//! struct OnlyActive;
//! impl Rule for OnlyActive {
//!     fn apply(batch: &Batch) -> Result<Vec<Verdict>, PluginError> {
//!         Ok(batch
//!             .records()
//!             .map(|r| match r.get("enabledUser") {
//!                 Some(ValueRef::Boolean(false)) => Verdict::Drop("account disabled".into()),
//!                 _ => Verdict::Keep,
//!             })
//!             .collect())
//!     }
//! }
//! homeroom_sdk::export_rule!(OnlyActive);
//! ```

use std::collections::HashMap;

use crate::wit::types::{Attribute, Entity, EntityKind, PluginError, Reference, Status, Value};

/// The packed batch as the WIT declares it (`rule-api.batch`); the host
/// packs it on the other side, and `tests/tests/batch_layout.rs` pins both
/// to the WIT.
pub mod wire {
    pub use crate::rule_bindings::exports::homeroom::plugin::rule_api::Batch;
    use crate::wit::types::EntityKind;

    /// Words per row of the batch's lists.
    pub const ENTITY_WORDS: usize = 8;
    pub const ATTRIBUTE_WORDS: usize = 4;
    pub const ITEM_WORDS: usize = 3;
    /// A date last modified that is not there.
    pub const NONE: u32 = u32::MAX;

    /// `value` case indices in `types.wit`.
    pub mod tag {
        pub const NULL: u32 = 0;
        pub const TEXT: u32 = 1;
        pub const INTEGER: u32 = 2;
        pub const NUMBER: u32 = 3;
        pub const BOOLEAN: u32 = 4;
        pub const DATE: u32 = 5;
        pub const DATE_TIME: u32 = 6;
        pub const TEXTS: u32 = 7;
        pub const REFERENCE: u32 = 8;
        pub const REFERENCES: u32 = 9;
    }

    /// `entity-kind` in case order of `types.wit`.
    pub const KINDS: [EntityKind; 11] = [
        EntityKind::Org,
        EntityKind::AcademicSession,
        EntityKind::Course,
        EntityKind::Class,
        EntityKind::User,
        EntityKind::Enrollment,
        EntityKind::Demographics,
        EntityKind::UserAgent,
        EntityKind::Category,
        EntityKind::LineItem,
        EntityKind::Result,
    ];
}

pub use crate::rule_bindings::exports::homeroom::plugin::rule_api::Verdict;

use wire::{ATTRIBUTE_WORDS, ENTITY_WORDS, ITEM_WORDS, KINDS, NONE, tag};

fn kind_of(index: u32) -> EntityKind {
    KINDS
        .get(index as usize)
        .copied()
        .unwrap_or(EntityKind::Org)
}

fn kind_index(kind: EntityKind) -> u32 {
    KINDS.iter().position(|k| *k == kind).unwrap_or(0) as u32
}

/// A filter or transformation rule.
pub trait Rule {
    /// Decide for each record of the batch: one verdict per record, in order.
    fn apply(batch: &Batch) -> Result<Vec<Verdict>, PluginError>;
}

/// One batch of records, read in place.
#[derive(Debug, Clone)]
pub struct Batch {
    wire: wire::Batch,
}

impl Batch {
    /// The batch as it crossed the boundary.
    pub fn from_wire(wire: wire::Batch) -> Batch {
        Batch { wire }
    }

    /// Pack owned entities into a batch, as the host would send them (for
    /// unit tests and local harnesses).
    pub fn from_entities(entities: &[Entity]) -> Batch {
        let mut p = Packer {
            wire: wire::Batch {
                names: Vec::new(),
                entities: Vec::new(),
                attributes: Vec::new(),
                items: Vec::new(),
                text: String::new(),
            },
            names: HashMap::new(),
        };
        for e in entities {
            p.push(e);
        }
        Batch { wire: p.wire }
    }

    pub fn len(&self) -> usize {
        self.wire.entities.len() / ENTITY_WORDS
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record at `index`.
    pub fn get(&self, index: usize) -> Option<RecordRef<'_>> {
        let row = self
            .wire
            .entities
            .get(index * ENTITY_WORDS..(index + 1) * ENTITY_WORDS)?;
        Some(RecordRef {
            batch: &self.wire,
            row,
        })
    }

    /// Every record, in order.
    pub fn records(&self) -> impl ExactSizeIterator<Item = RecordRef<'_>> + '_ {
        self.wire
            .entities
            .chunks_exact(ENTITY_WORDS)
            .map(move |row| RecordRef {
                batch: &self.wire,
                row,
            })
    }

    /// The packed form.
    pub fn wire(&self) -> &wire::Batch {
        &self.wire
    }
}

/// `count` rows of `words` words from row `first`; empty when out of range.
fn rows(list: &[u32], words: usize, first: u32, count: u32) -> &[u32] {
    let start = (first as usize).saturating_mul(words);
    let len = (count as usize).saturating_mul(words);
    list.get(start..start.saturating_add(len)).unwrap_or(&[])
}

fn text(batch: &wire::Batch, start: u32, len: u32) -> &str {
    let start = start as usize;
    batch
        .text
        .get(start..start.saturating_add(len as usize))
        .unwrap_or("")
}

/// One record of a batch.
#[derive(Clone, Copy)]
pub struct RecordRef<'a> {
    batch: &'a wire::Batch,
    /// `ENTITY_WORDS` words.
    row: &'a [u32],
}

impl<'a> RecordRef<'a> {
    pub fn kind(&self) -> EntityKind {
        kind_of(self.row[0])
    }

    pub fn source_id(&self) -> &'a str {
        text(self.batch, self.row[2], self.row[3])
    }

    pub fn status(&self) -> Status {
        if self.row[1] == 1 {
            Status::ToBeDeleted
        } else {
            Status::Active
        }
    }

    pub fn date_last_modified(&self) -> Option<&'a str> {
        (self.row[4] != NONE).then(|| text(self.batch, self.row[4], self.row[5]))
    }

    fn attribute_rows(&self) -> std::slice::ChunksExact<'a, u32> {
        rows(
            &self.batch.attributes,
            ATTRIBUTE_WORDS,
            self.row[6],
            self.row[7],
        )
        .chunks_exact(ATTRIBUTE_WORDS)
    }

    /// The record's attributes (only those the manifest `reads`, when it declares them).
    pub fn attributes(&self) -> impl Iterator<Item = (&'a str, ValueRef<'a>)> + 'a {
        let batch = self.batch;
        self.attribute_rows()
            .map(move |a| (name(batch, a[0]), ValueRef::new(batch, a)))
    }

    /// An attribute's value.
    pub fn get(&self, wanted: &str) -> Option<ValueRef<'a>> {
        let batch = self.batch;
        self.attribute_rows()
            .find(|a| name(batch, a[0]) == wanted)
            .map(|a| ValueRef::new(batch, a))
    }

    /// A text-like attribute's value (text, date, date-time).
    pub fn text(&self, name: &str) -> Option<&'a str> {
        self.get(name).and_then(|v| v.as_str())
    }

    /// The record as an owned entity, to change and answer as [`Verdict::Replace`].
    pub fn to_entity(&self) -> Entity {
        Entity {
            kind: self.kind(),
            source_id: self.source_id().to_string(),
            status: self.status(),
            date_last_modified: self.date_last_modified().map(str::to_string),
            attributes: self
                .attributes()
                .map(|(name, value)| Attribute {
                    name: name.to_string(),
                    value: value.to_value(),
                })
                .collect(),
        }
    }
}

impl std::fmt::Debug for RecordRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entry(&"kind", &self.kind())
            .entry(&"source_id", &self.source_id())
            .entries(self.attributes())
            .finish()
    }
}

fn name(batch: &wire::Batch, index: u32) -> &str {
    batch
        .names
        .get(index as usize)
        .map(String::as_str)
        .unwrap_or("")
}

/// A reference read in place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReferenceRef<'a> {
    pub kind: EntityKind,
    pub source_id: &'a str,
}

/// An attribute value read in place (the borrowed form of [`Value`]).
#[derive(Debug, Clone)]
pub enum ValueRef<'a> {
    Null,
    Text(&'a str),
    Integer(i64),
    Number(f64),
    Boolean(bool),
    Date(&'a str),
    DateTime(&'a str),
    Texts(Texts<'a>),
    Reference(ReferenceRef<'a>),
    References(References<'a>),
}

impl<'a> ValueRef<'a> {
    /// An attribute row (`ATTRIBUTE_WORDS` words) read as a value.
    fn new(batch: &'a wire::Batch, row: &'a [u32]) -> ValueRef<'a> {
        let (a, b) = (row[2], row[3]);
        let wide = u64::from(a) | (u64::from(b) << 32);
        let items = || rows(&batch.items, ITEM_WORDS, a, b);
        match row[1] {
            tag::TEXT => ValueRef::Text(text(batch, a, b)),
            tag::INTEGER => ValueRef::Integer(wide as i64),
            tag::NUMBER => ValueRef::Number(f64::from_bits(wide)),
            tag::BOOLEAN => ValueRef::Boolean(a == 1),
            tag::DATE => ValueRef::Date(text(batch, a, b)),
            tag::DATE_TIME => ValueRef::DateTime(text(batch, a, b)),
            tag::TEXTS => ValueRef::Texts(Texts {
                batch,
                items: items().chunks_exact(ITEM_WORDS),
            }),
            tag::REFERENCE => match rows(&batch.items, ITEM_WORDS, a, 1) {
                [kind, start, len] => ValueRef::Reference(ReferenceRef {
                    kind: kind_of(*kind),
                    source_id: text(batch, *start, *len),
                }),
                _ => ValueRef::Null,
            },
            tag::REFERENCES => ValueRef::References(References {
                batch,
                items: items().chunks_exact(ITEM_WORDS),
            }),
            _ => ValueRef::Null,
        }
    }

    /// The value as text, when it is text-like (text, date, date-time).
    pub fn as_str(&self) -> Option<&'a str> {
        match *self {
            ValueRef::Text(s) | ValueRef::Date(s) | ValueRef::DateTime(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, ValueRef::Null)
    }

    /// An owned copy.
    pub fn to_value(&self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Text(s) => Value::Text(s.to_string()),
            ValueRef::Integer(i) => Value::Integer(*i),
            ValueRef::Number(n) => Value::Number(*n),
            ValueRef::Boolean(b) => Value::Boolean(*b),
            ValueRef::Date(s) => Value::Date(s.to_string()),
            ValueRef::DateTime(s) => Value::DateTime(s.to_string()),
            ValueRef::Texts(t) => Value::Texts(t.clone().map(str::to_string).collect()),
            ValueRef::Reference(r) => Value::Reference(Reference {
                kind: r.kind,
                source_id: r.source_id.to_string(),
            }),
            ValueRef::References(rs) => Value::References(
                rs.clone()
                    .map(|r| Reference {
                        kind: r.kind,
                        source_id: r.source_id.to_string(),
                    })
                    .collect(),
            ),
        }
    }
}

/// The items of a list of texts, read in place.
#[derive(Clone)]
pub struct Texts<'a> {
    batch: &'a wire::Batch,
    items: std::slice::ChunksExact<'a, u32>,
}

impl<'a> Iterator for Texts<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let item = self.items.next()?;
        Some(text(self.batch, item[1], item[2]))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl ExactSizeIterator for Texts<'_> {}

impl std::fmt::Debug for Texts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// The items of a list of references, read in place.
#[derive(Clone)]
pub struct References<'a> {
    batch: &'a wire::Batch,
    items: std::slice::ChunksExact<'a, u32>,
}

impl<'a> Iterator for References<'a> {
    type Item = ReferenceRef<'a>;
    fn next(&mut self) -> Option<ReferenceRef<'a>> {
        let item = self.items.next()?;
        Some(ReferenceRef {
            kind: kind_of(item[0]),
            source_id: text(self.batch, item[1], item[2]),
        })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl ExactSizeIterator for References<'_> {}

impl std::fmt::Debug for References<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// Packs owned entities the way the host packs its records.
struct Packer {
    wire: wire::Batch,
    names: HashMap<String, u32>,
}

impl Packer {
    fn text(&mut self, s: &str) -> [u32; 2] {
        let start = self.wire.text.len() as u32;
        self.wire.text.push_str(s);
        [start, s.len() as u32]
    }

    fn item(&mut self, kind: u32, s: &str) {
        let [start, len] = self.text(s);
        self.wire.items.extend_from_slice(&[kind, start, len]);
    }

    fn next_item(&self) -> u32 {
        (self.wire.items.len() / ITEM_WORDS) as u32
    }

    fn push(&mut self, e: &Entity) {
        let first = (self.wire.attributes.len() / ATTRIBUTE_WORDS) as u32;
        for a in &e.attributes {
            let name = match self.names.get(&a.name) {
                Some(i) => *i,
                None => {
                    let i = self.wire.names.len() as u32;
                    self.wire.names.push(a.name.clone());
                    self.names.insert(a.name.clone(), i);
                    i
                }
            };
            let split = |w: u64| [w as u32, (w >> 32) as u32];
            let [t, a, b] = match &a.value {
                Value::Null => [tag::NULL, 0, 0],
                Value::Text(s) => {
                    let [a, b] = self.text(s);
                    [tag::TEXT, a, b]
                }
                Value::Integer(i) => {
                    let [a, b] = split(*i as u64);
                    [tag::INTEGER, a, b]
                }
                Value::Number(n) => {
                    let [a, b] = split(n.to_bits());
                    [tag::NUMBER, a, b]
                }
                Value::Boolean(v) => [tag::BOOLEAN, u32::from(*v), 0],
                Value::Date(s) => {
                    let [a, b] = self.text(s);
                    [tag::DATE, a, b]
                }
                Value::DateTime(s) => {
                    let [a, b] = self.text(s);
                    [tag::DATE_TIME, a, b]
                }
                Value::Texts(list) => {
                    let first = self.next_item();
                    for t in list {
                        self.item(0, t);
                    }
                    [tag::TEXTS, first, list.len() as u32]
                }
                Value::Reference(r) => {
                    let row = self.next_item();
                    self.item(kind_index(r.kind), &r.source_id);
                    [tag::REFERENCE, row, 1]
                }
                Value::References(list) => {
                    let first = self.next_item();
                    for r in list {
                        self.item(kind_index(r.kind), &r.source_id);
                    }
                    [tag::REFERENCES, first, list.len() as u32]
                }
            };
            self.wire.attributes.extend_from_slice(&[name, t, a, b]);
        }
        let count = (self.wire.attributes.len() / ATTRIBUTE_WORDS) as u32 - first;
        let [id_start, id_len] = self.text(&e.source_id);
        let [m_start, m_len] = match &e.date_last_modified {
            Some(d) => self.text(d),
            None => [NONE, 0],
        };
        let status = match e.status {
            Status::Active => 0,
            Status::ToBeDeleted => 1,
        };
        self.wire.entities.extend_from_slice(&[
            kind_index(e.kind),
            status,
            id_start,
            id_len,
            m_start,
            m_len,
            first,
            count,
        ]);
    }
}

/// What [`export_rule!`](crate::export_rule) calls: the batch in, the rule's verdicts out.
#[doc(hidden)]
pub fn run<R: Rule>(batch: wire::Batch) -> Result<Vec<Verdict>, PluginError> {
    R::apply(&Batch::from_wire(batch))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn student() -> Entity {
        Entity::new(EntityKind::User, "s1")
            .with_text("role", "student")
            .with("grades", Value::Texts(vec!["09".into(), "10".into()]))
            .with_ref("school", EntityKind::Org, "o1")
            .with(
                "orgs",
                Value::References(vec![Reference {
                    kind: EntityKind::Org,
                    source_id: "o2".into(),
                }]),
            )
            .with("enabledUser", Value::Boolean(true))
            .with("age", Value::Integer(15))
            .with("birthDate", Value::Date("2010-01-02".into()))
    }

    #[test]
    fn a_packed_batch_reads_back_as_it_was_built() {
        let teacher = Entity::new(EntityKind::User, "t1").with_text("role", "teacher");
        let batch = Batch::from_entities(&[student(), teacher.clone()]);
        assert_eq!(batch.len(), 2);
        let s = batch.get(0).unwrap();
        assert_eq!(s.source_id(), "s1");
        assert_eq!(s.text("role"), Some("student"));
        assert_eq!(s.text("missing"), None);
        match s.get("grades") {
            Some(ValueRef::Texts(t)) => assert_eq!(t.collect::<Vec<_>>(), ["09", "10"]),
            other => panic!("{other:?}"),
        }
        assert_eq!(format!("{:?}", s.to_entity()), format!("{:?}", student()));
        assert_eq!(
            format!("{:?}", batch.get(1).unwrap().to_entity()),
            format!("{teacher:?}")
        );
        assert_eq!(batch.get(1).unwrap().get("grades").map(|_| ()), None);
    }

    #[test]
    fn rows_out_of_range_read_as_empty() {
        let mut batch = Batch::from_entities(&[student()]);
        batch.wire.entities[2] = 1_000;
        batch.wire.entities[6] = u32::MAX;
        batch.wire.entities[7] = u32::MAX;
        let s = batch.get(0).unwrap();
        assert_eq!(s.source_id(), "");
        assert_eq!(s.attributes().count(), 0);
        assert!(batch.get(1).is_none());
    }
}

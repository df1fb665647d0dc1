//! The host's working form of a record between the plugin boundary and the
//! store: attributes as JSON values in a sorted map, so the content hash is
//! stable and an unchanged record costs one hash compare.
//!
//! Values: text, date and date-time as strings; numbers; booleans; a list of
//! texts as an array of strings; a reference as `{"kind": ..., "id": ...}`;
//! a list of references as an array of those.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use crate::bindings::types::{Attribute, Entity, EntityKind, Reference, Status, Value};
use crate::model::kinds::entity_kind_of;

pub type Attrs = BTreeMap<String, Json>;

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub kind: EntityKind,
    pub source_id: String,
    pub deleted: bool,
    pub modified: Option<String>,
    pub attrs: Attrs,
}

fn value_to_json(v: Value) -> Json {
    let reference = |r: Reference| {
        let mut o = serde_json::Map::new();
        o.insert("id".into(), Json::String(r.source_id));
        o.insert("kind".into(), Json::String(r.kind.cli_name().into()));
        Json::Object(o)
    };
    match v {
        Value::Null => Json::Null,
        Value::Text(s) | Value::Date(s) | Value::DateTime(s) => Json::String(s),
        Value::Integer(i) => json!(i),
        Value::Number(n) => json!(n),
        Value::Boolean(b) => json!(b),
        Value::Texts(t) => Json::Array(t.into_iter().map(Json::String).collect()),
        Value::Reference(r) => reference(r),
        Value::References(rs) => Json::Array(rs.into_iter().map(reference).collect()),
    }
}

/// A reference's kind and id, borrowed.
fn reference_parts(j: &Json) -> Option<(EntityKind, &str)> {
    let obj = j.as_object()?;
    if obj.len() != 2 {
        return None;
    }
    let kind = EntityKind::from_cli(obj.get("kind")?.as_str()?).ok()?;
    Some((kind, obj.get("id")?.as_str()?))
}

/// The source a vendor client's gradebook writes are kept under:
/// `vendor:<client id>` (no configured source has a `:` in its id).
pub fn vendor_source(client_id: &str) -> String {
    format!("{VENDOR_SOURCE_PREFIX}{client_id}")
}

const VENDOR_SOURCE_PREFIX: &str = "vendor:";

/// Whether a source is a vendor's writes: its records and references name
/// the hub's ids (a vendor knows the hub's records only by those), where
/// every other source's name its own.
pub fn is_vendor_source(source_id: &str) -> bool {
    source_id.starts_with(VENDOR_SOURCE_PREFIX)
}

/// Whether a value is one reference (`{"kind", "id"}`).
pub fn is_reference(j: &Json) -> bool {
    reference_parts(j).is_some()
}

/// Visit each reference an attribute's value holds (one, or a list of
/// them): (kind, id).
pub fn each_reference_in(value: &Json, mut f: impl FnMut(EntityKind, &str)) {
    match value {
        Json::Array(items) => items
            .iter()
            .filter_map(reference_parts)
            .for_each(|(kind, id)| f(kind, id)),
        other => {
            if let Some((kind, id)) = reference_parts(other) {
                f(kind, id)
            }
        }
    }
}

fn json_reference(j: &Json) -> Option<Reference> {
    let obj = j.as_object()?;
    if obj.len() != 2 {
        return None;
    }
    let kind = EntityKind::from_cli(obj.get("kind")?.as_str()?).ok()?;
    let id = obj.get("id")?.as_str()?.to_string();
    Some(Reference {
        kind,
        source_id: id,
    })
}

fn json_to_value(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Number(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(items) => {
            if !items.is_empty() && items.iter().all(|i| json_reference(i).is_some()) {
                Value::References(items.iter().filter_map(json_reference).collect())
            } else {
                Value::Texts(items.iter().map(json_text).collect())
            }
        }
        Json::Object(_) => match json_reference(j) {
            Some(r) => Value::Reference(r),
            None => Value::Text(j.to_string()),
        },
    }
}

fn hash_text(h: &mut xxhash_rust::xxh3::Xxh3, s: &str) {
    h.update(&(s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

fn hash_json(h: &mut xxhash_rust::xxh3::Xxh3, v: &Json) {
    match v {
        Json::Null => h.update(&[0]),
        Json::Bool(b) => h.update(&[1, *b as u8]),
        Json::Number(n) => {
            h.update(&[2]);
            match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => h.update(&i.to_le_bytes()),
                (None, Some(u)) => h.update(&u.to_le_bytes()),
                _ => h.update(&n.as_f64().unwrap_or(0.0).to_bits().to_le_bytes()),
            }
        }
        Json::String(s) => {
            h.update(&[3]);
            hash_text(h, s);
        }
        Json::Array(items) => {
            h.update(&[4]);
            h.update(&(items.len() as u64).to_le_bytes());
            items.iter().for_each(|i| hash_json(h, i));
        }
        Json::Object(o) => {
            h.update(&[5]);
            h.update(&(o.len() as u64).to_le_bytes());
            for (k, v) in o {
                hash_text(h, k);
                hash_json(h, v);
            }
        }
    }
}

/// A record id as a 128-bit key (xxh3): sets and maps of millions of ids
/// keep 16 bytes each instead of the string, and a collision between two ids
/// is out of reach in practice.
pub fn id_key(id: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(id.as_bytes())
}

/// A JSON value as plain text (for templates, conditions and keys).
pub fn json_text(j: &Json) -> String {
    match j {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        Json::Array(items) => items.iter().map(json_text).collect::<Vec<_>>().join(","),
        Json::Object(o) => match (o.get("kind"), o.get("id")) {
            (Some(_), Some(Json::String(id))) => id.clone(),
            _ => j.to_string(),
        },
        other => other.to_string(),
    }
}

/// True for null, empty strings and empty lists.
pub fn is_blank(j: &Json) -> bool {
    match j {
        Json::Null => true,
        Json::String(s) => s.trim().is_empty(),
        Json::Array(a) => a.is_empty(),
        _ => false,
    }
}

impl Record {
    pub fn from_entity(e: Entity) -> Record {
        Record {
            kind: e.kind,
            deleted: e.status == Status::ToBeDeleted,
            modified: e.date_last_modified,
            attrs: e
                .attributes
                .into_iter()
                .map(|a| (a.name, value_to_json(a.value)))
                .collect(),
            source_id: e.source_id,
        }
    }

    pub fn to_entity(&self) -> Entity {
        Entity {
            kind: self.kind,
            source_id: self.source_id.clone(),
            status: if self.deleted {
                Status::ToBeDeleted
            } else {
                Status::Active
            },
            date_last_modified: self.modified.clone(),
            attributes: self
                .attrs
                .iter()
                .map(|(k, v)| Attribute {
                    name: k.clone(),
                    value: json_to_value(v),
                })
                .collect(),
        }
    }

    pub fn text(&self, name: &str) -> Option<String> {
        self.attrs.get(name).filter(|v| !is_blank(v)).map(json_text)
    }

    /// The role a user record states (1.1 `role`, or the first of 1.2 `roles`).
    pub fn role(&self) -> Option<String> {
        self.text("role").map(|r| r.to_ascii_lowercase())
    }

    /// Content hash of what the source said (attributes and deletion):
    /// 128 bits of xxh3 over a tagged, length-prefixed walk of the sorted
    /// attributes (no JSON text is built).
    pub fn hash(&self) -> u128 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(if self.deleted { b"d" } else { b"a" });
        h.update(&(self.attrs.len() as u64).to_le_bytes());
        for (name, value) in &self.attrs {
            hash_text(&mut h, name);
            hash_json(&mut h, value);
        }
        h.digest128()
    }

    /// Every reference the record holds, as (attribute, reference).
    pub fn references(&self) -> Vec<(String, EntityKind, String)> {
        let mut out = Vec::new();
        self.each_reference(|name, kind, id| out.push((name.to_string(), kind, id.to_string())));
        out
    }

    /// Visit every reference the record holds: (attribute, kind, id).
    pub fn each_reference(&self, mut f: impl FnMut(&str, EntityKind, &str)) {
        for (name, v) in &self.attrs {
            each_reference_in(v, |kind, id| f(name, kind, id));
        }
    }

    /// Rewrite every id (own and referenced) with `f`.
    pub fn map_ids(&mut self, f: impl Fn(&str) -> String) {
        self.source_id = f(&self.source_id);
        fn walk(v: &mut Json, f: &dyn Fn(&str) -> String) {
            match v {
                Json::Array(items) => items.iter_mut().for_each(|i| walk(i, f)),
                Json::Object(o) if o.len() == 2 && o.contains_key("kind") => {
                    if let Some(Json::String(id)) = o.get_mut("id") {
                        *id = f(id);
                    }
                }
                _ => {}
            }
        }
        for v in self.attrs.values_mut() {
            walk(v, &f);
        }
    }
}

/// Whether a record is of a rule's kind: an admin kind narrowed by an
/// attribute looks at that attribute (a role, case-insensitively).
pub fn is_of_kind(record: &Record, rule_kind: &str) -> bool {
    if record.kind.cli_name() != entity_kind_of(rule_kind) {
        return false;
    }
    let narrow = crate::model::kinds::ADMIN_KINDS
        .iter()
        .find(|k| k.in_rules && k.name == rule_kind)
        .and_then(|k| k.narrow);
    match narrow {
        None => true,
        Some((attribute, values)) => {
            let value = record
                .text(attribute)
                .unwrap_or_default()
                .to_ascii_lowercase();
            values.contains(&value.as_str())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_round_trip_and_stable_hash() {
        let e = Entity {
            kind: EntityKind::Enrollment,
            source_id: "e1".into(),
            status: Status::Active,
            date_last_modified: None,
            attributes: vec![
                Attribute {
                    name: "user".into(),
                    value: Value::Reference(Reference {
                        kind: EntityKind::User,
                        source_id: "u1".into(),
                    }),
                },
                Attribute {
                    name: "role".into(),
                    value: Value::Text("student".into()),
                },
                Attribute {
                    name: "grades".into(),
                    value: Value::Texts(vec!["09".into()]),
                },
            ],
        };
        let r = Record::from_entity(e.clone());
        let back = Record::from_entity(r.to_entity());
        assert_eq!(r, back);
        assert_eq!(r.hash(), back.hash());
        assert_eq!(
            r.references(),
            vec![("user".to_string(), EntityKind::User, "u1".to_string())]
        );
        let mut p = r.clone();
        p.map_ids(|id| format!("sis-{id}"));
        assert_eq!(p.source_id, "sis-e1");
        assert_eq!(p.references()[0].2, "sis-u1");
        assert_ne!(p.hash(), r.hash());
    }
}

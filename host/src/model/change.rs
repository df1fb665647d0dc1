//! Changes: what an import does to an entity (its action) and how a change
//! reads to an admin (the diff of an entity's data, attribute by attribute).
//! Entity data keeps, per attribute, the value and the source that supplied
//! it (`{"v": value, "s": source}`); a diff shows values only.

use serde_json::{Map, Value as Json, json};

/// Attribute → [old, new] for every attribute whose value changed.
pub fn diff(before: Option<&Map<String, Json>>, after: &Map<String, Json>) -> Map<String, Json> {
    let empty = Map::new();
    let before = before.unwrap_or(&empty);
    let mut d = Map::new();
    for (attr, cell) in after {
        let old = before
            .get(attr)
            .and_then(|c| c.get("v"))
            .cloned()
            .unwrap_or(Json::Null);
        let new = cell.get("v").cloned().unwrap_or(Json::Null);
        if old != new {
            d.insert(attr.clone(), json!([old, new]));
        }
    }
    for (attr, cell) in before {
        if !after.contains_key(attr) {
            d.insert(
                attr.clone(),
                json!([cell.get("v").cloned().unwrap_or(Json::Null), Json::Null]),
            );
        }
    }
    d
}

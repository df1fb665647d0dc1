//! Changes: what an import does to an entity (its action) and how a change
//! reads to an admin (the diff of an entity's data, attribute by attribute).
//! Entity data keeps, per attribute, the value and the source that supplied
//! it (`{"v": value, "s": source}`); a diff shows values only.

use serde_json::{Map, Value as Json, json};

/// What a change does to an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Add,
    Update,
    Delete,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Add, Action::Update, Action::Delete];

    /// The action's name in the store, the API, the CLI and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

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

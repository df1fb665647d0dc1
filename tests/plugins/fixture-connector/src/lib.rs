//! Reads `/drop/<kind>.jsonl`: one record per line,
//! `{"id": "u1", "deleted": false, "modified": "2024-…", "attrs": {...}}`.
//! Attribute values: strings, numbers, booleans, arrays of strings,
//! `{"kind": "org", "id": "s1"}` references and arrays of them.

use homeroom_sdk::prelude::*;
use serde_json::Value as Json;

struct Fixture;

fn to_value(j: &Json) -> Value {
    let reference = |j: &Json| -> Option<Reference> {
        let kind = EntityKind::from_name(j.get("kind")?.as_str()?)?;
        Some(Reference {
            kind,
            source_id: j.get("id")?.as_str()?.to_string(),
        })
    };
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Number(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(items) if items.iter().all(|i| i.is_object()) && !items.is_empty() => {
            Value::References(items.iter().filter_map(reference).collect())
        }
        Json::Array(items) => Value::Texts(
            items
                .iter()
                .map(|i| i.as_str().unwrap_or_default().to_string())
                .collect(),
        ),
        Json::Object(_) => reference(j).map(Value::Reference).unwrap_or(Value::Null),
    }
}

impl Connector for Fixture {
    fn test_connection() -> Result<String, PluginError> {
        let n = std::fs::read_dir("/drop")
            .map_err(|e| PluginError::Config(format!("cannot read the folder: {e}")))?
            .count();
        Ok(format!("{n} files"))
    }

    fn list_schools() -> Result<Vec<School>, PluginError> {
        Ok(Vec::new())
    }

    fn read(
        kind: EntityKind,
        since: Option<String>,
        cursor: Option<String>,
    ) -> Result<Page, PluginError> {
        if settings::get("fail_on").as_deref() == Some(kind.name()) {
            return Err(PluginError::Unavailable(format!(
                "the source failed while reading {}",
                kind.name()
            )));
        }
        let text = match std::fs::read_to_string(format!("/drop/{}.jsonl", kind.name())) {
            Ok(t) => t,
            Err(_) => {
                return Ok(Page {
                    entities: vec![],
                    next: None,
                    total: Some(0),
                    ahead: vec![],
                });
            }
        };
        let size = settings::number("page_size", 100)? as usize;
        let start: usize = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut entities = Vec::new();
        for (n, line) in lines.iter().enumerate().skip(start).take(size) {
            let j: Json = serde_json::from_str(line).map_err(|e| {
                PluginError::InvalidData(format!("{}.jsonl line {}: {e}", kind.name(), n + 1))
            })?;
            let modified = j.get("modified").and_then(Json::as_str).map(str::to_string);
            if let (Some(since), Some(m)) = (&since, &modified) {
                if m <= since {
                    continue;
                }
            }
            let mut e = Entity::new(kind, j.get("id").and_then(Json::as_str).unwrap_or_default());
            if j.get("deleted").and_then(Json::as_bool) == Some(true) {
                e.status = Status::ToBeDeleted;
            }
            e.date_last_modified = modified;
            if let Some(attrs) = j.get("attrs").and_then(Json::as_object) {
                for (k, v) in attrs {
                    e.set(k, to_value(v));
                }
            }
            entities.push(e);
        }
        let end = start + size;
        Ok(Page {
            entities,
            next: (end < lines.len()).then(|| end.to_string()),
            total: Some(lines.len() as u64),
            ahead: vec![],
        })
    }

    fn export_changes(_changes: Vec<ExportChange>) -> Result<Vec<ExportOutcome>, PluginError> {
        Err(PluginError::Unsupported(
            "the fixture connector only imports".into(),
        ))
    }
}

homeroom_sdk::export_connector!(Fixture);

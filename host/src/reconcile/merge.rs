//! Master fields: how one source's record is merged into an entity that
//! several sources may feed. An entity's data keeps, per attribute, the value
//! and the source that supplied it (`{"v": value, "s": source}`).
//!
//! Who wins an attribute: the master source named for it, when it has a
//! value; without a master, the source that supplied it first keeps it while
//! it has a value (so two sources never flip a value back and forth run after
//! run); any source fills a blank.

use std::collections::HashMap;

use serde_json::{Map, Value as Json, json};

use crate::config::BlankValues;
use crate::model::record::{Attrs, is_blank};

/// (entity kind, attribute) → the source id whose value wins; attribute
/// `*`: every attribute of the kind that may have a master.
pub type Masters = HashMap<(String, String), String>;

/// The source whose value of `attr` wins: the one named for it, else the
/// one named for all of the kind's attributes (never for a reference that
/// only its own source may state, `config::NEVER_MASTER`).
pub fn master_of<'m>(masters: &'m Masters, kind: &str, attr: &str) -> Option<&'m String> {
    if masters.is_empty() {
        return None;
    }
    masters
        .get(&(kind.to_string(), attr.to_string()))
        .or_else(|| {
            (!crate::config::never_master(kind, attr))
                .then(|| masters.get(&(kind.to_string(), ALL.to_string())))
                .flatten()
        })
}

/// The attribute of a master field that names every attribute of a kind.
pub const ALL: &str = crate::config::EVERY_ATTRIBUTE;

pub struct MergeRules<'a> {
    pub kind: &'a str,
    pub source: &'a str,
    pub masters: &'a Masters,
    pub blanks: BlankValues,
    /// Keep a class's title as first synced.
    pub ignore_class_name_edits: bool,
    /// Another record of the same source already supplies the entity (the
    /// same person twice in one feed): this one only fills blanks, so the
    /// first of the two stands.
    pub fill_only: bool,
}

/// Merge `record` from `rules.source` into `current` (none for a new entity).
pub fn merge(
    current: Option<&Map<String, Json>>,
    record: &Attrs,
    rules: &MergeRules<'_>,
) -> Map<String, Json> {
    let mut out = current.cloned().unwrap_or_default();
    let owner = |cell: &Json| cell.get("s").and_then(Json::as_str).map(str::to_string);
    let value_blank = |cell: &Json| cell.get("v").is_none_or(is_blank);
    for (attr, value) in record {
        let cell = out.get(attr);
        let master = master_of(rules.masters, rules.kind, attr);
        if rules.ignore_class_name_edits
            && rules.kind == "class"
            && attr == "title"
            && cell.is_some_and(|c| !value_blank(c))
        {
            continue;
        }
        if rules.fill_only {
            if !is_blank(value) && cell.is_none_or(value_blank) {
                out.insert(attr.clone(), json!({"v": value, "s": rules.source}));
            }
            continue;
        }
        if is_blank(value) {
            let ours = cell.and_then(owner).as_deref() == Some(rules.source);
            if ours && rules.blanks == BlankValues::Replace {
                out.remove(attr);
            }
            continue;
        }
        let may_write = match (cell, master) {
            (None, _) => true,
            (Some(c), _) if value_blank(c) => true,
            (Some(_), Some(m)) if m == rules.source => true,
            (Some(c), Some(m)) => owner(c).as_deref() != Some(m.as_str()),
            (Some(c), None) => owner(c).as_deref() == Some(rules.source),
        };
        if may_write {
            out.insert(attr.clone(), json!({"v": value, "s": rules.source}));
        }
    }
    // What this source supplied before and no longer sends.
    if rules.blanks == BlankValues::Replace && !rules.fill_only {
        out.retain(|attr, cell| {
            record.contains_key(attr) || owner(cell).as_deref() != Some(rules.source)
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::change::diff;

    fn attrs(pairs: &[(&str, &str)]) -> Attrs {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect()
    }

    #[test]
    fn a_master_for_every_attribute_wins_them_all_but_the_references_of_the_source() {
        let mut masters = Masters::new();
        masters.insert(("class".into(), ALL.into()), "sis".into());
        masters.insert(("class".into(), "location".into()), "lms".into());
        let sis = MergeRules {
            kind: "class",
            source: "sis",
            masters: &masters,
            blanks: BlankValues::Ignore,
            ignore_class_name_edits: false,
            fill_only: false,
        };
        let lms = MergeRules {
            source: "lms",
            ..sis
        };
        let e = merge(
            None,
            &attrs(&[
                ("title", "LMS title"),
                ("location", "Room 1"),
                ("school", "x"),
            ]),
            &lms,
        );
        let e = merge(
            Some(&e),
            &attrs(&[
                ("title", "Algebra"),
                ("location", "Room 9"),
                ("school", "y"),
            ]),
            &sis,
        );
        assert_eq!(e["title"]["v"], "Algebra", "the SIS is master of all");
        assert_eq!(e["location"]["v"], "Room 1", "a named master beats `*`");
        assert_eq!(
            e["school"]["v"], "x",
            "a reference only its source states has no master: the first keeps it"
        );
    }

    #[test]
    fn master_source_wins_and_others_fill_blanks() {
        let mut masters = Masters::new();
        masters.insert(("user".into(), "email".into()), "entra".into());
        let sis = MergeRules {
            kind: "user",
            source: "sis",
            masters: &masters,
            blanks: BlankValues::Ignore,
            ignore_class_name_edits: false,
            fill_only: false,
        };
        let entra = MergeRules {
            source: "entra",
            ..sis
        };
        let e = merge(
            None,
            &attrs(&[("givenName", "Ada"), ("email", "ada@sis.org")]),
            &sis,
        );
        let e = merge(
            Some(&e),
            &attrs(&[("email", "ada@district.org"), ("phone", "555")]),
            &entra,
        );
        assert_eq!(e["email"]["v"], "ada@district.org");
        assert_eq!(e["email"]["s"], "entra");
        assert_eq!(e["phone"]["v"], "555", "a blank is filled by any source");
        // The SIS cannot take the email back while the master has one.
        let e2 = merge(Some(&e), &attrs(&[("email", "other@sis.org")]), &sis);
        assert_eq!(e2["email"]["v"], "ada@district.org");
        assert!(diff(Some(&e), &e2).is_empty());
        // Without a master the first source keeps its value.
        let e3 = merge(Some(&e), &attrs(&[("givenName", "Augusta")]), &entra);
        assert_eq!(e3["givenName"]["v"], "Ada");
    }

    #[test]
    fn blank_values_ignore_or_replace() {
        let masters = Masters::new();
        let keep = MergeRules {
            kind: "user",
            source: "sis",
            masters: &masters,
            blanks: BlankValues::Ignore,
            ignore_class_name_edits: false,
            fill_only: false,
        };
        let e = merge(
            None,
            &attrs(&[("middleName", "B"), ("givenName", "Ada")]),
            &keep,
        );
        let kept = merge(
            Some(&e),
            &attrs(&[("givenName", "Ada"), ("middleName", "")]),
            &keep,
        );
        assert_eq!(kept["middleName"]["v"], "B");
        let replace = MergeRules {
            blanks: BlankValues::Replace,
            ..keep
        };
        let cleared = merge(Some(&e), &attrs(&[("givenName", "Ada")]), &replace);
        assert!(!cleared.contains_key("middleName"));
        assert_eq!(diff(Some(&e), &cleared)["middleName"], json!(["B", null]));
    }

    #[test]
    fn a_second_record_of_one_source_only_fills_blanks() {
        let masters = Masters::new();
        let first = MergeRules {
            kind: "user",
            source: "sis",
            masters: &masters,
            blanks: BlankValues::Replace,
            ignore_class_name_edits: false,
            fill_only: false,
        };
        let e = merge(
            None,
            &attrs(&[("username", "st1"), ("middleName", "B")]),
            &first,
        );
        let second = MergeRules {
            fill_only: true,
            ..first
        };
        let m = merge(
            Some(&e),
            &attrs(&[("username", "st9"), ("phone", "555")]),
            &second,
        );
        assert_eq!(m["username"]["v"], "st1", "the first stands");
        assert_eq!(m["phone"]["v"], "555", "a blank is filled");
        assert_eq!(m["middleName"]["v"], "B", "nothing is cleared");
    }
}

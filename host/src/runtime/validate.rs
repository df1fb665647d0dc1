//! Boundary checks on what a plugin returns. A plugin is untrusted: whatever
//! it hands back is checked here before any other part of the host sees it,
//! and a violation fails the call with a message naming the record.
//!
//! Besides the shape of a page (sizes, cursors, kinds, dates), each record's
//! attribute values are held to the plugin's value cap, a connector's
//! attribute names to the rule that `reads` names follow (so every attribute
//! a connector sends is one a rule can name), and source ids to printable
//! text. A record id that comes twice in one page is not refused (the
//! pipeline imports the first and names the repeat): it is noted, naming
//! both records, for the run report.

use std::collections::HashMap;

use super::bindings::rule::exports::homeroom::plugin::rule_api::Verdict;
use super::bindings::types::{Entity, EntityKind, Page, School, Value};
use crate::capabilities::log::one_line;
use crate::capabilities::storage::size;
// What every record carries outside its attributes; not attribute names
// (the names `gallery::manifest` refuses in `reads`).
use crate::gallery::manifest::ALWAYS_SENT as RECORD_FIELDS;
/// An attribute name as a rule's `reads` may state it (`gallery::manifest`'s rule).
pub use crate::gallery::manifest::is_attribute_name;

/// Records one page may hold.
pub const MAX_PAGE: usize = 100_000;
/// Most cursors a page may list `ahead`: 10,000 pages of 1,000 records are
/// 10 million records, past the largest district.
pub const MAX_AHEAD: usize = 10_000;
/// Longest cursor a page may hand back.
pub const MAX_CURSOR: usize = 4096;
/// Longest source id accepted.
pub const MAX_ID: usize = 256;
/// Attributes one record may carry.
pub const MAX_ATTRIBUTES: usize = 512;
/// Bytes one attribute value may hold when the plugin's manifest asks for
/// nothing else (a list's items together, each one byte more).
pub const VALUE_BYTES: usize = 64 * 1024;
/// Longest attribute name (as for a rule's `reads`).
pub const MAX_NAME: usize = 64;
/// Records named twice in one page the notes list one by one.
const NOTE_REPEATS: usize = 20;

/// What a record the plugin returns is held to besides its shape.
#[derive(Debug, Clone, Copy)]
pub struct Checks {
    /// Bytes of one attribute value.
    pub value_bytes: usize,
    /// Whether attribute names must be names a rule's `reads` may state
    /// (records from a connector; a rule's answer carries the names the
    /// host sent it, mapped ones included).
    pub names: bool,
}

/// An attribute name as a connector may send it: what a source system's
/// column may be called (`Home Room`, `Fecha de nacimiento`), but no control
/// character, no space at either end, at most 64 characters. Rules `reads`
/// only names of [`is_attribute_name`]; a district maps the others.
pub fn is_source_attribute_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= MAX_NAME
        && name.trim() == name
        && !name.chars().any(char::is_control)
}

/// Bytes a value holds: its text, or its items' (each one more, for the
/// separator a list needs), or 8 for a number or a flag.
pub fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Null | Value::Integer(_) | Value::Number(_) | Value::Boolean(_) => 8,
        Value::Text(s) | Value::Date(s) | Value::DateTime(s) => s.len(),
        Value::Texts(items) => items.iter().map(|s| s.len() + 1).sum(),
        Value::Reference(r) => r.source_id.len(),
        Value::References(refs) => refs.iter().map(|r| r.source_id.len() + 1).sum(),
    }
}

pub fn kind_name(kind: EntityKind) -> &'static str {
    kind.cli_name()
}

/// A value a plugin gave, shortened and made printable for a message: at
/// most 80 characters, control characters and escape sequences taken out.
pub fn short(s: &str) -> String {
    let head: String = s.chars().take(81).collect();
    let mut line = one_line(&head, usize::MAX);
    if line.chars().count() > 80 || head.len() < s.len() {
        line = line.chars().take(80).collect();
        line.push('…');
    }
    line
}

/// A destination's id for an entity, from an export outcome: kept and sent
/// back with later changes, shown to admins, so printable and bounded as
/// source ids are.
pub fn target_id(id: &str) -> Result<(), String> {
    if id.trim().is_empty() {
        return Err("an export outcome applied a change under an empty destination id".into());
    }
    if id.len() > MAX_ID {
        return Err(format!(
            "an export outcome names a destination id of {} bytes (the limit is {MAX_ID})",
            id.len()
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(format!(
            "an export outcome names the destination id `{}`, which holds a control character",
            short(id)
        ));
    }
    Ok(())
}

fn entity(e: &Entity, checks: Checks) -> Result<(), String> {
    let id = &e.source_id;
    if id.trim().is_empty() {
        return Err(format!(
            "a {} record has an empty source id",
            kind_name(e.kind)
        ));
    }
    if id.len() > MAX_ID {
        return Err(format!(
            "{} record `{}` has a source id of {} bytes (the limit is {MAX_ID})",
            kind_name(e.kind),
            short(id),
            id.len()
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(format!(
            "{} record `{}` has a source id with a control character (a line break, an escape...): ids are shown to admins and must be printable text",
            kind_name(e.kind),
            short(id)
        ));
    }
    if e.attributes.len() > MAX_ATTRIBUTES {
        return Err(format!(
            "{} record `{}` has {} attributes (the limit is {MAX_ATTRIBUTES})",
            kind_name(e.kind),
            short(id),
            e.attributes.len()
        ));
    }
    for (i, a) in e.attributes.iter().enumerate() {
        // Records have tens of attributes: comparing with the earlier ones
        // costs less than hashing them.
        if a.name.is_empty() || e.attributes[..i].iter().any(|b| b.name == a.name) {
            return Err(format!(
                "{} record `{}` has an empty or repeated attribute name `{}`",
                kind_name(e.kind),
                short(id),
                short(&a.name)
            ));
        }
        if checks.names
            && (!is_source_attribute_name(&a.name) || RECORD_FIELDS.contains(&a.name.as_str()))
        {
            let why = if RECORD_FIELDS.contains(&a.name.as_str()) {
                "which every record carries outside its attributes"
            } else {
                "which is not an attribute name (at most 64 characters, no control character, no space at either end)"
            };
            // Its control characters shown, not stripped: the name is the fault.
            let shown: String = a
                .name
                .chars()
                .take(80)
                .flat_map(char::escape_default)
                .collect();
            return Err(format!(
                "{} record `{}` has an attribute named `{}`, {why}",
                kind_name(e.kind),
                short(id),
                short(&shown)
            ));
        }
        let bytes = value_bytes(&a.value);
        if bytes > checks.value_bytes {
            return Err(format!(
                "{} record `{}` has a value of {} in `{}` (the limit is {}; the plugin's manifest may ask for more under [needs] value_bytes, up to the operator's maximum)",
                kind_name(e.kind),
                short(id),
                size(bytes as u64),
                short(&a.name),
                size(checks.value_bytes as u64)
            ));
        }
        let bad_time = match &a.value {
            Value::Date(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err(),
            Value::DateTime(t) => chrono::DateTime::parse_from_rfc3339(t).is_err(),
            Value::Number(n) => !n.is_finite(),
            _ => false,
        };
        if bad_time {
            return Err(format!(
                "{} record `{}` has an invalid value in `{}`",
                kind_name(e.kind),
                short(id),
                short(&a.name)
            ));
        }
    }
    if let Some(t) = &e.date_last_modified {
        if chrono::DateTime::parse_from_rfc3339(t).is_err() {
            return Err(format!(
                "{} record `{}` has dateLastModified `{}`, which is not an RFC 3339 time",
                kind_name(e.kind),
                short(id),
                short(t)
            ));
        }
    }
    Ok(())
}

/// Check a page; what the admin should hear of it (ids it holds twice).
pub fn page(
    kind: EntityKind,
    page: &Page,
    cursor: Option<&str>,
    checks: Checks,
) -> Result<Vec<String>, String> {
    if page.entities.len() > MAX_PAGE {
        return Err(format!(
            "a page of {} records (the limit is {MAX_PAGE}); return smaller pages",
            page.entities.len()
        ));
    }
    if page.next.is_some() && page.next.as_deref() == cursor {
        return Err(
            "the next-page cursor is the same as this page's, so the read would never end".into(),
        );
    }
    if page.ahead.len() > MAX_AHEAD {
        return Err(format!(
            "the page lists {} pages ahead (the limit is {MAX_AHEAD}); list fewer and page on with `next`",
            page.ahead.len()
        ));
    }
    let mut ahead = std::collections::HashSet::with_capacity(page.ahead.len());
    for c in page.next.iter().chain(&page.ahead) {
        if c.len() > MAX_CURSOR {
            return Err(format!(
                "a cursor of {} bytes (the limit is {MAX_CURSOR})",
                c.len()
            ));
        }
        if Some(c.as_str()) == cursor || !ahead.insert(c.as_str()) {
            return Err(format!(
                "the cursor `{}` is listed twice, so a page would be read twice",
                short(c)
            ));
        }
    }
    for e in &page.entities {
        if e.kind != kind {
            return Err(format!(
                "a read of {} returned {} record `{}`",
                kind_name(kind),
                kind_name(e.kind),
                short(&e.source_id)
            ));
        }
        entity(e, checks)?;
    }
    Ok(repeated_ids(kind, &page.entities))
}

/// A note for each id that comes twice or more in one page, naming the
/// records (their places in the page) and whether they differ.
fn repeated_ids(kind: EntityKind, entities: &[Entity]) -> Vec<String> {
    let mut first: HashMap<&str, usize> = HashMap::with_capacity(entities.len());
    let mut notes = Vec::new();
    let mut more = 0u64;
    for (at, e) in entities.iter().enumerate() {
        let Some(&was) = first.get(e.source_id.as_str()) else {
            first.insert(&e.source_id, at);
            continue;
        };
        if notes.len() == NOTE_REPEATS {
            more += 1;
            continue;
        }
        let differ = differences(&entities[was], e);
        let how = if differ.is_empty() {
            "the same both times".to_string()
        } else {
            format!("they differ in {}", differ.join(", "))
        };
        notes.push(format!(
            "{} `{}` is in one page twice, as records {} and {} of {} ({how}); the first is imported and the second left out",
            kind_name(kind),
            short(&e.source_id),
            was + 1,
            at + 1,
            entities.len()
        ));
    }
    if more > 0 {
        notes.push(format!(
            "{more} more {} records of that page repeat an id of an earlier one; each repeat is left out",
            kind_name(kind)
        ));
    }
    notes
}

/// The attributes (and status, date last modified) two records of one id
/// hold differently, named as in messages.
fn differences(a: &Entity, b: &Entity) -> Vec<String> {
    let mut names = Vec::new();
    if format!("{:?}", a.status) != format!("{:?}", b.status) {
        names.push("`status`".to_string());
    }
    if a.date_last_modified != b.date_last_modified {
        names.push("`dateLastModified`".to_string());
    }
    let value = |e: &Entity, name: &str| {
        e.attributes
            .iter()
            .find(|x| x.name == name)
            .map(|x| format!("{:?}", x.value))
    };
    let mut seen = std::collections::BTreeSet::new();
    for attr in a.attributes.iter().chain(&b.attributes) {
        if seen.insert(attr.name.as_str()) && value(a, &attr.name) != value(b, &attr.name) {
            names.push(format!("`{}`", short(&attr.name)));
        }
    }
    if names.len() > 8 {
        let rest = names.len() - 8;
        names.truncate(8);
        names.push(format!("{rest} more"));
    }
    names
}

pub fn schools(schools: &[School]) -> Result<(), String> {
    for s in schools {
        if s.source_id.trim().is_empty() {
            return Err(format!(
                "school `{}` has an empty source id",
                short(&s.name)
            ));
        }
    }
    Ok(())
}

/// One verdict per input record, in order, and no replacement that changes
/// a record's identity. `inputs` are the (kind, source id) of the records sent.
pub fn verdicts<'a>(
    inputs: impl ExactSizeIterator<Item = (EntityKind, &'a str)>,
    verdicts: &[Verdict],
    checks: Checks,
) -> Result<(), String> {
    if verdicts.len() != inputs.len() {
        return Err(format!(
            "{} verdicts came back for {} records",
            verdicts.len(),
            inputs.len()
        ));
    }
    for ((kind, source_id), verdict) in inputs.zip(verdicts) {
        if let Verdict::Replace(out) = verdict {
            if out.kind != kind || out.source_id != source_id {
                return Err(format!(
                    "the rule changed the identity of {} record `{}` (a rule may change attributes, not kind or source id)",
                    kind_name(kind),
                    short(source_id)
                ));
            }
            entity(out, checks)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::bindings::types::{Attribute, Status};
    use super::*;

    const CHECKS: Checks = Checks {
        value_bytes: VALUE_BYTES,
        names: true,
    };

    fn user(id: &str, attrs: &[(&str, Value)]) -> Entity {
        Entity {
            kind: EntityKind::User,
            source_id: id.into(),
            status: Status::Active,
            date_last_modified: None,
            attributes: attrs
                .iter()
                .map(|(n, v)| Attribute {
                    name: n.to_string(),
                    value: v.clone(),
                })
                .collect(),
        }
    }

    fn page_of(entities: Vec<Entity>) -> Page {
        Page {
            entities,
            next: None,
            total: None,
            ahead: Vec::new(),
        }
    }

    #[test]
    fn attribute_names_follow_the_rule_of_reads() {
        let rule = |name: &str| {
            crate::gallery::Manifest::parse(&format!(
                "id = \"r\"\nname = \"R\"\nvendor = \"V\"\nversion = \"0.1.0\"\nkind = \"filter-rule\"\nworld_version = \"0.1.0\"\ndescription = \"d\"\nreads = [{:?}]\n",
                name
            ))
            .is_ok()
        };
        for name in [
            "role",
            "metadata.ell",
            "x-custom:a_b",
            "first name",
            "",
            "1st",
            "sourcedId",
            "status",
            "givenName\u{1b}[2J",
            &"a".repeat(65),
        ] {
            let readable = is_attribute_name(name) && !RECORD_FIELDS.contains(&name);
            assert_eq!(readable, rule(name), "`{}`", name.escape_debug());
            // A connector may send any name a source's column may have,
            // spaces and digits first included; never a control character.
            let record = user("u1", &[(name, Value::Null)]);
            let taken = entity(&record, CHECKS).is_ok();
            let expected = matches!(
                name,
                "role" | "metadata.ell" | "x-custom:a_b" | "first name" | "1st"
            );
            assert_eq!(taken, expected, "`{}`", name.escape_debug());
        }
        // A rule's answer keeps the names the host sent it.
        let record = user("u1", &[("Home Room", Value::Null)]);
        assert!(
            entity(
                &record,
                Checks {
                    names: false,
                    ..CHECKS
                }
            )
            .is_ok()
        );
    }

    #[test]
    fn a_value_past_the_cap_is_refused_naming_record_and_attribute() {
        let big = user("u1", &[("bio", Value::Text("x".repeat(VALUE_BYTES + 1)))]);
        let err = entity(&big, CHECKS).unwrap_err();
        assert!(
            err.contains("user record `u1`") && err.contains("`bio`") && err.contains("64 KiB"),
            "{err}"
        );
        let many = user(
            "u1",
            &[("tags", Value::Texts(vec![String::new(); VALUE_BYTES + 1]))],
        );
        assert!(entity(&many, CHECKS).is_err(), "empty items count too");
        let fits = user("u1", &[("bio", Value::Text("x".repeat(VALUE_BYTES)))]);
        assert!(entity(&fits, CHECKS).is_ok());
    }

    #[test]
    fn ids_and_names_in_messages_are_printable() {
        let err = entity(&user("u1\r\n\u{1b}[32mok", &[]), CHECKS).unwrap_err();
        assert!(err.contains("control character"), "{err}");
        assert!(!err.contains('\u{1b}') && !err.contains('\r'), "{err}");
        assert_eq!(short(&"é".repeat(100)).chars().count(), 81);
        assert_eq!(short("a\u{1b}[31mb"), "ab");
    }

    #[test]
    fn an_id_twice_in_a_page_is_noted_naming_both() {
        let page = page_of(vec![
            user("d1", &[("givenName", Value::Text("Ada".into()))]),
            user("u2", &[]),
            user("d1", &[("givenName", Value::Text("Grace".into()))]),
            user("u2", &[]),
        ]);
        let notes = super::page(EntityKind::User, &page, None, CHECKS).unwrap();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].contains("user `d1`")
                && notes[0].contains("records 1 and 3 of 4")
                && notes[0].contains("differ in `givenName`"),
            "{notes:?}"
        );
        assert!(notes[1].contains("records 2 and 4") && notes[1].contains("the same"));
    }
}

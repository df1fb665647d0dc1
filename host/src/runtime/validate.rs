//! Boundary checks on what a plugin returns. A plugin is untrusted: whatever
//! it hands back is checked here before any other part of the host sees it,
//! and a violation fails the call with a message naming the record.

use super::bindings::rule::exports::homeroom::plugin::rule_api::Verdict;
use super::bindings::types::{Entity, EntityKind, Page, School, Value};

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

pub fn kind_name(kind: EntityKind) -> &'static str {
    kind.cli_name()
}

/// A value shortened for an error message.
pub fn short(s: &str) -> String {
    if s.chars().count() <= 80 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(80).collect::<String>())
    }
}

fn entity(e: &Entity) -> Result<(), String> {
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
                a.name
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

pub fn page(kind: EntityKind, page: &Page, cursor: Option<&str>) -> Result<(), String> {
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
        entity(e)?;
    }
    Ok(())
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
            entity(out)?;
        }
    }
    Ok(())
}

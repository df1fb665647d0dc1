//! Paging helpers: the cursor a connector hands back to the host is opaque to
//! the host, so a connector can keep whatever it needs in it.
//!
//! Styles: limit/offset ([`Offset`], OneRoster REST); page numbers counted
//! from 1 ([`PageNumber`]: xPress Roster's `navigationPage` with its
//! `navigationLastPage` answer, and any API that pages by number); several
//! collections read as one ([`Chain`]); cursor paging by the last id seen,
//! where the body names the next page in a `links` list of `{rel, uri}`
//! objects ([`after`], [`body_link`], [`query_value`]: Clever's
//! `starting_after`, and any API that pages the same way); and OData's
//! absolute `@odata.nextLink` / `@odata.deltaLink` ([`OData`]: Microsoft
//! Graph). Nothing here sends a request.

use crate::wit::types::{Page, PluginError};

/// A page with nothing in it and nothing after it: a kind the source does
/// not have, or has none of.
pub fn empty_page() -> Page {
    Page {
        entities: Vec::new(),
        next: None,
        total: Some(0),
        ahead: Vec::new(),
    }
}

/// The error for a cursor the host hands back that this connector did not
/// write (cut short in the message).
pub fn foreign_cursor(cursor: &str) -> PluginError {
    PluginError::InvalidData(format!(
        "the paging position \"{}\" is not one this connector wrote; run the import again",
        cursor.chars().take(80).collect::<String>()
    ))
}

/// Limit/offset paging (OneRoster REST): the cursor is the next offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset {
    pub offset: u64,
    pub limit: u64,
}

impl Offset {
    /// The first page when `cursor` is none, else the page the cursor names.
    pub fn from_cursor(cursor: Option<&str>, limit: u64) -> Result<Offset, PluginError> {
        let offset = match cursor {
            None => 0,
            Some(c) => c.parse().map_err(|_| {
                PluginError::InvalidData(format!("the paging cursor `{c}` is not an offset"))
            })?,
        };
        Ok(Offset { offset, limit })
    }

    /// The cursor of the following page, or none when `received` records show
    /// this was the last page. `total`, when the source sends one, ends the read
    /// as soon as it is reached, but a short page always ends it.
    pub fn next_cursor(&self, received: u64, total: Option<u64>) -> Option<String> {
        let next = self.offset + received;
        if received == 0 || received < self.limit {
            return None;
        }
        if let Some(total) = total {
            if next >= total {
                return None;
            }
        }
        Some(next.to_string())
    }
}

/// Page-number paging (`?page=3&per_page=100`, xPress Roster's
/// `navigationPage` / `navigationPageSize`), pages counted from 1: the
/// cursor is the next page's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageNumber {
    pub page: u64,
    pub size: u64,
}

impl PageNumber {
    /// Page 1 when `cursor` is none, else the page the cursor names.
    pub fn from_cursor(cursor: Option<&str>, size: u64) -> Result<PageNumber, PluginError> {
        let page = match cursor {
            None => 1,
            Some(c) => c.parse().ok().filter(|p| *p >= 1).ok_or_else(|| {
                PluginError::InvalidData(format!("the paging cursor `{c}` is not a page number"))
            })?,
        };
        Ok(PageNumber { page, size })
    }

    /// The page after this one, or none when this one ended the read. An
    /// empty page always ends it; a full page (as many records as the
    /// server says it serves a page, `served`, else as asked) goes on; a
    /// short page goes on only while the server's last page (`last`) is
    /// still ahead. So a last page that lies low loses nothing (full pages
    /// go on past it) and one that lies high costs one empty page.
    pub fn next(&self, received: u64, served: Option<u64>, last: Option<u64>) -> Option<u64> {
        if received == 0 {
            return None;
        }
        let full = received
            >= served
                .filter(|s| *s > 0)
                .unwrap_or(self.size)
                .min(self.size);
        let more = last.is_some_and(|l| self.page < l);
        (full || more).then_some(self.page + 1)
    }

    /// The cursor of the following page, or none when this one was the
    /// last, by [`PageNumber::next`] (`last_page`: the number of pages the
    /// source says it has, when it says).
    pub fn next_cursor(&self, received: u64, last_page: Option<u64>) -> Option<String> {
        self.next(received, None, last_page).map(|p| p.to_string())
    }
}

/// A read that walks several collections one after the other (users as
/// `/students` then `/teachers`), each with its own paging: the cursor is
/// the collection's index and that collection's own cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// Which collection this page reads, from 0.
    pub index: usize,
    /// That collection's cursor; none for its first page.
    pub inner: Option<String>,
}

impl Chain {
    /// The first collection's first page when `cursor` is none.
    pub fn from_cursor(cursor: Option<&str>, collections: usize) -> Result<Chain, PluginError> {
        let Some(cursor) = cursor else {
            return Ok(Chain {
                index: 0,
                inner: None,
            });
        };
        let bad = || {
            PluginError::InvalidData(format!(
                "the paging cursor `{cursor}` is not one this connector made"
            ))
        };
        let (index, inner) = cursor.split_once(':').ok_or_else(bad)?;
        let index: usize = index.parse().map_err(|_| bad())?;
        if index >= collections {
            return Err(bad());
        }
        Ok(Chain {
            index,
            inner: (!inner.is_empty()).then(|| inner.to_string()),
        })
    }

    /// The cursor after this page: the same collection's next page, else
    /// the next collection's first, else none when the last one is done.
    pub fn next_cursor(&self, inner_next: Option<String>, collections: usize) -> Option<String> {
        match inner_next {
            Some(next) => Some(format!("{}:{next}", self.index)),
            None if self.index + 1 < collections => Some(format!("{}:", self.index + 1)),
            None => None,
        }
    }
}

/// Cursor paging (Clever `starting_after`): the cursor is the last id seen.
pub fn after(cursor: Option<&str>) -> Option<&str> {
    cursor.filter(|c| !c.is_empty())
}

/// The `uri` of the link with relation `rel` in a body's `links` list
/// (`{"links": [{"rel": "next", "uri": "/v3.0/users?starting_after=x"}]}`);
/// none when the body has no such link.
pub fn body_link<'a>(body: &'a serde_json::Value, rel: &str) -> Option<&'a str> {
    body.get("links")?
        .as_array()?
        .iter()
        .find(|l| {
            l.get("rel")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|r| r.eq_ignore_ascii_case(rel))
        })?
        .get("uri")?
        .as_str()
        .filter(|u| !u.trim().is_empty())
}

/// One OData collection page (`{"value": [...], "@odata.nextLink": URL}`,
/// the last page of a delta round with `@odata.deltaLink` instead).
#[derive(Debug, Clone, PartialEq)]
pub struct OData {
    pub records: Vec<serde_json::Value>,
    /// The next page, an absolute URL to follow as given.
    pub next: Option<String>,
    /// Where the next delta round starts (the last page of a round only).
    pub delta: Option<String>,
}

impl OData {
    /// Read a page; `Err` says what is wrong with the body.
    pub fn from_body(body: &[u8]) -> Result<OData, String> {
        let mut json: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("is not valid JSON ({e})"))?;
        let link = |json: &serde_json::Value, key: &str| {
            json.get(key)
                .and_then(serde_json::Value::as_str)
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_string)
        };
        let (next, delta) = (
            link(&json, "@odata.nextLink"),
            link(&json, "@odata.deltaLink"),
        );
        match json.get_mut("value").map(serde_json::Value::take) {
            Some(serde_json::Value::Array(records)) => Ok(OData {
                records,
                next,
                delta,
            }),
            _ => Err("has no `value` list".into()),
        }
    }
}

/// The decoded value of the query parameter `name` in a URI (relative or
/// absolute); none when it is absent.
pub fn query_value(uri: &str, name: &str) -> Option<String> {
    let query = uri.split_once('?')?.1.split('#').next()?;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key) == name).then(|| decode(value))
    })
}

/// Percent-decode a query component (`+` as a space); bytes that are not
/// UTF-8 are replaced.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Percent-encode a query value or path segment (RFC 3986 unreserved kept).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_numbers_count_from_one_and_stop_at_the_last() {
        let first = PageNumber::from_cursor(None, 2).unwrap();
        assert_eq!(first.page, 1);
        assert_eq!(first.next_cursor(2, None).as_deref(), Some("2"));
        assert_eq!(first.next_cursor(1, None), None, "a short page is the last");
        assert_eq!(
            first.next_cursor(1, Some(1)),
            None,
            "the source said one page"
        );
        assert_eq!(
            first.next_cursor(2, Some(1)).as_deref(),
            Some("2"),
            "a full page goes on past a last page that may lie low"
        );
        let third = PageNumber::from_cursor(Some("3"), 2).unwrap();
        assert_eq!(third.next_cursor(2, Some(4)).as_deref(), Some("4"));
        assert!(PageNumber::from_cursor(Some("0"), 2).is_err());
        assert!(PageNumber::from_cursor(Some("x"), 2).is_err());
    }

    #[test]
    fn a_chain_walks_each_collection_in_turn() {
        let start = Chain::from_cursor(None, 2).unwrap();
        assert_eq!((start.index, start.inner.as_deref()), (0, None));
        let more = start.next_cursor(Some("2".into()), 2).unwrap();
        assert_eq!(more, "0:2");
        let second = Chain::from_cursor(Some(&more), 2).unwrap();
        let next = second.next_cursor(None, 2).unwrap();
        assert_eq!(next, "1:");
        let teachers = Chain::from_cursor(Some(&next), 2).unwrap();
        assert_eq!((teachers.index, teachers.inner), (1, None));
        assert_eq!(
            Chain::from_cursor(Some("1:"), 2)
                .unwrap()
                .next_cursor(None, 2),
            None
        );
        assert!(Chain::from_cursor(Some("5:"), 2).is_err());
        assert!(Chain::from_cursor(Some("nope"), 2).is_err());
    }

    #[test]
    fn numbered_paging_trusts_full_pages_over_the_last_page_it_is_told() {
        let p = PageNumber { page: 2, size: 10 };
        assert_eq!(p.next(10, None, None), Some(3));
        assert_eq!(p.next(10, None, Some(2)), Some(3), "a last page lying low");
        assert_eq!(p.next(4, None, Some(2)), None);
        assert_eq!(
            p.next(4, None, Some(5)),
            Some(3),
            "short, but more said to come"
        );
        assert_eq!(p.next(0, None, Some(9)), None, "an empty page ends it");
        assert_eq!(
            p.next(5, Some(5), None),
            Some(3),
            "a server serving 5 a page"
        );
    }

    #[test]
    fn offset_paging_stops_on_short_page_or_total() {
        let p = Offset::from_cursor(None, 100).unwrap();
        assert_eq!(p.next_cursor(100, None).as_deref(), Some("100"));
        assert_eq!(p.next_cursor(40, None), None);
        assert_eq!(p.next_cursor(100, Some(100)), None);
        let p = Offset::from_cursor(Some("200"), 100).unwrap();
        assert_eq!(p.offset, 200);
        assert!(Offset::from_cursor(Some("x"), 100).is_err());
    }

    #[test]
    fn body_links_and_query_values_are_read() {
        let body = serde_json::json!({"data": [], "links": [
            {"rel": "self", "uri": "/v3.0/users?limit=2"},
            {"rel": "next", "uri": "/v3.0/users?limit=2&starting_after=a%2Fb+c"}
        ]});
        let next = body_link(&body, "next").unwrap();
        assert_eq!(
            query_value(next, "starting_after").as_deref(),
            Some("a/b c")
        );
        assert_eq!(query_value(next, "limit").as_deref(), Some("2"));
        assert_eq!(query_value(next, "role"), None);
        assert_eq!(body_link(&body, "prev"), None);
        assert_eq!(body_link(&serde_json::json!({"links": "x"}), "next"), None);
        assert_eq!(query_value("/x?a=%zz&b=%4", "a").as_deref(), Some("%zz"));
        assert_eq!(query_value("/x?a=1&b=%4", "b").as_deref(), Some("%4"));
        assert_eq!(encode("a b/ü"), "a%20b%2F%C3%BC");
    }

    #[test]
    fn odata_pages_and_links_are_read() {
        let page = OData::from_body(
            br#"{"@odata.context": "x", "value": [{"id": "1"}], "@odata.nextLink": "https://g/v1.0/users?$skiptoken=a"}"#,
        )
        .unwrap();
        assert_eq!(page.records.len(), 1);
        assert_eq!(
            page.next.as_deref(),
            Some("https://g/v1.0/users?$skiptoken=a")
        );
        assert_eq!(page.delta, None);
        let last =
            OData::from_body(br#"{"value": [], "@odata.deltaLink": "https://g/d"}"#).unwrap();
        assert_eq!(
            (last.next, last.delta.as_deref()),
            (None, Some("https://g/d"))
        );
        assert!(
            OData::from_body(b"{\"value\": 3}")
                .unwrap_err()
                .contains("`value`")
        );
        assert!(OData::from_body(b"{\"val").unwrap_err().contains("JSON"));
    }
}

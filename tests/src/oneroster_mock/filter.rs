//! The query grammar of the OneRoster REST binding (1.1 and 1.2, the same):
//! `filter` as predicates `field op 'value'` with the operators
//! `=  !=  >  >=  <  <=  ~` (contains) joined by `AND` / `OR`, and the
//! `sort` / `orderBy` ordering. Fields may be dotted (`school.sourcedId`,
//! `roles.role`) and reach through lists. `dateLastModified` (and any pair of
//! values that both read as RFC 3339 times) compares as instants, numbers as
//! numbers, the rest as text.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value as Json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Contains,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Predicate {
    pub field: String,
    pub op: Op,
    pub value: String,
}

/// A parsed filter: predicates in disjunctive form (`AND` binds tighter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// OR of ANDs.
    pub any_of: Vec<Vec<Predicate>>,
}

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            at: 0,
        };
        let mut any_of = vec![vec![p.predicate()?]];
        loop {
            p.skip_ws();
            if p.at >= p.s.len() {
                break;
            }
            let word = p.word();
            match word.as_str() {
                "AND" => {
                    let predicate = p.predicate()?;
                    if let Some(last) = any_of.last_mut() {
                        last.push(predicate);
                    }
                }
                "OR" => any_of.push(vec![p.predicate()?]),
                other => {
                    return Err(format!(
                        "expected AND or OR at character {}, found `{other}`",
                        p.at - other.len()
                    ));
                }
            }
        }
        Ok(Filter { any_of })
    }

    /// The fields the filter's predicates name.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.any_of.iter().flatten().map(|p| p.field.as_str())
    }

    /// Whether a stored record fails the filter for sure, before it is
    /// presented. Presenting adds only references' `href`s and the top-level
    /// fields in `added`, so a predicate (other than `!=`) on any other
    /// top-level field is decided the same on both: by the stored text, or
    /// false when the stored record lacks the field. A delta then presents
    /// only the records it serves, not the whole collection.
    pub fn rejects_stored(&self, stored: &Json, added: &[&str]) -> bool {
        self.any_of.iter().all(|all| {
            all.iter().any(|p| {
                if p.op == Op::Ne || p.field.contains('.') {
                    return false;
                }
                match stored.get(&p.field) {
                    Some(Json::String(_)) => !p.matches(stored),
                    None => !added.contains(&p.field.as_str()),
                    Some(_) => false,
                }
            })
        })
    }

    /// `matches` on a record's top-level fields, given as an object.
    pub fn matches_object(&self, fields: &Map<String, Json>) -> bool {
        self.any_of.iter().any(|all| {
            all.iter().all(|p| {
                let value = fields.get(&p.field).and_then(Json::as_str);
                p.matches_values(value.into_iter())
            })
        })
    }

    pub fn matches(&self, record: &Json) -> bool {
        self.any_of
            .iter()
            .any(|all| all.iter().all(|p| p.matches(record)))
    }
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.at < self.s.len() && self.s[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn word(&mut self) -> String {
        self.skip_ws();
        let start = self.at;
        while self.at < self.s.len()
            && (self.s[self.at].is_ascii_alphanumeric() || matches!(self.s[self.at], b'_' | b'.'))
        {
            self.at += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.at]).into_owned()
    }

    fn predicate(&mut self) -> Result<Predicate, String> {
        let field = self.word();
        if field.is_empty() {
            return Err(format!("expected a field name at character {}", self.at));
        }
        self.skip_ws();
        let rest = &self.s[self.at..];
        let (op, len) = if rest.starts_with(b"!=") {
            (Op::Ne, 2)
        } else if rest.starts_with(b">=") {
            (Op::Ge, 2)
        } else if rest.starts_with(b"<=") {
            (Op::Le, 2)
        } else if rest.starts_with(b"=") {
            (Op::Eq, 1)
        } else if rest.starts_with(b">") {
            (Op::Gt, 1)
        } else if rest.starts_with(b"<") {
            (Op::Lt, 1)
        } else if rest.starts_with(b"~") {
            (Op::Contains, 1)
        } else {
            return Err(format!(
                "expected one of = != > >= < <= ~ after `{field}` at character {}",
                self.at
            ));
        };
        self.at += len;
        self.skip_ws();
        if self.s.get(self.at) != Some(&b'\'') {
            return Err(format!(
                "the value for `{field}` must be in single quotes (character {})",
                self.at
            ));
        }
        self.at += 1;
        let start = self.at;
        while self.at < self.s.len() && self.s[self.at] != b'\'' {
            self.at += 1;
        }
        if self.at >= self.s.len() {
            return Err(format!("the value for `{field}` has no closing quote"));
        }
        let value = String::from_utf8_lossy(&self.s[start..self.at]).into_owned();
        self.at += 1;
        Ok(Predicate { field, op, value })
    }
}

/// Every scalar a dotted path reaches in `record` (through lists and, for a
/// GUID reference, its `sourcedId`).
pub fn lookup(record: &Json, path: &str) -> Vec<String> {
    let mut current = vec![record];
    for part in path.split('.') {
        let mut next = Vec::new();
        for v in current {
            match v {
                Json::Array(items) => {
                    next.extend(items.iter().filter_map(|i| i.get(part)));
                }
                other => next.extend(other.get(part)),
            }
        }
        current = next;
    }
    let mut out = Vec::new();
    for v in current {
        collect(v, &mut out);
    }
    out
}

fn collect(v: &Json, out: &mut Vec<String>) {
    match v {
        Json::Null => {}
        Json::String(s) => out.push(s.clone()),
        Json::Number(n) => out.push(n.to_string()),
        Json::Bool(b) => out.push(b.to_string()),
        Json::Array(items) => items.iter().for_each(|i| collect(i, out)),
        Json::Object(_) => {
            if let Some(id) = v.get("sourcedId") {
                collect(id, out);
            }
        }
    }
}

fn time(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s.trim()).ok()
}

/// Compare two values as times, numbers or text, in that order of preference.
pub fn compare(a: &str, b: &str) -> Ordering {
    // Two UTC times written alike (`2024-09-01T10:00:00.000Z`) order as
    // their text: a delta's filter runs over every stored record.
    let utc = |s: &str| {
        let b = s.as_bytes();
        b.len() == 24 && b[10] == b'T' && b[19] == b'.' && b[23] == b'Z'
    };
    if utc(a) && utc(b) {
        return a.cmp(b);
    }
    if let (Some(x), Some(y)) = (time(a), time(b)) {
        return x.cmp(&y);
    }
    if let (Ok(x), Ok(y)) = (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        return x.partial_cmp(&y).unwrap_or(Ordering::Equal);
    }
    a.cmp(b)
}

impl Predicate {
    pub fn matches(&self, record: &Json) -> bool {
        let values = lookup(record, &self.field);
        self.matches_values(values.iter().map(String::as_str))
    }

    /// Whether the values a record has at the field meet the predicate.
    fn matches_values<'v>(&self, mut values: impl Iterator<Item = &'v str>) -> bool {
        let want = self.value.as_str();
        match self.op {
            Op::Ne => values.all(|v| compare(v, want) != Ordering::Equal),
            Op::Contains => {
                let want = want.to_lowercase();
                values.any(|v| v.to_lowercase().contains(&want))
            }
            op => values.any(|v| {
                let o = compare(v, want);
                match op {
                    Op::Eq => o == Ordering::Equal,
                    Op::Gt => o == Ordering::Greater,
                    Op::Ge => o != Ordering::Less,
                    Op::Lt => o == Ordering::Less,
                    Op::Le => o != Ordering::Greater,
                    Op::Ne | Op::Contains => false,
                }
            }),
        }
    }
}

/// Sort records by a field (`sort`), ascending unless `desc` (`orderBy`).
/// Records without the field go last; the sort is stable.
pub fn sort(records: &mut [Json], field: &str, descending: bool) {
    records.sort_by(|a, b| {
        let (x, y) = (lookup(a, field), lookup(b, field));
        let o = match (x.first(), y.first()) {
            (Some(x), Some(y)) => compare(x, y),
            (Some(_), None) => return Ordering::Less,
            (None, Some(_)) => return Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        if descending { o.reverse() } else { o }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Json {
        json!({"sourcedId": "u1", "dateLastModified": "2024-09-01T10:00:00.000Z", "givenName": "Ada",
               "grades": ["09", "10"], "score": 7.5,
               "roles": [{"role": "student", "org": {"sourcedId": "s1", "type": "org"}}]})
    }

    #[test]
    fn predicates_and_logic() {
        let u = user();
        let yes = |f: &str| Filter::parse(f).unwrap().matches(&u);
        assert!(yes("dateLastModified>'2024-09-01T09:00:00Z'"));
        assert!(
            !yes("dateLastModified>'2024-09-01T12:00:00+02:00'"),
            "12:00+02:00 is 10:00Z"
        );
        assert!(yes("dateLastModified>='2024-09-01T12:00:00+02:00'"));
        // Both sides written alike in UTC, to the millisecond.
        assert!(yes("dateLastModified>'2024-09-01T09:59:59.999Z'"));
        assert!(!yes("dateLastModified>'2024-09-01T10:00:00.000Z'"));
        assert!(yes("dateLastModified>='2024-09-01T10:00:00.000Z'"));
        assert!(yes("givenName='Ada'") && !yes("givenName!='Ada'") && yes("givenName~'ad'"));
        assert!(
            yes("grades='10'")
                && yes("score>'7'")
                && yes("score<='7.5'")
                && !yes("score<'10' AND score>'8'")
        );
        assert!(
            yes("roles.role='student'") && yes("roles.org='s1'") && yes("roles.org.sourcedId='s1'")
        );
        assert!(yes("givenName='Bob' OR givenName='Ada'"));
        assert!(!yes("givenName='Bob' AND givenName='Ada'"));
        assert!(yes("givenName='Bob' AND score>'1' OR grades='09'"));
        assert!(yes("missing!='x'") && !yes("missing='x'"));
    }

    #[test]
    fn stored_records_are_rejected_only_when_certain() {
        let u = user();
        let rejects = |f: &str| Filter::parse(f).unwrap().rejects_stored(&u, &["role"]);
        assert!(rejects("dateLastModified>'2025-01-01T00:00:00Z'"));
        assert!(!rejects("dateLastModified>'2024-01-01T00:00:00Z'"));
        // Fields presenting may add, nested fields and `!=` go to the presented record.
        assert!(!rejects("role='teacher'") && !rejects("roles.role='teacher'"));
        // A field neither stored nor added is not there to match.
        assert!(rejects("middleName='B'"));
        assert!(!rejects("givenName!='Ada'"));
        // An OR is rejected only when each side fails.
        assert!(!rejects("givenName='Bob' OR role='student'"));
        assert!(rejects("givenName='Bob' OR givenName='Cy'"));
    }

    #[test]
    fn bad_filters_say_why() {
        assert!(
            Filter::parse("givenName 'Ada'")
                .unwrap_err()
                .contains("expected one of")
        );
        assert!(
            Filter::parse("givenName=Ada")
                .unwrap_err()
                .contains("single quotes")
        );
        assert!(
            Filter::parse("givenName='Ada")
                .unwrap_err()
                .contains("no closing quote")
        );
        assert!(
            Filter::parse("a='1' XOR b='2'")
                .unwrap_err()
                .contains("AND or OR")
        );
        assert!(Filter::parse("").is_err());
    }

    #[test]
    fn sorting_by_time_number_and_text() {
        let mut r = vec![
            json!({"n": "10"}),
            json!({"n": "9"}),
            json!({}),
            json!({"n": "100"}),
        ];
        sort(&mut r, "n", false);
        assert_eq!(
            r,
            [
                json!({"n": "9"}),
                json!({"n": "10"}),
                json!({"n": "100"}),
                json!({})
            ]
        );
        sort(&mut r, "n", true);
        assert_eq!(r[0], json!({"n": "100"}));
    }
}

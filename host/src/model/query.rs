//! OneRoster's query language: the `filter`, `sort`, `orderBy` and `fields`
//! parameters of the REST binding (OneRoster 1.1 §3.4.2, 1.2 REST binding
//! "Filtering"), parsed from the query string and evaluated over one record's
//! JSON as the provider serves it.
//!
//! It does no I/O and knows nothing of agreements. The caller evaluates over
//! a record already cut to what the vendor may see, so a filter can never
//! reach a hidden attribute, and it ANDs its own restrictions outside this
//! module. [`Filter::fields`] lists every path a filter names, so the caller
//! can also refuse a filter on a field the vendor may not see instead of
//! letting it quietly match nothing.
//!
//! The filter grammar as accepted (the caller has already percent-decoded the
//! query string):
//!
//! ```text
//! filter    := or
//! or        := and (OR and)*            AND binds tighter than OR
//! and       := primary (AND primary)*
//! primary   := '(' or ')' | condition   at most 32 levels of parentheses
//! condition := field operator value
//! field     := name ('.' name)*         name: ASCII letters, digits, '_'
//! operator  := = | != | > | >= | < | <= | ~
//! value     := '…' with '' for a quote inside, or "…" with "" inside
//! ```
//!
//! Whitespace is optional around operators, parentheses and before `AND` /
//! `OR`; after `AND` / `OR` a space or an opening parenthesis is required.
//! The logical words are `AND` / `OR` or `and` / `or`; other spellings are
//! refused. Parsing never panics, recursion is bounded by the nesting cap,
//! and chains of `AND` / `OR` are built as balanced trees so even a very long
//! filter stays shallow to evaluate and to drop.
//!
//! Evaluation, per condition: the dotted path is walked through objects; an
//! array met on the way (or at the end) makes the condition hold if it holds
//! for any element. A missing value (absent, `null`, an empty array, a path
//! running into a scalar) satisfies `!=` and nothing else. An object at the
//! end of the path (a GUID ref) stands for its `sourcedId`. Values compare as
//! text; see [`Op`] for where numbers compare as numbers.

use std::cmp::Ordering;
use std::collections::HashSet;

use serde_json::{Map, Value};

/// Parentheses nested deeper than this are refused.
const MAX_NESTING: usize = 32;

/// Echoed user input is cut to this many characters in messages.
const SHOW_CHARS: usize = 40;

/// The form every filter error ends with.
const FILTER_HINT: &str = "write each condition as field operator 'value', \
    with the operators = != > >= < <= ~, joined by AND or OR \
    (parentheses may group them)";

/// A comparison operator.
///
/// `=` / `!=` compare the text exactly (case-sensitive); when the record holds
/// a JSON number and the filter value reads as a number they compare
/// numerically (`score='5'` matches `5.0`). Strings are never compared as
/// numbers for equality, so `sourcedId='12'` does not match `"0012"`.
///
/// `>` `>=` `<` `<=` compare numerically when both the record's text and the
/// filter value read as finite numbers (strings included), otherwise by
/// Unicode code point, which orders ISO dates and date-times correctly.
///
/// `~` holds when the record's text contains the value, ignoring case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `~` (contains, case-insensitive)
    Contains,
}

/// One condition: `field op 'value'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Predicate {
    /// The dotted path, split on `.` (`school.sourcedId` → `["school", "sourcedId"]`).
    pub field: Vec<String>,
    pub op: Op,
    /// The unquoted value (doubled quotes already made single).
    pub value: String,
}

/// A parsed `filter` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Pred(Predicate),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

/// The `orderBy` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// The `sort` and `orderBy` parameters together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    /// The dotted path, split on `.`.
    pub field: Vec<String>,
    pub order: Order,
}

/// Why a query parameter was refused. Each message is the whole text for an
/// imsx `description`: it says what to change, in plain words.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    /// The filter text cannot be read; names the character and shows the form.
    #[error("{0}")]
    InvalidFilter(String),
    /// `orderBy` is neither `asc` nor `desc`.
    #[error("{0}")]
    InvalidSortOrder(String),
    /// An empty or malformed field name in `fields` or `sort`.
    #[error("{0}")]
    InvalidField(String),
}

impl Filter {
    /// Reads a `filter` parameter (already percent-decoded).
    ///
    /// # Errors
    ///
    /// [`QueryError::InvalidFilter`] when the text is empty, does not follow
    /// the grammar, or nests parentheses more than 32 deep.
    pub fn parse(text: &str) -> Result<Filter, QueryError> {
        let mut parser = Parser {
            chars: text.chars().collect(),
            pos: 0,
            depth: 0,
        };
        parser.skip_space();
        if parser.peek().is_none() {
            return Err(QueryError::InvalidFilter(format!(
                "the filter is empty: {FILTER_HINT}"
            )));
        }
        let filter = parser.or()?;
        parser.skip_space();
        match parser.peek() {
            None => Ok(filter),
            Some(')') => Err(parser.fail(
                parser.pos,
                "AND, OR or the end of the filter, as this closing parenthesis has no opening one",
            )),
            Some(_) => Err(parser.fail(
                parser.pos,
                "AND or OR between two conditions, or the end of the filter",
            )),
        }
    }

    /// Whether the record satisfies the filter.
    #[must_use]
    pub fn matches(&self, record: &Value) -> bool {
        match self {
            Filter::Pred(p) => p.holds(record),
            Filter::And(a, b) => a.matches(record) && b.matches(record),
            Filter::Or(a, b) => a.matches(record) || b.matches(record),
        }
    }

    /// Every field path the filter names (to check each against what the
    /// caller may see), in the order written, repeats included.
    #[must_use]
    pub fn fields(&self) -> Vec<&[String]> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a [String]>) {
        match self {
            Filter::Pred(p) => out.push(p.field.as_slice()),
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.collect_fields(out);
                b.collect_fields(out);
            }
        }
    }
}

impl Predicate {
    /// Walks the path without recursion; any array element that satisfies
    /// the condition is enough.
    fn holds(&self, record: &Value) -> bool {
        let missing = self.op == Op::Ne;
        let mut stack = vec![(record, 0usize)];
        while let Some((value, step)) = stack.pop() {
            let holds = match (value, self.field.get(step)) {
                (Value::Array(items), _) if items.is_empty() => missing,
                (Value::Array(items), _) => {
                    stack.extend(items.iter().rev().map(|item| (item, step)));
                    continue;
                }
                (Value::Object(map), Some(name)) => match map.get(name) {
                    Some(next) => {
                        stack.push((next, step + 1));
                        continue;
                    }
                    None => missing,
                },
                (Value::Object(map), None) => match map.get("sourcedId").and_then(leaf_text) {
                    Some((text, number)) => self.test(&text, number),
                    None => missing,
                },
                (_, Some(_)) => missing,
                (leaf, None) => match leaf_text(leaf) {
                    Some((text, number)) => self.test(&text, number),
                    None => missing,
                },
            };
            if holds {
                return true;
            }
        }
        false
    }

    /// The condition on one value's text; `number` says the record held a
    /// JSON number.
    fn test(&self, text: &str, number: bool) -> bool {
        match self.op {
            Op::Eq => self.equal(text, number),
            Op::Ne => !self.equal(text, number),
            Op::Gt => ordering(text, &self.value) == Ordering::Greater,
            Op::Ge => ordering(text, &self.value) != Ordering::Less,
            Op::Lt => ordering(text, &self.value) == Ordering::Less,
            Op::Le => ordering(text, &self.value) != Ordering::Greater,
            Op::Contains => text.to_lowercase().contains(&self.value.to_lowercase()),
        }
    }

    fn equal(&self, text: &str, number: bool) -> bool {
        if number && let (Some(a), Some(b)) = (as_number(text), as_number(&self.value)) {
            // Exact: both are finite numbers read from text.
            return a.partial_cmp(&b) == Some(Ordering::Equal);
        }
        text == self.value
    }
}

/// A scalar's text, and whether it was a JSON number; `None` for null,
/// objects and arrays.
fn leaf_text(value: &Value) -> Option<(std::borrow::Cow<'_, str>, bool)> {
    use std::borrow::Cow;
    match value {
        Value::String(s) => Some((Cow::Borrowed(s.as_str()), false)),
        Value::Number(n) => Some((Cow::Owned(n.to_string()), true)),
        Value::Bool(b) => Some((Cow::Borrowed(if *b { "true" } else { "false" }), false)),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Numerically when both read as numbers, otherwise by code point.
fn ordering(text: &str, value: &str) -> Ordering {
    match (as_number(text), as_number(value)) {
        (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        _ => text.cmp(value),
    }
}

/// A finite number written in plain digits (optionally signed, with a
/// fraction or exponent). `nan`, `inf` and dates are not numbers.
fn as_number(text: &str) -> Option<f64> {
    let plain = text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    if !plain {
        return None;
    }
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A recursive-descent reader over the filter's characters. Recursion goes
/// three frames per parenthesis and parentheses are capped.
struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, at: usize) -> Option<char> {
        self.chars.get(at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// The error for what stands at `at` where `expected` should be.
    fn fail(&self, at: usize, expected: &str) -> QueryError {
        let detail = match self.peek_at(at) {
            Some(c) => format!(
                "the filter could not be read at character {} (found {}, expected {expected})",
                at + 1,
                describe(c)
            ),
            None => format!(
                "the filter stops too soon after character {} (expected {expected})",
                self.chars.len()
            ),
        };
        QueryError::InvalidFilter(format!("{detail}: {FILTER_HINT}"))
    }

    fn or(&mut self) -> Result<Filter, QueryError> {
        let first = self.and()?;
        let mut rest = Vec::new();
        while self.keyword("OR")? {
            rest.push(self.and()?);
        }
        Ok(balanced(first, rest, Filter::Or))
    }

    fn and(&mut self) -> Result<Filter, QueryError> {
        let first = self.primary()?;
        let mut rest = Vec::new();
        while self.keyword("AND")? {
            rest.push(self.primary()?);
        }
        Ok(balanced(first, rest, Filter::And))
    }

    /// Consumes `word` (upper- or lowercase) if it comes next, after optional
    /// whitespace; it must be followed by whitespace, `(` or the end.
    fn keyword(&mut self, word: &str) -> Result<bool, QueryError> {
        let start = self.pos;
        self.skip_space();
        let at = self.pos;
        let len = word.chars().count();
        let found = self.chars.get(at..at + len).is_some_and(|got| {
            got.iter().copied().eq(word.chars())
                || got
                    .iter()
                    .copied()
                    .eq(word.chars().map(|c| c.to_ascii_lowercase()))
        });
        if !found {
            self.pos = start;
            return Ok(false);
        }
        match self.peek_at(at + len) {
            None => {}
            Some(c) if c.is_whitespace() || c == '(' => {}
            Some(_) => {
                return Err(self.fail(at + len, &format!("a space after {word}")));
            }
        }
        self.pos = at + len;
        Ok(true)
    }

    fn primary(&mut self) -> Result<Filter, QueryError> {
        self.skip_space();
        if self.peek() != Some('(') {
            return self.condition().map(Filter::Pred);
        }
        if self.depth >= MAX_NESTING {
            return Err(self.fail(self.pos, "at most 32 parentheses nested inside one another"));
        }
        let open = self.pos;
        self.depth += 1;
        self.pos += 1;
        let inner = self.or()?;
        self.skip_space();
        if self.peek() != Some(')') {
            return Err(self.fail(
                self.pos,
                &format!(
                    "AND, OR or a closing parenthesis for the one at character {}",
                    open + 1
                ),
            ));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(inner)
    }

    fn condition(&mut self) -> Result<Predicate, QueryError> {
        let field = self.field()?;
        self.skip_space();
        let op = self.op()?;
        self.skip_space();
        let value = self.value()?;
        Ok(Predicate { field, op, value })
    }

    fn field(&mut self) -> Result<Vec<String>, QueryError> {
        let mut names = Vec::new();
        loop {
            let start = self.pos;
            while self.peek().is_some_and(is_name_char) {
                self.pos += 1;
            }
            let Some(name) = self.chars.get(start..self.pos).filter(|n| !n.is_empty()) else {
                let expected = if names.is_empty() {
                    "a condition, starting with a field name"
                } else {
                    "a field name after the dot"
                };
                return Err(self.fail(self.pos, expected));
            };
            names.push(name.iter().collect());
            if self.peek() != Some('.') {
                return Ok(names);
            }
            self.pos += 1;
        }
    }

    fn op(&mut self) -> Result<Op, QueryError> {
        let then_equals = self.peek_at(self.pos + 1) == Some('=');
        let (op, len) = match self.peek() {
            Some('=') => (Op::Eq, 1),
            Some('!') if then_equals => (Op::Ne, 2),
            Some('>') if then_equals => (Op::Ge, 2),
            Some('>') => (Op::Gt, 1),
            Some('<') if then_equals => (Op::Le, 2),
            Some('<') => (Op::Lt, 1),
            Some('~') => (Op::Contains, 1),
            _ => {
                return Err(self.fail(
                    self.pos,
                    "an operator (= != > >= < <= ~) after the field name",
                ));
            }
        };
        self.pos += len;
        Ok(op)
    }

    fn value(&mut self) -> Result<String, QueryError> {
        let open = self.pos;
        let Some(quote @ ('\'' | '"')) = self.peek() else {
            return Err(self.fail(open, "a value in single quotes after the operator"));
        };
        self.pos += 1;
        let mut value = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(self.fail(
                        self.pos,
                        &format!(
                            "a closing quote for the value opened at character {}",
                            open + 1
                        ),
                    ));
                }
                Some(c) if c == quote => {
                    if self.peek_at(self.pos + 1) == Some(quote) {
                        value.push(quote);
                        self.pos += 2;
                    } else {
                        self.pos += 1;
                        return Ok(value);
                    }
                }
                Some(c) => {
                    value.push(c);
                    self.pos += 1;
                }
            }
        }
    }
}

/// Joins terms left to right into a tree of depth about log2 of their number.
fn balanced(
    first: Filter,
    rest: Vec<Filter>,
    join: fn(Box<Filter>, Box<Filter>) -> Filter,
) -> Filter {
    let mut head = first;
    let mut tail = rest;
    while !tail.is_empty() {
        let mut items = tail.into_iter();
        head = match items.next() {
            Some(right) => join(Box::new(head), Box::new(right)),
            None => head,
        };
        let mut next = Vec::with_capacity(items.len().div_ceil(2));
        while let Some(left) = items.next() {
            next.push(match items.next() {
                Some(right) => join(Box::new(left), Box::new(right)),
                None => left,
            });
        }
        tail = next;
    }
    head
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A character named for a message.
fn describe(c: char) -> String {
    match c {
        '\'' => "a single quote".to_string(),
        '"' => "a double quote".to_string(),
        c if c.is_whitespace() => "a space".to_string(),
        c if c.is_control() => format!("the control character {}", c.escape_unicode()),
        c => format!("'{c}'"),
    }
}

/// User input quoted for a message, cut short and with control characters
/// escaped.
fn shown(text: &str) -> String {
    let mut out = String::from("'");
    for c in text.chars().take(SHOW_CHARS) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if text.chars().nth(SHOW_CHARS).is_some() {
        out.push('…');
    }
    out.push('\'');
    out
}

/// A dotted path of names, or `None` if any part is empty or malformed.
fn parse_path(text: &str) -> Option<Vec<String>> {
    text.split('.')
        .map(|name| (!name.is_empty() && name.chars().all(is_name_char)).then(|| name.to_string()))
        .collect()
}

impl Sort {
    /// `sort` is the field (dotted allowed), `order_by` is `asc`/`desc`
    /// (case-insensitive; absent = asc, and an empty value counts as absent).
    ///
    /// # Errors
    ///
    /// [`QueryError::InvalidField`] when `sort` is empty or not a dotted
    /// field name, [`QueryError::InvalidSortOrder`] when `order_by` is
    /// neither `asc` nor `desc`.
    pub fn parse(sort: &str, order_by: Option<&str>) -> Result<Sort, QueryError> {
        let name = sort.trim();
        let field = if name.is_empty() {
            None
        } else {
            parse_path(name)
        };
        let Some(field) = field else {
            return Err(QueryError::InvalidField(format!(
                "the sort field {} is not a field name: write one field name of letters, digits \
                 and underscores, with a dot for a nested field, as in sort=familyName \
                 or sort=school.sourcedId",
                shown(sort)
            )));
        };
        let order = match order_by.map(str::trim) {
            None | Some("") => Order::Asc,
            Some(o) if o.eq_ignore_ascii_case("asc") => Order::Asc,
            Some(o) if o.eq_ignore_ascii_case("desc") => Order::Desc,
            Some(o) => {
                return Err(QueryError::InvalidSortOrder(format!(
                    "the orderBy value {} is not understood: write orderBy=asc or orderBy=desc",
                    shown(o)
                )));
            }
        };
        Ok(Sort { field, order })
    }

    /// Total order of two records by the sort field (Unicode code point order
    /// of the text; numbers numerically when both are numbers; a record
    /// without the field sorts last in asc).
    ///
    /// JSON numbers sort before all text, booleans sort as the text `true` /
    /// `false`, a GUID ref by its `sourcedId`, an array by its first element
    /// that has a value. `desc` is the exact reverse, so records without the
    /// field come first there. Equal keys compare `Equal`: use a stable sort
    /// and a tie-breaker (such as `sourcedId`) for a deterministic page order.
    #[must_use]
    pub fn compare(&self, a: &Value, b: &Value) -> Ordering {
        let ordering = match (sort_key(a, &self.field), sort_key(b, &self.field)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => x.cmp(&y),
        };
        match self.order {
            Order::Asc => ordering,
            Order::Desc => ordering.reverse(),
        }
    }
}

/// What a record sorts by.
enum SortKey<'a> {
    Number(f64),
    Text(&'a str),
}

impl SortKey<'_> {
    fn cmp(&self, other: &SortKey<'_>) -> Ordering {
        match (self, other) {
            (SortKey::Number(x), SortKey::Number(y)) => x.total_cmp(y),
            (SortKey::Number(_), SortKey::Text(_)) => Ordering::Less,
            (SortKey::Text(_), SortKey::Number(_)) => Ordering::Greater,
            (SortKey::Text(x), SortKey::Text(y)) => x.cmp(y),
        }
    }
}

fn sort_key<'a>(record: &'a Value, path: &[String]) -> Option<SortKey<'a>> {
    let mut stack = vec![(record, 0usize)];
    while let Some((value, step)) = stack.pop() {
        let key = match (value, path.get(step)) {
            (Value::Array(items), _) => {
                stack.extend(items.iter().rev().map(|item| (item, step)));
                None
            }
            (Value::Object(map), Some(name)) => {
                if let Some(next) = map.get(name) {
                    stack.push((next, step + 1));
                }
                None
            }
            (Value::Object(map), None) => map.get("sourcedId").and_then(scalar_key),
            (_, Some(_)) => None,
            (leaf, None) => scalar_key(leaf),
        };
        if key.is_some() {
            return key;
        }
    }
    None
}

fn scalar_key(value: &Value) -> Option<SortKey<'_>> {
    match value {
        Value::String(s) => Some(SortKey::Text(s)),
        Value::Number(n) => n.as_f64().map(SortKey::Number),
        Value::Bool(b) => Some(SortKey::Text(if *b { "true" } else { "false" })),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// `fields=givenName,familyName` → the names, trimmed, empty ones refused,
/// repeated ones once, order kept. Names are top-level fields only: a dotted
/// name is refused.
///
/// # Errors
///
/// [`QueryError::InvalidField`] for an empty, dotted or malformed name.
pub fn parse_fields(text: &str) -> Result<Vec<String>, QueryError> {
    let mut names = Vec::new();
    let mut seen = HashSet::new();
    for (place, raw) in text.split(',').enumerate() {
        let name = raw.trim();
        if name.is_empty() {
            return Err(QueryError::InvalidField(format!(
                "the fields list has an empty name in place {}: write field names separated \
                 by single commas, as in fields=givenName,familyName",
                place + 1
            )));
        }
        if name.contains('.') {
            return Err(QueryError::InvalidField(format!(
                "the fields list names {}, a nested field: fields takes top-level field \
                 names only, so write the top-level name, as in fields=sourcedId,school",
                shown(name)
            )));
        }
        if !name.chars().all(is_name_char) {
            return Err(QueryError::InvalidField(format!(
                "the fields list names {}, which is not a field name: write names of letters, \
                 digits and underscores separated by commas, as in fields=givenName,familyName",
                shown(name)
            )));
        }
        if seen.insert(name) {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

/// A record cut to the named top-level fields (others removed); a name the
/// record lacks is simply absent. A record that is not an object has no
/// fields, so it becomes an empty object.
#[must_use]
pub fn select_fields(record: &Value, fields: &[String]) -> Value {
    let mut out = Map::new();
    if let Value::Object(map) = record {
        for name in fields {
            if let Some(value) = map.get(name) {
                out.insert(name.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Filter {
        match Filter::parse(text) {
            Ok(f) => f,
            Err(e) => panic!("{text:?} should parse: {e}"),
        }
    }

    fn pred(field: &str, op: Op, value: &str) -> Filter {
        Filter::Pred(Predicate {
            field: field.split('.').map(str::to_string).collect(),
            op,
            value: value.to_string(),
        })
    }

    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    fn hit(filter: &str, record: &Value) -> bool {
        parse(filter).matches(record)
    }

    fn filter_error(text: &str) -> String {
        match Filter::parse(text) {
            Err(QueryError::InvalidFilter(message)) => message,
            other => panic!("{text:?} should be refused as InvalidFilter, got {other:?}"),
        }
    }

    fn depth(filter: &Filter) -> usize {
        match filter {
            Filter::Pred(_) => 1,
            Filter::And(a, b) | Filter::Or(a, b) => 1 + depth(a).max(depth(b)),
        }
    }

    fn user() -> Value {
        json!({
            "sourcedId": "u-1",
            "status": "active",
            "dateLastModified": "2015-06-01T12:30:00.000Z",
            "givenName": "Siobhan",
            "familyName": "O'Brien",
            "enabledUser": true,
            "grades": ["09", "10"],
            "score": 5.0,
            "age": 15,
            "middleName": null,
            "school": { "href": "https://x/orgs/s-1", "sourcedId": "s-1", "type": "org" },
            "roles": [
                { "roleType": "primary", "role": "teacher", "org": { "sourcedId": "s-1" } },
                { "roleType": "secondary", "role": "student", "org": { "sourcedId": "s-2" } }
            ],
            "metadata": { "ext": { "key": "Value-7" } }
        })
    }

    #[test]
    fn parses_a_condition_with_or_without_spaces() {
        let want = pred("familyName", Op::Eq, "Jones");
        for text in [
            "familyName='Jones'",
            "familyName = 'Jones'",
            "  familyName\t=  'Jones'  ",
            "familyName= 'Jones'",
            "familyName ='Jones'",
            "(familyName='Jones')",
            "( familyName = 'Jones' )",
        ] {
            assert_eq!(parse(text), want, "{text:?}");
        }
    }

    #[test]
    fn parses_each_operator() {
        for (text, op) in [
            ("a='1'", Op::Eq),
            ("a!='1'", Op::Ne),
            ("a>'1'", Op::Gt),
            ("a>='1'", Op::Ge),
            ("a<'1'", Op::Lt),
            ("a<='1'", Op::Le),
            ("a~'1'", Op::Contains),
            ("a != '1'", Op::Ne),
            ("a >= '1'", Op::Ge),
        ] {
            assert_eq!(parse(text), pred("a", op, "1"), "{text:?}");
        }
    }

    #[test]
    fn evaluates_each_operator_on_text() {
        let r = json!({ "familyName": "Jones" });
        assert!(hit("familyName='Jones'", &r));
        assert!(!hit("familyName='jones'", &r), "= is case-sensitive");
        assert!(!hit("familyName='Jone'", &r));
        assert!(hit("familyName!='Smith'", &r));
        assert!(!hit("familyName!='Jones'", &r));
        assert!(hit("familyName>'Ja'", &r));
        assert!(!hit("familyName>'Jones'", &r));
        assert!(hit("familyName>='Jones'", &r));
        assert!(hit("familyName<'Jz'", &r));
        assert!(!hit("familyName<'Jones'", &r));
        assert!(hit("familyName<='Jones'", &r));
        assert!(!hit("familyName<='Ja'", &r));
        assert!(hit("familyName~'one'", &r));
        assert!(!hit("familyName~'smith'", &r));
    }

    #[test]
    fn contains_ignores_case_on_both_sides() {
        let r = json!({ "givenName": "ÉLODIE Marie" });
        assert!(hit("givenName~'élodie'", &r));
        assert!(hit("givenName~'MARIE'", &r));
        assert!(hit("givenName~'e m'", &r));
        assert!(hit("givenName~''", &r), "the empty text is in every value");
        assert!(!hit("givenName~'elodie'", &r), "accents are not folded");
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let f = parse("a='1' OR b='2' AND c='3'");
        assert_eq!(
            f,
            or(
                pred("a", Op::Eq, "1"),
                and(pred("b", Op::Eq, "2"), pred("c", Op::Eq, "3"))
            )
        );
        assert!(f.matches(&json!({ "a": "1" })));
        assert!(!f.matches(&json!({ "b": "2" })));
        assert!(!f.matches(&json!({ "c": "3" })));
        assert!(f.matches(&json!({ "b": "2", "c": "3" })));

        let f = parse("a='1' AND b='2' OR c='3'");
        assert_eq!(
            f,
            or(
                and(pred("a", Op::Eq, "1"), pred("b", Op::Eq, "2")),
                pred("c", Op::Eq, "3")
            )
        );
        assert!(f.matches(&json!({ "c": "3" })));
        assert!(!f.matches(&json!({ "a": "1" })));
    }

    #[test]
    fn parentheses_group() {
        let f = parse("(a='1' OR b='2') AND c='3'");
        assert_eq!(
            f,
            and(
                or(pred("a", Op::Eq, "1"), pred("b", Op::Eq, "2")),
                pred("c", Op::Eq, "3")
            )
        );
        assert!(!f.matches(&json!({ "a": "1" })));
        assert!(f.matches(&json!({ "a": "1", "c": "3" })));
        assert!(f.matches(&json!({ "b": "2", "c": "3" })));

        // Parentheses need no surrounding spaces.
        assert_eq!(
            parse("a='1' AND(b='2'OR c='3')"),
            parse("a='1' AND (b='2' OR c='3')")
        );
        assert_eq!(parse("((a='1'))"), pred("a", Op::Eq, "1"));
    }

    #[test]
    fn lowercase_logical_words_and_long_chains() {
        assert_eq!(
            parse("a='1' or b='2' and c='3'"),
            parse("a='1' OR b='2' AND c='3'")
        );
        let f = parse("a='1' AND b='2' AND c='3' AND d='4' OR e='5'");
        assert_eq!(f.fields().len(), 5);
        assert!(f.matches(&json!({ "a": "1", "b": "2", "c": "3", "d": "4" })));
        assert!(!f.matches(&json!({ "a": "1", "b": "2", "c": "3" })));
        assert!(f.matches(&json!({ "e": "5" })));
        // Before AND / OR no space is needed: the value's quote ends it.
        assert_eq!(parse("a='1'AND b='2'"), parse("a='1' AND b='2'"));
    }

    #[test]
    fn words_inside_values_are_not_operators() {
        let f = parse("name='Jones AND Smith OR (x)'");
        assert_eq!(f, pred("name", Op::Eq, "Jones AND Smith OR (x)"));
        let f = parse("name='a=b' AND x=\"c!='d'\"");
        assert_eq!(
            f,
            and(pred("name", Op::Eq, "a=b"), pred("x", Op::Eq, "c!='d'"))
        );
    }

    #[test]
    fn quotes_inside_values() {
        assert_eq!(
            parse("familyName='O''Brien'"),
            pred("familyName", Op::Eq, "O'Brien")
        );
        assert_eq!(
            parse("familyName=\"O'Brien\""),
            pred("familyName", Op::Eq, "O'Brien")
        );
        assert_eq!(
            parse("a=\"say \"\"hi\"\"\""),
            pred("a", Op::Eq, "say \"hi\"")
        );
        assert_eq!(parse("a=''"), pred("a", Op::Eq, ""));
        assert_eq!(parse("a=''''"), pred("a", Op::Eq, "'"));
        assert_eq!(parse("a='x y+z'"), pred("a", Op::Eq, "x y+z"));
        assert!(hit("familyName='O''Brien'", &user()));
        assert!(hit("familyName=\"O'Brien\"", &user()));
        assert!(hit("a='' AND b='2'", &json!({ "a": "", "b": "2" })));
    }

    #[test]
    fn dotted_paths_walk_objects() {
        let f = parse("school.sourcedId='s-1'");
        assert_eq!(f, pred("school.sourcedId", Op::Eq, "s-1"));
        assert!(f.matches(&user()));
        assert!(hit("metadata.ext.key='Value-7'", &user()));
        assert!(hit("metadata.ext.key~'value'", &user()));
        assert!(!hit("metadata.ext.other='x'", &user()));
        assert!(!hit("metadata.ext.key.deeper='Value-7'", &user()));
        assert!(hit("metadata.ext.key.deeper!='Value-7'", &user()));
    }

    #[test]
    fn arrays_match_when_any_element_does() {
        let u = user();
        assert!(hit("roles.role='student'", &u));
        assert!(hit("roles.role='teacher'", &u));
        assert!(!hit("roles.role='aide'", &u));
        assert!(hit("roles.org.sourcedId='s-2'", &u));
        assert!(hit("roles.org='s-2'", &u));
        assert!(hit("grades='09'", &u));
        assert!(hit("grades='10'", &u));
        assert!(!hit("grades='11'", &u));
        assert!(hit("grades>='10'", &u));
        // Any element: one grade differing from 09 is enough for !=.
        assert!(hit("grades!='09'", &u));
        assert!(!hit("grades!='09'", &json!({ "grades": ["09"] })));
        // Nested arrays flatten.
        assert!(hit("a='x'", &json!({ "a": [["y"], ["x"]] })));
        // A condition that must hold on one element is not split across two.
        let r = json!({ "roles": [{ "role": "teacher", "org": "s-1" }, { "role": "student", "org": "s-2" }] });
        assert!(
            hit("roles.role='teacher' AND roles.org='s-2'", &r),
            "each condition on its own"
        );
    }

    #[test]
    fn a_guid_ref_compares_by_its_sourced_id() {
        let u = user();
        assert!(hit("school='s-1'", &u));
        assert!(!hit("school='https://x/orgs/s-1'", &u));
        assert!(hit("school!='s-9'", &u));
        let no_id = json!({ "school": { "href": "h" } });
        assert!(!hit("school='h'", &no_id));
        assert!(
            hit("school!='h'", &no_id),
            "an object without sourcedId is missing"
        );
    }

    #[test]
    fn missing_fields_satisfy_only_not_equal() {
        let u = user();
        for op in ["=", ">", ">=", "<", "<=", "~"] {
            assert!(!hit(&format!("nickname{op}'x'"), &u), "{op}");
            assert!(
                !hit(&format!("middleName{op}'x'"), &u),
                "null is missing, {op}"
            );
            assert!(
                !hit(&format!("givenName.x{op}'x'"), &u),
                "path into a string, {op}"
            );
        }
        assert!(hit("nickname!='x'", &u));
        assert!(hit("middleName!='x'", &u));
        assert!(hit("givenName.x!='x'", &u));
        assert!(
            hit("grades!='09'", &json!({ "grades": [] })),
            "an empty array is missing"
        );
        assert!(!hit("grades='09'", &json!({ "grades": [] })));
        assert!(!hit("a='1'", &json!("not an object")));
        assert!(hit("a!='1'", &json!(null)));
    }

    #[test]
    fn dates_compare_in_code_point_order() {
        let u = user();
        assert!(hit("dateLastModified>'2015-01-01'", &u));
        assert!(hit("dateLastModified>='2015-06-01'", &u));
        assert!(!hit("dateLastModified<'2015-06-01'", &u));
        assert!(hit("dateLastModified<'2015-06-01T12:30:00.001Z'", &u));
        assert!(!hit("dateLastModified>'2016-01-01'", &u));
        assert!(hit("dateLastModified<'2016'", &u));
        assert!(hit(
            "dateLastModified>'2015-01-01' AND dateLastModified<'2015-12-31'",
            &u
        ));
    }

    #[test]
    fn numbers_compare_numerically() {
        let u = user();
        assert!(hit("score='5'", &u), "5.0 = '5'");
        assert!(hit("score='5.00'", &u));
        assert!(hit("score!='6'", &u));
        assert!(!hit("score!='5'", &u));
        assert!(hit("age>'9'", &u), "15 > 9 numerically, not by text");
        assert!(hit("age<'100'", &u));
        assert!(hit("age>='1.5e1'", &u));
        assert!(hit("age<='15'", &u));
        assert!(!hit("age>'15'", &u));
        assert!(hit("age~'5'", &u), "contains works on a number's text");
        // Numeric strings order numerically too.
        let r = json!({ "grade": "9" });
        assert!(hit("grade<'10'", &r));
        assert!(!hit("grade>'10'", &r));
        // Equality on strings stays exact: identifiers keep their zeros.
        assert!(!hit("id='12'", &json!({ "id": "0012" })));
        assert!(hit("id='0012'", &json!({ "id": "0012" })));
        assert!(!hit("grades='9'", &u));
        // nan and inf are words, not numbers.
        assert!(hit("x='nan'", &json!({ "x": "nan" })));
        assert!(hit("x>'inf'", &json!({ "x": "infinity" })));
        assert!(!hit("x='1e999'", &json!({ "x": "1e9999" })));
    }

    #[test]
    fn booleans_compare_as_text() {
        let u = user();
        assert!(hit("enabledUser='true'", &u));
        assert!(!hit("enabledUser='false'", &u));
        assert!(!hit("enabledUser='TRUE'", &u));
        assert!(hit("enabledUser~'TRUE'", &u));
    }

    #[test]
    fn fields_lists_every_path_in_order() {
        let f = parse("(a='1' OR school.sourcedId='2') AND roles.role='x' AND a='3'");
        let got: Vec<Vec<&str>> = f
            .fields()
            .into_iter()
            .map(|p| p.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(
            got,
            vec![
                vec!["a"],
                vec!["school", "sourcedId"],
                vec!["roles", "role"],
                vec!["a"]
            ]
        );
    }

    #[test]
    fn error_empty_filter() {
        for text in ["", "   ", "\t\n"] {
            let message = filter_error(text);
            assert!(message.contains("empty"), "{message}");
            assert!(message.contains("field operator 'value'"), "{message}");
        }
    }

    #[test]
    fn error_unquoted_value_names_the_character() {
        let message = filter_error("familyName=Jones");
        assert!(message.contains("character 12"), "{message}");
        assert!(message.contains("found 'J'"), "{message}");
        assert!(message.contains("single quotes"), "{message}");
        assert!(message.contains("joined by AND or OR"), "{message}");
        assert!(
            message.contains("the operators = != > >= < <= ~"),
            "{message}"
        );
        let message = filter_error("age>15");
        assert!(message.contains("character 5"), "{message}");
    }

    #[test]
    fn error_unterminated_value() {
        let message = filter_error("familyName='Jones");
        assert!(message.contains("stops too soon"), "{message}");
        assert!(message.contains("closing quote"), "{message}");
        assert!(message.contains("character 12"), "{message}");
        let message = filter_error("a='x''");
        assert!(message.contains("closing quote"), "{message}");
        filter_error("a=\"x'");
    }

    #[test]
    fn error_leftovers_after_a_complete_filter() {
        let message = filter_error("a='1' OR");
        assert!(message.contains("stops too soon"), "{message}");
        assert!(message.contains("field name"), "{message}");
        let message = filter_error("a='1' b='2'");
        assert!(message.contains("character 7"), "{message}");
        assert!(message.contains("found 'b'"), "{message}");
        assert!(
            message.contains("AND or OR between two conditions"),
            "{message}"
        );
        let message = filter_error("a='1')");
        assert!(message.contains("no opening one"), "{message}");
        filter_error("a='1' AND");
        filter_error("a='1' AND AND b='2'");
        filter_error("AND a='1'");
        filter_error("a='1' XOR b='2'");
    }

    #[test]
    fn error_logical_word_spelling() {
        let message = filter_error("a='1' ANDb='2'");
        assert!(message.contains("a space after AND"), "{message}");
        let message = filter_error("a='1' ORacle='2'");
        assert!(message.contains("a space after OR"), "{message}");
        filter_error("a='1' And b='2'");
        filter_error("a='1' && b='2'");
        filter_error("a='1' || b='2'");
    }

    #[test]
    fn error_parentheses() {
        let message = filter_error("(a='1' OR b='2'");
        assert!(
            message.contains("closing parenthesis for the one at character 1"),
            "{message}"
        );
        filter_error("()");
        filter_error("(a='1'))");
        filter_error("a=('1')");
    }

    #[test]
    fn error_fields_and_operators() {
        let message = filter_error("a..b='1'");
        assert!(message.contains("field name after the dot"), "{message}");
        filter_error("a.='1'");
        filter_error(".a='1'");
        let message = filter_error("a b='1'");
        assert!(message.contains("an operator"), "{message}");
        let message = filter_error("a=='1'");
        assert!(message.contains("found '='"), "{message}");
        filter_error("a!'1'");
        filter_error("a<>'1'");
        filter_error("a=>'1'");
        filter_error("='1'");
        filter_error("'1'='1'");
        filter_error("gïven='1'");
        filter_error("a='1' AND 'x'");
        let message = filter_error("a=\u{1}");
        assert!(message.contains("control character"), "{message}");
    }

    #[test]
    fn nesting_is_capped_at_32() {
        let nested = |n: usize| format!("{}a='1'{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(parse(&nested(32)), pred("a", Op::Eq, "1"));
        let message = filter_error(&nested(33));
        assert!(message.contains("at most 32 parentheses"), "{message}");
        assert!(message.contains("character 33"), "{message}");
        // Far deeper input is refused just as cheaply.
        filter_error(&"(".repeat(200_000));
        filter_error(&nested(100_000));
    }

    #[test]
    fn messages_have_no_backticks() {
        let mut messages = Vec::new();
        for text in [
            "",
            "a=b",
            "a='1' b",
            "((a='1')",
            "a..b='1'",
            "a='1' ANDb='2'",
        ] {
            messages.push(filter_error(text));
        }
        for bad in [
            Sort::parse("", None).err(),
            Sort::parse("a", Some("up")).err(),
            parse_fields("a,,b").err(),
            parse_fields("a.b").err(),
            parse_fields("a b").err(),
        ] {
            match bad {
                Some(e) => messages.push(e.to_string()),
                None => panic!("should be refused"),
            }
        }
        for message in messages {
            assert!(!message.contains('`'), "{message}");
            assert!(message.contains("write"), "says what to write: {message}");
        }
    }

    #[test]
    fn long_chains_parse_shallow_and_evaluate() {
        let conditions: Vec<String> = (0..20_000).map(|i| format!("f{i}='{i}'")).collect();
        let text = conditions.join(" AND ");
        let f = parse(&text);
        assert!(depth(&f) <= 20, "depth {}", depth(&f));
        assert_eq!(f.fields().len(), 20_000);
        let mut record = Map::new();
        for i in 0..20_000 {
            record.insert(format!("f{i}"), json!(i.to_string()));
        }
        let record = Value::Object(record);
        assert!(f.matches(&record));
        let text = conditions.join(" OR ");
        let f = parse(&text);
        assert!(depth(&f) <= 20, "depth {}", depth(&f));
        assert!(f.matches(&json!({ "f19999": "19999" })));
        assert!(!f.matches(&json!({ "f19999": "1" })));
        // The order of the conditions survives balancing.
        let names: Vec<String> = f.fields().iter().map(|p| p[0].clone()).collect();
        let want: Vec<String> = (0..20_000).map(|i| format!("f{i}")).collect();
        assert_eq!(names, want);
    }

    #[test]
    fn parsing_never_panics() {
        let valid = [
            "familyName='O''Brien' AND (roles.role='student' OR grades>=\"09\")",
            "a='1' or b!='2' and c~'x'",
            "dateLastModified>'2015-01-01T00:00:00Z'",
            "((a<='1'))AND(b<'2')",
            "name='ü€𝄞' OR x='\u{0}'",
        ];
        let record = user();
        for text in valid {
            assert!(Filter::parse(text).is_ok(), "{text:?}");
            for (i, _) in text.char_indices() {
                if let Ok(f) = Filter::parse(&text[..i]) {
                    let _ = f.matches(&record);
                }
            }
        }
        // Random bytes, read lossily as the query string would be.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"ab.=!<>~'\"() \tANDORandor_9\xff\xc3";
        for _ in 0..5_000 {
            let len = (next() % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 3 == 0 {
                        (r >> 8).to_le_bytes()[0]
                    } else {
                        alphabet[(r >> 8) as usize % alphabet.len()]
                    }
                })
                .collect();
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(f) = Filter::parse(&text) {
                let _ = f.matches(&record);
                let _ = f.fields();
            }
        }
        // Very long inputs.
        filter_error(&"a".repeat(100_000));
        filter_error(&format!("a='{}", "x".repeat(100_000)));
        assert!(Filter::parse(&format!("a='{}'", "''".repeat(50_000))).is_ok());
        filter_error(&"a='1' AND ".repeat(10_000));
        filter_error(&")".repeat(100_000));
        filter_error(&"'".repeat(100_001));
    }

    #[test]
    fn sort_parse() {
        assert_eq!(
            Sort::parse("familyName", None),
            Ok(Sort {
                field: vec!["familyName".into()],
                order: Order::Asc
            })
        );
        assert_eq!(
            Sort::parse(" school.sourcedId ", Some("DESC")),
            Ok(Sort {
                field: vec!["school".into(), "sourcedId".into()],
                order: Order::Desc
            })
        );
        assert_eq!(
            Sort::parse("a", Some("Asc")).map(|s| s.order),
            Ok(Order::Asc)
        );
        assert_eq!(Sort::parse("a", Some("")).map(|s| s.order), Ok(Order::Asc));
        assert_eq!(
            Sort::parse("a", Some(" desc ")).map(|s| s.order),
            Ok(Order::Desc)
        );
    }

    #[test]
    fn sort_parse_errors() {
        match Sort::parse("a", Some("descending")) {
            Err(QueryError::InvalidSortOrder(m)) => {
                assert!(m.contains("'descending'"), "{m}");
                assert!(m.contains("orderBy=asc or orderBy=desc"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        match Sort::parse("a", Some(&"x".repeat(1_000))) {
            Err(QueryError::InvalidSortOrder(m)) => assert!(m.len() < 200, "echo is cut: {m}"),
            other => panic!("{other:?}"),
        }
        for bad in [
            "",
            "  ",
            "a..b",
            "a.",
            ".a",
            "a b",
            "a,b",
            "given-name",
            "a='1'",
        ] {
            match Sort::parse(bad, None) {
                Err(QueryError::InvalidField(m)) => {
                    assert!(m.contains("sort=familyName"), "{m}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    fn sort_by(records: &mut [Value], sort: &str, order: Option<&str>) -> Vec<String> {
        let sort = match Sort::parse(sort, order) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        records.sort_by(|a, b| sort.compare(a, b));
        records
            .iter()
            .map(|r| r["id"].as_str().unwrap_or("?").to_string())
            .collect()
    }

    #[test]
    fn sort_compare_text_in_code_point_order_missing_last() {
        let mut records = vec![
            json!({ "id": "none" }),
            json!({ "id": "b", "name": "bob" }),
            json!({ "id": "Z", "name": "Zed" }),
            json!({ "id": "null", "name": null }),
            json!({ "id": "e", "name": "Émile" }),
            json!({ "id": "a", "name": "alice" }),
        ];
        let asc = sort_by(&mut records, "name", None);
        assert_eq!(&asc[..4], ["Z", "a", "b", "e"]);
        assert!(asc[4..].iter().all(|id| id == "none" || id == "null"));
        let desc = sort_by(&mut records, "name", Some("desc"));
        assert!(desc[..2].iter().all(|id| id == "none" || id == "null"));
        assert_eq!(&desc[2..], ["e", "b", "a", "Z"]);
    }

    #[test]
    fn sort_compare_numbers_and_nested() {
        let sort = match Sort::parse("score", None) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let n = |v: Value| json!({ "score": v });
        assert_eq!(sort.compare(&n(json!(9)), &n(json!(10))), Ordering::Less);
        assert_eq!(sort.compare(&n(json!(5)), &n(json!(5.0))), Ordering::Equal);
        assert_eq!(sort.compare(&n(json!(-1.5)), &n(json!(-1))), Ordering::Less);
        assert_eq!(
            sort.compare(&n(json!("10")), &n(json!("9"))),
            Ordering::Less,
            "text"
        );
        assert_eq!(sort.compare(&n(json!(100)), &n(json!("1"))), Ordering::Less);
        assert_eq!(sort.compare(&n(json!(1)), &json!({})), Ordering::Less);
        assert_eq!(sort.compare(&json!({}), &json!({})), Ordering::Equal);

        let mut records = vec![
            json!({ "id": "2", "school": { "sourcedId": "s-2" } }),
            json!({ "id": "x" }),
            json!({ "id": "1", "school": { "sourcedId": "s-1" } }),
        ];
        assert_eq!(sort_by(&mut records, "school", None), ["1", "2", "x"]);
        assert_eq!(
            sort_by(&mut records, "school.sourcedId", Some("desc")),
            ["x", "2", "1"]
        );
        let mut records = vec![
            json!({ "id": "t", "roles": [{ "role": "teacher" }] }),
            json!({ "id": "s", "roles": [{}, { "role": "student" }] }),
        ];
        assert_eq!(sort_by(&mut records, "roles.role", None), ["s", "t"]);
    }

    #[test]
    fn sort_compare_is_a_total_order_over_mixed_values() {
        let values = [
            json!(2),
            json!(10),
            json!("1a"),
            json!("2"),
            json!("10"),
            json!(true),
            json!(null),
            json!([]),
            json!(["b", "a"]),
            json!({ "sourcedId": "m" }),
            json!({ "href": "h" }),
            json!(-0.0),
            json!(0),
        ];
        let records: Vec<Value> = values.iter().map(|v| json!({ "k": v })).collect();
        for order in ["asc", "desc"] {
            let sort = match Sort::parse("k", Some(order)) {
                Ok(s) => s,
                Err(e) => panic!("{e}"),
            };
            for a in &records {
                assert_eq!(sort.compare(a, a), Ordering::Equal);
                for b in &records {
                    assert_eq!(sort.compare(a, b), sort.compare(b, a).reverse());
                    for c in &records {
                        if sort.compare(a, b) != Ordering::Greater
                            && sort.compare(b, c) != Ordering::Greater
                        {
                            assert_ne!(sort.compare(a, c), Ordering::Greater, "{a} {b} {c}");
                        }
                    }
                }
            }
            let mut sorted = records.clone();
            sorted.sort_by(|a, b| sort.compare(a, b));
        }
    }

    #[test]
    fn parse_fields_trims_dedupes_keeps_order() {
        assert_eq!(
            parse_fields("givenName,familyName"),
            Ok(vec!["givenName".to_string(), "familyName".to_string()])
        );
        assert_eq!(
            parse_fields(" familyName , givenName,familyName,sourcedId ,givenName"),
            Ok(vec![
                "familyName".to_string(),
                "givenName".to_string(),
                "sourcedId".to_string()
            ])
        );
        assert_eq!(parse_fields("sourcedId"), Ok(vec!["sourcedId".to_string()]));
    }

    #[test]
    fn parse_fields_refuses_empty_and_malformed_names() {
        for (bad, hint) in [
            ("", "empty name in place 1"),
            ("a,,b", "empty name in place 2"),
            ("a,", "empty name in place 2"),
            (" , a", "empty name in place 1"),
            ("school.sourcedId", "top-level field names only"),
            ("given name", "'given name', which is not a field name"),
            ("a,b-c", "'b-c'"),
            ("a;b", "'a;b'"),
        ] {
            match parse_fields(bad) {
                Err(QueryError::InvalidField(m)) => {
                    assert!(m.contains(hint), "{bad:?}: {m}");
                    assert!(m.contains("fields="), "{bad:?}: {m}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let many = vec!["a"; 50_000].join(",");
        assert_eq!(parse_fields(&many), Ok(vec!["a".to_string()]));
    }

    #[test]
    fn select_fields_cuts_to_top_level_names() {
        let u = user();
        let fields = match parse_fields("givenName,school,nickname") {
            Ok(f) => f,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            select_fields(&u, &fields),
            json!({ "givenName": "Siobhan", "school": u["school"].clone() })
        );
        assert_eq!(select_fields(&u, &[]), json!({}));
        assert_eq!(select_fields(&json!([1, 2]), &fields), json!({}));
        assert_eq!(
            select_fields(&json!({ "middleName": null }), &["middleName".to_string()]),
            json!({ "middleName": null }),
            "a present null stays"
        );
    }
}

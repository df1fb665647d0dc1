//! The host's boundary checks on what a plugin returns
//! (`host/src/runtime/validate.rs`): a page a connector's `read` hands back,
//! checked as the runtime checks it (`validate::page(kind, &page, cursor,
//! checks)`), the verdicts a rule returns for those records
//! (`validate::verdicts`) and the schools of `list-schools`
//! (`validate::schools`). A plugin is untrusted: these must take any value
//! at all without panicking.
//!
//! The checks are compiled from the host's own file (the module is private
//! to the host; see `shims/host-validate`).
//!
//! Besides "never panics": what the checks say reaches admins, so every
//! message and note is one line with no control character, and `short`
//! (how a plugin's value is quoted in them) gives at most 81 printable
//! characters. Every name a rule may read is one a connector may send.
//!
//! The input is read by hand with `arbitrary::Unstructured`, byte by byte,
//! so that a seed can be written by `seeds.py`:
//!
//! ```text
//! page     = kind:u8 flags:u8 [cursor:str] [next:str] [total:u64le]
//!            ahead:list<str> entities:list<entity> verdicts
//!   flags  = bit 0 cursor, bit 1 next, bit 2 total, bit 3 checks.names,
//!            bits 4-6 the value cap (VALUE_SIZES)
//! entity   = kind:u8 (below 0xc0: the page's kind) source_id:str
//!            status:u8 (bit 0: to-be-deleted) dlm:u8 (bit 0: present) [str]
//!            attributes:list<name:str value>
//! value    = tag:u8 % 10 (null text integer:i64le number:f64le boolean:u8
//!            date date-time texts:list<str> reference:(kind:u8 str)
//!            references:list<(kind:u8 str)>)
//! list<T>  = count:u8 T*; count 255 is one more than the limit, made
//!            by the harness (MAX_AHEAD cursors, MAX_PAGE records `r`,
//!            MAX_ATTRIBUTES attributes, VALUE_BYTES items)
//! str      = len:u8 below 0xff, then len bytes (as UTF-8, lossy); or
//!            0xff k:u8 len:u8, then len bytes repeated to
//!            4096 * (k % 16 + 1) + 1 bytes (past MAX_CURSOR, VALUE_BYTES)
//! verdicts = flag:u8 (bit 0: one verdict too few) then per record
//!            tag:u8 % 4 (keep, drop:str, replace with the record,
//!            replace with an entity read here)
//! ```
//!
//! Past the end of the input every byte reads as 0.

#![no_main]

use std::cell::RefCell;

use arbitrary::Unstructured;
use homeroom_fuzz_host_validate::bindings::rule::exports::homeroom::plugin::rule_api::Verdict;
use homeroom_fuzz_host_validate::bindings::types::{
    Attribute, Entity, EntityKind, Page, Reference, School, Status, Value,
};
use homeroom_fuzz_host_validate::validate::{self, Checks};
use libfuzzer_sys::fuzz_target;

/// The value caps a plugin's manifest may lead to.
const VALUE_SIZES: [usize; 8] = [
    validate::VALUE_BYTES,
    0,
    1,
    8,
    64,
    1024,
    1 << 20,
    usize::MAX,
];

struct Input<'a>(Unstructured<'a>);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        self.0.arbitrary().unwrap_or(0)
    }

    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.byte();
        }
        u64::from_le_bytes(b)
    }

    fn kind(&mut self) -> EntityKind {
        EntityKind::ALL[self.byte() as usize % EntityKind::ALL.len()]
    }

    fn short_str(&mut self, len: usize) -> String {
        let bytes = self.0.bytes(len.min(self.0.len())).unwrap_or_default();
        String::from_utf8_lossy(bytes).into_owned()
    }

    fn str(&mut self) -> String {
        match self.byte() {
            0xff => {
                let target = 4096 * (usize::from(self.byte() % 16) + 1) + 1;
                let len = self.byte();
                let mut unit = self.short_str(len as usize);
                if unit.is_empty() {
                    unit.push('x');
                }
                let mut s = String::with_capacity(target + unit.len());
                while s.len() < target {
                    s.push_str(&unit);
                }
                s
            }
            len => self.short_str(len as usize),
        }
    }

    /// A count; `None` for "one past the limit".
    fn count(&mut self) -> Option<usize> {
        match self.byte() {
            255 => None,
            n => Some(n as usize),
        }
    }

    fn reference(&mut self) -> Reference {
        Reference {
            kind: self.kind(),
            source_id: self.str(),
        }
    }

    fn value(&mut self) -> Value {
        match self.byte() % 10 {
            0 => Value::Null,
            1 => Value::Text(self.str()),
            2 => Value::Integer(self.u64() as i64),
            3 => Value::Number(f64::from_bits(self.u64())),
            4 => Value::Boolean(self.byte() & 1 == 1),
            5 => Value::Date(self.str()),
            6 => Value::DateTime(self.str()),
            7 => {
                let n = self.count().unwrap_or(validate::VALUE_BYTES + 1);
                Value::Texts((0..n).map(|_| self.str()).collect())
            }
            8 => Value::Reference(self.reference()),
            _ => {
                let n = self.count().unwrap_or(validate::VALUE_BYTES + 1);
                Value::References((0..n).map(|_| self.reference()).collect())
            }
        }
    }

    fn entity(&mut self, page_kind: EntityKind) -> Entity {
        let kind = match self.byte() {
            0..0xc0 => page_kind,
            b => EntityKind::ALL[b as usize % EntityKind::ALL.len()],
        };
        let source_id = self.str();
        let status = if self.byte() & 1 == 1 {
            Status::ToBeDeleted
        } else {
            Status::Active
        };
        let date_last_modified = (self.byte() & 1 == 1).then(|| self.str());
        let attributes = match self.count() {
            Some(n) => (0..n)
                .map(|_| Attribute {
                    name: self.str(),
                    value: self.value(),
                })
                .collect(),
            None => (0..=validate::MAX_ATTRIBUTES)
                .map(|i| Attribute {
                    name: format!("a{i}"),
                    value: Value::Null,
                })
                .collect(),
        };
        Entity {
            kind,
            source_id,
            status,
            date_last_modified,
            attributes,
        }
    }
}

thread_local! {
    /// The records of a page one past `MAX_PAGE`, kept between inputs:
    /// making and freeing 100,001 records would take most of the time.
    static BIG_PAGE: RefCell<Vec<Entity>> = const { RefCell::new(Vec::new()) };
}

fn big_page() -> Vec<Entity> {
    let kept = BIG_PAGE.with(|b| b.take());
    if kept.len() == validate::MAX_PAGE + 1 {
        return kept;
    }
    let one = Entity {
        kind: EntityKind::Org,
        source_id: "r".into(),
        status: Status::Active,
        date_last_modified: None,
        attributes: Vec::new(),
    };
    vec![one; validate::MAX_PAGE + 1]
}

/// What the checks say reaches an admin's screen and the log: one line.
fn printable(what: &str, text: &str) {
    assert!(
        !text.chars().any(char::is_control),
        "{what} holds a control character: {text:?}"
    );
}

fn short_is_short(s: &str) {
    let quoted = validate::short(s);
    assert!(
        quoted.chars().count() <= 81,
        "short() gave {} characters for {s:?}",
        quoted.chars().count()
    );
    printable("short()", &quoted);
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(Unstructured::new(data));
    let kind = input.kind();
    let flags = input.byte();
    let cursor = (flags & 1 != 0).then(|| input.str());
    let next = (flags & 2 != 0).then(|| input.str());
    let total = (flags & 4 != 0).then(|| input.u64());
    let checks = Checks {
        value_bytes: VALUE_SIZES[usize::from(flags >> 4) & 7],
        names: flags & 8 != 0,
    };
    let ahead = match input.count() {
        Some(n) => (0..n).map(|_| input.str()).collect(),
        None => (0..=validate::MAX_AHEAD).map(|i| format!("c{i}")).collect(),
    };
    let entities = match input.count() {
        Some(n) => (0..n).map(|_| input.entity(kind)).collect(),
        None => big_page(),
    };
    let page = Page {
        entities,
        next,
        total,
        ahead,
    };

    match validate::page(kind, &page, cursor.as_deref(), checks) {
        Ok(notes) => {
            for note in &notes {
                printable("a note on a page", note);
            }
        }
        Err(e) => printable("a page's refusal", &e),
    }

    // What a rule answers for those records.
    let short_by_one = input.byte() & 1 == 1;
    let mut verdicts: Vec<Verdict> = page
        .entities
        .iter()
        .take(1_000)
        .map(|e| match input.byte() % 4 {
            0 => Verdict::Keep,
            1 => Verdict::Drop(input.str()),
            2 => Verdict::Replace(e.clone()),
            _ => Verdict::Replace(input.entity(e.kind)),
        })
        .collect();
    if short_by_one {
        verdicts.pop();
    }
    let inputs: Vec<(EntityKind, &str)> = page
        .entities
        .iter()
        .take(1_000)
        .map(|e| (e.kind, e.source_id.as_str()))
        .collect();
    if let Err(e) = validate::verdicts(inputs.into_iter(), &verdicts, checks) {
        printable("a rule's refusal", &e);
    }

    // The schools of `list-schools`.
    let schools: Vec<School> = page
        .entities
        .iter()
        .take(1_000)
        .map(|e| School {
            source_id: e.source_id.clone(),
            name: e
                .attributes
                .first()
                .map(|a| a.name.clone())
                .unwrap_or_default(),
            identifier: e.date_last_modified.clone(),
        })
        .collect();
    if let Err(e) = validate::schools(&schools) {
        printable("a refusal of schools", &e);
    }

    // How values are quoted, and the two rules for names.
    for s in cursor
        .iter()
        .chain(&page.next)
        .chain(page.ahead.iter().take(100))
    {
        short_is_short(s);
    }
    for e in page.entities.iter().take(100) {
        short_is_short(&e.source_id);
        for a in e.attributes.iter().take(600) {
            short_is_short(&a.name);
            if validate::is_attribute_name(&a.name) {
                assert!(
                    validate::is_source_attribute_name(&a.name),
                    "a name a rule may read a connector may not send: {:?}",
                    a.name
                );
            }
            let _ = validate::value_bytes(&a.value);
        }
    }

    if page.entities.len() == validate::MAX_PAGE + 1 {
        BIG_PAGE.with(|b| *b.borrow_mut() = page.entities);
    }
});

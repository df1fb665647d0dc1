//! References that point at nothing in the package: an enrollment whose
//! class or user is not in `classes.csv` / `users.csv`, a class whose course
//! is missing, and so on. They are reported (a count per column and the
//! first few ids), never dropped: the host decides what an orphan means.
//!
//! This module owns which columns are checked against which file, and the
//! id sets they are checked against. An id set holds a 64-bit hash per id
//! (about 16 bytes each with the table's slack: some 36 MB for the 2.2
//! million users of a district of a million students), so the check stays
//! within a plugin's memory however long the ids are. Two different ids
//! sharing a hash would hide an orphan; with 64 bits that takes billions of
//! ids to become likely.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// The hash an id is kept as: the same in every run. Eight bytes at a time
/// through MurmurHash3's 64-bit steps and finaliser, a few times faster than
/// SipHash on ids of 10 to 40 bytes and as good at keeping ids apart (ids are
/// not chosen by someone who sees the hash, so it needs no key). Each step,
/// and the finaliser, is one-to-one, so ids of the same length that differ
/// in one 8-byte word never share a hash.
pub fn id_hash(id: &str) -> u64 {
    let bytes = id.as_bytes();
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut step = |word: u64| h = murmur_step(h, word);
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(word);
        step(u64::from_le_bytes(b));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        step(u64::from_le_bytes(b));
    }
    fmix64(h ^ bytes.len() as u64)
}

/// One 8-byte step of MurmurHash3 (x64): one-to-one in `h` and in `word`.
fn murmur_step(mut h: u64, word: u64) -> u64 {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    h ^= word.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
    h.rotate_left(27).wrapping_mul(5).wrapping_add(0x52dc_e729)
}

/// MurmurHash3's finaliser: one-to-one, and every bit of the result depends
/// on every bit of `h`.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A quick hasher for the connector's small tables keyed by text (column
/// names, the values side tables intern): [`id_hash`]'s steps, where the
/// standard library's SipHash costs more than the lookup. Like the id sets,
/// it has no key.
#[derive(Clone, Copy)]
pub struct QuickHasher(u64);

impl Default for QuickHasher {
    fn default() -> Self {
        QuickHasher(0x9e37_79b9_7f4a_7c15)
    }
}

impl Hasher for QuickHasher {
    fn finish(&self) -> u64 {
        fmix64(self.0)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(word);
            self.0 = murmur_step(self.0, u64::from_le_bytes(b));
        }
        let rest = words.remainder();
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        self.0 = murmur_step(self.0, u64::from_le_bytes(b) ^ ((rest.len() as u64) << 59));
    }
}

/// A map keyed by text, with [`QuickHasher`].
pub type QuickMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<QuickHasher>>;

/// The values are hashes already: the set need not hash them again.
#[derive(Default, Clone, Copy)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The ids of one file.
#[derive(Default)]
pub struct IdSet(HashSet<u64, BuildHasherDefault<PassThrough>>);

impl IdSet {
    pub fn insert(&mut self, id: &str) {
        self.0.insert(id_hash(id));
    }

    pub fn contains(&self, id: &str) -> bool {
        self.0.contains(&id_hash(id))
    }

    pub fn shrink(&mut self) {
        self.0.shrink_to_fit();
    }
}

/// One column checked against a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    pub file: &'static str,
    pub column: &'static str,
    /// What the column names, for the message ("a class").
    pub what: &'static str,
    pub target: &'static str,
    /// The column holds a comma-separated list of ids.
    pub list: bool,
}

const fn check(
    file: &'static str,
    column: &'static str,
    what: &'static str,
    target: &'static str,
    list: bool,
) -> Check {
    Check {
        file,
        column,
        what,
        target,
        list,
    }
}

/// Every reference the connector checks.
pub const CHECKS: &[Check] = &[
    check(
        "orgs.csv",
        "parentSourcedId",
        "a parent org",
        "orgs.csv",
        false,
    ),
    check(
        "academicSessions.csv",
        "parentSourcedId",
        "a parent session",
        "academicSessions.csv",
        false,
    ),
    check(
        "courses.csv",
        "schoolYearSourcedId",
        "a school year",
        "academicSessions.csv",
        false,
    ),
    check("courses.csv", "orgSourcedId", "an org", "orgs.csv", false),
    check(
        "classes.csv",
        "courseSourcedId",
        "a course",
        "courses.csv",
        false,
    ),
    check(
        "classes.csv",
        "schoolSourcedId",
        "a school",
        "orgs.csv",
        false,
    ),
    check(
        "classes.csv",
        "termSourcedIds",
        "a term",
        "academicSessions.csv",
        true,
    ),
    check("users.csv", "orgSourcedIds", "an org", "orgs.csv", true),
    check(
        "users.csv",
        "primaryOrgSourcedId",
        "a primary org",
        "orgs.csv",
        false,
    ),
    check(
        "users.csv",
        "agentSourcedIds",
        "an agent (a user)",
        "users.csv",
        true,
    ),
    check("roles.csv", "userSourcedId", "a user", "users.csv", false),
    check("roles.csv", "orgSourcedId", "an org", "orgs.csv", false),
    check(
        "enrollments.csv",
        "classSourcedId",
        "a class",
        "classes.csv",
        false,
    ),
    check(
        "enrollments.csv",
        "userSourcedId",
        "a user",
        "users.csv",
        false,
    ),
    check(
        "enrollments.csv",
        "schoolSourcedId",
        "a school",
        "orgs.csv",
        false,
    ),
    check(
        "demographics.csv",
        "sourcedId",
        "a user",
        "users.csv",
        false,
    ),
    check(
        "lineItems.csv",
        "classSourcedId",
        "a class",
        "classes.csv",
        false,
    ),
    check(
        "lineItems.csv",
        "categorySourcedId",
        "a category",
        "categories.csv",
        false,
    ),
    check(
        "lineItems.csv",
        "gradingPeriodSourcedId",
        "a grading period",
        "academicSessions.csv",
        false,
    ),
    check(
        "results.csv",
        "lineItemSourcedId",
        "a line item",
        "lineItems.csv",
        false,
    ),
    check(
        "results.csv",
        "studentSourcedId",
        "a student",
        "users.csv",
        false,
    ),
];

/// The checks of one file.
pub fn checks_of(file: &str) -> impl Iterator<Item = &'static Check> + '_ {
    CHECKS.iter().filter(move |c| c.file == file)
}

/// How many ids of each orphan kind a report names.
const FIRST: usize = 5;

/// Orphans found so far in one read, per check.
#[derive(Default)]
pub struct Orphans {
    found: Vec<Found>,
}

/// The orphans of one check: how many, and the first few (row id, missing id).
struct Found {
    check: Check,
    count: u64,
    first: Vec<(String, String)>,
}

impl Orphans {
    /// Note that the row `row_id` names `missing` in `check`'s column.
    pub fn note(&mut self, check: &Check, row_id: &str, missing: &str) {
        let at = match self.found.iter().position(|f| f.check == *check) {
            Some(at) => at,
            None => {
                self.found.push(Found {
                    check: *check,
                    count: 0,
                    first: Vec::new(),
                });
                self.found.len() - 1
            }
        };
        let Some(found) = self.found.get_mut(at) else {
            return;
        };
        found.count += 1;
        if found.first.len() < FIRST {
            found.first.push((row_id.to_string(), missing.to_string()));
        }
    }

    /// One line per check that found orphans.
    pub fn report(&self) -> Vec<String> {
        self.found
            .iter()
            .map(
                |Found {
                     check: c,
                     count,
                     first,
                 }| {
                    let examples = first
                        .iter()
                        .map(|(row, missing)| format!("{row} → {missing}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let more = if *count as usize > first.len() {
                        ", …"
                    } else {
                        ""
                    };
                    format!(
                        "{}: {count} row{} name{} {} in `{}` that is not in {}: {examples}{more}",
                        c.file,
                        if *count == 1 { "" } else { "s" },
                        if *count == 1 { "s" } else { "" },
                        c.what,
                        c.column,
                        c.target
                    )
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_find_what_was_put_in_them() {
        let mut set = IdSet::default();
        for i in 0..10_000 {
            set.insert(&format!("user-{i}"));
        }
        assert!(set.contains("user-9999") && !set.contains("user-10000"));
    }

    #[test]
    fn ids_that_differ_anywhere_hash_apart() {
        let mut seen = HashSet::new();
        for i in 0..200_000 {
            for id in [
                format!("stu-{i:06}"),
                format!("enr-cls-hs1-alg1-{i}-stu-{i:06}"),
                format!("{i}"),
                format!("x{}", "0".repeat(i % 40)),
            ] {
                seen.insert((id_hash(&id), id));
            }
        }
        let hashes: HashSet<u64> = seen.iter().map(|(h, _)| *h).collect();
        assert_eq!(hashes.len(), seen.len());
        // Trailing zero bytes are not padding: length counts.
        assert_ne!(id_hash("a"), id_hash("a\0"));
    }

    #[test]
    fn reports_count_and_name_the_first_few() {
        let mut orphans = Orphans::default();
        let c = checks_of("enrollments.csv").next().copied().unwrap();
        for i in 0..7 {
            orphans.note(&c, &format!("e{i}"), "cls-x");
        }
        let report = orphans.report();
        assert_eq!(report.len(), 1);
        assert!(
            report[0].starts_with("enrollments.csv: 7 rows name a class in `classSourcedId` that is not in classes.csv: e0 → cls-x, e1 → cls-x"),
            "{}",
            report[0]
        );
        assert!(report[0].ends_with(", …"));
    }
}

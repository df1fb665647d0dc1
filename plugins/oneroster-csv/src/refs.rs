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
use std::hash::{BuildHasherDefault, DefaultHasher, Hasher};

/// The hash an id is kept as (SipHash with fixed keys: the same in every run).
pub fn id_hash(id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(id.as_bytes());
    h.finish()
}

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

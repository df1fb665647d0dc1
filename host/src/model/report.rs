//! What a run reports: counts per kind and action, warnings and errors with
//! the records they concern, timings. Kept with the run in the store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bindings::types::EntityKind;

/// Issues kept per run; past this only the count grows.
const KEEP_ISSUES: usize = 1_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct KindCounts {
    pub read: u64,
    /// Left out by schools mapping, requirements, filters or rules.
    pub skipped: u64,
    pub add: u64,
    pub update: u64,
    pub delete: u64,
    pub unchanged: u64,
    pub errors: u64,
    /// Active records of this kind from this source before the run.
    pub existing: u64,
    /// Exports: changes the destination asked to have again later.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retry: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Issue {
    pub kind: String,
    pub source_id: String,
    pub message: String,
}

/// Every field has a default: a run still under way stores `{}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RunReport {
    pub counts: BTreeMap<String, KindCounts>,
    pub warnings: Vec<Issue>,
    pub warnings_total: u64,
    pub errors: Vec<Issue>,
    pub errors_total: u64,
    /// Records left out (schools mapping, requirements, filters, rules,
    /// references), each with why: the first 1,000; `skips_total` counts all.
    pub skips: Vec<Issue>,
    pub skips_total: u64,
    /// Seconds per phase (read, reconcile, commit).
    pub timings: BTreeMap<String, f64>,
    /// Why the run failed, when it did.
    pub failure: Option<String>,
    /// Why the run is held, when it is.
    pub hold: Option<String>,
    pub duplicates: u64,
    /// Kinds the source does not offer (a provider of the rostering service
    /// only has no gradebook), with the connector's words why. Nothing of
    /// such a kind is deleted.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub not_offered: BTreeMap<String, String>,
    /// What automatic schools mapping made of the feed's schools.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schools: Option<SchoolsMapped>,
    /// A file source's input as the host fingerprinted it (the files, the
    /// plugin, settings, rules and what they read of the hub): kept once the
    /// run commits with nothing left out, so the next run of the same input
    /// need not read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// The committed run whose input this run's was, byte for byte: nothing
    /// was read, and the counts are that run's records, unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_input_as: Option<String>,
}

/// What automatic schools mapping made of a feed's schools: those matching a
/// school the district holds (by name or identifier), those matching none,
/// and the records it left out per kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct SchoolsMapped {
    /// `Name (sourced id)`, in the order the feed sent them.
    pub matched: Vec<String>,
    pub unmatched: Vec<String>,
    pub left_out: BTreeMap<String, u64>,
}

impl RunReport {
    /// The counts of a kind (kept under its name).
    pub fn kind(&mut self, kind: EntityKind) -> &mut KindCounts {
        let kind = kind.cli_name();
        // Called per record: allocate the key only the first time.
        if !self.counts.contains_key(kind) {
            self.counts.insert(kind.to_string(), KindCounts::default());
        }
        self.counts
            .get_mut(kind)
            .expect("the kind's counts were inserted above")
    }

    /// A kind the source does not offer: kept with why, and a warning.
    pub fn not_offered(&mut self, kind: EntityKind, why: String) {
        self.warn(
            kind,
            "",
            format!("not imported: the source does not offer it ({why})"),
        );
        self.not_offered.insert(kind.cli_name().into(), why);
    }

    /// A record left out of the run, and why.
    pub fn skip(&mut self, kind: EntityKind, source_id: &str, why: impl Into<String>) {
        self.kind(kind).skipped += 1;
        self.skips_total += 1;
        if self.skips.len() < KEEP_ISSUES {
            self.skips.push(Issue {
                kind: kind.cli_name().into(),
                source_id: source_id.into(),
                message: why.into(),
            });
        }
    }

    /// Records a rule left out: each counts as skipped, with the rule's reason.
    pub fn left_out_by_rule(
        &mut self,
        rule: &str,
        dropped: &[(crate::model::record::Record, String)],
    ) {
        for (record, why) in dropped {
            self.skip(
                record.kind,
                &record.source_id,
                format!("left out by rule `{rule}`: {why}"),
            );
        }
    }

    pub fn warn(&mut self, kind: EntityKind, source_id: &str, message: impl Into<String>) {
        self.warnings_total += 1;
        if self.warnings.len() < KEEP_ISSUES {
            self.warnings.push(Issue {
                kind: kind.cli_name().into(),
                source_id: source_id.into(),
                message: message.into(),
            });
        }
    }

    pub fn error(&mut self, kind: EntityKind, source_id: &str, message: impl Into<String>) {
        self.errors_total += 1;
        self.kind(kind).errors += 1;
        if self.errors.len() < KEEP_ISSUES {
            self.errors.push(Issue {
                kind: kind.cli_name().into(),
                source_id: source_id.into(),
                message: message.into(),
            });
        }
    }

    pub fn total(&self, f: impl Fn(&KindCounts) -> u64) -> u64 {
        self.counts.values().map(f).sum()
    }

    /// Total visible changes.
    pub fn changes(&self) -> u64 {
        self.total(|c| c.add + c.update + c.delete)
    }
}

//! A district with the defects real exports have (issue 12): the generated
//! sample district with `homeroom_tests::defects` mixed in, imported through
//! the OneRoster CSV connector into SQLite (and PostgreSQL when DATABASE_URL
//! is set). The counts are exact, computed from the generator's summary and
//! the defects; the report names every defect by its record, and nothing
//! else; a second import changes nothing. The same district without the
//! defects imports with no skips and no warnings, so the defects are the only
//! cause of what the report says.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use homeroom_host::config::{DistrictConfig, Organization, SourceConfig};
use homeroom_host::model::report::{Issue, RunReport};
use homeroom_host::pipeline::{Engine, ImportOptions};
use homeroom_host::store::{Run, RunStatus};
use homeroom_tests::defects::{self, Counts, Defect, Defects, KIND_FILES, Said};
use homeroom_tests::district::{self, Options, Summary, Version};
use homeroom_tests::support::{database_urls, engine, org_id};

const CONNECTOR: &str = "the connector says: ";

async fn setup(engine: &Engine, org: &str, dir: &Path) {
    let mut source = SourceConfig::new("sis", "oneroster-csv");
    source.folder = Some(dir.display().to_string());
    // Smaller pages than the default, so the merge and the id sent twice
    // meet records of earlier pages.
    source.settings.insert("page_size".into(), "250".into());
    engine
        .apply_config(&DistrictConfig {
            organization: Organization {
                id: org.into(),
                name: "Maplewood".into(),
                ..Default::default()
            },
            sources: vec![source],
            vendors: Vec::new(),
        })
        .await
        .expect("apply");
}

async fn import(engine: &Engine, org: &str, what: &str) -> Run {
    let run = engine
        .import(org, "sis", ImportOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{what}: the import does not run: {e}"));
    assert_eq!(
        run.status,
        RunStatus::Committed,
        "{what}: failure {:?}, hold {:?}",
        run.report.failure,
        run.report.hold
    );
    run
}

/// Every record read is accounted for, once.
fn assert_accounted(report: &RunReport, what: &str) {
    for (kind, c) in &report.counts {
        assert_eq!(
            c.read,
            c.add + c.update + c.unchanged + c.skipped + c.errors,
            "{what}: {kind}: read = add + update + unchanged + skipped + errors: {c:?}"
        );
    }
    assert_eq!(report.errors_total, 0, "{what}: {:?}", report.errors);
}

/// The counts of a kind in a report (zero when the report has none).
fn counts(report: &RunReport, kind: &str) -> Counts {
    report
        .counts
        .get(kind)
        .map_or(Counts::default(), |c| Counts {
            read: c.read,
            add: c.add,
            update: c.update,
            skipped: c.skipped,
        })
}

/// Kinds the generator writes no file for (user agents come inside users)
/// have nothing to count.
fn assert_other_kinds_empty(report: &RunReport, what: &str) {
    for (kind, c) in &report.counts {
        if KIND_FILES.iter().all(|(k, _)| k != kind) {
            assert_eq!(
                (c.read, c.add, c.update, c.delete, c.skipped),
                (0, 0, 0, 0, 0),
                "{what}: {kind}"
            );
        }
    }
}

/// The district holds one entity per record added: the copy of a person
/// went into the first, and nothing left out is held.
async fn assert_entities(
    engine: &Engine,
    org: &str,
    expected: &BTreeMap<&'static str, Counts>,
    what: &str,
) {
    let held: BTreeMap<String, i64> = engine
        .store()
        .entity_counts(org)
        .await
        .unwrap()
        .into_iter()
        .collect();
    for (kind, want) in expected {
        assert_eq!(
            held.get(*kind).copied().unwrap_or(0),
            want.add as i64,
            "{what}: active {kind} entities"
        );
    }
}

fn says(issue: &Issue, words: &[String]) -> bool {
    words.iter().all(|w| issue.message.contains(w.as_str()))
}

fn list(issues: &[Issue]) -> String {
    issues
        .iter()
        .map(|i| format!("\n  {} `{}`: {}", i.kind, i.source_id, i.message))
        .collect()
}

/// The report names each defect as it must, and says nothing the defects
/// do not explain.
fn assert_named(report: &RunReport, defects: &Defects, what: &str) {
    // Nothing was cut off: every skip and warning is in the lists.
    assert_eq!(report.skips_total, report.skips.len() as u64, "{what}");
    assert_eq!(
        report.warnings_total,
        report.warnings.len() as u64,
        "{what}"
    );

    for d in defects.said(Said::Skip) {
        assert!(
            report
                .skips
                .iter()
                .any(|s| s.kind == d.kind && s.source_id == d.record && says(s, &d.words)),
            "{what}: {} ({} `{}` in {}): no skip of it saying {:?}; skips:{}",
            d.what,
            d.kind,
            d.record,
            d.file,
            d.words,
            list(&report.skips)
        );
    }
    for d in defects.said(Said::Warning) {
        let named = report.warnings.iter().any(|w| {
            w.source_id == d.record
                && says(w, &d.words)
                && if d.record.is_empty() {
                    // A defect of the file: the connector's words, naming the file.
                    w.message.starts_with(CONNECTOR)
                        && w.message.contains(d.file)
                        && w.kind == d.kind
                } else {
                    w.kind == d.kind
                }
        });
        assert!(
            named,
            "{what}: {} ({} `{}` in {}): no warning saying {:?}; warnings:{}",
            d.what,
            d.kind,
            d.record,
            d.file,
            d.words,
            list(&report.warnings)
        );
    }

    // Every skip is a defect's record left out.
    let skipped: BTreeSet<(&str, &str)> = report
        .skips
        .iter()
        .map(|s| (s.kind.as_str(), s.source_id.as_str()))
        .collect();
    let expected: BTreeSet<(&str, &str)> = defects
        .said(Said::Skip)
        .map(|d| (d.kind, d.record.as_str()))
        .collect();
    assert_eq!(skipped, expected, "{what}: skips:{}", list(&report.skips));
    assert_eq!(
        report.skips.len(),
        expected.len(),
        "{what}: a record is skipped twice:{}",
        list(&report.skips)
    );

    // Every warning is a defect's: on its record, or the connector's about
    // its file, or the connector's list of references to nothing naming
    // the id a dangling record points at.
    let explains = |d: &Defect, w: &Issue| {
        if !d.record.is_empty() && w.source_id == d.record {
            return d.said == Said::Warning && says(w, &d.words);
        }
        if !w.source_id.is_empty() || !w.message.starts_with(CONNECTOR) {
            return false;
        }
        (d.record.is_empty() && d.said == Said::Warning && says(w, &d.words))
            || d.absent.as_ref().is_some_and(|absent| {
                w.message.contains("that is not in") && w.message.contains(&format!("→ {absent}"))
            })
    };
    let unexplained: Vec<Issue> = report
        .warnings
        .iter()
        .filter(|w| !defects.list.iter().any(|d| explains(d, w)))
        .cloned()
        .collect();
    assert!(
        unexplained.is_empty(),
        "{what}: warnings no defect explains:{}",
        list(&unexplained)
    );
}

/// Every kind of defect the issue lists is in the package, at least once.
fn assert_complete(defects: &Defects) {
    let has = |said: Said, file: &str, word: &str| {
        defects.list.iter().any(|d| {
            d.said == said
                && d.file == file
                && (d.words.iter().any(|w| w.contains(word)) || d.what.contains(word))
        })
    };
    assert!(
        has(Said::Warning, "users.csv", "merged"),
        "the same person twice"
    );
    for (file, target) in [
        ("enrollments.csv", "class `"),
        ("enrollments.csv", "user `"),
        ("classes.csv", "course `"),
        ("users.csv", "org `"),
    ] {
        assert!(
            has(Said::Skip, file, target),
            "a dangling {target} in {file}"
        );
    }
    assert!(
        defects
            .said(Said::Skip)
            .any(|d| d.file == "enrollments.csv" && d.absent.is_none()),
        "an enrollment of the class left out"
    );
    assert!(has(Said::Skip, "users.csv", "sent this id twice"));
    assert!(has(Said::Warning, "users.csv", "dateLastModified"));
    assert!(has(Said::Warning, "users.csv", "familyNmae"));
    for word in [
        "trailing empty header columns",
        "byte-order mark and CRLF",
        "stray spaces",
        "TRUE, 1",
        "empty lines",
        "order other than",
    ] {
        assert!(
            defects.said(Said::Nothing).any(|d| d.what.contains(word)),
            "{word}"
        );
    }
}

fn expected_clean(summary: &Summary) -> BTreeMap<&'static str, Counts> {
    Defects::default().expected(summary)
}

#[tokio::test]
async fn without_the_defects_the_district_imports_with_no_skips_and_no_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    let package = tmp.path().join("package");
    let summary = district::write_package(&Options::default(), &package).unwrap();
    for url in database_urls(tmp.path()) {
        let engine = engine(&url).await;
        let org = org_id("clean");
        setup(&engine, &org, &package).await;
        let run = import(&engine, &org, &url).await;
        let report = &run.report;
        assert_accounted(report, &url);
        assert_other_kinds_empty(report, &url);
        assert_eq!(
            (report.skips_total, report.warnings_total),
            (0, 0),
            "{url}: skips:{} warnings:{}",
            list(&report.skips),
            list(&report.warnings)
        );
        let expected = expected_clean(&summary);
        for (kind, want) in &expected {
            assert_eq!(counts(report, kind), *want, "{url}: {kind}");
        }
        assert_entities(&engine, &org, &expected, &url).await;
    }
}

#[tokio::test]
async fn a_district_with_every_defect_imports_exactly_and_names_each_defect() {
    for version in [Version::V1_2, Version::V1_1] {
        let tmp = tempfile::tempdir().unwrap();
        let package = tmp.path().join("package");
        let (summary, defects) = defects::write_package(
            &Options {
                version,
                ..Options::default()
            },
            &package,
        )
        .unwrap();
        assert_complete(&defects);
        // The defects are deterministic: the same package twice is the same, byte for byte.
        let again = tmp.path().join("again");
        let (summary_again, defects_again) = defects::write_package(
            &Options {
                version,
                ..Options::default()
            },
            &again,
        )
        .unwrap();
        assert_eq!((&summary_again, &defects_again), (&summary, &defects));
        for entry in std::fs::read_dir(&package).unwrap() {
            let name = entry.unwrap().file_name();
            assert!(
                std::fs::read(package.join(&name)).unwrap()
                    == std::fs::read(again.join(&name)).unwrap(),
                "{name:?} differs"
            );
        }
        let expected = defects.expected(&summary);
        for url in database_urls(tmp.path()) {
            let what = format!("{url} OneRoster {}", version.label());
            let engine = engine(&url).await;
            let org = org_id("defects");
            setup(&engine, &org, &package).await;

            let first = import(&engine, &org, &what).await;
            let report = &first.report;
            assert_accounted(report, &what);
            assert_other_kinds_empty(report, &what);
            for (kind, want) in &expected {
                assert_eq!(
                    counts(report, kind),
                    *want,
                    "{what}: {kind}: skips:{} warnings:{}",
                    list(&report.skips),
                    list(&report.warnings)
                );
                let c = &report.counts[*kind];
                assert_eq!((c.unchanged, c.delete), (0, 0), "{what}: {kind}");
            }
            assert_named(report, &defects, &what);
            assert_entities(&engine, &org, &expected, &what).await;
            eprintln!(
                "{what}: skips:{}\nwarnings:{}",
                list(&report.skips),
                list(&report.warnings)
            );

            // Once more: nothing changes, and the same records are left out.
            let second = import(&engine, &org, &format!("{what}, again")).await;
            let report = &second.report;
            assert_accounted(report, &what);
            for (kind, want) in &expected {
                let c = report
                    .counts
                    .get(*kind)
                    .unwrap_or_else(|| panic!("{what}, again: no {kind} counts"));
                assert_eq!(
                    (c.read, c.add, c.update, c.delete, c.skipped),
                    (want.read, 0, 0, 0, want.skipped),
                    "{what}, again: {kind}: skips:{}",
                    list(&report.skips)
                );
            }
            assert_eq!(report.changes(), 0, "{what}, again");
            let skipped = |r: &RunReport| -> BTreeSet<(String, String)> {
                r.skips
                    .iter()
                    .map(|s| (s.kind.clone(), s.source_id.clone()))
                    .collect()
            };
            assert_eq!(skipped(report), skipped(&first.report), "{what}, again");
            assert_entities(&engine, &org, &expected, &format!("{what}, again")).await;
        }
    }
}

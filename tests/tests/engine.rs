//! The import engine end to end: real plugins through the real host into a
//! real database (SQLite, and PostgreSQL when DATABASE_URL is set).

use homeroom_host::config::{
    DistrictConfig, Domain, DomainMode, MasterField, SchoolsMode, SourceConfig,
};
use homeroom_host::pipeline::{ActionRef, Engine, ImportOptions, Mode};
use homeroom_host::store::sync::CommitOutcome;
use homeroom_host::store::{Resolution, RunStatus};
use homeroom_tests::support::{Fixture, database_urls, engine, org_id, org_ref};
use serde_json::json;

fn source(id: &str, dir: &std::path::Path) -> SourceConfig {
    let mut s = SourceConfig::new(id, "fixture-connector");
    s.folder = Some(dir.display().to_string());
    s.settings.insert("page_size".into(), "7".into());
    s
}

async fn apply(engine: &Engine, org: &str, sources: Vec<SourceConfig>) {
    let config = DistrictConfig {
        organization: homeroom_host::config::Organization {
            id: org.into(),
            name: "Springfield".into(),
            ..Default::default()
        },
        sources,
        vendors: Vec::new(),
    };
    engine.apply_config(&config).await.expect("apply config");
}

async fn import(engine: &Engine, org: &str, source: &str) -> homeroom_host::store::Run {
    engine
        .import(org, source, ImportOptions::default())
        .await
        .expect("import runs")
}

fn students(n: usize) -> Fixture {
    let mut f = Fixture::default();
    f.with_schools();
    for i in 1..=n {
        let school = if i % 2 == 0 { "s1" } else { "s2" };
        f.student(
            &format!("st{i}"),
            &format!("Given{i}"),
            &format!("Family{i}"),
            &format!("st{i}@sis.example"),
            school,
            "05",
        );
    }
    f
}

async fn active(engine: &Engine, org: &str, kind: &str) -> i64 {
    engine
        .store()
        .entity_counts(org)
        .await
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == kind)
        .map(|(_, n)| n)
        .unwrap_or(0)
}

/// Two sources reconcile through domains of uniqueness (unattended merges and
/// a manual duplicates queue) and master fields; the queue is resolved by each
/// of the three actions.
#[tokio::test]
async fn two_sources_reconcile_by_domains_and_master_fields() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let engine = engine(&url).await;
        let org = org_id("two-sources");
        let sis_dir = tmp.path().join(format!("sis-{org}"));
        let idp_dir = tmp.path().join(format!("idp-{org}"));
        let mut sis = students(8);
        sis.write(&sis_dir);
        // The identity source: st1..st4 by the same email (merge), st5..st7 by
        // name only (ask an admin), and one person only it knows.
        let mut idp = Fixture::default();
        for i in 1..=4 {
            idp.add("user", &format!("aad-{i}"), json!({"givenName": format!("Given{i}"), "familyName": format!("Family{i}"),
                "email": format!("st{i}@sis.example"), "username": format!("given{i}@district.org"), "role": "student", "phone": "555-0100"}));
        }
        for i in 5..=7 {
            idp.add("user", &format!("aad-{i}"), json!({"givenName": format!("Given{i}"), "familyName": format!("Family{i}"),
                "email": format!("g{i}@district.org"), "username": format!("given{i}@district.org"), "role": "student"}));
        }
        idp.add("user", "aad-99", json!({"givenName": "Only", "familyName": "Idp", "email": "only@district.org", "role": "teacher"}));
        idp.write(&idp_dir);

        let mut entra = source("entra", &idp_dir);
        entra.domains = vec![
            Domain {
                kind: "user".into(),
                attributes: vec!["email".into()],
                mode: DomainMode::Unattended,
            },
            Domain {
                kind: "user".into(),
                attributes: vec!["givenName".into(), "familyName".into()],
                mode: DomainMode::Manual,
            },
        ];
        entra.master_fields = vec![MasterField {
            kind: "user".into(),
            attribute: "username".into(),
            source: "entra".into(),
        }];
        apply(&engine, &org, vec![source("sis", &sis_dir), entra]).await;

        let first = import(&engine, &org, "sis").await;
        assert_eq!(
            first.status,
            RunStatus::Committed,
            "{url}: {:?}",
            first.report
        );
        assert_eq!(first.report.counts["user"].add, 8);
        assert_eq!(first.report.counts["org"].add, 3);

        let second = import(&engine, &org, "entra").await;
        assert_eq!(
            second.status,
            RunStatus::Committed,
            "{url}: {:?}",
            second.report
        );
        let users = &second.report.counts["user"];
        assert_eq!(
            (users.update, users.add),
            (4, 4),
            "{url}: 4 merged, 3 queued as new + 1 new: {users:?}"
        );
        assert_eq!(second.report.duplicates, 3);
        assert_eq!(active(&engine, &org, "user").await, 12, "{url}");

        // Master field: the identity source's username wins; the SIS keeps its name.
        let st1 = engine
            .store()
            .entity_of(&org, "sis", "user", "st1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(st1.data["username"]["v"], "given1@district.org", "{url}");
        assert_eq!(st1.data["username"]["s"], "entra");
        assert_eq!(
            st1.data["phone"]["v"], "555-0100",
            "a blank is filled by any source"
        );
        assert_eq!(
            engine.store().entity_sources(&st1.id).await.unwrap().len(),
            2
        );

        // The SIS changes st1's username: the master keeps it, so nothing changes.
        sis.set("user", "st1", "username", json!("renamed-in-sis"));
        sis.write(&sis_dir);
        let third = import(&engine, &org, "sis").await;
        assert_eq!(
            third.report.changes(),
            0,
            "{url}: {:?}",
            third.report.counts
        );
        let st1 = engine.store().entity(&org, &st1.id).await.unwrap();
        assert_eq!(st1.data["username"]["v"], "given1@district.org");

        // The queue: three pairs, resolved by each action.
        let dups = engine.store().duplicates(&org, true).await.unwrap();
        assert_eq!(dups.len(), 3, "{url}");
        let by_given = |n: u32| {
            dups.iter()
                .find(|d| d.primary.data["givenName"]["v"] == format!("Given{n}"))
                .unwrap_or_else(|| panic!("pair for Given{n}"))
                .id
                .clone()
        };
        let merged = engine
            .store()
            .resolve_duplicate(
                &org,
                &by_given(5),
                false,
                &["email".into()],
                Resolution::Delete,
                "admin",
            )
            .await
            .unwrap();
        assert_eq!(merged.status, "deleted");
        let primary = engine
            .store()
            .entity(&org, &merged.primary.id)
            .await
            .unwrap();
        assert_eq!(
            primary.data["email"]["v"], "g5@district.org",
            "the chosen field was copied over"
        );
        assert!(
            !engine
                .store()
                .entity(&org, &merged.secondary.id)
                .await
                .unwrap()
                .active
        );
        let ignored = engine
            .store()
            .resolve_duplicate(&org, &by_given(6), false, &[], Resolution::Ignore, "admin")
            .await
            .unwrap();
        assert_eq!(ignored.status, "ignored");
        let kept = engine
            .store()
            .resolve_duplicate(
                &org,
                &by_given(7),
                true,
                &[],
                Resolution::KeepAsNew,
                "admin",
            )
            .await
            .unwrap();
        assert_eq!(kept.status, "kept");
        assert!(
            engine
                .store()
                .duplicates(&org, true)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            active(&engine, &org, "user").await,
            11,
            "{url}: one secondary deleted"
        );
        assert!(
            engine
                .store()
                .resolve_duplicate(&org, &by_given(6), false, &[], Resolution::Ignore, "admin")
                .await
                .is_err(),
            "resolved once only"
        );

        // Ignored and kept pairs are never counted again; the deleted
        // secondary may come back, as its source still has it.
        let again = import(&engine, &org, "entra").await;
        assert_eq!(again.report.duplicates, 0, "{url}");
        assert_eq!(
            again.report.counts["user"].add, 1,
            "{url}: {:?}",
            again.report.counts
        );
        assert_eq!(again.report.counts["user"].update, 0);
    }
}

/// Deleting half the students holds the run; approving it with some deletes
/// excluded applies only the rest. Approving twice applies nothing twice.
#[tokio::test]
async fn mass_delete_is_held_and_approved_in_part() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let engine = engine(&url).await;
        let org = org_id("hold");
        let dir = tmp.path().join(format!("sis-{org}"));
        let mut f = students(20);
        f.write(&dir);
        apply(&engine, &org, vec![source("sis", &dir)]).await;
        assert_eq!(
            import(&engine, &org, "sis").await.status,
            RunStatus::Committed
        );

        for i in 11..=20 {
            f.remove("user", &format!("st{i}"));
        }
        f.write(&dir);
        let held = import(&engine, &org, "sis").await;
        assert_eq!(held.status, RunStatus::Held, "{url}");
        assert!(
            held.hold_reason
                .as_deref()
                .unwrap_or("")
                .contains("50% of user records deleted"),
            "{:?}",
            held.hold_reason
        );
        assert_eq!(
            active(&engine, &org, "user").await,
            20,
            "{url}: nothing held is visible"
        );

        let deletes = engine
            .store()
            .changes(&held.id, Some("user"), Some("delete"), 0, 100)
            .await
            .unwrap();
        assert_eq!(deletes.len(), 10);
        let keep: Vec<ActionRef> = vec![
            ActionRef::Seq(deletes[0].seq),
            ActionRef::Seq(deletes[1].seq),
            format!("user:delete:{}", deletes[2].source_record_id)
                .parse()
                .unwrap(),
        ];
        let (run, outcome) = engine.approve(&held.id, &keep).await.unwrap();
        assert_eq!(run.status, RunStatus::Committed);
        assert_eq!(
            outcome,
            CommitOutcome::Applied {
                applied: 7,
                excluded: 3
            }
        );
        assert_eq!(active(&engine, &org, "user").await, 13, "{url}");
        for d in &deletes[..3] {
            assert!(
                engine
                    .store()
                    .entity_of(&org, "sis", "user", &d.source_record_id)
                    .await
                    .unwrap()
                    .unwrap()
                    .active
            );
        }
        // A retry of the approval applies nothing twice.
        let (_, again) = engine.approve(&held.id, &[]).await.unwrap();
        assert_eq!(again, CommitOutcome::AlreadyCommitted);
        assert_eq!(active(&engine, &org, "user").await, 13);

        // The excluded deletes are still pending: the next full run proposes them again.
        let next = import(&engine, &org, "sis").await;
        assert_eq!(next.report.counts["user"].delete, 3, "{url}");
    }
}

/// A second import of unchanged data reports zero changes and rewrites nothing.
#[tokio::test]
async fn unchanged_reimport_changes_and_rewrites_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let engine = engine(&url).await;
        let org = org_id("unchanged");
        let dir = tmp.path().join(format!("sis-{org}"));
        students(30).write(&dir);
        apply(&engine, &org, vec![source("sis", &dir)]).await;
        let first = import(&engine, &org, "sis").await;
        assert_eq!(first.report.changes(), 33);
        let before = engine
            .store()
            .entities(&org, "user", None, 0, 1000)
            .await
            .unwrap();
        let sample = engine
            .store()
            .entity_of(&org, "sis", "user", "st7")
            .await
            .unwrap()
            .unwrap();
        let history_before = engine
            .store()
            .entity_history(&sample.id)
            .await
            .unwrap()
            .len();

        let second = import(&engine, &org, "sis").await;
        assert_eq!(second.status, RunStatus::Committed);
        assert_eq!(
            second.report.changes(),
            0,
            "{url}: {:?}",
            second.report.counts
        );
        assert_eq!(second.report.counts["user"].unchanged, 30);
        assert!(
            engine
                .store()
                .changes(&second.id, None, None, 0, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            engine
                .store()
                .entities(&org, "user", None, 0, 1000)
                .await
                .unwrap()
                .len(),
            before.len()
        );
        assert_eq!(
            engine
                .store()
                .entity_history(&sample.id)
                .await
                .unwrap()
                .len(),
            history_before,
            "no history written"
        );
        let updated_run: String = sqlx_updated_run(&engine, &sample.id).await;
        assert_eq!(updated_run, first.id, "{url}: the row was not rewritten");
    }
}

/// A full run of files that are byte for byte those of the last committed
/// run, with the same settings, reads nothing and says so; any byte, setting
/// or approval that leaves something out makes the next run read again.
#[tokio::test]
async fn the_same_files_are_not_read_again() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let engine = engine(&url).await;
        let org = org_id("same");
        let dir = tmp.path().join(format!("sis-{org}"));
        students(30).write(&dir);
        apply(&engine, &org, vec![source("sis", &dir)]).await;
        let first = import(&engine, &org, "sis").await;
        assert_eq!(first.report.changes(), 33, "{url}");
        assert!(
            first.report.input.is_some(),
            "{url}: a file source is fingerprinted"
        );
        assert_eq!(first.report.same_input_as, None);

        let second = import(&engine, &org, "sis").await;
        assert_eq!(second.status, RunStatus::Committed, "{url}");
        assert_eq!(
            second.report.same_input_as.as_deref(),
            Some(first.id.as_str()),
            "{url}"
        );
        assert_eq!(second.report.changes(), 0);
        let users = &second.report.counts["user"];
        assert_eq!(
            (users.read, users.unchanged, users.existing),
            (30, 30, 30),
            "{users:?}"
        );
        assert!(
            !second.report.timings.contains_key("read"),
            "nothing was read: {:?}",
            second.report.timings
        );

        // One byte of one file: read again, and the change found.
        let mut f = students(30);
        f.student(
            "st31",
            "Given31",
            "Family31",
            "st31@sis.example",
            "s1",
            "05",
        );
        f.write(&dir);
        let third = import(&engine, &org, "sis").await;
        assert_eq!(third.report.same_input_as, None, "{url}");
        assert_eq!(third.report.counts["user"].add, 1, "{url}");
        let fourth = import(&engine, &org, "sis").await;
        assert_eq!(
            fourth.report.same_input_as.as_deref(),
            Some(third.id.as_str())
        );
        assert_eq!(fourth.report.counts["user"].unchanged, 31);

        // A setting changed: read again (nothing changes in the hub).
        let mut changed = source("sis", &dir);
        changed.settings.insert("page_size".into(), "5".into());
        apply(&engine, &org, vec![changed.clone()]).await;
        let fifth = import(&engine, &org, "sis").await;
        assert_eq!(fifth.report.same_input_as, None, "{url}");
        assert_eq!(fifth.report.changes(), 0);
        assert_eq!(fifth.report.counts["user"].unchanged, 31);

        // What the hub tells the run changed (a master field of the
        // organization): read again.
        changed.master_fields.push(MasterField {
            kind: "student".into(),
            attribute: "email".into(),
            source: "sis".into(),
        });
        apply(&engine, &org, vec![changed]).await;
        let sixth = import(&engine, &org, "sis").await;
        assert_eq!(sixth.report.same_input_as, None, "{url}");
        let seventh = import(&engine, &org, "sis").await;
        assert_eq!(
            seventh.report.same_input_as.as_deref(),
            Some(sixth.id.as_str())
        );

        // A person purged from the hub: the same files are read again, and
        // what they still say comes back as a run would have it.
        let st7 = engine
            .store()
            .entity_of(&org, "sis", "user", "st7")
            .await
            .unwrap()
            .unwrap();
        let purge = homeroom_host::store::provider::PurgeRow {
            id: format!("purge-{org}"),
            entity_id: st7.id.clone(),
            kind: "user".into(),
            reason: "test".into(),
            purged_by: "test".into(),
            purged_at: homeroom_host::store::now(),
            removed: json!(null),
        };
        engine
            .store()
            .purge_entities(&purge, &org, std::slice::from_ref(&st7.id))
            .await
            .unwrap();
        let eighth = import(&engine, &org, "sis").await;
        assert_eq!(eighth.report.same_input_as, None, "{url}");
        assert_eq!(eighth.report.counts["user"].add, 1, "{url}");

        // A run waiting for approval is approved after a later run of the
        // first files committed: the hub holds the approved run's records,
        // so those first files are read again.
        let mut more = students(31);
        more.student(
            "st32",
            "Given32",
            "Family32",
            "st32@sis.example",
            "s2",
            "05",
        );
        more.write(&dir);
        let waiting = engine
            .import(
                &org,
                "sis",
                ImportOptions {
                    auto_commit: Some(false),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(waiting.status, RunStatus::AwaitingApproval, "{url}");
        f.write(&dir);
        let later = import(&engine, &org, "sis").await;
        assert_eq!(
            later.report.same_input_as.as_deref(),
            Some(eighth.id.as_str()),
            "{url}"
        );
        engine.approve(&waiting.id, &[]).await.unwrap();
        let after = import(&engine, &org, "sis").await;
        assert_eq!(after.report.same_input_as, None, "{url}");
        assert_eq!(
            after.report.counts["user"].delete, 1,
            "{url}: st32 goes again"
        );
    }
}

async fn sqlx_updated_run(engine: &Engine, id: &str) -> String {
    use sqlx::Row;
    sqlx::query("SELECT updated_run FROM entities WHERE id = $1")
        .bind(id)
        .fetch_one(engine.store().pool())
        .await
        .unwrap()
        .get("updated_run")
}

/// Preview holds every run, visible to nobody until approved; discard drops it.
#[tokio::test]
async fn preview_waits_for_approval_and_discard_drops() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let engine = engine(&url).await;
        let org = org_id("preview");
        let dir = tmp.path().join(format!("sis-{org}"));
        students(5).write(&dir);
        let mut s = source("sis", &dir);
        s.advanced.preview = true;
        apply(&engine, &org, vec![s]).await;
        let run = import(&engine, &org, "sis").await;
        assert_eq!(run.status, RunStatus::AwaitingApproval);
        assert_eq!(active(&engine, &org, "user").await, 0);
        let discarded = engine.discard(&run.id).await.unwrap();
        assert_eq!(discarded.status, RunStatus::Discarded);
        assert!(
            engine.approve(&run.id, &[]).await.is_err(),
            "a discarded run cannot be approved"
        );
        let run = import(&engine, &org, "sis").await;
        engine.approve(&run.id, &[]).await.unwrap();
        assert_eq!(active(&engine, &org, "user").await, 5, "{url}");
    }
}

/// Quick runs take deltas: `tobedeleted` deletes, removing a user removes
/// their enrollments, and a later add of the same identity reactivates.
#[tokio::test]
async fn quick_run_deletes_cascade_and_reactivate() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let engine = engine(&url).await;
        let org = org_id("delta");
        let dir = tmp.path().join(format!("sis-{org}"));
        let mut f = students(4);
        f.add(
            "class",
            "c1",
            json!({"title": "Math", "school": org_ref("s1")}),
        );
        for i in 1..=4 {
            f.add("enrollment", &format!("e{i}"), json!({"user": {"kind": "user", "id": format!("st{i}")}, "class": {"kind": "class", "id": "c1"}, "role": "student"}));
        }
        f.write(&dir);
        let mut s = source("sis", &dir);
        s.advanced.hold.deleted_share = 1.0;
        apply(&engine, &org, vec![s]).await;
        import(&engine, &org, "sis").await;
        assert_eq!(active(&engine, &org, "enrollment").await, 4);
        let st2 = engine
            .store()
            .entity_of(&org, "sis", "user", "st2")
            .await
            .unwrap()
            .unwrap();

        // The delta: st2 is to be deleted; its enrollment goes with it.
        let mut delta = Fixture::default();
        delta.files.insert("user".into(), vec![json!({"id": "st2", "deleted": true, "modified": "2999-01-01T00:00:00Z", "attrs": {}})]);
        delta.write(&dir);
        let quick = engine
            .import(
                &org,
                "sis",
                ImportOptions {
                    mode: Mode::Quick,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(quick.status, RunStatus::Committed, "{:?}", quick.report);
        assert!(quick.since.is_some());
        assert_eq!(quick.report.counts["user"].delete, 1);
        assert_eq!(
            quick.report.counts["enrollment"].delete, 1,
            "{url}: the enrollment of the removed user"
        );
        assert_eq!(active(&engine, &org, "user").await, 3);
        assert_eq!(active(&engine, &org, "enrollment").await, 3);

        // st2 comes back: the same entity is reactivated.
        f.write(&dir);
        let back = import(&engine, &org, "sis").await;
        assert_eq!(
            back.report.counts["user"].add, 1,
            "{url}: {:?}",
            back.report.counts
        );
        let again = engine
            .store()
            .entity_of(&org, "sis", "user", "st2")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.id, st2.id);
        assert!(again.active);
    }
}

/// Records that fail mapping are reported by id and never abort the run; past
/// the allowed share the run fails and commits nothing. A plugin failure
/// mid-read commits nothing either.
#[tokio::test]
async fn bad_records_and_failed_reads_commit_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let engine = engine(&url).await;
        let org = org_id("bad");
        let dir = tmp.path().join(format!("sis-{org}"));
        let mut f = students(40);
        f.set("user", "st3", "familyName", json!(""));
        f.write(&dir);
        let mut s = source("sis", &dir);
        s.mapping.push(homeroom_host::config::AttributeMapping {
            kind: "student".into(),
            target: "email".into(),
            transform: homeroom_host::config::Transform::Template {
                template: "{givenName}.{familyName}@district.org".into(),
            },
            then: vec![],
        });
        apply(&engine, &org, vec![s.clone()]).await;
        let run = import(&engine, &org, "sis").await;
        assert_eq!(
            run.status,
            RunStatus::Committed,
            "{url}: 1 bad of 43 is under 5%"
        );
        assert_eq!(run.report.errors_total, 1);
        assert_eq!(run.report.errors[0].source_id, "st3");
        assert!(
            run.report.errors[0].message.contains("familyName"),
            "{:?}",
            run.report.errors
        );
        assert_eq!(active(&engine, &org, "user").await, 39);

        for i in [4, 5, 6] {
            f.set("user", &format!("st{i}"), "familyName", json!(""));
        }
        f.add(
            "user",
            "new-1",
            json!({"givenName": "New", "familyName": "Person", "role": "student"}),
        );
        f.write(&dir);
        let failed = import(&engine, &org, "sis").await;
        assert_eq!(failed.status, RunStatus::Failed, "{url}");
        assert!(
            failed
                .report
                .failure
                .as_deref()
                .unwrap_or("")
                .contains("nothing was committed"),
            "{:?}",
            failed.report.failure
        );
        assert!(
            engine
                .store()
                .entity_of(&org, "sis", "user", "new-1")
                .await
                .unwrap()
                .is_none()
        );

        let mut broken = s.clone();
        broken.settings.insert("fail_on".into(), "user".into());
        engine.store().upsert_source(&org, &broken).await.unwrap();
        let mid_read = import(&engine, &org, "sis").await;
        assert_eq!(mid_read.status, RunStatus::Failed);
        let why = mid_read.report.failure.clone().unwrap_or_default();
        assert!(
            why.contains("the source failed while reading user")
                && why.contains("nothing was committed"),
            "{why}"
        );
        assert!(
            engine
                .store()
                .entity_of(&org, "sis", "user", "new-1")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(active(&engine, &org, "user").await, 39, "{url}");
    }
}

/// Per kind, what a run read is accounted for: added, updated, unchanged,
/// left out or failed.
fn assert_counts_add_up(run: &homeroom_host::store::Run, what: &str) {
    for (kind, c) in &run.report.counts {
        assert_eq!(
            c.read,
            c.add + c.update + c.unchanged + c.skipped + c.errors,
            "{what}: {kind} counts {c:?}"
        );
    }
    let skipped: u64 = run.report.counts.values().map(|c| c.skipped).sum();
    assert_eq!(
        skipped, run.report.skips_total,
        "{what}: every skip has its reason"
    );
}

/// A full run leaves out a record whose required reference points at a
/// record the source did not send (an enrollment of an unknown user, a class
/// of an unknown school, and so the enrollments in that class), names each
/// with what it points at, and commits none of them; the advanced setting
/// `keep_dangling_references` imports them, with a warning.
#[tokio::test]
async fn dangling_references_are_left_out_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let engine = engine(&url).await;
        let org = org_id("dangling");
        let dir = tmp.path().join(format!("sis-{org}"));
        let mut f = students(2);
        f.add(
            "class",
            "c1",
            json!({"title": "Math", "school": org_ref("s1")}),
        );
        f.add(
            "class",
            "c2",
            json!({"title": "Art", "school": org_ref("nowhere")}),
        );
        f.add(
            "enrollment",
            "e1",
            json!({"user": {"kind": "user", "id": "st1"}, "class": {"kind": "class", "id": "c1"}}),
        );
        f.add(
            "enrollment",
            "e2",
            json!({"user": {"kind": "user", "id": "ghost"}, "class": {"kind": "class", "id": "c1"}}),
        );
        f.add(
            "enrollment",
            "e3",
            json!({"user": {"kind": "user", "id": "st2"}, "class": {"kind": "class", "id": "c2"}}),
        );
        f.write(&dir);
        apply(&engine, &org, vec![source("sis", &dir)]).await;
        let run = import(&engine, &org, "sis").await;
        assert_eq!(run.status, RunStatus::Committed, "{url}");
        assert_counts_add_up(&run, &url);
        let why = |id: &str| {
            run.report
                .skips
                .iter()
                .find(|s| s.source_id == id)
                .map(|s| s.message.clone())
                .unwrap_or_default()
        };
        assert!(
            why("e2").contains("user `ghost`"),
            "{url}: {:?}",
            run.report.skips
        );
        assert!(
            why("c2").contains("org `nowhere`"),
            "{url}: {:?}",
            run.report.skips
        );
        assert!(
            why("e3").contains("class `c2`"),
            "{url}: {:?}",
            run.report.skips
        );
        assert_eq!(run.report.skips_total, 3, "{url}: {:?}", run.report.skips);
        for (kind, id) in [("enrollment", "e2"), ("class", "c2"), ("enrollment", "e3")] {
            assert!(
                engine
                    .store()
                    .entity_of(&org, "sis", kind, id)
                    .await
                    .unwrap()
                    .is_none(),
                "{url}: {kind} {id} is not committed"
            );
        }
        assert_eq!(active(&engine, &org, "enrollment").await, 1, "{url}");

        let mut keep = source("sis", &dir);
        keep.advanced.keep_dangling_references = true;
        engine.store().upsert_source(&org, &keep).await.unwrap();
        let kept = import(&engine, &org, "sis").await;
        assert_counts_add_up(&kept, &url);
        assert_eq!(kept.report.skips_total, 0, "{url}: {:?}", kept.report.skips);
        assert_eq!(active(&engine, &org, "enrollment").await, 3, "{url}");
        assert!(
            kept.report
                .warnings
                .iter()
                .any(|w| w.source_id == "e2" && w.message.contains("orphan reference")),
            "{url}: {:?}",
            kept.report.warnings
        );
    }
}

/// Every record a run leaves out is counted and kept with why: a filter
/// rule, a data requirement, an id the source sent twice.
#[tokio::test]
async fn every_record_left_out_is_counted_with_why() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let engine = engine(&url).await;
        let org = org_id("leftout");
        let dir = tmp.path().join(format!("sis-{org}"));
        let mut f = students(4);
        f.set("user", "st3", "email", json!(""));
        f.add(
            "user",
            "st1",
            json!({"givenName": "Again", "familyName": "Twice", "email": "again@sis.example", "role": "student", "orgs": [org_ref("s2")]}),
        );
        f.write(&dir);
        let mut s = source("sis", &dir);
        s.filters.push(homeroom_host::config::Filter {
            kind: "student".into(),
            rule: homeroom_host::config::FilterRule::HasEmail,
        });
        apply(&engine, &org, vec![s]).await;
        let run = import(&engine, &org, "sis").await;
        assert_counts_add_up(&run, &url);
        let user = &run.report.counts["user"];
        assert_eq!(user.skipped, 2, "{url}: {:?}", run.report.skips);
        let reasons: Vec<(&str, &str)> = run
            .report
            .skips
            .iter()
            .map(|s| (s.source_id.as_str(), s.message.as_str()))
            .collect();
        assert!(
            reasons
                .iter()
                .any(|(id, why)| *id == "st3" && !why.is_empty()),
            "{url}: {reasons:?}"
        );
        assert!(
            reasons
                .iter()
                .any(|(id, why)| *id == "st1" && why.contains("twice")),
            "{url}: {reasons:?}"
        );
    }
}

/// A reference to a record of the same kind that comes later (a student's
/// guardian listed after the student) is no orphan.
#[tokio::test]
async fn forward_references_within_a_kind_are_not_orphans() {
    let tmp = tempfile::tempdir().unwrap();
    let url = &database_urls(tmp.path())[0];
    let engine = engine(url).await;
    let org = org_id("agents");
    let dir = tmp.path().join("sis");
    let mut f = students(1);
    f.set(
        "user",
        "st1",
        "agents",
        json!([{"kind": "user", "id": "g1"}, {"kind": "user", "id": "nobody"}]),
    );
    f.add(
        "user",
        "g1",
        json!({"givenName": "Marge", "familyName": "S", "role": "guardian"}),
    );
    f.write(&dir);
    apply(&engine, &org, vec![source("sis", &dir)]).await;
    let run = import(&engine, &org, "sis").await;
    let orphans: Vec<_> = run
        .report
        .warnings
        .iter()
        .filter(|w| w.message.contains("orphan reference"))
        .collect();
    assert_eq!(orphans.len(), 1, "{:?}", run.report.warnings);
    assert!(orphans[0].message.contains("user `nobody`"));
}

/// The same person under two sourced ids of one feed: on a first import, by
/// the default domain (first name + last name + email, unattended) the two
/// records become one entity, named in the report; a manual domain adds the
/// second and queues the pair; `domains = []` keeps them apart. A record
/// that merges into an entity this run wrote thousands of rows before (in an
/// earlier batch of the change writer) merges with what the run made of it.
/// A later run that brings a third id of the same person finds the entity
/// the source already feeds.
#[tokio::test]
async fn duplicates_within_one_feed_are_found_on_a_first_import() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let engine = engine(&url).await;
        let dir = tmp.path().join(format!("feed-{}", org_id("dups")));
        // 4,500 students; the last is the first again under another id, with
        // a phone the first lacks; st3 and st3-dup sit in one page.
        let mut f = students(4_500);
        f.set("user", "st4500", "givenName", json!("Given1"));
        f.set("user", "st4500", "familyName", json!("Family1"));
        f.set("user", "st4500", "email", json!("ST1@sis.example "));
        f.set("user", "st4500", "phone", json!("555-0101"));
        f.student(
            "st3-dup",
            "Given3",
            "Family3",
            "st3@sis.example",
            "s2",
            "05",
        );
        f.write(&dir);

        // The default domain: merged, unattended.
        let org = org_id("dups-default");
        let mut sis = source("sis", &dir);
        sis.settings.insert("page_size".into(), "500".into());
        apply(&engine, &org, vec![sis.clone()]).await;
        let run = import(&engine, &org, "sis").await;
        assert_eq!(run.status, RunStatus::Committed, "{url}: {:?}", run.report);
        assert_counts_add_up(&run, &url);
        let users = &run.report.counts["user"];
        assert_eq!(
            (users.read, users.add, users.update),
            (4_501, 4_499, 2),
            "{url}: {users:?}"
        );
        assert_eq!(active(&engine, &org, "user").await, 4_499, "{url}");
        let warned = |id: &str, first: &str| {
            run.report.warnings.iter().any(|w| {
                w.source_id == id
                    && w.message.contains(&format!("`{first}`"))
                    && w.message.contains("merged")
            })
        };
        assert!(
            warned("st4500", "st1") && warned("st3-dup", "st3"),
            "{url}: {:?}",
            run.report.warnings
        );
        let st1 = engine
            .store()
            .entity_of(&org, "sis", "user", "st1")
            .await
            .unwrap()
            .unwrap();
        let again = engine
            .store()
            .entity_of(&org, "sis", "user", "st4500")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(st1.id, again.id, "{url}: one entity for both ids");
        assert_eq!(
            st1.data["phone"]["v"], "555-0101",
            "{url}: the second filled a blank"
        );
        assert_eq!(
            st1.data["username"]["v"], "st1",
            "{url}: the first's values stand"
        );

        // A second run: nothing changed, then a third id of st2 appears.
        let rerun = import(&engine, &org, "sis").await;
        assert_eq!(
            rerun.report.changes(),
            0,
            "{url}: {:?}",
            rerun.report.counts
        );
        let mut more = f.clone();
        more.student(
            "st2-again",
            "Given2",
            "Family2",
            "st2@sis.example",
            "s1",
            "05",
        );
        more.write(&dir);
        let third = import(&engine, &org, "sis").await;
        let users = &third.report.counts["user"];
        assert_eq!((users.add, users.update), (0, 1), "{url}: {users:?}");
        let st2 = engine
            .store()
            .entity_of(&org, "sis", "user", "st2")
            .await
            .unwrap()
            .unwrap();
        let st2_again = engine
            .store()
            .entity_of(&org, "sis", "user", "st2-again")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            st2.id, st2_again.id,
            "{url}: matched within the source across runs"
        );
        f.write(&dir);

        // A manual domain: both added, the pair waits in the queue.
        let org = org_id("dups-manual");
        let mut manual = sis.clone();
        manual.domains = vec![Domain {
            kind: "user".into(),
            attributes: vec!["givenName".into(), "familyName".into(), "email".into()],
            mode: DomainMode::Manual,
        }];
        apply(&engine, &org, vec![manual]).await;
        let run = import(&engine, &org, "sis").await;
        let users = &run.report.counts["user"];
        assert_eq!((users.add, users.update), (4_501, 0), "{url}: {users:?}");
        assert_eq!(run.report.duplicates, 2, "{url}");
        let dups = engine.store().duplicates(&org, true).await.unwrap();
        assert_eq!(dups.len(), 2, "{url}");
        let pair = dups
            .iter()
            .find(|d| d.secondary.data["phone"]["v"] == "555-0101")
            .expect("the st4500 pair");
        assert_eq!(pair.primary.data["username"]["v"], "st1", "{url}");

        // No domain at all: two entities, no pair.
        let org = org_id("dups-none");
        let mut none = sis.clone();
        none.domains = Vec::new();
        apply(&engine, &org, vec![none]).await;
        let run = import(&engine, &org, "sis").await;
        assert_eq!(run.report.counts["user"].add, 4_501, "{url}");
        assert_eq!(run.report.duplicates, 0, "{url}");
    }
}

/// Automatic schools mapping in an organization that already holds schools:
/// a feed whose schools mostly match none of them does not import a fraction
/// of the district in silence; the run holds and says which schools matched
/// and which did not. A feed whose schools all match commits.
#[tokio::test]
async fn schools_mapping_that_leaves_out_most_of_a_kind_holds() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let engine = engine(&url).await;
        let org = org_id("schools-hold");
        let first_dir = tmp.path().join(format!("first-{org}"));
        let second_dir = tmp.path().join(format!("second-{org}"));
        let mut first = Fixture::default();
        first.with_schools();
        first.write(&first_dir);
        let mut feed = Fixture::default();
        feed.add(
            "org",
            "x1",
            json!({"name": "Shelbyville Middle", "type": "school"}),
        );
        feed.add(
            "org",
            "x2",
            json!({"name": "springfield  high", "type": "school"}),
        );
        for i in 1..=4 {
            let school = if i == 4 { "x2" } else { "x1" };
            feed.student(
                &format!("p{i}"),
                &format!("P{i}"),
                "Q",
                &format!("p{i}@x.example"),
                school,
                "07",
            );
        }
        feed.write(&second_dir);
        let mut auto = source("sis", &second_dir);
        auto.schools.mode = SchoolsMode::Auto;
        apply(&engine, &org, vec![source("directory", &first_dir), auto]).await;
        let run = import(&engine, &org, "directory").await;
        assert_eq!(run.status, RunStatus::Committed, "{url}");

        let run = import(&engine, &org, "sis").await;
        assert_eq!(run.status, RunStatus::Held, "{url}: {:?}", run.report);
        let reason = run.hold_reason.clone().unwrap_or_default();
        assert!(
            reason.contains("75% of user records")
                && reason.contains("match a school of the district: springfield  high (x2)")
                && reason.contains("match none: Shelbyville Middle (x1)"),
            "{url}: {reason}"
        );
        let mapped = run.report.schools.clone().expect("schools outcome");
        assert_eq!(mapped.left_out.get("user"), Some(&3), "{url}");
        assert_counts_add_up(&run, &url);
        engine.discard(&run.id).await.unwrap();

        // Every school matches: nothing is held.
        feed.set("org", "x1", "name", json!("Springfield Elementary"));
        feed.write(&second_dir);
        let run = import(&engine, &org, "sis").await;
        assert_eq!(
            run.status,
            RunStatus::Committed,
            "{url}: {:?}",
            run.report.hold
        );
        assert_eq!(run.report.counts["user"].add, 4, "{url}");
    }
}

/// Items to sync: a source that imports only orgs and users reads nothing
/// else and deletes nothing else; a later run with every kind imports the
/// rest. A choice that leaves out what a kind points at is refused before
/// anything runs, saying what to add.
#[tokio::test]
async fn items_to_sync_choose_the_kinds_a_source_imports() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let engine = engine(&url).await;
        let org = org_id("items");
        let dir = tmp.path().join(format!("sis-{org}"));
        let mut f = students(3);
        f.add(
            "course",
            "m",
            json!({"title": "Math", "org": org_ref("s1")}),
        );
        f.add(
            "class",
            "c1",
            json!({"title": "Math 1", "course": {"kind": "course", "id": "m"}, "school": org_ref("s1")}),
        );
        f.add(
            "enrollment",
            "e1",
            json!({"user": {"kind": "user", "id": "st1"}, "class": {"kind": "class", "id": "c1"}, "role": "student"}),
        );
        f.write(&dir);

        let mut sis = source("sis", &dir);
        apply(&engine, &org, vec![sis.clone()]).await;
        let all = import(&engine, &org, "sis").await;
        assert_eq!(all.report.counts["enrollment"].add, 1, "{url}");

        sis.advanced.kinds = vec!["user".into(), "org".into()];
        apply(&engine, &org, vec![sis.clone()]).await;
        let run = import(&engine, &org, "sis").await;
        assert_eq!(run.status, RunStatus::Committed, "{url}");
        let read: Vec<&String> = run
            .report
            .counts
            .iter()
            .filter(|(_, c)| c.read > 0)
            .map(|(k, _)| k)
            .collect();
        assert_eq!(read, ["org", "user"], "{url}: {:?}", run.report.counts);
        assert_eq!(
            run.report.changes(),
            0,
            "{url}: nothing of the kinds not chosen is deleted"
        );
        assert_eq!(active(&engine, &org, "enrollment").await, 1, "{url}");

        sis.advanced.kinds = vec!["enrollment".into(), "user".into(), "org".into()];
        let refused = engine
            .apply_config(&DistrictConfig {
                organization: homeroom_host::config::Organization {
                    id: org.clone(),
                    name: "Springfield".into(),
                    ..Default::default()
                },
                sources: vec![sis],
                vendors: Vec::new(),
            })
            .await
            .expect_err("enrollments without classes");
        assert!(
            refused.to_string().contains("`enrollment` without `class`"),
            "{url}: {refused}"
        );
    }
}

/// One organization's busy runs do not starve another's: two runs whose
/// connector lists 40 slow pages ahead take every instance slot, and a
/// small run of another organization, started after them, still commits
/// while they read (a freed slot goes to the organization holding the
/// fewest, and extra instances give theirs back at the end of a page).
/// On a multi-threaded runtime, as `homeroom serve` and the workers run:
/// on one thread the small run's every await waits behind a busy page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_organizations_busy_runs_do_not_starve_another() {
    let tmp = tempfile::tempdir().unwrap();
    let url = database_urls(tmp.path()).remove(0);
    let store = homeroom_host::store::Store::open(&url).await.unwrap();
    let limits = homeroom_host::runtime::Limits {
        max_instances: 3,
        ..Default::default()
    };
    let runtime = homeroom_host::runtime::Runtime::new(limits).unwrap();
    let mut engine = Engine::new(
        store,
        runtime.clone(),
        std::sync::Arc::new(homeroom_tests::support::gallery()),
    );
    engine.read_concurrency = 3;
    let busy = org_id("busy");
    let small = org_id("small");
    let mut slow = Vec::new();
    for id in ["a1", "a2"] {
        let mut s = SourceConfig::new(id, "hostile-connector");
        s.settings.insert("behaviour".into(), "slow-ahead".into());
        s.settings.insert("spin".into(), "200000000".into());
        slow.push(s);
    }
    apply(&engine, &busy, slow).await;
    let dir = tmp.path().join("small");
    students(3).write(&dir);
    apply(&engine, &small, vec![source("sis", &dir)]).await;
    // Its connector compiled and its district in, before the busy runs.
    let first = import(&engine, &small, "sis").await;
    assert_eq!(first.status, RunStatus::Committed);
    students(4).write(&dir);

    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut reading = Vec::new();
    for id in ["a1", "a2"] {
        let (engine, busy, done) = (engine.clone(), busy.clone(), done.clone());
        reading.push(tokio::spawn(async move {
            let run = engine.import(&busy, id, ImportOptions::default()).await;
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            run
        }));
    }
    // Wait until the busy organization holds every slot.
    let owner = Some(busy.clone());
    for _ in 0..600 {
        if runtime.slots().held_by(&owner) == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        runtime.slots().held_by(&owner),
        3,
        "the busy runs hold every slot"
    );
    // What the small run was told, and how many busy runs had ended when
    // it got its slot.
    let told = std::sync::Arc::new(std::sync::Mutex::new((None, None)));
    let (sink, ended) = (told.clone(), done.clone());
    let run = engine
        .import(
            &small,
            "sis",
            ImportOptions {
                waiting: Some(std::sync::Arc::new(move |why: Option<String>| {
                    let mut t = sink.lock().unwrap();
                    match why {
                        Some(why) => t.0 = Some(why),
                        None if t.1.is_none() => {
                            t.1 = Some(ended.load(std::sync::atomic::Ordering::SeqCst))
                        }
                        None => {}
                    }
                })),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Committed, "{:?}", run.report.failure);
    let (why, ended_then) = told.lock().unwrap().clone();
    let why = why.unwrap_or_default();
    assert!(
        why.contains("waiting for a plugin slot: all 3 are busy"),
        "{why}"
    );
    assert_eq!(
        ended_then,
        Some(0),
        "the small run got a slot while both busy runs still read"
    );
    for r in reading {
        let done = r.await.unwrap().unwrap();
        assert_eq!(
            done.status,
            RunStatus::Committed,
            "{:?}",
            done.report.failure
        );
        assert_eq!(done.report.counts["user"].add, 41);
    }
}

/// A connector built for `homeroom:plugin@0.1.0` (kept as built,
/// `tests/fixtures/connector-0.1.0`) imports through this host exactly as
/// the same connector built for 0.2.0 does: the same counts, the same
/// records, and a second run that changes nothing.
#[tokio::test]
async fn a_connector_built_for_0_1_0_imports_as_its_0_2_0_build_does() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let engine = engine(&url).await;
        let dir = tmp.path().join(format!("district-{}", org_id("v1")));
        students(23).write(&dir);
        let mut seen = Vec::new();
        for plugin in ["fixture-connector-0-1-0", "fixture-connector"] {
            let org = org_id(plugin);
            let mut s = source("sis", &dir);
            s.plugin = plugin.into();
            s.advanced.auto_commit = true;
            apply(&engine, &org, vec![s]).await;
            let run = import(&engine, &org, "sis").await;
            assert_eq!(
                run.status,
                RunStatus::Committed,
                "{plugin}: {:?}",
                run.report
            );
            let again = import(&engine, &org, "sis").await;
            assert_eq!(
                again.report.total(|c| c.add + c.update + c.delete),
                0,
                "{plugin}: a second run changes nothing: {:?}",
                again.report.counts
            );
            let users = engine
                .store()
                .entities(&org, "user", None, 0, 100)
                .await
                .unwrap();
            let mut people: Vec<String> = users
                .iter()
                .map(|u| serde_json::to_string(&u.data).unwrap())
                .collect();
            people.sort();
            seen.push((run.report.counts.clone(), people));
        }
        assert_eq!(seen[0].1.len(), 23);
        assert_eq!(seen[0], seen[1], "0.1.0 and 0.2.0 builds import the same");
    }
}

/// One approval choice: a new integration's first import waits for
/// review (a first run that changes nothing does not); "threshold" then
/// holds only past a threshold, and "always" commits past it too.
#[tokio::test]
async fn the_approval_choice_and_the_first_import_review() {
    use homeroom_host::config::Approval;
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let engine = homeroom_tests::support::engine(&url).await;
        let org = org_id("approval");
        let dir = tmp.path().join(format!("approval-{}", org));
        students(10).write(&dir);
        let mut sis = source("sis", &dir);
        sis.advanced.review_first = true;
        sis.advanced.set_approval(Approval::Threshold);
        sis.advanced.hold.deleted_share = 0.2;
        apply(&engine, &org, vec![sis.clone()]).await;
        let first = import(&engine, &org, "sis").await;
        assert_eq!(first.status, RunStatus::AwaitingApproval, "{url}");
        assert!(
            first
                .hold_reason
                .as_deref()
                .unwrap_or_default()
                .contains("first import"),
            "{url}: {:?}",
            first.hold_reason
        );
        let (approved, _) = engine.approve(&first.id, &[]).await.unwrap();
        assert_eq!(approved.status, RunStatus::Committed);
        // Later runs follow the choice: unchanged commits at once.
        let again = import(&engine, &org, "sis").await;
        assert_eq!(again.status, RunStatus::Committed, "{url}");
        // Past the delete threshold: held under "threshold"...
        students(5).write(&dir);
        let held = import(&engine, &org, "sis").await;
        assert_eq!(held.status, RunStatus::Held, "{url}");
        engine.discard(&held.id).await.unwrap();
        // ...committed under "always".
        sis.advanced.set_approval(Approval::Always);
        apply(&engine, &org, vec![sis.clone()]).await;
        let always = import(&engine, &org, "sis").await;
        assert_eq!(
            always.status,
            RunStatus::Committed,
            "{url}: {:?}",
            always.hold_reason
        );
        assert!(always.report.total(|c| c.delete) >= 5);
        // "review": every run waits, changes or not.
        sis.advanced.set_approval(Approval::Review);
        apply(&engine, &org, vec![sis]).await;
        let reviewed = import(&engine, &org, "sis").await;
        assert_eq!(reviewed.status, RunStatus::AwaitingApproval, "{url}");

        // A first import that changes nothing commits without review.
        let empty_org = org_id("approval-empty");
        let empty = tmp.path().join(format!("empty-{empty_org}"));
        Fixture::default().write(&empty);
        let mut quiet = source("sis", &empty);
        quiet.advanced.review_first = true;
        apply(&engine, &empty_org, vec![quiet]).await;
        assert_eq!(
            import(&engine, &empty_org, "sis").await.status,
            RunStatus::Committed
        );
    }
}

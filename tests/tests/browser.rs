//! The admin UI in a real headless Chromium, driven through chromedriver on
//! loopback: sign in with the first-start token, activate the OneRoster CSV
//! app from the gallery, walk every wizard step over the sample district,
//! run an import (previewed), uncheck some actions, approve the rest, and
//! check the records and history; then set up Google Classroom as a 2-way
//! Sync integration through the wizard, run it, and read the export's
//! outcomes and what the destination refuses; then give a vendor a client
//! and an agreement, read as the vendor through the OneRoster API, find the
//! read in the logs and purge the student it served. Screenshots of the main pages go to
//! tests/screenshots/ for review.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them the test
//! says it was skipped, unless HOMEROOM_REQUIRE_BROWSER=1 (CI), where it
//! fails.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::Locator;
use homeroom_host::app::views::GalleryEntry;
use homeroom_host::app::{App, secrets::SecretBox};
use homeroom_host::config::SyncMode;
use homeroom_host::store::RunStatus;
use homeroom_tests::browser::{browser_or_skip, open, visible_text};
use homeroom_tests::classroom_mock::{self, MockClassroom};
use homeroom_tests::support::{Fixture, engine};
use serde_json::json;

/// What the wizard activates and reads: the OneRoster CSV app over the
/// sample district, or (while those are not built) the fixture connector.
struct Subject {
    app_name: String,
    search: &'static str,
    folder: PathBuf,
    source_id: &'static str,
}

fn subject(tmp: &Path, gallery: &[GalleryEntry]) -> Subject {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample-district");
    if let (true, Some(e)) = (
        sample.join("manifest.csv").is_file(),
        gallery.iter().find(|e| e.id == "oneroster-csv"),
    ) {
        return Subject {
            app_name: e.name.clone(),
            search: "OneRoster CSV",
            folder: sample.canonicalize().unwrap_or(sample),
            source_id: "oneroster-csv",
        };
    }
    eprintln!(
        "note: the OneRoster CSV app or the sample district is missing: walking the wizard with the fixture connector"
    );
    let mut f = Fixture::default();
    f.with_schools();
    for i in 1..=40 {
        f.student(
            &format!("st{i:03}"),
            &format!("Given{i}"),
            &format!("Family{i}"),
            &format!("st{i}@district.example"),
            if i % 2 == 0 { "s1" } else { "s2" },
            "04",
        );
    }
    f.add(
        "user",
        "t1",
        json!({"givenName": "Edna", "familyName": "Krabappel", "email": "edna@district.example", "role": "teacher"}),
    );
    let dir = f.write(&tmp.join("fixture-district"));
    Subject {
        app_name: "Fixture connector (test only)".into(),
        search: "Fixture",
        folder: dir,
        source_id: "fixture-connector",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_walks_the_wizard_runs_an_import_and_approves_part_of_it() {
    let Some((driver_bin, chrome)) = browser_or_skip() else {
        return;
    };

    // The host, as `homeroom serve` wires it, on a loopback port.
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("homeroom.db").display());
    let engine = engine(&url).await;
    let app = App::new(engine.clone(), SecretBox::random());
    let token = app
        .first_start()
        .await
        .unwrap()
        .expect("first start makes a token");
    let subject = subject(tmp.path(), &app.gallery(None));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, homeroom_host::serve::router(app))
            .await
            .ok();
    });

    let (_driver, ui) = open(&driver_bin, &chrome, format!("http://{addr}")).await;

    // Sign in: `/` sends a stranger to the sign-in form.
    ui.go("/").await;
    ui.css("#token").await;
    ui.shot("01-sign-in").await;
    ui.fill("#token", &token).await;
    ui.click("form[action='/login'] button[type=submit]").await;
    ui.until_text("Overview", false, 20).await;
    ui.shot("02-overview-empty").await;

    // Gallery: every app, then a search, then Activate.
    ui.click("nav.side a[href='/orgs/demo/gallery']").await;
    ui.css("ul.cards").await;
    ui.shot("03-gallery").await;
    ui.fill("input[name=q]", subject.search).await;
    ui.click("form.search button[type=submit]").await;
    ui.until_text(&format!("Activate {}", subject.app_name), false, 20)
        .await;
    ui.click(&format!(
        "button[aria-label='Activate {}']",
        subject.app_name
    ))
    .await;

    // 1 Delivery Config: the folder, Advanced Settings (preview on), Test Connection.
    ui.until_text("Delivery Config", false, 20).await;
    ui.fill("#name", "Maplewood SIS").await;
    ui.fill("#folder", &subject.folder.display().to_string())
        .await;
    ui.click("details.advanced summary").await;
    let preview = ui.css("input[name='adv.approval'][value=review]").await;
    if preview.prop("checked").await.ok().flatten().as_deref() != Some("true") {
        preview.click().await.unwrap();
    }
    ui.shot("04-delivery-config").await;
    ui.click("button[value=test]").await;
    // Wait for the outcome itself: "Connection" alone matches the form's
    // "Connection Name" label before the test has answered.
    let html = ui.until_text("Connection works", false, 60).await;
    assert!(
        html.contains("Connection works"),
        "Test Connection failed: {}",
        visible_text(&html)
    );
    ui.shot("05-test-connection").await;
    ui.click("button[value=next]").await;

    // 2 Terms of Use.
    ui.until_text("Terms of Use and Privacy", false, 20).await;
    ui.click("input[name=accept]").await;
    ui.shot("06-terms").await;
    ui.click("button[value=next]").await;

    // 3 Schools Mapping: one toggle per school.
    ui.until_text("Schools Mapping", false, 30).await;
    ui.shot("07-schools-mapping").await;
    ui.click("button[value=next]").await;

    // 4 Attributes Mapping (Finish is offered from here).
    ui.until_text("Add a mapping", false, 20).await;
    ui.css("button[value=finish]").await;
    ui.shot("08-attributes-mapping").await;
    ui.click("button[value=next]").await;

    // 5 Data Requirements: report students without an email.
    ui.until_text("Add a requirement", false, 20).await;
    ui.css("#r-kind")
        .await
        .select_by_value("student")
        .await
        .unwrap();
    ui.fill("#r-attr", "email").await;
    ui.click("button[value=add]").await;
    ui.until_text("Report if missing</td>", false, 20).await;
    ui.shot("09-data-requirements").await;
    ui.click("button[value=next]").await;

    // 6 Filter Rules, 7 Domains of Uniqueness, 8 Master Fields.
    ui.until_text("Add a filter", false, 20).await;
    ui.shot("10-filter-rules").await;
    ui.click("button[value=next]").await;
    ui.until_text("Add a domain", false, 20).await;
    ui.shot("11-domains").await;
    ui.click("button[value=next]").await;
    ui.until_text("Add a master field", false, 20).await;
    ui.click("button[value=next]").await;

    // 9 Sync Schedule: daily.
    ui.until_text("Sync Schedule", false, 20).await;
    ui.click("input[name=every][value=day]").await;
    // At 02:30, paused for the summer until a date: it resumes by itself.
    ui.c.execute(
        "document.querySelector('#at').value='02:30'; document.querySelector('#resume_on').value='2027-08-15';",
        vec![],
    )
    .await
    .unwrap();
    ui.click("input[name=paused]").await;
    ui.shot("12-schedule").await;
    ui.click("button[value=next]").await;

    // 10 Done: Finish enables the integration.
    ui.until_text("Review and finish", false, 20).await;
    ui.shot("13-done").await;
    ui.click("button[value=finish]").await;
    ui.until_text("Setup finished", false, 20).await;
    ui.shot("14-integrations").await;
    let source = engine
        .store()
        .source("demo", subject.source_id)
        .await
        .expect("the wizard saved the source");
    assert!(source.enabled);
    assert_eq!(
        source.config.advanced.approval(),
        homeroom_host::config::Approval::Review
    );
    assert!(
        source.config.advanced.review_first,
        "a new integration reviews its first import"
    );
    assert_eq!(source.config.requirements.len(), 1);
    let schedule = source
        .config
        .schedule
        .clone()
        .expect("the schedule step saved");
    assert_eq!(schedule.at.as_deref(), Some("02:30"));
    assert!(schedule.paused);
    assert_eq!(schedule.resume_on.as_deref(), Some("2027-08-15"));
    // The step says when it next runs: the resume date, at 02:30.
    ui.go(&format!(
        "/orgs/demo/sources/{}/setup/schedule",
        subject.source_id
    ))
    .await;
    ui.until_text("Next run: Sunday 2027-08-15 02:30", false, 20)
        .await;

    // Settings: the district's time zone and where notifications go.
    ui.go("/orgs/demo/settings").await;
    ui.until_text("Notifications sent", false, 20).await;
    ui.fill("#time_zone", "Not/AZone").await;
    ui.click("form.panel button[type=submit]").await;
    ui.until_text("is not a time zone", false, 20).await;
    ui.go("/orgs/demo/settings").await;
    ui.until_text("Notifications sent", false, 20).await;
    ui.fill("#time_zone", "America/Chicago").await;
    ui.fill("#webhook_url", "https://hooks.district.test/homeroom")
        .await;
    ui.fill("#webhook_secret", "whsec-browser").await;
    ui.fill("#email", "it@district.test").await;
    ui.click("input[name=digest]").await;
    ui.click("form.panel button[type=submit]").await;
    let html = ui.until_text("Saved.", false, 20).await;
    assert!(
        html.contains("(set; type a new one to replace it)"),
        "{}",
        visible_text(&html)
    );
    assert!(
        !html.contains("whsec-browser"),
        "the secret is never shown again"
    );
    ui.shot("12b-settings").await;
    ui.go(&format!(
        "/orgs/demo/sources/{}/setup/schedule",
        subject.source_id
    ))
    .await;
    ui.until_text("At (HH:MM, America/Chicago)", false, 20)
        .await;
    ui.until_text("Next run: Sunday 2027-08-15 02:30 CDT", false, 20)
        .await;
    // The gallery says the app is active, and offers a second one named apart.
    ui.go(&format!(
        "/orgs/demo/gallery?q={}",
        subject.search.replace(' ', "+")
    ))
    .await;
    let html = ui
        .until_text(&format!("Add another {}", subject.app_name), false, 20)
        .await;
    assert!(html.contains("Active"), "{}", visible_text(&html));
    ui.go("/orgs/demo/integrations").await;
    // At 768 px the integrations' action buttons are on the page, not
    // behind a horizontal scroll.
    ui.c.set_window_size(768, 1000).await.unwrap();
    ui.until_text("Integrations", false, 20).await;
    let overflow = ui
        .c
        .execute(
            "var w = document.querySelector('.tablewrap'); return w ? w.scrollWidth - w.clientWidth : 0;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().unwrap_or(0) <= 1,
        "the integrations table scrolls sideways at 768 px by {overflow}"
    );
    ui.shot_at("14b-integrations-768", 768).await;
    ui.c.set_window_size(1366, 1000).await.unwrap();

    // Run an import: the page follows it, then waits for approval.
    ui.click("button[aria-label^='Run import of']").await;
    let html = ui.until_text("Awaiting approval", true, 180).await;
    assert!(html.contains("Report"), "{}", visible_text(&html));
    ui.shot("15-run-awaiting-approval").await;
    let run = engine
        .store()
        .runs("demo", None, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(run.status, RunStatus::AwaitingApproval);
    let adds = run.report.counts["user"].add;
    assert!(adds > 10, "{:?}", run.report.counts);

    // Open the users' adds; uncheck three; approve the rest.
    ui.click("a[href*='kind=user&action=add']").await;
    ui.until_text("Approve run", false, 20).await;
    let boxes =
        ui.c.find_all(Locator::Css("input[name=keep]"))
            .await
            .unwrap();
    let mut left_out = Vec::new();
    for b in boxes.iter().take(3) {
        let label = b.attr("aria-label").await.unwrap().unwrap_or_default();
        left_out.push(label.trim_start_matches("Apply add of ").to_string());
        b.click().await.unwrap();
    }
    ui.shot("16-actions-unchecked").await;
    ui.click("button[value=approve]").await;
    ui.until_text("The run was approved", false, 60).await;
    ui.shot("17-run-committed").await;
    let run = engine.store().run(&run.id).await.unwrap();
    assert_eq!(run.status, RunStatus::Committed);
    let users = engine
        .store()
        .entity_counts("demo")
        .await
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == "user")
        .map(|(_, n)| n)
        .unwrap_or(0);
    assert_eq!(users as u64, adds - 3, "three adds were left out");
    for id in &left_out {
        assert!(
            engine
                .store()
                .entity_of("demo", subject.source_id, "user", id)
                .await
                .unwrap()
                .is_none(),
            "{id} was left out, yet it was applied"
        );
    }

    // The result: counts, a list, a record with provenance and history.
    ui.click("nav.side a[href='/orgs/demo']").await;
    let html = ui.until_text("Recent runs", false, 20).await;
    assert!(html.contains("Committed"));
    ui.shot("18-overview").await;
    ui.go("/orgs/demo/records?kind=student").await;
    let html = ui.until_text("record(s)", false, 20).await;
    assert!(!html.contains(">No records.<"), "{}", visible_text(&html));
    ui.shot("19-students").await;
    ui.click("table tbody tr:first-child td:first-child a")
        .await;
    let html = ui.until_text("Sync history", false, 20).await;
    assert!(html.contains("From source") && html.contains(subject.source_id));
    assert!(
        html.contains(&run.id[..8]),
        "the record's history names the run"
    );
    ui.shot("20-record").await;
    ui.go("/orgs/demo/records?kind=class").await;
    ui.until_text("record(s)", false, 20).await;
    ui.shot("21-classes").await;
    ui.go("/orgs/demo/runs").await;
    ui.until_text("Committed", false, 20).await;
    ui.shot("22-runs").await;
    ui.go("/orgs/demo/duplicates?status=all").await;
    ui.until_text("Duplicates", false, 20).await;
    ui.shot("23-duplicates").await;
    ui.go("/orgs/demo/audit").await;
    ui.until_text("run.approve", false, 20).await;
    ui.shot("24-audit").await;

    // A 2-way Sync integration: Google Classroom (the mock written from its
    // discovery document), whose directory holds the district's people.
    let gc = MockClassroom::start().await.unwrap();
    let mut people = 0;
    if let Ok(mut reader) = csv::Reader::from_path(subject.folder.join("users.csv")) {
        let headers = reader.headers().unwrap().clone();
        let email = headers.iter().position(|h| h == "email");
        for (i, r) in reader.records().filter_map(Result::ok).enumerate() {
            if let Some(e) = email.and_then(|at| r.get(at)).filter(|e| !e.is_empty()) {
                gc.add_user(&e.to_lowercase(), &format!("4{i:020}"), e);
                people += 1;
            }
        }
    }
    assert!(people > 0, "the district's people are in the directory");
    ui.go("/orgs/demo/gallery?q=Classroom").await;
    ui.click("button[aria-label='Activate Google Classroom']")
        .await;
    ui.until_text("Delivery Config", false, 20).await;
    ui.fill("#name", "Classroom").await;
    ui.css("#sync_mode")
        .await
        .select_by_value("sync")
        .await
        .unwrap();
    for (field, value) in [
        ("service_url", gc.base_url()),
        ("token_url", gc.token_url()),
        ("client_id", classroom_mock::CLIENT_ID.to_string()),
        ("client_secret", classroom_mock::CLIENT_SECRET.to_string()),
        ("refresh_token", classroom_mock::REFRESH_TOKEN.to_string()),
        ("owner", classroom_mock::ADMIN_EMAIL.to_string()),
    ] {
        ui.fill(&format!("#set-{field}"), &value).await;
    }
    ui.shot("25-sync-delivery-config").await;
    ui.click("button[value=test]").await;
    ui.until_text("Connection works", false, 60).await;
    // Every step to the end, the terms accepted on the way.
    for _ in 0..12 {
        let html = ui.source().await;
        if html.contains("Review and finish") {
            break;
        }
        if html.contains("name=\"accept\"") {
            let accept = ui.css("input[name=accept]").await;
            if accept.prop("checked").await.ok().flatten().as_deref() != Some("true") {
                accept.click().await.unwrap();
            }
        }
        ui.click("button[value=next]").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    ui.click("button[value=finish]").await;
    let html = ui.until_text("Setup finished", false, 20).await;
    assert!(html.contains("2-way sync"), "{}", visible_text(&html));
    ui.shot("26-integrations-with-sync").await;
    let classroom = engine
        .store()
        .sources("demo")
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.config.plugin == "google-classroom")
        .expect("the wizard saved the Classroom integration");
    assert_eq!(classroom.config.sync_mode, SyncMode::Sync);

    // Run sync: Classroom is read (nothing graded yet), the commit sends
    // it the roster; the export's page shows what became of each kind.
    ui.click("button[aria-label='Run sync of Classroom']").await;
    let deadline = Instant::now() + Duration::from_secs(180);
    let export = loop {
        let runs = engine
            .store()
            .runs("demo", Some(&classroom.config.id), 10)
            .await
            .unwrap();
        if let Some(r) = runs.into_iter().find(|r| {
            r.mode == "export" && !matches!(r.status, RunStatus::Running | RunStatus::Queued)
        }) {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "no export followed the sync's commit"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        export.status,
        RunStatus::Committed,
        "{:?}",
        export.report.failure
    );
    let courses = export.report.counts["class"].add;
    assert!(courses > 0, "{:?}", export.report.counts);
    assert_eq!(gc.courses().len() as u64, courses);
    ui.go(&format!("/orgs/demo/runs/{}", export.id)).await;
    let html = ui.until_text("Export to", false, 20).await;
    assert!(
        html.contains("To retry") && html.contains("Rejected"),
        "{}",
        visible_text(&html)
    );
    assert!(
        html.contains(&format!(">{courses}<")),
        "the page shows the courses made"
    );
    ui.shot("27-export-outcomes").await;
    let rejected = export.report.errors_total;
    ui.go(&format!(
        "/orgs/demo/sources/{}/rejected",
        classroom.config.id
    ))
    .await;
    let html = ui.until_text("Refused by", false, 20).await;
    if rejected == 0 {
        assert!(html.contains("took everything"), "{}", visible_text(&html));
    } else {
        assert!(!html.contains("took everything"), "{}", visible_text(&html));
    }
    ui.shot("28-refused").await;

    // Vendors: a client (its secret shown once), an agreement of one school
    // and three fields of its people, a vendor read through the OneRoster
    // API, the read in the client's log and the person's, then a purge.
    ui.click("nav.side a[href='/orgs/demo/vendors']").await;
    ui.until_text("Add a vendor client", false, 20).await;
    ui.shot("29-vendors").await;
    ui.fill("#name", "Lumen Touch <gradebook>").await;
    ui.click("form[action='/orgs/demo/vendors'] button[type=submit]")
        .await;
    ui.until_text("shown this once", false, 20).await;
    let client_id = ui.value("#client_id").await;
    let client_secret = ui.value("#client_secret").await;
    assert!(client_id.starts_with("hrc_") && client_secret.len() >= 32);
    ui.shot("30-vendor-secret").await;
    ui.go(&format!("/orgs/demo/vendors/{client_id}")).await;
    ui.until_text("Grant an agreement", false, 20).await;
    assert!(ui.source().await.contains("Lumen Touch &lt;gradebook&gt;"));
    ui.click("input[name=school]").await;
    ui.click("input[name=kind][value=users]").await;
    ui.fill("#fields-users", "givenName, familyName, roles")
        .await;
    ui.c.execute(
        "document.querySelector('#expires_on').value = '2099-06-30';",
        vec![],
    )
    .await
    .unwrap();
    ui.click("form[action$='/agreement'] button[type=submit]")
        .await;
    ui.until_text("Until 2099-06-30", false, 20).await;
    ui.shot("31-vendor-agreement").await;

    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{}/ims/oneroster/token", ui.base))
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let read: serde_json::Value = http
        .get(format!(
            "{}/ims/oneroster/rostering/v1p2/students?limit=5",
            ui.base
        ))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let served = read["users"].as_array().expect("users served");
    assert!(!served.is_empty(), "{read}");
    assert!(served.iter().all(|u| u.get("email").is_none()), "{read}");
    let student = served[0]["sourcedId"].as_str().unwrap().to_string();
    ui.go(&format!("/orgs/demo/vendors/{client_id}")).await;
    ui.until_text("/ims/oneroster/rostering/v1p2/students", false, 20)
        .await;
    ui.shot("32-vendor-reads").await;

    ui.go(&format!("/orgs/demo/records/{student}")).await;
    let html = ui
        .until_text("Vendor reads of this person", false, 20)
        .await;
    assert!(html.contains("Lumen Touch"), "{}", visible_text(&html));
    ui.fill("#reason", "Parent's request of 2026-12-01").await;
    ui.shot("33-purge").await;
    ui.click("form[action$='/purge'] button[type=submit]").await;
    let html = ui.until_text("data was purged", false, 20).await;
    assert!(html.contains(&student), "{}", visible_text(&html));
    ui.shot("34-purges").await;
    ui.go(&format!("/orgs/demo/records/{student}")).await;
    ui.until_text("no record", false, 20).await;

    // Keyboard: the first Tab reaches the skip link.
    ui.go("/orgs/demo").await;
    ui.css("body").await.send_keys("\u{E004}").await.ok();
    let focused =
        ui.c.execute(
            "return document.activeElement && document.activeElement.textContent;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(focused, json!("Skip to content"));

    ui.c.close().await.ok();
    server.abort();
}

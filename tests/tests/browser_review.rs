//! Issue 18, part B, in a real headless Chromium: a district admin reviews
//! a first import of 3,000 students and the rest. The run is titled by the
//! integration's name; its report splits the users by role, and each count
//! opens the actions behind it; a full name finds both students of that
//! name, told apart by source and identifier; the teachers are left out in
//! one click (the filter goes to the server, not thousands of checkboxes),
//! the approval applies the rest and says how many it left out; an
//! enrollment names its person and class. Screenshots go to
//! tests/screenshots/ (`review-*`).
//!
//! Needs Debian's `chromium` and `chromium-driver`; skipped without them
//! unless HOMEROOM_REQUIRE_BROWSER=1.

use std::time::Instant;

use homeroom_host::app::{App, secrets::SecretBox};
use homeroom_tests::browser::{browser_or_skip, open, visible_text};
use homeroom_tests::review::{district, waiting_import};
use homeroom_tests::support::engine;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reviews_three_thousand_adds_by_filter_in_a_few_steps() {
    let Some((driver_bin, chrome)) = browser_or_skip() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("homeroom.db").display());
    let engine = engine(&url).await;
    let app = App::new(engine.clone(), SecretBox::random());
    let token = app
        .first_start()
        .await
        .unwrap()
        .expect("first start makes a token");
    let d = district(3_000);
    let students = d.students_s1 + d.students_s2;
    let run = waiting_import(&engine, &tmp.path().join("sis"), "demo", &d).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, homeroom_host::serve::router(app))
            .await
            .ok();
    });
    let (_driver, ui) = open(&driver_bin, &chrome, format!("http://{addr}")).await;
    ui.go("/").await;
    ui.fill("#token", &token).await;
    ui.click("form[action='/login'] button[type=submit]").await;
    ui.until_text("Overview", false, 20).await;
    let clock = Instant::now();

    // The runs list and the run carry the integration's name.
    ui.go("/orgs/demo/runs").await;
    ui.until_text("Springfield SIS", false, 20).await;
    ui.go(&format!("/orgs/demo/runs/{}", run.id)).await;
    let html = ui.until_text("Users by role", false, 20).await;
    assert!(
        html.contains("Import from Springfield SIS"),
        "{}",
        visible_text(&html)
    );
    ui.shot("review-01-run-by-role").await;

    // The students' count opens their adds: every one, in pages.
    ui.click(&format!(
        "a[aria-label='{students} add actions of students']"
    ))
    .await;
    let html = ui.until_text("Adds of Students", false, 20).await;
    assert!(
        html.contains(&format!("<span id=\"shown-count\">{students}</span>")),
        "{}",
        visible_text(&html)
    );
    ui.shot("review-02-student-adds").await;

    // A full name finds both Ada Lovelaces, told apart by their identifiers.
    ui.fill("input[name=q]", "ada lovelace").await;
    ui.click("form.filters button[type=submit]").await;
    let html = ui
        .until_text("<span id=\"shown-count\">2</span>", false, 20)
        .await;
    let text = visible_text(&html);
    assert_eq!(text.matches("Ada Lovelace").count(), 2, "{text}");
    assert!(text.contains("ada-1") && text.contains("ada-2"), "{text}");
    assert!(text.contains("Springfield SIS · ada-1"), "{text}");
    ui.shot("review-03-full-name").await;

    // Teachers only, then leave every one of them out at once.
    ui.go(&format!("/orgs/demo/runs/{}/actions", run.id)).await;
    ui.css("select[name=role]")
        .await
        .select_by_value("teacher")
        .await
        .unwrap();
    ui.click("form.filters button[type=submit]").await;
    ui.until_text(
        &format!("<span id=\"shown-count\">{}</span>", d.teachers),
        false,
        20,
    )
    .await;
    ui.click("button[value=exclude_all]").await;
    let html = ui
        .until_text(&format!("{} of them left out", d.teachers), false, 20)
        .await;
    assert!(
        html.contains("Your selection was saved"),
        "{}",
        visible_text(&html)
    );
    ui.shot("review-04-teachers-left-out").await;
    // At 768 px (a tablet) the filters and the select-all buttons wrap:
    // nothing hides behind a horizontal scroll.
    ui.c.set_window_size(768, 1000).await.unwrap();
    let overflow = ui
        .c
        .execute(
            "const b = document.querySelector('button[value=exclude_all]').getBoundingClientRect();\
             return [document.documentElement.scrollWidth - window.innerWidth, b.right - window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v.as_f64().unwrap() <= 0.0),
        "the page scrolls sideways at 768 px: {overflow}"
    );
    ui.shot_at("review-04b-teachers-768px", 768).await;

    // An enrollment names its person and its class.
    ui.go(&format!(
        "/orgs/demo/runs/{}/actions?kind=enrollment",
        run.id
    ))
    .await;
    ui.until_text("Given1 Family1 in Algebra 1", false, 20)
        .await;
    ui.shot("review-05-enrollments-by-name").await;

    // Approve from the run: it says what it leaves out, and applies the rest.
    ui.go(&format!("/orgs/demo/runs/{}", run.id)).await;
    ui.until_text(&format!("({} left out)", d.teachers), false, 20)
        .await;
    ui.click(&format!(
        "form[action='/orgs/demo/runs/{}/approve'] button",
        run.id
    ))
    .await;
    let html = ui.until_text("The run was approved", false, 60).await;
    assert!(
        visible_text(&html).contains("Committed"),
        "{}",
        visible_text(&html)
    );
    // Speed is the benchmark's to measure; what a test holds is that the
    // whole review is the handful of steps above, none per record.
    eprintln!(
        "3,000 student adds reviewed, the teachers left out and the run approved in {:?}",
        clock.elapsed()
    );
    ui.shot("review-06-approved").await;

    // What the admin left out is not in the records; the students are.
    ui.go("/orgs/demo/records?kind=teacher").await;
    ui.until_text("Teachers", false, 20).await;
    let html = ui.source().await;
    assert!(!html.contains("Teach1 Staff"), "{}", visible_text(&html));
    ui.go("/orgs/demo/records?kind=student").await;
    ui.fill("input[name=q]", "Ada Lovelace").await;
    ui.click("form.search button[type=submit]").await;
    let html = ui.until_text("Lovelace", false, 20).await;
    let text = visible_text(&html);
    assert_eq!(text.matches("Ada Lovelace").count(), 2, "{text}");
    assert!(
        text.contains("Springfield SIS · ada-1") && text.contains("Springfield SIS · ada-2"),
        "two people of one name are told apart: {text}"
    );
    ui.shot("review-07-records-full-name").await;

    // Errors an admin reads carry no backticks.
    ui.go("/orgs/demo/runs/no-such-run").await;
    let html = ui.until_text("Not found", false, 20).await;
    let text = visible_text(&html);
    assert!(text.contains("there is no run no-such-run"), "{text}");
    ui.go("/orgs/demo/records?kind=pets").await;
    let html = ui.until_text("Check what you entered", false, 20).await;
    let text = visible_text(&html);
    assert!(text.contains("pets is not"), "{text}");
    assert!(!text.contains('`'), "{text}");
    ui.shot("review-08-error-without-backticks").await;
    // The gallery says the app is active, and adds a second one only on
    // purpose, named apart.
    ui.go("/orgs/demo/gallery").await;
    let html = ui.until_text("Active</span> as", false, 20).await;
    assert!(html.contains("Springfield SIS"), "{}", visible_text(&html));
    let action = "action=\"/orgs/demo/gallery/fixture-connector/activate\"";
    assert!(
        !html.contains(&format!("<form method=\"post\" {action}")),
        "an active app offers Activate again: {}",
        visible_text(&html)
    );
    assert!(
        html.contains(&format!("<form class=\"another\" method=\"post\" {action}")),
        "no second one on purpose: {}",
        visible_text(&html)
    );
    ui.shot("review-09-gallery-active").await;

    // A run that deletes half the students is held; Discard takes the
    // banner away and leaves the run's read time as it was.
    let mut fewer = d.fixture.clone();
    for i in 1..=2_000 {
        fewer.remove("user", &format!("st{i}"));
    }
    fewer.write(&tmp.path().join("sis"));
    let held = engine
        .import(
            "demo",
            "sis",
            homeroom_host::pipeline::ImportOptions::default(),
        )
        .await
        .expect("import");
    assert_eq!(
        held.status,
        homeroom_host::store::RunStatus::Held,
        "{:?}",
        held.report
    );
    ui.go(&format!("/orgs/demo/runs/{}", held.id)).await;
    let html = ui.until_text("Held: the changes pass", false, 20).await;
    let finished = |html: &str| {
        let text = visible_text(html);
        text.split("Finished ")
            .nth(1)
            .map(|t| t.split(" Changes").next().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    let before = finished(&html);
    assert!(!before.is_empty(), "{}", visible_text(&html));
    ui.shot("review-10-held").await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    ui.click(&format!(
        "form[action='/orgs/demo/runs/{}/discard'] button",
        held.id
    ))
    .await;
    ui.c.accept_alert().await.expect("the discard asks first");
    let html = ui.until_text("Discarded", false, 20).await;
    assert!(
        !html.contains("Held: the changes pass"),
        "{}",
        visible_text(&html)
    );
    assert_eq!(
        finished(&html),
        before,
        "the discard changed the run's read time"
    );
    ui.shot("review-11-discarded").await;
    server.abort();
}

//! Runs as jobs (issue 15): schedules that run, leased runs over many
//! workers, and notifications.
//!
//! - Three `homeroom worker` processes over one PostgreSQL run 50 sources
//!   on staggered daily schedules (a test clock, 120 times real time); one
//!   is killed with SIGKILL while it reads and another while it commits,
//!   and every scheduled run commits exactly once, none left running.
//! - The same schedules on the embedded SQLite, run by the one worker
//!   inside `homeroom serve`.
//! - A held run sends its signed webhook and its email, seen by a webhook
//!   receiver and an SMTP sink on loopback.
//!
//! Every source reads the mock OneRoster REST provider (`oneroster_mock`)
//! through the built-in OneRoster connector.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use homeroom_host::app::secrets::SecretBox;
use homeroom_host::app::{App, Caller, Role};
use homeroom_host::config::{
    DistrictConfig, Every, Notifications, Organization, Schedule, SourceConfig,
};
use homeroom_host::store::{RunStatus, Store};
use homeroom_tests::oneroster_mock::{CLIENT_ID, CLIENT_SECRET, Dataset, MockOneRoster, Version};
use homeroom_tests::sinks::{SmtpSink, WebhookReceiver, signature_holds};
use homeroom_tests::support::{database_urls, engine, homeroom_binary, org_id};

const SECRET_VAR: &str = "HOMEROOM_TEST_JOBS_SIS_SECRET";
const HOOK_SECRET_VAR: &str = "HOMEROOM_TEST_JOBS_HOOK_SECRET";
const HOOK_SECRET: &str = "whsec-test-7f3a";
const WRONG_SECRET_VAR: &str = "HOMEROOM_TEST_JOBS_WRONG_SECRET";

fn rest_source(mock: &MockOneRoster, page_size: u32) -> SourceConfig {
    let mut s = SourceConfig::new("sis", "oneroster");
    s.settings
        .insert("service_url".into(), mock.service_url(Version::V1p2));
    s.settings.insert("version".into(), "1.2".into());
    s.settings
        .insert("auth".into(), "oauth2-client-credentials".into());
    s.settings.insert("client_id".into(), CLIENT_ID.into());
    s.settings.insert("token_url".into(), mock.token_url());
    s.settings.insert("page_size".into(), page_size.to_string());
    s.secrets.insert("client_secret".into(), SECRET_VAR.into());
    s.advanced.auto_commit = true;
    s.advanced.preview = false;
    s
}

fn set_secrets() {
    unsafe {
        std::env::set_var(SECRET_VAR, CLIENT_SECRET);
        std::env::set_var(HOOK_SECRET_VAR, HOOK_SECRET);
        std::env::set_var(WRONG_SECRET_VAR, "wrong-secret");
    }
}

/// The admin of one organization.
fn admin(org: &str) -> Caller {
    Caller {
        token_id: "test-admin".into(),
        name: "Test admin".into(),
        platform: false,
        roles: BTreeMap::from([(org.to_string(), Role::Admin)]),
    }
}

async fn wait_for<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_held_run_sends_its_webhook_and_its_email() {
    set_secrets();
    let mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let smtp = SmtpSink::start().await.unwrap();
    let hooks = WebhookReceiver::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let before_hooks = hooks.hooks().len();
        let before_mails = smtp.mails().len();
        let engine = engine(&url).await;
        let relay =
            homeroom_host::notify::Relay::new(&smtp.url(), "Homeroom <hub@district.test>").unwrap();
        let app = App::with_jobs(engine.clone(), SecretBox::random(), None, Some(relay));
        let org = org_id("notify");
        let mut source = rest_source(&mock, 100);
        // Every run of this source waits for an admin's review.
        source.advanced.preview = true;
        engine
            .apply_config(&DistrictConfig {
                organization: Organization {
                    id: org.clone(),
                    name: "Maplewood".into(),
                    time_zone: Some("America/Chicago".into()),
                    notifications: Some(Notifications {
                        webhook_url: Some(hooks.url()),
                        webhook_secret: Some(HOOK_SECRET_VAR.into()),
                        email: vec!["it@district.test".into()],
                        ..Default::default()
                    }),
                },
                sources: vec![source],
                vendors: Vec::new(),
            })
            .await
            .unwrap();
        let caller = admin(&org);
        let run_id = app.start_run(&caller, &org, "sis", None).await.unwrap();
        let (hook, mail) = wait_for("the webhook and the email", 30, async || {
            let h = hooks.hooks();
            let m = smtp.mails();
            (h.len() > before_hooks && m.len() > before_mails)
                .then(|| (h[before_hooks].clone(), m[before_mails].clone()))
        })
        .await;
        let run = app.run(&caller, &org, &run_id).await.unwrap();
        assert_eq!(run.summary.status, "awaiting_approval", "{url}");

        // The webhook: its event, its signature, the run it is about.
        assert_eq!(
            hook.headers
                .get("homeroom-event")
                .and_then(|v| v.to_str().ok()),
            Some("run.held"),
            "{url}"
        );
        let signature = hook
            .headers
            .get("homeroom-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            signature_holds(&signature, HOOK_SECRET, &hook.body),
            "{url}: the signature `{signature}` does not sign the body with the secret"
        );
        assert!(!signature_holds(&signature, "another secret", &hook.body));
        let body: serde_json::Value = serde_json::from_str(&hook.body).unwrap();
        assert_eq!(body["event"], "run.held", "{url}");
        assert_eq!(body["organization"], org.as_str());
        assert_eq!(body["run"]["id"], run_id.as_str());
        assert_eq!(body["run"]["status"], "awaiting_approval");
        assert!(!hook.body.contains(CLIENT_SECRET), "no secret in a webhook");

        // The email: to whom, what, and the way to the run.
        assert_eq!(mail.to, ["it@district.test"], "{url}");
        assert_eq!(mail.from, "hub@district.test");
        let subject = mail.header("Subject").unwrap_or_default();
        assert!(subject.contains("held for review"), "{url}: {subject}");
        assert!(
            mail.text().contains(&format!("/orgs/{org}/runs/{run_id}")),
            "{url}: {}",
            mail.text()
        );

        // Once each, and the log says both went.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(hooks.hooks().len(), before_hooks + 1, "{url}: one webhook");
        assert_eq!(smtp.mails().len(), before_mails + 1, "{url}: one email");
        let log = app.notification_log(&caller, &org, 10).await.unwrap();
        assert_eq!(log.len(), 1, "{url}");
        assert_eq!(
            (log[0].webhook_state.as_str(), log[0].email_state.as_str()),
            ("sent", "sent"),
            "{url}"
        );

        // A run that fails (the SIS refuses the secret) tells why.
        let mut wrong = rest_source(&mock, 100);
        wrong.id = "sis-wrong".into();
        wrong
            .secrets
            .insert("client_secret".into(), WRONG_SECRET_VAR.into());
        engine
            .apply_config(&DistrictConfig {
                organization: Organization {
                    id: org.clone(),
                    name: "Maplewood".into(),
                    ..Default::default()
                },
                sources: vec![wrong],
                vendors: Vec::new(),
            })
            .await
            .unwrap();
        let failed = app
            .start_run(&caller, &org, "sis-wrong", None)
            .await
            .unwrap();
        let hook = wait_for("the failed run's webhook", 30, async || {
            hooks.hooks().get(before_hooks + 1).cloned()
        })
        .await;
        let body: serde_json::Value = serde_json::from_str(&hook.body).unwrap();
        assert_eq!(body["event"], "run.failed", "{url}");
        assert_eq!(body["run"]["id"], failed.as_str());
        let why = body["run"]["failure"].as_str().unwrap_or_default();
        assert!(
            why.contains("client"),
            "{url}: the failure says what to check: {why}"
        );
        assert!(
            !hook.body.contains("wrong-secret"),
            "no secret in a webhook"
        );
        let mail = wait_for("the failed run's email", 30, async || {
            smtp.mails().get(before_mails + 1).cloned()
        })
        .await;
        assert!(
            mail.header("Subject")
                .unwrap_or_default()
                .contains("failed"),
            "{url}"
        );
    }
}

#[tokio::test]
async fn schedules_keep_the_district_s_time_zone() {
    use chrono::{TimeZone, Utc};
    let chicago: chrono_tz::Tz = "America/Chicago".parse().unwrap();
    let day = |at: &str| Schedule {
        every: Every::Day,
        at: Some(at.into()),
        weekday: None,
        expires: None,
        mode: None,
        paused: false,
        resume_on: None,
    };
    let utc = |y, m, d, h, min| Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap();
    // 02:30 in Chicago is 08:30 UTC in winter (CST, -6).
    assert_eq!(
        day("02:30").next_due(chicago, utc(2026, 12, 3, 9, 0)),
        Some(utc(2026, 12, 4, 8, 30))
    );
    // 2027-03-14 skips 02:00-03:00: the run comes an hour later, 03:30 CDT.
    assert_eq!(
        day("02:30").next_due(chicago, utc(2027, 3, 13, 9, 0)),
        Some(utc(2027, 3, 14, 8, 30))
    );
    // 2026-11-01 has 01:30 twice: it runs once, the first time (CDT, -5).
    let fall = day("01:30");
    assert_eq!(
        fall.next_due(chicago, utc(2026, 10, 31, 12, 0)),
        Some(utc(2026, 11, 1, 6, 30))
    );
    assert_eq!(
        fall.next_due(chicago, utc(2026, 11, 1, 6, 30)),
        Some(utc(2026, 11, 2, 7, 30)),
        "not again at the repeated 01:30 CST"
    );
    // Weekly on a weekday; hourly at a minute.
    let mut weekly = day("06:00");
    weekly.every = Every::Week;
    weekly.weekday = Some("monday".into());
    assert_eq!(
        weekly.next_due(chicago, utc(2026, 12, 3, 9, 0)),
        Some(utc(2026, 12, 7, 12, 0))
    );
    let mut hourly = day("00:15");
    hourly.every = Every::Hour;
    assert_eq!(
        hourly.next_due(chicago, utc(2026, 12, 3, 9, 20)),
        Some(utc(2026, 12, 3, 10, 15))
    );
    // Expired: nothing after the expiry date; paused: nothing, or from the
    // resume date on.
    let mut ending = day("02:30");
    ending.expires = Some("2026-12-04".into());
    assert_eq!(
        ending.next_due(chicago, utc(2026, 12, 3, 9, 0)),
        Some(utc(2026, 12, 4, 8, 30))
    );
    assert_eq!(ending.next_due(chicago, utc(2026, 12, 4, 9, 0)), None);
    let mut paused = day("02:30");
    paused.paused = true;
    assert_eq!(paused.next_due(chicago, utc(2026, 12, 3, 9, 0)), None);
    paused.resume_on = Some("2027-08-15".into());
    assert_eq!(
        paused.next_due(chicago, utc(2026, 12, 3, 9, 0)),
        Some(utc(2027, 8, 15, 7, 30))
    );
    // What an admin is told when a schedule cannot be kept.
    let mut bad = day("25:00");
    assert!(bad.check().unwrap_err().to_string().contains("HH:MM"));
    bad = day("02:30");
    bad.every = Every::Week;
    assert!(bad.check().unwrap_err().to_string().contains("weekday"));
    bad = day("02:30");
    bad.resume_on = Some("2027-08-15".into());
    assert!(bad.check().unwrap_err().to_string().contains("paused"));
}

/// Without a worker (`serve --workers 0`) a run waits in the queue, a
/// second start folds into it, and the jobs view says so; a worker that
/// starts takes it to its commit.
#[tokio::test]
async fn a_run_waits_for_a_worker_and_a_second_start_folds_into_it() {
    set_secrets();
    let mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let engine = engine(&url).await;
        let queue = homeroom_host::queue::Queue::open(
            &url,
            "test",
            homeroom_host::queue::Timing::default(),
        )
        .await
        .unwrap();
        let app = App::with_jobs(
            engine.clone(),
            SecretBox::random(),
            Some(queue.clone()),
            None,
        );
        let org = org_id("queue");
        engine
            .apply_config(&DistrictConfig {
                organization: Organization {
                    id: org.clone(),
                    name: "Maplewood".into(),
                    ..Default::default()
                },
                sources: vec![rest_source(&mock, 100)],
                vendors: Vec::new(),
            })
            .await
            .unwrap();
        let caller = admin(&org);
        let first = app.start_run(&caller, &org, "sis", None).await.unwrap();
        let second = app.start_run(&caller, &org, "sis", None).await.unwrap();
        assert_eq!(first, second, "{url}: one run of a source waits, not two");
        let jobs = app.jobs(&caller, &org).await.unwrap();
        assert_eq!(jobs.runs.len(), 1, "{url}");
        assert_eq!(jobs.runs[0].status, "queued");
        assert_eq!(
            jobs.runs[0].coalesced, 1,
            "{url}: the second start folded in"
        );
        assert!(jobs.runs[0].worker_id.is_none());
        let view = app.run(&caller, &org, &first).await.unwrap();
        assert_eq!(view.summary.status, "queued");

        let args = homeroom_host::worker::WorkerArgs::default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn({
            let app = app.clone();
            async move {
                homeroom_host::worker::run(app, queue, &args, "test-worker", async {
                    let _ = stopped.await;
                })
                .await
            }
        });
        let run = wait_for("the worker to commit the run", 60, async || {
            let v = app.run(&caller, &org, &first).await.ok()?;
            (v.summary.status == "committed").then_some(v)
        })
        .await;
        assert_eq!(
            run.summary.worker_id.as_deref(),
            Some(app.worker_id()),
            "{url}"
        );
        assert_eq!(run.summary.coalesced, 1);
        assert!(run.summary.changes > 0);
        let jobs = app.jobs(&caller, &org).await.unwrap();
        assert!(jobs.runs.is_empty(), "{url}: nothing waits");
        assert!(
            jobs.workers.iter().any(|w| w.id == "test-worker"),
            "{url}: the queue knows its worker: {:?}",
            jobs.workers
        );
        let _ = stop.send(());
        let _ = worker.await;
    }
}

/// A `homeroom` process whose stdout and stderr lines are kept.
struct Process {
    child: Child,
    out: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Process {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Process {
        let mut cmd = Command::new(homeroom_binary());
        cmd.args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("HOMEROOM_LOG", "warn,homeroom_host=info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("homeroom starts");
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let out = out.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    out.lock().unwrap().push(line);
                }
            });
        }
        Process { child, out }
    }

    fn lines(&self) -> Vec<String> {
        self.out.lock().unwrap().clone()
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The test clock the workers run schedules by: 00:45 UTC, 120 times real
/// time (a schedule minute every half second). The first due time, 01:01,
/// comes 8 s after a worker starts: a worker slow to start (a loaded CI
/// machine) still sees every due time to come, none already past.
const CLOCK: &str = "2026-12-03T00:45:00Z*120";

/// Source `i`'s schedule: daily at 01:i (minute i), its due time, and its
/// organization's id.
fn staggered(prefix: &str, n: usize) -> Vec<(String, Schedule, String)> {
    (0..n)
        .map(|i| {
            let minute = 1 + i % 58;
            let schedule = Schedule {
                every: Every::Day,
                at: Some(format!("01:{minute:02}")),
                weekday: None,
                expires: None,
                mode: None,
                paused: false,
                resume_on: None,
            };
            (
                format!("{prefix}-{i:02}"),
                schedule,
                format!("2026-12-03T01:{minute:02}:00.000Z"),
            )
        })
        .collect()
}

/// Apply `n` organizations of one scheduled source each; source `slow`
/// reads the slow mock.
async fn scheduled_district(
    url: &str,
    orgs: &[(String, Schedule, String)],
    fast: &MockOneRoster,
    slow: Option<(usize, &MockOneRoster)>,
) {
    let engine = engine(url).await;
    for (i, (org, schedule, _)) in orgs.iter().enumerate() {
        let mut source = match slow {
            Some((k, mock)) if k == i => rest_source(mock, 2),
            _ => rest_source(fast, 100),
        };
        source.schedule = Some(schedule.clone());
        engine
            .apply_config(&DistrictConfig {
                organization: Organization {
                    id: org.clone(),
                    name: format!("District {i}"),
                    ..Default::default()
                },
                sources: vec![source],
                vendors: Vec::new(),
            })
            .await
            .unwrap();
    }
}

/// Each organization's committed runs, the running and queued ones left,
/// and the abandoned runs, read from the hub's database.
async fn outcome(
    store: &Store,
    orgs: &[(String, Schedule, String)],
) -> (
    BTreeMap<String, Vec<homeroom_host::store::Run>>,
    usize,
    usize,
) {
    let mut committed = BTreeMap::new();
    let (mut live, mut abandoned) = (0, 0);
    for (org, _, _) in orgs {
        let runs = store.runs(org, None, 100).await.unwrap();
        live += runs
            .iter()
            .filter(|r| matches!(r.status, RunStatus::Running | RunStatus::Queued))
            .count();
        abandoned += runs
            .iter()
            .filter(|r| {
                r.status == RunStatus::Failed
                    && r.report
                        .failure
                        .as_deref()
                        .is_some_and(|f| f.contains("lease ran out"))
            })
            .count();
        committed.insert(
            org.clone(),
            runs.into_iter()
                .filter(|r| r.status == RunStatus::Committed)
                .collect(),
        );
    }
    (committed, live, abandoned)
}

/// Every scheduled run committed exactly once, for its due time, with the
/// whole district in.
async fn assert_each_committed_once(
    store: &Store,
    orgs: &[(String, Schedule, String)],
    committed: &BTreeMap<String, Vec<homeroom_host::store::Run>>,
    what: &str,
) {
    let users = Dataset::sample().len("users") as i64;
    for (org, _, due) in orgs {
        let runs = &committed[org];
        assert_eq!(runs.len(), 1, "{what}: {org} committed {} runs", runs.len());
        assert_eq!(runs[0].trigger, "schedule", "{what}: {org}");
        assert_eq!(
            runs[0].due_at.as_deref(),
            Some(due.as_str()),
            "{what}: {org}"
        );
        assert!(runs[0].worker_id.is_some(), "{what}: {org}: who ran it");
        let n = store
            .entities(org, "user", None, 0, 10_000)
            .await
            .unwrap()
            .len() as i64;
        assert_eq!(n, users, "{what}: {org}: every user in once");
    }
}

#[tokio::test]
async fn three_workers_over_postgres_commit_every_scheduled_run_once_through_two_kills() {
    let Ok(base) = std::env::var("DATABASE_URL") else {
        assert_ne!(
            std::env::var("HOMEROOM_REQUIRE_POSTGRES").as_deref(),
            Ok("1"),
            "HOMEROOM_REQUIRE_POSTGRES=1 but DATABASE_URL is not set"
        );
        eprintln!("note: skipped: set DATABASE_URL=postgres://... to run it");
        return;
    };
    set_secrets();
    // A database of its own: the workers take every queued run they see.
    let name = format!("homeroom_jobs_{}", std::process::id());
    let admin_pool = sqlx::PgPool::connect(&base).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&admin_pool)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin_pool)
        .await
        .unwrap();
    let url = match base.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("DATABASE_URL names no database: {base}"),
    };

    let fast = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let slow = MockOneRoster::start(Dataset::sample()).await.unwrap();
    slow.slow_pages(Duration::from_millis(700));
    let orgs = staggered("pg", 50);
    const SLOW: usize = 2;
    scheduled_district(&url, &orgs, &fast, Some((SLOW, &slow))).await;
    let store = Store::open(&url).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("homeroom.key");
    SecretBox::load_or_create(&key).unwrap();
    let drops = tmp.path().join("drops");

    // Hold commits back: a worker that reaches one waits inside it.
    let mut lock = sqlx::PgPool::connect(&url)
        .await
        .unwrap()
        .begin()
        .await
        .unwrap();
    sqlx::query("LOCK TABLE entities IN SHARE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();

    let worker = |id: &str| {
        Process::start(
            &[
                "--db",
                &url,
                "worker",
                "--worker-id",
                id,
                "--concurrency",
                "2",
                "--lease",
                "3",
                "--secret-key-file",
                key.to_str().unwrap(),
                "--drop-root",
                drops.to_str().unwrap(),
                "--test-clock",
                CLOCK,
            ],
            &[(SECRET_VAR, CLIENT_SECRET)],
        )
    };
    let mut workers: BTreeMap<String, Process> = ["w-a", "w-b", "w-c"]
        .into_iter()
        .map(|id| (id.to_string(), worker(id)))
        .collect();

    // The slow source's run, reading: its worker dies mid-read.
    let slow_org = &orgs[SLOW].0;
    let reader = wait_for("the slow source's run to read", 60, async || {
        let runs = store.runs(slow_org, None, 5).await.ok()?;
        let run = runs.iter().find(|r| r.status == RunStatus::Running)?;
        (slow.requests() > 2)
            .then(|| run.worker_id.clone())
            .flatten()
    })
    .await;
    workers.get_mut(&reader).unwrap().kill();

    // Another worker waiting inside a commit: it dies mid-commit.
    let committer: String = wait_for("a worker inside a commit", 60, async || {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT application_name FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%INSERT INTO entities%'",
        )
        .fetch_all(&mut *lock)
        .await
        .ok()?;
        rows.into_iter()
            .map(|(a,)| a)
            .find(|a| a != &reader && workers.contains_key(a))
    })
    .await;
    workers.get_mut(&committer).unwrap().kill();
    slow.slow_pages(Duration::ZERO);
    lock.commit().await.unwrap();

    // The last worker carries everything to its end.
    let (committed, live, abandoned) = wait_for("every scheduled run to commit", 120, async || {
        let (committed, live, abandoned) = outcome(&store, &orgs).await;
        (live == 0 && committed.values().all(|c| !c.is_empty()))
            .then_some((committed, live, abandoned))
    })
    .await;
    let survivor = workers
        .keys()
        .find(|k| **k != reader && **k != committer)
        .unwrap()
        .clone();
    assert_eq!(live, 0);
    assert_each_committed_once(&store, &orgs, &committed, "postgres").await;
    assert!(
        abandoned >= 2,
        "the read and the commit the kills cut off failed as abandoned ({abandoned})"
    );
    // The slow source: its first run abandoned, read again to a commit.
    let runs = store.runs(slow_org, None, 10).await.unwrap();
    let first = runs
        .iter()
        .find(|r| r.status == RunStatus::Failed)
        .expect("the cut-off read");
    assert_eq!(first.worker_id.as_deref(), Some(reader.as_str()));
    let again = &committed[slow_org][0];
    assert_eq!(again.retry_of.as_deref(), Some(first.id.as_str()));
    assert_eq!(again.attempt, 2);
    assert_eq!(again.worker_id.as_deref(), Some(survivor.as_str()));
    // The survivor logs under its id.
    let lines = workers[&survivor].lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("w-") && l.contains("lease ran out")),
        "the survivor logged the takeover: {lines:?}"
    );
    drop(workers);
    drop(store);
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin_pool)
        .await;
}

#[tokio::test]
async fn the_same_schedules_run_on_sqlite_inside_homeroom_serve() {
    set_secrets();
    let fast = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("homeroom.db");
    let url = format!("sqlite://{}", db.display());
    let orgs = staggered("lite", 50);
    scheduled_district(&url, &orgs, &fast, None).await;
    let serve = Process::start(
        &[
            "--db",
            &url,
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--test-clock",
            CLOCK,
        ],
        &[(SECRET_VAR, CLIENT_SECRET)],
    );
    let store = Store::open(&url).await.unwrap();
    let (committed, _, abandoned) = wait_for("every scheduled run to commit", 150, async || {
        let (committed, live, abandoned) = outcome(&store, &orgs).await;
        (live == 0 && committed.values().all(|c| !c.is_empty()))
            .then_some((committed, live, abandoned))
    })
    .await;
    assert_each_committed_once(&store, &orgs, &committed, "sqlite").await;
    assert_eq!(abandoned, 0, "nothing was cut off");
    let lines = serve.lines();
    assert!(
        lines.iter().any(|l| l.contains("1 worker(s) run here")),
        "{lines:?}"
    );
    let ran_by: std::collections::BTreeSet<_> = committed
        .values()
        .filter_map(|c| c[0].worker_id.clone())
        .collect();
    assert_eq!(ran_by.len(), 1, "one worker, inside serve: {ran_by:?}");
    assert!(ran_by.iter().all(|w| w.starts_with("serve-")), "{ran_by:?}");
}

/// A schedule about to expire is told once: its webhook at once, its email
/// in the next daily digest (the admin chose a digest).
#[tokio::test]
async fn an_expiring_schedule_is_told_once_and_mailed_in_the_daily_digest() {
    use chrono::{TimeZone, Utc};
    set_secrets();
    let mock = MockOneRoster::start(Dataset::sample()).await.unwrap();
    let smtp = SmtpSink::start().await.unwrap();
    let hooks = WebhookReceiver::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let (h0, m0) = (hooks.hooks().len(), smtp.mails().len());
        let engine = engine(&url).await;
        let relay = homeroom_host::notify::Relay::new(&smtp.url(), "hub@district.test").unwrap();
        let app = App::with_jobs(engine.clone(), SecretBox::random(), None, Some(relay));
        let org = org_id("expiry");
        let mut source = rest_source(&mock, 100);
        source.schedule = Some(Schedule {
            every: Every::Day,
            at: Some("02:00".into()),
            weekday: None,
            expires: Some("2030-06-13".into()),
            mode: None,
            paused: false,
            resume_on: None,
        });
        engine
            .apply_config(&DistrictConfig {
                organization: Organization {
                    id: org.clone(),
                    name: "Maplewood".into(),
                    time_zone: Some("Europe/London".into()),
                    notifications: Some(Notifications {
                        webhook_url: Some(hooks.url()),
                        email: vec!["it@district.test".into()],
                        digest: true,
                        digest_at: Some("07:00".into()),
                        ..Default::default()
                    }),
                },
                sources: vec![source],
                vendors: Vec::new(),
            })
            .await
            .unwrap();
        // Three days before it expires, in the afternoon: told at once by
        // webhook, kept for tomorrow's digest.
        let now = Utc.with_ymd_and_hms(2030, 6, 10, 15, 0, 0).unwrap();
        for _ in 0..3 {
            app.tick(now).await.unwrap();
        }
        let hook = wait_for("the expiry's webhook", 20, async || {
            hooks.hooks().get(h0).cloned()
        })
        .await;
        let body: serde_json::Value = serde_json::from_str(&hook.body).unwrap();
        assert_eq!(body["event"], "schedule.expiring", "{url}");
        assert_eq!(body["expires"], "2030-06-13");
        assert_eq!(body["days_left"], 3);
        assert_eq!(smtp.mails().len(), m0, "{url}: no email before the digest");

        // The next morning's digest carries it; later ticks tell it again nowhere.
        let morning = Utc.with_ymd_and_hms(2030, 6, 11, 6, 30, 0).unwrap(); // 07:30 BST
        for _ in 0..3 {
            app.tick(morning).await.unwrap();
        }
        let digest = wait_for("the digest", 20, async || smtp.mails().get(m0).cloned()).await;
        let subject = digest.header("Subject").unwrap_or_default();
        assert!(subject.contains("1 notification(s)"), "{url}: {subject}");
        assert!(
            digest.text().contains("expires on 2030-06-13"),
            "{url}: {}",
            digest.text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let expiring = hooks
            .hooks()
            .iter()
            .skip(h0)
            .filter(|h| h.body.contains("schedule.expiring"))
            .count();
        assert_eq!(expiring, 1, "{url}: told once");
        assert_eq!(smtp.mails().len(), m0 + 1, "{url}: one digest");
    }
}

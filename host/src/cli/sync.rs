//! The engine commands: configuration as code, import, runs, approval,
//! duplicates. Parsing and printing only; the work is the application
//! layer's (`app::local`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::app::local::{CommitOutcome, EntityRow, Local, Resolution, Run, RunStatus};
use crate::config::DistrictConfig;
use crate::pipeline::export::ExportOptions;
use crate::pipeline::{ActionRef, ImportOptions, Mode};

#[derive(Subcommand)]
pub enum SyncCommand {
    /// Apply a district's configuration file (organization, sources and vendors).
    Apply { file: PathBuf },
    /// Print the organization's configuration as a file `apply` takes back.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The configured sources: id, plugin, state, last run.
    Sources,
    /// Import from a source and print the run report.
    Import {
        source: String,
        /// Everything the source has (the default).
        #[arg(long, conflicts_with = "quick")]
        full: bool,
        /// Only what changed since the last committed run.
        #[arg(long)]
        quick: bool,
        /// Commit without approval unless a hold threshold is passed.
        #[arg(long)]
        auto_commit: bool,
    },
    /// Export to a destination (an Export or Sync integration) what the
    /// hub holds and it does not have yet. Imports that commit export to
    /// every destination by themselves.
    Export { destination: String },
    /// Runs waiting for a worker and running, with the worker of each.
    Jobs,
    /// A source's schedule: shown, or changed by the options given.
    Schedule {
        source: String,
        /// Run every hour, day or week.
        #[arg(long, value_parser = ["hour", "day", "week"])]
        every: Option<String>,
        /// HH:MM in the organization's time zone (the minute, hourly).
        #[arg(long)]
        at: Option<String>,
        /// The day of a weekly schedule (monday ... sunday).
        #[arg(long)]
        weekday: Option<String>,
        /// YYYY-MM-DD after which it stops.
        #[arg(long)]
        expires: Option<String>,
        /// full or quick.
        #[arg(long, value_parser = ["full", "quick"])]
        mode: Option<String>,
        /// Pause it (with --resume-on, until that date).
        #[arg(long)]
        pause: bool,
        #[arg(long, value_name = "YYYY-MM-DD")]
        resume_on: Option<String>,
        /// End a pause.
        #[arg(long, conflicts_with = "pause")]
        resume: bool,
        /// Remove the schedule: the source runs only by hand.
        #[arg(long, conflicts_with_all = ["every", "pause", "resume"])]
        off: bool,
    },
    /// Notifications of held and failed runs, refused exports and expiring
    /// schedules, newest first, with what was sent.
    Notifications,
    /// Runs, newest first.
    Runs {
        #[arg(long)]
        source: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// One run's report; with --actions, its change set.
    Run {
        id: String,
        #[arg(long)]
        actions: bool,
    },
    /// Approve a held run, leaving out actions by number or KIND:ACTION:RECORD_ID.
    Approve {
        id: String,
        #[arg(long = "exclude", value_name = "ACTION")]
        exclude: Vec<String>,
    },
    /// Discard a held run: nothing of it is applied.
    Discard { id: String },
    /// The duplicates queue.
    Duplicates,
    /// Resolve a duplicate pair.
    Resolve {
        id: String,
        /// delete (archive the secondary), ignore (keep both), keep (the secondary as new).
        #[arg(long)]
        action: String,
        /// Make the listed secondary the primary.
        #[arg(long)]
        swap: bool,
        /// Copy these fields from the secondary to the primary.
        #[arg(long = "copy", value_name = "FIELD")]
        copy: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    Export,
}

pub async fn run(
    cmd: SyncCommand,
    engine: Local,
    org: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    if let SyncCommand::Apply { file } = &cmd {
        return apply(&engine, file).await;
    }
    let named = match &cmd {
        SyncCommand::Import { source, .. } | SyncCommand::Schedule { source, .. } => {
            Some(source.as_str())
        }
        SyncCommand::Export { destination } => Some(destination.as_str()),
        _ => None,
    };
    let org = resolve_org(&engine, org, named).await?;
    let engine = &engine;
    match cmd {
        SyncCommand::Apply { .. } => Ok(()),
        SyncCommand::Config(ConfigCommand::Export) => {
            print!("{}", engine.export(&org).await?.to_toml());
            Ok(())
        }
        SyncCommand::Sources => sources(engine, &org, json).await,
        SyncCommand::Import {
            source,
            full: _,
            quick,
            auto_commit,
        } => import(engine, &org, &source, quick, auto_commit, json).await,
        SyncCommand::Export { destination } => export(engine, &org, &destination, json).await,
        SyncCommand::Runs { source, limit } => runs(engine, &org, source, limit, json).await,
        SyncCommand::Jobs => jobs(engine, &org, json).await,
        SyncCommand::Notifications => notifications(engine, &org, json).await,
        SyncCommand::Schedule {
            source,
            every,
            at,
            weekday,
            expires,
            mode,
            pause,
            resume_on,
            resume,
            off,
        } => {
            let (schedule, next) = engine
                .set_schedule(&org, &source, |s| {
                    if off {
                        return None;
                    }
                    let every = match every.as_deref() {
                        Some("hour") => Some(crate::config::Every::Hour),
                        Some("day") => Some(crate::config::Every::Day),
                        Some("week") => Some(crate::config::Every::Week),
                        _ => None,
                    };
                    let mut s = match (s, every) {
                        (Some(mut s), Some(e)) => {
                            s.every = e;
                            s
                        }
                        (Some(s), None) => s,
                        (None, Some(e)) => crate::config::Schedule {
                            every: e,
                            at: None,
                            weekday: None,
                            expires: None,
                            mode: None,
                            paused: false,
                            resume_on: None,
                        },
                        (None, None) => return None,
                    };
                    if at.is_some() {
                        s.at = at;
                    }
                    if weekday.is_some() {
                        s.weekday = weekday;
                    }
                    if expires.is_some() {
                        s.expires = expires;
                    }
                    if mode.is_some() {
                        s.mode = mode;
                    }
                    if pause {
                        s.paused = true;
                        s.resume_on = resume_on;
                    }
                    if resume {
                        s.paused = false;
                        s.resume_on = None;
                    }
                    Some(s)
                })
                .await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"schedule": schedule, "next_run": next})
                    )?
                );
            } else {
                match &schedule {
                    None => println!("`{source}` runs only by hand"),
                    Some(s) => println!(
                        "`{source}` runs every {}{}{}{}{}",
                        format!("{:?}", s.every).to_lowercase(),
                        s.at.as_ref()
                            .map(|a| format!(" at {a}"))
                            .unwrap_or_default(),
                        s.weekday
                            .as_ref()
                            .map(|d| format!(" on {d}"))
                            .unwrap_or_default(),
                        s.expires
                            .as_ref()
                            .map(|d| format!(", until {d}"))
                            .unwrap_or_default(),
                        if s.paused {
                            match &s.resume_on {
                                Some(d) => format!(" (paused until {d})"),
                                None => " (paused)".into(),
                            }
                        } else {
                            String::new()
                        }
                    ),
                }
                match next {
                    Some(n) => println!("next run: {n}"),
                    None if schedule.is_some() => println!("next run: none (paused or expired)"),
                    None => {}
                }
            }
            Ok(())
        }
        SyncCommand::Run { id, actions } => run_report(engine, &id, actions, json).await,
        SyncCommand::Approve { id, exclude } => approve(engine, &id, &exclude).await,
        SyncCommand::Discard { id } => {
            let run = engine.discard(&id).await?;
            println!("run {} discarded: nothing of it was applied", run.id);
            Ok(())
        }
        SyncCommand::Duplicates => duplicates(engine, &org, json).await,
        SyncCommand::Resolve {
            id,
            action,
            swap,
            copy,
        } => resolve(engine, &org, &id, &action, swap, &copy).await,
    }
}

async fn jobs(engine: &Local, org: &str, json: bool) -> anyhow::Result<()> {
    let runs = engine.jobs(org).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(());
    }
    if runs.is_empty() {
        println!("nothing runs or waits");
        return Ok(());
    }
    println!(
        "{:<38} {:<16} {:<8} {:<9} {:<30} {}",
        "RUN", "SOURCE", "STATUS", "TRIGGER", "WORKER", "SINCE"
    );
    for r in runs {
        println!(
            "{:<38} {:<16} {:<8} {:<9} {:<30} {}",
            r.run_id,
            r.source_id,
            r.status,
            r.trigger,
            r.worker_id.as_deref().unwrap_or("(waiting)"),
            r.since
        );
    }
    Ok(())
}

async fn notifications(engine: &Local, org: &str, json: bool) -> anyhow::Result<()> {
    let list = engine.notifications(org).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    for n in list {
        println!(
            "{}  {:<18} webhook {:<8} email {:<8} {}{}",
            n.created_at,
            n.event,
            n.webhook_state,
            n.email_state,
            n.subject,
            n.last_error
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

async fn apply(engine: &Local, file: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let config = DistrictConfig::parse(&text)?;
    let cleared = engine.apply(&config).await?;
    println!(
        "applied {}: organization `{}`, {} sources, {} vendors",
        file.display(),
        config.organization.id,
        config.sources.len(),
        config.vendors.len()
    );
    for sentence in cleared {
        if sentence.starts_with("vendor ") {
            println!("  {sentence}");
        } else {
            println!("  {sentence}: enter it again in the source's Delivery Config");
        }
    }
    Ok(())
}

async fn sources(engine: &Local, org: &str, json: bool) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for (s, last) in engine.sources(org).await? {
        rows.push(serde_json::json!({
            "id": s.config.id, "plugin": s.config.plugin, "enabled": s.enabled,
            "last_run": last.as_ref().map(|r| &r.id), "last_status": last.as_ref().map(|r| r.status.as_str()),
            "last_started": last.as_ref().map(|r| &r.started_at),
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "{:<16} {:<20} {:<9} {}",
            "SOURCE", "PLUGIN", "STATE", "LAST RUN"
        );
        for r in rows {
            println!(
                "{:<16} {:<20} {:<9} {} {}",
                r["id"].as_str().unwrap_or(""),
                r["plugin"].as_str().unwrap_or(""),
                if r["enabled"] == true {
                    "enabled"
                } else {
                    "disabled"
                },
                r["last_status"].as_str().unwrap_or("never"),
                r["last_started"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}

async fn import(
    engine: &Local,
    org: &str,
    source: &str,
    quick: bool,
    auto_commit: bool,
    json: bool,
) -> anyhow::Result<()> {
    let bar = super::progress_bar(json);
    let sink_bar = bar.clone();
    let opts = ImportOptions {
        mode: if quick { Mode::Quick } else { Mode::Full },
        trigger: "manual".into(),
        by: std::env::var("USER").unwrap_or_else(|_| "cli".into()),
        auto_commit: auto_commit.then_some(true),
        // The connector's count of what it reads now, with its source's
        // total, stands over the engine's count of all records read.
        progress: Some(Arc::new(move |done, total| match total {
            Some(t) => {
                sink_bar.set_length(t);
                sink_bar.set_position(done);
            }
            None if sink_bar.length().is_none() => sink_bar.set_position(done),
            None => {}
        })),
        ..Default::default()
    };
    let run = engine.import(org, source, opts).await?;
    bar.finish_and_clear();
    print_run(&run, json)?;
    if run.status == RunStatus::Failed {
        bail!("run {} failed", run.id);
    }
    if run.status == RunStatus::Committed {
        export_after_commit(engine, org, json).await?;
    }
    Ok(())
}

/// What a commit starts: an export to each of the organization's
/// destinations, each printed; an error names the ones that failed.
async fn export_after_commit(engine: &Local, org: &str, json: bool) -> anyhow::Result<()> {
    let by = std::env::var("USER").unwrap_or_else(|_| "cli".into());
    let mut failed = Vec::new();
    for export in engine.export_after_commit(org, &by).await? {
        match export {
            Ok(run) => {
                if run.status == RunStatus::Failed {
                    failed.push(run.id.clone());
                }
                print_run(&run, json)?;
            }
            Err(why) => {
                eprintln!("export not started: {why}");
                failed.push(why);
            }
        }
    }
    if !failed.is_empty() {
        bail!(
            "the import committed, but {} export(s) failed: {}",
            failed.len(),
            failed.join("; ")
        );
    }
    Ok(())
}

async fn export(engine: &Local, org: &str, destination: &str, json: bool) -> anyhow::Result<()> {
    let bar = super::progress_bar(json);
    let sink_bar = bar.clone();
    let opts = ExportOptions {
        trigger: "manual".into(),
        by: std::env::var("USER").unwrap_or_else(|_| "cli".into()),
        progress: Some(Arc::new(move |done, _| sink_bar.set_position(done))),
        ..Default::default()
    };
    let run = engine.export_to(org, destination, opts).await?;
    bar.finish_and_clear();
    print_run(&run, json)?;
    if run.status == RunStatus::Failed {
        bail!("export {} failed", run.id);
    }
    Ok(())
}

async fn runs(
    engine: &Local,
    org: &str,
    source: Option<String>,
    limit: i64,
    json: bool,
) -> anyhow::Result<()> {
    let runs = engine.runs(org, source.as_deref(), limit).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
    } else {
        println!(
            "{:<36} {:<12} {:<6} {:<18} {:>6} {}",
            "RUN", "SOURCE", "MODE", "STATUS", "CHANGES", "STARTED"
        );
        for r in runs {
            println!(
                "{:<36} {:<12} {:<6} {:<18} {:>6} {}",
                r.id,
                r.source_id,
                r.mode,
                r.status.as_str(),
                r.report.changes(),
                r.started_at
            );
        }
    }
    Ok(())
}

async fn run_report(engine: &Local, id: &str, actions: bool, json: bool) -> anyhow::Result<()> {
    let run = engine.run(id).await?;
    print_run(&run, json)?;
    if actions {
        let changes = engine.changes(id).await?;
        if json {
            println!("{}", serde_json::to_string_pretty(&changes)?);
        } else {
            for c in changes {
                let mark = if c.excluded { " (excluded)" } else { "" };
                println!(
                    "{:>6} {:<12} {:<7} {}{}",
                    c.seq, c.kind, c.action, c.source_record_id, mark
                );
            }
        }
    }
    Ok(())
}

async fn approve(engine: &Local, id: &str, exclude: &[String]) -> anyhow::Result<()> {
    let exclude: Vec<ActionRef> = exclude
        .iter()
        .map(|e| e.parse())
        .collect::<Result<_, String>>()
        .map_err(anyhow::Error::msg)?;
    let (run, outcome) = engine.approve(id, &exclude).await?;
    if run.mode == "export" {
        // An approved export has sent what it held back; nothing commits.
        print_run(&run, false)?;
        return Ok(());
    }
    match outcome {
        CommitOutcome::Applied { applied, excluded } => println!(
            "run {} committed: {applied} changes applied, {excluded} left out",
            run.id
        ),
        CommitOutcome::AlreadyCommitted => {
            println!(
                "run {} was already committed; nothing was applied again",
                run.id
            );
            return Ok(());
        }
    }
    export_after_commit(engine, &run.org_id, false).await
}

async fn duplicates(engine: &Local, org: &str, json: bool) -> anyhow::Result<()> {
    let dups = engine.duplicates(org).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&dups)?);
    } else if dups.is_empty() {
        println!("no duplicates waiting");
    } else {
        for d in dups {
            let name = |e: &EntityRow| {
                ["givenName", "familyName", "email"]
                    .iter()
                    .filter_map(|a| {
                        e.data
                            .get(*a)
                            .and_then(|c| c.get("v"))
                            .and_then(|v| v.as_str())
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            println!(
                "{}  {} by {}\n    primary   {}  {}\n    secondary {}  {}",
                d.id,
                d.kind,
                d.domain,
                d.primary.id,
                name(&d.primary),
                d.secondary.id,
                name(&d.secondary)
            );
        }
    }
    Ok(())
}

async fn resolve(
    engine: &Local,
    org: &str,
    id: &str,
    action: &str,
    swap: bool,
    copy: &[String],
) -> anyhow::Result<()> {
    let resolution = match action {
        "delete" => Resolution::Delete,
        "ignore" => Resolution::Ignore,
        "keep" | "keep-as-new" => Resolution::KeepAsNew,
        other => bail!("`{other}` is not a resolution: use delete, ignore or keep"),
    };
    let d = engine.resolve(org, id, swap, copy, resolution).await?;
    println!("duplicate {} resolved: {}", d.id, d.status);
    Ok(())
}

/// The organization to work on: the one named, the only one there is, or
/// the only one with the source the command names (`import sis` after
/// `homeroom serve` made the demo organization beside the district).
async fn resolve_org(
    engine: &Local,
    org: Option<String>,
    source: Option<&str>,
) -> anyhow::Result<String> {
    if let Some(org) = org {
        return Ok(org);
    }
    let orgs = engine.organizations().await?;
    if let (Some(source), [_, _, ..]) = (source, orgs.as_slice())
        && let [only] = engine.organizations_with_source(source).await?.as_slice()
    {
        return Ok(only.clone());
    }
    match orgs.as_slice() {
        [(id, _)] => Ok(id.clone()),
        [] => bail!("no organization yet: `homeroom apply district.toml` creates one"),
        many => bail!(
            "there are several organizations ({}): choose one with --org",
            many.iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub fn print_run(run: &Run, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(run)?);
        return Ok(());
    }
    println!(
        "run {}  {}  {} ({}, started by {})",
        run.id,
        run.status.as_str(),
        run.source_id,
        run.mode,
        run.triggered_by
    );
    if let Some(h) = &run.hold_reason {
        println!(
            "held: {h}: approve with `homeroom approve {}` or discard it",
            run.id
        );
    }
    if let Some(f) = &run.report.failure {
        println!("failed: {f}");
    }
    if let Some(same) = &run.report.same_input_as {
        println!(
            "the same files as committed run {same}, byte for byte, with the same settings and rules: nothing was read again, every record is unchanged"
        );
    }
    if run.mode == "export" {
        println!(
            "{:<18} {:>8} {:>8} {:>8} {:>10} {:>9} {:>7}",
            "KIND", "ADDED", "UPDATED", "DELETED", "UNCHANGED", "REJECTED", "RETRY"
        );
        for (kind, c) in &run.report.counts {
            println!(
                "{:<18} {:>8} {:>8} {:>8} {:>10} {:>9} {:>7}",
                kind, c.add, c.update, c.delete, c.unchanged, c.errors, c.retry
            );
        }
    } else {
        println!(
            "{:<18} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>7}",
            "KIND", "READ", "SKIPPED", "ADD", "UPDATE", "DELETE", "UNCHANGED", "ERRORS"
        );
    }
    for (kind, c) in run.report.counts.iter().filter(|_| run.mode != "export") {
        println!(
            "{:<18} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>7}",
            kind, c.read, c.skipped, c.add, c.update, c.delete, c.unchanged, c.errors
        );
    }
    let r = &run.report;
    let more = format!("(`homeroom run {} --json` has the first 1,000)", run.id);
    print_issues("warning", &r.warnings, r.warnings_total, &more);
    print_issues("skipped", &r.skips, r.skips_total, &more);
    print_issues("error", &r.errors, r.errors_total, &more);
    if run.report.duplicates > 0 {
        println!(
            "{} possible duplicates queued: `homeroom duplicates`",
            run.report.duplicates
        );
    }
    Ok(())
}

/// The first 20 issues of one list of a run report, and how many in all.
fn print_issues(label: &str, issues: &[crate::model::report::Issue], total: u64, more: &str) {
    for i in issues.iter().take(20) {
        println!("{label}: {} {}: {}", i.kind, i.source_id, i.message);
    }
    if total > 20 {
        println!("... {total} {label} in all {more}");
    }
}

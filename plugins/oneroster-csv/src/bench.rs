//! A native benchmark of a whole read, and a digest of everything it returns
//! (entities, cursors, log lines) to check that a change keeps the output.
//!
//! Run with
//! `HOMEROOM_CSV_BENCH=/tmp/bench/M cargo test -p homeroom-plugin-oneroster-csv --release -- --ignored --nocapture bench_read`;
//! `HOMEROOM_CSV_KINDS=user` reads one kind, `HOMEROOM_CSV_DIGEST=1` digests the output (which takes about as long as
//! the read) and `HOMEROOM_CSV_DUMP=file` also writes it there.

use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hasher};
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use homeroom_sdk::EntityKind;

use crate::session::{Line, Log, Session, Settings};

/// Microseconds of CPU this process has used (user and system).
fn cpu_micros() -> u64 {
    // /proc/self/stat: utime and stime are fields 14 and 15, in clock ticks.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Fields after the `)` start at field 3.
    (tick(14 - 3) + tick(15 - 3)) * 10_000
}

#[test]
#[ignore]
fn bench_read() {
    let Ok(root) = std::env::var("HOMEROOM_CSV_BENCH") else {
        eprintln!("set HOMEROOM_CSV_BENCH to a package folder");
        return;
    };
    let mut dump = std::env::var("HOMEROOM_CSV_DUMP")
        .ok()
        .map(|p| std::io::BufWriter::new(std::fs::File::create(p).unwrap()));
    let mut session = Session::new(
        PathBuf::from(root),
        Settings {
            path: None,
            page_size: 5_000,
        },
    );
    // The digest costs about as much as the read: time without it.
    let check = dump.is_some() || std::env::var_os("HOMEROOM_CSV_DIGEST").is_some();
    let mut total = 0u64;
    let mut all_freed = 0f64;
    let all_wall = Instant::now();
    let all_cpu = cpu_micros();
    let mut report = String::new();
    let mut digest_all = DefaultHasher::new();
    // `HOMEROOM_CSV_KINDS=user,enrollment` reads only those kinds.
    let only = std::env::var("HOMEROOM_CSV_KINDS").ok();
    for kind in EntityKind::ALL {
        if let Some(only) = &only
            && !only.split(',').any(|k| k == kind.name())
        {
            continue;
        }
        let wall = Instant::now();
        let cpu = cpu_micros();
        let mut cursor: Option<String> = None;
        let mut n = 0u64;
        let mut freed = 0f64;
        let mut digest = DefaultHasher::new();
        let mut log = Log::default();
        loop {
            let page = match session.read(kind, None, cursor.as_deref(), &mut log) {
                Ok(page) => page,
                Err(e) => {
                    let text = format!("error {e:?}");
                    digest.write(text.as_bytes());
                    if let Some(out) = dump.as_mut() {
                        writeln!(out, "{text}").unwrap();
                    }
                    break;
                }
            };
            n += page.entities.len() as u64;
            for e in page.entities.iter().filter(|_| check) {
                let text = format!("{e:?}");
                digest.write(text.as_bytes());
                if let Some(out) = dump.as_mut() {
                    writeln!(out, "{text}").unwrap();
                }
            }
            digest.write(format!("{:?}{:?}", page.next, page.total).as_bytes());
            let next = page.next.clone();
            // Freeing a page is the caller's (in the sandbox, the bindings'
            // after the host has copied it): timed apart.
            let freeing = Instant::now();
            drop(page);
            freed += freeing.elapsed().as_secs_f64();
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        for line in &log.lines {
            let text = match line {
                Line::Info(t) => format!("info {t}"),
                Line::Warn(t) => format!("warn {t}"),
            };
            digest.write(text.as_bytes());
            if let Some(out) = dump.as_mut() {
                writeln!(out, "{text}").unwrap();
            }
        }
        let secs = wall.elapsed().as_secs_f64();
        let cpu = cpu_micros() - cpu;
        let d = digest.finish();
        all_freed += freed;
        digest_all.write_u64(d);
        total += n;
        let per = if n > 0 { secs * 1e6 / n as f64 } else { 0.0 };
        let _ = writeln!(
            report,
            "{:<17} {:>8} records {:>8.1} ms {:>6.2} us/rec  cpu {:>6} ms  free {:>6.1} ms  digest {d:016x}",
            kind.name(),
            n,
            secs * 1e3,
            per,
            cpu / 1000,
            freed * 1e3
        );
    }
    let secs = all_wall.elapsed().as_secs_f64();
    let cpu = cpu_micros() - all_cpu;
    let _ = writeln!(
        report,
        "{:<17} {:>8} records {:>8.1} ms {:>6.2} us/rec  cpu {:>6} ms  free {:>6.1} ms  digest {:016x}",
        "all",
        total,
        secs * 1e3,
        secs * 1e6 / total.max(1) as f64,
        cpu / 1000,
        all_freed * 1e3,
        digest_all.finish()
    );
    eprintln!("{report}");
}

//! The OneRoster CSV connector's reading of a package, natively: the same
//! `Session` the component drives, over a drop folder on disk.
//!
//! The input is three bytes of choices, then the payload:
//!
//! - byte 0, low nibble: which file of the package the payload is
//!   (`schema::FILES`, modulo their number: orgs.csv, academicSessions.csv,
//!   courses.csv, classes.csv, users.csv, roles.csv, userProfiles.csv,
//!   enrollments.csv, demographics.csv, categories.csv, lineItems.csv,
//!   results.csv); bit 4: OneRoster 1.2 (else 1.1); bit 5: the manifest
//!   marks that file `delta` (else `bulk`); bit 6: the payload is a whole
//!   `.zip` package instead; bit 7: the payload is `manifest.csv` instead.
//! - byte 1, low nibble: rows per page, 1 + nibble, so reads page and
//!   resume; bit 4: read only the payload's kind (quicker: no connection
//!   test, no schools, no other kind).
//! - byte 2: when not 0, also read the chosen file from a cursor at that
//!   byte offset in a new session (a cursor into the middle of a row).
//!
//! The rest of the package is a small valid one (`base/`). Every call the
//! host makes is made: test the connection, list schools, read every kind
//! page by page to the end, and, for the payload's kind, the first page's
//! cursor again in a new session (a resumed read). The payload is also
//! parsed as a manifest.
//!
//! Besides "never panics", what the host relies on is held: a page's `next`
//! cursor is never the cursor it was read with (the read would never end),
//! and a read resumed from a cursor in a new session gives the page the
//! running session gives. Every page must also pass (unless
//! `HOMEROOM_FUZZ_HOST_CHECKS=0`) the host's boundary checks (`runtime::validate::page`):
//! a page the host refuses fails the read of the whole kind, where a bad
//! row is meant to be skipped and named.

#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use homeroom_fuzz_host_validate::bindings::types as host;
use homeroom_fuzz_host_validate::validate;
use homeroom_fuzz_oneroster_csv::manifest;
use homeroom_fuzz_oneroster_csv::schema::FILES;
use homeroom_fuzz_oneroster_csv::session::{Log, Session, Settings};
use homeroom_sdk::{EntityKind, Page, Status, Value};
use libfuzzer_sys::fuzz_target;

macro_rules! base {
    ($v:literal: $($f:literal),* $(,)?) => {
        &[$(($f, include_bytes!(concat!("../base/", $v, "/", $f)) as &[u8])),*]
    };
}

/// The package around the payload, per version.
const V1P1: &[(&str, &[u8])] = base!("v1p1":
    "orgs.csv", "academicSessions.csv", "courses.csv", "classes.csv", "users.csv",
    "enrollments.csv", "demographics.csv", "categories.csv", "lineItems.csv", "results.csv",
);
const V1P2: &[(&str, &[u8])] = base!("v1p2":
    "orgs.csv", "academicSessions.csv", "courses.csv", "classes.csv", "users.csv",
    "roles.csv", "userProfiles.csv", "enrollments.csv", "demographics.csv",
    "categories.csv", "lineItems.csv", "results.csv",
);

/// Pages one read may take before the harness calls it endless.
const MAX_PAGES: usize = 100_000;

struct Dirs {
    v1p1: PathBuf,
    v1p2: PathBuf,
    zip: PathBuf,
}

/// One drop folder per layout, so an input reads the same whatever ran
/// before; under `$TMPDIR` (run.sh points it at memory, /dev/shm).
fn dirs() -> &'static Dirs {
    static DIRS: OnceLock<Dirs> = OnceLock::new();
    DIRS.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("homeroom-fuzz-csv-{}", std::process::id()));
        let make = |name: &str| {
            let d = root.join(name);
            fs::create_dir_all(&d).expect("create the drop folder");
            d
        };
        Dirs {
            v1p1: make("v1p1"),
            v1p2: make("v1p2"),
            zip: make("zip"),
        }
    })
}

fn manifest_for(version: &str, base: &[(&str, &[u8])], file: &str, delta: bool) -> Vec<u8> {
    let mut m = format!("propertyName,value\nmanifest.version,1.0\noneroster.version,{version}\n");
    let mut listed = false;
    for (name, _) in base {
        let mode = if *name == file && delta {
            "delta"
        } else {
            "bulk"
        };
        listed |= *name == file;
        m.push_str(&format!("file.{},{mode}\n", name.trim_end_matches(".csv")));
    }
    if !listed {
        let mode = if delta { "delta" } else { "bulk" };
        m.push_str(&format!("file.{},{mode}\n", file.trim_end_matches(".csv")));
    }
    m.push_str("source.systemName,fuzz\n");
    m.into_bytes()
}

thread_local! {
    /// What each file of the drop folders holds, so that only what changes
    /// is written again (most inputs change one file).
    static WRITTEN: RefCell<HashMap<PathBuf, Vec<u8>>> = RefCell::new(HashMap::new());
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    let path = dir.join(name);
    WRITTEN.with(|w| {
        let mut w = w.borrow_mut();
        if w.get(&path).is_some_and(|held| held == bytes) {
            return;
        }
        fs::write(&path, bytes).expect("write into the drop folder");
        w.insert(path, bytes.to_vec());
    });
}

fn remove(dir: &Path, name: &str) {
    let path = dir.join(name);
    WRITTEN.with(|w| w.borrow_mut().remove(&path));
    let _ = fs::remove_file(path);
}

/// Read `kind` to its end. With `resume`, the first page's cursor is also
/// read in a new session, which must give the page the running session
/// gives next.
fn read_all(
    session: &mut Session,
    root: &Path,
    settings: &Settings,
    kind: EntityKind,
    resume: bool,
) {
    let mut log = Log::default();
    let mut cursor: Option<String> = None;
    let mut expected: Option<Result<String, String>> = None;
    for pages in 0.. {
        assert!(
            pages < MAX_PAGES,
            "a read of {} took {MAX_PAGES} pages",
            kind.name()
        );
        let page = session.read(kind, None, cursor.as_deref(), &mut log);
        if let Some(fresh) = expected.take() {
            let at = cursor.as_deref().unwrap_or_default();
            match (&page, fresh) {
                (Ok(running), Ok(fresh)) => assert_eq!(
                    digest(running),
                    fresh,
                    "{} from cursor {at}: a new session reads another page than the running one",
                    kind.name()
                ),
                (Ok(_), Err(e)) => panic!(
                    "{} from cursor {at}: the running session reads a page, a new one fails: {e}",
                    kind.name()
                ),
                _ => {}
            }
        }
        let Ok(page) = page else {
            return;
        };
        if host_checks() {
            host_accepts(kind, &page, cursor.as_deref());
        }
        let Some(next) = page.next else {
            return;
        };
        assert_ne!(
            Some(next.as_str()),
            cursor.as_deref(),
            "a read of {} handed back the cursor it was read with",
            kind.name()
        );
        if pages == 0 && resume {
            let mut fresh = Session::new(root.to_path_buf(), settings.clone());
            expected = Some(
                fresh
                    .read(kind, None, Some(&next), &mut Log::default())
                    .map(|p| digest(&p))
                    .map_err(|e| format!("{e:?}")),
            );
        }
        cursor = Some(next);
    }
}

/// Whether pages are held to the host's checks: on unless
/// `HOMEROOM_FUZZ_HOST_CHECKS=0` (to look for panics alone).
fn host_checks() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("HOMEROOM_FUZZ_HOST_CHECKS").is_none_or(|v| v != "0"))
}

/// The host's boundary checks (`runtime::validate::page`, as a connector's
/// read is checked, with the default value cap) take every page the
/// connector makes: a page refused fails the whole read of that kind, where
/// a bad row is meant to be skipped and named.
fn host_accepts(kind: EntityKind, page: &Page, cursor: Option<&str>) {
    let checks = validate::Checks {
        value_bytes: validate::VALUE_BYTES,
        names: true,
    };
    if let Err(e) = validate::page(host_kind(kind), &host_page(page), cursor, checks) {
        panic!(
            "the host refuses a page of {} the connector made: {e}",
            kind.name()
        );
    }
}

fn host_kind(kind: EntityKind) -> host::EntityKind {
    host::EntityKind::from_cli(kind.name()).expect("the SDK and the host name the same kinds")
}

fn host_page(page: &Page) -> host::Page {
    let reference = |r: &homeroom_sdk::Reference| host::Reference {
        kind: host_kind(r.kind),
        source_id: r.source_id.clone(),
    };
    let value = |v: &Value| match v {
        Value::Null => host::Value::Null,
        Value::Text(s) => host::Value::Text(s.clone()),
        Value::Integer(i) => host::Value::Integer(*i),
        Value::Number(n) => host::Value::Number(*n),
        Value::Boolean(b) => host::Value::Boolean(*b),
        Value::Date(s) => host::Value::Date(s.clone()),
        Value::DateTime(s) => host::Value::DateTime(s.clone()),
        Value::Texts(t) => host::Value::Texts(t.clone()),
        Value::Reference(r) => host::Value::Reference(reference(r)),
        Value::References(rs) => host::Value::References(rs.iter().map(reference).collect()),
    };
    host::Page {
        entities: page
            .entities
            .iter()
            .map(|e| host::Entity {
                kind: host_kind(e.kind),
                source_id: e.source_id.clone(),
                status: match e.status {
                    Status::Active => host::Status::Active,
                    Status::ToBeDeleted => host::Status::ToBeDeleted,
                },
                date_last_modified: e.date_last_modified.clone(),
                attributes: e
                    .attributes
                    .iter()
                    .map(|a| host::Attribute {
                        name: a.name.clone(),
                        value: value(&a.value),
                    })
                    .collect(),
            })
            .collect(),
        next: page.next.clone(),
        total: page.total,
        ahead: page.ahead.clone(),
    }
}

fn digest(page: &Page) -> String {
    format!("{:?} {:?} {:?}", page.entities, page.next, page.ahead)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (sel, page_byte, seek) = (data[0], data[1], data[2]);
    let payload = &data[3..];

    // The manifest parser on its own, from memory.
    let _ = manifest::parse(payload, "the fuzz package");

    let spec = &FILES[(sel & 0x0f) as usize % FILES.len()];
    let v1p2 = sel & 0x10 != 0;
    let delta = sel & 0x20 != 0;
    let zipped = sel & 0x40 != 0;
    let payload_is_manifest = sel & 0x80 != 0;
    let d = dirs();
    let root = if zipped {
        write(&d.zip, "package.zip", payload);
        d.zip.clone()
    } else {
        let (dir, version, base) = if v1p2 {
            (&d.v1p2, "1.2", V1P2)
        } else {
            (&d.v1p1, "1.1", V1P1)
        };
        for (name, bytes) in base {
            write(dir, name, bytes);
        }
        if payload_is_manifest {
            write(dir, "manifest.csv", payload);
        } else {
            write(
                dir,
                "manifest.csv",
                &manifest_for(version, base, spec.file, delta),
            );
            write(dir, spec.file, payload);
        }
        dir.clone()
    };
    let settings = Settings {
        path: None,
        page_size: 1 + u64::from(page_byte & 0x0f),
    };

    let only_payload = page_byte & 0x10 != 0;
    let mut session = Session::new(root.clone(), settings.clone());
    let mut log = Log::default();
    if !only_payload {
        let _ = session.test_connection(&mut log);
        let _ = session.list_schools(&mut log);
    }
    // The payload's own kind is read again from a cursor in a new session
    // (roles and profiles are read into users).
    let resumed = match spec.kind {
        Some(kind) => kind,
        None => EntityKind::User,
    };
    for kind in EntityKind::ALL {
        if !only_payload || kind == resumed {
            read_all(&mut session, &root, &settings, kind, kind == resumed);
        }
    }

    // A cursor into the middle of the file, as a resumed read might hold.
    if seek != 0
        && let Some(kind) = spec.kind
    {
        let cursor = format!("{seek}:2:1:0");
        let mut fresh = Session::new(root.clone(), settings.clone());
        let mut cursor = Some(cursor);
        for _ in 0..MAX_PAGES {
            match fresh.read(kind, None, cursor.as_deref(), &mut log) {
                Ok(page) if page.next.is_some() => cursor = page.next,
                _ => break,
            }
        }
    }

    // A payload that is no file of the base package goes, so that the next
    // input in this folder reads what it alone says.
    if !zipped && !payload_is_manifest {
        let base = if v1p2 { V1P2 } else { V1P1 };
        if base.iter().all(|(name, _)| *name != spec.file) {
            remove(&root, spec.file);
        }
    }
});

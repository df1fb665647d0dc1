//! The built-in OneRoster CSV connector through the real host: the gallery's
//! component in the runtime, its drop folder preopened read-only at `/drop`,
//! reading the sample district (as files and zipped), a generated OneRoster
//! 1.1 package, and the broken fixture.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use homeroom_host::bindings::types::{EntityKind, Value};
use homeroom_host::gallery::{Gallery, Package};
use homeroom_host::runtime::{
    ConnectorSession, Failure, Limits, LoadedPlugin, ReadError, Runtime, SessionOptions,
};
use homeroom_tests::district::{self, Options, Version};

/// One runtime and one compiled component for every test of this file.
fn plugin() -> (Arc<Runtime>, Arc<LoadedPlugin>) {
    static PLUGIN: OnceLock<(Arc<Runtime>, Arc<LoadedPlugin>)> = OnceLock::new();
    PLUGIN
        .get_or_init(|| {
            let gallery = Gallery::builtin().expect("built-in gallery");
            let package: Arc<Package> = gallery
                .get("oneroster-csv")
                .expect("the OneRoster CSV connector is built in")
                .clone();
            assert!(package.manifest.files, "a file connector");
            let runtime = Runtime::new(Limits::default()).expect("runtime");
            let loaded = runtime.load(&package).expect("the component loads");
            (runtime, loaded)
        })
        .clone()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sample() -> PathBuf {
    repo().join("examples/sample-district")
}

async fn session(dir: &Path, settings: &[(&str, &str)]) -> ConnectorSession {
    let (runtime, loaded) = plugin();
    let settings = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ConnectorSession::start(
        &runtime,
        loaded,
        SessionOptions {
            settings,
            drop_dir: Some(dir.to_path_buf()),
            ..Default::default()
        },
    )
    .await
    .expect("the connector starts")
}

async fn count(session: &mut ConnectorSession, kind: EntityKind) -> Result<u64, String> {
    session
        .read_all(kind, None, |_page| Ok::<(), ()>(()))
        .await
        .map_err(|e| e.to_string())
}

async fn counts(dir: &Path, settings: &[(&str, &str)]) -> BTreeMap<&'static str, u64> {
    let mut s = session(dir, settings).await;
    let mut out = BTreeMap::new();
    for kind in EntityKind::ALL {
        let n = count(&mut s, kind)
            .await
            .unwrap_or_else(|e| panic!("reading {}: {e}", kind.cli_name()));
        out.insert(kind.cli_name(), n);
    }
    out
}

/// The sample district as `gen-district --students 360` writes it.
fn sample_counts() -> BTreeMap<&'static str, u64> {
    [
        ("org", 3),
        ("academic-session", 7),
        ("course", 28),
        ("class", 61),
        ("user", 817),
        ("demographics", 360),
        ("user-agent", 0),
        ("enrollment", 1_275),
        ("category", 3),
        ("line-item", 4),
        ("result", 72),
    ]
    .into_iter()
    .collect()
}

/// The rows per kind the generator reports for a package.
fn summary_counts(summary: &district::Summary) -> BTreeMap<&'static str, u64> {
    district::KIND_FILES
        .iter()
        .map(|(kind, file)| (*kind, summary.rows(file)))
        .chain([("user-agent", 0)])
        .collect()
}

fn zip_dir(from: &Path, zip: &Path, prefix: &str) {
    let mut writer = zip::ZipWriter::new(fs::File::create(zip).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::DEFLATE);
    let mut files: Vec<PathBuf> = fs::read_dir(from)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    for path in files {
        let name = format!("{prefix}{}", path.file_name().unwrap().to_string_lossy());
        writer.start_file(name, options).unwrap();
        writer.write_all(&fs::read(&path).unwrap()).unwrap();
    }
    writer.finish().unwrap();
}

#[tokio::test]
async fn the_sample_district_reads_through_the_host() {
    let started = Instant::now();
    assert_eq!(
        counts(&sample(), &[]).await,
        sample_counts(),
        "default pages"
    );
    eprintln!(
        "sample district, every kind in 5,000-row pages: {:.2?}",
        started.elapsed()
    );
    assert_eq!(
        counts(&sample(), &[("page_size", "100")]).await,
        sample_counts(),
        "100-row pages"
    );

    let mut s = session(&sample(), &[]).await;
    assert_eq!(
        s.test_connection().await.unwrap(),
        "OneRoster 1.2 CSV package (bulk) in the drop folder: 2 schools, 817 users"
    );
    let schools = s.list_schools().await.unwrap();
    let names: Vec<&str> = schools.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["Cedar Grove Elementary School", "Maplewood High School"]
    );

    // A student, as the pipeline sees it.
    let mut users = Vec::new();
    s.read_all(EntityKind::User, None, |page| {
        users.extend(page.entities);
        Ok::<(), ()>(())
    })
    .await
    .unwrap();
    let sofia = users
        .iter()
        .find(|u| u.source_id == "stu-000001")
        .expect("stu-000001");
    let attr = |name: &str| {
        sofia
            .attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| &a.value)
    };
    assert!(matches!(attr("role"), Some(Value::Text(r)) if r == "student"));
    assert!(matches!(attr("grades"), Some(Value::Texts(g)) if g == &["KG".to_string()]));
    assert!(matches!(attr("enabledUser"), Some(Value::Boolean(true))));
    assert!(
        matches!(attr("orgs"), Some(Value::References(o)) if o.len() == 1 && o[0].source_id == "org-es1" && o[0].kind == EntityKind::Org)
    );
    assert!(matches!(attr("agents"), Some(Value::References(a)) if a[0].kind == EntityKind::User));
}

#[tokio::test]
async fn the_sample_district_zipped_reads_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    zip_dir(&sample(), &tmp.path().join("maplewood-2024-09-01.zip"), "");
    assert_eq!(
        counts(tmp.path(), &[("page_size", "250")]).await,
        sample_counts()
    );
    let mut s = session(tmp.path(), &[]).await;
    assert_eq!(
        s.test_connection().await.unwrap(),
        "OneRoster 1.2 CSV package (bulk) in maplewood-2024-09-01.zip: 2 schools, 817 users"
    );

    // A zip with the files in a folder, named by the `path` setting beside an older package.
    let nested = tmp.path().join("nested.zip");
    zip_dir(&sample(), &nested, "export/");
    assert_eq!(
        counts(tmp.path(), &[("path", "nested.zip")]).await,
        sample_counts()
    );
}

#[tokio::test]
async fn a_generated_1_1_package_reads_as_the_generator_wrote_it() {
    let tmp = tempfile::tempdir().unwrap();
    let options = Options {
        students: 150,
        seed: 7,
        version: Version::V1_1,
    };
    let summary = district::write_package(&options, tmp.path()).unwrap();
    assert_eq!(
        counts(tmp.path(), &[("page_size", "64")]).await,
        summary_counts(&summary)
    );
    let mut s = session(tmp.path(), &[]).await;
    let message = s.test_connection().await.unwrap();
    assert_eq!(
        message,
        format!(
            "OneRoster 1.1 CSV package (bulk) in the drop folder: 2 schools, {} users",
            summary.rows("users.csv")
        )
    );
}

#[tokio::test]
async fn the_broken_fixture_skips_bad_rows_and_names_the_broken_header() {
    let dir = repo().join("tests/fixtures/csv-broken");
    let mut s = session(&dir, &[("page_size", "2")]).await;
    let mut got = BTreeMap::new();
    for kind in [
        EntityKind::Org,
        EntityKind::AcademicSession,
        EntityKind::Course,
        EntityKind::Class,
        EntityKind::User,
        EntityKind::Enrollment,
        EntityKind::Category,
    ] {
        got.insert(kind.cli_name(), count(&mut s, kind).await.unwrap());
    }
    let want: BTreeMap<&str, u64> = [
        ("org", 2),
        ("academic-session", 2),
        ("course", 2),
        ("class", 2),
        ("user", 4), // s-3: its dateLastModified is no date, so the row is kept with the date unknown
        ("enrollment", 4),
        ("category", 0),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want, "bad rows are skipped, orphans kept");

    let expected = "demographics.csv: column `sourcedId` is missing; a OneRoster 1.2 demographics.csv has: sourcedId, status, dateLastModified, birthDate";
    let err = s
        .read_all(EntityKind::Demographics, None, |_page| Ok::<(), ()>(()))
        .await
        .unwrap_err();
    let ReadError::Plugin(err) = err else {
        panic!("{err}")
    };
    assert!(
        matches!(&err.failure, Failure::Plugin { kind: "invalid data", message } if message.starts_with(expected)),
        "{err}"
    );
    assert!(!err.failure.is_crash());
    // The plugin's report of the bad rows is in its recent log.
    let log = err.recent_log.join("\n");
    assert!(
        log.contains("reading demographics.csv") || log.contains("enrollments.csv"),
        "{log}"
    );
    // A reported error leaves the sandbox usable.
    assert_eq!(count(&mut s, EntityKind::Org).await.unwrap(), 2);
    let err = s.test_connection().await.unwrap_err();
    assert!(err.to_string().contains(expected), "{err}");
}

#[tokio::test]
async fn a_folder_without_a_package_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = session(tmp.path(), &[]).await;
    let err = s.test_connection().await.unwrap_err();
    assert!(
        matches!(&err.failure, Failure::Plugin { kind: "configuration", message } if message.starts_with("no manifest.csv in the drop folder or one level down")),
        "{err}"
    );
}

/// Throughput and memory on a larger district (not run by default):
/// `STUDENTS=50000 MEMORY_MIB=128 cargo test -p homeroom-tests --test oneroster_csv_connector -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn a_large_district_streams_in_flat_memory() {
    let students: u64 = std::env::var("STUDENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50_000);
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let summary = district::write_package(
        &Options {
            students,
            ..Options::default()
        },
        tmp.path(),
    )
    .unwrap();
    eprintln!("generated {students} students in {:.2?}", started.elapsed());
    let (runtime, loaded) = plugin();
    let _ = runtime;
    let memory_mib: usize = std::env::var("MEMORY_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(128);
    let limits = Limits {
        memory_bytes: memory_mib * 1024 * 1024,
        call_timeout: std::time::Duration::from_secs(600),
        ..Limits::default()
    };
    let small = Runtime::new(limits).unwrap();
    let loaded = small.load(&loaded.package).unwrap();
    let mut s = ConnectorSession::start(
        &small,
        loaded,
        SessionOptions {
            drop_dir: Some(tmp.path().to_path_buf()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for kind in EntityKind::ALL {
        let started = Instant::now();
        let n = count(&mut s, kind).await.unwrap();
        assert_eq!(n, summary_counts(&summary)[kind.cli_name()]);
        if n > 0 {
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "{:<17} {n:>9} records in {secs:>6.2}s ({:.0} records/s)",
                kind.cli_name(),
                n as f64 / secs
            );
        }
    }
}

//! Native tests of the whole connector (everything but the host calls in
//! `lib.rs`): the sample district, the broken fixture, zips, paging, deltas.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use homeroom_sdk::{Entity, EntityKind, PluginError, Reference, Status, Value};

use crate::session::{Log, Session, Settings};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sample() -> PathBuf {
    repo().join("examples/sample-district")
}

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

fn session(root: &Path, page_size: u64) -> Session {
    Session::new(
        root.to_path_buf(),
        Settings {
            path: None,
            page_size,
        },
    )
}

fn session_at(root: &Path, path: &str) -> Session {
    Session::new(
        root.to_path_buf(),
        Settings {
            path: Some(path.to_string()),
            page_size: 1_000,
        },
    )
}

/// A fresh, empty folder under the system's temp folder.
fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "homeroom-csv-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// Zip the CSV files of `from` into `zip`, under `prefix` (`""` or `"x/"`).
fn zip_dir(from: &Path, zip: &Path, prefix: &str, deflate: bool) {
    let mut writer = zip::ZipWriter::new(fs::File::create(zip).unwrap());
    let method = if deflate {
        zip::CompressionMethod::DEFLATE
    } else {
        zip::CompressionMethod::STORE
    };
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    let mut names: Vec<PathBuf> = fs::read_dir(from)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    names.sort();
    if !prefix.is_empty() {
        writer.add_directory(prefix, options).unwrap();
    }
    for path in names {
        let name = format!("{prefix}{}", path.file_name().unwrap().to_string_lossy());
        writer.start_file(name, options).unwrap();
        writer.write_all(&fs::read(&path).unwrap()).unwrap();
    }
    writer.finish().unwrap();
}

/// Read every page of `kind`, collecting what was logged.
fn read_all(
    session: &mut Session,
    kind: EntityKind,
    log: &mut Log,
) -> Result<Vec<Entity>, PluginError> {
    let mut entities = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = session.read(kind, None, cursor.as_deref(), log)?;
        entities.extend(page.entities);
        pages += 1;
        assert!(pages < 100_000, "the read does not end");
        match page.next {
            Some(next) => {
                assert_ne!(Some(&next), cursor.as_ref(), "the cursor must move");
                cursor = Some(next);
            }
            None => return Ok(entities),
        }
    }
}

fn counts(root: &Path, page_size: u64) -> (BTreeMap<&'static str, usize>, Log) {
    let mut s = session(root, page_size);
    let mut log = Log::default();
    let mut counts = BTreeMap::new();
    for kind in EntityKind::ALL {
        let n = read_all(&mut s, kind, &mut log)
            .unwrap_or_else(|e| panic!("{}: {e:?}", kind.name()))
            .len();
        counts.insert(kind.name(), n);
    }
    (counts, log)
}

fn expected(pairs: &[(&'static str, usize)]) -> BTreeMap<&'static str, usize> {
    pairs.iter().copied().collect()
}

/// The sample district, as `gen-district --students 360` writes it.
fn sample_counts() -> BTreeMap<&'static str, usize> {
    expected(&[
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
    ])
}

fn find<'a>(entities: &'a [Entity], id: &str) -> &'a Entity {
    entities
        .iter()
        .find(|e| e.source_id == id)
        .unwrap_or_else(|| panic!("no record `{id}`"))
}

fn r(kind: EntityKind, id: &str) -> Reference {
    Reference {
        kind,
        source_id: id.into(),
    }
}

fn texts(list: &[&str]) -> Value {
    Value::Texts(list.iter().map(|s| s.to_string()).collect())
}

/// `Value` has no `PartialEq` in the bindings; compare their debug forms.
macro_rules! same {
    ($left:expr, $right:expr) => {
        assert_eq!(format!("{:?}", $left), format!("{:?}", $right))
    };
}

#[test]
fn the_sample_district_reads_with_exact_counts_and_no_warnings() {
    for page_size in [5_000, 97] {
        let (got, log) = counts(&sample(), page_size);
        assert_eq!(got, sample_counts(), "page size {page_size}");
        assert!(log.warnings().is_empty(), "{:?}", log.warnings());
    }
}

#[test]
fn sample_records_map_like_the_rest_connector() {
    let mut s = session(&sample(), 5_000);
    let mut log = Log::default();
    let users = read_all(&mut s, EntityKind::User, &mut log).unwrap();
    let sofia = find(&users, "stu-000001");
    assert_eq!(sofia.text("givenName"), Some("Sofia"));
    assert_eq!(sofia.text("familyName"), Some("Martinez"));
    assert_eq!(sofia.text("role"), Some("student"));
    same!(sofia.get("roles"), Some(texts(&["student"])));
    same!(
        sofia.get("orgs"),
        Some(Value::References(vec![r(EntityKind::Org, "org-es1")]))
    );
    same!(
        sofia.get("primaryOrg"),
        Some(Value::Reference(r(EntityKind::Org, "org-es1")))
    );
    same!(sofia.get("grades"), Some(texts(&["KG"])));
    same!(sofia.get("enabledUser"), Some(Value::Boolean(true)));
    same!(
        sofia.get("agents"),
        Some(Value::References(vec![r(EntityKind::User, "grd-000001-1")]))
    );
    assert!(
        matches!(sofia.get("userIds"), Some(Value::Texts(ids)) if ids.len() == 2 && ids[0] == "SIS:100001")
    );
    assert_eq!(sofia.status, Status::Active);
    assert_eq!(
        sofia.date_last_modified, None,
        "bulk files leave dateLastModified empty"
    );
    // Two students share that name, as real districts have them.
    let twins = users
        .iter()
        .filter(|u| {
            u.text("givenName") == Some("Sofia") && u.text("familyName") == Some("Martinez")
        })
        .count();
    assert!(twins >= 2, "{twins}");

    let admin = find(&users, "staff-admin");
    assert_eq!(admin.text("role"), Some("districtAdministrator"));
    let guardian = find(&users, "grd-000001-1");
    assert!(matches!(guardian.text("role"), Some("parent" | "guardian")));
    same!(
        guardian.get("agents"),
        Some(Value::References(vec![r(EntityKind::User, "stu-000001")]))
    );
    let teacher = users
        .iter()
        .find(|u| u.text("role") == Some("teacher") && u.get("userProfiles").is_some())
        .expect("a teacher with an LMS profile");
    assert!(
        matches!(teacher.get("userProfiles"), Some(Value::Texts(p)) if p[0].contains("example-lms"))
    );
    // The specialist teaches at both schools: a secondary role.
    assert!(
        users
            .iter()
            .any(|u| matches!(u.get("orgs"), Some(Value::References(o)) if o.len() == 2))
    );

    let classes = read_all(&mut s, EntityKind::Class, &mut log).unwrap();
    let art = classes
        .iter()
        .find(|c| c.text("classCode") == Some("ART-01"))
        .expect("an art section");
    assert_eq!(art.text("location"), Some("Art Studio 1, Building B"));
    assert!(
        art.text("title")
            .is_some_and(|t| t.starts_with("Art: Drawing, Painting & Design - Period"))
    );
    assert!(matches!(art.get("periods"), Some(Value::Texts(p)) if p.len() == 1));
    same!(
        art.get("school"),
        Some(Value::Reference(r(EntityKind::Org, "org-hs1")))
    );
    same!(
        art.get("terms"),
        Some(Value::References(vec![r(
            EntityKind::AcademicSession,
            "as-2025"
        )]))
    );

    let items = read_all(&mut s, EntityKind::LineItem, &mut log).unwrap();
    let hw = items
        .iter()
        .find(|i| i.source_id.ends_with("-hw1"))
        .expect("homework");
    assert_eq!(
        hw.text("description"),
        Some("Problems 1-20 on page 42.\nShow your work, and check each answer.")
    );
    same!(
        hw.get("assignDate"),
        Some(Value::DateTime("2024-09-09T00:00:00Z".into()))
    );
    same!(hw.get("resultValueMax"), Some(Value::Number(100.0)));
    let demographics = read_all(&mut s, EntityKind::Demographics, &mut log).unwrap();
    assert!(
        matches!(find(&demographics, "stu-000001").get("birthDate"), Some(Value::Date(d)) if d.starts_with("2018-") || d.starts_with("2019-"))
    );
}

#[test]
fn a_read_resumes_from_its_cursor_in_a_fresh_session() {
    let mut log = Log::default();
    let whole: Vec<String> = read_all(
        &mut session(&sample(), 5_000),
        EntityKind::Enrollment,
        &mut log,
    )
    .unwrap()
    .into_iter()
    .map(|e| e.source_id)
    .collect();
    // Every page from a new session, as after a host restart.
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = session(&sample(), 200)
            .read(EntityKind::Enrollment, None, cursor.as_deref(), &mut log)
            .unwrap();
        ids.extend(page.entities.into_iter().map(|e| e.source_id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(ids, whole);
    let err = session(&sample(), 10)
        .read(EntityKind::User, None, Some("garbage"), &mut log)
        .unwrap_err();
    assert!(err.message().contains("paging cursor"), "{err:?}");
}

#[test]
fn a_zipped_package_reads_the_same_however_it_is_zipped() {
    let root = temp_dir("zip");
    zip_dir(&sample(), &root.join("district.zip"), "", true);
    let (got, log) = counts(&root, 250);
    assert_eq!(got, sample_counts());
    assert!(log.warnings().is_empty(), "{:?}", log.warnings());
    let message = session(&root, 10)
        .test_connection(&mut Log::default())
        .unwrap();
    assert_eq!(
        message,
        "OneRoster 1.2 CSV package (bulk) in district.zip: 2 schools, 817 users"
    );

    // Stored (not compressed), in a folder inside the zip, paged from fresh sessions.
    let root = temp_dir("zip-stored");
    zip_dir(&sample(), &root.join("export.zip"), "OneRoster/", false);
    let (got, _) = counts(&root, 5_000);
    assert_eq!(got, sample_counts());
    let mut log = Log::default();
    let first = session(&root, 300)
        .read(EntityKind::User, None, None, &mut log)
        .unwrap();
    let second = session(&root, 300)
        .read(EntityKind::User, None, first.next.as_deref(), &mut log)
        .unwrap();
    assert_eq!(
        second.entities[0].source_id,
        read_all(&mut session(&root, 5_000), EntityKind::User, &mut log).unwrap()[300].source_id
    );
    fs::remove_dir_all(&root).ok();
}

#[test]
fn a_damaged_zip_fails_the_read_with_a_clear_message() {
    let root = temp_dir("damaged");
    let zip = root.join("district.zip");
    zip_dir(&sample(), &zip, "", false);
    let mut bytes = fs::read(&zip).unwrap();
    // Flip bytes in the middle of users.csv's data.
    let at = bytes
        .windows(19)
        .position(|w| w == b"@students.maplewood")
        .expect("users.csv in the archive");
    bytes[at + 4] = b'X';
    fs::write(&zip, bytes).unwrap();
    let err = read_all(
        &mut session(&root, 5_000),
        EntityKind::User,
        &mut Log::default(),
    )
    .unwrap_err();
    assert!(err.message().contains("damaged"), "{err:?}");
}

#[test]
fn the_newest_package_is_read_and_path_picks_another() {
    let root = temp_dir("several");
    copy_dir(&fixture("csv-1.1"), &root.join("2024-09-01"));
    copy_dir(&sample(), &root.join("2024-09-02"));
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    fs::File::options()
        .write(true)
        .open(root.join("2024-09-01/manifest.csv"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let mut log = Log::default();
    let message = session(&root, 10).test_connection(&mut log).unwrap();
    assert_eq!(
        message,
        "OneRoster 1.2 CSV package (bulk) in 2024-09-02/: 2 schools, 817 users (the newest of 2 packages in the folder)"
    );
    assert!(
        log.lines
            .iter()
            .any(|l| format!("{l:?}").contains("not 2024-09-01")),
        "{:?}",
        log.lines
    );
    let message = session_at(&root, "2024-09-01")
        .test_connection(&mut log)
        .unwrap();
    assert_eq!(
        message,
        "OneRoster 1.1 CSV package (bulk) in 2024-09-01/: 2 schools, 68 users"
    );
    zip_dir(&fixture("csv-1.1"), &root.join("old.zip"), "", true);
    let message = session_at(&root, "old.zip")
        .test_connection(&mut log)
        .unwrap();
    assert_eq!(
        message,
        "OneRoster 1.1 CSV package (bulk) in old.zip: 2 schools, 68 users"
    );
    for bad in ["../etc", "/etc"] {
        let err = session_at(&root, bad)
            .test_connection(&mut log)
            .unwrap_err();
        assert!(
            matches!(&err, PluginError::Config(m) if m.contains("without `..`")),
            "{err:?}"
        );
    }
    let err = session_at(&root, "nope.zip")
        .test_connection(&mut log)
        .unwrap_err();
    assert!(
        matches!(&err, PluginError::Config(m) if m.contains("`nope.zip`, which is not in the drop folder")),
        "{err:?}"
    );
    fs::remove_dir_all(&root).ok();
}

#[test]
fn a_folder_without_a_package_says_what_to_do() {
    let root = temp_dir("empty");
    fs::write(root.join("notes.txt"), "hello").unwrap();
    let err = session(&root, 10)
        .test_connection(&mut Log::default())
        .unwrap_err();
    assert!(
        matches!(&err, PluginError::Config(m) if m.starts_with("no manifest.csv in the drop folder or one level down, and no .zip: export a OneRoster CSV package")),
        "{err:?}"
    );
    let err = session(&root.join("missing"), 10)
        .read(EntityKind::User, None, None, &mut Log::default())
        .unwrap_err();
    assert!(
        matches!(&err, PluginError::Config(m) if m.contains("no readable drop folder")),
        "{err:?}"
    );
    fs::write(root.join("not-a.zip"), "this is not a zip").unwrap();
    let err = session(&root, 10)
        .test_connection(&mut Log::default())
        .unwrap_err();
    assert!(
        matches!(&err, PluginError::InvalidData(m) if m.contains("not-a.zip cannot be read as a zip")),
        "{err:?}"
    );
    fs::remove_dir_all(&root).ok();
}

#[test]
fn the_broken_package_skips_bad_rows_and_reports_them() {
    let root = fixture("csv-broken");
    for page_size in [1, 2, 1_000] {
        let mut s = session(&root, page_size);
        let mut log = Log::default();
        let mut got = BTreeMap::new();
        for kind in [
            EntityKind::Org,
            EntityKind::AcademicSession,
            EntityKind::Course,
            EntityKind::Class,
            EntityKind::User,
            EntityKind::Enrollment,
            EntityKind::Category,
            EntityKind::UserAgent,
        ] {
            got.insert(kind.name(), read_all(&mut s, kind, &mut log).unwrap());
        }
        let count: BTreeMap<&str, usize> = got.iter().map(|(k, v)| (*k, v.len())).collect();
        assert_eq!(
            count,
            expected(&[
                ("org", 2),
                ("academic-session", 2),
                ("course", 2),
                ("class", 2),
                // s-3's `dateLastModified` is `yesterday`: kept, with none.
                ("user", 4),
                ("enrollment", 4),
                ("category", 0),
                ("user-agent", 0),
            ]),
            "page size {page_size}"
        );
        let warnings = log.warnings();
        for want in [
            "academicSessions.csv line 4: `startDate` is `2025-13-01`, which is not a date (YYYY-MM-DD); the row is skipped",
            "academicSessions.csv: 2 rows read, 1 bad row skipped",
            "classes.csv line 3: it has 13 fields where the header has 14; the row is skipped",
            "classes.csv: 2 rows read, 1 bad row skipped",
            "users.csv line 3: its sourcedId is empty; the row is skipped",
            "users.csv line 4: it has 24 fields where the header has 23 (a value holding a comma must be quoted); the row is skipped",
            "users.csv: 4 rows read, 2 bad rows skipped",
            "users.csv: 1 row has a `dateLastModified` that is not a date or date-time (the first is line 5); it is read with no date last modified: have the export write it as YYYY-MM-DD or like 2024-08-19T14:30:00Z",
            "roles.csv: 1 row names a user in `userSourcedId` that is not in users.csv: r-s2 → s-2",
            "enrollments.csv line 6: it has 5 fields where the header has 10; the row is skipped",
            "enrollments.csv: 4 rows read, 1 bad row skipped",
            "enrollments.csv: 1 row names a class in `classSourcedId` that is not in classes.csv: e-3 → cls-404",
            "enrollments.csv: 1 row names a user in `userSourcedId` that is not in users.csv: e-4 → s-ghost",
        ] {
            assert!(
                warnings.contains(&want),
                "missing warning: {want}\nwarnings: {warnings:#?}"
            );
        }
        assert_eq!(warnings.len(), 13, "page size {page_size}: {warnings:#?}");

        // Quoted commas, line breaks and doubled quotes come through whole.
        let org = find(&got["org"], "org-s1");
        assert_eq!(org.text("name"), Some("Lincoln Elementary, North Campus"));
        assert_eq!(
            find(&got["course"], "crs-2").text("title"),
            Some("Reading Intervention\r\nSmall Group")
        );
        assert_eq!(
            find(&got["class"], "cls-3").text("title"),
            Some("Reading, Writing and \"Spelling\"")
        );
        same!(
            find(&got["class"], "cls-3").get("terms"),
            Some(Value::References(vec![
                r(EntityKind::AcademicSession, "as-f"),
                r(EntityKind::AcademicSession, "as-y")
            ]))
        );
        let bruno = find(&got["user"], "s-4");
        assert_eq!(bruno.text("familyName"), Some("García, Jr.\r\nde la Cruz"));
        assert_eq!(bruno.text("role"), Some("student"));
        assert_eq!(
            find(&got["user"], "t-1").text("givenName"),
            Some("María"),
            "the BOM is not part of the data"
        );
        assert_eq!(find(&got["user"], "g-1").text("phone"), Some("555-0100"));
        assert_eq!(find(&got["user"], "s-3").date_last_modified, None);
        // Orphans are reported, not dropped.
        assert!(got["enrollment"].iter().any(|e| e.source_id == "e-3"));
    }
}

#[test]
fn a_broken_header_fails_the_read_and_the_connection_test() {
    let root = fixture("csv-broken");
    let want = "demographics.csv: column `sourcedId` is missing; a OneRoster 1.2 demographics.csv has: sourcedId, status, dateLastModified, birthDate, sex,";
    let err = read_all(
        &mut session(&root, 100),
        EntityKind::Demographics,
        &mut Log::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, PluginError::InvalidData(m) if m.starts_with(want)),
        "{err:?}"
    );
    let err = session(&root, 100)
        .test_connection(&mut Log::default())
        .unwrap_err();
    assert!(
        matches!(&err, PluginError::InvalidData(m) if m.starts_with(want)),
        "{err:?}"
    );
}

#[test]
fn a_1_1_package_reads_role_and_orgs_from_users_csv() {
    let (got, log) = counts(&fixture("csv-1.1"), 7);
    assert_eq!(
        got,
        expected(&[
            ("org", 3),
            ("academic-session", 7),
            ("course", 28),
            ("class", 28),
            ("user", 68),
            ("demographics", 24),
            ("user-agent", 0),
            ("enrollment", 104),
            ("category", 3),
            ("line-item", 2),
            ("result", 4),
        ])
    );
    assert!(log.warnings().is_empty(), "{:?}", log.warnings());
    let users = read_all(
        &mut session(&fixture("csv-1.1"), 100),
        EntityKind::User,
        &mut Log::default(),
    )
    .unwrap();
    let student = find(&users, "stu-000001");
    assert_eq!(student.text("role"), Some("student"));
    same!(
        student.get("orgs"),
        Some(Value::References(vec![r(EntityKind::Org, "org-es1")]))
    );
    assert!(student.get("roles").is_none(), "1.1 has no roles list");
    assert_eq!(
        find(&users, "staff-admin").text("role"),
        Some("administrator")
    );
}

/// Write a small package: `files` are (name, content).
fn package(name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let root = temp_dir(name);
    for (file, content) in files {
        fs::write(root.join(file), content).unwrap();
    }
    root
}

const USERS_1_1: &str = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n";

#[test]
fn delta_files_yield_changes_and_deletions_with_or_without_since() {
    let users = format!(
        "{USERS_1_1}u1,active,2024-09-02T08:15:00.000Z,true,s1,student,ann,,Ann,Ames,,,,,,,05,\nu2,tobedeleted,2024-09-02T08:16:00Z,false,s1,student,bo,,Bo,Byrd,,,,,,,05,\n"
    );
    let root = package(
        "delta",
        &[
            ("manifest.csv", b"propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.users,delta\nfile.orgs,absent\nfile.enrollments,absent\n"),
            ("users.csv", users.as_bytes()),
        ],
    );
    for since in [None, Some("2024-09-01T00:00:00Z")] {
        let mut log = Log::default();
        let page = session(&root, 100)
            .read(EntityKind::User, since, None, &mut log)
            .unwrap();
        let [ann, bo] = page.entities.as_slice() else {
            panic!("{:?}", page.entities)
        };
        assert_eq!(
            (ann.status, bo.status),
            (Status::Active, Status::ToBeDeleted)
        );
        assert_eq!(
            ann.date_last_modified.as_deref(),
            Some("2024-09-02T08:15:00.000Z")
        );
        assert!(
            log.lines
                .iter()
                .any(|l| format!("{l:?}").contains("reading users.csv (delta)"))
        );
        // No orphan check against orgs.csv: it is absent from a delta.
        assert!(log.warnings().is_empty(), "{:?}", log.warnings());
    }
    let page = session(&root, 100)
        .read(EntityKind::Org, None, None, &mut Log::default())
        .unwrap();
    assert!(page.entities.is_empty() && page.next.is_none());
    let message = session(&root, 100)
        .test_connection(&mut Log::default())
        .unwrap();
    assert!(
        message.starts_with(
            "OneRoster 1.1 CSV package (delta) in the drop folder: 0 schools, 2 users"
        ),
        "{message}"
    );
}

#[test]
fn a_file_the_manifest_promises_must_be_there() {
    let root = package(
        "missing",
        &[
            ("manifest.csv", b"propertyName,value\noneroster.version,1.1\nfile.users,bulk\nfile.classes,bulk\n"),
            ("users.csv", USERS_1_1.as_bytes()),
            ("orgs.csv", b"sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\ns1,,,North,school,,\n"),
        ],
    );
    let mut log = Log::default();
    let err = session(&root, 100)
        .read(EntityKind::Class, None, None, &mut log)
        .unwrap_err();
    assert!(
        matches!(&err, PluginError::InvalidData(m) if m == "manifest.csv says classes.csv is bulk but the drop folder has no classes.csv: export the package again, or mark it `file.classes,absent`"),
        "{err:?}"
    );
    // A file the manifest does not list is read as bulk, with a warning.
    let orgs = read_all(&mut session(&root, 100), EntityKind::Org, &mut log).unwrap();
    assert_eq!(orgs.len(), 1);
    assert!(
        log.warnings()
            .iter()
            .any(|w| w.contains("does not list orgs.csv")),
        "{:?}",
        log.warnings()
    );
    let schools = session(&root, 100).list_schools(&mut log).unwrap();
    assert_eq!(schools.len(), 1);
    assert_eq!(
        (schools[0].source_id.as_str(), schools[0].name.as_str()),
        ("s1", "North")
    );
}

#[test]
fn text_that_is_not_utf8_is_read_as_windows_1252_and_reported() {
    let mut users = USERS_1_1.as_bytes().to_vec();
    users.extend_from_slice(b"u1,,,true,s1,student,jose,,Jos\xe9,Pe\xf1a,,,,,,,05,\n");
    let root = package(
        "cp1252",
        &[
            (
                "manifest.csv",
                b"propertyName,value\noneroster.version,1.1\nfile.users,bulk\n",
            ),
            ("users.csv", &users),
        ],
    );
    let mut log = Log::default();
    let users = read_all(&mut session(&root, 100), EntityKind::User, &mut log).unwrap();
    assert_eq!(users[0].text("givenName"), Some("José"));
    assert_eq!(users[0].text("familyName"), Some("Peña"));
    assert!(
        log.warnings()
            .iter()
            .any(|w| w.starts_with("users.csv is not UTF-8 text")),
        "{:?}",
        log.warnings()
    );
}

#[test]
fn page_size_is_checked() {
    assert_eq!(Settings::checked(None, 50_000).unwrap().page_size, 50_000);
    for bad in [0, 50_001] {
        let err = Settings::checked(None, bad).unwrap_err();
        assert!(
            matches!(&err, PluginError::Config(m) if m.contains("between 1 and 50000")),
            "{err:?}"
        );
    }
}

#[test]
fn the_connection_test_and_school_list_of_the_sample() {
    let mut log = Log::default();
    let mut s = session(&sample(), 5_000);
    assert_eq!(
        s.test_connection(&mut log).unwrap(),
        "OneRoster 1.2 CSV package (bulk) in the drop folder: 2 schools, 817 users"
    );
    let schools = s.list_schools(&mut log).unwrap();
    let names: Vec<(&str, &str, Option<&str>)> = schools
        .iter()
        .map(|s| {
            (
                s.source_id.as_str(),
                s.name.as_str(),
                s.identifier.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("org-es1", "Cedar Grove Elementary School", Some("1100")),
            ("org-hs1", "Maplewood High School", Some("3100"))
        ]
    );
}

/// Whether every file of the package at `root` maps its rows straight to
/// entities (rather than through the JSON of the REST binding).
fn direct_plans(root: &Path) -> Vec<(&'static str, bool)> {
    use crate::convert::Plan;
    use crate::rows::RowReader;
    use homeroom_sdk::oneroster::Version;
    let package = crate::package::find(root, None).unwrap();
    let version = if package.has("roles.csv").is_some() {
        Version::V1p2
    } else {
        Version::V1p1
    };
    crate::schema::FILES
        .iter()
        .filter(|spec| spec.in_version(version) && package.has(spec.file).is_some())
        .filter_map(|spec| {
            let kind = spec.kind?;
            let rows = RowReader::open(&package, spec, version, None).unwrap();
            let joined = kind == EntityKind::User && version == Version::V1p2;
            Some((spec.file, Plan::new(kind, &rows.header, joined).is_direct()))
        })
        .collect()
}

#[test]
fn the_sample_packages_map_rows_straight_to_entities() {
    for root in [sample(), fixture("csv-1.1")] {
        let plans = direct_plans(&root);
        assert!(plans.len() >= 9, "{plans:?}");
        assert!(plans.iter().all(|(_, direct)| *direct), "{plans:?}");
    }
}

const USERS_1_2: &str = "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,resourceSourcedIds,preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns";
const ROLES_1_2: &str = "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,userProfileSourcedId\r\nr1,,,u1,secondary,aide,2024-08-19,,s2,\r\nr2,,,u1,primary,student,,,  s1 ,\r\nr3,,,u2,secondary,,,,s1,\r\n";
const MANIFEST_1_2: &[u8] =
    b"propertyName,value\noneroster.version,1.2\nfile.users,bulk\nfile.roles,bulk\n";

/// Rows the direct path leaves to the JSON way (a value to warn about, an id
/// that is only whitespace) and values with spaces, CRLF line ends and blank
/// lines read as they always have.
#[test]
fn odd_rows_read_the_same_either_way() {
    let users = format!(
        "{USERS_1_2},metadata.ell\r\n u1 ,active,2024-09-02 08:15:00,TRUE,ann,\"{{SIS: 1}}, {{x}}\",Ann,Ames,,,,,,u2 ,\"05, 06\",secret,,\"res1,,res2\",Annie,,,s1,she, yes \r\n   \r\nu2,TOBEDELETED,,maybe,bo,,Bo,Byrd,,,,,,,,,,,,,,,,\r\n\u{a0},,,true,nb,,Nb,Sp,,,,,,,,,,,,,,,,\r\n"
    );
    let root = package(
        "odd",
        &[
            ("manifest.csv", MANIFEST_1_2),
            ("users.csv", users.as_bytes()),
            ("roles.csv", ROLES_1_2.as_bytes()),
        ],
    );
    assert_eq!(direct_plans(&root), [("users.csv", true)]);
    let mut log = Log::default();
    let users = read_all(&mut session(&root, 2), EntityKind::User, &mut log).unwrap();
    assert_eq!(users.len(), 3, "{users:?}");
    let ann = find(&users, "u1");
    assert_eq!(ann.status, Status::Active);
    assert_eq!(
        ann.date_last_modified.as_deref(),
        Some("2024-09-02T08:15:00Z")
    );
    same!(ann.get("enabledUser"), Some(Value::Boolean(true)));
    same!(ann.get("userIds"), Some(texts(&["SIS:1", "unknown:x"])));
    same!(ann.get("grades"), Some(texts(&["05", "06"])));
    same!(ann.get("resources"), Some(texts(&["res1", "res2"])));
    same!(ann.get("roles"), Some(texts(&["aide", "student"])));
    assert_eq!(ann.text("role"), Some("student"), "the primary role");
    same!(
        ann.get("orgs"),
        Some(Value::References(vec![
            r(EntityKind::Org, "s2"),
            r(EntityKind::Org, "s1")
        ]))
    );
    assert_eq!(ann.text("preferredFirstName"), Some("Annie"));
    assert_eq!(ann.text("metadata.ell"), Some("yes"));
    assert!(ann.get("password").is_none());
    let names: Vec<&str> = ann.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "agents",
            "enabledUser",
            "familyName",
            "givenName",
            "grades",
            "preferredFirstName",
            "primaryOrg",
            "pronouns",
            "resources",
            "roles",
            "userIds",
            "username",
            "role",
            "orgs",
            "metadata.ell"
        ]
    );
    let bo = find(&users, "u2");
    assert_eq!(bo.status, Status::ToBeDeleted);
    same!(bo.get("enabledUser"), Some(Value::Text("maybe".into())));
    assert!(bo.get("roles").is_none() && bo.get("role").is_none());
    same!(
        bo.get("orgs"),
        Some(Value::References(vec![r(EntityKind::Org, "s1")]))
    );
    let warnings = log.warnings();
    assert!(
        warnings.iter().any(|w| w.starts_with(
            "users.csv line 4: user `u2`: field `enabledUser` = \"maybe\" does not have the type OneRoster gives it"
        )),
        "{warnings:?}"
    );
    assert!(
        warnings.contains(&"users.csv line 5: the record has no sourcedId"),
        "{warnings:?}"
    );
}

/// A header the direct path does not cover reads through JSON, as before.
#[test]
fn a_header_with_columns_that_clash_reads_through_json() {
    let users = format!(
        "{USERS_1_2},preferredFirstName,metadata\nu1,,,true,ann,,Ann,Ames,,,,,,,,,,,Annie,,,,,Nan,x\n"
    );
    let root = package(
        "clash",
        &[
            ("manifest.csv", MANIFEST_1_2),
            ("users.csv", users.as_bytes()),
            ("roles.csv", ROLES_1_2.as_bytes()),
        ],
    );
    assert_eq!(direct_plans(&root), [("users.csv", false)]);
    let mut log = Log::default();
    let users = read_all(&mut session(&root, 100), EntityKind::User, &mut log).unwrap();
    // The later column wins, as in the JSON record.
    assert_eq!(users[0].text("preferredFirstName"), Some("Nan"));
    assert_eq!(users[0].text("role"), Some("student"));
    assert!(
        log.warnings()
            .iter()
            .any(|w| w.contains("field `metadata` = \"x\" is not an object")),
        "{:?}",
        log.warnings()
    );
}

// CSV as districts' systems write it: what test sets published by other
// systems show real exports contain.

const MANIFEST_1_1: &[u8] = b"propertyName,value\noneroster.version,1.1\nfile.users,bulk\n";

/// Read every page of `kind`, each page from a fresh session (as after a
/// host restart), collecting what was logged.
fn read_resumed(root: &Path, kind: EntityKind, page_size: u64, log: &mut Log) -> Vec<Entity> {
    let mut entities = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = session(root, page_size)
            .read(kind, None, cursor.as_deref(), log)
            .unwrap();
        entities.extend(page.entities);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return entities,
        }
    }
}

/// A `dateLastModified` in a local format (or any text that is not a date or
/// date-time) is metadata: the row is kept, with no date last modified, and
/// the file's read ends with one line counting such rows. A date that is data
/// (`birthDate`) still makes its row bad.
#[test]
fn a_date_last_modified_that_is_not_a_date_keeps_the_row_and_is_counted_once() {
    let users = format!(
        "{USERS_1_1}u1,,15/01/2025,true,s1,student,ann,,Ann,Ames,,,,,,,05,\n\
         u2,,2024-09-02T08:15:00Z,true,s1,student,bo,,Bo,Byrd,,,,,,,05,\n\
         u3,,01/15/2025 10:00 AM,true,s1,student,cy,,Cy,Cole,,,,,,,05,\n\
         u4,,2025-01-15,true,s1,student,di,,Di,Dunn,,,,,,,05,\n\
         u5,,15.01.2025,true,s1,student,ed,,Ed,Eads,,,,,,,05,\n"
    );
    let demographics = "sourcedId,status,dateLastModified,birthDate,sex\n\
                        u1,,15/01/2025,2015-01-15,female\n\
                        u2,,,15/01/2015,male\n";
    let root = package(
        "local-dates",
        &[
            (
                "manifest.csv",
                b"propertyName,value\noneroster.version,1.1\nfile.users,bulk\nfile.demographics,bulk\n",
            ),
            ("users.csv", users.as_bytes()),
            ("demographics.csv", demographics.as_bytes()),
        ],
    );
    let want = "users.csv: 3 rows have a `dateLastModified` that is not a date or date-time (the first is line 2); they are read with no date last modified: have the export write it as YYYY-MM-DD or like 2024-08-19T14:30:00Z";
    for fresh in [false, true] {
        let mut log = Log::default();
        let users = if fresh {
            read_resumed(&root, EntityKind::User, 2, &mut log)
        } else {
            read_all(&mut session(&root, 2), EntityKind::User, &mut log).unwrap()
        };
        assert_eq!(users.len(), 5, "fresh sessions: {fresh}: {users:?}");
        for id in ["u1", "u3", "u5"] {
            let user = find(&users, id);
            assert_eq!(user.date_last_modified, None, "{id}");
            assert!(user.get("dateLastModified").is_none(), "{id}");
            assert_eq!(user.text("role"), Some("student"), "{id}");
        }
        assert_eq!(
            find(&users, "u2").date_last_modified.as_deref(),
            Some("2024-09-02T08:15:00Z")
        );
        assert_eq!(
            find(&users, "u4").date_last_modified.as_deref(),
            Some("2025-01-15T00:00:00Z")
        );
        assert_eq!(log.warnings(), [want], "fresh sessions: {fresh}");
        assert!(
            log.lines
                .iter()
                .any(|l| format!("{l:?}").contains("users.csv: 5 rows read")),
            "{:?}",
            log.lines
        );
    }
    // birthDate is data: a row with one that is not a date is still skipped.
    let mut log = Log::default();
    let demographics =
        read_all(&mut session(&root, 100), EntityKind::Demographics, &mut log).unwrap();
    assert_eq!(demographics.len(), 1);
    assert_eq!(demographics[0].date_last_modified, None);
    let warnings = log.warnings();
    assert!(
        warnings.contains(
            &"demographics.csv line 3: `birthDate` is `15/01/2015`, which is not a date (YYYY-MM-DD); the row is skipped"
        ),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("demographics.csv: 1 row has a `dateLastModified` that is not a date or date-time (the first is line 2)")),
        "{warnings:?}"
    );
}

/// A header ending with empty columns (`...,email,,`): those columns are
/// ignored, and rows are read whether or not they end with the same commas.
/// A row that lacks a named column is still bad.
#[test]
fn empty_columns_at_the_end_of_the_header_are_ignored() {
    let header = format!("{},,\r\n", USERS_1_1.trim_end());
    let users = format!(
        "{header}u1,,,true,s1,student,ann,,Ann,Ames,,,ann@x.org,,,,05,,,\r\n\
         u2,,,true,s1,student,bo,,Bo,Byrd,,,,,,,05,\r\n\
         u3,,,true,s1,student,cy,,Cy,Cole,,,,,,,05,,\r\n\
         u4,,,true,s1,student\r\n"
    );
    let root = package(
        "trailing-header",
        &[
            ("manifest.csv", MANIFEST_1_1),
            ("users.csv", users.as_bytes()),
        ],
    );
    assert_eq!(direct_plans(&root), [("users.csv", true)]);
    for page_size in [1, 100] {
        let mut log = Log::default();
        let users = read_all(&mut session(&root, page_size), EntityKind::User, &mut log).unwrap();
        let ids: Vec<&str> = users.iter().map(|u| u.source_id.as_str()).collect();
        assert_eq!(ids, ["u1", "u2", "u3"]);
        assert_eq!(find(&users, "u1").text("email"), Some("ann@x.org"));
        same!(find(&users, "u2").get("grades"), Some(texts(&["05"])));
        assert_eq!(
            log.warnings(),
            [
                "users.csv line 5: it has 6 fields where the header has 18; the row is skipped",
                "users.csv: 3 rows read, 1 bad row skipped"
            ]
        );
    }
}

/// A column name with a letter doubled or two letters swapped is read as the
/// OneRoster column it means, with a warning naming the file and the column;
/// when another column already has that name it is kept as it is, with a
/// warning too. A name that differs only in case is read silently.
#[test]
fn a_misspelled_column_is_named_and_read_as_the_column_it_means() {
    let header = "SourcedID,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givneName,famillyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,emaill\n";
    let users = format!(
        "{header}u1,,,true,s1,student,ann,,Ann,Ames,,,ann@x.org,,,,05,,ann@y.org\n\
         u2,,,true,s1,student,bo,,Bo,Byrd,,,,,,,05,,\n"
    );
    let root = package(
        "misspelled",
        &[
            ("manifest.csv", MANIFEST_1_1),
            ("users.csv", users.as_bytes()),
        ],
    );
    assert_eq!(direct_plans(&root), [("users.csv", true)]);
    let want = [
        "users.csv: column `givneName` in the header line is read as `givenName` (two letters swapped): correct the column name in the export",
        "users.csv: column `famillyName` in the header line is read as `familyName` (a letter doubled): correct the column name in the export",
        "users.csv: column `emaill` in the header line looks like a misspelling of `email`, which the header also has, so it is read as a column of its own: rename or remove it in the export",
    ];
    let mut s = session(&root, 1);
    let mut log = Log::default();
    assert!(
        s.test_connection(&mut log)
            .unwrap()
            .ends_with("0 schools, 2 users")
    );
    for _ in 0..2 {
        let users = read_all(&mut s, EntityKind::User, &mut log).unwrap();
        let ann = find(&users, "u1");
        assert_eq!(ann.text("givenName"), Some("Ann"));
        assert_eq!(ann.text("familyName"), Some("Ames"));
        assert_eq!(ann.text("email"), Some("ann@x.org"));
        assert_eq!(ann.text("emaill"), Some("ann@y.org"));
        assert_eq!(find(&users, "u2").text("familyName"), Some("Byrd"));
    }
    // Once per file, however often it is opened; nothing about `SourcedID`.
    assert_eq!(log.warnings(), want);

    // Two names that both look like `familyName`: neither is taken for it,
    // and the read fails saying so.
    let header = USERS_1_1.replace("familyName", "famillyName,faimlyName");
    let root = package(
        "misspelled-twice",
        &[
            ("manifest.csv", MANIFEST_1_1),
            ("users.csv", header.as_bytes()),
        ],
    );
    let err = read_all(
        &mut session(&root, 10),
        EntityKind::User,
        &mut Log::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, PluginError::InvalidData(m) if m.starts_with("users.csv: column `familyName` is missing; the header has `famillyName` and `faimlyName`, which look like misspellings of it: keep one and spell it `familyName`; a OneRoster 1.1 users.csv has: sourcedId,")),
        "{err:?}"
    );
}

/// A byte-order mark and CRLF line ends (manifest and data) are not part of
/// the data; a quoted line break keeps its CRLF.
#[test]
fn a_byte_order_mark_and_crlf_line_ends_are_not_data() {
    let users = "\u{feff}sourcedId,enabledUser,orgSourcedIds,role,username,givenName,familyName,grades\r\n\
                 u1,true,s1,student,ann,Ann,\"Ames\r\nJr\",05\r\n\
                 u2,true,s1,student,bo,Bo,Byrd,\"05,06\"\r\n";
    let root = package(
        "bom-crlf",
        &[
            (
                "manifest.csv",
                "\u{feff}propertyName,value\r\noneroster.version,1.1\r\nfile.users,bulk\r\n"
                    .as_bytes(),
            ),
            ("users.csv", users.as_bytes()),
        ],
    );
    assert_eq!(direct_plans(&root), [("users.csv", true)]);
    let mut log = Log::default();
    let users = read_all(&mut session(&root, 1), EntityKind::User, &mut log).unwrap();
    let ids: Vec<&str> = users.iter().map(|u| u.source_id.as_str()).collect();
    assert_eq!(ids, ["u1", "u2"]);
    assert_eq!(users[0].text("familyName"), Some("Ames\r\nJr"));
    same!(users[0].get("grades"), Some(texts(&["05"])));
    same!(users[1].get("grades"), Some(texts(&["05", "06"])));
    assert!(log.warnings().is_empty(), "{:?}", log.warnings());
}

/// Spaces around values and column names (a hand-edited file) are not part
/// of them.
#[test]
fn spaces_around_values_and_column_names_are_trimmed() {
    let users = " sourcedId , enabledUser,orgSourcedIds ,role,username,givenName,familyName,grades,metadata.ell \n\
                 \x20 u1 , true , s1 , student,  ann , Ann ,\" Ames \", 05 , Y \n\
                 \tu2\t,TRUE,s1,student,bo,Bo,Byrd,\" 05 , 06 \",\n";
    let root = package(
        "spaces",
        &[
            ("manifest.csv", MANIFEST_1_1),
            ("users.csv", users.as_bytes()),
        ],
    );
    assert_eq!(direct_plans(&root), [("users.csv", true)]);
    let mut log = Log::default();
    let users = read_all(&mut session(&root, 100), EntityKind::User, &mut log).unwrap();
    let ann = find(&users, "u1");
    same!(ann.get("enabledUser"), Some(Value::Boolean(true)));
    same!(
        ann.get("orgs"),
        Some(Value::References(vec![r(EntityKind::Org, "s1")]))
    );
    assert_eq!(ann.text("username"), Some("ann"));
    assert_eq!(ann.text("givenName"), Some("Ann"));
    assert_eq!(ann.text("familyName"), Some("Ames"));
    same!(ann.get("grades"), Some(texts(&["05"])));
    assert_eq!(ann.text("metadata.ell"), Some("Y"));
    same!(find(&users, "u2").get("grades"), Some(texts(&["05", "06"])));
    assert!(log.warnings().is_empty(), "{:?}", log.warnings());
}

/// Booleans as spreadsheets and home-grown exports write them.
#[test]
fn booleans_are_read_in_the_spellings_exports_use() {
    let spellings = [
        ("TRUE", true),
        ("true", true),
        ("True", true),
        ("1", true),
        ("yes", true),
        ("Y", true),
        ("FALSE", false),
        ("false", false),
        ("0", false),
        ("No", false),
        ("n", false),
    ];
    let mut users =
        String::from("sourcedId,enabledUser,orgSourcedIds,role,username,givenName,familyName\n");
    let mut enrollments =
        String::from("sourcedId,classSourcedId,schoolSourcedId,userSourcedId,role,primary\n");
    for (i, (text, _)) in spellings.iter().enumerate() {
        users.push_str(&format!("u{i},{text},s1,student,n{i},N,M\n"));
        enrollments.push_str(&format!("e{i},c1,s1,u{i},student,{text}\n"));
    }
    let root = package(
        "booleans",
        &[
            (
                "manifest.csv",
                b"propertyName,value\noneroster.version,1.1\nfile.users,bulk\nfile.enrollments,bulk\n",
            ),
            ("users.csv", users.as_bytes()),
            ("enrollments.csv", enrollments.as_bytes()),
        ],
    );
    let mut log = Log::default();
    let mut s = session(&root, 100);
    let users = read_all(&mut s, EntityKind::User, &mut log).unwrap();
    let enrollments = read_all(&mut s, EntityKind::Enrollment, &mut log).unwrap();
    for (i, (text, want)) in spellings.iter().enumerate() {
        same!(
            find(&users, &format!("u{i}")).get("enabledUser"),
            Some(Value::Boolean(*want))
        );
        assert!(
            matches!(find(&enrollments, &format!("e{i}")).get("primary"), Some(Value::Boolean(b)) if b == want),
            "{text}"
        );
    }
    assert!(log.warnings().is_empty(), "{:?}", log.warnings());
}

/// Empty lines (also lines of only spaces or only commas, as a spreadsheet
/// writes the rows it cleared) are not rows, wherever they are.
#[test]
fn empty_lines_and_lines_of_only_commas_are_not_rows() {
    let users = format!(
        "{USERS_1_1}u1,,,true,s1,student,ann,,Ann,Ames,,,,,,,05,\n\
         ,,,,,,,,,,,,,,,,,\n\
         u2,,,true,s1,student,bo,,Bo,Byrd,,,,,,,05,\n\
         \n\r\n   \n\
         ,,,,,,,,,,,,,,,,,\r\n\
         , ,\n\
         \n\n"
    );
    let root = package(
        "empty-lines",
        &[
            ("manifest.csv", MANIFEST_1_1),
            ("users.csv", users.as_bytes()),
        ],
    );
    for page_size in [1, 100] {
        let mut log = Log::default();
        let users = read_all(&mut session(&root, page_size), EntityKind::User, &mut log).unwrap();
        let ids: Vec<&str> = users.iter().map(|u| u.source_id.as_str()).collect();
        assert_eq!(ids, ["u1", "u2"]);
        assert!(log.warnings().is_empty(), "{:?}", log.warnings());
        assert!(
            log.lines
                .iter()
                .any(|l| format!("{l:?}").contains("users.csv: 2 rows read")),
            "{:?}",
            log.lines
        );
    }
    let message = session(&root, 10)
        .test_connection(&mut Log::default())
        .unwrap();
    assert!(message.ends_with("0 schools, 2 users"), "{message}");
}

/// Columns are found by name, in whatever order the export writes them.
#[test]
fn columns_in_another_order_than_the_specifications_read_the_same() {
    let spec_order = format!(
        "{USERS_1_2}\nu1,active,2024-09-02T08:15:00Z,true,ann,{{SIS:1}},Ann,Ames,,1001,ann@x.org,,,,05,,,,Annie,,,s1,\n"
    );
    let shuffled = "pronouns,email,familyName,givenName,username,enabledUser,userIds,grades,sourcedId,primaryOrgSourcedId,dateLastModified,preferredGivenName,identifier,status\n\
                    ,ann@x.org,Ames,Ann,ann,true,{SIS:1},05,u1,s1,2024-09-02T08:15:00Z,Annie,1001,active\n";
    let roles_in_spec_order = "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,userProfileSourcedId\n\
                               r1,,,u1,primary,student,2024-08-19,,s1,\n";
    let roles_shuffled = "orgSourcedId,role,sourcedId,beginDate,roleType,userSourcedId\n\
                          s1,student,r1,2024-08-19,primary,u1\n";
    let read = |name: &str, users: &str, roles: &str| {
        let root = package(
            name,
            &[
                ("manifest.csv", MANIFEST_1_2),
                ("users.csv", users.as_bytes()),
                ("roles.csv", roles.as_bytes()),
            ],
        );
        assert_eq!(direct_plans(&root), [("users.csv", true)]);
        let mut log = Log::default();
        let users = read_all(&mut session(&root, 100), EntityKind::User, &mut log).unwrap();
        assert!(log.warnings().is_empty(), "{:?}", log.warnings());
        users
    };
    let want = read("spec-order", &spec_order, roles_in_spec_order);
    let got = read("shuffled", shuffled, roles_shuffled);
    assert_eq!(format!("{got:?}"), format!("{want:?}"));
    let ann = find(&got, "u1");
    assert_eq!(ann.text("email"), Some("ann@x.org"));
    assert_eq!(ann.text("preferredFirstName"), Some("Annie"));
    assert_eq!(ann.text("role"), Some("student"));
    assert_eq!(
        ann.date_last_modified.as_deref(),
        Some("2024-09-02T08:15:00Z")
    );
}

/// What the host refuses in a whole page is refused here row by row or
/// column by column, so one odd cell skips its row and no more: a sourcedId
/// holding a control character skips its row; a column whose name the hub
/// cannot keep as an attribute name (a control character, more than 64
/// characters) is left out, and both are said.
#[test]
fn ids_and_column_names_the_hub_cannot_keep_are_skipped_and_said() {
    let long = format!("metadata.{}", "x".repeat(70));
    let users = format!(
        "{},{long},metadata.tab\there\n\
         u1,,,true,s1,student,ann,,Ann,Ames,,,,,,,05,,a,b\n\
         u\x1b[2K2,,,true,s1,student,bo,,Bo,Byrd,,,,,,,05,,a,b\n\
         u3,,,true,s1,student,cy,,Cy,Cole,,,,,,,05,,a,b\n",
        USERS_1_1.trim_end()
    );
    let root = package(
        "unkeepable",
        &[
            ("manifest.csv", MANIFEST_1_1),
            ("users.csv", users.as_bytes()),
        ],
    );
    let mut log = Log::default();
    let users = read_all(&mut session(&root, 100), EntityKind::User, &mut log).unwrap();
    let ids: Vec<&str> = users.iter().map(|u| u.source_id.as_str()).collect();
    assert_eq!(ids, ["u1", "u3"]);
    assert!(
        users[0]
            .attributes
            .iter()
            .all(|a| !a.name.starts_with("metadata.")),
        "{:?}",
        users[0].attributes
    );
    let warnings = log.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("column `metadata.xxx") && w.contains("is left out")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("metadata.tab\\there")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("users.csv line 3: its sourcedId holds a control character")),
        "{warnings:?}"
    );
}

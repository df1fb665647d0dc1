//! The district issue 18's review stories import: thousands of students in
//! two schools (two of them of one name), teachers and aides, parents and
//! guardians, administrators, a class and a few enrollments, with how many
//! of each, so the API and browser tests count against the same numbers.
//! Test data only; it starts nothing.

use std::path::Path;

use homeroom_host::config::{DistrictConfig, Organization, SourceConfig};
use homeroom_host::pipeline::{Engine, ImportOptions};
use homeroom_host::store::{Run, RunStatus};
use serde_json::json;

use crate::support::{Fixture, org_ref};

/// Organization `org` (Springfield) with one integration, "Springfield
/// SIS" (id `sis`, previewed), reading `d` from `folder`; its first import,
/// waiting for approval.
pub async fn waiting_import(engine: &Engine, folder: &Path, org: &str, d: &District) -> Run {
    d.fixture.write(folder);
    let mut sis = SourceConfig::new("sis", "fixture-connector");
    sis.name = Some("Springfield SIS".into());
    sis.folder = Some(folder.display().to_string());
    sis.advanced.preview = true;
    let config = DistrictConfig {
        organization: Organization {
            id: org.to_string(),
            name: "Springfield".into(),
            ..Default::default()
        },
        sources: vec![sis],
        vendors: Vec::new(),
    };
    engine.apply_config(&config).await.expect("apply");
    let run = engine
        .import(org, "sis", ImportOptions::default())
        .await
        .expect("import");
    assert_eq!(run.status, RunStatus::AwaitingApproval, "{:?}", run.report);
    run
}

/// What a district's first import brings, and how many of each.
pub struct District {
    pub fixture: Fixture,
    pub students_s1: usize,
    pub students_s2: usize,
    pub teachers: usize,
    pub contacts: usize,
    pub admins: usize,
}

/// Two schools; `n` students (two of them both named Ada Lovelace, one in
/// each school), teachers and aides, parents and guardians, administrators,
/// a class and the enrollments of its first five students.
pub fn district(n: usize) -> District {
    let mut f = Fixture::default();
    f.with_schools();
    let (mut s1, mut s2) = (0, 0);
    for i in 1..=n {
        let school = if i % 3 == 0 { "s1" } else { "s2" };
        if school == "s1" {
            s1 += 1
        } else {
            s2 += 1
        }
        f.student(
            &format!("st{i}"),
            &format!("Given{i}"),
            &format!("Family{i}"),
            &format!("st{i}@sis.example"),
            school,
            "05",
        );
    }
    for (id, school) in [("ada-1", "s1"), ("ada-2", "s2")] {
        f.student(
            id,
            "Ada",
            "Lovelace",
            &format!("{id}@sis.example"),
            school,
            "07",
        );
    }
    s1 += 1;
    s2 += 1;
    let teachers = 12;
    for i in 1..=teachers {
        let role = if i % 4 == 0 { "aide" } else { "teacher" };
        f.add(
            "user",
            &format!("t{i}"),
            json!({"givenName": format!("Teach{i}"), "familyName": "Staff", "email": format!("t{i}@sis.example"),
                   "role": role, "orgs": [org_ref("s1")]}),
        );
    }
    let contacts = 8;
    for i in 1..=contacts {
        let role = if i % 2 == 0 { "parent" } else { "guardian" };
        f.add(
            "user",
            &format!("p{i}"),
            json!({"givenName": format!("Parent{i}"), "familyName": "Home", "role": role, "orgs": [org_ref("s2")]}),
        );
    }
    let admins = 2;
    for i in 1..=admins {
        f.add(
            "user",
            &format!("a{i}"),
            json!({"givenName": format!("Admin{i}"), "familyName": "Office", "role": "administrator", "orgs": [org_ref("d1")]}),
        );
    }
    f.add(
        "class",
        "c1",
        json!({"title": "Algebra 1", "school": org_ref("s1")}),
    );
    for i in 1..=5 {
        f.add(
            "enrollment",
            &format!("e{i}"),
            json!({"user": {"kind": "user", "id": format!("st{i}")}, "class": {"kind": "class", "id": "c1"}, "role": "student"}),
        );
    }
    District {
        fixture: f,
        students_s1: s1,
        students_s2: s2,
        teachers,
        contacts,
        admins,
    }
}

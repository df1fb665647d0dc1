//! What the mock serves: OneRoster records in the JSON shape of the REST
//! binding, one list per collection (`orgs`, `users`, `lineItems`, ...),
//! stored in the 1.2 shape and presented per version on the way out (a 1.1
//! user gets `role` and `orgs` instead of `roles`, 1.2-only fields go, every
//! GUID reference gets its `href`). Also: a small district built in code, a
//! generator of many students for paging, a loader of OneRoster CSV packages
//! (`manifest.csv` plus one file per collection, 1.1 or 1.2), and the schema
//! a write (`PUT lineItems/{id}`, `PUT results/{id}`) must follow.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Map, Value as Json, json};

use super::Version;

/// `dateLastModified` of records that came without one.
pub const DEFAULT_TIME: &str = "2024-08-01T00:00:00.000Z";

/// Collections of OneRoster records by collection name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    collections: BTreeMap<String, Vec<Stored>>,
}

/// One stored record, kept as its JSON text: a size-L district (3.4 million
/// records) held as `serde_json::Value` trees took 17 GB in the mock, on the
/// machine the hub it serves runs on (each object a B-tree node of its own).
/// Its id, status and `dateLastModified` are kept beside the text, so a
/// lookup by id and a delta's filter read no JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    id: Box<str>,
    status: Box<str>,
    modified: Box<str>,
    text: Box<str>,
}

impl Stored {
    /// The top-level fields kept beside the text.
    pub const HEAD: &[&str] = &["sourcedId", "status", "dateLastModified"];

    fn new(record: &Json) -> Stored {
        let field = |k: &str| record.get(k).and_then(Json::as_str).unwrap_or("").into();
        Stored {
            id: field("sourcedId"),
            status: field("status"),
            modified: field("dateLastModified"),
            text: record.to_string().into(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn modified(&self) -> &str {
        &self.modified
    }

    /// The record (the text is the mock's own writing: it parses).
    pub fn json(&self) -> Json {
        serde_json::from_str(&self.text).unwrap_or(Json::Null)
    }

    /// Make `head` hold only the fields of `HEAD`, as this record has them
    /// (its strings are reused: a delta's filter runs over every record).
    pub fn fill_head(&self, head: &mut Map<String, Json>) {
        for (k, v) in [
            ("sourcedId", &self.id),
            ("status", &self.status),
            ("dateLastModified", &self.modified),
        ] {
            match head.get_mut(k) {
                _ if v.is_empty() => {
                    head.remove(k);
                }
                Some(Json::String(s)) => {
                    s.clear();
                    s.push_str(v);
                }
                _ => {
                    head.insert(k.into(), json!(v.as_ref()));
                }
            }
        }
    }
}

/// A GUID reference (its `href` is filled in when served).
pub fn guid(type_name: &str, id: &str) -> Json {
    json!({"sourcedId": id, "type": type_name})
}

impl Dataset {
    pub fn new() -> Dataset {
        Dataset::default()
    }

    /// Add a record to a collection (`status` and `dateLastModified` filled
    /// in when missing).
    pub fn insert(&mut self, collection: &str, mut record: Json) {
        if let Some(o) = record.as_object_mut() {
            o.entry("status").or_insert_with(|| json!("active"));
            o.entry("dateLastModified")
                .or_insert_with(|| json!(DEFAULT_TIME));
        }
        self.collections
            .entry(collection.to_string())
            .or_default()
            .push(Stored::new(&record));
    }

    /// The records of a collection, in order.
    pub fn records(&self, collection: &str) -> Vec<Json> {
        self.stored(collection).iter().map(Stored::json).collect()
    }

    /// The records of a collection as stored (read one with `json`).
    pub fn stored(&self, collection: &str) -> &[Stored] {
        self.collections
            .get(collection)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    pub fn len(&self, collection: &str) -> usize {
        self.stored(collection).len()
    }

    /// The record of a collection with this id.
    pub fn get(&self, collection: &str, id: &str) -> Option<Json> {
        self.stored(collection)
            .iter()
            .find(|r| r.id() == id)
            .map(Stored::json)
    }

    /// Change the record of a collection with this id; false when there is
    /// none.
    pub fn update(
        &mut self,
        collection: &str,
        id: &str,
        change: impl FnOnce(&mut Map<String, Json>),
    ) -> bool {
        let Some(stored) = self
            .collections
            .get_mut(collection)
            .and_then(|c| c.iter_mut().find(|r| r.id() == id))
        else {
            return false;
        };
        let mut record = stored.json();
        if let Some(o) = record.as_object_mut() {
            change(o);
        }
        *stored = Stored::new(&record);
        true
    }

    /// A small district: 1 district and 2 schools, 3 academic sessions, 2
    /// courses, 3 classes, 10 users (2 teachers, 1 administrator, 6 students,
    /// 1 guardian), 9 enrollments, 6 demographics, 2 categories, 2 line
    /// items, 3 results; everything last modified on 2024-08-01.
    pub fn sample() -> Dataset {
        let mut d = Dataset::new();
        d.insert(
            "orgs",
            json!({"sourcedId": "d1", "name": "Springfield Unified", "type": "district",
            "identifier": "SU", "children": [guid("org", "s1"), guid("org", "s2")]}),
        );
        d.insert(
            "orgs",
            json!({"sourcedId": "s1", "name": "Springfield High", "type": "school",
            "identifier": "SHS", "parent": guid("org", "d1"), "metadata": {"ncesId": "0601234"}}),
        );
        d.insert(
            "orgs",
            json!({"sourcedId": "s2", "name": "Springfield Elementary", "type": "school",
            "identifier": "SES", "parent": guid("org", "d1")}),
        );

        d.insert(
            "academicSessions",
            json!({"sourcedId": "y2024", "title": "2024-2025", "type": "schoolYear",
            "startDate": "2024-08-01", "endDate": "2025-06-30", "schoolYear": "2025",
            "children": [guid("academicSession", "t1")]}),
        );
        d.insert("academicSessions", json!({"sourcedId": "t1", "title": "Fall 2024", "type": "term",
            "startDate": "2024-08-15", "endDate": "2024-12-20", "schoolYear": "2025",
            "parent": guid("academicSession", "y2024"), "children": [guid("academicSession", "gp1")]}));
        d.insert(
            "academicSessions",
            json!({"sourcedId": "gp1", "title": "Q1", "type": "gradingPeriod",
            "startDate": "2024-08-15", "endDate": "2024-10-15", "schoolYear": "2025",
            "parent": guid("academicSession", "t1")}),
        );

        d.insert(
            "courses",
            json!({"sourcedId": "co-alg", "title": "Algebra I", "courseCode": "ALG1",
            "grades": ["09"], "subjects": ["Mathematics"], "org": guid("org", "s1"),
            "schoolYear": guid("academicSession", "y2024")}),
        );
        d.insert("courses", json!({"sourcedId": "co-read", "title": "Reading 3", "courseCode": "READ3",
            "grades": ["03"], "org": guid("org", "s2"), "schoolYear": guid("academicSession", "y2024")}));

        for (id, title, course, school, period, class_type) in [
            (
                "c-alg-1",
                "Algebra I - P1",
                "co-alg",
                "s1",
                "1",
                "scheduled",
            ),
            (
                "c-alg-2",
                "Algebra I - P2",
                "co-alg",
                "s1",
                "2",
                "scheduled",
            ),
            ("c-read", "Reading 3A", "co-read", "s2", "1", "homeroom"),
        ] {
            d.insert("classes", json!({"sourcedId": id, "title": title, "classCode": id.to_uppercase(),
                "classType": class_type, "course": guid("course", course), "school": guid("org", school),
                "terms": [guid("academicSession", "t1")], "periods": [period]}));
        }

        let user =
            |id: &str, given: &str, family: &str, role: &str, school: &str, grade: Option<&str>| {
                let mut u = json!({"sourcedId": id, "enabledUser": "true", "username": id,
                "userIds": [{"type": "LDAP", "identifier": format!("{id}@springfield.k12")}],
                "givenName": given, "familyName": family, "identifier": id.to_uppercase(),
                "email": format!("{id}@springfield.k12"),
                "roles": [{"roleType": "primary", "role": role, "org": guid("org", school)}],
                "primaryOrg": guid("org", school)});
                if let Some(g) = grade {
                    u["grades"] = json!([g]);
                }
                u
            };
        d.insert(
            "users",
            user("t-1", "Grace", "Hopper", "teacher", "s1", None),
        );
        d.insert(
            "users",
            user("t-2", "Alan", "Turing", "teacher", "s2", None),
        );
        d.insert(
            "users",
            user("a-1", "Ada", "Byron", "administrator", "s1", None),
        );
        for (i, (given, family)) in [
            ("Sofia", "Martinez"),
            ("Liam", "Chen"),
            ("Noah", "Patel"),
            ("Emma", "Okafor"),
        ]
        .iter()
        .enumerate()
        {
            d.insert(
                "users",
                user(
                    &format!("st-{}", i + 1),
                    given,
                    family,
                    "student",
                    "s1",
                    Some("09"),
                ),
            );
        }
        let mut st5 = user("st-5", "Mia", "Rossi", "student", "s2", Some("03"));
        st5["agents"] = json!([guid("user", "g-1")]);
        d.insert("users", st5);
        d.insert(
            "users",
            user("st-6", "Lucas", "Nguyen", "student", "s2", Some("03")),
        );
        let mut g1 = user("g-1", "Paola", "Rossi", "guardian", "s2", None);
        g1["agents"] = json!([guid("user", "st-5")]);
        d.insert("users", g1);

        let mut n = 0;
        let mut enroll = |user: &str, class: &str, school: &str, role: &str| {
            n += 1;
            let mut e = json!({"sourcedId": format!("e-{n}"), "user": guid("user", user),
                "class": guid("class", class), "school": guid("org", school), "role": role,
                "beginDate": "2024-08-15", "endDate": "2024-12-20"});
            if role == "teacher" {
                e["primary"] = json!("true");
            }
            e
        };
        let enrollments = [
            enroll("t-1", "c-alg-1", "s1", "teacher"),
            enroll("t-1", "c-alg-2", "s1", "teacher"),
            enroll("st-1", "c-alg-1", "s1", "student"),
            enroll("st-2", "c-alg-1", "s1", "student"),
            enroll("st-3", "c-alg-2", "s1", "student"),
            enroll("st-4", "c-alg-2", "s1", "student"),
            enroll("t-2", "c-read", "s2", "teacher"),
            enroll("st-5", "c-read", "s2", "student"),
            enroll("st-6", "c-read", "s2", "student"),
        ];
        for e in enrollments {
            d.insert("enrollments", e);
        }

        for (i, sex) in ["female", "male", "male", "female", "female", "male"]
            .iter()
            .enumerate()
        {
            d.insert(
                "demographics",
                json!({"sourcedId": format!("st-{}", i + 1),
                "birthDate": format!("20{:02}-0{}-1{}", 9 + i / 4 * 6, i + 1, i), "sex": sex,
                "white": if i % 2 == 0 { "true" } else { "false" },
                "hispanicOrLatinoEthnicity": if i == 0 { "true" } else { "false" }}),
            );
        }

        d.insert(
            "categories",
            json!({"sourcedId": "cat-hw", "title": "Homework", "weight": 0.4}),
        );
        d.insert(
            "categories",
            json!({"sourcedId": "cat-test", "title": "Tests", "weight": 0.6}),
        );
        for (id, title, category) in [
            ("li-1", "Quiz 1", "cat-test"),
            ("li-2", "Homework 1", "cat-hw"),
        ] {
            d.insert("lineItems", json!({"sourcedId": id, "title": title, "description": format!("{title} of Algebra I"),
                "assignDate": "2024-09-02T08:00:00.000Z", "dueDate": "2024-09-09T23:59:00.000Z",
                "class": guid("class", "c-alg-1"), "school": guid("org", "s1"),
                "category": guid("category", category), "gradingPeriod": guid("academicSession", "gp1"),
                "resultValueMin": 0.0, "resultValueMax": 10.0}));
        }
        for (id, li, student, score) in [
            ("r-1", "li-1", "st-1", 9.0),
            ("r-2", "li-1", "st-2", 7.5),
            ("r-3", "li-2", "st-1", 10.0),
        ] {
            d.insert("results", json!({"sourcedId": id, "lineItem": guid("lineItem", li),
                "student": guid("user", student), "class": guid("class", "c-alg-1"),
                "scoreStatus": "fully graded", "score": score, "scoreDate": "2024-09-10", "late": "false"}));
        }
        d
    }

    /// `count` more students at school `s1`, ids `gen-00000`..., for paging.
    pub fn with_students(mut self, count: usize) -> Dataset {
        for i in 0..count {
            let id = format!("gen-{i:05}");
            self.insert(
                "users",
                json!({"sourcedId": id, "enabledUser": "true", "givenName": format!("Student{i}"),
                "familyName": "Generated", "grades": ["10"],
                "roles": [{"roleType": "primary", "role": "student", "org": guid("org", "s1")}]}),
            );
        }
        self
    }

    /// Load a OneRoster CSV package (1.1 or 1.2): `manifest.csv` names the
    /// files present (`file.users,bulk`); each becomes its collection in the
    /// REST shape. 1.2 `roles.csv` and `userProfiles.csv` fold into their
    /// users; `parentSourcedId` also fills the parent's `children`.
    pub fn from_csv_dir(dir: &Path) -> anyhow::Result<Dataset> {
        let manifest = read_csv(&dir.join("manifest.csv"))
            .with_context(|| format!("{} is not a OneRoster CSV package", dir.display()))?;
        let mut files = Vec::new();
        for row in &manifest {
            let (Some(name), Some(mode)) = (row.get("propertyName"), row.get("value")) else {
                bail!("manifest.csv needs the columns propertyName and value");
            };
            if let Some(file) = name.strip_prefix("file.")
                && matches!(mode.trim(), "bulk" | "delta")
            {
                files.push(file.to_string());
            }
        }
        let mut d = Dataset::new();
        // Roles and profiles by their user's id, read first (they are few
        // fields each), so each user is stored once, with them, as it is read.
        let mut joined: HashMap<String, Vec<(&'static str, Json)>> = HashMap::new();
        let listed = |name: &str| files.iter().any(|f| f == name);
        let path = |file: &str| dir.join(format!("{file}.csv"));
        let lists = |file: &str| format!("manifest.csv lists {file}.csv");
        if listed("roles") {
            for_each_row(&path("roles"), |role| {
                if role.get("status").is_some_and(|s| s == "tobedeleted") {
                    return;
                }
                let Some(user) = role.get("userSourcedId") else {
                    return;
                };
                let mut r = Map::new();
                for key in ["roleType", "role", "beginDate", "endDate"] {
                    if let Some(v) = role.get(key).filter(|v| !v.is_empty()) {
                        r.insert(key.into(), json!(v));
                    }
                }
                if let Some(org) = role.get("orgSourcedId").filter(|v| !v.is_empty()) {
                    r.insert("org".into(), guid("org", org));
                }
                joined
                    .entry(user.clone())
                    .or_default()
                    .push(("roles", Json::Object(r)));
            })
            .with_context(|| lists("roles"))?;
        }
        if listed("userProfiles") {
            for_each_row(&path("userProfiles"), |p| {
                let Some(user) = p.get("userSourcedId") else {
                    return;
                };
                let text = |k: &str| p.get(k).filter(|v| !v.is_empty()).map(|v| json!(v));
                let mut profile = Map::new();
                for (key, column) in [
                    ("profileId", "sourcedId"),
                    ("profileType", "profileType"),
                    ("vendorId", "vendorId"),
                    ("applicationId", "applicationId"),
                    ("description", "description"),
                ] {
                    if let Some(v) = text(column) {
                        profile.insert(key.into(), v);
                    }
                }
                if let Some(kind) = text("credentialType") {
                    let mut c =
                        json!({"type": kind, "username": text("username").unwrap_or(json!(""))});
                    if let Some(pw) = text("password") {
                        c["password"] = pw;
                    }
                    profile.insert("credentials".into(), json!([c]));
                }
                joined
                    .entry(user.clone())
                    .or_default()
                    .push(("userProfiles", Json::Object(profile)));
            })
            .with_context(|| lists("userProfiles"))?;
        }
        for file in &files {
            match file.as_str() {
                "orgs" | "academicSessions" | "courses" | "classes" | "users" | "enrollments"
                | "demographics" | "categories" | "lineItems" | "results" | "scoreScales"
                | "resources" => {
                    for_each_row(&path(file), |row| {
                        let mut record = row_to_json(file, row);
                        if let (true, Some(o), Some(id)) = (
                            file == "users",
                            record.as_object_mut(),
                            row.get("sourcedId"),
                        ) && let Some(parts) = joined.remove(id)
                        {
                            for (key, value) in parts {
                                push(o, key, value);
                            }
                        }
                        d.insert(file, record);
                    })
                    .with_context(|| lists(file))?;
                }
                // Join files (classResources, lineItemScoreScales, ...) are
                // not served by this mock.
                _ => {}
            }
        }
        for (collection, type_name) in [("orgs", "org"), ("academicSessions", "academicSession")] {
            let links: Vec<(String, String)> = d
                .records(collection)
                .iter()
                .filter_map(|r| {
                    let child = r.get("sourcedId")?.as_str()?.to_string();
                    let parent = r.get("parent")?.get("sourcedId")?.as_str()?.to_string();
                    Some((parent, child))
                })
                .collect();
            for (parent, child) in links {
                d.update(collection, &parent, |p| {
                    push(p, "children", guid(type_name, &child))
                });
            }
        }
        Ok(d)
    }
}

fn push(object: &mut Map<String, Json>, key: &str, value: Json) {
    match object.get_mut(key) {
        Some(Json::Array(items)) => items.push(value),
        _ => {
            object.insert(key.to_string(), Json::Array(vec![value]));
        }
    }
}

fn read_csv(path: &Path) -> anyhow::Result<Vec<BTreeMap<String, String>>> {
    let mut rows = Vec::new();
    for_each_row(path, |row| rows.push(row.clone()))?;
    Ok(rows)
}

/// Each row of a CSV file as column → value, one at a time (a size-L
/// package's files held whole took gigabytes).
fn for_each_row(path: &Path, mut f: impl FnMut(&BTreeMap<String, String>)) -> anyhow::Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let headers: Vec<String> = reader
        .headers()
        .with_context(|| format!("{}: no header row", path.display()))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut row = BTreeMap::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{} row {}", path.display(), i + 2))?;
        row.clear();
        for (h, v) in headers.iter().zip(record.iter()) {
            row.insert(h.clone(), v.to_string());
        }
        f(&row);
    }
    Ok(())
}

/// The `type` of a GUID reference named by a CSV column's stem
/// (`schoolSourcedId` → `org`).
fn ref_type(stem: &str, file: &str) -> &'static str {
    match stem {
        "org" | "school" | "primaryOrg" => "org",
        "parent" if file == "orgs" => "org",
        "parent" | "schoolYear" | "term" | "gradingPeriod" | "academicSession" => "academicSession",
        "user" | "student" | "agent" => "user",
        "course" => "course",
        "class" => "class",
        "category" => "category",
        "lineItem" => "lineItem",
        "scoreScale" => "scoreScale",
        "resource" => "resource",
        _ => "unknown",
    }
}

/// One CSV row as the REST binding's JSON: `xSourcedId` → a GUID reference
/// `x`, `xSourcedIds` → a list `xs`, list columns split on commas, `userIds`
/// (`{type:id},{type:id}`) as objects, numbers as numbers, empty cells left out.
pub fn row_to_json(file: &str, row: &BTreeMap<String, String>) -> Json {
    let mut out = Map::new();
    for (column, value) in row {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let (key, json) = if let Some(stem) = column.strip_suffix("SourcedIds") {
            let refs = value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|id| guid(ref_type(stem, file), id))
                .collect();
            (format!("{stem}s"), Json::Array(refs))
        } else if let Some(stem) = column.strip_suffix("SourcedId").filter(|s| !s.is_empty()) {
            (stem.to_string(), guid(ref_type(stem, file), value))
        } else {
            match column.as_str() {
                "grades" | "subjects" | "subjectCodes" | "periods" => (
                    column.clone(),
                    Json::Array(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|v| !v.is_empty())
                            .map(|v| json!(v))
                            .collect(),
                    ),
                ),
                "userIds" => (
                    column.clone(),
                    Json::Array(
                        value
                            .split('}')
                            .filter_map(|p| {
                                let p = p.trim_start_matches([',', ' ', '{']);
                                let (kind, id) = p.split_once(':')?;
                                Some(json!({"type": kind.trim(), "identifier": id.trim()}))
                            })
                            .collect(),
                    ),
                ),
                "weight" | "score" | "resultValueMin" | "resultValueMax" => {
                    match value.parse::<f64>() {
                        Ok(n) => (column.clone(), json!(n)),
                        Err(_) => (column.clone(), json!(value)),
                    }
                }
                "preferredGivenName" => ("preferredFirstName".into(), json!(value)),
                "preferredFamilyName" => ("preferredLastName".into(), json!(value)),
                "status" => (column.clone(), json!(value.to_ascii_lowercase())),
                _ => (column.clone(), json!(value)),
            }
        };
        out.insert(key, json);
    }
    Json::Object(out)
}

/// The service and collection path a reference of `type_name` points into.
pub fn ref_path(type_name: &str) -> (super::Service, &'static str) {
    use super::Service::*;
    match type_name {
        "org" | "school" | "district" => (Rostering, "orgs"),
        "academicSession" | "term" | "gradingPeriod" | "schoolYear" | "semester" => {
            (Rostering, "academicSessions")
        }
        "course" => (Rostering, "courses"),
        "class" => (Rostering, "classes"),
        "user" | "student" | "teacher" | "guardian" => (Rostering, "users"),
        "enrollment" => (Rostering, "enrollments"),
        "demographics" => (Rostering, "demographics"),
        "category" => (Gradebook, "categories"),
        "lineItem" => (Gradebook, "lineItems"),
        "result" => (Gradebook, "results"),
        "scoreScale" => (Gradebook, "scoreScales"),
        "resource" => (Resources, "resources"),
        _ => (Rostering, "unknown"),
    }
}

/// Fields of the 1.2 schema that 1.1 does not have, per collection.
fn only_1p2(collection: &str) -> &'static [&'static str] {
    match collection {
        "users" => &[
            "userMasterIdentifier",
            "preferredFirstName",
            "preferredMiddleName",
            "preferredLastName",
            "pronouns",
            "roles",
            "userProfiles",
            "primaryOrg",
            "resources",
        ],
        "categories" => &["weight"],
        "lineItems" => &[
            "school",
            "academicSession",
            "scoreScale",
            "learningObjectiveSet",
        ],
        "results" => &[
            "class",
            "scoreScale",
            "textScore",
            "learningObjectiveSet",
            "inProgress",
            "incomplete",
            "late",
            "missing",
        ],
        _ => &[],
    }
}

/// Top-level fields `present` may add to a stored record (a user's roles in
/// the shape of the version served).
pub const PRESENTED_ONLY: &[&str] = &["role", "orgs", "roles"];

/// A stored record as `version` serves it, GUID references with `href`s
/// under `root` (the server's address).
pub fn present(record: Json, collection: &str, version: Version, root: &str) -> Json {
    let mut out = record;
    if let Some(o) = out.as_object_mut() {
        if collection == "users" {
            user_roles(o, version);
        }
        if version == Version::V1p1 {
            for field in only_1p2(collection) {
                o.remove(*field);
            }
        }
        for (key, value) in o.iter_mut() {
            if key != "metadata" {
                fill_hrefs(value, version, root);
            }
        }
    }
    out
}

/// 1.1 users have `role` and `orgs`; 1.2 users have `roles`. Derive the one
/// this version needs from whichever the record has.
fn user_roles(user: &mut Map<String, Json>, version: Version) {
    match version {
        Version::V1p1 => {
            let roles = user
                .get("roles")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            if !user.contains_key("role") {
                let primary = roles
                    .iter()
                    .find(|r| r.get("roleType").and_then(Json::as_str) == Some("primary"))
                    .or_else(|| roles.first())
                    .and_then(|r| r.get("role").cloned());
                if let Some(role) = primary {
                    user.insert("role".into(), role);
                }
            }
            if !user.contains_key("orgs") {
                let mut orgs: Vec<Json> = Vec::new();
                for org in roles.iter().filter_map(|r| r.get("org")) {
                    if !orgs.contains(org) {
                        orgs.push(org.clone());
                    }
                }
                user.insert("orgs".into(), Json::Array(orgs));
            }
        }
        Version::V1p2 => {
            let role = user.remove("role");
            let orgs = user.remove("orgs");
            if !user.contains_key("roles")
                && let (Some(role), Some(Json::Array(orgs))) = (role, orgs)
            {
                let roles = orgs
                    .into_iter()
                    .enumerate()
                    .map(|(i, org)| {
                        json!({"roleType": if i == 0 { "primary" } else { "secondary" }, "role": role, "org": org})
                    })
                    .collect();
                user.insert("roles".into(), Json::Array(roles));
            }
        }
    }
}

fn fill_hrefs(value: &mut Json, version: Version, root: &str) {
    match value {
        Json::Array(items) => items.iter_mut().for_each(|i| fill_hrefs(i, version, root)),
        Json::Object(o) => {
            let reference = match (o.get("sourcedId"), o.get("type")) {
                (Some(Json::String(id)), Some(Json::String(t))) => Some((id.clone(), t.clone())),
                _ => None,
            };
            if let Some((id, type_name)) = reference {
                let (service, path) = ref_path(&type_name);
                o.insert(
                    "href".into(),
                    json!(format!("{root}{}/{path}/{id}", version.base_path(service))),
                );
            } else {
                o.values_mut().for_each(|v| fill_hrefs(v, version, root));
            }
        }
        _ => {}
    }
}

/// What a written record may hold, per the OpenAPI schemas (no other fields:
/// `additionalProperties: false`).
pub struct WriteSchema {
    pub allowed: &'static [&'static str],
    /// Required fields besides `sourcedId`, `status` and `dateLastModified`,
    /// which the mock fills in.
    pub required: &'static [&'static str],
    /// GUID reference fields and the `type` each must carry.
    pub refs: &'static [(&'static str, &'static str)],
    pub numbers: &'static [&'static str],
    /// Booleans, which OneRoster writes as the strings "true" / "false".
    pub booleans: &'static [&'static str],
}

pub fn write_schema(collection: &str, version: Version) -> Option<WriteSchema> {
    Some(match (collection, version) {
        ("lineItems", Version::V1p2) => WriteSchema {
            allowed: &[
                "sourcedId",
                "status",
                "dateLastModified",
                "metadata",
                "title",
                "description",
                "assignDate",
                "dueDate",
                "class",
                "school",
                "category",
                "gradingPeriod",
                "academicSession",
                "scoreScale",
                "resultValueMin",
                "resultValueMax",
                "learningObjectiveSet",
            ],
            required: &[
                "title",
                "assignDate",
                "dueDate",
                "class",
                "school",
                "category",
            ],
            refs: &[
                ("class", "class"),
                ("school", "org"),
                ("category", "category"),
                ("gradingPeriod", "academicSession"),
                ("academicSession", "academicSession"),
                ("scoreScale", "scoreScale"),
            ],
            numbers: &["resultValueMin", "resultValueMax"],
            booleans: &[],
        },
        ("lineItems", Version::V1p1) => WriteSchema {
            allowed: &[
                "sourcedId",
                "status",
                "dateLastModified",
                "metadata",
                "title",
                "description",
                "assignDate",
                "dueDate",
                "class",
                "category",
                "gradingPeriod",
                "resultValueMin",
                "resultValueMax",
            ],
            required: &["title", "assignDate", "dueDate", "class", "category"],
            refs: &[
                ("class", "class"),
                ("category", "category"),
                ("gradingPeriod", "academicSession"),
            ],
            numbers: &["resultValueMin", "resultValueMax"],
            booleans: &[],
        },
        ("results", Version::V1p2) => WriteSchema {
            allowed: &[
                "sourcedId",
                "status",
                "dateLastModified",
                "metadata",
                "lineItem",
                "student",
                "class",
                "scoreScale",
                "scoreStatus",
                "score",
                "textScore",
                "scoreDate",
                "comment",
                "learningObjectiveSet",
                "inProgress",
                "incomplete",
                "late",
                "missing",
            ],
            required: &["lineItem", "student", "scoreStatus", "scoreDate"],
            refs: &[
                ("lineItem", "lineItem"),
                ("student", "user"),
                ("class", "class"),
                ("scoreScale", "scoreScale"),
            ],
            numbers: &["score"],
            booleans: &["inProgress", "incomplete", "late", "missing"],
        },
        ("results", Version::V1p1) => WriteSchema {
            allowed: &[
                "sourcedId",
                "status",
                "dateLastModified",
                "metadata",
                "lineItem",
                "student",
                "scoreStatus",
                "score",
                "scoreDate",
                "comment",
            ],
            required: &["lineItem", "student", "scoreStatus", "scoreDate"],
            refs: &[("lineItem", "lineItem"), ("student", "user")],
            numbers: &["score"],
            booleans: &[],
        },
        _ => return None,
    })
}

impl WriteSchema {
    /// Check a record against the schema; the reason for a 400/422 otherwise.
    pub fn check(&self, record: &Json) -> Result<(), String> {
        let Some(o) = record.as_object() else {
            return Err("the record is not a JSON object".into());
        };
        for key in o.keys() {
            if !self.allowed.contains(&key.as_str()) {
                return Err(format!("`{key}` is not a field of this record"));
            }
        }
        for key in self.required {
            if !o.contains_key(*key) {
                return Err(format!("the required field `{key}` is missing"));
            }
        }
        for (key, type_name) in self.refs {
            let Some(r) = o.get(*key) else { continue };
            let ok = r.as_object().is_some_and(|m| {
                m.len() == 3
                    && m.get("href").is_some_and(Json::is_string)
                    && m.get("sourcedId")
                        .and_then(Json::as_str)
                        .is_some_and(|s| !s.is_empty())
                    && m.get("type").and_then(Json::as_str) == Some(*type_name)
            });
            if !ok {
                return Err(format!(
                    "`{key}` must be a GUID reference {{href, sourcedId, type: \"{type_name}\"}}, not {r}"
                ));
            }
        }
        for key in self.numbers {
            if o.get(*key).is_some_and(|v| !v.is_number()) {
                return Err(format!("`{key}` must be a number"));
            }
        }
        for key in self.booleans {
            if o.get(*key)
                .is_some_and(|v| !matches!(v.as_str(), Some("true" | "false")))
            {
                return Err(format!("`{key}` must be \"true\" or \"false\""));
            }
        }
        if let Some(status) = o.get("status")
            && !matches!(status.as_str(), Some("active" | "tobedeleted"))
        {
            return Err("`status` must be active or tobedeleted".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_become_rest_records() {
        let row: BTreeMap<String, String> = [
            ("sourcedId", "u1"),
            ("status", "Active"),
            ("orgSourcedIds", "s1, s2"),
            ("agentSourcedIds", ""),
            ("primaryOrgSourcedId", "s1"),
            ("userIds", "{LDAP:ada},{SIS:1001}"),
            ("grades", "09,10"),
            ("preferredGivenName", "Addie"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            row_to_json("users", &row),
            json!({"sourcedId": "u1", "status": "active",
                   "orgs": [guid("org", "s1"), guid("org", "s2")], "primaryOrg": guid("org", "s1"),
                   "userIds": [{"type": "LDAP", "identifier": "ada"}, {"type": "SIS", "identifier": "1001"}],
                   "grades": ["09", "10"], "preferredFirstName": "Addie"})
        );
        let row: BTreeMap<String, String> = [("parentSourcedId", "y1"), ("weight", "0.5")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            row_to_json("academicSessions", &row),
            json!({"parent": guid("academicSession", "y1"), "weight": 0.5})
        );
    }

    #[test]
    fn users_are_presented_per_version() {
        let d = Dataset::sample();
        let user = &d.records("users")[0];
        let v11 = present(user.clone(), "users", Version::V1p1, "http://h");
        assert_eq!(v11["role"], "teacher");
        assert_eq!(
            v11["orgs"][0]["href"],
            "http://h/ims/oneroster/v1p1/orgs/s1"
        );
        assert!(v11.get("roles").is_none() && v11.get("primaryOrg").is_none());
        let v12 = present(user.clone(), "users", Version::V1p2, "http://h");
        assert_eq!(
            v12["roles"][0]["org"]["href"],
            "http://h/ims/oneroster/rostering/v1p2/orgs/s1"
        );
        assert!(v12.get("role").is_none());
        let li = present(
            d.records("lineItems")[0].clone(),
            "lineItems",
            Version::V1p2,
            "http://h",
        );
        assert_eq!(
            li["category"]["href"],
            "http://h/ims/oneroster/gradebook/v1p2/categories/cat-test"
        );
        // A 1.1-shaped user (from a 1.1 CSV package) becomes a 1.2 user.
        let old = json!({"sourcedId": "u", "role": "student", "orgs": [guid("org", "s1"), guid("org", "s2")]});
        let v12 = present(old.clone(), "users", Version::V1p2, "http://h");
        assert_eq!(v12["roles"][1]["roleType"], "secondary");
        assert!(v12.get("orgs").is_none());
    }

    #[test]
    fn the_sample_has_the_counts_its_doc_gives() {
        let d = Dataset::sample();
        let counts: Vec<usize> = [
            "orgs",
            "academicSessions",
            "courses",
            "classes",
            "users",
            "enrollments",
            "demographics",
            "categories",
            "lineItems",
            "results",
        ]
        .iter()
        .map(|c| d.len(c))
        .collect();
        assert_eq!(counts, [3, 3, 2, 3, 10, 9, 6, 2, 2, 3]);
        for c in d.collections.values() {
            for r in c {
                assert!(chrono::DateTime::parse_from_rfc3339(r.modified()).is_ok());
            }
        }
        for r in d.records("demographics") {
            assert!(
                chrono::NaiveDate::parse_from_str(r["birthDate"].as_str().unwrap(), "%Y-%m-%d")
                    .is_ok(),
                "{r}"
            );
        }
    }
}

#[cfg(test)]
mod package_tests {
    use super::*;

    /// The sample district's package: each user is stored with the roles
    /// and profiles `roles.csv` and `userProfiles.csv` give it, and a
    /// record changed by id is read back changed.
    #[test]
    fn a_package_loads_users_with_their_roles() {
        let dir = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/sample-district"
        ));
        let mut d = Dataset::from_csv_dir(dir).unwrap();
        let admin = d.get("users", "staff-admin").unwrap();
        assert_eq!(
            admin["roles"][0]["role"], "districtAdministrator",
            "{admin}"
        );
        assert_eq!(admin["roles"][0]["org"]["sourcedId"], "org-district");
        let students = d
            .records("users")
            .iter()
            .filter(|u| u["roles"].to_string().contains("\"student\""))
            .count();
        assert!(students > 0);
        assert!(d.update("users", "staff-admin", |u| {
            u.insert("givenName".into(), json!("Renamed"));
        }));
        assert_eq!(
            d.get("users", "staff-admin").unwrap()["givenName"],
            "Renamed"
        );
        assert!(!d.update("users", "nobody", |_| {}));
    }
}

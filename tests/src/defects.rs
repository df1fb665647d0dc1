//! Defects real districts' exports have, mixed into a package the generator
//! wrote (`district::write_package`): the same person twice under two ids,
//! references to records the package does not have, an id sent twice, and
//! CSV as other systems write it (dates in day/month/year, trailing empty
//! columns, a misspelled column name, a byte-order mark and CRLF line ends,
//! stray spaces, `TRUE` and `1` for booleans, empty lines at the end, columns
//! in another order).
//!
//! [`mix_in`] rewrites the files of a written package and returns what it
//! did as [`Defects`]: each defect with its file, the record it concerns and
//! what the run report must say of it, and the counts the defects add per
//! kind, so a test computes a run's exact counts from the generator's
//! [`Summary`] and these ([`Defects::expected`]).
//!
//! Every defect is at a place chosen from the package's contents alone (the
//! same package gives the same defects, byte for byte), and the defects are
//! independent: no record is the subject of two of them, no defective record
//! points at another one or at a record another one copies, and the CSV
//! defects change how rows are written, never what they say. So each
//! defect's effect on the counts adds up.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use crate::district::Summary;

pub use crate::district::KIND_FILES;

/// Where the run report speaks of a defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Said {
    /// The record is left out: a skip on its id.
    Skip,
    /// A warning: on the record's id, or (for a defect of the file, whose
    /// `record` is empty) from the connector, with no id.
    Warning,
    /// Nothing: the connector reads the file as meant, and no record is lost.
    Nothing,
}

/// One defect mixed into the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defect {
    /// What is wrong, in a few words.
    pub what: &'static str,
    pub file: &'static str,
    /// The kind of the record, as the run report names it (`user`).
    pub kind: &'static str,
    /// The record's sourced id; empty for a defect of the file as a whole.
    pub record: String,
    /// The id the record points at that no file of the package has, for a
    /// dangling reference (the connector names it among its orphans).
    pub absent: Option<String>,
    pub said: Said,
    /// Words the report's skip or warning about the defect contains.
    pub words: Vec<String>,
}

/// Counts of one kind: what a run of the package reads, adds, updates and
/// leaves out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub read: u64,
    pub add: u64,
    pub update: u64,
    pub skipped: u64,
}

/// What [`mix_in`] did to a package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defects {
    pub list: Vec<Defect>,
    /// Per kind, what the defects add to the counts of a first import of
    /// the clean package (which reads and adds each file's rows, and
    /// updates and skips nothing).
    pub deltas: BTreeMap<&'static str, Counts>,
}

impl Defects {
    /// The exact counts of a first import of the defective package, per
    /// kind of [`KIND_FILES`].
    pub fn expected(&self, summary: &Summary) -> BTreeMap<&'static str, Counts> {
        KIND_FILES
            .iter()
            .map(|&(kind, file)| {
                let rows = summary.rows(file);
                let d = self.deltas.get(kind).copied().unwrap_or_default();
                (
                    kind,
                    Counts {
                        read: rows + d.read,
                        add: rows + d.add,
                        update: d.update,
                        skipped: d.skipped,
                    },
                )
            })
            .collect()
    }

    /// The defects the report speaks of as `said`.
    pub fn said(&self, said: Said) -> impl Iterator<Item = &Defect> {
        self.list.iter().filter(move |d| d.said == said)
    }

    fn push(&mut self, defect: Defect) {
        self.list.push(defect);
    }

    fn count(&mut self, kind: &'static str, read: u64, update: u64, skipped: u64) {
        let c = self.deltas.entry(kind).or_default();
        c.read += read;
        c.update += update;
        c.skipped += skipped;
    }
}

/// A line per defect, for the generator's output.
pub fn describe(defects: &Defects) -> String {
    let mut text = format!("{} defects mixed in:\n", defects.list.len());
    for d in &defects.list {
        let record = if d.record.is_empty() {
            String::new()
        } else {
            format!(" {} `{}`", d.kind, d.record)
        };
        text.push_str(&format!("  {:<22} {}{record}\n", d.file, d.what));
    }
    text
}

// ---------------------------------------------------------------------------
// Reading and writing the files

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// A CSV file of the package, whole.
struct Table {
    file: &'static str,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// How a table is written: the defects of the CSV dialect.
#[derive(Default)]
struct Dialect {
    bom: bool,
    crlf: bool,
    /// Columns with no name added at the end of the header line.
    empty_columns: usize,
    /// Blank fields ending each data row (by its position).
    blank_fields: Option<fn(usize) -> usize>,
    /// Spaces around values (and column names).
    spaced: bool,
    /// The columns in this order (positions in the table's header).
    order: Option<Vec<usize>>,
    /// Written after the last row.
    after: &'static str,
}

/// A value with spaces around it, by the place of its field.
fn spaced(value: &str, row: usize, column: usize) -> String {
    if value.is_empty() {
        return String::new();
    }
    match (row + column) % 4 {
        0 => value.to_string(),
        1 => format!(" {value}"),
        2 => format!("{value}  "),
        _ => format!("  {value} "),
    }
}

impl Table {
    fn read(dir: &Path, file: &'static str) -> io::Result<Table> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(dir.join(file))
            .map_err(|e| invalid(format!("{file}: {e}")))?;
        let mut records = reader.records();
        let header = match records.next() {
            Some(h) => h.map_err(|e| invalid(format!("{file}: {e}")))?,
            None => return Err(invalid(format!("{file} is empty"))),
        };
        let mut rows = Vec::new();
        for r in records {
            let r = r.map_err(|e| invalid(format!("{file}: {e}")))?;
            rows.push(r.iter().map(str::to_string).collect());
        }
        Ok(Table {
            file,
            header: header.iter().map(str::to_string).collect(),
            rows,
        })
    }

    fn column(&self, name: &str) -> io::Result<usize> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| invalid(format!("{} has no column `{name}`", self.file)))
    }

    fn has(&self, name: &str) -> bool {
        self.header.iter().any(|h| h == name)
    }

    /// The first row whose `column` is `value`.
    fn find(&self, column: usize, value: &str) -> Option<usize> {
        self.rows.iter().position(|r| r[column] == value)
    }

    fn write(&self, dir: &Path, how: &Dialect) -> io::Result<()> {
        let mut bytes: Vec<u8> = Vec::new();
        if how.bom {
            bytes.extend_from_slice(b"\xef\xbb\xbf");
        }
        {
            let mut writer = csv::WriterBuilder::new()
                .flexible(true)
                .terminator(if how.crlf {
                    csv::Terminator::CRLF
                } else {
                    csv::Terminator::Any(b'\n')
                })
                .from_writer(&mut bytes);
            let order: Vec<usize> = how
                .order
                .clone()
                .unwrap_or_else(|| (0..self.header.len()).collect());
            let field = |fields: &[String], row: usize, at: usize| {
                let value = fields.get(at).map_or("", String::as_str);
                if how.spaced {
                    spaced(value, row, at)
                } else {
                    value.to_string()
                }
            };
            let mut header: Vec<String> =
                order.iter().map(|&i| field(&self.header, 0, i)).collect();
            header.extend(std::iter::repeat_n(String::new(), how.empty_columns));
            writer.write_record(&header).map_err(io::Error::other)?;
            for (r, row) in self.rows.iter().enumerate() {
                let mut fields: Vec<String> = order.iter().map(|&i| field(row, r + 1, i)).collect();
                if let Some(blanks) = how.blank_fields {
                    fields.extend(std::iter::repeat_n(String::new(), blanks(r)));
                }
                writer.write_record(&fields).map_err(io::Error::other)?;
            }
            writer.flush()?;
        }
        bytes.extend_from_slice(how.after.as_bytes());
        fs::write(dir.join(self.file), bytes)
    }
}

/// The OneRoster version manifest.csv states.
fn version(dir: &Path) -> io::Result<String> {
    let manifest = Table::read(dir, "manifest.csv")?;
    manifest
        .rows
        .iter()
        .find(|r| r.first().is_some_and(|p| p == "oneroster.version"))
        .and_then(|r| r.get(1).cloned())
        .ok_or_else(|| invalid("manifest.csv states no oneroster.version".into()))
}

/// `sofia1@x.org` as another system keys it in: a capital letter, a space at the end.
fn retyped_email(email: &str) -> String {
    let mut chars = email.chars();
    match chars.next() {
        Some(first) => format!("{}{} ", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// A boolean as spreadsheets and other systems write it.
fn loose_boolean(value: &str, row: usize) -> String {
    match (value, row % 2) {
        ("true", 0) => "TRUE".into(),
        ("true", _) => "1".into(),
        ("false", 0) => "FALSE".into(),
        ("false", _) => "0".into(),
        (other, _) => other.to_string(),
    }
}

// ---------------------------------------------------------------------------
// The defects

/// Ids no file of the package has, for the records the defects make up.
const ABSENT_ORG: &str = "org-closed-school";

/// Rewrite the package in `dir` (as `district::write_package` wrote it, any
/// version, at least 10 students) with the defects mixed in.
pub fn mix_in(dir: &Path) -> io::Result<Defects> {
    let v12 = version(dir)? == "1.2";
    let mut defects = Defects::default();
    let mut users = Table::read(dir, "users.csv")?;
    let mut roles = if v12 {
        Some(Table::read(dir, "roles.csv")?)
    } else {
        None
    };
    let mut enrollments = Table::read(dir, "enrollments.csv")?;
    let mut classes = Table::read(dir, "classes.csv")?;

    let u_id = users.column("sourcedId")?;
    let students: Vec<usize> = (0..users.rows.len())
        .filter(|&r| users.rows[r][u_id].starts_with("stu-"))
        .collect();
    let n = students.len();
    if n < 10 {
        return Err(invalid(format!(
            "the defects need a district of at least 10 students, not {n}"
        )));
    }
    // Ids of students the package does not have yet.
    let (dup_id, no_org_id, absent_user) = {
        let taken = |id: &str| {
            users.find(u_id, id).is_some()
                || enrollments.rows.iter().any(|r| r.iter().any(|f| f == id))
        };
        let mut ids = (n as u64 + 1..)
            .map(|i| format!("stu-{i:06}"))
            .filter(|id| !taken(id));
        let mut next = || ids.next().unwrap_or_default();
        (next(), next(), next())
    };

    // Students 1-3 (by position) get dates in day/month/year; the student in
    // the middle is copied; the one after it is the model of a student of a
    // school the package does not have.
    let dated = &students[1..4];
    let original = students[n / 2];
    let model = students[n / 2 + 1];
    let original_id = users.rows[original][u_id].clone();

    // 1. The same person twice: a copy under a new id, the email retyped.
    let mut copy = users.rows[original].clone();
    copy[u_id] = dup_id.clone();
    let email = users.column("email")?;
    copy[email] = retyped_email(&copy[email]);
    copy[users.column("identifier")?] = String::new();
    copy[users.column("userIds")?] = String::new();
    if users.has("userMasterIdentifier") {
        copy[users.column("userMasterIdentifier")?] = String::new();
    }
    users.rows.push(copy);
    if let Some(roles) = roles.as_mut() {
        let (r_id, r_user, r_org) = (
            roles.column("sourcedId")?,
            roles.column("userSourcedId")?,
            roles.column("orgSourcedId")?,
        );
        let theirs: Vec<Vec<String>> = roles
            .rows
            .iter()
            .filter(|r| r[r_user] == original_id)
            .cloned()
            .collect();
        for mut role in theirs {
            role[r_id] = format!("role-{dup_id}-{}", role[r_org]);
            role[r_user] = dup_id.clone();
            roles.rows.push(role);
        }
    }
    defects.push(Defect {
        what: "the same person twice: a copy of a student under a new id, the email retyped",
        file: "users.csv",
        kind: "user",
        record: dup_id.clone(),
        absent: None,
        said: Said::Warning,
        words: vec![format!("`{original_id}`"), "merged".into()],
    });
    defects.count("user", 1, 1, 0);

    // 2d. A user whose only org is not in orgs.csv (a student of a school
    // that closed), with a name and email of its own and no guardians.
    let mut moved = users.rows[model].clone();
    moved[u_id] = no_org_id.clone();
    moved[users.column("givenName")?] = "Quinn".into();
    let username = users.column("username")?;
    moved[username] = format!("q{no_org_id}");
    let domain = moved[email]
        .split_once('@')
        .map_or("example.org".to_string(), |(_, d)| d.to_string());
    moved[email] = format!("{}@{domain}", moved[username]);
    for column in [
        "identifier",
        "userIds",
        "agentSourcedIds",
        "userMasterIdentifier",
    ] {
        if users.has(column) {
            moved[users.column(column)?] = String::new();
        }
    }
    if users.has("primaryOrgSourcedId") {
        moved[users.column("primaryOrgSourcedId")?] = String::new();
    }
    if users.has("orgSourcedIds") {
        moved[users.column("orgSourcedIds")?] = ABSENT_ORG.into();
    }
    users.rows.push(moved);
    if let Some(roles) = roles.as_mut() {
        let (r_id, r_user, r_org) = (
            roles.column("sourcedId")?,
            roles.column("userSourcedId")?,
            roles.column("orgSourcedId")?,
        );
        let model_id = &users.rows[model][u_id];
        let at = roles
            .find(r_user, model_id)
            .ok_or_else(|| invalid(format!("roles.csv has no role of `{model_id}`")))?;
        let mut role = roles.rows[at].clone();
        role[r_id] = format!("role-{no_org_id}-{ABSENT_ORG}");
        role[r_user] = no_org_id.clone();
        role[r_org] = ABSENT_ORG.into();
        roles.rows.push(role);
    }
    defects.push(Defect {
        what: "a dangling reference: a user whose only org is not in orgs.csv",
        file: "users.csv",
        kind: "user",
        record: no_org_id.clone(),
        absent: Some(ABSENT_ORG.into()),
        said: Said::Skip,
        words: vec!["dangling reference".into(), format!("org `{ABSENT_ORG}`")],
    });
    defects.count("user", 1, 0, 1);

    // 3. A row repeated with its sourcedId: the first guardian's (a staff
    // member's when there is none).
    let repeated = (0..users.rows.len())
        .find(|&r| users.rows[r][u_id].starts_with("grd-"))
        .unwrap_or(0);
    let row = users.rows[repeated].clone();
    let repeated_id = row[u_id].clone();
    users.rows.push(row);
    defects.push(Defect {
        what: "a row repeated with the same sourcedId",
        file: "users.csv",
        kind: "user",
        record: repeated_id,
        absent: None,
        said: Said::Skip,
        words: vec!["sent this id twice".into()],
    });
    defects.count("user", 1, 0, 1);

    // 2a-c. Dangling references of enrollments and a class, next to the
    // class of the first student enrollment (of a student no other defect
    // touches).
    let (e_id, e_class, e_school, e_user, e_role) = (
        enrollments.column("sourcedId")?,
        enrollments.column("classSourcedId")?,
        enrollments.column("schoolSourcedId")?,
        enrollments.column("userSourcedId")?,
        enrollments.column("role")?,
    );
    let touched: Vec<String> = dated
        .iter()
        .chain([&original, &model, &repeated])
        .map(|&r| users.rows[r][u_id].clone())
        .collect();
    let pupils: Vec<usize> = (0..enrollments.rows.len())
        .filter(|&r| {
            let e = &enrollments.rows[r];
            e[e_role] == "student" && !touched.contains(&e[e_user])
        })
        .collect();
    let first = *pupils
        .first()
        .ok_or_else(|| invalid("enrollments.csv has no student enrollment".into()))?;
    let class_id = enrollments.rows[first][e_class].clone();
    let school = enrollments.rows[first][e_school].clone();
    let pupil = enrollments.rows[first][e_user].clone();
    let other_pupil = pupils
        .iter()
        .map(|&r| &enrollments.rows[r][e_user])
        .find(|u| **u != pupil)
        .cloned()
        .unwrap_or_else(|| pupil.clone());
    let short = school.trim_start_matches("org-");
    let closed_class = format!("cls-{short}-closed-01");
    let retired_class = format!("cls-{short}-retired-01");
    let retired_course = format!("crs-{short}-retired");

    let teacher = enrollments
        .rows
        .iter()
        .find(|e| e[e_class] == class_id && e[e_role] == "teacher")
        .map(|e| e[e_user].clone());
    let mut enroll = |class: &str, user: &str, role: &str| {
        let mut e = enrollments.rows[first].clone();
        e[e_id] = format!("enr-{class}-{user}");
        e[e_class] = class.to_string();
        e[e_user] = user.to_string();
        e[e_role] = role.to_string();
        let id = e[e_id].clone();
        enrollments.rows.push(e);
        id
    };
    // 2a. An enrollment in a class classes.csv does not have.
    let id = enroll(&closed_class, &pupil, "student");
    defects.push(Defect {
        what: "a dangling reference: an enrollment whose class is not in classes.csv",
        file: "enrollments.csv",
        kind: "enrollment",
        record: id,
        absent: Some(closed_class.clone()),
        said: Said::Skip,
        words: vec![
            "dangling reference".into(),
            format!("class `{closed_class}`"),
        ],
    });
    defects.count("enrollment", 1, 0, 1);
    // 2b. An enrollment of a user users.csv does not have.
    let id = enroll(&class_id, &absent_user, "student");
    defects.push(Defect {
        what: "a dangling reference: an enrollment whose user is not in users.csv",
        file: "enrollments.csv",
        kind: "enrollment",
        record: id,
        absent: Some(absent_user.clone()),
        said: Said::Skip,
        words: vec!["dangling reference".into(), format!("user `{absent_user}`")],
    });
    defects.count("enrollment", 1, 0, 1);
    // 2c. A class whose course courses.csv does not have, with a teacher
    // and a student: left out, and so are its enrollments.
    let (c_id, c_course) = (
        classes.column("sourcedId")?,
        classes.column("courseSourcedId")?,
    );
    let at = classes
        .find(c_id, &class_id)
        .ok_or_else(|| invalid(format!("classes.csv has no class `{class_id}`")))?;
    let mut class = classes.rows[at].clone();
    class[c_id] = retired_class.clone();
    class[c_course] = retired_course.clone();
    class[classes.column("title")?] = "Study Skills (retired course)".into();
    class[classes.column("classCode")?] = "RETIRED-01".into();
    classes.rows.push(class);
    defects.push(Defect {
        what: "a dangling reference: a class whose course is not in courses.csv",
        file: "classes.csv",
        kind: "class",
        record: retired_class.clone(),
        absent: Some(retired_course.clone()),
        said: Said::Skip,
        words: vec![
            "dangling reference".into(),
            format!("course `{retired_course}`"),
        ],
    });
    defects.count("class", 1, 0, 1);
    let mut members = vec![(other_pupil, "student")];
    members.extend(teacher.map(|t| (t, "teacher")));
    for (user, role) in members {
        let id = enroll(&retired_class, &user, role);
        defects.push(Defect {
            what: "an enrollment in the class left out for its course",
            file: "enrollments.csv",
            kind: "enrollment",
            record: id,
            absent: None,
            said: Said::Skip,
            words: vec![
                "dangling reference".into(),
                format!("class `{retired_class}`"),
            ],
        });
        defects.count("enrollment", 1, 0, 1);
    }

    // 4. CSV as other systems write it.
    // users.csv: dates in day/month/year on three rows (the first of them
    // on line `dated[0] + 2`: no users.csv value spans lines).
    let modified = users.column("dateLastModified")?;
    for (&r, date) in dated.iter().zip(["19/08/2024", "26/08/2024", "13/09/2024"]) {
        users.rows[r][modified] = date.into();
    }
    defects.push(Defect {
        what: "`dateLastModified` in day/month/year on three rows",
        file: "users.csv",
        kind: "user",
        record: String::new(),
        absent: None,
        said: Said::Warning,
        words: vec![
            "users.csv".into(),
            "3 rows have a `dateLastModified` that is not a date".into(),
            format!("(the first is line {})", dated[0] + 2),
        ],
    });
    // users.csv: booleans as `TRUE`, `1`, `FALSE`, `0`.
    let enabled = users.column("enabledUser")?;
    for (r, row) in users.rows.iter_mut().enumerate() {
        row[enabled] = loose_boolean(&row[enabled], r);
    }
    defects.push(Defect {
        what: "`enabledUser` written TRUE, 1, FALSE and 0",
        file: "users.csv",
        kind: "user",
        record: String::new(),
        absent: None,
        said: Said::Nothing,
        words: Vec::new(),
    });
    // users.csv: `familyName` misspelled in the header line.
    let family = users.column("familyName")?;
    users.header[family] = "familyNmae".into();
    defects.push(Defect {
        what: "a misspelled column name: `familyNmae`",
        file: "users.csv",
        kind: "user",
        record: String::new(),
        absent: None,
        said: Said::Warning,
        words: vec![
            "users.csv".into(),
            "`familyNmae`".into(),
            "read as `familyName`".into(),
        ],
    });
    users.write(dir, &Dialect::default())?;
    if let Some(roles) = &roles {
        roles.write(dir, &Dialect::default())?;
    }

    // enrollments.csv: a byte-order mark and CRLF line ends.
    enrollments.write(
        dir,
        &Dialect {
            bom: true,
            crlf: true,
            ..Dialect::default()
        },
    )?;
    defects.push(Defect {
        what: "a UTF-8 byte-order mark and CRLF line ends",
        file: "enrollments.csv",
        kind: "enrollment",
        record: String::new(),
        absent: None,
        said: Said::Nothing,
        words: Vec::new(),
    });

    // classes.csv: spaces around values and column names.
    classes.write(
        dir,
        &Dialect {
            spaced: true,
            ..Dialect::default()
        },
    )?;
    defects.push(Defect {
        what: "stray spaces around values and column names",
        file: "classes.csv",
        kind: "class",
        record: String::new(),
        absent: None,
        said: Said::Nothing,
        words: Vec::new(),
    });

    // courses.csv: two columns with no name ending the header line; rows
    // end with one blank field more, as many, or none.
    let courses = Table::read(dir, "courses.csv")?;
    courses.write(
        dir,
        &Dialect {
            empty_columns: 2,
            blank_fields: Some(|r| [3, 2, 0][r % 3]),
            ..Dialect::default()
        },
    )?;
    defects.push(Defect {
        what: "trailing empty header columns and trailing blank fields",
        file: "courses.csv",
        kind: "course",
        record: String::new(),
        absent: None,
        said: Said::Nothing,
        words: Vec::new(),
    });

    // demographics.csv: booleans as `TRUE`, `1`, `FALSE`, `0`.
    let mut demographics = Table::read(dir, "demographics.csv")?;
    let flags: Vec<usize> = [
        "americanIndianOrAlaskaNative",
        "asian",
        "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander",
        "white",
        "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity",
    ]
    .iter()
    .map(|c| demographics.column(c))
    .collect::<io::Result<_>>()?;
    for (r, row) in demographics.rows.iter_mut().enumerate() {
        for &at in &flags {
            row[at] = loose_boolean(&row[at], r + at);
        }
    }
    demographics.write(dir, &Dialect::default())?;
    defects.push(Defect {
        what: "booleans written TRUE, 1, FALSE and 0",
        file: "demographics.csv",
        kind: "demographics",
        record: String::new(),
        absent: None,
        said: Said::Nothing,
        words: Vec::new(),
    });

    // academicSessions.csv: empty lines, and lines a spreadsheet cleared, at the end.
    let sessions = Table::read(dir, "academicSessions.csv")?;
    sessions.write(
        dir,
        &Dialect {
            after: "\n,,,,,,,,\n   \n\n",
            ..Dialect::default()
        },
    )?;
    defects.push(Defect {
        what: "empty lines at the end",
        file: "academicSessions.csv",
        kind: "academic-session",
        record: String::new(),
        absent: None,
        said: Said::Nothing,
        words: Vec::new(),
    });

    // orgs.csv: the columns in reverse order.
    let orgs = Table::read(dir, "orgs.csv")?;
    orgs.write(
        dir,
        &Dialect {
            order: Some((0..orgs.header.len()).rev().collect()),
            ..Dialect::default()
        },
    )?;
    defects.push(Defect {
        what: "the columns in an order other than the specification's",
        file: "orgs.csv",
        kind: "org",
        record: String::new(),
        absent: None,
        said: Said::Nothing,
        words: Vec::new(),
    });

    Ok(defects)
}

/// Write the package as `district::write_package` does, then mix in the defects.
pub fn write_package(
    opts: &crate::district::Options,
    dir: &Path,
) -> io::Result<(Summary, Defects)> {
    let summary = crate::district::write_package(opts, dir)?;
    let defects = mix_in(dir)?;
    Ok((summary, defects))
}

//! The files of a OneRoster 1.1 and 1.2 CSV package and their columns: which
//! file holds which entity kind, which columns each version has (in the
//! specification's order), which must be there, which hold dates, and the
//! check of a file's header line against that, with a message that names the
//! file, the column and what was expected.
//!
//! Columns are matched by name, not position, and without regard to case
//! (`orgSourcedIDs` is `orgSourcedIds`, silently: the intent is plain and
//! exports differ in case more often than not); columns the specification
//! does not name (extensions, `metadata.*`) are kept. A name one typing slip
//! from exactly one column of the file (a letter doubled, a doubled letter
//! typed once, two neighbouring letters swapped: `famillyName`, `givneName`)
//! is read as that column, with a note for the admin, unless the header also
//! has the column itself or another name slips onto it too. Empty columns at
//! the end of the header line (`...,email,,`) are ignored, so a row may stop
//! before them. All of this is worked out once per header, not per row.

use homeroom_sdk::oneroster::Version;
use homeroom_sdk::{EntityKind, PluginError};

use crate::refs::QuickMap;

/// One file of the package.
#[derive(Debug)]
pub struct FileSpec {
    pub file: &'static str,
    /// The entity kind its rows are; none for `roles.csv` and
    /// `userProfiles.csv`, which are read into users.
    pub kind: Option<EntityKind>,
    v1_1: Option<Columns>,
    v1_2: Option<Columns>,
    /// Columns holding a date (`YYYY-MM-DD`).
    pub dates: &'static [&'static str],
    /// Columns holding a date-time (RFC 3339), besides `dateLastModified`.
    pub date_times: &'static [&'static str],
}

#[derive(Debug, Clone, Copy)]
struct Columns {
    all: &'static [&'static str],
    required: &'static [&'static str],
}

#[rustfmt::skip]
const ORGS: Columns = Columns {
    all: &[
        "sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId",
    ],
    required: &["sourcedId", "name", "type"],
};

#[rustfmt::skip]
const SESSIONS: Columns = Columns {
    all: &[
        "sourcedId", "status", "dateLastModified", "title", "type", "startDate", "endDate",
        "parentSourcedId", "schoolYear",
    ],
    required: &[
        "sourcedId", "title", "type", "startDate", "endDate", "schoolYear",
    ],
};

#[rustfmt::skip]
const COURSES: Columns = Columns {
    all: &[
        "sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title", "courseCode",
        "grades", "orgSourcedId", "subjects", "subjectCodes",
    ],
    required: &["sourcedId", "title"],
};

#[rustfmt::skip]
const CLASSES: Columns = Columns {
    all: &[
        "sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId",
        "classCode", "classType", "location", "schoolSourcedId", "termSourcedIds", "subjects",
        "subjectCodes", "periods",
    ],
    required: &[
        "sourcedId", "title", "courseSourcedId", "classType", "schoolSourcedId", "termSourcedIds",
    ],
};

#[rustfmt::skip]
const USERS_1_1: Columns = Columns {
    all: &[
        "sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role",
        "username", "userIds", "givenName", "familyName", "middleName", "identifier", "email",
        "sms", "phone", "agentSourcedIds", "grades", "password",
    ],
    required: &[
        "sourcedId", "enabledUser", "orgSourcedIds", "role", "username", "givenName", "familyName",
    ],
};

#[rustfmt::skip]
const USERS_1_2: Columns = Columns {
    all: &[
        "sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds",
        "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
        "agentSourcedIds", "grades", "password", "userMasterIdentifier", "resourceSourcedIds",
        "preferredGivenName", "preferredMiddleName", "preferredFamilyName", "primaryOrgSourcedId",
        "pronouns",
    ],
    required: &[
        "sourcedId", "enabledUser", "username", "givenName", "familyName",
    ],
};

#[rustfmt::skip]
const ROLES: Columns = Columns {
    all: &[
        "sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role", "beginDate",
        "endDate", "orgSourcedId", "userProfileSourcedId",
    ],
    required: &[
        "sourcedId", "userSourcedId", "roleType", "role", "orgSourcedId",
    ],
};

#[rustfmt::skip]
const USER_PROFILES: Columns = Columns {
    all: &[
        "sourcedId", "status", "dateLastModified", "userSourcedId", "profileType", "vendorId",
        "applicationId", "description", "credentialType", "username", "password",
    ],
    required: &[
        "sourcedId", "userSourcedId", "profileType", "vendorId", "credentialType", "username",
    ],
};

#[rustfmt::skip]
const ENROLLMENTS: Columns = Columns {
    all: &[
        "sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId",
        "userSourcedId", "role", "primary", "beginDate", "endDate",
    ],
    required: &[
        "sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role",
    ],
};

#[rustfmt::skip]
const DEMOGRAPHICS: Columns = Columns {
    all: &[
        "sourcedId", "status", "dateLastModified", "birthDate", "sex",
        "americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander", "white", "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity", "countryOfBirthCode", "stateOfBirthAbbreviation",
        "cityOfBirth", "publicSchoolResidenceStatus",
    ],
    required: &["sourcedId"],
};

#[rustfmt::skip]
const CATEGORIES_1_1: Columns = Columns {
    all: &["sourcedId", "status", "dateLastModified", "title"],
    required: &["sourcedId", "title"],
};

#[rustfmt::skip]
const CATEGORIES_1_2: Columns = Columns {
    all: &["sourcedId", "status", "dateLastModified", "title", "weight"],
    required: &["sourcedId", "title"],
};

#[rustfmt::skip]
const LINE_ITEMS_1_1: Columns = Columns {
    all: &[
        "sourcedId", "status", "dateLastModified", "title", "description", "assignDate", "dueDate",
        "classSourcedId", "categorySourcedId", "gradingPeriodSourcedId", "resultValueMin",
        "resultValueMax",
    ],
    required: &["sourcedId", "title", "classSourcedId"],
};

#[rustfmt::skip]
const LINE_ITEMS_1_2: Columns = Columns {
    all: &[
        "sourcedId", "status", "dateLastModified", "title", "description", "assignDate", "dueDate",
        "classSourcedId", "categorySourcedId", "gradingPeriodSourcedId", "resultValueMin",
        "resultValueMax", "schoolSourcedId", "academicSessionSourcedId", "scoreScaleSourcedId",
    ],
    required: &["sourcedId", "title", "classSourcedId"],
};

#[rustfmt::skip]
const RESULTS_1_1: Columns = Columns {
    all: &[
        "sourcedId", "status", "dateLastModified", "lineItemSourcedId", "studentSourcedId",
        "scoreStatus", "score", "scoreDate", "comment",
    ],
    required: &[
        "sourcedId", "lineItemSourcedId", "studentSourcedId", "scoreStatus",
    ],
};

#[rustfmt::skip]
const RESULTS_1_2: Columns = Columns {
    all: &[
        "sourcedId", "status", "dateLastModified", "lineItemSourcedId", "studentSourcedId",
        "scoreStatus", "score", "scoreDate", "comment", "classSourcedId", "scoreScaleSourcedId",
        "textScore", "inProgress", "incomplete", "late", "missing",
    ],
    required: &[
        "sourcedId", "lineItemSourcedId", "studentSourcedId", "scoreStatus",
    ],
};

/// Every file the connector reads, parents first.
pub const FILES: &[FileSpec] = &[
    FileSpec {
        file: "orgs.csv",
        kind: Some(EntityKind::Org),
        v1_1: Some(ORGS),
        v1_2: Some(ORGS),
        dates: &[],
        date_times: &[],
    },
    FileSpec {
        file: "academicSessions.csv",
        kind: Some(EntityKind::AcademicSession),
        v1_1: Some(SESSIONS),
        v1_2: Some(SESSIONS),
        dates: &["startDate", "endDate"],
        date_times: &[],
    },
    FileSpec {
        file: "courses.csv",
        kind: Some(EntityKind::Course),
        v1_1: Some(COURSES),
        v1_2: Some(COURSES),
        dates: &[],
        date_times: &[],
    },
    FileSpec {
        file: "classes.csv",
        kind: Some(EntityKind::Class),
        v1_1: Some(CLASSES),
        v1_2: Some(CLASSES),
        dates: &[],
        date_times: &[],
    },
    FileSpec {
        file: "users.csv",
        kind: Some(EntityKind::User),
        v1_1: Some(USERS_1_1),
        v1_2: Some(USERS_1_2),
        dates: &[],
        date_times: &[],
    },
    FileSpec {
        file: "roles.csv",
        kind: None,
        v1_1: None,
        v1_2: Some(ROLES),
        dates: &["beginDate", "endDate"],
        date_times: &[],
    },
    FileSpec {
        file: "userProfiles.csv",
        kind: None,
        v1_1: None,
        v1_2: Some(USER_PROFILES),
        dates: &[],
        date_times: &[],
    },
    FileSpec {
        file: "enrollments.csv",
        kind: Some(EntityKind::Enrollment),
        v1_1: Some(ENROLLMENTS),
        v1_2: Some(ENROLLMENTS),
        dates: &["beginDate", "endDate"],
        date_times: &[],
    },
    FileSpec {
        file: "demographics.csv",
        kind: Some(EntityKind::Demographics),
        v1_1: Some(DEMOGRAPHICS),
        v1_2: Some(DEMOGRAPHICS),
        dates: &["birthDate"],
        date_times: &[],
    },
    FileSpec {
        file: "categories.csv",
        kind: Some(EntityKind::Category),
        v1_1: Some(CATEGORIES_1_1),
        v1_2: Some(CATEGORIES_1_2),
        dates: &[],
        date_times: &[],
    },
    FileSpec {
        file: "lineItems.csv",
        kind: Some(EntityKind::LineItem),
        v1_1: Some(LINE_ITEMS_1_1),
        v1_2: Some(LINE_ITEMS_1_2),
        dates: &[],
        date_times: &["assignDate", "dueDate"],
    },
    FileSpec {
        file: "results.csv",
        kind: Some(EntityKind::Result),
        v1_1: Some(RESULTS_1_1),
        v1_2: Some(RESULTS_1_2),
        dates: &["scoreDate"],
        date_times: &[],
    },
];

/// The spec of a file by name.
pub fn spec(file: &str) -> Option<&'static FileSpec> {
    FILES.iter().find(|s| s.file.eq_ignore_ascii_case(file))
}

/// The file that holds `kind` (none for `user-agent`, which has no file).
pub fn file_of(kind: EntityKind) -> Option<&'static FileSpec> {
    FILES.iter().find(|s| s.kind == Some(kind))
}

impl FileSpec {
    fn columns(&self, version: Version) -> Option<Columns> {
        match version {
            Version::V1p1 => self.v1_1,
            Version::V1p2 => self.v1_2,
        }
    }

    /// The specification's columns of this file in `version`.
    pub fn all_columns(&self, version: Version) -> &'static [&'static str] {
        self.columns(version).map_or(&[], |c| c.all)
    }

    /// Whether the file belongs to `version` at all.
    pub fn in_version(&self, version: Version) -> bool {
        self.columns(version).is_some()
    }
}

/// The fields of a row, by position.
pub trait Fields {
    fn field(&self, i: usize) -> Option<&str>;
}

impl Fields for [String] {
    fn field(&self, i: usize) -> Option<&str> {
        self.get(i).map(String::as_str)
    }
}

impl Fields for Vec<String> {
    fn field(&self, i: usize) -> Option<&str> {
        self.as_slice().field(i)
    }
}

/// A file's header line, checked: the column each field position holds.
#[derive(Debug, Clone)]
pub struct Header {
    /// The column name at each position (canonical spelling); none for a
    /// column with an empty name, which is ignored.
    pub names: Vec<Option<String>>,
    index: QuickMap<String, usize>,
    /// What the admin should hear about the header line (misspelled column
    /// names), each naming the file and the column.
    pub notes: Vec<String>,
}

impl Header {
    /// How many fields the header line has.
    pub fn width(&self) -> usize {
        self.names.len()
    }

    /// How many fields a row needs: up to the last column with a name (empty
    /// columns at the end of the header line hold nothing).
    pub fn named_width(&self) -> usize {
        self.names
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |i| i + 1)
    }

    /// The position of a column.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// A column's value in a row (empty when the file has no such column).
    pub fn get<'a, F: Fields + ?Sized>(&self, row: &'a F, name: &str) -> &'a str {
        self.position(name).and_then(|i| row.field(i)).unwrap_or("")
    }
}

/// A typing slip that turns a column name into another name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slip {
    /// `famillyName` for `familyName`.
    Doubled,
    /// `clasSourcedId` for `classSourcedId`.
    Undoubled,
    /// `givneName` for `givenName`.
    Swapped,
}

impl Slip {
    fn label(self) -> &'static str {
        match self {
            Slip::Doubled => "a letter doubled",
            Slip::Undoubled => "a double letter typed once",
            Slip::Swapped => "two letters swapped",
        }
    }
}

/// Whether `b` is `a` with one letter removed where it doubled its
/// neighbour (`famillyName`, `familyName`). Compares without regard to case.
fn one_doubled(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() + 1 {
        return false;
    }
    let same = |x: &u8, y: &u8| x.eq_ignore_ascii_case(y);
    let at = a.iter().zip(b).take_while(|(x, y)| same(x, y)).count();
    // `a[at]` is the extra letter: it must repeat the letter before or after
    // it, and the rest must match.
    let doubles = (at > 0 && same(&a[at], &a[at - 1]))
        || a.get(at + 1).is_some_and(|next| same(&a[at], next));
    doubles && a[at + 1..].iter().zip(&b[at..]).all(|(x, y)| same(x, y))
}

/// The slip that turns the column name `column` into `name`, if one does.
pub fn slip(name: &str, column: &str) -> Option<Slip> {
    let (a, b) = (name.as_bytes(), column.as_bytes());
    if !name.is_ascii() || a.eq_ignore_ascii_case(b) {
        return None;
    }
    if one_doubled(a, b) {
        return Some(Slip::Doubled);
    }
    if one_doubled(b, a) {
        return Some(Slip::Undoubled);
    }
    if a.len() == b.len() {
        let differ: Vec<usize> = (0..a.len())
            .filter(|&i| !a[i].eq_ignore_ascii_case(&b[i]))
            .collect();
        if let [i, j] = differ[..]
            && j == i + 1
            && a[i].eq_ignore_ascii_case(&b[j])
            && a[j].eq_ignore_ascii_case(&b[i])
        {
            return Some(Slip::Swapped);
        }
    }
    None
}

/// The columns of `columns` that `name` is one slip from.
fn slipped_from(name: &str, columns: &[&'static str]) -> Vec<(&'static str, Slip)> {
    columns
        .iter()
        .filter_map(|c| slip(name, c).map(|s| (*c, s)))
        .collect()
}

/// `a`, `a` and `b`, `a`, `b` and `c` (each in backticks; `or` for `and`).
fn listing(items: &[&str], and: &str) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {and} {last}", rest.join(", ")),
    }
}

/// A header name no OneRoster file has, one slip from columns of this file.
struct Slipped {
    at: usize,
    name: String,
    from: Vec<(&'static str, Slip)>,
}

/// Read the names that are one slip from a column of the file as that
/// column when only that reading is possible, and say so in `notes`.
fn mend_slips(
    file: &str,
    columns: &[&'static str],
    names: &mut [Option<String>],
    index: &mut QuickMap<String, usize>,
    notes: &mut Vec<String>,
) {
    // Names no file of OneRoster has (`known` gave the rest their spelling),
    // with the columns of this file they are one slip from.
    let is_known = |n: &str| {
        FILES
            .iter()
            .flat_map(|s| [s.v1_1, s.v1_2])
            .flatten()
            .any(|c| c.all.contains(&n))
    };
    let candidates: Vec<Slipped> = names
        .iter()
        .enumerate()
        .filter_map(|(at, n)| {
            let n = n.as_deref()?;
            if is_known(n) || n.contains('.') {
                return None;
            }
            let from = slipped_from(n, columns);
            (!from.is_empty()).then(|| Slipped {
                at,
                name: n.to_string(),
                from,
            })
        })
        .collect();
    for Slipped { at, name, from } in &candidates {
        let mut meant: Vec<&str> = from.iter().map(|(c, _)| *c).collect();
        meant.sort_unstable();
        meant.dedup();
        if let [(column, slip)] = from.as_slice() {
            let rivals: Vec<&str> = candidates
                .iter()
                .filter(|other| &other.name != name && other.from.iter().any(|(c, _)| c == column))
                .map(|other| other.name.as_str())
                .collect();
            if index.contains_key(*column) {
                notes.push(format!(
                    "{file}: column `{name}` in the header line looks like a misspelling of `{column}`, which the header also has, so it is read as a column of its own: rename or remove it in the export"
                ));
            } else if !rivals.is_empty() {
                notes.push(format!(
                    "{file}: column `{name}` in the header line looks like a misspelling of `{column}`, as does {}, so {} read as `{column}`: keep one and spell it `{column}` in the export",
                    listing(&rivals, "and"),
                    if rivals.len() == 1 { "neither is" } else { "none of them is" }
                ));
            } else {
                index.remove(name);
                index.insert(column.to_string(), *at);
                names[*at] = Some(column.to_string());
                notes.push(format!(
                    "{file}: column `{name}` in the header line is read as `{column}` ({}): correct the column name in the export",
                    slip.label()
                ));
            }
        } else {
            notes.push(format!(
                "{file}: column `{name}` in the header line looks like a misspelling of {}, so it is read as a column of its own: rename it to the column it means in the export",
                listing(&meant, "or")
            ));
        }
    }
}

/// The longest column name kept: the host's limit on an attribute name.
pub const MAX_COLUMN_NAME: usize = 64;

/// Check a header line against the file's columns in `version`.
pub fn check_header(
    spec: &FileSpec,
    version: Version,
    fields: &[String],
) -> Result<Header, PluginError> {
    let file = spec.file;
    let Some(columns) = spec.columns(version) else {
        return Err(PluginError::InvalidData(format!(
            "{file} is not part of a OneRoster {} CSV package",
            version.label()
        )));
    };
    let mut names = Vec::with_capacity(fields.len());
    let mut index = QuickMap::default();
    let mut notes = Vec::new();
    for (at, raw) in fields.iter().enumerate() {
        let raw = raw.trim().trim_start_matches('\u{feff}');
        if raw.is_empty() {
            names.push(None);
            continue;
        }
        // A column becomes an attribute of that name: one the hub cannot
        // keep (the host refuses the whole page) is left out, and said so.
        if raw.chars().count() > MAX_COLUMN_NAME || raw.chars().any(char::is_control) {
            let shown: String = raw
                .chars()
                .take(80)
                .flat_map(char::escape_default)
                .collect();
            notes.push(format!(
                "{file}: column `{shown}` is left out: a column name has at most {MAX_COLUMN_NAME} characters and no control character"
            ));
            names.push(None);
            continue;
        }
        // Known columns keep the specification's spelling whatever the case.
        let known = FILES
            .iter()
            .flat_map(|s| [s.v1_1, s.v1_2])
            .flatten()
            .flat_map(|c| c.all.iter())
            .find(|c| c.eq_ignore_ascii_case(raw));
        let name = known.map_or_else(|| raw.to_string(), |c| c.to_string());
        if index.insert(name.clone(), at).is_some() {
            return Err(PluginError::InvalidData(format!(
                "{file}: column `{name}` appears twice in the header line; each column may appear once"
            )));
        }
        names.push(Some(name));
    }
    mend_slips(file, columns.all, &mut names, &mut index, &mut notes);
    let missing: Vec<&str> = columns
        .required
        .iter()
        .copied()
        .filter(|c| !index.contains_key(*c))
        .collect();
    if missing.is_empty() {
        return Ok(Header {
            names,
            index,
            notes,
        });
    }
    let listed = missing
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let what = if missing.len() == 1 {
        format!("column {listed} is missing")
    } else {
        format!("columns {listed} are missing")
    };
    // Names in the header that look like a missing column, misspelled.
    let mut hints = String::new();
    for column in &missing {
        let like: Vec<&str> = names
            .iter()
            .flatten()
            .map(String::as_str)
            .filter(|n| slip(n, column).is_some())
            .collect();
        match like.as_slice() {
            [] => {}
            [one] => hints.push_str(&format!(
                "; the header has `{one}`, which looks like a misspelling of it: spell it `{column}`"
            )),
            many => hints.push_str(&format!(
                "; the header has {}, which look like misspellings of it: keep one and spell it `{column}`",
                listing(many, "and")
            )),
        }
    }
    let mut message = format!(
        "{file}: {what}{hints}; a OneRoster {} {file} has: {}",
        version.label(),
        columns.all.join(", ")
    );
    let other = match version {
        Version::V1p1 => Version::V1p2,
        Version::V1p2 => Version::V1p1,
    };
    if let Some(theirs) = spec.columns(other)
        && theirs.required.iter().all(|c| index.contains_key(*c))
    {
        message.push_str(&format!(
            " (this header looks like OneRoster {}: check `oneroster.version` in manifest.csv)",
            other.label()
        ));
    }
    if fields.len() == 1 && fields[0].contains(';') {
        message.push_str(" (the header is separated by `;`: save the file as comma-separated CSV)");
    }
    Err(PluginError::InvalidData(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_missing_column_is_named_with_what_the_file_should_have() {
        let users = spec("users.csv").unwrap();
        let err = check_header(
            users,
            Version::V1p2,
            &strings(&["sourcedId", "enabledUser", "username", "familyName"]),
        )
        .unwrap_err();
        let text = err.message();
        assert!(
            text.starts_with("users.csv: column `givenName` is missing; a OneRoster 1.2 users.csv has: sourcedId, status,"),
            "{text}"
        );
        assert!(text.ends_with("primaryOrgSourcedId, pronouns"), "{text}");
    }

    #[test]
    fn a_1_1_header_in_a_1_2_package_gets_a_hint() {
        let users = spec("users.csv").unwrap();
        let header = strings(USERS_1_1.all);
        // 1.1 users.csv has every column 1.2 requires, so it passes as 1.2...
        assert!(check_header(users, Version::V1p2, &header).is_ok());
        // ...but a 1.2 header read as 1.1 lacks role and orgSourcedIds.
        let err = check_header(users, Version::V1p1, &strings(USERS_1_2.all)).unwrap_err();
        assert!(
            err.message()
                .contains("columns `orgSourcedIds`, `role` are missing"),
            "{}",
            err.message()
        );
        assert!(
            err.message().contains("looks like OneRoster 1.2"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn a_column_the_hub_cannot_name_is_left_out_and_said() {
        let orgs = spec("orgs.csv").unwrap();
        let long = format!("metadata.{}", "x".repeat(60));
        let h = check_header(
            orgs,
            Version::V1p1,
            &strings(&[
                "sourcedId",
                "name",
                "type",
                &long,
                "home\u{1b}room",
                "metadata.ok",
            ]),
        )
        .unwrap();
        assert_eq!(h.names[3], None);
        assert_eq!(h.names[4], None);
        assert_eq!(h.position("metadata.ok"), Some(5));
        assert_eq!(h.notes.len(), 2, "{:?}", h.notes);
        assert!(h.notes[0].contains("is left out"), "{:?}", h.notes);
        assert!(h.notes[1].contains("home\\u{1b}room"), "{:?}", h.notes);
    }

    #[test]
    fn case_bom_extensions_and_empty_trailing_columns() {
        let orgs = spec("orgs.csv").unwrap();
        let h = check_header(
            orgs,
            Version::V1p1,
            &strings(&["\u{feff}SourcedID", "NAME", "type", "metadata.ncesId", ""]),
        )
        .unwrap();
        assert_eq!(h.position("sourcedId"), Some(0));
        assert_eq!(h.position("name"), Some(1));
        assert_eq!(h.position("metadata.ncesId"), Some(3));
        assert_eq!(h.width(), 5);
        assert_eq!(h.names[4], None);
        assert_eq!(h.named_width(), 4);
        assert!(
            h.notes.is_empty(),
            "case alone is not worth a note: {:?}",
            h.notes
        );
        let err = check_header(
            orgs,
            Version::V1p1,
            &strings(&["sourcedId", "name", "type", "Name"]),
        )
        .unwrap_err();
        assert!(
            err.message().contains("`name` appears twice"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn slips_are_one_doubled_letter_one_double_typed_once_or_one_swap() {
        assert_eq!(slip("famillyName", "familyName"), Some(Slip::Doubled));
        assert_eq!(slip("FFamilyname", "familyName"), Some(Slip::Doubled));
        assert_eq!(
            slip("clasSourcedId", "classSourcedId"),
            Some(Slip::Undoubled)
        );
        assert_eq!(slip("givneName", "givenName"), Some(Slip::Swapped));
        assert_eq!(slip("sourcedID", "sourcedId"), None, "case only");
        for far in [
            "sourceId",
            "famiyName",
            "givenNmea",
            "famxlyName",
            "nmea",
            "Göven",
        ] {
            let near = ["sourcedId", "familyName", "givenName", "name"]
                .iter()
                .any(|c| slip(far, c).is_some());
            assert!(!near, "{far}");
        }
    }

    #[test]
    fn a_slip_onto_two_columns_is_not_guessed() {
        // `aab` is `ab` with a letter doubled and `aba` with two swapped.
        let mut names = vec![Some("aab".to_string())];
        let mut index = QuickMap::default();
        index.insert("aab".to_string(), 0);
        let mut notes = Vec::new();
        mend_slips("x.csv", &["ab", "aba"], &mut names, &mut index, &mut notes);
        assert_eq!(names[0].as_deref(), Some("aab"));
        assert_eq!(
            notes,
            [
                "x.csv: column `aab` in the header line looks like a misspelling of `ab` or `aba`, so it is read as a column of its own: rename it to the column it means in the export"
            ]
        );
        // A double letter typed once is mended too, with a note.
        let h = check_header(
            spec("enrollments.csv").unwrap(),
            Version::V1p2,
            &strings(&[
                "sourcedId",
                "clasSourcedId",
                "schoolSourcedId",
                "userSourcedId",
                "role",
            ]),
        )
        .unwrap();
        assert_eq!(h.position("classSourcedId"), Some(1));
        assert_eq!(h.names[1].as_deref(), Some("classSourcedId"));
        assert_eq!(
            h.notes,
            [
                "enrollments.csv: column `clasSourcedId` in the header line is read as `classSourcedId` (a double letter typed once): correct the column name in the export"
            ]
        );
    }
}

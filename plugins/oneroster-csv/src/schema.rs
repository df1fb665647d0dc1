//! The files of a OneRoster 1.1 and 1.2 CSV package and their columns: which
//! file holds which entity kind, which columns each version has (in the
//! specification's order), which must be there, which hold dates, and the
//! check of a file's header line against that, with a message that names the
//! file, the column and what was expected.
//!
//! Columns are matched by name, not position, and without regard to case
//! (`orgSourcedIDs` is `orgSourcedIds`); columns the specification does not
//! name (extensions, `metadata.*`) are kept.

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
}

impl Header {
    /// How many fields the header line has.
    pub fn width(&self) -> usize {
        self.names.len()
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
    for (at, raw) in fields.iter().enumerate() {
        let raw = raw.trim().trim_start_matches('\u{feff}');
        if raw.is_empty() {
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
    let missing: Vec<&str> = columns
        .required
        .iter()
        .copied()
        .filter(|c| !index.contains_key(*c))
        .collect();
    if missing.is_empty() {
        return Ok(Header { names, index });
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
    let mut message = format!(
        "{file}: {what}; a OneRoster {} {file} has: {}",
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
}

//! The data contract: what a connector's records must carry for the hub to
//! use them, per kind. Required attributes and the values an attribute may
//! take (OneRoster's vocabulary, which the canonical model follows). A
//! record that breaks it is still taken (the source system is what it is),
//! but every breach is told, by record, in `plugin run` and the run report.
//! The vendor guide's data-contract table is printed from [`CONTRACT`], so
//! the two cannot drift.
//!
//! Required references (a class's course and school, an enrollment's user
//! and class) are `kinds::REQUIRED_REFERENCES`; those are enforced, not
//! only told. No I/O here.

use crate::bindings::types::{Entity, EntityKind, Status, Value};

/// One attribute's terms.
pub struct Term {
    pub kind: EntityKind,
    pub attribute: &'static str,
    /// A record of this kind without it is told (unless its connector
    /// declares the kind `partial`).
    pub required: bool,
    /// The values it may take (compared without case); none: any.
    pub values: Option<&'static [&'static str]>,
    /// What it is for, in the guide.
    pub meaning: &'static str,
}

/// OneRoster's roles of a user (1.1 and 1.2 together).
pub const USER_ROLES: &[&str] = &[
    "student",
    "teacher",
    "aide",
    "parent",
    "guardian",
    "relative",
    "administrator",
    "districtAdministrator",
    "siteAdministrator",
    "systemAdministrator",
    "principal",
    "counselor",
    "proctor",
];

/// CEDS grade levels, as OneRoster spells them.
pub const GRADES: &[&str] = &[
    "IT", "PR", "PK", "TK", "KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
    "12", "13", "PS", "UG", "Other",
];

pub const CONTRACT: &[Term] = &[
    Term {
        kind: EntityKind::Org,
        attribute: "name",
        required: true,
        values: None,
        meaning: "the name admins and vendors see",
    },
    Term {
        kind: EntityKind::Org,
        attribute: "type",
        required: true,
        values: Some(&[
            "school",
            "district",
            "department",
            "local",
            "state",
            "national",
        ]),
        meaning: "schools are what schools mapping and the school filter work on",
    },
    Term {
        kind: EntityKind::User,
        attribute: "role",
        required: true,
        values: Some(USER_ROLES),
        meaning: "makes a user a student, teacher, contact or admin",
    },
    Term {
        kind: EntityKind::User,
        attribute: "givenName",
        required: true,
        values: None,
        meaning: "first name",
    },
    Term {
        kind: EntityKind::User,
        attribute: "familyName",
        required: true,
        values: None,
        meaning: "last name",
    },
    Term {
        kind: EntityKind::User,
        attribute: "grades",
        required: false,
        values: Some(GRADES),
        meaning: "grade levels (texts); the grade filter reads them",
    },
    Term {
        kind: EntityKind::AcademicSession,
        attribute: "title",
        required: true,
        values: None,
        meaning: "the term's name",
    },
    Term {
        kind: EntityKind::AcademicSession,
        attribute: "type",
        required: true,
        values: Some(&["schoolYear", "semester", "term", "gradingPeriod"]),
        meaning: "what kind of term",
    },
    Term {
        kind: EntityKind::Course,
        attribute: "title",
        required: true,
        values: None,
        meaning: "the course's name",
    },
    Term {
        kind: EntityKind::Class,
        attribute: "title",
        required: true,
        values: None,
        meaning: "the class's name",
    },
    Term {
        kind: EntityKind::Class,
        attribute: "classType",
        required: false,
        values: Some(&["homeroom", "scheduled"]),
        meaning: "homeroom or scheduled",
    },
    Term {
        kind: EntityKind::Enrollment,
        attribute: "role",
        required: true,
        values: Some(&["student", "teacher", "aide", "administrator", "proctor"]),
        meaning: "the user's part in the class",
    },
    Term {
        kind: EntityKind::LineItem,
        attribute: "title",
        required: true,
        values: None,
        meaning: "the assignment's name",
    },
];

/// What a record breaks of the contract, each said the way a vendor fixes
/// it. `partial`: the connector supplies part of each record of this kind
/// (a directory beside a SIS), so missing attributes are not told. A
/// record marked deleted is not checked.
pub fn breaches(e: &Entity, partial: bool) -> Vec<String> {
    let mut said = Vec::new();
    if e.status == Status::ToBeDeleted {
        return said;
    }
    for term in CONTRACT.iter().filter(|t| t.kind == e.kind) {
        let value = e
            .attributes
            .iter()
            .find(|a| a.name == term.attribute)
            .map(|a| &a.value);
        let texts: Vec<&str> = match value {
            Some(Value::Text(t)) if !t.trim().is_empty() => vec![t.as_str()],
            Some(Value::Texts(ts)) => ts.iter().map(String::as_str).collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(Value::Text(_)) => Vec::new(),
            // Another type: its values cannot be checked against a list.
            Some(_) => continue,
        };
        let kind = e.kind.cli_name();
        if texts.is_empty() {
            if term.required && !partial {
                let choose = term
                    .values
                    .map(|v| format!(": one of {}", v.join(", ")))
                    .unwrap_or_default();
                said.push(format!(
                    "{kind} {} has no {}{choose} (the attribute {} is required of every {kind})",
                    e.source_id, term.attribute, term.attribute
                ));
            }
            continue;
        }
        let Some(allowed) = term.values else {
            continue;
        };
        for text in texts {
            if !allowed.iter().any(|a| a.eq_ignore_ascii_case(text.trim())) {
                said.push(format!(
                    "{kind} {} has {} {text:?}, which the hub does not know: use one of {}",
                    e.source_id,
                    term.attribute,
                    allowed.join(", ")
                ));
            }
        }
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::Attribute;

    fn user(attrs: &[(&str, Value)]) -> Entity {
        Entity {
            kind: EntityKind::User,
            source_id: "u1".into(),
            status: Status::Active,
            date_last_modified: None,
            attributes: attrs
                .iter()
                .map(|(n, v)| Attribute {
                    name: n.to_string(),
                    value: v.clone(),
                })
                .collect(),
        }
    }

    fn text(t: &str) -> Value {
        Value::Text(t.into())
    }

    #[test]
    fn a_whole_user_keeps_the_contract() {
        let u = user(&[
            ("role", text("Student")),
            ("givenName", text("Ada")),
            ("familyName", text("L")),
            ("grades", Value::Texts(vec!["KG".into(), "09".into()])),
        ]);
        assert_eq!(breaches(&u, false), Vec::<String>::new());
    }

    #[test]
    fn a_user_without_a_role_or_with_an_unknown_one_is_told() {
        let none = user(&[("givenName", text("Ada")), ("familyName", text("L"))]);
        let said = breaches(&none, false);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].contains("user u1 has no role: one of student, teacher"),
            "{said:?}"
        );
        assert!(breaches(&none, true).is_empty(), "a partial source");
        let odd = user(&[
            ("role", text("wizard")),
            ("givenName", text("Ada")),
            ("familyName", text("L")),
            ("grades", Value::Texts(vec!["banana".into()])),
        ]);
        let said = breaches(&odd, true);
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(said[0].contains("role \"wizard\", which the hub does not know"));
        assert!(said[1].contains("grades \"banana\""));
    }

    #[test]
    fn an_org_without_a_type_is_told_and_a_deleted_one_is_not() {
        let mut org = Entity {
            kind: EntityKind::Org,
            source_id: "s1".into(),
            status: Status::Active,
            date_last_modified: None,
            attributes: vec![Attribute {
                name: "name".into(),
                value: text("Lincoln"),
            }],
        };
        let said = breaches(&org, false);
        assert_eq!(said.len(), 1);
        assert!(said[0].starts_with("org s1 has no type: one of school, district"));
        org.status = Status::ToBeDeleted;
        assert!(breaches(&org, false).is_empty());
    }
}

//! Typed helpers over the canonical records: build an entity attribute by
//! attribute or by the typed builders of the canonical kinds (a user with
//! its role, an org with its type, grades in the contract's form), read
//! attributes back by name, name entity kinds.

use crate::wit::types::{
    Attribute, Entity, EntityKind, Page, PluginError, Reference, Status, Value,
};

impl EntityKind {
    /// Every kind, in the order a full import reads them (parents first).
    pub const ALL: [EntityKind; 11] = [
        EntityKind::Org,
        EntityKind::AcademicSession,
        EntityKind::Course,
        EntityKind::Class,
        EntityKind::User,
        EntityKind::Demographics,
        EntityKind::UserAgent,
        EntityKind::Enrollment,
        EntityKind::Category,
        EntityKind::LineItem,
        EntityKind::Result,
    ];

    /// The name used in settings, logs and the CLI (`academic-session`).
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Org => "org",
            EntityKind::AcademicSession => "academic-session",
            EntityKind::Course => "course",
            EntityKind::Class => "class",
            EntityKind::User => "user",
            EntityKind::Enrollment => "enrollment",
            EntityKind::Demographics => "demographics",
            EntityKind::UserAgent => "user-agent",
            EntityKind::Category => "category",
            EntityKind::LineItem => "line-item",
            EntityKind::Result => "result",
        }
    }

    pub fn from_name(name: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl Value {
    /// The value as text, when it is text-like (text, date, date-time).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) | Value::Date(s) | Value::DateTime(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl Entity {
    pub fn new(kind: EntityKind, source_id: impl Into<String>) -> Entity {
        Entity {
            kind,
            source_id: source_id.into(),
            status: Status::Active,
            date_last_modified: None,
            attributes: Vec::new(),
        }
    }

    /// Set an attribute, replacing any earlier value of the same name.
    pub fn set(&mut self, name: &str, value: Value) -> &mut Entity {
        match self.attributes.iter_mut().find(|a| a.name == name) {
            Some(a) => a.value = value,
            None => self.attributes.push(Attribute {
                name: name.to_string(),
                value,
            }),
        }
        self
    }

    /// Builder form of [`Entity::set`].
    pub fn with(mut self, name: &str, value: Value) -> Entity {
        self.set(name, value);
        self
    }

    /// Builder: a text attribute, left out when the text is empty.
    pub fn with_text(self, name: &str, text: impl Into<String>) -> Entity {
        let text = text.into();
        if text.is_empty() {
            self
        } else {
            self.with(name, Value::Text(text))
        }
    }

    /// Builder: a reference to another entity, left out when the id is empty.
    pub fn with_ref(self, name: &str, kind: EntityKind, source_id: impl Into<String>) -> Entity {
        let source_id = source_id.into();
        if source_id.is_empty() {
            self
        } else {
            self.with(name, Value::Reference(Reference { kind, source_id }))
        }
    }

    /// Builder: a date attribute (`YYYY-MM-DD`; a date-time is cut to its
    /// date), left out when there is no date or it is not one.
    #[cfg(feature = "connector")]
    pub fn with_date(self, name: &str, text: Option<&str>) -> Entity {
        match text.and_then(crate::oneroster::normalize_date) {
            Some(d) => self.with(name, Value::Date(d)),
            None => self,
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| &a.value)
    }

    /// A text-like attribute's value.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let at = self.attributes.iter().position(|a| a.name == name)?;
        Some(self.attributes.remove(at).value)
    }
}

impl Page {
    /// A page of `entities`, `next` naming the page after it; no total,
    /// nothing ahead.
    pub fn new(entities: Vec<Entity>, next: Option<String>) -> Page {
        Page {
            entities,
            next,
            total: None,
            ahead: Vec::new(),
        }
    }
}

/// A user's role, as the data contract names it (OneRoster's roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Student,
    Teacher,
    Aide,
    Parent,
    Guardian,
    Relative,
    Administrator,
    DistrictAdministrator,
    SiteAdministrator,
    SystemAdministrator,
    Principal,
    Counselor,
    Proctor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Student => "student",
            Role::Teacher => "teacher",
            Role::Aide => "aide",
            Role::Parent => "parent",
            Role::Guardian => "guardian",
            Role::Relative => "relative",
            Role::Administrator => "administrator",
            Role::DistrictAdministrator => "districtAdministrator",
            Role::SiteAdministrator => "siteAdministrator",
            Role::SystemAdministrator => "systemAdministrator",
            Role::Principal => "principal",
            Role::Counselor => "counselor",
            Role::Proctor => "proctor",
        }
    }
}

/// An org's type, as the data contract names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgType {
    School,
    District,
    Department,
    Local,
    State,
    National,
}

impl OrgType {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgType::School => "school",
            OrgType::District => "district",
            OrgType::Department => "department",
            OrgType::Local => "local",
            OrgType::State => "state",
            OrgType::National => "national",
        }
    }
}

/// A grade level in the contract's form (CEDS, as OneRoster spells it)
/// from the ways source systems write it: `9` and `09` → `09`, `K` and
/// `kindergarten` → `KG`, `PK`, `13`, `UG`. None when it is none of them.
pub fn grade_level(text: &str) -> Option<&'static str> {
    const LEVELS: [&str; 21] = [
        "IT", "PR", "PK", "TK", "KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10",
        "11", "12", "13", "PS", "UG", "Other",
    ];
    let t = text.trim();
    if let Ok(n) = t.parse::<u8>() {
        return match n {
            0 => Some("KG"),
            1..=13 => Some(LEVELS[4 + n as usize]),
            _ => None,
        };
    }
    let upper = t.to_ascii_uppercase();
    match upper.as_str() {
        "K" | "KINDERGARTEN" | "KG" => Some("KG"),
        "PRE-K" | "PREK" | "PK" => Some("PK"),
        "OTHER" => Some("Other"),
        _ => LEVELS.iter().copied().find(|l| *l == upper),
    }
}

/// Typed builders of the canonical kinds: the attributes the data contract
/// asks of each, by name, so a record cannot miss them.
impl Entity {
    /// A user with its role and names (each required of every user).
    pub fn user(
        source_id: impl Into<String>,
        role: Role,
        given_name: &str,
        family_name: &str,
    ) -> Entity {
        Entity::new(EntityKind::User, source_id)
            .with_text("role", role.as_str())
            .with_text("givenName", given_name)
            .with_text("familyName", family_name)
    }

    /// An org with its type and name.
    pub fn org(source_id: impl Into<String>, org_type: OrgType, name: &str) -> Entity {
        Entity::new(EntityKind::Org, source_id)
            .with_text("name", name)
            .with_text("type", org_type.as_str())
    }

    /// A school: an org of type school.
    pub fn school(source_id: impl Into<String>, name: &str) -> Entity {
        Entity::org(source_id, OrgType::School, name)
    }

    /// Builder: a user's orgs (its schools), by their source ids; empty ids
    /// are left out.
    pub fn with_orgs<I, S>(self, org_ids: I) -> Entity
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let refs: Vec<Reference> = org_ids
            .into_iter()
            .map(Into::into)
            .filter(|id: &String| !id.is_empty())
            .map(|source_id| Reference {
                kind: EntityKind::Org,
                source_id,
            })
            .collect();
        if refs.is_empty() {
            self
        } else {
            self.with("orgs", Value::References(refs))
        }
    }

    /// Builder: grade levels, each put in the contract's form by
    /// [`grade_level`]; `Err` names one that is not a grade.
    pub fn with_grades<'a>(
        self,
        grades: impl IntoIterator<Item = &'a str>,
    ) -> Result<Entity, String> {
        let mut levels = Vec::new();
        for g in grades.into_iter().filter(|g| !g.trim().is_empty()) {
            let level = grade_level(g)
                .ok_or_else(|| format!("`{g}` is not a grade level (KG, 01-13, PK, ...)"))?;
            levels.push(level.to_string());
        }
        Ok(if levels.is_empty() {
            self
        } else {
            self.with("grades", Value::Texts(levels))
        })
    }
}

impl PluginError {
    /// The message, whatever the kind.
    pub fn message(&self) -> &str {
        match self {
            PluginError::Config(m)
            | PluginError::Auth(m)
            | PluginError::Unavailable(m)
            | PluginError::RateLimited(m)
            | PluginError::InvalidData(m)
            | PluginError::Unsupported(m) => m,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replaces_and_text_reads_back() {
        let mut e = Entity::new(EntityKind::User, "u1").with_text("email", "A@X.ORG");
        e.set("email", Value::Text("a@x.org".into()));
        assert_eq!(e.attributes.len(), 1);
        assert_eq!(e.text("email"), Some("a@x.org"));
        assert_eq!(e.clone().with_text("phone", "").attributes.len(), 1);
    }

    #[test]
    fn builders_carry_what_the_contract_asks() {
        let u = Entity::user("s1", Role::Student, "Ada", "Lovelace")
            .with_orgs(["sch1", ""])
            .with_grades(["9", "K"])
            .unwrap();
        assert_eq!(u.text("role"), Some("student"));
        assert_eq!(u.text("familyName"), Some("Lovelace"));
        assert!(
            matches!(u.get("grades"), Some(Value::Texts(g)) if g == &["09", "KG"]),
            "{:?}",
            u.get("grades")
        );
        assert!(matches!(u.get("orgs"), Some(Value::References(r)) if r.len() == 1));
        let err = Entity::user("s2", Role::Student, "A", "B")
            .with_grades(["banana"])
            .unwrap_err();
        assert!(err.contains("`banana` is not a grade level"), "{err}");
        assert_eq!(Entity::school("x", "Lincoln").text("type"), Some("school"));
        assert_eq!(grade_level("13"), Some("13"));
        assert_eq!(grade_level("14"), None);
        assert_eq!(grade_level("pk"), Some("PK"));
    }

    #[cfg(feature = "connector")]
    #[test]
    fn dates_are_kept_as_dates_and_the_rest_left_out() {
        let e = Entity::new(EntityKind::AcademicSession, "t1")
            .with_date("startDate", Some("2024-08-15T00:00:00Z"))
            .with_date("endDate", Some("June 10"))
            .with_date("schoolYear", None);
        assert_eq!(e.text("startDate"), Some("2024-08-15"));
        assert!(matches!(e.get("startDate"), Some(Value::Date(_))));
        assert_eq!(e.attributes.len(), 1);
        let page = Page::new(vec![e], Some("2".into()));
        assert_eq!((page.total, page.ahead.len()), (None, 0));
    }

    #[test]
    fn kind_names_round_trip() {
        for k in EntityKind::ALL {
            assert_eq!(EntityKind::from_name(k.name()), Some(k));
        }
        assert_eq!(EntityKind::from_name("teacher"), None);
    }
}

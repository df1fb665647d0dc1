//! Typed helpers over the canonical records: build an entity attribute by
//! attribute, read attributes back by name, name entity kinds.

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

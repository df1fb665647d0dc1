//! A CSV row as a canonical entity.
//!
//! This module owns the CSV binding's shape: `xSourcedId` columns are
//! references, `xSourcedIds` lists of them, `grades`/`subjects`/`periods` are
//! comma-separated lists, `userIds` is `{type:id},{type:id}`, `metadata.*`
//! columns are metadata, and OneRoster 1.2 spreads a user over `users.csv`,
//! `roles.csv` and `userProfiles.csv`. It turns a row (with, for a 1.2 user,
//! its roles and profiles) into the JSON record the REST binding would have
//! sent and maps that with `homeroom_sdk::oneroster::entity_from_json`, so
//! the CSV and REST connectors give the same attribute names and value types
//! for the same data.
//!
//! It also owns the side tables of roles and user profiles: read once per
//! session, kept compact and looked up per user. A role costs 16 bytes (the
//! user's id hash and the index of its role, org and dates, which most roles
//! share): about 35 MB, and 100 MB at the peak of building, for the 2.2
//! million roles of a district of a million students. A profile costs about
//! 50 bytes and its id and username.

use homeroom_sdk::oneroster::{
    Field, Mapped, boolean_text, date_of, entity_from_json, field_type, normalize_datetime,
};
use homeroom_sdk::{Attribute, Entity, EntityKind, Reference, Status, Value};
use serde_json::{Map, Value as Json, json};

use crate::refs::{QuickMap, id_hash};
use crate::rows::Record;
use crate::schema::{Fields, Header};

/// Where a CSV column goes in the REST binding's JSON.
enum Target<'a> {
    Plain(&'a str),
    Ref(&'static str),
    Refs(&'static str),
    List,
    UserIds,
    Metadata(&'a str),
}

fn target(column: &str) -> Target<'_> {
    match column {
        "orgSourcedIds" => Target::Refs("orgs"),
        "agentSourcedIds" => Target::Refs("agents"),
        "termSourcedIds" => Target::Refs("terms"),
        "resourceSourcedIds" => Target::Refs("resources"),
        "parentSourcedId" => Target::Ref("parent"),
        "schoolYearSourcedId" => Target::Ref("schoolYear"),
        "orgSourcedId" => Target::Ref("org"),
        "courseSourcedId" => Target::Ref("course"),
        "schoolSourcedId" => Target::Ref("school"),
        "classSourcedId" => Target::Ref("class"),
        "userSourcedId" => Target::Ref("user"),
        "categorySourcedId" => Target::Ref("category"),
        "gradingPeriodSourcedId" => Target::Ref("gradingPeriod"),
        "academicSessionSourcedId" => Target::Ref("academicSession"),
        "scoreScaleSourcedId" => Target::Ref("scoreScale"),
        "lineItemSourcedId" => Target::Ref("lineItem"),
        "studentSourcedId" => Target::Ref("student"),
        "primaryOrgSourcedId" => Target::Ref("primaryOrg"),
        "grades" | "subjects" | "subjectCodes" | "periods" => Target::List,
        "userIds" => Target::UserIds,
        "preferredGivenName" => Target::Plain("preferredFirstName"),
        "preferredFamilyName" => Target::Plain("preferredLastName"),
        other => match other.strip_prefix("metadata.") {
            Some(key) if !key.is_empty() => Target::Metadata(key),
            _ => Target::Plain(other),
        },
    }
}

/// The items of a comma-separated list field.
pub fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn guid(id: &str) -> Json {
    json!({ "sourcedId": id })
}

/// The items of a `userIds` field: `{SIS:1001},{LDAP:jdoe}` or `SIS:1001,LDAP:jdoe`.
fn user_id_items(value: &str) -> Vec<&str> {
    if value.contains('{') {
        value
            .split('{')
            .filter_map(|part| part.split('}').next())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    } else {
        list(value).collect()
    }
}

/// `{SIS:1001},{LDAP:jdoe}` (or `SIS:1001,LDAP:jdoe`) as REST `userIds`.
fn user_ids(value: &str) -> Json {
    let items = user_id_items(value);
    Json::Array(
        items
            .into_iter()
            .map(|item| match item.split_once(':') {
                Some((kind, id)) => json!({"type": kind.trim(), "identifier": id.trim()}),
                None => json!({"type": "unknown", "identifier": item}),
            })
            .collect(),
    )
}

/// A row as the JSON record of the REST binding.
pub fn row_json(header: &Header, fields: &[String]) -> Map<String, Json> {
    let mut object = Map::new();
    let mut metadata = Map::new();
    for (name, value) in header.names.iter().zip(fields) {
        let Some(name) = name else { continue };
        if value.is_empty() {
            continue;
        }
        match target(name) {
            Target::Plain(key) => {
                object.insert(key.to_string(), Json::String(value.clone()));
            }
            Target::Ref(key) => {
                object.insert(key.to_string(), guid(value));
            }
            Target::Refs(key) => {
                object.insert(
                    key.to_string(),
                    Json::Array(list(value).map(guid).collect()),
                );
            }
            Target::List => {
                let items = list(value).map(|s| Json::String(s.to_string())).collect();
                object.insert(name.clone(), Json::Array(items));
            }
            Target::UserIds => {
                object.insert("userIds".into(), user_ids(value));
            }
            Target::Metadata(key) => {
                metadata.insert(key.to_string(), Json::String(value.clone()));
            }
        }
    }
    if !metadata.is_empty() {
        object.insert("metadata".into(), Json::Object(metadata));
    }
    object
}

/// A row as an entity, with the mapper's warnings about loose values. A 1.2
/// user gets its roles and profiles from `sides`.
pub fn entity(
    kind: EntityKind,
    header: &Header,
    fields: &[String],
    sides: Option<&UserSides>,
) -> Mapped {
    let mut object = row_json(header, fields);
    if let (EntityKind::User, Some(sides)) = (kind, sides)
        && let Some(id) = object
            .get("sourcedId")
            .and_then(Json::as_str)
            .map(str::to_string)
    {
        let roles = sides
            .roles
            .as_ref()
            .map(|t| t.roles_of(&id))
            .unwrap_or_default();
        if !roles.is_empty() {
            object.insert("roles".into(), Json::Array(roles));
        }
        let profiles = sides
            .profiles
            .as_ref()
            .map(|t| t.profiles_of(&id))
            .unwrap_or_default();
        if !profiles.is_empty() {
            object.insert("userProfiles".into(), Json::Array(profiles));
        }
    }
    let record = Json::Object(object);
    match entity_from_json(kind, &record) {
        Ok(mapped) => mapped,
        // Rows without a sourcedId are bad rows and never come here.
        Err(e) => Mapped {
            entity: Entity::new(kind, ""),
            warnings: vec![e.to_string()],
        },
    }
}

/// What a column becomes on the direct path of a [`Plan`].
#[derive(Debug, Clone, Copy)]
enum How {
    Text,
    Date,
    DateTime,
    Bool,
    Number,
    Ref(EntityKind),
    Refs(EntityKind),
    /// A reference to something that is not an entity here: its id as text.
    OtherRef,
    OtherRefs,
    Texts,
    UserIds,
    /// A 1.2 user's roles and profiles, from their files.
    Roles,
    Profiles,
}

/// The shape a column has in the JSON record of [`row_json`].
#[derive(Debug, Clone, Copy)]
enum Shape {
    Text,
    Guid,
    Guids,
    List,
    UserIds,
    Roles,
    Profiles,
}

#[derive(Debug)]
struct Step {
    /// The attribute's name (the JSON key).
    name: String,
    at: usize,
    how: How,
}

/// The steps of the direct path for one header.
#[derive(Debug)]
struct Steps {
    id: usize,
    status: Option<usize>,
    modified: Option<usize>,
    /// In the order of their JSON keys, which is the order `entity_from_json`
    /// sets them in.
    steps: Vec<Step>,
    /// `metadata.<key>` attributes, in the order of their keys.
    metadata: Vec<(String, usize)>,
}

/// Rows of one file as entities, straight from their fields: the same
/// entities [`entity`] makes through the JSON record of the REST binding,
/// without building that record. The plan is made once per header; a header
/// the direct path does not cover (a column named `metadata`, two columns
/// becoming the same field, a column whose value does not have its field's
/// shape, ...) and a row with anything to warn about go the JSON way.
pub struct Plan {
    kind: EntityKind,
    steps: Option<Steps>,
    /// Where a row's attributes are gathered, to leave each entity with a
    /// list of just the size it needs.
    scratch: Vec<Attribute>,
}

/// Attributes a plan may make: well below the mapper's limit (500).
const MAX_STEPS: usize = 400;

impl Plan {
    /// The plan for rows of `kind` under `header`; `joined` when 1.2 users
    /// are joined with their roles and profiles.
    pub fn new(kind: EntityKind, header: &Header, joined: bool) -> Plan {
        Plan {
            kind,
            steps: Steps::new(kind, header, joined && kind == EntityKind::User),
            scratch: Vec::new(),
        }
    }

    /// A good row as an entity, as [`entity`] maps it.
    pub fn entity(&mut self, header: &Header, row: &Record, sides: Option<&UserSides>) -> Mapped {
        if let Some(steps) = &self.steps
            && let Some(mapped) = steps.map(self.kind, row, sides, &mut self.scratch)
        {
            // Tests (debug builds) check the direct path against the JSON way.
            #[cfg(all(test, debug_assertions))]
            {
                let slow = entity(self.kind, header, &row.to_vec(), sides);
                assert_eq!(format!("{:?}", mapped.entity), format!("{:?}", slow.entity));
                assert_eq!(mapped.warnings, slow.warnings);
            }
            return mapped;
        }
        entity(self.kind, header, &row.to_vec(), sides)
    }

    /// Whether rows take the direct path (else every row goes through JSON).
    #[cfg(test)]
    pub fn is_direct(&self) -> bool {
        self.steps.is_some()
    }
}

impl Steps {
    fn new(kind: EntityKind, header: &Header, joined: bool) -> Option<Steps> {
        let (mut id, mut status, mut modified) = (None, None, None);
        let mut keyed: Vec<(String, usize, Shape)> = Vec::new();
        let mut metadata = Vec::new();
        for (at, name) in header.names.iter().enumerate() {
            let Some(name) = name else { continue };
            let (key, shape) = match target(name) {
                Target::Plain("sourcedId") => {
                    id = Some(at);
                    continue;
                }
                Target::Plain("status") => {
                    status = Some(at);
                    continue;
                }
                Target::Plain("dateLastModified") => {
                    modified = Some(at);
                    continue;
                }
                // Never mapped (see `entity_from_json`).
                Target::Plain("password") => continue,
                Target::Plain("metadata") => return None,
                Target::Plain(key) => (key, Shape::Text),
                Target::Ref(key) => (key, Shape::Guid),
                Target::Refs(key) => (key, Shape::Guids),
                Target::List => (name.as_str(), Shape::List),
                Target::UserIds => ("userIds", Shape::UserIds),
                Target::Metadata(key) => {
                    metadata.push((format!("metadata.{key}"), at));
                    continue;
                }
            };
            keyed.push((key.to_string(), at, shape));
        }
        if joined {
            keyed.push(("roles".into(), usize::MAX, Shape::Roles));
            keyed.push(("userProfiles".into(), usize::MAX, Shape::Profiles));
        }
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        metadata.sort();
        if keyed.windows(2).any(|w| w[0].0 == w[1].0)
            || metadata.windows(2).any(|w| w[0].0 == w[1].0)
            || keyed.len() + metadata.len() > MAX_STEPS
        {
            return None;
        }
        let mut steps = Vec::with_capacity(keyed.len());
        for (name, at, shape) in keyed {
            let how = match (shape, field_type(kind, &name)) {
                (Shape::Text, None | Some(Field::Text)) => How::Text,
                (Shape::Text, Some(Field::Date)) => How::Date,
                (Shape::Text, Some(Field::DateTime)) => How::DateTime,
                (Shape::Text, Some(Field::Bool)) => How::Bool,
                (Shape::Text, Some(Field::Number)) => How::Number,
                (Shape::Guid, Some(Field::Ref(k))) => How::Ref(k),
                (Shape::Guid, Some(Field::Other(_))) => How::OtherRef,
                (Shape::Guids, Some(Field::Refs(k))) => How::Refs(k),
                (Shape::Guids, Some(Field::Others(_))) => How::OtherRefs,
                (Shape::List, Some(Field::Texts)) => How::Texts,
                (Shape::UserIds, Some(Field::UserIds)) => How::UserIds,
                (Shape::Roles, Some(Field::Roles)) => How::Roles,
                (Shape::Profiles, Some(Field::JsonItems)) => How::Profiles,
                _ => return None,
            };
            steps.push(Step { name, at, how });
        }
        Some(Steps {
            id: id?,
            status,
            modified,
            steps,
            metadata,
        })
    }

    /// The row as an entity; none when the JSON way must map it (it would
    /// warn about something, or has no usable id).
    fn map(
        &self,
        kind: EntityKind,
        row: &Record,
        sides: Option<&UserSides>,
        attributes: &mut Vec<Attribute>,
    ) -> Option<Mapped> {
        attributes.clear();
        let field = |at: Option<usize>| at.and_then(|i| row.get(i)).unwrap_or("");
        let raw_id = field(Some(self.id));
        let source_id = raw_id.trim();
        if source_id.is_empty() {
            return None;
        }
        let status = if field(self.status)
            .trim()
            .eq_ignore_ascii_case("tobedeleted")
        {
            Status::ToBeDeleted
        } else {
            Status::Active
        };
        let modified = field(self.modified);
        let date_last_modified = if modified.trim().is_empty() {
            None
        } else {
            Some(normalize_datetime(modified)?)
        };
        let mut put = |name: &str, value: Value| {
            attributes.push(Attribute {
                name: name.to_string(),
                value,
            })
        };
        // The user's roles (found once, gone through for each use).
        let roles = sides
            .and_then(|s| s.roles.as_ref())
            .map(|table| table.rows_of(raw_id));
        let mut has_roles = false;
        for step in &self.steps {
            let value = match step.how {
                How::Roles | How::Profiles => "",
                _ => {
                    let value = field(Some(step.at));
                    if value.is_empty() {
                        continue;
                    }
                    value
                }
            };
            let typed = match step.how {
                How::Text => Value::Text(value.to_string()),
                How::Date | How::DateTime | How::Bool | How::Number if value.trim().is_empty() => {
                    continue;
                }
                How::Date => Value::Date(date_of(value)?.to_string()),
                How::DateTime => Value::DateTime(normalize_datetime(value)?),
                How::Bool => Value::Boolean(boolean_text(value)?),
                How::Number => {
                    Value::Number(value.trim().parse::<f64>().ok().filter(|f| f.is_finite())?)
                }
                How::Ref(kind) => {
                    let id = value.trim();
                    if id.is_empty() {
                        return None;
                    }
                    Value::Reference(Reference {
                        kind,
                        source_id: id.to_string(),
                    })
                }
                How::OtherRef => {
                    let id = value.trim();
                    if id.is_empty() {
                        return None;
                    }
                    Value::Text(id.to_string())
                }
                How::Refs(kind) => {
                    let refs: Vec<Reference> = list(value)
                        .map(|id| Reference {
                            kind,
                            source_id: id.to_string(),
                        })
                        .collect();
                    if refs.is_empty() {
                        continue;
                    }
                    Value::References(refs)
                }
                How::OtherRefs | How::Texts => {
                    let items: Vec<String> = list(value).map(str::to_string).collect();
                    if items.is_empty() {
                        continue;
                    }
                    Value::Texts(items)
                }
                How::UserIds => {
                    let items: Vec<String> = user_id_items(value)
                        .into_iter()
                        .map(|item| match item.split_once(':') {
                            Some((kind, id)) => format!("{}:{}", kind.trim(), id.trim()),
                            None => format!("unknown:{item}"),
                        })
                        .collect();
                    if items.is_empty() {
                        continue;
                    }
                    Value::Texts(items)
                }
                How::Roles => {
                    let Some(roles) = roles.clone() else {
                        continue;
                    };
                    let mut names: Vec<String> = Vec::new();
                    for role in roles {
                        has_roles = true;
                        if let Some(name) = role.role
                            && !names.iter().any(|n| n == name)
                        {
                            names.push(name.to_string());
                        }
                    }
                    if names.is_empty() {
                        continue;
                    }
                    Value::Texts(names)
                }
                How::Profiles => {
                    let Some(table) = sides.and_then(|s| s.profiles.as_ref()) else {
                        continue;
                    };
                    let texts: Vec<String> = table
                        .profiles_of(raw_id)
                        .iter()
                        .map(Json::to_string)
                        .collect();
                    if texts.is_empty() {
                        continue;
                    }
                    Value::Texts(texts)
                }
            };
            put(&step.name, typed);
        }
        // As `entity_from_json` does for 1.2 users: the primary role as
        // `role`, the roles' orgs as `orgs`.
        if has_roles && let Some(roles) = roles {
            let has =
                |attributes: &[Attribute], name: &str| attributes.iter().any(|a| a.name == name);
            if !has(attributes, "role") {
                let primary = roles
                    .clone()
                    .find(|r| r.role_type == Some("primary"))
                    .or_else(|| roles.clone().next())
                    .and_then(|r| r.role);
                if let Some(role) = primary {
                    attributes.push(Attribute {
                        name: "role".into(),
                        value: Value::Text(role.to_string()),
                    });
                }
            }
            if !has(attributes, "orgs") {
                let mut orgs: Vec<Reference> = Vec::new();
                for org in roles.filter_map(|r| r.org) {
                    let org = org.trim();
                    if !org.is_empty() && !orgs.iter().any(|o| o.source_id == org) {
                        orgs.push(Reference {
                            kind: EntityKind::Org,
                            source_id: org.to_string(),
                        });
                    }
                }
                if !orgs.is_empty() {
                    attributes.push(Attribute {
                        name: "orgs".into(),
                        value: Value::References(orgs),
                    });
                }
            }
        }
        for (name, at) in &self.metadata {
            let value = field(Some(*at));
            if !value.is_empty() {
                attributes.push(Attribute {
                    name: name.clone(),
                    value: Value::Text(value.to_string()),
                });
            }
        }
        // Moved out into a list of just their number; the scratch list keeps
        // its room for the next row.
        let mut exact = Vec::with_capacity(attributes.len());
        exact.append(attributes);
        Some(Mapped {
            entity: Entity {
                kind,
                source_id: source_id.to_string(),
                status,
                date_last_modified,
                attributes: exact,
            },
            warnings: Vec::new(),
        })
    }
}

/// Strings of a side table, each stored once (`intern`) or as it comes (`push`).
#[derive(Default)]
struct Strings {
    text: String,
    spans: Vec<(u32, u32)>,
    interned: QuickMap<Box<str>, u32>,
}

/// The id of an absent string.
const NONE: u32 = u32::MAX;

impl Strings {
    fn push(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return NONE;
        }
        let at = self.text.len() as u32;
        self.text.push_str(s);
        self.spans.push((at, s.len() as u32));
        (self.spans.len() - 1) as u32
    }

    fn intern(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return NONE;
        }
        if let Some(&id) = self.interned.get(s) {
            return id;
        }
        let id = self.push(s);
        self.interned.insert(s.into(), id);
        id
    }

    fn get(&self, id: u32) -> Option<&str> {
        let &(at, len) = self.spans.get(id as usize)?;
        self.text.get(at as usize..(at + len) as usize)
    }
}

/// Rows of a side file keyed by the user they belong to. Each row is a user
/// hash and the index of its fields; rows with the same fields (most roles:
/// every student of a school has the same) share one entry when `shared`.
struct Side<const N: usize> {
    rows: Vec<(u64, u32)>,
    fields: Vec<[u32; N]>,
    shared: Option<QuickMap<[u32; N], u32>>,
    strings: Strings,
    /// Where the rows whose hash starts with each `64 - shift` bits begin
    /// (about one entry per four rows), so a lookup searches a few rows, not
    /// the whole table: a binary search of a large table misses the cache at
    /// nearly every step.
    starts: Vec<u32>,
    shift: u32,
}

impl<const N: usize> Side<N> {
    fn new(shared: bool) -> Self {
        Side {
            rows: Vec::new(),
            fields: Vec::new(),
            shared: shared.then(QuickMap::default),
            strings: Strings::default(),
            starts: Vec::new(),
            shift: 63,
        }
    }

    fn push(&mut self, user: &str, fields: [u32; N]) {
        let index = match &mut self.shared {
            Some(seen) => match seen.get(&fields) {
                Some(&i) => i,
                None => {
                    let i = self.fields.len() as u32;
                    seen.insert(fields, i);
                    self.fields.push(fields);
                    i
                }
            },
            None => {
                self.fields.push(fields);
                (self.fields.len() - 1) as u32
            }
        };
        self.rows.push((id_hash(user), index));
    }

    /// The fields of each of `user`'s rows, in file order.
    fn of(&self, user: &str) -> impl Iterator<Item = &[u32; N]> + Clone {
        let key = id_hash(user);
        let bucket = (key >> self.shift) as usize;
        let rows = match (self.starts.get(bucket), self.starts.get(bucket + 1)) {
            (Some(&from), Some(&to)) => self.rows.get(from as usize..to as usize).unwrap_or(&[]),
            _ => &self.rows,
        };
        let from = rows.partition_point(|(k, _)| *k < key);
        rows[from..]
            .iter()
            .take_while(move |(k, _)| *k == key)
            .filter_map(|(_, i)| self.fields.get(*i as usize))
    }

    fn finish(&mut self) {
        // A stable sort keeps each user's rows in file order.
        self.rows.sort_by_key(|(k, _)| *k);
        self.rows.shrink_to_fit();
        let bits = (usize::BITS - self.rows.len().leading_zeros())
            .saturating_sub(2)
            .clamp(1, 30);
        self.shift = 64 - bits;
        let buckets = 1u64 << bits;
        self.starts = Vec::with_capacity(buckets as usize + 1);
        let mut at = 0;
        for bucket in 0..=buckets {
            while self
                .rows
                .get(at)
                .is_some_and(|(k, _)| (k >> self.shift) < bucket)
            {
                at += 1;
            }
            self.starts.push(at as u32);
        }
        self.fields.shrink_to_fit();
        self.shared = None;
        self.strings.interned = QuickMap::default();
    }
}

/// The roles of 1.2 users (`roles.csv`), compact.
pub struct RoleTable(Side<6>);

impl Default for RoleTable {
    fn default() -> Self {
        RoleTable(Side::new(true))
    }
}

impl RoleTable {
    /// Add one `roles.csv` row (already checked by the row reader).
    pub fn add<F: Fields + ?Sized>(&mut self, header: &Header, row: &F) {
        let s = &mut self.0.strings;
        let get = |name| header.get(row, name);
        let fields = [
            s.intern(get("roleType")),
            s.intern(get("role")),
            s.intern(get("orgSourcedId")),
            s.push(get("userProfileSourcedId")),
            s.intern(get("beginDate")),
            s.intern(get("endDate")),
        ];
        self.0.push(get("userSourcedId"), fields);
    }

    pub fn finish(&mut self) {
        self.0.finish();
    }

    /// A user's roles, in file order.
    fn rows_of<'a>(&'a self, user: &str) -> impl Iterator<Item = RoleRow<'a>> + Clone {
        let s = &self.0.strings;
        self.0.of(user).map(move |f| RoleRow {
            role_type: s.get(f[0]),
            role: s.get(f[1]),
            org: s.get(f[2]),
        })
    }

    /// A user's roles as REST `roles` items.
    pub fn roles_of(&self, user: &str) -> Vec<Json> {
        let s = &self.0.strings;
        self.0
            .of(user)
            .map(|f| {
                let mut role = Map::new();
                let mut put = |key: &str, id: u32| {
                    if let Some(text) = s.get(id) {
                        role.insert(key.into(), Json::String(text.into()));
                    }
                };
                put("roleType", f[0]);
                put("role", f[1]);
                put("userProfile", f[3]);
                put("beginDate", f[4]);
                put("endDate", f[5]);
                if let Some(org) = s.get(f[2]) {
                    role.insert("org".into(), json!({"sourcedId": org, "type": "org"}));
                }
                Json::Object(role)
            })
            .collect()
    }
}

/// What the direct path needs of a role.
struct RoleRow<'a> {
    role_type: Option<&'a str>,
    role: Option<&'a str>,
    org: Option<&'a str>,
}

/// The profiles of 1.2 users (`userProfiles.csv`), compact; passwords are
/// never kept.
pub struct ProfileTable(Side<7>);

impl Default for ProfileTable {
    fn default() -> Self {
        ProfileTable(Side::new(false))
    }
}

impl ProfileTable {
    pub fn add<F: Fields + ?Sized>(&mut self, header: &Header, row: &F) {
        let s = &mut self.0.strings;
        let get = |name| header.get(row, name);
        let fields = [
            s.push(get("sourcedId")),
            s.intern(get("profileType")),
            s.intern(get("vendorId")),
            s.intern(get("applicationId")),
            s.intern(get("description")),
            s.intern(get("credentialType")),
            s.push(get("username")),
        ];
        self.0.push(get("userSourcedId"), fields);
    }

    pub fn finish(&mut self) {
        self.0.finish();
    }

    /// A user's profiles as REST `userProfiles` items.
    pub fn profiles_of(&self, user: &str) -> Vec<Json> {
        let s = &self.0.strings;
        self.0
            .of(user)
            .map(|f| {
                let mut profile = Map::new();
                for (key, id) in [
                    ("profileId", f[0]),
                    ("profileType", f[1]),
                    ("vendorId", f[2]),
                    ("applicationId", f[3]),
                    ("description", f[4]),
                ] {
                    if let Some(text) = s.get(id) {
                        profile.insert(key.into(), Json::String(text.into()));
                    }
                }
                if let Some(username) = s.get(f[6]) {
                    let kind = s.get(f[5]).unwrap_or("username");
                    profile.insert(
                        "credentials".into(),
                        json!([{"type": kind, "username": username}]),
                    );
                }
                Json::Object(profile)
            })
            .collect()
    }
}

/// What a 1.2 user is joined with.
#[derive(Default)]
pub struct UserSides {
    pub roles: Option<RoleTable>,
    pub profiles: Option<ProfileTable>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{check_header, spec};
    use homeroom_sdk::oneroster::Version;
    use homeroom_sdk::{Reference, Value};

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// `Value` has no `PartialEq` in the bindings; compare debug forms.
    macro_rules! same {
        ($left:expr, $right:expr) => {
            assert_eq!(format!("{:?}", $left), format!("{:?}", $right))
        };
    }

    fn r(kind: EntityKind, id: &str) -> Reference {
        Reference {
            kind,
            source_id: id.into(),
        }
    }

    #[test]
    fn a_1_1_user_row_maps_like_the_rest_binding() {
        let users = spec("users.csv").unwrap();
        let header = check_header(
            users,
            Version::V1p1,
            &strings(&[
                "sourcedId",
                "status",
                "dateLastModified",
                "enabledUser",
                "orgSourcedIds",
                "role",
                "username",
                "userIds",
                "givenName",
                "familyName",
                "middleName",
                "identifier",
                "email",
                "sms",
                "phone",
                "agentSourcedIds",
                "grades",
                "password",
                "metadata.ell",
            ]),
        )
        .unwrap();
        let row = strings(&[
            "u1",
            "tobedeleted",
            "2024-08-01T12:00:00.000Z",
            "TRUE",
            "s1, s2",
            "student",
            "ada",
            "{SIS:1001},{LDAP:ada}",
            "Ada",
            "Lovelace",
            "",
            "1001",
            "ada@x.org",
            "",
            "",
            "p1,p2",
            "09,10",
            "",
            "Y",
        ]);
        let m = entity(EntityKind::User, &header, &row, None);
        let e = &m.entity;
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        assert_eq!(e.source_id, "u1");
        assert_eq!(e.status, homeroom_sdk::Status::ToBeDeleted);
        assert_eq!(
            e.date_last_modified.as_deref(),
            Some("2024-08-01T12:00:00.000Z")
        );
        assert!(matches!(e.get("enabledUser"), Some(Value::Boolean(true))));
        assert_eq!(e.text("role"), Some("student"));
        same!(
            e.get("orgs"),
            Some(Value::References(vec![
                r(EntityKind::Org, "s1"),
                r(EntityKind::Org, "s2")
            ]))
        );
        same!(
            e.get("agents"),
            Some(Value::References(vec![
                r(EntityKind::User, "p1"),
                r(EntityKind::User, "p2")
            ]))
        );
        assert!(
            matches!(e.get("grades"), Some(Value::Texts(g)) if *g == vec!["09".to_string(), "10".to_string()])
        );
        assert!(
            matches!(e.get("userIds"), Some(Value::Texts(ids)) if *ids == vec!["SIS:1001".to_string(), "LDAP:ada".to_string()])
        );
        assert_eq!(e.text("metadata.ell"), Some("Y"));
        assert!(e.get("middleName").is_none() && e.get("password").is_none());
    }

    #[test]
    fn a_1_2_user_takes_roles_and_profiles_from_their_files() {
        let v = Version::V1p2;
        let roles_header = check_header(
            spec("roles.csv").unwrap(),
            v,
            &strings(&[
                "sourcedId",
                "status",
                "dateLastModified",
                "userSourcedId",
                "roleType",
                "role",
                "beginDate",
                "endDate",
                "orgSourcedId",
                "userProfileSourcedId",
            ]),
        )
        .unwrap();
        let mut roles = RoleTable::default();
        for row in [
            [
                "r1",
                "",
                "",
                "t1",
                "secondary",
                "teacher",
                "",
                "",
                "hs1",
                "",
            ],
            ["r2", "", "", "u9", "primary", "student", "", "", "es1", ""],
            [
                "r3",
                "",
                "",
                "t1",
                "primary",
                "principal",
                "2024-08-19",
                "",
                "es1",
                "prof1",
            ],
        ] {
            roles.add(&roles_header, &strings(&row));
        }
        roles.finish();
        let profiles_header = check_header(
            spec("userProfiles.csv").unwrap(),
            v,
            &strings(&[
                "sourcedId",
                "status",
                "dateLastModified",
                "userSourcedId",
                "profileType",
                "vendorId",
                "applicationId",
                "description",
                "credentialType",
                "username",
                "password",
            ]),
        )
        .unwrap();
        let mut profiles = ProfileTable::default();
        profiles.add(
            &profiles_header,
            &strings(&[
                "prof1", "", "", "t1", "lms", "acme", "", "", "username", "grace", "s3cret",
            ]),
        );
        profiles.finish();
        let sides = UserSides {
            roles: Some(roles),
            profiles: Some(profiles),
        };

        let users_header = check_header(
            spec("users.csv").unwrap(),
            v,
            &strings(&[
                "sourcedId",
                "enabledUser",
                "username",
                "givenName",
                "familyName",
                "preferredGivenName",
                "primaryOrgSourcedId",
                "userMasterIdentifier",
            ]),
        )
        .unwrap();
        let m = entity(
            EntityKind::User,
            &users_header,
            &strings(&[
                "t1", "false", "grace", "Grace", "Hopper", "Amazing", "es1", "G-1",
            ]),
            Some(&sides),
        );
        let e = &m.entity;
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        assert_eq!(e.text("role"), Some("principal"), "the primary role");
        assert!(
            matches!(e.get("roles"), Some(Value::Texts(t)) if *t == vec!["teacher".to_string(), "principal".to_string()])
        );
        same!(
            e.get("orgs"),
            Some(Value::References(vec![
                r(EntityKind::Org, "hs1"),
                r(EntityKind::Org, "es1")
            ]))
        );
        same!(
            e.get("primaryOrg"),
            Some(Value::Reference(r(EntityKind::Org, "es1")))
        );
        assert_eq!(e.text("preferredFirstName"), Some("Amazing"));
        assert_eq!(e.text("userMasterIdentifier"), Some("G-1"));
        let Some(Value::Texts(p)) = e.get("userProfiles") else {
            panic!("{:?}", e.get("userProfiles"))
        };
        assert!(
            p[0].contains("\"grace\"") && !p[0].contains("s3cret"),
            "{p:?}"
        );
        // A user with no roles has none.
        let m = entity(
            EntityKind::User,
            &users_header,
            &strings(&["x", "true", "x", "X", "Y", "", "", ""]),
            Some(&sides),
        );
        assert!(m.entity.get("role").is_none());
    }

    #[test]
    fn an_enrollment_row_references_its_class_user_and_school() {
        let header = check_header(
            spec("enrollments.csv").unwrap(),
            Version::V1p2,
            &strings(&[
                "sourcedId",
                "status",
                "dateLastModified",
                "classSourcedId",
                "schoolSourcedId",
                "userSourcedId",
                "role",
                "primary",
                "beginDate",
                "endDate",
            ]),
        )
        .unwrap();
        let m = entity(
            EntityKind::Enrollment,
            &header,
            &strings(&[
                "e1",
                "",
                "",
                "c1",
                "s1",
                "u1",
                "student",
                "false",
                "2024-08-19",
                "",
            ]),
            None,
        );
        let e = &m.entity;
        same!(
            e.get("class"),
            Some(Value::Reference(r(EntityKind::Class, "c1")))
        );
        same!(
            e.get("user"),
            Some(Value::Reference(r(EntityKind::User, "u1")))
        );
        same!(
            e.get("school"),
            Some(Value::Reference(r(EntityKind::Org, "s1")))
        );
        assert!(matches!(e.get("primary"), Some(Value::Boolean(false))));
        assert!(matches!(e.get("beginDate"), Some(Value::Date(d)) if d == "2024-08-19"));
        assert!(e.get("endDate").is_none());
    }
}

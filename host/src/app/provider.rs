//! Vendors read the hub: the application side of the OneRoster provider.
//!
//! What it owns: the OneRoster 1.2 scopes and access tokens (OAuth 2.0
//! client credentials) and OAuth 1.0a signed requests; what a data-sharing
//! agreement says (which schools, which kinds, which attributes, until which
//! day) and how it holds a read in; every read a vendor makes, answered from
//! committed data only and logged with the people it served. Clients,
//! agreements, the read log and purges as an admin manages them are
//! `app::vendors`'s.
//!
//! The wall: a record outside the agreement is dropped, and a record inside
//! it is cut to the granted attributes, *before* the vendor's filter, sort,
//! fields or paging see it. A filter, sort or field naming an attribute the
//! agreement does not grant is refused exactly as a field that does not
//! exist is, so no query can tell a hidden value from an absent one, and a
//! relationship endpoint of a parent outside the agreement answers as if it
//! did not exist. Nothing here knows HTTP; the provider face
//! (`crate::provider`) turns a [`Refusal`] into an imsx status.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use utoipa::ToSchema;

use super::App;
use super::auth::{hash_token, new_token, same};
use super::error::{AppError, AppResult};
use crate::bindings::types::EntityKind;
use crate::model::oneroster::{self, Collection, Service, Version};
use crate::model::query::{Filter, QueryError, Sort, parse_fields, select_fields};
use crate::model::record::{Attrs, each_reference_in, is_reference, is_vendor_source};
use crate::store::StoreError;
use crate::store::provider::{AgreementRow, ServedEntity, VendorClientRow};

/// How long an access token holds.
pub const TOKEN_SECONDS: i64 = 3600;
/// Records per page when the vendor names no limit, and the most it may ask.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 10_000;
/// Entities read from the store per step of a scan.
const SCAN_PAGE: i64 = 1_000;

/// A OneRoster 1.2 scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    RosterCoreReadonly,
    RosterReadonly,
    RosterDemographicsReadonly,
    GradebookReadonly,
    GradebookCreatePut,
    GradebookDelete,
    ResourceReadonly,
}

const SCOPE_PREFIX: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/";

impl Scope {
    pub const ALL: [Scope; 7] = [
        Scope::RosterCoreReadonly,
        Scope::RosterReadonly,
        Scope::RosterDemographicsReadonly,
        Scope::GradebookReadonly,
        Scope::GradebookCreatePut,
        Scope::GradebookDelete,
        Scope::ResourceReadonly,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scope::RosterCoreReadonly => "roster-core.readonly",
            Scope::RosterReadonly => "roster.readonly",
            Scope::RosterDemographicsReadonly => "roster-demographics.readonly",
            Scope::GradebookReadonly => "gradebook.readonly",
            Scope::GradebookCreatePut => "gradebook.createput",
            Scope::GradebookDelete => "gradebook.delete",
            Scope::ResourceReadonly => "resource.readonly",
        }
    }

    /// The scope's URI, as a token request names it.
    pub fn uri(self) -> String {
        format!("{SCOPE_PREFIX}{}", self.name())
    }

    /// A scope by its URI (1.1's prefix too) or its short name.
    pub fn parse(text: &str) -> Option<Scope> {
        let name = text
            .strip_prefix(SCOPE_PREFIX)
            .or_else(|| text.strip_prefix("https://purl.imsglobal.org/spec/or/v1p1/scope/"))
            .unwrap_or(text);
        Scope::ALL.into_iter().find(|s| s.name() == name)
    }
}

pub(super) fn scope_names() -> String {
    Scope::ALL.map(Scope::name).join(", ")
}

/// Why the provider does not answer a request with data: the imsx code
/// minor a OneRoster client acts on, and a message for its developer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub minor: Minor,
    pub message: String,
}

/// The imsx code minors the provider answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Minor {
    UnknownObject,
    Unauthorised,
    Forbidden,
    InvalidFilterField,
    InvalidSelectionField,
    InvalidSortField,
    InvalidData,
    InternalServerError,
}

impl Minor {
    pub fn as_str(self) -> &'static str {
        match self {
            Minor::UnknownObject => "unknownobject",
            Minor::Unauthorised => "unauthorisedrequest",
            Minor::Forbidden => "forbidden",
            Minor::InvalidFilterField => "invalid_filter_field",
            Minor::InvalidSelectionField => "invalid_selection_field",
            Minor::InvalidSortField => "invalid_sort_field",
            Minor::InvalidData => "invaliddata",
            Minor::InternalServerError => "internal_server_error",
        }
    }
}

impl Refusal {
    pub(super) fn new(minor: Minor, message: impl Into<String>) -> Refusal {
        Refusal {
            minor,
            message: message.into(),
        }
    }

    fn unknown(what: &str, id: &str) -> Refusal {
        Refusal::new(
            Minor::UnknownObject,
            format!("there is no {what} with sourcedId {id} for this client"),
        )
    }
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Refusal {
        let minor = match &e {
            AppError::Unauthorized(_) => Minor::Unauthorised,
            AppError::Forbidden(_) => Minor::Forbidden,
            AppError::NotFound(_) => Minor::UnknownObject,
            AppError::Invalid(_) => Minor::InvalidData,
            _ => Minor::InternalServerError,
        };
        Refusal::new(minor, e.to_string())
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        AppError::from(e).into()
    }
}

impl From<QueryError> for Refusal {
    fn from(e: QueryError) -> Refusal {
        let minor = match e {
            QueryError::InvalidSortOrder(_) => Minor::InvalidSortField,
            QueryError::InvalidField(_) => Minor::InvalidSelectionField,
            _ => Minor::InvalidFilterField,
        };
        Refusal::new(minor, e.to_string())
    }
}

// ---------------------------------------------------------------- views

/// What an admin grants a vendor client.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgreementTerms {
    /// Every school of the district (then `schools` is ignored).
    #[serde(default)]
    pub all_schools: bool,
    /// The hub ids (the provider's sourcedIds) of the schools it sees.
    #[serde(default)]
    pub schools: Vec<String>,
    /// The collections it sees: orgs, academicSessions, courses, classes,
    /// users, enrollments, demographics, categories, lineItems, results.
    pub kinds: Vec<String>,
    /// Per collection, the fields it sees (sourcedId, status and
    /// dateLastModified always); a collection left out: all its fields.
    #[serde(default)]
    pub attributes: BTreeMap<String, Vec<String>>,
    /// The last day the agreement holds (YYYY-MM-DD); after it the client
    /// sees nothing.
    pub expires_on: String,
}

/// An access token for a vendor client.
#[derive(Debug, Clone, Serialize)]
pub struct VendorToken {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
}

/// Why a token request was refused, in OAuth 2.0's words (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRefusal {
    pub error: &'static str,
    pub description: String,
}

/// A vendor client that has shown a valid token.
#[derive(Debug, Clone)]
pub struct Vendor {
    client: VendorClientRow,
    scopes: BTreeSet<Scope>,
}

impl Vendor {
    pub fn client_id(&self) -> &str {
        &self.client.id
    }

    pub(super) fn org_id(&self) -> &str {
        &self.client.org_id
    }

    /// Whether its token carries a scope.
    pub(super) fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// One read as the provider face hands it over.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    pub version: Version,
    pub service: Service,
    /// The path below the service's base, split at `/`
    /// (`["schools", "s1", "classes"]`).
    pub segments: Vec<String>,
    pub params: ReadParams,
    /// Where `href`s start (`http://hub.example.org`).
    pub origin: String,
    /// What the read log keeps of the request: its path and query.
    pub endpoint: String,
    pub query: String,
}

/// The query parameters of a read, as sent (already percent-decoded).
#[derive(Debug, Clone, Default)]
pub struct ReadParams {
    pub limit: Option<String>,
    pub offset: Option<String>,
    pub sort: Option<String>,
    pub order_by: Option<String>,
    pub filter: Option<String>,
    pub fields: Option<String>,
}

/// A read's answer.
#[derive(Debug, Clone)]
pub enum Answer {
    List {
        envelope: &'static str,
        records: Vec<Json>,
        total: usize,
        offset: usize,
        limit: usize,
    },
    One {
        envelope: &'static str,
        record: Json,
    },
}

// ---------------------------------------------------------------- agreements

/// An agreement as the provider applies it.
#[derive(Debug, Clone)]
pub(super) struct Terms {
    /// None: every school.
    schools: Option<HashSet<String>>,
    /// The schools and every org above them.
    orgs: Option<HashSet<String>>,
    /// The kinds it sees, by their CLI names.
    pub(super) kinds: HashSet<&'static str>,
    /// Per kind (its CLI name), the fields it sees (in either version's names).
    fields: HashMap<&'static str, HashSet<String>>,
    /// When it was granted: a changed agreement is a new one.
    granted_at: String,
}

/// The plain collections an agreement names.
const AGREEMENT_KINDS: [&str; 10] = [
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
];

pub(super) fn kind_of_collection(path: &str) -> Option<EntityKind> {
    AGREEMENT_KINDS
        .contains(&path)
        .then(|| oneroster::COLLECTIONS.iter().find(|c| c.path == path))
        .flatten()
        .map(|c| c.kind)
}

/// 1.2's `roles` is 1.1's `role` and `orgs`: granting one grants them all.
const ROLE_FIELDS: [&str; 3] = ["roles", "role", "orgs"];

impl AgreementTerms {
    /// The terms with every collection's fields written out, checked
    /// against the model: what is kept, so a field the model gains later is
    /// not granted by an old agreement.
    pub(super) fn normalized(mut self) -> AppResult<AgreementTerms> {
        chrono::NaiveDate::parse_from_str(self.expires_on.trim(), "%Y-%m-%d").map_err(|_| {
            AppError::invalid(format!(
                "the agreement's last day {:?} is not a date: write it as YYYY-MM-DD",
                self.expires_on
            ))
        })?;
        self.expires_on = self.expires_on.trim().to_string();
        if !self.all_schools && self.schools.is_empty() {
            return Err(AppError::invalid(
                "the agreement names no school: list the schools the vendor sees, or grant every school",
            ));
        }
        if self.all_schools {
            self.schools.clear();
        }
        self.schools.sort();
        self.schools.dedup();
        if self.kinds.is_empty() {
            return Err(AppError::invalid(format!(
                "the agreement names no kind of record: grant one or more of {}",
                AGREEMENT_KINDS.join(", ")
            )));
        }
        let mut kinds = Vec::new();
        for k in &self.kinds {
            if kind_of_collection(k).is_none() {
                return Err(AppError::invalid(format!(
                    "{k:?} is not a kind of record an agreement grants: use {}",
                    AGREEMENT_KINDS.join(", ")
                )));
            }
            if !kinds.contains(k) {
                kinds.push(k.clone());
            }
        }
        for k in self.attributes.keys() {
            if !kinds.contains(k) {
                return Err(AppError::invalid(format!(
                    "the agreement lists fields of {k:?}, which it does not grant: add {k:?} to its kinds or leave its fields out"
                )));
            }
        }
        let mut attributes = BTreeMap::new();
        for k in &kinds {
            let Some(kind) = kind_of_collection(k) else {
                continue;
            };
            let all = oneroster::any_version_fields(kind);
            let mut granted: Vec<String> = match self.attributes.get(k) {
                None => all.iter().map(|f| f.to_string()).collect(),
                Some(list) => {
                    for f in list {
                        if !all.contains(&f.as_str()) {
                            return Err(AppError::invalid(format!(
                                "{k} have no field {f:?}: use {}",
                                all.join(", ")
                            )));
                        }
                    }
                    list.clone()
                }
            };
            if all.contains(&"roles") && granted.iter().any(|f| ROLE_FIELDS.contains(&f.as_str())) {
                granted.extend(ROLE_FIELDS.iter().map(|f| f.to_string()));
            }
            granted.extend(oneroster::ALWAYS.iter().map(|f| f.to_string()));
            let order = |f: &String| all.iter().position(|a| a == f).unwrap_or(usize::MAX);
            granted.sort_by_key(order);
            granted.dedup();
            attributes.insert(k.clone(), granted);
        }
        self.kinds = kinds;
        self.attributes = attributes;
        Ok(self)
    }
}

pub(super) fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

pub(super) fn terms_of(row: &AgreementRow) -> AppResult<AgreementTerms> {
    serde_json::from_str(&row.terms)
        .map_err(|e| AppError::Internal(format!("a stored agreement cannot be read: {e}")))
}

// ---------------------------------------------------------------- scans

/// What a relationship endpoint adds to the collection's own narrowing:
/// conditions on the hub's attributes (references by hub ids), never
/// parsed from what the vendor sent.
#[derive(Debug, Clone, Default)]
struct Within {
    /// (attribute, id): the reference attribute names that id (any of a list).
    refs: Vec<(&'static str, String)>,
    /// Only these ids.
    ids: Option<HashSet<String>>,
}

impl Within {
    fn holds(&self, id: &str, attrs: &Attrs) -> bool {
        self.ids.as_ref().is_none_or(|ids| ids.contains(id))
            && self
                .refs
                .iter()
                .all(|(name, want)| attrs.get(*name).is_some_and(|v| names(v, want)))
    }
}

/// Whether a reference (or list of them) names `id`.
pub(super) fn names(value: &Json, id: &str) -> bool {
    let mut found = false;
    each_reference_in(value, |_, r| found |= r == id);
    found
}

/// The ids a reference (or list of them) names.
fn ref_ids(value: Option<&Json>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(v) = value {
        each_reference_in(v, |_, id| out.push(id.to_string()));
    }
    out
}

/// A committed entity read for serving: its attributes with references
/// turned into the hub's ids.
pub(super) struct Served {
    id: String,
    modified: Option<String>,
    attrs: Attrs,
}

impl App {
    /// The data of a page of entities, with each reference (a source's id)
    /// turned into the hub's id of what it names; one the hub cannot place
    /// is left out.
    async fn served(&self, org: &str, page: Vec<ServedEntity>) -> Result<Vec<Served>, Refusal> {
        let mut cells = Vec::with_capacity(page.len());
        let mut wanted = Vec::new();
        for e in page {
            let data: serde_json::Map<String, Json> = serde_json::from_str(&e.data).map_err(|err| {
                tracing::error!(org, entity = %e.id, "a committed record cannot be read for a vendor: {err}");
                Refusal::new(
                    Minor::InternalServerError,
                    "a record the hub keeps cannot be read; the district's operator has been told in the server log",
                )
            })?;
            for cell in data.values() {
                let source = cell.get("s").and_then(Json::as_str).unwrap_or_default();
                if let Some(v) = cell.get("v") {
                    each_reference_in(v, |kind, id| {
                        wanted.push((
                            source.to_string(),
                            kind.cli_name().to_string(),
                            id.to_string(),
                        ))
                    });
                }
            }
            cells.push((e.id, e.modified, data));
        }
        wanted.sort();
        wanted.dedup();
        let links = self.engine.store().entities_of_links(org, &wanted).await?;
        Ok(cells
            .into_iter()
            .map(|(id, modified, data)| {
                let mut attrs = Attrs::new();
                for (name, cell) in data {
                    let source = cell.get("s").and_then(Json::as_str).unwrap_or_default();
                    let Some(value) = cell.get("v") else { continue };
                    if value.is_null() {
                        continue;
                    }
                    if let Some(v) = hub_ids(value, source, &links) {
                        attrs.insert(name, v);
                    }
                }
                Served {
                    id,
                    modified,
                    attrs,
                }
            })
            .collect())
    }
}

fn hub_ids(
    value: &Json,
    source: &str,
    links: &HashMap<(String, String, String), String>,
) -> Option<Json> {
    let one = |r: &Json| -> Option<Json> {
        let kind = r.get("kind")?.as_str()?;
        let id = r.get("id")?.as_str()?;
        let hub = match links.get(&(source.to_string(), kind.to_string(), id.to_string())) {
            Some(hub) => hub.as_str(),
            // A vendor's writes name what they hang off by the hub's ids.
            None if is_vendor_source(source) => id,
            None => return None,
        };
        Some(json!({"kind": kind, "id": hub}))
    };
    match value {
        v if is_reference(v) => one(v),
        Json::Array(items) if !items.is_empty() && items.iter().all(is_reference) => {
            Some(Json::Array(items.iter().filter_map(one).collect()))
        }
        other => Some(other.clone()),
    }
}

/// Everything one read needs, settled before any record is read.
#[derive(Clone)]
struct Reading<'a> {
    org: String,
    terms: &'a Terms,
    collection: &'static Collection,
    version: Version,
    origin: &'a str,
    within: Within,
    /// The fields of this collection the client sees in this version.
    visible: Vec<&'static str>,
}

impl Reading<'_> {
    /// A record in the binding's shape cut to what the client sees; none
    /// when the record is outside the agreement or this read.
    fn admit(&self, served: &Served, context: &Context) -> Option<Json> {
        if !self.collection.holds(&served.attrs)
            || !self.within.holds(&served.id, &served.attrs)
            || !in_scope(self.terms, self.collection.kind, served, context)
        {
            return None;
        }
        // A demographics record is served under its person's id, as
        // OneRoster has it.
        let id = match self.collection.kind {
            EntityKind::Demographics => context.subject.get(&served.id)?,
            _ => &served.id,
        };
        let mut record = oneroster::shape(
            self.collection.kind,
            id,
            served.modified.as_deref(),
            &served.attrs,
            self.version,
            self.origin,
        );
        if let Json::Object(o) = &mut record {
            o.retain(|k, _| self.visible.contains(&k.as_str()));
        }
        Some(record)
    }
}

/// What a page's scope check needs beyond its own records: the entities its
/// records hang off (a result's student, a line item's class, the user a
/// demographics record belongs to), already checked against the agreement.
#[derive(Default)]
struct Context {
    visible: HashSet<String>,
    /// Demographics entity → its user's hub id.
    subject: HashMap<String, String>,
}

/// Whether a record lies inside the agreement's schools.
fn in_scope(terms: &Terms, kind: EntityKind, served: &Served, context: &Context) -> bool {
    let Some(schools) = &terms.schools else {
        return kind != EntityKind::Demographics || context.subject.contains_key(&served.id);
    };
    let at = |name: &str| ref_ids(served.attrs.get(name));
    let any_in = |ids: Vec<String>, set: &HashSet<String>| ids.iter().any(|i| set.contains(i));
    match kind {
        EntityKind::Org => terms.orgs.as_ref().is_some_and(|o| o.contains(&served.id)),
        EntityKind::User | EntityKind::UserAgent => {
            any_in(at("orgs"), schools) || any_in(at("primaryOrg"), schools)
        }
        EntityKind::Class | EntityKind::Enrollment => any_in(at("school"), schools),
        EntityKind::Course => terms.orgs.as_ref().is_some_and(|o| any_in(at("org"), o)),
        EntityKind::AcademicSession | EntityKind::Category => true,
        EntityKind::LineItem => {
            any_in(at("school"), schools) || any_in(at("class"), &context.visible)
        }
        EntityKind::Result => any_in(at("student"), &context.visible),
        EntityKind::Demographics => context
            .subject
            .get(&served.id)
            .is_some_and(|u| context.visible.contains(u)),
    }
}

/// The scope a read of this collection needs (any one of them).
fn scopes_for(collection: &Collection, relationship: bool) -> &'static [Scope] {
    match collection.kind {
        EntityKind::Demographics => &[Scope::RosterDemographicsReadonly],
        EntityKind::Category | EntityKind::LineItem | EntityKind::Result => {
            &[Scope::GradebookReadonly]
        }
        _ if relationship => &[Scope::RosterReadonly],
        _ => &[Scope::RosterReadonly, Scope::RosterCoreReadonly],
    }
}

impl App {
    // ------------------------------------------------------------ admin side
    // ------------------------------------------------------------ vendor side

    /// OAuth 2.0 client credentials: a token for a live client whose secret
    /// matches, with the scopes asked for (all it may have when it asks none).
    pub async fn vendor_token(
        &self,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
    ) -> Result<VendorToken, TokenRefusal> {
        let refused = |error, description: &str| TokenRefusal {
            error,
            description: description.to_string(),
        };
        let client = self
            .engine
            .store()
            .vendor_client(client_id.trim())
            .await
            .map_err(|_| refused("server_error", "the hub could not check the client"))?;
        let client = match client {
            Some(c)
                if c.revoked_at.is_none()
                    && same(&c.secret_hash, &hash_token(client_secret.trim())) =>
            {
                c
            }
            _ => {
                return Err(refused(
                    "invalid_client",
                    "the client id and secret do not match a live client of this hub: check them with the district, which can make a new client",
                ));
            }
        };
        let mine: BTreeSet<Scope> = client
            .scopes
            .iter()
            .filter_map(|s| Scope::parse(s))
            .collect();
        let granted: BTreeSet<Scope> = match scope.map(str::trim).filter(|s| !s.is_empty()) {
            None => mine.clone(),
            Some(list) => {
                let mut set = BTreeSet::new();
                for s in list.split_whitespace() {
                    match Scope::parse(s) {
                        Some(scope) if mine.contains(&scope) => {
                            set.insert(scope);
                        }
                        _ => {
                            return Err(refused(
                                "invalid_scope",
                                &format!(
                                    "the scope {s} is not one this client may ask for; it may ask for: {}",
                                    mine.iter().map(|s| s.uri()).collect::<Vec<_>>().join(" ")
                                ),
                            ));
                        }
                    }
                }
                set
            }
        };
        let token = new_token();
        let expires = chrono::Utc::now() + chrono::Duration::seconds(TOKEN_SECONDS);
        let names: Vec<String> = granted.iter().map(|s| s.name().to_string()).collect();
        self.engine
            .store()
            .insert_vendor_token(
                &hash_token(&token),
                &client.id,
                &names,
                &expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            )
            .await
            .map_err(|_| refused("server_error", "the hub could not keep the token"))?;
        Ok(VendorToken {
            access_token: token,
            token_type: "bearer",
            expires_in: TOKEN_SECONDS,
            scope: granted
                .iter()
                .map(|s| s.uri())
                .collect::<Vec<_>>()
                .join(" "),
        })
    }

    /// The vendor a bearer token stands for.
    pub async fn vendor(&self, token: &str) -> Result<Vendor, Refusal> {
        let found = self
            .engine
            .store()
            .vendor_token(&hash_token(token.trim()))
            .await?;
        let Some((client, scopes)) = found else {
            return Err(Refusal::new(
                Minor::Unauthorised,
                "the access token is unknown, expired or its client revoked: ask for a new one with the client credentials",
            ));
        };
        Ok(Vendor {
            client,
            scopes: scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
        })
    }

    /// The vendor an OAuth 1.0a signed request (OneRoster 1.1) comes from:
    /// HMAC-SHA1 over the method, the URL as called with its query and any
    /// form body, a timestamp within five minutes, a nonce not seen before.
    pub async fn vendor_signed(
        &self,
        method: &str,
        url: &url::Url,
        form: &[(String, String)],
        authorization: &str,
    ) -> Result<Vendor, Refusal> {
        use crate::capabilities::http::oauth1;
        let refused = |why: &str| Refusal::new(Minor::Unauthorised, why.to_string());
        let params = oauth1::parse_authorization_header(authorization)
            .ok_or_else(|| refused("the OAuth 1.0a Authorization header cannot be read: sign the request as RFC 5849 says"))?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let key = get("oauth_consumer_key");
        let client = match self.engine.store().vendor_client(&key).await? {
            Some(c) if c.revoked_at.is_none() => c,
            _ => {
                return Err(refused(
                    "the consumer key is not a live client of this hub: check it with the district",
                ));
            }
        };
        let sealed = self
            .engine
            .store()
            .sealed_secrets(&client.org_id, VENDOR_SECRETS)
            .await?;
        let secret = sealed
            .iter()
            .find(|s| s.name == client.id)
            .and_then(|s| self.secrets.open(&client.org_id, VENDOR_SECRETS, s))
            .ok_or_else(|| refused("this client is not set up to sign requests with OAuth 1.0a: ask for an OAuth 2.0 token, or ask the district for a signing client"))?;
        if !oauth1::verify_oauth1_with_form(method, url, form, authorization, &key, secret.expose())
        {
            return Err(refused(
                "the OAuth 1.0a signature does not verify: sign with HMAC-SHA1 over the method, the URL as called and every query parameter, with a timestamp within five minutes of now",
            ));
        }
        let nonce = format!("{}|{}", get("oauth_timestamp"), get("oauth_nonce"));
        let now = oauth1::unix_now();
        let first = self
            .engine
            .store()
            .first_use_of_nonce(
                &client.id,
                &nonce,
                now,
                now - 2 * oauth1::MAX_CLOCK_SKEW_SECS,
            )
            .await?;
        if !first {
            return Err(refused(
                "this signed request was sent before (its nonce is used): sign each request anew",
            ));
        }
        let scopes = client
            .scopes
            .iter()
            .filter_map(|s| Scope::parse(s))
            .collect();
        Ok(Vendor { client, scopes })
    }

    /// Serve one read and log it, whatever its answer.
    pub async fn vendor_read(
        &self,
        vendor: &Vendor,
        request: &ReadRequest,
    ) -> Result<Answer, Refusal> {
        let mut people = Vec::new();
        let answer = self.answer(vendor, request, &mut people).await;
        let (served, status) = match &answer {
            Ok(Answer::List { records, .. }) => (records.len() as i64, 200),
            Ok(Answer::One { .. }) => (1, 200),
            Err(r) => (
                0,
                match r.minor {
                    Minor::UnknownObject => 404,
                    Minor::Unauthorised => 401,
                    Minor::Forbidden => 403,
                    Minor::InternalServerError => 500,
                    _ => 400,
                },
            ),
        };
        if let Err(e) = self
            .engine
            .store()
            .log_read(
                &vendor.client.org_id,
                &vendor.client.id,
                &request.endpoint,
                &request.query,
                served,
                status,
                &people,
            )
            .await
        {
            // Unlogged data never leaves: the read fails with the log.
            tracing::error!(client = %vendor.client.id, "a vendor read could not be logged: {e}");
            return Err(Refusal::new(
                Minor::InternalServerError,
                "the hub could not log this read, so it serves nothing; try again",
            ));
        }
        answer
    }

    pub(super) async fn terms(&self, vendor: &Vendor) -> Result<Terms, Refusal> {
        let org = &vendor.client.org_id;
        let Some(row) = self.engine.store().agreement(&vendor.client.id).await? else {
            return Err(Refusal::new(
                Minor::Forbidden,
                "this client has no data-sharing agreement with the district, so it sees nothing: the district grants one in Homeroom",
            ));
        };
        if row.expires_on < today() {
            return Err(Refusal::new(
                Minor::Forbidden,
                format!(
                    "this client's data-sharing agreement ended on {}, so it sees nothing: the district renews it in Homeroom",
                    row.expires_on
                ),
            ));
        }
        let terms = terms_of(&row)?;
        let mut kinds = HashSet::new();
        let mut fields = HashMap::new();
        for k in &terms.kinds {
            if let Some(kind) = kind_of_collection(k) {
                kinds.insert(kind.cli_name());
                fields.insert(
                    kind.cli_name(),
                    terms
                        .attributes
                        .get(k)
                        .map(|l| l.iter().cloned().collect())
                        .unwrap_or_default(),
                );
            }
        }
        let (schools, orgs) = if terms.all_schools {
            (None, None)
        } else {
            let schools: HashSet<String> = terms.schools.iter().cloned().collect();
            // The schools and every org above them (their district).
            let mut orgs = schools.clone();
            let mut frontier: Vec<String> = schools.iter().cloned().collect();
            for _ in 0..8 {
                if frontier.is_empty() {
                    break;
                }
                let page = self.engine.store().served_by_ids(org, &frontier).await?;
                frontier.clear();
                for s in self.served(org, page).await? {
                    for parent in ref_ids(s.attrs.get("parent")) {
                        if orgs.insert(parent.clone()) {
                            frontier.push(parent);
                        }
                    }
                }
            }
            (Some(schools), Some(orgs))
        };
        Ok(Terms {
            schools,
            orgs,
            kinds,
            fields,
            granted_at: row.granted_at.clone(),
        })
    }

    async fn answer(
        &self,
        vendor: &Vendor,
        request: &ReadRequest,
        people: &mut Vec<String>,
    ) -> Result<Answer, Refusal> {
        let terms = self.terms(vendor).await?;
        let seg: Vec<&str> = request.segments.iter().map(String::as_str).collect();
        let found = |path: &str| {
            oneroster::collection(path, request.version, request.service).ok_or_else(|| {
                Refusal::new(
                    Minor::UnknownObject,
                    format!("there is no endpoint {} here", request.endpoint),
                )
            })
        };
        match seg.as_slice() {
            [path] => {
                let c = found(path)?;
                self.list(vendor, &terms, request, c, Within::default(), false, people)
                    .await
            }
            [path, id] => {
                let c = found(path)?;
                self.one(vendor, &terms, request, c, id, people).await
            }
            [parent, pid, child] => {
                // A parent may be of another service (a gradebook
                // endpoint's class is a rostering record).
                let p = oneroster::COLLECTIONS
                    .iter()
                    .find(|c| c.path == *parent)
                    .ok_or_else(|| {
                        Refusal::new(
                            Minor::UnknownObject,
                            format!("there is no endpoint {} here", request.endpoint),
                        )
                    })?;
                let c = found(child)?;
                let within = self
                    .relationship(vendor, &terms, request, p, pid, c)
                    .await?;
                self.list(vendor, &terms, request, c, within, true, people)
                    .await
            }
            ["schools", sid, "classes", cid, child] => {
                let school = found("schools")?;
                self.parent(vendor, &terms, request, school, sid).await?;
                let class = found("classes")?;
                let c = found(child)?;
                // The class must be one of the school's.
                let of_class = self.parent(vendor, &terms, request, class, cid).await?;
                if !of_class.attrs.get("school").is_some_and(|v| names(v, sid)) {
                    return Err(Refusal::unknown("class", cid));
                }
                let within = self
                    .relationship(vendor, &terms, request, class, cid, c)
                    .await?;
                self.list(vendor, &terms, request, c, within, true, people)
                    .await
            }
            _ => Err(Refusal::new(
                Minor::UnknownObject,
                format!("there is no endpoint {} here", request.endpoint),
            )),
        }
    }

    /// The parent of a relationship endpoint, if it lies inside the
    /// agreement (its kind need not be granted: its id is only a key).
    pub(super) async fn parent(
        &self,
        vendor: &Vendor,
        terms: &Terms,
        request: &ReadRequest,
        collection: &'static Collection,
        id: &str,
    ) -> Result<Served, Refusal> {
        let reading = self.reading(vendor, terms, request, collection, Within::default());
        let store = self.engine.store();
        let found = store.served_by_ids(&reading.org, &[id.to_string()]).await?;
        let found: Vec<ServedEntity> = found
            .into_iter()
            .filter(|e| e.kind == collection.kind.cli_name())
            .collect();
        let served = self.served(&reading.org, found).await?;
        let context = self.context(&reading, &served).await?;
        served
            .into_iter()
            .find(|s| reading.admit(s, &context).is_some())
            .ok_or_else(|| Refusal::unknown(collection.single, id))
    }

    fn reading<'a>(
        &self,
        vendor: &Vendor,
        terms: &'a Terms,
        request: &'a ReadRequest,
        collection: &'static Collection,
        within: Within,
    ) -> Reading<'a> {
        let granted = terms.fields.get(collection.kind.cli_name());
        let visible = oneroster::fields(collection.kind, request.version)
            .into_iter()
            .filter(|f| granted.is_some_and(|g| g.contains(*f)))
            .collect();
        Reading {
            org: vendor.client.org_id.clone(),
            terms,
            collection,
            version: request.version,
            origin: &request.origin,
            within,
            visible,
        }
    }

    /// What a relationship endpoint narrows its child collection to.
    async fn relationship(
        &self,
        vendor: &Vendor,
        terms: &Terms,
        request: &ReadRequest,
        parent: &'static Collection,
        pid: &str,
        child: &'static Collection,
    ) -> Result<Within, Refusal> {
        self.parent(vendor, terms, request, parent, pid).await?;
        let refs = |name: &'static str| Within {
            refs: vec![(name, pid.to_string())],
            ids: None,
        };
        let no_endpoint = || {
            Refusal::new(
                Minor::UnknownObject,
                format!("there is no endpoint {} here", request.endpoint),
            )
        };
        use EntityKind as K;
        Ok(match (parent.kind, child.kind) {
            (K::Org, K::Class) | (K::Org, K::Enrollment) => refs("school"),
            (K::Org, K::Course) => refs("org"),
            (K::Org, K::User) => refs("orgs"),
            (K::Org, K::AcademicSession) if child.path == "terms" => {
                // The terms the school's classes are taught in.
                self.through(vendor, terms, request, "classes", refs("school"), "terms")
                    .await?
            }
            (K::Class, K::User) => {
                self.through(vendor, terms, request, "enrollments", refs("class"), "user")
                    .await?
            }
            (K::Class, K::Enrollment | K::LineItem | K::Result) => refs("class"),
            (K::Course, K::Class) => refs("course"),
            (K::AcademicSession, K::Class) => refs("terms"),
            (K::AcademicSession, K::AcademicSession) if child.path == "gradingPeriods" => {
                refs("parent")
            }
            (K::User, K::Class) => {
                self.through(vendor, terms, request, "enrollments", refs("user"), "class")
                    .await?
            }
            (K::User, K::Result) => refs("student"),
            (K::LineItem, K::Result) => refs("lineItem"),
            _ => return Err(no_endpoint()),
        })
    }

    /// The records a relationship reaches through another collection (who
    /// is in a class is what its enrollments say): the ids that `attr` of
    /// its records `within` names. The agreement must grant that collection.
    async fn through(
        &self,
        vendor: &Vendor,
        terms: &Terms,
        request: &ReadRequest,
        path: &str,
        within: Within,
        attr: &str,
    ) -> Result<Within, Refusal> {
        let collection = oneroster::COLLECTIONS
            .iter()
            .find(|c| c.path == path)
            .ok_or_else(|| Refusal::new(Minor::InternalServerError, "no such collection"))?;
        if !terms.kinds.contains(collection.kind.cli_name()) {
            return Err(Refusal::new(
                Minor::Forbidden,
                format!(
                    "this endpoint reads the district's {path}, which this client's data-sharing agreement does not include"
                ),
            ));
        }
        let reading = self.reading(vendor, terms, request, collection, within);
        let mut ids = HashSet::new();
        self.scan(&reading, |s, _| {
            ids.extend(ref_ids(s.attrs.get(attr)));
            true
        })
        .await?;
        Ok(Within {
            refs: Vec::new(),
            ids: Some(ids),
        })
    }

    /// The records of a read's collection the client sees, in id order, a
    /// store page at a time: `visit` gets each with its shape cut to the
    /// agreement, and stops the scan by answering false.
    async fn scan(
        &self,
        reading: &Reading<'_>,
        mut visit: impl FnMut(&Served, Json) -> bool,
    ) -> Result<(), Refusal> {
        let store = self.engine.store();
        let kind = reading.collection.kind.cli_name();
        if let Some(ids) = &reading.within.ids {
            let mut ids: Vec<String> = ids.iter().cloned().collect();
            ids.sort();
            for chunk in ids.chunks(SCAN_PAGE as usize) {
                let mut page: Vec<ServedEntity> = store
                    .served_by_ids(&reading.org, chunk)
                    .await?
                    .into_iter()
                    .filter(|e| e.kind == kind)
                    .collect();
                page.sort_by(|a, b| a.id.cmp(&b.id));
                let served = self.served(&reading.org, page).await?;
                let context = self.context(reading, &served).await?;
                for s in &served {
                    if let Some(record) = reading.admit(s, &context)
                        && !visit(s, record)
                    {
                        return Ok(());
                    }
                }
            }
            return Ok(());
        }
        let mut after = String::new();
        loop {
            let page = store
                .served_page(&reading.org, kind, &after, SCAN_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            let full = page.len() as i64 == SCAN_PAGE;
            let served = self.served(&reading.org, page).await?;
            let context = self.context(reading, &served).await?;
            for s in &served {
                if let Some(record) = reading.admit(s, &context)
                    && !visit(s, record)
                {
                    return Ok(());
                }
            }
            if !full {
                break;
            }
        }
        Ok(())
    }

    /// The entities a page's records hang off, checked against the
    /// agreement: a line item's class, a result's student, the person a
    /// demographics record is of.
    async fn context(&self, reading: &Reading<'_>, page: &[Served]) -> Result<Context, Refusal> {
        let mut context = Context::default();
        let store = self.engine.store();
        let kind = reading.collection.kind;
        let (attr, parent_kind) = match kind {
            EntityKind::LineItem => ("class", EntityKind::Class),
            EntityKind::Result => ("student", EntityKind::User),
            EntityKind::Demographics => {
                let ids: Vec<String> = page.iter().map(|s| s.id.clone()).collect();
                context.subject = store.subjects_of_demographics(&reading.org, &ids).await?;
                ("", EntityKind::User)
            }
            _ => return Ok(context),
        };
        if reading.terms.schools.is_none() {
            return Ok(context);
        }
        let mut ids: Vec<String> = if kind == EntityKind::Demographics {
            context.subject.values().cloned().collect()
        } else {
            page.iter()
                .flat_map(|s| ref_ids(s.attrs.get(attr)))
                .collect()
        };
        ids.sort();
        ids.dedup();
        let parents = store.served_by_ids(&reading.org, &ids).await?;
        let parents: Vec<ServedEntity> = parents
            .into_iter()
            .filter(|e| e.kind == parent_kind.cli_name())
            .collect();
        let none = Context::default();
        for p in self.served(&reading.org, parents).await? {
            if in_scope(reading.terms, parent_kind, &p, &none) {
                context.visible.insert(p.id);
            }
        }
        Ok(context)
    }

    /// Refused unless the agreement grants the collection's kind and the
    /// token holds a scope for it.
    fn allowed(
        &self,
        vendor: &Vendor,
        terms: &Terms,
        collection: &Collection,
        relationship: bool,
    ) -> Result<(), Refusal> {
        let needs = scopes_for(collection, relationship);
        if !needs.iter().any(|s| vendor.scopes.contains(s)) {
            return Err(Refusal::new(
                Minor::Forbidden,
                format!(
                    "reading {} needs the scope {}: ask for it when requesting the token (the district decides which scopes the client may have)",
                    collection.path,
                    needs
                        .iter()
                        .map(|s| s.uri())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ));
        }
        if !terms.kinds.contains(collection.kind.cli_name()) {
            return Err(Refusal::new(
                Minor::Forbidden,
                format!(
                    "this client's data-sharing agreement does not include the district's {}",
                    collection.plural
                ),
            ));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        vendor: &Vendor,
        terms: &Terms,
        request: &ReadRequest,
        collection: &'static Collection,
        within: Within,
        relationship: bool,
        people: &mut Vec<String>,
    ) -> Result<Answer, Refusal> {
        self.allowed(vendor, terms, collection, relationship)?;
        let reading = self.reading(vendor, terms, request, collection, within);
        let query = ListQuery::parse(&request.params, &reading)?;
        let (offset, limit) = (query.offset, query.limit);
        let ids = self.matching(vendor, request, &reading, &query).await?;
        let total = ids.len();
        let window: Vec<String> = ids.iter().skip(offset).take(limit).cloned().collect();
        // The page's records, read again by id and admitted again: what the
        // agreement allows is checked on what is served, not on the list.
        let order: HashMap<&str, usize> = window
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let mut found: Vec<(usize, Json)> = Vec::new();
        let page_reading = Reading {
            within: Within {
                refs: Vec::new(),
                ids: Some(window.iter().cloned().collect()),
            },
            ..reading.clone()
        };
        self.scan(&page_reading, |served, record| {
            if let Some(i) = order.get(served.id.as_str()) {
                people_of(collection.kind, served, &record, people);
                found.push((*i, record));
            }
            true
        })
        .await?;
        found.sort_by_key(|(i, _)| *i);
        let mut records: Vec<Json> = found.into_iter().map(|(_, r)| r).collect();
        if let Some(fields) = &query.fields {
            records = records.iter().map(|r| select_fields(r, fields)).collect();
        }
        Ok(Answer::List {
            envelope: collection.plural,
            records,
            total,
            offset,
            limit,
        })
    }

    /// The ids of every record a list answers, in its order: read once per
    /// query and state of the district's data, then kept for the pages
    /// that follow (a client walking 100 at a time reads the kind once).
    async fn matching(
        &self,
        vendor: &Vendor,
        request: &ReadRequest,
        reading: &Reading<'_>,
        query: &ListQuery,
    ) -> Result<std::sync::Arc<Vec<String>>, Refusal> {
        let data = self.engine.store().served_version(&reading.org).await?;
        let key = format!(
            "{}|{}|{}|{}|{:?}|{:?}|{:?}|{data}",
            vendor.client.id,
            reading.terms.granted_at,
            request.version.label(),
            request.endpoint,
            request.params.filter,
            request.params.sort,
            request.params.order_by,
        );
        if let Some(ids) = self.provider_cache.lock().ok().and_then(|c| c.get(&key)) {
            return Ok(ids);
        }
        let matches = |record: &Json| query.filter.as_ref().is_none_or(|f| f.matches(record));
        let ids = match &query.sort {
            None => {
                let mut ids = Vec::new();
                self.scan(reading, |served, record| {
                    if matches(&record) {
                        ids.push(served.id.clone());
                    }
                    true
                })
                .await?;
                ids
            }
            Some(sort) => {
                // Only the sort field of each match is held beside its id.
                let key_field = sort.field.first().cloned().unwrap_or_default();
                let mut keys: Vec<(Json, String)> = Vec::new();
                self.scan(reading, |served, record| {
                    if matches(&record) {
                        keys.push((
                            select_fields(&record, std::slice::from_ref(&key_field)),
                            served.id.clone(),
                        ));
                    }
                    true
                })
                .await?;
                keys.sort_by(|a, b| sort.compare(&a.0, &b.0).then_with(|| a.1.cmp(&b.1)));
                keys.into_iter().map(|(_, id)| id).collect()
            }
        };
        let ids = std::sync::Arc::new(ids);
        if let Ok(mut cache) = self.provider_cache.lock() {
            cache.put(key, ids.clone());
        }
        Ok(ids)
    }

    pub(super) async fn one(
        &self,
        vendor: &Vendor,
        terms: &Terms,
        request: &ReadRequest,
        collection: &'static Collection,
        id: &str,
        people: &mut Vec<String>,
    ) -> Result<Answer, Refusal> {
        self.allowed(vendor, terms, collection, false)?;
        let mut reading = self.reading(vendor, terms, request, collection, Within::default());
        let fields = match &request.params.fields {
            Some(f) => Some(checked_fields(f, &reading)?),
            None => None,
        };
        let ids = if collection.kind == EntityKind::Demographics {
            // A demographics record is served under its person's id.
            self.engine
                .store()
                .demographics_of(&reading.org, id)
                .await?
        } else {
            vec![id.to_string()]
        };
        reading.within.ids = Some(ids.into_iter().collect());
        let mut found = None;
        self.scan(&reading, |served, record| {
            people_of(collection.kind, served, &record, people);
            found = Some(record);
            false
        })
        .await?;
        let record = found.ok_or_else(|| Refusal::unknown(collection.single, id))?;
        Ok(Answer::One {
            envelope: collection.single,
            record: match fields {
                Some(f) => select_fields(&record, &f),
                None => record,
            },
        })
    }
}

/// The people a served record is of (for the read log's report per person).
fn people_of(kind: EntityKind, served: &Served, record: &Json, out: &mut Vec<String>) {
    match kind {
        EntityKind::User | EntityKind::UserAgent => out.push(served.id.clone()),
        EntityKind::Demographics => {
            if let Some(id) = record.get("sourcedId").and_then(Json::as_str) {
                out.push(id.to_string())
            }
        }
        EntityKind::Enrollment => out.extend(ref_ids(served.attrs.get("user"))),
        EntityKind::Result => out.extend(ref_ids(served.attrs.get("student"))),
        _ => {}
    }
}

/// A list's query parameters, checked against what the client sees.
struct ListQuery {
    offset: usize,
    limit: usize,
    filter: Option<Filter>,
    sort: Option<Sort>,
    fields: Option<Vec<String>>,
}

fn count(text: Option<&String>, name: &str, default: usize) -> Result<usize, Refusal> {
    match text.map(|t| t.trim()) {
        None | Some("") => Ok(default),
        Some(t) => t.parse::<usize>().map_err(|_| {
            Refusal::new(
                Minor::InvalidData,
                format!("{name} must be a whole number from 0, not {t:?}"),
            )
        }),
    }
}

fn unseen(name: &str, reading: &Reading<'_>) -> String {
    format!(
        "{} here have no field {name} for this client; it may use: {}",
        reading.collection.path,
        reading.visible.join(", ")
    )
}

fn checked_fields(text: &str, reading: &Reading<'_>) -> Result<Vec<String>, Refusal> {
    let fields = parse_fields(text)?;
    for f in &fields {
        if !reading.visible.contains(&f.as_str()) {
            return Err(Refusal::new(
                Minor::InvalidSelectionField,
                unseen(f, reading),
            ));
        }
    }
    Ok(fields)
}

impl ListQuery {
    fn parse(params: &ReadParams, reading: &Reading<'_>) -> Result<ListQuery, Refusal> {
        let limit = count(params.limit.as_ref(), "limit", DEFAULT_LIMIT)?;
        if limit == 0 {
            return Err(Refusal::new(
                Minor::InvalidData,
                "limit must be 1 or more (at most 10000 records are served at once)",
            ));
        }
        let offset = count(params.offset.as_ref(), "offset", 0)?;
        let filter = match params.filter.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => {
                let filter = Filter::parse(text)?;
                for path in filter.fields() {
                    let top = path.first().map(String::as_str).unwrap_or_default();
                    if !reading.visible.contains(&top) {
                        return Err(Refusal::new(
                            Minor::InvalidFilterField,
                            unseen(top, reading),
                        ));
                    }
                }
                Some(filter)
            }
        };
        let sort = match params.sort.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => {
                let sort = Sort::parse(text, params.order_by.as_deref())?;
                let top = sort.field.first().map(String::as_str).unwrap_or_default();
                if !reading.visible.contains(&top) {
                    return Err(Refusal::new(Minor::InvalidSortField, unseen(top, reading)));
                }
                Some(sort)
            }
        };
        let fields = match params.fields.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(checked_fields(text, reading)?),
        };
        Ok(ListQuery {
            offset,
            limit: limit.min(MAX_LIMIT),
            filter,
            sort,
            fields,
        })
    }
}

/// The id lists of recent list queries (see `App::matching`), bounded by
/// the ids they hold together; the oldest go first.
#[derive(Default)]
pub struct ListCache {
    entries: std::collections::VecDeque<(String, std::sync::Arc<Vec<String>>)>,
    held: usize,
}

/// Ids the cache holds at most, over every query (about 60 bytes each).
const CACHE_IDS: usize = 2_000_000;

impl ListCache {
    fn get(&self, key: &str) -> Option<std::sync::Arc<Vec<String>>> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn put(&mut self, key: String, ids: std::sync::Arc<Vec<String>>) {
        if ids.len() > CACHE_IDS {
            return;
        }
        self.entries.retain(|(k, _)| *k != key);
        self.held = self.entries.iter().map(|(_, v)| v.len()).sum();
        while self.held + ids.len() > CACHE_IDS || self.entries.len() >= 64 {
            match self.entries.pop_front() {
                Some((_, old)) => self.held -= old.len(),
                None => break,
            }
        }
        self.held += ids.len();
        self.entries.push_back((key, ids));
    }
}

/// Where the sealed secrets of signing clients are kept.
pub(super) const VENDOR_SECRETS: &str = "@vendors";

/// Where vendors ask for tokens.
pub const TOKEN_PATH: &str = "/ims/oneroster/token";

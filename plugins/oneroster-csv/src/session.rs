//! One connector instance's work: find the package once, then answer the
//! host's calls (test the connection, list schools, read pages) from it.
//!
//! This module owns the reads in progress (a reader per file, kept between
//! pages so the next page continues where the last stopped; a page whose
//! cursor does not match reopens the file and seeks, so a resumed read works
//! too), the caches a session builds (id sets for orphan checks, the 1.2
//! roles and profiles joined into users), and what is logged: what the
//! header line has wrong (once per file), bad rows (the first few one by
//! one, then a count), loose values, orphans and final lines per file (rows
//! read and skipped, rows read with no date last modified). It calls no host
//! function: log lines are collected in a [`Log`] for `lib.rs` to send, so
//! everything here runs in native tests.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::rc::Rc;

use homeroom_sdk::oneroster::Version;
use homeroom_sdk::{Entity, EntityKind, Page, PluginError, School};

use crate::convert::{self, Plan, ProfileTable, RoleTable, UserSides};
use crate::manifest::{self, Manifest, Mode};
use crate::package::{self, MANIFEST, Package};
use crate::refs::{Check, IdSet, Orphans, checks_of};
use crate::rows::{Position, Record, Row, RowReader};
use crate::schema::{self, FILES, FileSpec};

/// Rows per page unless the `page_size` setting says otherwise.
pub const DEFAULT_PAGE_SIZE: u64 = 5_000;
/// The largest page the setting allows (the host takes at most 100,000).
pub const MAX_PAGE_SIZE: u64 = 50_000;
/// Bad rows (and loose values) listed one by one per file; the rest are counted.
const LISTED: u64 = 20;

/// The connector's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A folder or zip inside the drop folder (the `path` setting).
    pub path: Option<String>,
    pub page_size: u64,
}

impl Settings {
    /// The settings, or a config error saying which is wrong.
    pub fn checked(path: Option<String>, page_size: u64) -> Result<Settings, PluginError> {
        if page_size == 0 || page_size > MAX_PAGE_SIZE {
            return Err(PluginError::Config(format!(
                "the setting `page_size` must be between 1 and {MAX_PAGE_SIZE}, not {page_size}"
            )));
        }
        Ok(Settings { path, page_size })
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            path: None,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

/// A line for the admin's run log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Info(String),
    Warn(String),
}

/// What one call has to say.
#[derive(Debug, Default)]
pub struct Log {
    pub lines: Vec<Line>,
    /// Records read so far in the current read (for the host's progress bar).
    pub progress: Option<u64>,
}

impl Log {
    pub fn info(&mut self, text: impl Into<String>) {
        self.lines.push(Line::Info(text.into()));
    }

    pub fn warn(&mut self, text: impl Into<String>) {
        self.lines.push(Line::Warn(text.into()));
    }

    /// The warnings only.
    #[cfg(test)]
    pub fn warnings(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                Line::Warn(w) => Some(w.as_str()),
                Line::Info(_) => None,
            })
            .collect()
    }
}

struct Opened {
    package: Package,
    manifest: Manifest,
    version: Version,
}

/// A read of one file in progress.
struct ActiveRead {
    rows: RowReader,
    plan: Plan,
    checks: Vec<Checking>,
    orphans: Orphans,
    listed_bad: u64,
    loose: u64,
}

pub struct Session {
    root: PathBuf,
    settings: Settings,
    opened: Option<Rc<Opened>>,
    reads: HashMap<&'static str, ActiveRead>,
    ids: HashMap<&'static str, Option<Rc<IdSet>>>,
    sides: Option<Rc<UserSides>>,
    said: HashSet<String>,
}

use homeroom_sdk::paging::empty_page;

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Log a bad row, the first few one by one.
fn bad_row(log: &mut Log, file: &str, line: u64, reason: &str, listed: &mut u64) {
    if *listed < LISTED {
        log.warn(format!("{file} line {line}: {reason}; the row is skipped"));
    } else if *listed == LISTED {
        log.warn(format!(
            "{file}: more bad rows follow; they are counted, not listed"
        ));
    }
    *listed += 1;
}

/// The closing line of a file's read.
fn closing(log: &mut Log, rows: &RowReader, what: &str) {
    let pos = rows.pos;
    let good = pos.records - pos.skipped;
    let file = rows.file;
    if pos.skipped > 0 {
        log.warn(format!(
            "{file}: {} {what}, {} skipped",
            plural(good, "row", "rows"),
            plural(pos.skipped, "bad row", "bad rows")
        ));
    } else {
        log.info(format!("{file}: {} {what}", plural(good, "row", "rows")));
    }
    if pos.undated > 0 {
        let (count, they) = match pos.undated {
            1 => ("1 row has".to_string(), "it is"),
            n => (format!("{n} rows have"), "they are"),
        };
        log.warn(format!(
            "{file}: {count} a `dateLastModified` that is not a date or date-time (the first is line {}); {they} read with no date last modified: have the export write it as YYYY-MM-DD or like 2024-08-19T14:30:00Z",
            pos.first_undated
        ));
    }
    if rows.not_utf8 {
        log.warn(format!(
            "{file} is not UTF-8 text; it was read as Windows-1252: save it as UTF-8 so accented names come through as meant"
        ));
    }
}

impl Session {
    /// A session over the drop folder `root` (`/drop` in the sandbox).
    pub fn new(root: PathBuf, settings: Settings) -> Session {
        Session {
            root,
            settings,
            opened: None,
            reads: HashMap::new(),
            ids: HashMap::new(),
            sides: None,
            said: HashSet::new(),
        }
    }

    /// Warn once per session.
    fn warn_once(&mut self, log: &mut Log, text: String) {
        if self.said.insert(text.clone()) {
            log.warn(text);
        }
    }

    /// What a file's header line has wrong (misspelled column names), once
    /// per session.
    fn header_notes(&mut self, log: &mut Log, rows: &RowReader) {
        for note in &rows.header.notes {
            self.warn_once(log, note.clone());
        }
    }

    fn open(&mut self, log: &mut Log) -> Result<Rc<Opened>, PluginError> {
        if let Some(opened) = &self.opened {
            return Ok(opened.clone());
        }
        let package = package::find(&self.root, self.settings.path.as_deref())?;
        let label = package.label.clone();
        let manifest_name = package.has(MANIFEST).unwrap_or(MANIFEST).to_string();
        let stream = package.open(&manifest_name, 0).map_err(|e| {
            PluginError::InvalidData(format!("manifest.csv in {label} cannot be read: {e}"))
        })?;
        let manifest = manifest::parse(stream, &label)?;
        for w in &manifest.warnings {
            log.warn(w.clone());
        }
        if !package.passed_over.is_empty() {
            log.info(format!(
                "the drop folder holds {} packages; reading the newest, {label} (not {}); set `path` to read another",
                package.passed_over.len() + 1,
                package.passed_over.join(", ")
            ));
        }
        let version = match (manifest.version, &manifest.unknown_version) {
            (Some(v), _) => v,
            (None, Some(other)) => {
                return Err(PluginError::InvalidData(format!(
                    "manifest.csv in {label} says oneroster.version is `{other}`; this connector reads OneRoster 1.1 and 1.2 packages"
                )));
            }
            (None, None) => {
                let v = guess_version(&package);
                log.warn(format!(
                    "manifest.csv in {label} states no oneroster.version; the files look like OneRoster {} and are read as such",
                    v.label()
                ));
                v
            }
        };
        let opened = Rc::new(Opened {
            package,
            manifest,
            version,
        });
        self.opened = Some(opened.clone());
        Ok(opened)
    }

    /// How `file` is to be read: none when there is nothing to read.
    fn mode(
        &mut self,
        opened: &Opened,
        file: &'static str,
        log: &mut Log,
    ) -> Result<Option<Mode>, PluginError> {
        let present = opened.package.has(file).is_some();
        let label = &opened.package.label;
        let stem = file.trim_end_matches(".csv");
        match opened.manifest.mode_of(file) {
            Some(Mode::Absent) => {
                if present {
                    self.warn_once(
                        log,
                        format!(
                            "manifest.csv marks {file} absent, so the {file} in {label} is not read"
                        ),
                    );
                }
                Ok(None)
            }
            Some(mode) if present => Ok(Some(mode)),
            Some(mode) => Err(PluginError::InvalidData(format!(
                "manifest.csv says {file} is {} but {label} has no {file}: export the package again, or mark it `file.{stem},absent`",
                mode.label()
            ))),
            None if present => {
                self.warn_once(
                    log,
                    format!("manifest.csv does not list {file} (add `file.{stem},bulk`); it is read as bulk"),
                );
                Ok(Some(Mode::Bulk))
            }
            None => Ok(None),
        }
    }

    /// The ids of a bulk file, to check references against; none when the
    /// file is not a full set (delta, absent) or cannot be read (its own
    /// read reports why).
    fn ids(&mut self, opened: &Opened, target: &'static str, log: &mut Log) -> Option<Rc<IdSet>> {
        if let Some(set) = self.ids.get(target) {
            return set.clone();
        }
        let set = match self.mode(opened, target, log) {
            Ok(Some(Mode::Bulk)) => schema::spec(target).and_then(|spec| {
                match RowReader::open(&opened.package, spec, opened.version, None) {
                    Ok(mut rows) => {
                        let mut set = IdSet::default();
                        loop {
                            match rows.next_row() {
                                Ok(Some(Row::Good { .. })) => set.insert(rows.id()),
                                Ok(Some(Row::Bad { .. })) => {}
                                Ok(None) => break,
                                Err(_) => return None,
                            }
                        }
                        set.shrink();
                        Some(Rc::new(set))
                    }
                    Err(_) => None,
                }
            }),
            _ => None,
        };
        self.ids.insert(target, set.clone());
        set
    }

    /// Roles and profiles of 1.2 users, read once.
    fn sides(&mut self, opened: &Opened, log: &mut Log) -> Result<Rc<UserSides>, PluginError> {
        if let Some(sides) = &self.sides {
            return Ok(sides.clone());
        }
        let mut sides = UserSides::default();
        let label = opened.package.label.clone();
        if self.mode(opened, "roles.csv", log)?.is_some() {
            let mut table = RoleTable::default();
            self.side_file(opened, "roles.csv", log, |h, row| table.add(h, row))?;
            table.finish();
            sides.roles = Some(table);
        } else {
            self.warn_once(
                log,
                format!("{label} has no roles.csv: OneRoster 1.2 users get their role from it, so users are read without one"),
            );
        }
        if self.mode(opened, "userProfiles.csv", log)?.is_some() {
            let mut table = ProfileTable::default();
            self.side_file(opened, "userProfiles.csv", log, |h, row| table.add(h, row))?;
            table.finish();
            sides.profiles = Some(table);
        }
        let sides = Rc::new(sides);
        self.sides = Some(sides.clone());
        Ok(sides)
    }

    /// Read a whole side file into a table, reporting as any file.
    fn side_file(
        &mut self,
        opened: &Opened,
        file: &'static str,
        log: &mut Log,
        mut add: impl FnMut(&schema::Header, &Record),
    ) -> Result<(), PluginError> {
        let Some(spec) = schema::spec(file) else {
            return Ok(());
        };
        let mut rows = RowReader::open(&opened.package, spec, opened.version, None)?;
        self.header_notes(log, &rows);
        let checks = self.checks(opened, &rows, log);
        let mut orphans = Orphans::default();
        let mut listed = 0;
        while let Some(row) = rows.next_row()? {
            match row {
                Row::Bad { line, reason } => bad_row(log, file, line, &reason, &mut listed),
                Row::Good { .. } => {
                    let fields = rows.fields();
                    check_refs(&checks, rows.id(), fields, &mut orphans);
                    if !rows
                        .header
                        .get(fields, "status")
                        .eq_ignore_ascii_case("tobedeleted")
                    {
                        add(&rows.header, fields);
                    }
                }
            }
        }
        closing(log, &rows, "read into users");
        for line in orphans.report() {
            log.warn(line);
        }
        Ok(())
    }

    fn checks(&mut self, opened: &Opened, rows: &RowReader, log: &mut Log) -> Vec<Checking> {
        let mut checks = Vec::new();
        for check in checks_of(rows.file) {
            if let Some(at) = rows.header.position(check.column)
                && let Some(set) = self.ids(opened, check.target, log)
            {
                checks.push(Checking {
                    check: *check,
                    set,
                    at,
                });
            }
        }
        checks
    }

    /// Read one page of `kind`.
    pub fn read(
        &mut self,
        kind: EntityKind,
        _since: Option<&str>,
        cursor: Option<&str>,
        log: &mut Log,
    ) -> Result<Page, PluginError> {
        let opened = self.open(log)?;
        // Agents come inside users' `agents`, as in the REST binding.
        let Some(spec) = schema::file_of(kind) else {
            return Ok(empty_page());
        };
        let file = spec.file;
        let Some(mode) = self.mode(&opened, file, log)? else {
            if cursor.is_none() {
                log.info(format!(
                    "{file} is not in {}: nothing to read",
                    opened.package.label
                ));
            }
            return Ok(empty_page());
        };
        let at = cursor.map(Position::from_cursor).transpose()?;
        let kept = self.reads.remove(file).filter(|r| Some(r.rows.pos) == at);
        let mut read = match kept {
            Some(read) => read,
            None => {
                let rows = RowReader::open(&opened.package, spec, opened.version, at)?;
                if at.is_none() {
                    log.info(format!(
                        "reading {file} ({}) from {}",
                        mode.label(),
                        opened.package.label
                    ));
                    self.header_notes(log, &rows);
                }
                let checks = self.checks(&opened, &rows, log);
                let joined = kind == EntityKind::User && opened.version == Version::V1p2;
                ActiveRead {
                    plan: Plan::new(kind, &rows.header, joined),
                    rows,
                    checks,
                    orphans: Orphans::default(),
                    listed_bad: 0,
                    loose: 0,
                }
            }
        };
        let sides = match (kind, opened.version) {
            (EntityKind::User, Version::V1p2) => Some(self.sides(&opened, log)?),
            _ => None,
        };
        let limit = self.settings.page_size as usize;
        let mut entities: Vec<Entity> = Vec::with_capacity(limit.min(8_192));
        while entities.len() < limit {
            let Some(row) = read.rows.next_row()? else {
                break;
            };
            match row {
                Row::Bad { line, reason } => {
                    bad_row(log, file, line, &reason, &mut read.listed_bad)
                }
                Row::Good { line } => {
                    let fields = read.rows.fields();
                    let mapped = read
                        .plan
                        .entity(&read.rows.header, fields, sides.as_deref());
                    for w in mapped.warnings {
                        if read.loose < LISTED {
                            log.warn(format!("{file} line {line}: {w}"));
                        }
                        read.loose += 1;
                    }
                    check_refs(&read.checks, read.rows.id(), fields, &mut read.orphans);
                    entities.push(mapped.entity);
                }
            }
        }
        let pos = read.rows.pos;
        log.progress = Some(pos.records - pos.skipped);
        let next = if read.rows.done {
            closing(log, &read.rows, "read");
            if read.loose > LISTED {
                log.warn(format!(
                    "{file}: {} kept in a looser form than OneRoster gives them (the first {LISTED} are listed above)",
                    plural(read.loose, "value", "values")
                ));
            }
            for line in read.orphans.report() {
                log.warn(line);
            }
            if kind == EntityKind::User {
                // The roles and profiles joined into users are not needed again.
                self.sides = None;
            }
            None
        } else {
            let cursor = pos.to_cursor();
            self.reads.insert(file, read);
            Some(cursor)
        };
        Ok(Page {
            entities,
            next,
            total: None,
            ahead: Vec::new(),
        })
    }

    /// Check the folder, the manifest and every file's header; say what the
    /// package holds.
    pub fn test_connection(&mut self, log: &mut Log) -> Result<String, PluginError> {
        self.opened = None;
        self.reads.clear();
        self.ids.clear();
        self.sides = None;
        let opened = self.open(log)?;
        let version = opened.version;
        let mut read = Vec::new();
        for spec in FILES.iter().filter(|s| s.in_version(version)) {
            if let Some(mode) = self.mode(&opened, spec.file, log)? {
                let rows = RowReader::open(&opened.package, spec, version, None)?;
                self.header_notes(log, &rows);
                read.push((spec, mode));
            }
        }
        let label = &opened.package.label;
        if !read.iter().any(|(s, _)| s.file == "users.csv")
            && !read.iter().any(|(s, _)| s.file == "orgs.csv")
        {
            return Err(PluginError::InvalidData(format!(
                "{label} has neither orgs.csv nor users.csv: export the OneRoster rostering files into it"
            )));
        }
        let schools = self.schools(&opened)?.len() as u64;
        let users = match read.iter().find(|(s, _)| s.file == "users.csv") {
            Some((spec, _)) => count_rows(&opened, spec)?,
            None => 0,
        };
        let modes: HashSet<Mode> = read.iter().map(|(_, m)| *m).collect();
        let mode = match (modes.contains(&Mode::Bulk), modes.contains(&Mode::Delta)) {
            (true, true) => "bulk and delta",
            (false, true) => "delta",
            _ => "bulk",
        };
        let mut message = format!(
            "OneRoster {} CSV package ({mode}) in {label}: {}, {}",
            version.label(),
            plural(schools, "school", "schools"),
            plural(users, "user", "users")
        );
        if !opened.package.passed_over.is_empty() {
            message.push_str(&format!(
                " (the newest of {} packages in the folder)",
                opened.package.passed_over.len() + 1
            ));
        }
        Ok(message)
    }

    /// The orgs of type `school`.
    pub fn list_schools(&mut self, log: &mut Log) -> Result<Vec<School>, PluginError> {
        let opened = self.open(log)?;
        if self.mode(&opened, "orgs.csv", log)?.is_none() {
            return Err(PluginError::InvalidData(format!(
                "{} has no orgs.csv, so it names no schools: export orgs.csv with the package",
                opened.package.label
            )));
        }
        self.schools(&opened)
    }

    fn schools(&mut self, opened: &Opened) -> Result<Vec<School>, PluginError> {
        let Some(spec) = schema::spec("orgs.csv") else {
            return Ok(Vec::new());
        };
        if opened.package.has(spec.file).is_none() {
            return Ok(Vec::new());
        }
        let mut rows = RowReader::open(&opened.package, spec, opened.version, None)?;
        let mut schools = Vec::new();
        while let Some(row) = rows.next_row()? {
            let Row::Good { .. } = row else {
                continue;
            };
            let fields = rows.fields();
            let h = &rows.header;
            if !h.get(fields, "type").eq_ignore_ascii_case("school")
                || h.get(fields, "status").eq_ignore_ascii_case("tobedeleted")
            {
                continue;
            }
            let identifier = h.get(fields, "identifier");
            schools.push(School {
                source_id: rows.id().to_string(),
                name: h.get(fields, "name").to_string(),
                identifier: (!identifier.is_empty()).then(|| identifier.to_string()),
            });
        }
        Ok(schools)
    }
}

fn count_rows(opened: &Opened, spec: &'static FileSpec) -> Result<u64, PluginError> {
    let mut rows = RowReader::open(&opened.package, spec, opened.version, None)?;
    while rows.next_row()?.is_some() {}
    Ok(rows.pos.records - rows.pos.skipped)
}

/// A column checked against a file's ids, and where it is.
struct Checking {
    check: Check,
    set: Rc<IdSet>,
    at: usize,
}

fn check_refs(checks: &[Checking], id: &str, fields: &Record, orphans: &mut Orphans) {
    for Checking { check, set, at } in checks {
        let value = fields.get(*at).unwrap_or("");
        if check.list {
            for item in convert::list(value) {
                if !set.contains(item) {
                    orphans.note(check, id, item);
                }
            }
        } else if !value.is_empty() && !set.contains(value) {
            orphans.note(check, id, value);
        }
    }
}

/// The version of a package whose manifest does not say: 1.2 has
/// `roles.csv` and no `role` column in `users.csv`.
fn guess_version(package: &Package) -> Version {
    if package.has("roles.csv").is_some() {
        return Version::V1p2;
    }
    let Some(name) = package.has("users.csv") else {
        return Version::V1p1;
    };
    let header = package.open(name, 0).ok().and_then(|stream| {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(stream);
        let mut record = csv::StringRecord::new();
        csv.read_record(&mut record)
            .ok()
            .filter(|more| *more)
            .map(|_| record)
    });
    match header {
        Some(h) if h.iter().any(|c| c.trim().eq_ignore_ascii_case("role")) => Version::V1p1,
        Some(_) => Version::V1p2,
        None => Version::V1p1,
    }
}

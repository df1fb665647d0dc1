//! The per-record stages between read and reconcile, in the order districts
//! know them: SIS id prefix, schools mapping, attribute mapping, data
//! requirements, filter rules. (Rule components run beside these, in
//! `rules.rs`, on whole batches.) Each stage is a pure function of the
//! record and the source's configuration; none touches storage.

use std::collections::HashSet;

use regex::Regex;
use serde_json::Value as Json;

use crate::bindings::types::EntityKind;
use crate::config::{
    AttributeMapping, Condition, Filter, FilterRule, Op, PostOp, RequirementAction, SchoolsMode,
    SourceConfig, Transform,
};
use crate::model::kinds::entity_kind_of;
use crate::model::record::{Record, is_blank, is_of_kind, json_text};
use crate::model::report::SchoolsMapped;

/// What a stage decided for one record.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Keep,
    /// Left out, with the reason the admin reads.
    Skip(String),
    /// The record could not be processed; counted against the run's error share.
    Error(String),
}

/// The source's stages, compiled once per run.
pub struct Stages {
    prefix: Option<String>,
    /// Source school ids that go on; none: every school.
    schools: Option<HashSet<String>>,
    /// Auto mapping: names and identifiers (normalised) of the district's schools.
    known_schools: Option<HashSet<String>>,
    /// Auto mapping: what it made of the feed's schools so far.
    mapped: Option<SchoolsMapped>,
    mappings: Vec<(AttributeMapping, Option<Regex>)>,
    config: SourceConfig,
}

impl Stages {
    pub fn new(config: &SourceConfig) -> Stages {
        let prefix = config
            .advanced
            .sis_id_prefix
            .as_ref()
            .filter(|p| !p.is_empty())
            .cloned();
        let schools = match config.schools.mode {
            SchoolsMode::All | SchoolsMode::Auto => None,
            SchoolsMode::Selected => Some(
                config
                    .schools
                    .selected
                    .iter()
                    .map(|s| match &prefix {
                        Some(p) => format!("{p}-{s}"),
                        None => s.clone(),
                    })
                    .collect(),
            ),
        };
        let mappings = config
            .mapping
            .iter()
            .map(|m| {
                let re = match &m.transform {
                    Transform::RegexReplace { pattern, .. } => Regex::new(pattern).ok(),
                    _ => None,
                };
                (m.clone(), re)
            })
            .collect();
        Stages {
            prefix,
            schools,
            known_schools: None,
            mapped: None,
            mappings,
            config: config.clone(),
        }
    }

    /// The stages of a source, with the schools the district knows when its
    /// schools are mapped automatically.
    pub fn for_source(config: &SourceConfig, known_schools: Option<Vec<String>>) -> Stages {
        let mut stages = Stages::new(config);
        if let Some(known) = known_schools {
            stages.auto_map_schools(known);
        }
        stages
    }

    /// Auto mapping: keep the schools whose name or identifier the district
    /// already knows. With none known, every school goes on.
    pub fn auto_map_schools(&mut self, known: impl IntoIterator<Item = String>) {
        let known: HashSet<String> = known.into_iter().map(|k| normalise(&k)).collect();
        if !known.is_empty() {
            self.known_schools = Some(known);
            self.schools = Some(HashSet::new());
            self.mapped = Some(SchoolsMapped::default());
        }
    }

    /// What automatic schools mapping made of the feed's schools (none
    /// unless it is on and the district holds schools).
    pub fn schools_mapped(&mut self) -> Option<SchoolsMapped> {
        self.mapped.take()
    }

    /// Every stage in order (without rule components, which run on batches
    /// between [`Stages::map`] and [`Stages::check`]).
    pub fn apply(&mut self, record: &mut Record, warnings: &mut Vec<String>) -> Outcome {
        match self.map(record) {
            Outcome::Keep => self.check(record, warnings),
            other => other,
        }
    }

    /// SIS id prefix, schools mapping, attribute mapping.
    pub fn map(&mut self, record: &mut Record) -> Outcome {
        if let Some(p) = &self.prefix {
            record.map_ids(|id| format!("{p}-{id}"));
        }
        if let Outcome::Skip(why) = self.schools(record) {
            if let Some(m) = self.mapped.as_mut() {
                *m.left_out.entry(record.kind.cli_name().into()).or_default() += 1;
            }
            return Outcome::Skip(why);
        }
        if let Err(why) = self.map_attributes(record) {
            return Outcome::Error(why);
        }
        if let Err(why) = self.match_key(record) {
            return Outcome::Error(why);
        }
        Outcome::Keep
    }

    /// Identify the record by its kind's match key instead of its sourced id.
    fn match_key(&self, record: &mut Record) -> Result<(), String> {
        if record.deleted {
            // A deletion carries no attributes; it can only name its sourced id.
            return Ok(());
        }
        for (kind, attributes) in &self.config.advanced.match_keys {
            if !is_of_kind(record, kind) || attributes.iter().all(|a| a == "sourcedId") {
                continue;
            }
            let mut parts = Vec::with_capacity(attributes.len());
            for a in attributes {
                match record.text(a) {
                    Some(v) => parts.push(normalise(&v)),
                    None => {
                        return Err(format!(
                            "match key `{a}` is empty, so the {kind} cannot be identified"
                        ));
                    }
                }
            }
            let key = parts.join("|");
            record.source_id = match &self.prefix {
                Some(p) => format!("{p}-{key}"),
                None => key,
            };
            return Ok(());
        }
        Ok(())
    }

    /// Data requirements and filter rules.
    pub fn check(&self, record: &Record, warnings: &mut Vec<String>) -> Outcome {
        if record.deleted {
            // A deletion carries no attributes to require or filter on.
            return Outcome::Keep;
        }
        for req in &self.config.requirements {
            if !is_of_kind(record, &req.kind) {
                continue;
            }
            if record.attrs.get(&req.attribute).is_none_or(is_blank) {
                match req.action {
                    RequirementAction::Report => warnings.push(format!(
                        "`{}` is missing (required for {})",
                        req.attribute, req.kind
                    )),
                    RequirementAction::Skip => {
                        return Outcome::Skip(format!(
                            "`{}` is missing, and {} records without it are skipped",
                            req.attribute, req.kind
                        ));
                    }
                }
            }
        }
        for filter in &self.config.filters {
            if !is_of_kind(record, &filter.kind) {
                continue;
            }
            match passes(record, filter) {
                Ok(true) => {}
                Ok(false) => {
                    return Outcome::Skip(format!(
                        "left out by the {} filter {}",
                        filter.kind,
                        describe(&filter.rule)
                    ));
                }
                Err(e) => return Outcome::Error(e),
            }
        }
        Outcome::Keep
    }

    /// Only mapped schools, and what hangs off them, go on.
    fn schools(&mut self, record: &Record) -> Outcome {
        if let (Some(known), Some(mapped)) = (&self.known_schools, &mut self.schools) {
            let is_school = record.kind == EntityKind::Org
                && record.text("type").is_some_and(|t| t == "school");
            let matches = ["name", "identifier"]
                .iter()
                .filter_map(|a| record.text(a))
                .any(|v| known.contains(&normalise(&v)));
            if is_school && matches {
                mapped.insert(record.source_id.clone());
            }
            if let (true, Some(m)) = (is_school, self.mapped.as_mut()) {
                let name = format!(
                    "{} ({})",
                    record.text("name").unwrap_or_default(),
                    record.source_id
                );
                if matches {
                    m.matched.push(name);
                } else {
                    m.unmatched.push(name);
                }
            }
        }
        let Some(mapped) = &self.schools else {
            return Outcome::Keep;
        };
        if record.kind == EntityKind::Org {
            let is_school = record.text("type").is_some_and(|t| t == "school");
            if is_school && !mapped.contains(&record.source_id) {
                return Outcome::Skip("school is not mapped".into());
            }
            return Outcome::Keep;
        }
        let orgs: Vec<String> = record
            .references()
            .into_iter()
            .filter(|(name, kind, _)| *kind == EntityKind::Org && name != "parent")
            .map(|(_, _, id)| id)
            .collect();
        if orgs.is_empty() || orgs.iter().any(|o| mapped.contains(o)) {
            Outcome::Keep
        } else {
            Outcome::Skip("belongs to no mapped school".into())
        }
    }

    fn map_attributes(&self, record: &mut Record) -> Result<(), String> {
        let kind = record.kind.cli_name();
        for (m, re) in &self.mappings {
            if entity_kind_of(&m.kind) != kind || !is_of_kind(record, &m.kind) {
                continue;
            }
            let get = |name: &str| record.text(name);
            let value: Option<String> = match &m.transform {
                Transform::Copy { from } => get(from),
                Transform::Constant { value } => Some(value.clone()),
                Transform::Default { from, value } => get(from).or_else(|| Some(value.clone())),
                Transform::Concat { from, separator } => {
                    let parts: Vec<String> = from.iter().filter_map(|f| get(f)).collect();
                    (!parts.is_empty()).then(|| parts.join(separator))
                }
                Transform::Template { template } => Some(render(template, record)?),
                Transform::Lower { from } => get(from).map(|v| v.to_lowercase()),
                Transform::Upper { from } => get(from).map(|v| v.to_uppercase()),
                Transform::Trim { from } => get(from).map(|v| v.trim().to_string()),
                Transform::RegexReplace {
                    from, replacement, ..
                } => match re {
                    Some(re) => {
                        get(from).map(|v| re.replace_all(&v, replacement.as_str()).into_owned())
                    }
                    None => {
                        return Err(format!("mapping of `{}` has an invalid pattern", m.target));
                    }
                },
                Transform::ValueMap { from, map, default } => get(from)
                    .and_then(|v| map.get(&v).cloned().or_else(|| default.clone()).or(Some(v))),
                Transform::DateFormat {
                    from,
                    input,
                    output,
                } => match get(from) {
                    None => None,
                    Some(v) => Some(
                        chrono::NaiveDate::parse_from_str(&v, input)
                            .map(|d| d.format(output).to_string())
                            .map_err(|_| {
                                format!("`{from}` value `{v}` is not a date in the format {input}")
                            })?,
                    ),
                },
            };
            let value = value.map(|mut v| {
                for op in &m.then {
                    v = match op {
                        PostOp::Lower => v.to_lowercase(),
                        PostOp::Upper => v.to_uppercase(),
                        PostOp::Trim => v.trim().to_string(),
                    };
                }
                v
            });
            match value {
                Some(v) => {
                    record.attrs.insert(m.target.clone(), Json::String(v));
                }
                None => {
                    record.attrs.remove(&m.target);
                }
            }
        }
        Ok(())
    }
}

fn normalise(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// `{givenName}.{familyName}@district.org` with the record's values.
fn render(template: &str, record: &Record) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            return Err(format!("template `{template}` has an unclosed {{"));
        };
        let name = &rest[start + 1..start + end];
        match record.text(name) {
            Some(v) => out.push_str(&v),
            None => {
                return Err(format!(
                    "template `{template}` needs `{name}`, which is empty"
                ));
            }
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// CEDS grade levels in school order.
const GRADES: [&str; 20] = [
    "IT", "PR", "PK", "TK", "KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
    "12", "13", "PS", "UG",
];

fn grade_rank(g: &str) -> Option<usize> {
    let g = g.trim().to_ascii_uppercase();
    let g = if g.len() == 1 && g.as_bytes()[0].is_ascii_digit() {
        format!("0{g}")
    } else {
        g
    };
    GRADES.iter().position(|x| *x == g)
}

fn describe(rule: &FilterRule) -> String {
    match rule {
        FilterRule::ActiveOnly => "active only".into(),
        FilterRule::HasEmail => "has email".into(),
        FilterRule::GradeRange { min, max } => format!("grades {min}..{max}"),
        FilterRule::SchoolInList { schools } => format!("school in {}", schools.join(", ")),
        FilterRule::Custom { .. } => "(custom conditions)".into(),
    }
}

/// Whether a record passes one filter rule; an error says why the rule
/// cannot be judged (an unknown grade).
pub(crate) fn passes(record: &Record, filter: &Filter) -> Result<bool, String> {
    Ok(match &filter.rule {
        FilterRule::ActiveOnly => {
            record.text("status").is_none_or(|s| s != "tobedeleted")
                && record
                    .attrs
                    .get("enabledUser")
                    .is_none_or(|v| v != &Json::Bool(false) && json_text(v) != "false")
        }
        FilterRule::HasEmail => record.text("email").is_some_and(|e| e.contains('@')),
        FilterRule::GradeRange { min, max } => {
            let (Some(lo), Some(hi)) = (grade_rank(min), grade_rank(max)) else {
                return Err(format!("grade range {min}..{max} names an unknown grade"));
            };
            let grades = record
                .attrs
                .get("grades")
                .map(json_text)
                .unwrap_or_default();
            grades
                .split(',')
                .filter_map(grade_rank)
                .any(|r| r >= lo && r <= hi)
        }
        FilterRule::SchoolInList { schools } => record.references().iter().any(|(_, k, id)| {
            *k == EntityKind::Org
                && schools
                    .iter()
                    .any(|s| s == id || id.ends_with(&format!("-{s}")))
        }),
        FilterRule::Custom { all, any } => {
            let mut ok = true;
            for c in all {
                ok &= condition(record, c)?;
            }
            if !any.is_empty() {
                let mut one = false;
                for c in any {
                    one |= condition(record, c)?;
                }
                ok &= one;
            }
            ok
        }
    })
}

fn condition(record: &Record, c: &Condition) -> Result<bool, String> {
    let actual = record
        .attrs
        .get(&c.attribute)
        .map(json_text)
        .unwrap_or_default();
    let want = c.value.clone().unwrap_or_default();
    let number = |s: &str| s.trim().parse::<f64>().ok();
    Ok(match c.op {
        Op::Equals => actual.eq_ignore_ascii_case(&want),
        Op::NotEquals => !actual.eq_ignore_ascii_case(&want),
        Op::Contains => actual.to_lowercase().contains(&want.to_lowercase()),
        Op::In => c.values.iter().any(|v| v.eq_ignore_ascii_case(&actual)),
        Op::Matches => Regex::new(&want)
            .map_err(|e| format!("condition on `{}`: bad pattern: {e}", c.attribute))?
            .is_match(&actual),
        Op::Greater | Op::Less => {
            let ord = match (number(&actual), number(&want)) {
                (Some(a), Some(b)) => a.partial_cmp(&b),
                _ => Some(actual.as_str().cmp(want.as_str())),
            };
            match c.op {
                Op::Greater => ord == Some(std::cmp::Ordering::Greater),
                _ => ord == Some(std::cmp::Ordering::Less),
            }
        }
        Op::IsEmpty => actual.trim().is_empty(),
        Op::IsNotEmpty => !actual.trim().is_empty(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Requirement, SourceConfig};
    use serde_json::json;

    fn student(id: &str, grade: &str, email: Option<&str>) -> Record {
        let mut attrs = crate::model::record::Attrs::new();
        attrs.insert("role".into(), json!("student"));
        attrs.insert("givenName".into(), json!("Ada"));
        attrs.insert("familyName".into(), json!("Lovelace"));
        attrs.insert("grades".into(), json!([grade]));
        attrs.insert("orgs".into(), json!([{"kind": "org", "id": "s1"}]));
        if let Some(e) = email {
            attrs.insert("email".into(), json!(e));
        }
        Record {
            kind: EntityKind::User,
            source_id: id.into(),
            deleted: false,
            modified: None,
            attrs,
        }
    }

    #[test]
    fn mapping_requirements_and_filters_in_order() {
        let mut config = SourceConfig::new("sis", "oneroster-csv");
        config.advanced.sis_id_prefix = Some("sis".into());
        config.mapping.push(AttributeMapping {
            kind: "student".into(),
            target: "email".into(),
            transform: Transform::Template {
                template: "{givenName}.{familyName}@district.org".into(),
            },
            then: vec![PostOp::Lower],
        });
        config.requirements.push(Requirement {
            kind: "student".into(),
            attribute: "birthDate".into(),
            action: RequirementAction::Report,
        });
        config.filters.push(Filter {
            kind: "student".into(),
            rule: FilterRule::GradeRange {
                min: "KG".into(),
                max: "05".into(),
            },
        });
        let mut stages = Stages::new(&config);
        let mut warnings = Vec::new();
        let mut r = student("u1", "03", None);
        assert_eq!(stages.apply(&mut r, &mut warnings), Outcome::Keep);
        assert_eq!(r.source_id, "sis-u1");
        assert_eq!(
            r.text("email").as_deref(),
            Some("ada.lovelace@district.org")
        );
        assert_eq!(r.references()[0].2, "sis-s1");
        assert_eq!(warnings.len(), 1);
        let mut old = student("u2", "09", None);
        assert!(
            matches!(stages.apply(&mut old, &mut warnings), Outcome::Skip(w) if w.contains("grades KG..05"))
        );
    }

    #[test]
    fn schools_mapping_keeps_only_mapped_schools_and_their_records() {
        let mut config = SourceConfig::new("sis", "x");
        config.schools.mode = SchoolsMode::Selected;
        config.schools.selected = vec!["s2".into()];
        let mut stages = Stages::new(&config);
        let mut r = student("u1", "03", None);
        assert!(matches!(
            stages.apply(&mut r, &mut Vec::new()),
            Outcome::Skip(_)
        ));
    }

    #[test]
    fn a_template_missing_a_value_is_an_error_not_a_crash() {
        let mut config = SourceConfig::new("sis", "x");
        config.mapping.push(AttributeMapping {
            kind: "user".into(),
            target: "username".into(),
            transform: Transform::Template {
                template: "{nickname}".into(),
            },
            then: vec![],
        });
        let mut r = student("u1", "03", None);
        assert!(
            matches!(Stages::new(&config).apply(&mut r, &mut Vec::new()), Outcome::Error(e) if e.contains("nickname"))
        );
    }

    #[test]
    fn auto_mapping_keeps_schools_the_district_knows() {
        let mut config = SourceConfig::new("idp", "x");
        config.schools.mode = SchoolsMode::Auto;
        let mut stages = Stages::new(&config);
        stages.auto_map_schools(["Springfield  High".to_string()]);
        let school = |id: &str, name: &str| {
            let mut attrs = crate::model::record::Attrs::new();
            attrs.insert("type".into(), json!("school"));
            attrs.insert("name".into(), json!(name));
            Record {
                kind: EntityKind::Org,
                source_id: id.into(),
                deleted: false,
                modified: None,
                attrs,
            }
        };
        assert_eq!(
            stages.apply(&mut school("a", "springfield high"), &mut Vec::new()),
            Outcome::Keep
        );
        assert!(matches!(
            stages.apply(&mut school("b", "Shelbyville High"), &mut Vec::new()),
            Outcome::Skip(_)
        ));
        let mut kid = student("u1", "09", None);
        kid.attrs
            .insert("orgs".into(), json!([{"kind": "org", "id": "a"}]));
        assert_eq!(stages.apply(&mut kid, &mut Vec::new()), Outcome::Keep);
        assert!(
            matches!(
                stages.apply(&mut student("u2", "09", None), &mut Vec::new()),
                Outcome::Skip(_)
            ),
            "belongs to s1, unmapped"
        );
    }

    #[test]
    fn match_keys_identify_records_by_attribute() {
        let mut config = SourceConfig::new("sis", "x");
        config
            .advanced
            .match_keys
            .insert("student".into(), vec!["email".into()]);
        let mut stages = Stages::new(&config);
        let mut r = student("u1", "03", Some("Ada@District.org"));
        assert_eq!(stages.apply(&mut r, &mut Vec::new()), Outcome::Keep);
        assert_eq!(r.source_id, "ada@district.org");
        let mut no_email = student("u2", "03", None);
        assert!(
            matches!(stages.apply(&mut no_email, &mut Vec::new()), Outcome::Error(e) if e.contains("match key `email`"))
        );
    }

    #[test]
    fn custom_conditions_all_and_any() {
        let mut config = SourceConfig::new("sis", "x");
        config.filters.push(Filter {
            kind: "student".into(),
            rule: FilterRule::Custom {
                all: vec![Condition {
                    attribute: "email".into(),
                    op: Op::Contains,
                    value: Some("@district.org".into()),
                    values: vec![],
                }],
                any: vec![],
            },
        });
        let mut stages = Stages::new(&config);
        assert_eq!(
            stages.apply(
                &mut student("a", "01", Some("a@district.org")),
                &mut Vec::new()
            ),
            Outcome::Keep
        );
        assert!(matches!(
            stages.apply(
                &mut student("b", "01", Some("b@gmail.com")),
                &mut Vec::new()
            ),
            Outcome::Skip(_)
        ));
    }
}

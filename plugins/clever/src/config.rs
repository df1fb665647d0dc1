//! The source's settings, read once per call: where the Clever API is and
//! which version, the page size, which events a quick import applies, and the
//! LMS-style matching choices (which Clever field becomes a user's
//! `identifier` and a class's `classCode`, where student and teacher numbers
//! go among the user ids). Nothing here sends a request.

use homeroom_sdk::PluginError;
use homeroom_sdk::env::Env;
use homeroom_sdk::settings;

/// Largest page Clever serves.
pub const MAX_PAGE_SIZE: u64 = 10_000;

/// What becomes a user's `identifier` (and a class's `classCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// student_number, teacher_number or staff_id.
    Number,
    Email,
    SisId,
    CleverId,
    /// A section's name.
    Name,
}

/// Which event actions a quick import applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changes {
    pub adds: bool,
    pub edits: bool,
    pub deletes: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The API root with the version's base path (`https://api.clever.com/v3.1`).
    pub base: String,
    /// The server root without the base path, for relative `links`.
    pub root: String,
    pub version: &'static str,
    pub page_size: u64,
    pub changes: Changes,
    pub students_by: Key,
    pub teachers_by: Key,
    pub sections_by: Key,
    /// student_number is the `sis` user id (else `student_id`).
    pub student_number_as_sis: bool,
    pub teacher_number_as_sis: bool,
}

fn choice<T: Copy>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    label: &str,
    options: &[(&str, T)],
) -> Result<T, PluginError> {
    let value = get(name).unwrap_or_else(|| options[0].0.to_string());
    let wanted = value.trim().to_ascii_lowercase().replace(['_', '-'], " ");
    options
        .iter()
        .find(|(text, _)| *text == wanted)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(t, _)| *t).collect();
            PluginError::Config(format!(
                "{label} `{value}` is not one of: {}; pick one in the Delivery Config",
                names.join(", ")
            ))
        })
}

impl Config {
    pub fn from_env(env: &dyn Env) -> Result<Config, PluginError> {
        Config::from_settings(|name| env.setting(name))
    }

    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<Config, PluginError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let version = choice(
            &get,
            "version",
            "The Clever API version",
            &[("3.1", "3.1"), ("3.0", "3.0")],
        )?;
        let url = get("service_url").unwrap_or_else(|| "https://api.clever.com".into());
        let root = settings::service_root(
            &url,
            &["/v3.0", "/v3.1"],
            "Service URL",
            "https://api.clever.com",
        )?;
        let page_size = settings::page_size(get("page_size").as_deref(), 1000, MAX_PAGE_SIZE)?;
        let changes = match get("changes") {
            None => Changes {
                adds: true,
                edits: true,
                deletes: true,
            },
            Some(text) => {
                let mut c = Changes {
                    adds: false,
                    edits: false,
                    deletes: false,
                };
                for word in text.split([',', ' ', ';']).filter(|w| !w.is_empty()) {
                    match word.to_ascii_lowercase().as_str() {
                        "adds" | "add" | "created" => c.adds = true,
                        "edits" | "edit" | "updated" => c.edits = true,
                        "deletes" | "delete" | "deleted" => c.deletes = true,
                        other => {
                            return Err(PluginError::Config(format!(
                                "Changes to sync names `{other}`: list adds, edits and deletes, separated by commas"
                            )));
                        }
                    }
                }
                c
            }
        };
        let by = |name, label, options: &[(&str, Key)]| choice(&get, name, label, options);
        Ok(Config {
            base: format!("{root}/v{version}"),
            root,
            version,
            page_size,
            changes,
            students_by: by(
                "match_students_by",
                "Match students by",
                &[
                    ("student id", Key::Number),
                    ("email", Key::Email),
                    ("sis id", Key::SisId),
                    ("clever id", Key::CleverId),
                ],
            )?,
            teachers_by: by(
                "match_teachers_by",
                "Match teachers by",
                &[
                    ("email", Key::Email),
                    ("teacher id", Key::Number),
                    ("sis id", Key::SisId),
                    ("clever id", Key::CleverId),
                ],
            )?,
            sections_by: by(
                "match_sections_by",
                "Match sections by",
                &[
                    ("name", Key::Name),
                    ("sis id", Key::SisId),
                    ("clever id", Key::CleverId),
                ],
            )?,
            student_number_as_sis: choice(
                &get,
                "map_student_id_onto",
                "Map student_id onto",
                &[("student id", false), ("sis id", true)],
            )?,
            teacher_number_as_sis: choice(
                &get,
                "map_teacher_id_onto",
                "Map teacher_id onto",
                &[("teacher id", false), ("sis id", true)],
            )?,
        })
    }

    /// The absolute URL of a `links` uri (Clever's are relative to the root).
    pub fn absolute(&self, uri: &str) -> String {
        if uri.starts_with("http://") || uri.starts_with("https://") {
            uri.to_string()
        } else {
            format!("{}/{}", self.root, uri.trim_start_matches('/'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, PluginError> {
        Config::from_settings(homeroom_sdk::settings::from_pairs(pairs))
    }

    #[test]
    fn defaults_follow_the_lms_article() {
        let c = config(&[]).unwrap();
        assert_eq!(c.base, "https://api.clever.com/v3.1");
        assert_eq!(
            (c.students_by, c.teachers_by, c.sections_by),
            (Key::Number, Key::Email, Key::Name)
        );
        assert_eq!(
            c.changes,
            Changes {
                adds: true,
                edits: true,
                deletes: true
            }
        );
        assert!(!c.student_number_as_sis && !c.teacher_number_as_sis);
        let c = config(&[
            ("service_url", "http://127.0.0.1:9/v3.0/"),
            ("version", "3.0"),
        ])
        .unwrap();
        assert_eq!(c.base, "http://127.0.0.1:9/v3.0");
        assert_eq!(
            c.absolute("/v3.0/users?x=1"),
            "http://127.0.0.1:9/v3.0/users?x=1"
        );
    }

    #[test]
    fn choices_are_read_loosely_and_refused_with_the_options() {
        let c = config(&[
            ("match_students_by", "SIS_ID"),
            ("changes", "adds,deletes"),
            ("map_teacher_id_onto", "sis id"),
        ])
        .unwrap();
        assert_eq!(c.students_by, Key::SisId);
        assert_eq!(
            c.changes,
            Changes {
                adds: true,
                edits: false,
                deletes: true
            }
        );
        assert!(c.teacher_number_as_sis);
        let msg = |r: Result<Config, PluginError>| r.unwrap_err().message().to_string();
        assert!(msg(config(&[("match_sections_by", "email")])).contains("name, sis id, clever id"));
        assert!(msg(config(&[("changes", "adds, moves")])).contains("`moves`"));
        assert!(msg(config(&[("version", "2.0")])).contains("3.1, 3.0"));
        assert!(msg(config(&[("page_size", "0")])).contains("Page size"));
        assert!(msg(config(&[("service_url", "api.clever.com")])).contains("not a web address"));
    }
}

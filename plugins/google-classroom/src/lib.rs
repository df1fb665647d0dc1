//! Google Classroom connector, two-way: the hub's roster goes out
//! (classes as courses, teachers and students as course members by email,
//! categories as topics: a class's in its course, the district's in every
//! course of the hub), and what teachers make in Classroom comes back
//! (coursework as line items under their categories, assigned grades as
//! results).
//!
//! The host holds the OAuth client and the administrator's refresh token
//! and puts a bearer token on every request (auth kind
//! `oauth2-refresh-token`); this crate only builds calls and reads
//! answers. Modules:
//!
//! - [`config`]: the settings (Service URL, course owner, batch size);
//! - [`env`]: the host interfaces behind a trait, so tests run natively;
//! - [`client`]: one call and its reply, ids in paths;
//! - [`batch`]: many calls in one multipart request, parts retried;
//! - [`errors`]: Google's errors in an admin's words, and per-change
//!   failures;
//! - [`courses`]: classes as courses (aliases, matching, archiving, the
//!   district's topics in a new course), and the list of the hub's courses;
//! - [`members`]: users and enrollments as course members (invitations);
//! - [`topics`]: categories as topics (class-scoped and district-wide),
//!   the district-wide categories kept, and the topic lists of courses;
//! - [`read`]: coursework and grades back, and the connection test.

pub mod batch;
pub mod client;
pub mod config;
pub mod courses;
pub mod env;
pub mod errors;
pub mod members;
pub mod read;
pub mod topics;

use homeroom_sdk::prelude::*;
use serde_json::Value as Json;

use client::Call;
use config::Config;
use courses::ListError;
use env::{Env, HostEnv};
use errors::{Failure, SCOPES};

struct GoogleClassroom;

impl Connector for GoogleClassroom {
    fn test_connection() -> Result<String, PluginError> {
        let mut env = HostEnv;
        let config = Config::from_env(&env)?;
        test_connection(&mut env, &config)
    }

    fn list_schools() -> Result<Vec<School>, PluginError> {
        // Classroom has no schools: courses belong to the domain.
        Ok(Vec::new())
    }

    fn read(
        kind: EntityKind,
        _since: Option<String>,
        cursor: Option<String>,
    ) -> Result<Page, PluginError> {
        let mut env = HostEnv;
        let config = Config::from_env(&env)?;
        read::read(&mut env, &config, kind, cursor.as_deref())
    }

    fn export_changes(changes: Vec<ExportChange>) -> Result<Vec<ExportOutcome>, PluginError> {
        let mut env = HostEnv;
        let config = Config::from_env(&env)?;
        export(&mut env, &config, &changes)
    }
}

homeroom_sdk::export_connector!(GoogleClassroom);

/// Write one batch of changes (all of one kind); one outcome per change.
pub fn export(
    env: &mut dyn Env,
    config: &Config,
    changes: &[ExportChange],
) -> Result<Vec<ExportOutcome>, PluginError> {
    let Some(kind) = changes.first().map(|c| c.entity.kind) else {
        return Ok(Vec::new());
    };
    let results = if changes.iter().any(|c| c.entity.kind != kind) {
        // The host sends one kind per batch; take each on its own anyway.
        let mut all = Vec::with_capacity(changes.len());
        for change in changes {
            all.extend(export_kind(
                env,
                config,
                change.entity.kind,
                std::slice::from_ref(change),
            ));
        }
        all
    } else {
        export_kind(env, config, kind, changes)
    };
    errors::finish(results)
}

fn export_kind(
    env: &mut dyn Env,
    config: &Config,
    kind: EntityKind,
    changes: &[ExportChange],
) -> Vec<Result<String, Failure>> {
    match kind {
        EntityKind::Class => courses::export(env, config, changes),
        EntityKind::User => members::export_users(changes),
        EntityKind::Enrollment => members::export_enrollments(env, config, changes),
        EntityKind::Category => topics::export(env, config, changes),
        other => changes
            .iter()
            .map(|_| {
                Err(Failure::Refused(format!(
                    "Google Classroom takes classes, users, enrollments and categories from the hub, not {} records",
                    other.name()
                )))
            })
            .collect(),
    }
}

/// Most pages (of 500) of the owner's courses the connection test counts.
const TEST_PAGES: usize = 20;

/// Who signed in, and how many courses the owner teaches.
pub fn test_connection(env: &mut dyn Env, config: &Config) -> Result<String, PluginError> {
    let doing = "reading the signed-in user's profile";
    let reply = client::send(env, config, &Call::get("/v1/userProfiles/me"), doing)
        .map_err(Failure::into_plugin_error)?;
    match reply.status {
        200..=299 => {}
        401 => {
            return Err(PluginError::Auth(format!(
                "Google refused the sign-in ({}): the refresh token was revoked, has expired, or belongs to another OAuth client; sign in again as the administrator and enter the new refresh token",
                reply.error().brief()
            )));
        }
        403 => {
            return Err(PluginError::Auth(format!(
                "Google refused to show the signed-in user's profile ({}): the refresh token lacks the Classroom scopes; sign in again granting {SCOPES}",
                reply.error().brief()
            )));
        }
        _ => return Err(reply.error().plugin_error(doing)),
    }
    let me = reply.json();
    let name = me
        .pointer("/name/fullName")
        .and_then(Json::as_str)
        .unwrap_or("");
    let email = me.get("emailAddress").and_then(Json::as_str).unwrap_or("");
    let who = match (name.is_empty(), email.is_empty()) {
        (false, false) => format!("{name} ({email})"),
        (false, true) => name.to_string(),
        (true, false) => email.to_string(),
        (true, true) => me
            .get("id")
            .and_then(Json::as_str)
            .map(|id| format!("user {id}"))
            .unwrap_or_else(|| "an unnamed user".to_string()),
    };

    let listed = match courses::owned_courses(env, config, &[], TEST_PAGES) {
        Ok(listed) => listed,
        Err(ListError::Answered { error, .. }) if error.code == 404 => {
            return Err(PluginError::Config(format!(
                "signed in as {who}, but Classroom does not know the Course owner `{}` ({}): enter the email of a Workspace user, or me",
                config.owner,
                error.brief()
            )));
        }
        Err(ListError::Answered { error, .. }) if error.code == 403 && !error.is_scope() => {
            return Err(PluginError::Auth(format!(
                "signed in as {who}, who may not see the courses of `{}` ({}): sign in as a Workspace administrator, or set the Course owner to me",
                config.owner,
                error.brief()
            )));
        }
        Err(e) => return Err(e.plugin_error()),
    };
    let count = listed.courses.len();
    let owner = if config.owner == "me" {
        "they".to_string()
    } else {
        config.owner.clone()
    };
    let more = if listed.more { "more than " } else { "" };
    let plural = if count == 1 && more.is_empty() {
        ""
    } else {
        "s"
    };
    Ok(format!(
        "Google Classroom: signed in as {who}; {owner} teach{} {more}{count} course{plural}",
        if owner == "they" { "" } else { "es" }
    ))
}

#[cfg(test)]
mod tests;

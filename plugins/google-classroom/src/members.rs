//! Users and enrollments out as course members, by email.
//!
//! Classroom has no roster of its own to write a user to: a Workspace
//! user is in the directory already, and a course member is named by
//! email. So a user is applied without a call, under their email
//! (lowercased), which the host gives later changes as the target id of
//! references to them; a user without an email is rejected, and their
//! enrollments wait.
//!
//! An enrollment becomes a teacher or student of the course of its class
//! (`courses.teachers.create` / `courses.students.create` with the email),
//! target id `<courseId>:<role>:<email>`. A member already there (409) is
//! applied. Where Classroom wants an invitation instead (403: a user
//! outside the domain, or an owner who is not an administrator), one is
//! sent (`invitations.create`); the daily cap on invitations (429
//! `RESOURCE_EXHAUSTED`) is a retry, not retried within the export. An
//! enrollment that goes, or moves to another course or role, is removed
//! from its old place first (404: already gone). Calls of a batch go in
//! batch requests, in three rounds: removals, additions, invitations.

use homeroom_sdk::{Action, EntityKind, ExportChange, Value};
use serde_json::json;

use crate::batch;
use crate::client::{Call, Reply, seg};
use crate::config::Config;
use crate::env::Env;
use crate::errors::Failure;

/// Users: applied under their email, or rejected without one.
pub fn export_users(changes: &[ExportChange]) -> Vec<Result<String, Failure>> {
    changes
        .iter()
        .map(|change| {
            let email = change
                .entity
                .text("email")
                .map(|e| e.trim().to_lowercase())
                .filter(|e| !e.is_empty());
            match email {
                Some(email) if email.contains('@') => Ok(email),
                Some(email) if change.action == Action::Delete => Ok(email),
                Some(email) => Err(Failure::Refused(format!(
                    "user {} has an email `{email}` that is not an address, so Classroom cannot enroll them: fix the email in the source system",
                    change.entity.source_id
                ))),
                // Nothing was ever sent for them: nothing to undo.
                None if change.action == Action::Delete => Ok(change
                    .target_id
                    .clone()
                    .unwrap_or_else(|| change.entity.source_id.clone())),
                None => Err(Failure::Refused(format!(
                    "user {} has no email, so Classroom cannot enroll them: Classroom names every member by their Google Workspace email; add the email in the source system",
                    change.entity.source_id
                ))),
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Teacher,
    Student,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Teacher => "teacher",
            Role::Student => "student",
        }
    }

    /// The course's roster in a path.
    fn roster(self) -> &'static str {
        match self {
            Role::Teacher => "teachers",
            Role::Student => "students",
        }
    }

    /// The invitation role.
    fn invitation(self) -> &'static str {
        match self {
            Role::Teacher => "TEACHER",
            Role::Student => "STUDENT",
        }
    }

    fn parse(text: &str) -> Option<Role> {
        match text {
            "teacher" => Some(Role::Teacher),
            "student" => Some(Role::Student),
            _ => None,
        }
    }
}

/// A course member: where an enrollment is in Classroom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub course: String,
    pub role: Role,
    pub email: String,
}

impl Member {
    /// `<courseId>:<role>:<email>`.
    pub fn target(&self) -> String {
        format!("{}:{}:{}", self.course, self.role.name(), self.email)
    }

    pub fn from_target(target: &str) -> Option<Member> {
        let mut parts = target.splitn(3, ':');
        let course = parts.next()?.to_string();
        let role = Role::parse(parts.next()?)?;
        let email = parts.next()?.to_string();
        (!course.is_empty() && !email.is_empty()).then_some(Member {
            course,
            role,
            email,
        })
    }

    fn path(&self) -> String {
        format!("/v1/courses/{}/{}", seg(&self.course), self.role.roster())
    }

    fn add(&self) -> Call {
        Call::post(self.path(), json!({"userId": self.email}))
    }

    fn remove(&self) -> Call {
        Call::delete(format!("{}/{}", self.path(), seg(&self.email)))
    }

    fn invite(&self) -> Call {
        let mut call = Call::post(
            "/v1/invitations",
            json!({"courseId": self.course, "userId": self.email, "role": self.role.invitation()}),
        );
        // A 429 here is the owner's daily invitation cap: no use now.
        call.retry_throttled = false;
        call
    }

    fn describe(&self) -> String {
        format!(
            "{} as a {} of course {}",
            self.email,
            self.role.name(),
            self.course
        )
    }
}

/// The destination id of what an entity's reference attribute names.
pub fn target_of(change: &ExportChange, attribute: &str, kind: EntityKind) -> Ref {
    let source = match change.entity.get(attribute) {
        Some(Value::Reference(r)) => Some(r.source_id.clone()),
        Some(Value::References(rs)) => rs.first().map(|r| r.source_id.clone()),
        Some(Value::Text(t)) if !t.is_empty() => Some(t.clone()),
        _ => None,
    };
    match source {
        None => Ref::Missing,
        Some(source) => match change
            .target_refs
            .iter()
            .find(|t| t.kind == kind && t.source_id == source)
        {
            Some(t) => Ref::Exported(t.target_id.clone()),
            None => Ref::NotYet(source),
        },
    }
}

/// A reference, at the destination.
pub enum Ref {
    /// The entity names none.
    Missing,
    /// It names one that has not reached Classroom (its source id).
    NotYet(String),
    /// Its id in Classroom.
    Exported(String),
}

/// What to do for one enrollment change.
enum Plan {
    Done(Result<String, Failure>),
    /// Remove `old` first, when set; then add `member`.
    Add {
        member: Member,
        old: Option<Member>,
    },
    Remove(Member),
}

/// Where an enrollment belongs now, from its references.
fn member_of(change: &ExportChange) -> Result<Member, Failure> {
    let id = &change.entity.source_id;
    let course = match target_of(change, "class", EntityKind::Class) {
        Ref::Exported(c) => c,
        Ref::NotYet(class) => {
            return Err(Failure::Later(format!(
                "the class has not reached Classroom yet (class {class} of enrollment {id}); the enrollment goes once it has"
            )));
        }
        Ref::Missing => {
            return Err(Failure::Refused(format!("enrollment {id} names no class")));
        }
    };
    let email = match target_of(change, "user", EntityKind::User) {
        Ref::Exported(e) => e.to_lowercase(),
        Ref::NotYet(user) => {
            return Err(Failure::Later(format!(
                "the user has not reached Classroom yet (user {user} of enrollment {id}: a user without an email cannot); the enrollment goes once they have"
            )));
        }
        Ref::Missing => {
            return Err(Failure::Refused(format!("enrollment {id} names no user")));
        }
    };
    let role_text = change
        .entity
        .text("role")
        .unwrap_or("")
        .trim()
        .to_lowercase();
    let role = Role::parse(&role_text).ok_or_else(|| {
        Failure::Refused(format!(
            "enrollment {id} has the role `{role_text}`, and a Classroom course has teachers and students only"
        ))
    })?;
    Ok(Member {
        course,
        role,
        email,
    })
}

fn plan(change: &ExportChange) -> Plan {
    let old = change.target_id.as_deref().and_then(Member::from_target);
    match change.action {
        Action::Delete => match old.or_else(|| member_of(change).ok()) {
            Some(m) => Plan::Remove(m),
            // Never sent, and nothing to find it by: nothing to remove.
            None => Plan::Done(Ok(change
                .target_id
                .clone()
                .unwrap_or_else(|| change.entity.source_id.clone()))),
        },
        Action::Add | Action::Update => match member_of(change) {
            Ok(member) => {
                let old = old.filter(|o| *o != member);
                Plan::Add { member, old }
            }
            Err(f) => Plan::Done(Err(f)),
        },
    }
}

/// Export one batch of enrollment changes; one result per change, in order.
pub fn export_enrollments(
    env: &mut dyn Env,
    config: &Config,
    changes: &[ExportChange],
) -> Vec<Result<String, Failure>> {
    let plans: Vec<Plan> = changes.iter().map(plan).collect();
    let mut results: Vec<Option<Result<String, Failure>>> = plans
        .iter()
        .map(|p| match p {
            Plan::Done(r) => Some(r.clone()),
            _ => None,
        })
        .collect();

    // Round 1: removals (enrollments that go, and the old place of one
    // that moved), so a member who changes role is not refused as one
    // already there.
    let removals: Vec<(usize, &Member)> = plans
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match p {
            Plan::Remove(m) => Some((i, m)),
            Plan::Add { old: Some(m), .. } => Some((i, m)),
            _ => None,
        })
        .collect();
    let calls: Vec<Call> = removals.iter().map(|(_, m)| m.remove()).collect();
    let replies = batch::run(env, config, &calls, "removing course members");
    for ((i, m), reply) in removals.iter().zip(replies) {
        let doing = format!("removing {}", m.describe());
        let done = match reply {
            // Already gone is done.
            Ok(r) if r.ok() || r.status == 404 => Ok(m.target()),
            Ok(r) => Err(r.error().failure(&doing)),
            Err(f) => Err(f),
        };
        match (&plans[*i], done) {
            (Plan::Remove(_), done) => results[*i] = Some(done),
            (_, Err(f)) => results[*i] = Some(Err(f)),
            _ => {}
        }
    }

    // Round 2: additions, by email.
    let adds: Vec<(usize, &Member)> = plans
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match p {
            Plan::Add { member, .. } if results[i].is_none() => Some((i, member)),
            _ => None,
        })
        .collect();
    let calls: Vec<Call> = adds.iter().map(|(_, m)| m.add()).collect();
    let replies = batch::run(env, config, &calls, "adding course members");
    let mut invites: Vec<(usize, &Member, Reply)> = Vec::new();
    for ((i, m), reply) in adds.iter().zip(replies) {
        let doing = format!("adding {}", m.describe());
        results[*i] = Some(match reply {
            Ok(r) if r.ok() || r.status == 409 => Ok(m.target()),
            Ok(r) if r.status == 404 => Err(not_found(m, &r)),
            Ok(r) if r.status == 403 && !r.error().is_scope() && !r.error().is_exhausted() => {
                invites.push((*i, m, r));
                continue;
            }
            Ok(r) => Err(r.error().failure(&doing)),
            Err(f) => Err(f),
        });
    }

    // Round 3: invitations, where Classroom would not add directly.
    let calls: Vec<Call> = invites.iter().map(|(_, m, _)| m.invite()).collect();
    let replies = batch::run(env, config, &calls, "inviting course members");
    for ((i, m, first), reply) in invites.iter().zip(replies) {
        let doing = format!("inviting {}", m.describe());
        results[*i] = Some(match reply {
            // Invited before (409), or already in the course.
            Ok(r) if r.ok() || r.status == 409 => Ok(m.target()),
            Ok(r)
                if r.error().status == "FAILED_PRECONDITION"
                    && r.error().message.contains("already") =>
            {
                Ok(m.target())
            }
            Ok(r) if r.error().is_exhausted() => Err(Failure::Later(format!(
                "Classroom's daily limit on invitations from the course owner is reached ({}), so {} is invited later",
                r.error().brief(),
                m.describe()
            ))),
            Ok(r) if r.status == 404 => Err(not_found(m, &r)),
            Ok(r) if r.status == 403 && !r.error().is_scope() => Err(Failure::Refused(format!(
                "Classroom refused both adding and inviting {} ({}, then {}): the signed-in user may not change this course; sign in as a Workspace administrator, or make the Course owner one who teaches it",
                m.describe(),
                first.error().brief(),
                r.error().brief()
            ))),
            Ok(r) => Err(r.error().failure(&doing)),
            Err(f) => Err(f),
        });
    }

    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Failure::Later("the enrollment was not sent".into()))))
        .collect()
}

fn not_found(m: &Member, reply: &Reply) -> Failure {
    Failure::Refused(format!(
        "Classroom knows no user {} or no course {} ({}): the email is not in the Google Workspace directory (or the course was deleted in Classroom); fix the email in the source system",
        m.email,
        m.course,
        reply.error().brief()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_targets_round_trip() {
        let m = Member {
            course: "123".into(),
            role: Role::Student,
            email: "a@d.org".into(),
        };
        assert_eq!(m.target(), "123:student:a@d.org");
        assert_eq!(Member::from_target(&m.target()), Some(m));
        assert_eq!(Member::from_target("123:aide:a@d.org"), None);
        assert_eq!(Member::from_target("123"), None);
    }
}

//! Classroom's errors in words an admin can act on. Google answers every
//! failure as `{"error": {"code", "message", "status"}}`; [`ApiError`]
//! reads that shape (or whatever else came back, without trusting it), and
//! [`Failure`] is what one change makes of it: not now (the next export
//! sends it again), refused (rejected until the entity changes), or a
//! problem with the sign-in or the settings, which the next export also
//! retries and which fails the whole batch when nothing of it could be
//! done.

use homeroom_sdk::connector_bindings::homeroom::plugin::http::HttpError;
use homeroom_sdk::{ExportOutcome, PluginError};
use serde_json::Value as Json;

/// The scopes the connector needs, for messages.
pub const SCOPES: &str = "classroom.courses, classroom.rosters, classroom.profile.emails, classroom.topics and classroom.coursework.students";

/// One error answer of the Classroom API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub code: u16,
    /// Google's canonical status (`ALREADY_EXISTS`), empty when the
    /// answer was not Google's JSON.
    pub status: String,
    pub message: String,
}

impl ApiError {
    /// Read an error answer; never fails (a body that is not Google's
    /// shape becomes its first characters).
    pub fn parse(code: u16, body: &[u8]) -> ApiError {
        let json: Option<Json> = serde_json::from_slice(body).ok();
        let error = json.as_ref().and_then(|j| j.get("error"));
        let field = |name: &str| {
            error
                .and_then(|e| e.get(name))
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string()
        };
        let mut message = field("message");
        if message.is_empty() {
            let text = String::from_utf8_lossy(body);
            message = text
                .chars()
                .take(200)
                .collect::<String>()
                .trim()
                .to_string();
        }
        ApiError {
            code,
            status: field("status"),
            message,
        }
    }

    /// The token lacks a scope the method needs (a 403 of its own kind).
    pub fn is_scope(&self) -> bool {
        self.code == 403 && self.message.to_ascii_lowercase().contains("scope")
    }

    /// A rate limit or a daily quota (429, or a 403 that says so).
    pub fn is_exhausted(&self) -> bool {
        self.code == 429
            || self.status == "RESOURCE_EXHAUSTED"
            || (self.code == 403 && self.message.to_ascii_lowercase().contains("rate limit"))
    }

    /// Worth sending again in a moment: throttled, or Classroom failing.
    pub fn is_transient(&self) -> bool {
        self.is_exhausted() || self.code >= 500
    }

    /// `404 NOT_FOUND: Requested entity was not found.`
    pub fn brief(&self) -> String {
        let status = if self.status.is_empty() {
            String::new()
        } else {
            format!(" {}", self.status)
        };
        if self.message.is_empty() {
            format!("{}{status}", self.code)
        } else {
            format!("{}{status}: {}", self.code, self.message)
        }
    }

    /// What this error means for a change, `doing` what (`creating the
    /// course Algebra`); callers handle the codes particular to a method
    /// (404, 409, a 403 that asks for an invitation) first.
    pub fn failure(&self, doing: &str) -> Failure {
        let brief = self.brief();
        if self.code == 401 {
            Failure::Auth(format!(
                "Google refused the sign-in while {doing} ({brief}): the refresh token was revoked or has expired; sign in again as the administrator and enter the new refresh token"
            ))
        } else if self.is_scope() {
            Failure::Auth(format!(
                "Google refused {doing} ({brief}): the refresh token lacks a Classroom scope this needs; sign in again granting {SCOPES}"
            ))
        } else if self.is_exhausted() {
            Failure::Later(format!(
                "Classroom asked us to slow down while {doing} ({brief})"
            ))
        } else if self.code >= 500 {
            Failure::Later(format!("Classroom failed while {doing} ({brief})"))
        } else {
            Failure::Refused(format!("Classroom refused {doing}: {brief}"))
        }
    }

    /// The plugin error of a read that got this answer.
    pub fn plugin_error(&self, doing: &str) -> PluginError {
        match self.failure(doing) {
            Failure::Auth(m) => PluginError::Auth(m),
            Failure::Config(m) => PluginError::Config(m),
            Failure::Later(m) if self.is_exhausted() => PluginError::RateLimited(m),
            Failure::Later(m) => PluginError::Unavailable(m),
            Failure::Refused(m) => PluginError::InvalidData(m),
        }
    }
}

/// Why one change did not go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Not now (throttled, Classroom failing, something it needs is not
    /// there yet): again at the next export.
    Later(String),
    /// Classroom refuses it, or it cannot be expressed there.
    Refused(String),
    /// The sign-in or its scopes: again at the next export, once fixed.
    Auth(String),
    /// A setting is wrong (an owner Classroom does not know, a host not
    /// allowed): again at the next export, once fixed.
    Config(String),
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::Later(m) | Failure::Refused(m) | Failure::Auth(m) | Failure::Config(m) => m,
        }
    }

    pub fn outcome(self) -> ExportOutcome {
        match self {
            Failure::Refused(m) => ExportOutcome::Rejected(m),
            Failure::Later(m) => {
                ExportOutcome::Retry(format!("{m}; it goes again at the next export"))
            }
            Failure::Auth(m) | Failure::Config(m) => ExportOutcome::Retry(format!(
                "{m}; it goes again at the next export, once that is fixed"
            )),
        }
    }

    /// A transport error of the host, after its retries.
    pub fn from_http(error: HttpError, doing: &str) -> Failure {
        match error {
            HttpError::Denied(m) => Failure::Config(format!(
                "the host did not let the connector reach Classroom while {doing} ({m}): check the Service URL"
            )),
            HttpError::Auth(m) => Failure::Auth(format!(
                "Google did not issue an access token ({m}): check the OAuth Client ID and Secret and the Token URL, or sign in again for a new refresh token"
            )),
            HttpError::Timeout(m) | HttpError::Connection(m) => Failure::Later(format!(
                "Classroom could not be reached while {doing} ({m})"
            )),
            HttpError::TooLarge(m) => Failure::Later(format!(
                "Classroom's answer while {doing} was larger than the host takes ({m}): lower Calls per batch"
            )),
            HttpError::Invalid(m) => {
                Failure::Refused(format!("the request for {doing} could not be sent ({m})"))
            }
        }
    }

    pub fn into_plugin_error(self) -> PluginError {
        match self {
            Failure::Later(m) => PluginError::Unavailable(m),
            Failure::Refused(m) => PluginError::InvalidData(m),
            Failure::Auth(m) => PluginError::Auth(m),
            Failure::Config(m) => PluginError::Config(m),
        }
    }
}

/// The export's answer: the outcomes, unless every change failed on the
/// sign-in or the settings (nothing of the batch could be done), which
/// fails the whole batch with that error so the admin sees one message.
pub fn finish(failures: Vec<Result<String, Failure>>) -> Result<Vec<ExportOutcome>, PluginError> {
    if !failures.is_empty() {
        let all_auth = failures.iter().all(|f| matches!(f, Err(Failure::Auth(_))));
        let all_config = failures
            .iter()
            .all(|f| matches!(f, Err(Failure::Auth(_) | Failure::Config(_))));
        if all_auth || all_config {
            if let Some(Err(first)) = failures.into_iter().next() {
                return Err(first.into_plugin_error());
            }
            unreachable!("checked above: the first of a non-empty list is an error");
        }
    }
    Ok(failures
        .into_iter()
        .map(|f| match f {
            Ok(id) => ExportOutcome::Applied(id),
            Err(f) => f.outcome(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_errors_read_whatever_comes() {
        let e = ApiError::parse(
            409,
            br#"{"error":{"code":409,"message":"Requested entity already exists","status":"ALREADY_EXISTS"}}"#,
        );
        assert_eq!(e.status, "ALREADY_EXISTS");
        assert_eq!(
            e.brief(),
            "409 ALREADY_EXISTS: Requested entity already exists"
        );
        let e = ApiError::parse(502, b"<html>Bad Gateway</html>");
        assert_eq!(e.status, "");
        assert!(e.message.contains("Bad Gateway"));
        assert!(matches!(e.failure("x"), Failure::Later(_)));
        let e = ApiError::parse(403, br#"{"error":{"code":403,"message":"Request had insufficient authentication scopes.","status":"PERMISSION_DENIED"}}"#);
        assert!(e.is_scope());
        assert!(matches!(e.failure("x"), Failure::Auth(m) if m.contains("classroom.rosters")));
        let e = ApiError::parse(401, b"{}");
        assert!(matches!(e.failure("x"), Failure::Auth(m) if m.contains("sign in again")));
        assert!(matches!(
            ApiError::parse(400, b"").failure("x"),
            Failure::Refused(_)
        ));
    }

    #[test]
    fn a_batch_that_failed_only_on_the_sign_in_fails_whole() {
        let auth = || Err(Failure::Auth("sign in again".into()));
        assert!(matches!(
            finish(vec![auth(), auth()]),
            Err(PluginError::Auth(_))
        ));
        let mixed = finish(vec![auth(), Ok("1".into())]).unwrap();
        assert!(
            matches!(&mixed[0], ExportOutcome::Retry(m) if m.starts_with("sign in again; it goes again"))
        );
        assert!(matches!(&mixed[1], ExportOutcome::Applied(id) if id == "1"));
        assert!(finish(vec![]).unwrap().is_empty());
    }
}

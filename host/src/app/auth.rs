//! Who is calling: API tokens, kept only as their SHA-256, the role each
//! holds per organization, and the admin UI's sign-in sessions. A caller with no
//! role in an organization gets 404 for everything in it (it cannot even
//! learn that it exists); one with too low a role gets 403.

use std::collections::BTreeMap;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::App;
use super::error::{AppError, AppResult};
use crate::store::{Store, TokenRow};

/// What a token may do in one organization; each role includes the ones
/// below it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything of the organization, changes nothing.
    Viewer,
    /// Also starts runs, approves or discards them, resolves duplicates.
    Operator,
    /// Also configures sources, manages tokens and reads the audit log.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: String,
    pub name: String,
    /// May create organizations.
    pub platform: bool,
    pub roles: BTreeMap<String, Role>,
}

impl Caller {
    /// The caller of a token: its roles, and for a platform token (the
    /// operator's) admin of every organization, those a configuration file
    /// or another platform token made included.
    async fn of(store: &Store, row: TokenRow) -> AppResult<Caller> {
        let mut caller = Caller::from_row(row);
        if caller.platform {
            for (org, _) in store.organizations().await? {
                caller.roles.entry(org).or_insert(Role::Admin);
            }
        }
        Ok(caller)
    }

    fn from_row(row: TokenRow) -> Caller {
        Caller {
            token_id: row.id,
            name: row.name,
            platform: row.platform,
            roles: row
                .roles
                .into_iter()
                .filter_map(|(org, role)| Role::parse(&role).map(|r| (org, r)))
                .collect(),
        }
    }

    /// The caller's role in `org`; 404 when it has none.
    pub fn role(&self, org: &str) -> AppResult<Role> {
        self.roles
            .get(org)
            .copied()
            .ok_or_else(|| AppError::NotFound(format!("no organization `{org}`")))
    }

    /// The caller's role in `org` if it is at least `min`.
    pub fn require(&self, org: &str, min: Role) -> AppResult<Role> {
        let role = self.role(org)?;
        if role < min {
            return Err(AppError::Forbidden(format!(
                "this needs the {} role in `{org}`, and this token is a {}; ask an admin of `{org}` for a token with that role",
                min.as_str(),
                role.as_str()
            )));
        }
        Ok(role)
    }

    /// How the audit log names the caller.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, short(&self.token_id))
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// A new random token: `hr_` and 43 URL-safe characters (256 bits).
pub fn new_token() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "hr_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A random value for session ids and CSRF tokens.
pub fn random_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compare two secrets without leaking where they differ.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The caller a token stands for.
async fn caller_for_token(store: &Store, token: &str) -> AppResult<Caller> {
    let row = store
        .token_by_hash(&hash_token(token.trim()))
        .await?
        .ok_or_else(|| {
            AppError::Unauthorized(
                "this token is not known or was revoked; ask an admin for a new one".into(),
            )
        })?;
    Caller::of(store, row).await
}

/// Make a token and keep its hash. Returns (id, token in clear).
pub async fn issue_token(
    store: &Store,
    name: &str,
    platform: bool,
    created_by: &str,
    roles: &[(&str, Role)],
) -> AppResult<(String, String)> {
    let id = uuid::Uuid::now_v7().to_string();
    let token = new_token();
    let roles: Vec<(&str, &str)> = roles.iter().map(|(o, r)| (*o, r.as_str())).collect();
    store
        .insert_token(&id, name, &hash_token(&token), platform, created_by, &roles)
        .await?;
    Ok((id, token))
}

/// A signed-in UI session: who it is, and the CSRF token its forms carry.
#[derive(Debug, Clone)]
pub struct Session {
    pub caller: Caller,
    pub csrf: String,
}

impl App {
    /// The caller a token stands for.
    pub async fn caller_for_token(&self, token: &str) -> AppResult<Caller> {
        caller_for_token(self.engine.store(), token).await
    }

    /// Sign in with a token for `hours`: returns the session's id, to keep
    /// in a cookie (the store keeps only its hash), and the session.
    pub async fn sign_in(&self, token: &str, hours: i64) -> AppResult<(String, Session)> {
        let caller = self.caller_for_token(token).await?;
        let id = random_id();
        let csrf = random_id();
        let expires = (chrono::Utc::now() + chrono::Duration::hours(hours))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.engine
            .store()
            .create_session(&hash_token(&id), &caller.token_id, &csrf, &expires)
            .await?;
        Ok((id, Session { caller, csrf }))
    }

    /// The session a cookie's id stands for, while it lasts and its token
    /// is not revoked.
    pub async fn session(&self, id: &str) -> AppResult<Option<Session>> {
        let Some((token_id, csrf)) = self.engine.store().session(&hash_token(id)).await? else {
            return Ok(None);
        };
        let store = self.engine.store();
        match store.token_by_id(&token_id).await? {
            Some(row) => Ok(Some(Session {
                caller: Caller::of(store, row).await?,
                csrf,
            })),
            None => Ok(None),
        }
    }

    pub async fn sign_out(&self, id: &str) -> AppResult<()> {
        self.engine.store().delete_session(&hash_token(id)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with("hr_") && a.len() == 46, "{a}");
        assert_eq!(hash_token(&a).len(), 64);
        assert!(same(&a, &a.clone()) && !same(&a, &b));
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
    }
}

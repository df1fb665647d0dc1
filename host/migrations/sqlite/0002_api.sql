-- Homeroom schema v2 (SQLite): what `homeroom serve` adds. Keep in step with
-- ../postgres/0002_api.sql: the same tables, columns and meanings; only types
-- and syntax differ.

-- API tokens. Only the SHA-256 of a token is kept; the token itself is shown
-- once, when it is made.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,    -- hex SHA-256 of the token
    platform INTEGER NOT NULL DEFAULT 0, -- 1: may create organizations
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

-- The role a token holds in an organization: admin | operator | viewer.
CREATE TABLE api_token_roles (
    token_id TEXT NOT NULL REFERENCES api_tokens(id),
    org_id TEXT NOT NULL REFERENCES organizations(id),
    role TEXT NOT NULL,
    PRIMARY KEY (token_id, org_id)
);
CREATE INDEX api_token_roles_by_org ON api_token_roles (org_id);

-- Signed-in admin UI sessions: the cookie holds the session id, this table
-- its SHA-256, the token it stands for and the session's CSRF token.
CREATE TABLE ui_sessions (
    id_hash TEXT PRIMARY KEY,
    token_id TEXT NOT NULL REFERENCES api_tokens(id),
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Every change made through the API or the admin UI: who, what, when.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,                -- UUIDv7: sorts by time
    org_id TEXT NOT NULL,
    at TEXT NOT NULL,
    actor_id TEXT NOT NULL,             -- the token's id
    actor TEXT NOT NULL,                -- the token's name
    action TEXT NOT NULL,               -- e.g. source.delivery, run.approve
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'   -- JSON; never a secret's value
);
CREATE INDEX audit_log_by_org ON audit_log (org_id, id);

-- Secret values entered through the API or the UI, encrypted with the
-- host's key (XChaCha20-Poly1305). Write-only: no route returns them.
CREATE TABLE source_secrets (
    org_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    name TEXT NOT NULL,
    nonce TEXT NOT NULL,                -- hex
    ciphertext TEXT NOT NULL,           -- hex
    updated_at TEXT NOT NULL,
    PRIMARY KEY (org_id, source_id, name)
);

-- Where a source stands in the activation wizard.
CREATE TABLE source_setup (
    org_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    terms_accepted_by TEXT,
    terms_accepted_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (org_id, source_id)
);

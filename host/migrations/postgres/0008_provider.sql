-- The OneRoster provider (issue 16): ed-tech vendors read a district's
-- committed roster through the hub's own OneRoster API, under a
-- data-sharing agreement, and every read is logged. Same tables on SQLite
-- and PostgreSQL; only integer types differ.

-- A vendor's client. Only the SHA-256 of its secret is kept; the secret is
-- shown once, when the client is made.
CREATE TABLE vendor_clients (
    id TEXT PRIMARY KEY,                -- the OAuth client id
    org_id TEXT NOT NULL REFERENCES organizations(id),
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,          -- hex SHA-256 of the client secret
    scopes TEXT NOT NULL,               -- JSON array of the scopes it may ask for
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX vendor_clients_by_org ON vendor_clients (org_id);

-- Access tokens issued to clients (client credentials), by their SHA-256.
CREATE TABLE vendor_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES vendor_clients(id),
    scopes TEXT NOT NULL,               -- JSON array: what this token was granted
    expires_at TEXT NOT NULL
);

-- A client's data-sharing agreement: which schools, kinds and attributes it
-- sees, until when. No agreement (or an expired one): it sees nothing.
CREATE TABLE vendor_agreements (
    client_id TEXT PRIMARY KEY REFERENCES vendor_clients(id),
    org_id TEXT NOT NULL,
    terms TEXT NOT NULL,                -- JSON: schools, kinds, attributes per kind
    expires_on TEXT NOT NULL,           -- the last day it holds (YYYY-MM-DD)
    granted_by TEXT NOT NULL,
    granted_at TEXT NOT NULL
);

-- Every read a vendor made: which client, which endpoint, with what query,
-- how many records it was served.
CREATE TABLE vendor_reads (
    id TEXT PRIMARY KEY,                -- UUIDv7: sorts by time
    org_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    at TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    query TEXT NOT NULL,
    served BIGINT NOT NULL,
    status BIGINT NOT NULL                -- the HTTP status answered
);
CREATE INDEX vendor_reads_by_client ON vendor_reads (org_id, client_id, id);

-- The people each read served (users and demographics), for the report per
-- student.
CREATE TABLE vendor_read_people (
    read_id TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    PRIMARY KEY (entity_id, read_id)
);

-- A person's data purged on request: who asked for it, when, and how much
-- was removed. Nothing of the person is kept but the hub's id.
CREATE TABLE purges (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    purged_by TEXT NOT NULL,
    purged_at TEXT NOT NULL,
    removed TEXT NOT NULL               -- JSON: rows removed per table
);
CREATE INDEX purges_by_org ON purges (org_id, purged_at);

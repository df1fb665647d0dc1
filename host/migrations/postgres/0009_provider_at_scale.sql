-- The provider on many hosts (issue 16): an OAuth 1.0a nonce is used once
-- across every host over the database, not once per process. Rows older
-- than twice the allowed clock skew are cleared as new ones come. Keep in
-- step with the other backend.
CREATE TABLE vendor_nonces (
    client_id TEXT NOT NULL,
    nonce TEXT NOT NULL,                -- the request's timestamp and nonce
    seen_at BIGINT NOT NULL,            -- unix seconds
    PRIMARY KEY (client_id, nonce)
);
CREATE INDEX vendor_nonces_by_age ON vendor_nonces (seen_at);

-- The provider's keyset scan: active entities of a kind in id order, a
-- page at a time. With the id in the index each page is a range read;
-- without it PostgreSQL sorts the whole kind for every page. It replaces
-- the index without the id (a prefix of it), so a commit writes as many
-- indexes as before. SQLite needs none: its entities table is WITHOUT
-- ROWID, so its index already ends with the id.
DROP INDEX IF EXISTS entities_by_kind;
CREATE INDEX entities_by_kind ON entities (org_id, kind, active, id);

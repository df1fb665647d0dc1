-- The provider on many hosts (issue 16): an OAuth 1.0a nonce is used once
-- across every host over the database, not once per process. Rows older
-- than twice the allowed clock skew are cleared as new ones come. Keep in
-- step with the other backend.
CREATE TABLE vendor_nonces (
    client_id TEXT NOT NULL,
    nonce TEXT NOT NULL,                -- the request's timestamp and nonce
    seen_at INTEGER NOT NULL,           -- unix seconds
    PRIMARY KEY (client_id, nonce)
);
CREATE INDEX vendor_nonces_by_age ON vendor_nonces (seen_at);

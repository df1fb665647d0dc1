-- Streamed sync (issue 6). Records are reconciled as their pages arrive, so
-- nothing is staged; a link keeps the hash of what its source said, not a
-- second copy of it (the entity holds the data); an added entity's diff is
-- its data, so it is not stored twice; the domain keys of a change set wait in
-- change_keys until the commit copies them. Keep in step with the other backend.
--
-- SQLite only: the tables a commit inserts into by the million become
-- WITHOUT ROWID, so each row is one b-tree entry instead of a row plus its
-- primary-key index.
DROP TABLE staged;
DROP INDEX changes_by_entity;
ALTER TABLE changes DROP COLUMN record_data;

CREATE TABLE entities_new (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    active INTEGER NOT NULL,
    data TEXT NOT NULL,             -- JSON: attribute -> {value, source}
    created_run TEXT NOT NULL,
    updated_run TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO entities_new SELECT id, org_id, kind, active, data, created_run, updated_run FROM entities;
DROP TABLE entities;
ALTER TABLE entities_new RENAME TO entities;
CREATE INDEX entities_by_kind ON entities (org_id, kind, active);

-- Provenance: which source record feeds which entity, and the hash of what it last said.
CREATE TABLE entity_links_new (
    org_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    source_record_id TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    active INTEGER NOT NULL,
    PRIMARY KEY (org_id, source_id, kind, source_record_id)
) WITHOUT ROWID;
INSERT INTO entity_links_new SELECT org_id, source_id, kind, source_record_id, entity_id, hash, active FROM entity_links;
DROP TABLE entity_links;
ALTER TABLE entity_links_new RENAME TO entity_links;
CREATE INDEX entity_links_by_entity ON entity_links (entity_id);

CREATE TABLE entity_keys_new (
    org_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    domain TEXT NOT NULL,
    key TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    PRIMARY KEY (org_id, kind, domain, key, entity_id)
) WITHOUT ROWID;
INSERT INTO entity_keys_new SELECT org_id, kind, domain, key, entity_id FROM entity_keys;
DROP TABLE entity_keys;
ALTER TABLE entity_keys_new RENAME TO entity_keys;
CREATE INDEX entity_keys_by_entity ON entity_keys (entity_id);

CREATE TABLE entity_history_new (
    entity_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    action TEXT NOT NULL,
    diff TEXT,                      -- null for an add: its change's data is the diff
    at TEXT NOT NULL,
    PRIMARY KEY (entity_id, run_id, seq)
) WITHOUT ROWID;
INSERT INTO entity_history_new SELECT entity_id, run_id, seq, action, diff, at FROM entity_history;
DROP TABLE entity_history;
ALTER TABLE entity_history_new RENAME TO entity_history;

CREATE TABLE change_keys (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    domain TEXT NOT NULL,
    key TEXT NOT NULL,
    entity_id TEXT NOT NULL
);
CREATE INDEX change_keys_by_run ON change_keys (run_id, seq);

-- Streamed sync (issue 6). Records are reconciled as their pages arrive, so
-- nothing is staged; a link keeps the hash of what its source said, not a
-- second copy of it (the entity holds the data); an added entity's diff is
-- its data, so it is not stored twice; the domain keys of a change set wait in
-- change_keys until the commit copies them. Keep in step with the other backend.
DROP TABLE staged;
DROP INDEX changes_by_entity;
ALTER TABLE entity_links DROP COLUMN data;
ALTER TABLE changes DROP COLUMN record_data;
CREATE TABLE change_keys (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    domain TEXT NOT NULL,
    key TEXT NOT NULL,
    entity_id TEXT NOT NULL
);
CREATE INDEX change_keys_by_run ON change_keys (run_id, seq);

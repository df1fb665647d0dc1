-- What each destination holds of the hub (issue 14): per destination and
-- entity, the destination's own id, the hash of the version it last
-- applied, and the last outcome. An export compares every entity it may
-- send with its row here, so a second export of unchanged data sends
-- nothing, and one stopped half way resumes where its outcomes stop.
CREATE TABLE export_state (
    org_id TEXT NOT NULL,
    destination_id TEXT NOT NULL,   -- the source (an Export or Sync integration) written to
    entity_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    target_id TEXT,                 -- the destination's id; none until a change is applied
    hash TEXT,                      -- what was last applied (none: nothing yet)
    sent_hash TEXT,                 -- what the last outcome answered (rejected or retry too)
    state TEXT NOT NULL,            -- applied | rejected | retry | deleted
    message TEXT,                   -- the destination's reason, for rejected and retry
    run_id TEXT NOT NULL,           -- the export run of the last outcome
    updated_at TEXT NOT NULL,
    PRIMARY KEY (org_id, destination_id, entity_id)
);
CREATE INDEX export_state_by_state ON export_state (org_id, destination_id, state);

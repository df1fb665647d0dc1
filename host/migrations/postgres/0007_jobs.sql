-- Runs are jobs (issue 15). A run is `queued` before a worker takes it,
-- then `running` under a lease the worker renews; a lease that runs out
-- (the worker died) fails the run as abandoned and queues its successor,
-- which reads the source again. At most one run of a source waits in the
-- queue: a run that comes due while one waits is folded into it.
ALTER TABLE runs ADD COLUMN worker_id TEXT;
ALTER TABLE runs ADD COLUMN lease_until TEXT;
ALTER TABLE runs ADD COLUMN queued_at TEXT;
ALTER TABLE runs ADD COLUMN due_at TEXT;              -- schedule runs: the time it came due
ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN retry_of TEXT;            -- the abandoned run this one reads again
ALTER TABLE runs ADD COLUMN abandoned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN coalesced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN progress_done INTEGER;
ALTER TABLE runs ADD COLUMN progress_total INTEGER;
CREATE UNIQUE INDEX runs_one_queued ON runs (org_id, source_id) WHERE status = 'queued';
CREATE INDEX runs_by_status ON runs (status, lease_until);

-- An organization's settings: time zone, notifications (JSON).
ALTER TABLE organizations ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';

-- Each scheduled source's next due time, for the schedule it was computed
-- from; workers advance it by compare-and-set, so a due time queues once.
CREATE TABLE schedule_state (
    org_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    schedule TEXT NOT NULL,
    next_due TEXT,
    expiry_noticed TEXT,
    PRIMARY KEY (org_id, source_id)
);

-- Notifications to send (an outbox): a webhook and an email each, or the
-- email kept for the daily digest. `dedupe` makes an event notify once.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    event TEXT NOT NULL,
    dedupe TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    webhook_state TEXT NOT NULL,      -- pending | sent | none | failed
    email_state TEXT NOT NULL,        -- pending | sent | none | digest | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try TEXT NOT NULL,
    claim_until TEXT,
    last_error TEXT
);
CREATE INDEX notifications_due ON notifications (next_try);
CREATE INDEX notifications_by_org ON notifications (org_id, created_at);

CREATE TABLE digests (
    org_id TEXT PRIMARY KEY,
    last_sent TEXT NOT NULL
);

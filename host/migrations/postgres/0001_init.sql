-- Homeroom schema v1 (PostgreSQL). Keep in step with ../sqlite/0001_init.sql:
-- the same tables, columns and meanings; only types and syntax differ.

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- A configured source (or destination) of one organization.
CREATE TABLE sources (
    org_id TEXT NOT NULL REFERENCES organizations(id),
    id TEXT NOT NULL,
    plugin_id TEXT NOT NULL,
    config TEXT NOT NULL,           -- JSON: the source's whole configuration (no secret values)
    enabled BIGINT NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
);

-- Plugin-scoped key-value storage.
CREATE TABLE plugin_kv (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value BYTEA NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    mode TEXT NOT NULL,             -- full | quick
    trigger_kind TEXT NOT NULL,     -- manual | schedule | api
    triggered_by TEXT NOT NULL,
    status TEXT NOT NULL,           -- running | held | awaiting_approval | committed | discarded | failed
    hold_reason TEXT,
    since TEXT,                     -- quick runs: changes after this instant
    started_at TEXT NOT NULL,
    finished_at TEXT,
    committed_at TEXT,
    report TEXT NOT NULL DEFAULT '{}'   -- JSON: counts, warnings, errors, timings
);
CREATE INDEX runs_by_source ON runs (org_id, source_id, started_at);

-- Records of a run as read and mapped, before reconciliation.
CREATE TABLE staged (
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    source_record_id TEXT NOT NULL,
    deleted BIGINT NOT NULL,
    hash TEXT NOT NULL,
    data TEXT NOT NULL,             -- JSON attributes
    PRIMARY KEY (run_id, kind, source_record_id)
);

-- Canonical entities of an organization.
CREATE TABLE entities (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    active BIGINT NOT NULL,
    data TEXT NOT NULL,             -- JSON: attribute -> {value, source}
    created_run TEXT NOT NULL,
    updated_run TEXT NOT NULL
);
CREATE INDEX entities_by_kind ON entities (org_id, kind, active);

-- Provenance: which source record feeds which entity, and what it last said.
CREATE TABLE entity_links (
    org_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    source_record_id TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    data TEXT NOT NULL,
    active BIGINT NOT NULL,
    PRIMARY KEY (org_id, source_id, kind, source_record_id)
);
CREATE INDEX entity_links_by_entity ON entity_links (entity_id);

-- Keys of the domains of uniqueness, to find the same person from another source.
CREATE TABLE entity_keys (
    org_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    domain TEXT NOT NULL,
    key TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    PRIMARY KEY (org_id, kind, domain, key, entity_id)
);

-- The change set of a run.
CREATE TABLE changes (
    run_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    action TEXT NOT NULL,           -- add | update | delete
    entity_id TEXT NOT NULL,
    source_record_id TEXT NOT NULL,
    before_data TEXT,
    after_data TEXT,
    diff TEXT,                      -- JSON: attribute -> [old, new]
    record_hash TEXT,               -- what the source said, kept on the link at commit
    record_data TEXT,
    visible BIGINT NOT NULL DEFAULT 1,  -- 0: a link refresh with no change an admin would see
    excluded BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX changes_by_entity ON changes (entity_id);

-- Pairs a manual domain of uniqueness found, waiting for an admin.
CREATE TABLE duplicates (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    domain TEXT NOT NULL,
    primary_entity TEXT NOT NULL,
    secondary_entity TEXT NOT NULL,
    status TEXT NOT NULL,           -- open | merged | ignored | kept
    run_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    resolved_at TEXT
);

CREATE TABLE entity_history (
    entity_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    action TEXT NOT NULL,
    diff TEXT,
    at TEXT NOT NULL,
    PRIMARY KEY (entity_id, run_id, seq)
);

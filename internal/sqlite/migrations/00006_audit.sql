-- +goose Up
-- The audit trail: append-only, each row's hash chained to the previous
-- one (HMAC keyed from the key-encryption key, see internal/audit).
CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    type       TEXT NOT NULL,
    actor      TEXT NOT NULL DEFAULT '',
    subject    TEXT NOT NULL DEFAULT '',
    client_ip  TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT '',
    outcome    TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT '{}',
    prev_hash  BLOB,
    hash       BLOB NOT NULL
) STRICT;
CREATE INDEX audit_events_type ON audit_events (type, seq);
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_subject ON audit_events (subject, seq);
CREATE INDEX audit_events_at ON audit_events (at);

-- The hash the first remaining event chains from, once old events are pruned.
CREATE TABLE audit_anchor (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    hash BLOB NOT NULL
) STRICT;

-- +goose Down
DROP TABLE audit_anchor;
DROP TABLE audit_events;

-- +goose Up
-- The audit trail (twin of the SQLite migration of the same name):
-- append-only, each row's hash chained to the previous one (HMAC keyed from
-- the key-encryption key, see internal/audit).
--
-- seq is assigned by the store under an advisory lock, as the last seq + 1,
-- and not by a sequence: a sequence skips the numbers of rolled-back
-- inserts, and the chain needs consecutive numbers.
-- detail is the JSON text of the event's map exactly as the store wrote it
-- (not jsonb, which the server rewrites): verification reads back the map
-- that was sealed, and a row whose text was tampered with still loads.
CREATE TABLE audit_events (
    seq        bigint CONSTRAINT audit_events_pkey PRIMARY KEY CONSTRAINT audit_events_seq_check CHECK (seq > 0),
    at         timestamptz NOT NULL,
    type       text COLLATE "C" NOT NULL,
    actor      text COLLATE "C" NOT NULL DEFAULT '',
    subject    text COLLATE "C" NOT NULL DEFAULT '',
    client_ip  text NOT NULL DEFAULT '',
    request_id text NOT NULL DEFAULT '',
    outcome    text NOT NULL DEFAULT '',
    detail     text NOT NULL DEFAULT '{}',
    prev_hash  bytea,
    hash       bytea NOT NULL
);
CREATE INDEX audit_events_type ON audit_events (type, seq);
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_subject ON audit_events (subject, seq);
CREATE INDEX audit_events_at ON audit_events (at);

-- The hash the first remaining event chains from, once old events are
-- pruned, and the seq of the last pruned event: after everything was
-- pruned, numbering continues after it.
CREATE TABLE audit_anchor (
    id   integer CONSTRAINT audit_anchor_pkey PRIMARY KEY CONSTRAINT audit_anchor_id_check CHECK (id = 1),
    hash bytea NOT NULL,
    seq  bigint NOT NULL
);

-- +goose Down
DROP TABLE audit_anchor;
DROP TABLE audit_events;

-- +goose Up
-- The PostgreSQL twin of internal/sqlite/migrations/00001_init.sql: same
-- tables, columns and rules, in PostgreSQL's own types.
--
-- Times are timestamptz (microsecond precision, the precision the store
-- keeps on both backends). IDs are random (UUIDv7 for rows that are listed
-- in creation order); none is sequential or guessable.
--
-- Every key column and every column the store sorts or compares by is
-- COLLATE "C": byte order, as in SQLite, so that ID order, keyset cursors
-- and unique names behave the same on both backends and do not change with
-- the operating system's locale (a glibc upgrade that reorders a collation
-- silently corrupts indexes built on it; "C" never changes).
-- Constraint names are explicit: the store maps a unique violation to the
-- field it concerns by the constraint's name.

CREATE TABLE users (
    id               text COLLATE "C" CONSTRAINT users_pkey PRIMARY KEY,
    username         text COLLATE "C" NOT NULL CONSTRAINT users_username_key UNIQUE,
    -- The address as given; email_normalized enforces uniqueness.
    email            text NOT NULL,
    email_normalized text COLLATE "C" NOT NULL CONSTRAINT users_email_normalized_key UNIQUE,
    age              integer NOT NULL CONSTRAINT users_age_check CHECK (age BETWEEN 13 AND 150),
    password_hash    text NOT NULL,
    disabled         boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

CREATE TABLE roles (
    name text COLLATE "C" CONSTRAINT roles_pkey PRIMARY KEY
);

CREATE TABLE role_permissions (
    role       text COLLATE "C" NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    permission text COLLATE "C" NOT NULL,
    CONSTRAINT role_permissions_pkey PRIMARY KEY (role, permission)
);

CREATE TABLE user_roles (
    user_id text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    text COLLATE "C" NOT NULL REFERENCES roles (name),
    CONSTRAINT user_roles_pkey PRIMARY KEY (user_id, role)
);
-- Finds the admins for the last-admin rule without a scan of user_roles.
CREATE INDEX user_roles_role ON user_roles (role);

INSERT INTO roles (name) VALUES ('user'), ('admin');
INSERT INTO role_permissions (role, permission) VALUES
    ('user', 'notes:read'), ('user', 'notes:write'),
    ('admin', 'notes:read'), ('admin', 'notes:write'),
    ('admin', 'users:read'), ('admin', 'users:write'), ('admin', 'audit:read');

CREATE TABLE signing_keys (
    id              text COLLATE "C" CONSTRAINT signing_keys_pkey PRIMARY KEY,
    algorithm       text NOT NULL,
    public_key      bytea NOT NULL,
    -- Sealed with the key-encryption key; never the clear private key.
    private_key_enc bytea NOT NULL,
    created_at      timestamptz NOT NULL,
    activated_at    timestamptz NOT NULL,
    retired_at      timestamptz
);

CREATE TABLE sessions (
    id            text COLLATE "C" CONSTRAINT sessions_pkey PRIMARY KEY,
    user_id       text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    revoke_reason text NOT NULL DEFAULT '',
    scope         text NOT NULL,
    client_ip     text NOT NULL DEFAULT '',
    user_agent    text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Refresh tokens are stored only as the SHA-256 of the token the client
-- holds: a copy of this table does not let anyone refresh.
CREATE TABLE refresh_tokens (
    hash        bytea CONSTRAINT refresh_tokens_pkey PRIMARY KEY,
    session_id  text COLLATE "C" NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    replaced_by bytea
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE signing_keys;
DROP TABLE user_roles;
DROP TABLE role_permissions;
DROP TABLE roles;
DROP TABLE users;

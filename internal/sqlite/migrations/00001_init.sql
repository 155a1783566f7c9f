-- +goose Up
-- Times are Unix microseconds (UTC). IDs are random (UUIDv7 for rows that
-- are listed in creation order); none is sequential or guessable.

CREATE TABLE users (
    id               TEXT PRIMARY KEY,
    username         TEXT NOT NULL UNIQUE,
    email            TEXT NOT NULL,
    email_normalized TEXT NOT NULL UNIQUE,
    age              INTEGER NOT NULL CHECK (age BETWEEN 13 AND 150),
    password_hash    TEXT NOT NULL,
    disabled         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;

CREATE TABLE roles (
    name TEXT PRIMARY KEY
) STRICT;

CREATE TABLE role_permissions (
    role       TEXT NOT NULL REFERENCES roles(name) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role, permission)
) STRICT;

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role    TEXT NOT NULL REFERENCES roles(name),
    PRIMARY KEY (user_id, role)
) STRICT;

INSERT INTO roles (name) VALUES ('user'), ('admin');
INSERT INTO role_permissions (role, permission) VALUES
    ('user', 'notes:read'), ('user', 'notes:write'),
    ('admin', 'notes:read'), ('admin', 'notes:write'),
    ('admin', 'users:read'), ('admin', 'users:write'), ('admin', 'audit:read');

CREATE TABLE signing_keys (
    id              TEXT PRIMARY KEY,
    algorithm       TEXT NOT NULL,
    public_key      BLOB NOT NULL,
    private_key_enc BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    activated_at    INTEGER NOT NULL,
    retired_at      INTEGER
) STRICT;

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    revoke_reason TEXT NOT NULL DEFAULT '',
    scope         TEXT NOT NULL,
    client_ip     TEXT NOT NULL DEFAULT '',
    user_agent    TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    hash        BLOB PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    replaced_by BLOB
) STRICT;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE signing_keys;
DROP TABLE user_roles;
DROP TABLE role_permissions;
DROP TABLE roles;
DROP TABLE users;

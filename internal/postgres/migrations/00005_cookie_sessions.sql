-- +goose Up
-- Browser sessions: the __Host- cookie's opaque value, stored as a hash.
ALTER TABLE sessions ADD COLUMN cookie_hash bytea;
CREATE UNIQUE INDEX sessions_cookie ON sessions (cookie_hash) WHERE cookie_hash IS NOT NULL;

-- +goose Down
DROP INDEX sessions_cookie;
ALTER TABLE sessions DROP COLUMN cookie_hash;

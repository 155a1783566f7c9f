-- +goose Up
-- Refresh-token rotation (RFC 9700 §4.14.2): the successor of a rotated
-- token is kept sealed with the key-encryption key for the short grace
-- window, so that a client retrying the same refresh gets the same answer.
ALTER TABLE refresh_tokens ADD COLUMN successor_sealed bytea;
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX signing_keys_retired ON signing_keys (retired_at);

-- +goose Down
DROP INDEX signing_keys_retired;
DROP INDEX sessions_revoked;
ALTER TABLE refresh_tokens DROP COLUMN successor_sealed;

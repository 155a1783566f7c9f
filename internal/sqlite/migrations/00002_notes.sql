-- +goose Up
-- Notes and their shares. Times are Unix microseconds (UTC). Note IDs are
-- random UUIDv4: they reveal neither order nor creation time, and cannot be
-- guessed or enumerated (OWASP API1:2023).

CREATE TABLE notes (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- length() counts characters, as the API's 1–200 rule does.
    title      TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    -- Sanitized HTML; the API bounds the input to 100 KiB.
    body       TEXT NOT NULL DEFAULT '',
    -- A JSON array of strings.
    tags       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags) AND json_type(tags) = 'array'),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
-- Lists are keyset-paginated newest first on (created_at, id): this index
-- serves a user's own notes in that order, and created_at alone serves the
-- store's strictly increasing creation times.
CREATE INDEX notes_owner_created ON notes (owner_id, created_at DESC, id DESC);
CREATE INDEX notes_created ON notes (created_at);

CREATE TABLE note_shares (
    note_id    TEXT NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    permission TEXT NOT NULL CHECK (permission IN ('read', 'write')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (note_id, user_id)
) STRICT;
CREATE INDEX note_shares_user ON note_shares (user_id);

-- The owner already has every right; a share with the owner would give a
-- second, weaker access row and duplicate the note in lists. The store
-- checks this too; the trigger holds for every writer of the file.
-- +goose StatementBegin
CREATE TRIGGER note_shares_not_owner
BEFORE INSERT ON note_shares
WHEN NEW.user_id = (SELECT owner_id FROM notes WHERE id = NEW.note_id)
BEGIN
    SELECT RAISE(ABORT, 'a note cannot be shared with its owner');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER note_shares_not_owner;
DROP TABLE note_shares;
DROP TABLE notes;

-- +goose Up
-- Notes and their shares (twin of the SQLite migration of the same name).
-- Note IDs are random UUIDv4: they reveal neither order nor creation time,
-- and cannot be guessed or enumerated (OWASP API1:2023).

CREATE TABLE notes (
    id         text COLLATE "C" CONSTRAINT notes_pkey PRIMARY KEY,
    owner_id   text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- char_length() counts characters, as the API's 1–200 rule does.
    title      text NOT NULL CONSTRAINT notes_title_check CHECK (char_length(title) BETWEEN 1 AND 200),
    -- Sanitized HTML; the API bounds the input to 100 KiB.
    body       text NOT NULL DEFAULT '',
    -- A JSON array of strings.
    tags       jsonb NOT NULL DEFAULT '[]' CONSTRAINT notes_tags_check CHECK (jsonb_typeof(tags) = 'array'),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
-- Lists are keyset-paginated newest first on (created_at, id): this index
-- serves a user's own notes in that order, and created_at alone serves the
-- store's strictly increasing creation times.
CREATE INDEX notes_owner_created ON notes (owner_id, created_at DESC, id DESC);
CREATE INDEX notes_created ON notes (created_at);

CREATE TABLE note_shares (
    note_id    text COLLATE "C" NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permission text COLLATE "C" NOT NULL CONSTRAINT note_shares_permission_check CHECK (permission IN ('read', 'write')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT note_shares_pkey PRIMARY KEY (note_id, user_id)
);
CREATE INDEX note_shares_user ON note_shares (user_id);

-- The owner already has every right; a share with the owner would give a
-- second, weaker access row and duplicate the note in lists. The store
-- checks this too; the trigger holds for every writer of the database.
-- +goose StatementBegin
CREATE FUNCTION note_shares_not_owner() RETURNS trigger
LANGUAGE plpgsql
-- A fixed search_path: the function resolves "notes" in its own schema
-- only, never in one that a caller's search_path puts first.
SET search_path FROM CURRENT
AS $$
BEGIN
    IF NEW.user_id = (SELECT owner_id FROM notes WHERE id = NEW.note_id) THEN
        RAISE EXCEPTION 'a note cannot be shared with its owner'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'note_shares_not_owner';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER note_shares_not_owner
BEFORE INSERT OR UPDATE OF note_id, user_id ON note_shares
FOR EACH ROW EXECUTE FUNCTION note_shares_not_owner();

-- +goose Down
DROP TRIGGER note_shares_not_owner ON note_shares;
DROP FUNCTION note_shares_not_owner();
DROP TABLE note_shares;
DROP TABLE notes;

package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Notes enforce their object-level rules in SQL (OWASP API1:2023, ASVS 5.0
// §8.2.2), as on SQLite: every statement that reads or writes a note names
// the acting user, and a note the user may not use is not found, exactly
// like a note that does not exist. The rules are those of
// gatehouse.NoteAccess:
//
//   - read: the owner, or a share of either kind (noteForQuery, notesQuery);
//   - write: the owner, or a 'write' share (canWriteExpr);
//   - delete, share, unshare: the owner only (owner_id = $n).
//
// Search terms, titles, bodies and tags are always bound parameters, and a
// search term is matched with ILIKE ... ESCAPE after its wildcards are
// escaped (likePattern), so it is literal text and never a pattern. ILIKE
// runs under COLLATE "C", which folds ASCII letters only: the same matches
// as SQLite's LIKE, whatever the database's locale.

// noteQuerier is what reading a note needs: a *sql.DB or a *sql.Tx.
type noteQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// sharesExpr is the shares of the note n as a JSON array, by username. It
// is evaluated only for the note's owner.
const sharesExpr = `(SELECT coalesce(jsonb_agg(jsonb_build_object('username', su.username, 'permission', x.permission) ORDER BY su.username), '[]'::jsonb)
	FROM note_shares x JOIN users su ON su.id = x.user_id WHERE x.note_id = n.id)`

// noteColumns are scanned by scanNote; the query must name the note n, its
// owner o, and the caller's access as the column after updated_at.
const noteColumns = `n.id, n.owner_id, o.username, n.title, n.body, n.tags, n.created_at, n.updated_at`

// noteForQuery reads one note for a user: $1 is the note ID, $2 the user.
// A row comes back only when the user owns the note or has a share of it.
const noteForQuery = `SELECT ` + noteColumns + `,
	CASE WHEN n.owner_id = $2 THEN 'owner' ELSE s.permission END,
	CASE WHEN n.owner_id = $2 THEN ` + sharesExpr + ` END
FROM notes n
JOIN users o ON o.id = n.owner_id
LEFT JOIN note_shares s ON s.note_id = n.id AND s.user_id = $2
WHERE n.id = $1 AND (n.owner_id = $2 OR s.user_id IS NOT NULL)`

// searchExpr is true when the note n contains the search term $4 (” for
// none): $5 is its pattern for the title and plain text, $6 the pattern for
// the HTML body with the term HTML-escaped (the sanitizer stores "&" as
// "&amp;").
const searchExpr = `($4::text = '' OR n.title COLLATE "C" ILIKE $5 ESCAPE '\' OR n.body COLLATE "C" ILIKE $5 ESCAPE '\' OR n.body COLLATE "C" ILIKE $6 ESCAPE '\')`

// notesQuery lists a page of the notes a user may read, newest first.
// $1 user, $2 and $3 the cursor (created_at, id) that every note must come
// strictly before, $4–$6 the search (searchExpr), $7 the limit.
//
// The two branches, own notes and shared ones, are each cut to the limit in
// keyset order before they are merged, so a user's own notes are read from
// the index notes_owner_created in order rather than sorted whole.
const notesQuery = `WITH page (id, access) AS (
	(SELECT n.id, 'owner'::text FROM notes n
		WHERE n.owner_id = $1
		  AND (n.created_at, n.id) < ($2::timestamptz, $3::text)
		  AND ` + searchExpr + `
		ORDER BY n.created_at DESC, n.id DESC LIMIT $7)
	UNION ALL
	(SELECT n.id, s.permission::text FROM note_shares s JOIN notes n ON n.id = s.note_id
		WHERE s.user_id = $1
		  AND (n.created_at, n.id) < ($2::timestamptz, $3::text)
		  AND ` + searchExpr + `
		ORDER BY n.created_at DESC, n.id DESC LIMIT $7)
)
SELECT ` + noteColumns + `, p.access,
	CASE WHEN p.access = 'owner' THEN ` + sharesExpr + ` END
FROM page p
JOIN notes n ON n.id = p.id
JOIN users o ON o.id = n.owner_id
ORDER BY n.created_at DESC, n.id DESC
LIMIT $7`

// canWriteExpr is true when $2 may change the note $1: its owner or a user
// with a 'write' share.
const canWriteExpr = `(owner_id = $2 OR EXISTS (SELECT 1 FROM note_shares WHERE note_id = $1 AND user_id = $2 AND permission = 'write'))`

// likePattern makes a pattern that matches text containing term literally:
// the escape character and the wildcards % and _ in the term are escaped,
// so a term of "100%" finds "100%" and not "1000".
func likePattern(term string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(term) + "%"
}

func checkNoteText(title, body *string, tags *[]string) error {
	if title != nil {
		if err := checkText("title", *title); err != nil {
			return err
		}
	}
	if body != nil {
		if err := checkText("body", *body); err != nil {
			return err
		}
	}
	if tags != nil {
		for _, t := range *tags {
			if err := checkText("tag", t); err != nil {
				return err
			}
		}
	}
	return nil
}

// CreateNote inserts n owned by n.OwnerID and sets its times, owner name and
// access.
//
// Creation times strictly increase in the order notes are committed, even
// if the clock steps back, two instances' clocks disagree, or two notes come
// in one microsecond: a list cursor then never sees a new note appear
// behind it. Every creation takes one transaction-scoped advisory lock of
// the schema, then reads the newest creation time in a statement after the
// lock (at READ COMMITTED, a fresh snapshot that holds every note committed
// before the lock was granted). Note creation is serialized, as on SQLite;
// each holds the lock for a few milliseconds.
func (s *Store) CreateNote(ctx context.Context, n *gatehouse.Note) (err error) {
	defer s.done(&err)
	if err := checkText("id", n.ID); err != nil {
		return fmt.Errorf("create note: %w", err)
	}
	if err := checkNoteText(&n.Title, &n.Body, &n.Tags); err != nil {
		return fmt.Errorf("create note: %w", err)
	}
	if !validText(n.OwnerID) {
		return gatehouse.ErrNotFound
	}
	tags, err := json.Marshal(nonNilTags(n.Tags))
	if err != nil {
		return fmt.Errorf("encode tags: %w", err)
	}
	now := ts(s.now())
	return s.tx(ctx, func(tx *sql.Tx) error {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT username FROM users WHERE id = $1`, n.OwnerID).Scan(&owner)
		if errors.Is(err, sql.ErrNoRows) {
			return gatehouse.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("select note owner: %w", err)
		}
		if err := lockXact(ctx, tx, s.locks.notes); err != nil {
			return err
		}
		var last sql.NullTime
		if err := tx.QueryRowContext(ctx, `SELECT max(created_at) FROM notes`).Scan(&last); err != nil {
			return fmt.Errorf("select last note time: %w", err)
		}
		created := now
		if last.Valid && !last.Time.Before(created) {
			created = last.Time.Add(time.Microsecond).UTC()
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO notes (id, owner_id, title, body, tags, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5::jsonb, $6, $6)`, n.ID, n.OwnerID, n.Title, n.Body, string(tags), created)
		switch code, constraint := pgCode(err); {
		case code == codeUniqueViolation:
			return &gatehouse.ConflictError{Field: "id"}
		case code == codeForeignKeyViolation && constraint == "notes_owner_id_fkey":
			return gatehouse.ErrNotFound // the owner's account went away
		case err != nil:
			return fmt.Errorf("insert note: %w", err)
		}
		n.OwnerUsername = owner
		n.Tags = nonNilTags(n.Tags)
		n.CreatedAt, n.UpdatedAt = created, created
		n.Access, n.Shares = gatehouse.NoteOwner, []gatehouse.Share{}
		return nil
	})
}

// NoteFor returns note id as userID sees it, or gatehouse.ErrNotFound when
// it does not exist or userID neither owns it nor has a share of it.
func (s *Store) NoteFor(ctx context.Context, id, userID string) (n *gatehouse.Note, err error) {
	defer s.done(&err)
	return noteFor(ctx, s.db, id, userID)
}

func noteFor(ctx context.Context, q noteQuerier, id, userID string) (*gatehouse.Note, error) {
	if !validText(id) || !validText(userID) {
		return nil, gatehouse.ErrNotFound
	}
	n, err := scanNote(q.QueryRowContext(ctx, noteForQuery, id, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("select note: %w", err)
	}
	return n, nil
}

// Notes lists the notes userID owns or has a share of, newest first.
func (s *Store) Notes(ctx context.Context, userID string, q gatehouse.NoteQuery) (notes []gatehouse.Note, err error) {
	defer s.done(&err)
	if q.Limit < 1 || !validText(userID) || !validText(q.Search) {
		// A user ID or a term that cannot be stored names no user and
		// is in no note.
		return nil, nil
	}
	afterTime, afterID := maxTime, ""
	if q.After != nil {
		var ok bool
		if afterTime, afterID, ok = cursorBound(q.After); !ok {
			return nil, nil
		}
	}
	rows, err := s.db.QueryContext(ctx, notesQuery, userID, afterTime, afterID,
		q.Search, likePattern(q.Search), likePattern(html.EscapeString(q.Search)), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("select notes: %w", err)
	}
	defer rows.Close()
	notes = make([]gatehouse.Note, 0, min(q.Limit, 128))
	for rows.Next() {
		n, err := scanNote(rows)
		if err != nil {
			return nil, fmt.Errorf("scan note: %w", err)
		}
		notes = append(notes, *n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select notes: %w", err)
	}
	return notes, nil
}

// cursorBound turns a cursor into the (created_at, id) bound of notesQuery
// that selects exactly the notes strictly before it, or ok=false when no
// note can be: the cursor's time may lie outside timestamptz's range, and
// its ID may be text the server cannot receive.
func cursorBound(c *gatehouse.NoteCursor) (t time.Time, id string, ok bool) {
	switch {
	case c.CreatedAt.Before(minTime):
		return time.Time{}, "", false // nothing is older
	case c.CreatedAt.After(maxTime):
		return maxTime, "", true // ... (maxTime, "") is after every note the store writes
	}
	t, id = ts(c.CreatedAt), c.ID
	if !validText(id) {
		// Stored IDs are before c.ID exactly when they are before
		// textAbove(c.ID); when nothing is above it, every ID is before
		// it, and the bound is the next microsecond.
		var above bool
		if id, above = textAbove(id); !above {
			t, id = t.Add(time.Microsecond), ""
		}
	}
	return t, id, true
}

// UpdateNote changes the fields of u that are set when userID may write the
// note. The check and the change are one statement, so a share revoked or
// narrowed before the statement began cannot be used (a revocation that
// commits while the statement runs is ordered after it). An update with no
// field set changes nothing, updated_at included, but still requires write
// access.
func (s *Store) UpdateNote(ctx context.Context, id, userID string, u gatehouse.NoteUpdate) (n *gatehouse.Note, err error) {
	defer s.done(&err)
	if err := checkNoteText(u.Title, u.Body, u.Tags); err != nil {
		return nil, fmt.Errorf("update note: %w", err)
	}
	if !validText(id) || !validText(userID) {
		return nil, gatehouse.ErrNotFound
	}
	var title, body, tags any
	if u.Title != nil {
		title = *u.Title
	}
	if u.Body != nil {
		body = *u.Body
	}
	if u.Tags != nil {
		b, err := json.Marshal(nonNilTags(*u.Tags))
		if err != nil {
			return nil, fmt.Errorf("encode tags: %w", err)
		}
		tags = string(b)
	}
	changed := u.Title != nil || u.Body != nil || u.Tags != nil
	now := ts(s.now())
	err = s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE notes SET
			title = coalesce($3::text, title),
			body = coalesce($4::text, body),
			tags = coalesce($5::jsonb, tags),
			updated_at = CASE WHEN $6::boolean THEN greatest($7::timestamptz, created_at, updated_at) ELSE updated_at END
			WHERE id = $1 AND `+canWriteExpr,
			id, userID, title, body, tags, changed, now)
		if err != nil {
			return fmt.Errorf("update note: %w", err)
		}
		if k, err := res.RowsAffected(); err != nil {
			return err
		} else if k == 0 {
			return gatehouse.ErrNotFound
		}
		n, err = noteFor(ctx, tx, id, userID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// DeleteNote deletes a note that ownerID owns; its shares go with it (ON
// DELETE CASCADE).
func (s *Store) DeleteNote(ctx context.Context, id, ownerID string) (err error) {
	defer s.done(&err)
	if !validText(id) || !validText(ownerID) {
		return gatehouse.ErrNotFound
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM notes WHERE id = $1 AND owner_id = $2`, id, ownerID)
	if err != nil {
		return fmt.Errorf("delete note: %w", err)
	}
	if k, err := res.RowsAffected(); err != nil {
		return err
	} else if k == 0 {
		return gatehouse.ErrNotFound
	}
	return nil
}

// errShareOwner is a programming error: the server refuses such a request
// before it reaches the store, and the trigger note_shares_not_owner
// refuses it in the database.
var errShareOwner = errors.New("a note cannot be shared with its owner")

// ShareNote grants shareeID access to a note that ownerID owns, or changes
// the access of an existing share. The note row is locked (FOR UPDATE)
// first, so that concurrent shares of one note run one at a time and
// exactly one of them reports a new share.
func (s *Store) ShareNote(ctx context.Context, id, ownerID, shareeID string, access gatehouse.NoteAccess) (created bool, err error) {
	defer s.done(&err)
	if access != gatehouse.NoteRead && access != gatehouse.NoteWrite {
		return false, fmt.Errorf("share note: access %q is not read or write", access)
	}
	if !validText(id) || !validText(ownerID) {
		return false, gatehouse.ErrNotFound
	}
	now := ts(s.now())
	err = s.tx(ctx, func(tx *sql.Tx) error {
		created = false
		if err := lockOwnNote(ctx, tx, id, ownerID); err != nil {
			return err
		}
		if shareeID == ownerID {
			return errShareOwner
		}
		if !validText(shareeID) {
			return gatehouse.ErrNotFound // no such account
		}
		var existed bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM note_shares WHERE note_id = $1 AND user_id = $2)`,
			id, shareeID).Scan(&existed); err != nil {
			return fmt.Errorf("select share: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO note_shares (note_id, user_id, permission, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $4)
			ON CONFLICT (note_id, user_id) DO UPDATE SET permission = excluded.permission, updated_at = excluded.updated_at`,
			id, shareeID, string(access), now)
		if code, constraint := pgCode(err); code == codeForeignKeyViolation && constraint == "note_shares_user_id_fkey" {
			return gatehouse.ErrNotFound // the sharee's account is gone
		}
		if err != nil {
			return fmt.Errorf("insert share: %w", err)
		}
		created = !existed
		return nil
	})
	if err != nil {
		return false, err
	}
	return created, nil
}

// UnshareNote ends the share of a note that ownerID owns with shareeID.
func (s *Store) UnshareNote(ctx context.Context, id, ownerID, shareeID string) (err error) {
	defer s.done(&err)
	if !validText(id) || !validText(ownerID) {
		return gatehouse.ErrNotFound
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := lockOwnNote(ctx, tx, id, ownerID); err != nil {
			return err
		}
		if !validText(shareeID) {
			return nil // there is no share with an account that cannot exist
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM note_shares WHERE note_id = $1 AND user_id = $2`, id, shareeID); err != nil {
			return fmt.Errorf("delete share: %w", err)
		}
		return nil
	})
}

// lockOwnNote locks note id when ownerID owns it, and returns
// gatehouse.ErrNotFound otherwise.
func lockOwnNote(ctx context.Context, tx *sql.Tx, id, ownerID string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM notes WHERE id = $1 AND owner_id = $2 FOR UPDATE`, id, ownerID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return gatehouse.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("select note owner: %w", err)
	}
	return nil
}

// scanNote reads noteColumns, then the access and the shares JSON.
func scanNote(sc scanner) (*gatehouse.Note, error) {
	var n gatehouse.Note
	var tags, shares []byte
	var access string
	if err := sc.Scan(&n.ID, &n.OwnerID, &n.OwnerUsername, &n.Title, &n.Body, &tags, &n.CreatedAt, &n.UpdatedAt, &access, &shares); err != nil {
		return nil, err
	}
	n.CreatedAt, n.UpdatedAt = utc(n.CreatedAt), utc(n.UpdatedAt)
	n.Access = gatehouse.NoteAccess(access)
	if err := json.Unmarshal(tags, &n.Tags); err != nil {
		return nil, fmt.Errorf("decode tags of note %s: %w", n.ID, err)
	}
	n.Tags = nonNilTags(n.Tags)
	if shares != nil {
		var ss []struct{ Username, Permission string }
		if err := json.Unmarshal(shares, &ss); err != nil {
			return nil, fmt.Errorf("decode shares of note %s: %w", n.ID, err)
		}
		n.Shares = make([]gatehouse.Share, len(ss))
		for i, sh := range ss {
			n.Shares[i] = gatehouse.Share{Username: sh.Username, Access: gatehouse.NoteAccess(sh.Permission)}
		}
	}
	return &n, nil
}

func nonNilTags(t []string) []string {
	if t == nil {
		return []string{}
	}
	return t
}

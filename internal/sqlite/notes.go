package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse/gatehouse"
)

// Notes enforce their object-level rules in SQL (OWASP API1:2023, ASVS 5.0
// §8.2.2): every statement that reads or writes a note names the acting
// user, and a note the user may not use is not found, exactly like a note
// that does not exist. The rules are those of gatehouse.NoteAccess:
//
//   - read: the owner, or a share of either kind (noteAccessExpr);
//   - write: the owner, or a 'write' share (canWriteExpr);
//   - delete, share, unshare: the owner only (owner_id = ?).
//
// Search terms, titles, bodies and tags are always bound parameters, and a
// search term is matched with LIKE ... ESCAPE after its wildcards are
// escaped (likePattern), so it is literal text and never a pattern.

// noteQuerier is what reading a note needs: a *sql.DB or a *sql.Tx.
type noteQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// sharesExpr is the shares of the note n as a JSON array, by username. It
// is evaluated only for the note's owner.
const sharesExpr = `(SELECT json_group_array(json_object('username', su.username, 'permission', x.permission) ORDER BY su.username)
	FROM note_shares x JOIN users su ON su.id = x.user_id WHERE x.note_id = n.id)`

// noteColumns are scanned by scanNote; the query must name the note n, its
// owner o, and the caller's access as the column after updated_at.
const noteColumns = `n.id, n.owner_id, o.username, n.title, n.body, n.tags, n.created_at, n.updated_at`

// noteForQuery reads one note for a user: ?1 is the note ID, ?2 the user.
// A row comes back only when the user owns the note or has a share of it.
const noteForQuery = `SELECT ` + noteColumns + `,
	CASE WHEN n.owner_id = ?2 THEN 'owner' ELSE s.permission END,
	CASE WHEN n.owner_id = ?2 THEN ` + sharesExpr + ` END
FROM notes n
JOIN users o ON o.id = n.owner_id
LEFT JOIN note_shares s ON s.note_id = n.id AND s.user_id = ?2
WHERE n.id = ?1 AND (n.owner_id = ?2 OR s.user_id IS NOT NULL)`

// notesQuery lists a page of the notes a user may read, newest first.
// ?1 user, ?2 and ?3 the cursor (created_at, id) that every note must come
// strictly before, ?4 the search term (” for none), ?5 its LIKE pattern
// for the title and plain text, ?6 the pattern for the HTML body with the
// term HTML-escaped (the sanitizer stores "&" as "&amp;"), ?7 the limit.
//
// The two branches, own notes and shared ones, are each cut to the limit in
// keyset order before they are merged, so a user's own notes are read from
// the index notes_owner_created in order rather than sorted whole.
const notesQuery = `WITH page(id, access) AS (
	SELECT id, access FROM (
		SELECT n.id, 'owner' AS access FROM notes n
		WHERE n.owner_id = ?1
		  AND (n.created_at, n.id) < (?2, ?3)
		  AND (?4 = '' OR n.title LIKE ?5 ESCAPE '\' OR n.body LIKE ?5 ESCAPE '\' OR n.body LIKE ?6 ESCAPE '\')
		ORDER BY n.created_at DESC, n.id DESC LIMIT ?7)
	UNION ALL
	SELECT id, access FROM (
		SELECT n.id, s.permission AS access FROM note_shares s JOIN notes n ON n.id = s.note_id
		WHERE s.user_id = ?1
		  AND (n.created_at, n.id) < (?2, ?3)
		  AND (?4 = '' OR n.title LIKE ?5 ESCAPE '\' OR n.body LIKE ?5 ESCAPE '\' OR n.body LIKE ?6 ESCAPE '\')
		ORDER BY n.created_at DESC, n.id DESC LIMIT ?7)
)
SELECT ` + noteColumns + `, p.access,
	CASE WHEN p.access = 'owner' THEN ` + sharesExpr + ` END
FROM page p
JOIN notes n ON n.id = p.id
JOIN users o ON o.id = n.owner_id
ORDER BY n.created_at DESC, n.id DESC
LIMIT ?7`

// canWriteExpr is true when ?2 may change the note ?1: its owner or a user
// with a 'write' share.
const canWriteExpr = `(owner_id = ?2 OR EXISTS (SELECT 1 FROM note_shares WHERE note_id = ?1 AND user_id = ?2 AND permission = 'write'))`

// likePattern makes a LIKE pattern that matches text containing term
// literally: the escape character and the wildcards % and _ in the term are
// escaped, so a term of "100%" finds "100%" and not "1000". It also bounds
// the work of LIKE, which with many wildcards can backtrack.
func likePattern(term string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(term) + "%"
}

// CreateNote inserts n owned by n.OwnerID and sets its times, owner name and
// access. Creation times strictly increase in the order notes are inserted
// (the write transaction is serialized by BEGIN IMMEDIATE), even if the
// clock steps back or two notes come in one microsecond: a list cursor then
// never sees a new note appear behind it.
func (s *Store) CreateNote(ctx context.Context, n *gatehouse.Note) error {
	if err := checkText("id", n.ID); err != nil {
		return fmt.Errorf("create note: %w", err)
	}
	if err := checkNoteText(&n.Title, &n.Body, &n.Tags); err != nil {
		return fmt.Errorf("create note: %w", err)
	}
	tags, err := json.Marshal(nonNilTags(n.Tags))
	if err != nil {
		return fmt.Errorf("encode tags: %w", err)
	}
	now := micros(s.now())
	return s.tx(ctx, func(tx *sql.Tx) error {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT username FROM users WHERE id = ?`, n.OwnerID).Scan(&owner)
		if errors.Is(err, sql.ErrNoRows) {
			return gatehouse.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("select note owner: %w", err)
		}
		var last sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT max(created_at) FROM notes`).Scan(&last); err != nil {
			return fmt.Errorf("select last note time: %w", err)
		}
		created := now
		if last.Valid && last.Int64 >= created {
			created = last.Int64 + 1
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO notes (id, owner_id, title, body, tags, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, n.ID, n.OwnerID, n.Title, n.Body, string(tags), created, created)
		if err != nil {
			if _, ok := uniqueViolation(err); ok {
				return &gatehouse.ConflictError{Field: "id"}
			}
			return fmt.Errorf("insert note: %w", err)
		}
		n.OwnerUsername = owner
		n.Tags = nonNilTags(n.Tags)
		n.CreatedAt, n.UpdatedAt = fromMicros(created), fromMicros(created)
		n.Access, n.Shares = gatehouse.NoteOwner, []gatehouse.Share{}
		return nil
	})
}

// NoteFor returns note id as userID sees it, or gatehouse.ErrNotFound when
// it does not exist or userID neither owns it nor has a share of it.
func (s *Store) NoteFor(ctx context.Context, id, userID string) (*gatehouse.Note, error) {
	return noteFor(ctx, prepared{s}, id, userID)
}

func noteFor(ctx context.Context, q noteQuerier, id, userID string) (*gatehouse.Note, error) {
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
func (s *Store) Notes(ctx context.Context, userID string, q gatehouse.NoteQuery) ([]gatehouse.Note, error) {
	if q.Limit < 1 || !validText(q.Search) {
		// A term that may not be written is in no note (and LIKE would
		// cut it at a NUL byte).
		return nil, nil
	}
	afterTime, afterID := int64(math.MaxInt64), ""
	if q.After != nil {
		afterTime, afterID = micros(q.After.CreatedAt), q.After.ID
	}
	rows, err := s.db.QueryContext(ctx, notesQuery, userID, afterTime, afterID,
		q.Search, likePattern(q.Search), likePattern(html.EscapeString(q.Search)), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("select notes: %w", err)
	}
	defer rows.Close()
	notes := make([]gatehouse.Note, 0, min(q.Limit, 128))
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

// UpdateNote changes the fields of u that are set when userID may write the
// note. The check and the change are one statement, so a share revoked or
// narrowed a moment earlier cannot be used. An update with no field set
// changes nothing, updated_at included, but still requires write access.
func (s *Store) UpdateNote(ctx context.Context, id, userID string, u gatehouse.NoteUpdate) (*gatehouse.Note, error) {
	if err := checkNoteText(u.Title, u.Body, u.Tags); err != nil {
		return nil, fmt.Errorf("update note: %w", err)
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
	now := micros(s.now())
	var n *gatehouse.Note
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE notes SET
			title = coalesce(?3, title),
			body = coalesce(?4, body),
			tags = coalesce(?5, tags),
			updated_at = CASE WHEN ?6 THEN max(?7, created_at, updated_at) ELSE updated_at END
			WHERE id = ?1 AND `+canWriteExpr,
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
func (s *Store) DeleteNote(ctx context.Context, id, ownerID string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM notes WHERE id = ? AND owner_id = ?`, id, ownerID)
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
// the access of an existing share.
func (s *Store) ShareNote(ctx context.Context, id, ownerID, shareeID string, access gatehouse.NoteAccess) (created bool, err error) {
	if access != gatehouse.NoteRead && access != gatehouse.NoteWrite {
		return false, fmt.Errorf("share note: access %q is not read or write", access)
	}
	now := micros(s.now())
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := ownsNote(ctx, tx, id, ownerID); err != nil {
			return err
		}
		if shareeID == ownerID {
			return errShareOwner
		}
		var existed bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM note_shares WHERE note_id = ? AND user_id = ?)`,
			id, shareeID).Scan(&existed); err != nil {
			return fmt.Errorf("select share: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO note_shares (note_id, user_id, permission, created_at, updated_at)
			VALUES (?1, ?2, ?3, ?4, ?4)
			ON CONFLICT (note_id, user_id) DO UPDATE SET permission = excluded.permission, updated_at = excluded.updated_at`,
			id, shareeID, string(access), now)
		if shareeMissing(err) {
			return gatehouse.ErrNotFound // the sharee's account is gone
		}
		if err != nil {
			return fmt.Errorf("insert share: %w", err)
		}
		created = !existed
		return nil
	})
	return created, err
}

// UnshareNote ends the share of a note that ownerID owns with shareeID.
func (s *Store) UnshareNote(ctx context.Context, id, ownerID, shareeID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := ownsNote(ctx, tx, id, ownerID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM note_shares WHERE note_id = ? AND user_id = ?`, id, shareeID); err != nil {
			return fmt.Errorf("delete share: %w", err)
		}
		return nil
	})
}

// ownsNote returns nil when ownerID owns note id, gatehouse.ErrNotFound
// otherwise.
func ownsNote(ctx context.Context, tx *sql.Tx, id, ownerID string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM notes WHERE id = ? AND owner_id = ?`, id, ownerID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return gatehouse.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("select note owner: %w", err)
	}
	return nil
}

// noteScanner is a *sql.Row or *sql.Rows.
type noteScanner interface{ Scan(dest ...any) error }

// scanNote reads noteColumns, then the access and the shares JSON.
func scanNote(sc noteScanner) (*gatehouse.Note, error) {
	var n gatehouse.Note
	var tags, access string
	var shares sql.NullString
	var created, updated int64
	if err := sc.Scan(&n.ID, &n.OwnerID, &n.OwnerUsername, &n.Title, &n.Body, &tags, &created, &updated, &access, &shares); err != nil {
		return nil, err
	}
	n.CreatedAt, n.UpdatedAt = fromMicros(created), fromMicros(updated)
	n.Access = gatehouse.NoteAccess(access)
	if err := json.Unmarshal([]byte(tags), &n.Tags); err != nil {
		return nil, fmt.Errorf("decode tags of note %s: %w", n.ID, err)
	}
	n.Tags = nonNilTags(n.Tags)
	if shares.Valid {
		var ss []struct{ Username, Permission string }
		if err := json.Unmarshal([]byte(shares.String), &ss); err != nil {
			return nil, fmt.Errorf("decode shares of note %s: %w", n.ID, err)
		}
		n.Shares = make([]gatehouse.Share, len(ss))
		for i, sh := range ss {
			n.Shares[i] = gatehouse.Share{Username: sh.Username, Access: gatehouse.NoteAccess(sh.Permission)}
		}
	}
	return &n, nil
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

func nonNilTags(t []string) []string {
	if t == nil {
		return []string{}
	}
	return t
}

// shareeMissing reports whether err is a failed FOREIGN KEY constraint:
// inserting a share, that the sharee's account no longer exists.
func shareeMissing(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

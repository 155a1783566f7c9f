package server

// Notes: a protected resource with object-level rules.
//
// Every handler here sits behind authn and auth.Require (routes.go), which
// check the token and its scope (notes:read or notes:write): function-level
// authorization. Which note the caller may use is decided here, per object
// (OWASP API1:2023, broken object level authorization; ASVS 5.0 §8.2.2),
// by gatehouse.NoteAccess:
//
//   - a note the caller neither owns nor has a share of is 404 on every
//     route, exactly like a note that does not exist or an ID that is not
//     even well formed, so IDs cannot be probed (ASVS 5.0 §8.2.2 and the
//     OWASP API1 advice to not reveal existence);
//   - a caller with a share that does not allow the action (a read share
//     and PATCH; any share and DELETE or sharing) gets 403: it already
//     knows the note exists, so the 403 tells it nothing new.
//
// The check fails closed: the store returns a note only for its owner or a
// sharee, the handler refuses any access value it does not know, and the
// store repeats the rule in the statement that writes (UpdateNote,
// DeleteNote, ShareNote, UnshareNote), so a share revoked between the check
// and the write cannot be used.
//
// Request bodies take only the fields a client may set: title, body, tags
// (and permission for a share). id, owner, timestamps, permission and
// shares are unknown fields and refused with 422 (OWASP API3:2023, mass
// assignment; ASVS 5.0 §15.3.3).

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/jsonbody"
	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/sanitize"
)

// Limits of notes and of their list.
const (
	maxNoteBodyBytes   = 100 << 10 // 100 KiB of HTML, before sanitizing
	maxNoteSearchChars = 200
	defaultNoteLimit   = 20
	maxNoteLimit       = 100
)

// noteResponse is a note as clients see it.
type noteResponse struct {
	ID         string          `json:"id" doc:"Random, opaque note ID (UUID)"`
	Owner      string          `json:"owner" doc:"The owner's username"`
	Title      string          `json:"title" doc:"Plain text as stored: escape it for the context where it is shown"`
	Body       string          `json:"body" doc:"Sanitized HTML"`
	Tags       []string        `json:"tags"`
	Permission string          `json:"permission" enum:"owner,write,read" doc:"The caller's access to the note"`
	Shares     []shareResponse `json:"shares,omitzero" doc:"Who else may use the note; only in the owner's view"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

type shareResponse struct {
	Username   string `json:"username"`
	Permission string `json:"permission" enum:"read,write"`
}

func newNoteResponse(n *gatehouse.Note) noteResponse {
	resp := noteResponse{ID: n.ID, Owner: n.OwnerUsername, Title: n.Title, Body: n.Body, Tags: n.Tags,
		Permission: string(n.Access), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt}
	if resp.Tags == nil {
		resp.Tags = []string{}
	}
	// Only the owner learns who else has the note; the store fills Shares
	// for the owner only, and this checks again.
	if n.Access == gatehouse.NoteOwner {
		resp.Shares = make([]shareResponse, len(n.Shares))
		for i, s := range n.Shares {
			resp.Shares[i] = shareResponse{Username: s.Username, Permission: string(s.Access)}
		}
	}
	return resp
}

// noteListResponse is a page of notes.
type noteListResponse struct {
	Items      []noteResponse `json:"items"`
	NextCursor *string        `json:"next_cursor" doc:"Pass as ?cursor= for the next page; null on the last page"`
}

// noteCreateRequest is the body of POST /v1/notes.
type noteCreateRequest struct {
	Title string   `json:"title" required:"true" minLength:"1" maxLength:"200" nocontrol:"true" doc:"Plain text, 1–200 characters, not blank, no control characters"`
	Body  string   `json:"body" maxLength:"102400" doc:"HTML of at most 102400 bytes (100 KiB); sanitized with an allow-list before it is stored"`
	Tags  []string `json:"tags" maxItems:"10" uniqueItems:"true" minLength:"1" maxLength:"32" nocontrol:"true" doc:"At most 10 distinct tags of 1–32 characters"`
}

func (req *noteCreateRequest) Validate() []problem.FieldError {
	return validateNote(&req.Title, &req.Body, req.Tags)
}

// noteUpdateRequest is the body of PATCH /v1/notes/{id}. A field that is
// absent or null is left as it is; {} changes nothing.
type noteUpdateRequest struct {
	Title *string   `json:"title" minLength:"1" maxLength:"200" nocontrol:"true" doc:"Plain text, 1–200 characters, not blank, no control characters"`
	Body  *string   `json:"body" maxLength:"102400" doc:"HTML of at most 102400 bytes (100 KiB); sanitized with an allow-list before it is stored"`
	Tags  *[]string `json:"tags" maxItems:"10" uniqueItems:"true" minLength:"1" maxLength:"32" nocontrol:"true" doc:"Replaces the tags; [] removes them all"`
}

func (req *noteUpdateRequest) Validate() []problem.FieldError {
	var tags []string
	if req.Tags != nil {
		tags = *req.Tags
	}
	return validateNote(req.Title, req.Body, tags)
}

// validateNote adds the rules that tags cannot say. The body limit is in
// bytes, the size that costs storage and bandwidth (OWASP API4:2023); the
// maxLength tag counts characters and only documents it.
func validateNote(title, body *string, tags []string) []problem.FieldError {
	var errs []problem.FieldError
	if title != nil && *title != "" && strings.TrimSpace(*title) == "" {
		errs = append(errs, problem.FieldError{Location: "body.title", Message: "must not be blank"})
	}
	if body != nil && len(*body) > maxNoteBodyBytes {
		errs = append(errs, problem.FieldError{Location: "body.body", Message: "must be at most 102400 bytes"})
	}
	for i, t := range tags {
		if t != "" && strings.TrimSpace(t) == "" {
			errs = append(errs, problem.FieldError{Location: "body.tags[" + strconv.Itoa(i) + "]", Message: "must not be blank"})
		}
	}
	return errs
}

// shareRequest is the body of PUT /v1/notes/{id}/shares/{username}.
type shareRequest struct {
	Permission string `json:"permission" required:"true" enum:"read,write" doc:"read: GET; write: GET and PATCH"`
}

// noteNotFound is the one answer for a note that does not exist, one the
// caller may not see, and an ID that is not well formed.
func noteNotFound() *problem.Problem { return problem.New(http.StatusNotFound, "No such note.") }

// noteCaller returns the ID of the authenticated user. Without claims (no
// Authenticator in front: a wiring mistake) it fails closed with a 500.
func noteCaller(w http.ResponseWriter, r *http.Request) (string, bool) {
	c, ok := auth.FromContext(r.Context())
	if !ok || c.Subject == "" {
		problem.Respond(w, r, errors.New("notes: no authenticated user in the request context"))
		return "", false
	}
	return c.Subject, true
}

// loadNote reads the note of the request path for the caller. It answers
// 404 and returns false when the ID is malformed, the note does not exist,
// or the caller may not read it.
func loadNote(w http.ResponseWriter, r *http.Request, store gatehouse.NoteStore) (n *gatehouse.Note, userID string, ok bool) {
	userID, ok = noteCaller(w, r)
	if !ok {
		return nil, "", false
	}
	id := r.PathValue("id")
	if !validNoteID(id) {
		problem.Write(w, r, noteNotFound())
		return nil, "", false
	}
	n, err := store.NoteFor(r.Context(), id, userID)
	if errors.Is(err, gatehouse.ErrNotFound) || err == nil && !n.Access.CanRead() {
		problem.Write(w, r, noteNotFound())
		return nil, "", false
	}
	if err != nil {
		respond(w, r, err)
		return nil, "", false
	}
	return n, userID, true
}

// validNoteID reports whether s is a UUID in canonical form (lower-case
// hex, hyphens at 8, 13, 18 and 23), the only form the server issues.
func validNoteID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

func writeNote(w http.ResponseWriter, status int, n *gatehouse.Note) {
	noStore(w)
	jsonbody.Write(w, status, newNoteResponse(n))
}

// noteStoreError answers an error of a note store call made after the access
// check: ErrNotFound means the note went away, or the caller's share did,
// in between.
func noteStoreError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, gatehouse.ErrNotFound) {
		problem.Write(w, r, noteNotFound())
		return
	}
	respond(w, r, err)
}

// handleNoteList lists the notes the caller owns or has a share of, newest
// first: ?q= searches title and body for literal text, ?limit= is 1–100
// (default 20), ?cursor= continues from a next_cursor.
func handleNoteList(store gatehouse.NoteStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		userID, ok := noteCaller(w, r)
		if !ok {
			return
		}
		var errs []problem.FieldError
		add := func(fe *problem.FieldError) {
			for _, e := range errs {
				if fe == nil || e.Location == fe.Location {
					return
				}
			}
			if fe != nil {
				errs = append(errs, *fe)
			}
		}
		q, fe := jsonbody.QueryString(r, "q", maxNoteSearchChars)
		add(fe)
		limit, fe := jsonbody.QueryInt(r, "limit", defaultNoteLimit, 1, maxNoteLimit)
		add(fe)
		cur, fe := jsonbody.QueryString(r, "cursor", 64)
		add(fe)
		var after *gatehouse.NoteCursor
		if cur != "" {
			if after, ok = decodeNoteCursor(cur); !ok {
				add(&problem.FieldError{Location: "query.cursor", Message: "is not a cursor this server issued"})
			}
		}
		if len(errs) > 0 {
			problem.Write(w, r, problem.Validation(errs...))
			return
		}
		// One more than asked tells whether there is a next page.
		notes, err := store.Notes(r.Context(), userID, gatehouse.NoteQuery{Search: q, Limit: limit + 1, After: after})
		if err != nil {
			respond(w, r, err)
			return
		}
		resp := noteListResponse{Items: make([]noteResponse, 0, min(len(notes), limit))}
		if len(notes) > limit {
			notes = notes[:limit]
			next, err := encodeNoteCursor(&notes[limit-1])
			if err != nil {
				respond(w, r, err)
				return
			}
			resp.NextCursor = &next
		}
		for i := range notes {
			resp.Items = append(resp.Items, newNoteResponse(&notes[i]))
		}
		noStore(w)
		jsonbody.Write(w, http.StatusOK, resp)
	})
}

// The cursor is opaque to clients: base64url, without padding, of a version
// byte, the created_at of the last note of the page in Unix microseconds
// (8 bytes, big-endian) and its ID (16 bytes). The list continues strictly
// after that (created_at, id) in newest-first order, a total order that
// inserts do not disturb: a note added while a client pages comes before
// the cursor, so no note is skipped or repeated.
//
// It carries no MAC because it grants nothing: the query behind it still
// lists only the caller's own and shared notes, so a forged cursor can only
// move within what the caller may read anyway. Decoding is strict (exact
// length, known version, canonical base64), so anything else is a 422 and
// never reaches the store.
const noteCursorVersion = 1

func encodeNoteCursor(n *gatehouse.Note) (string, error) {
	id, err := uuid.Parse(n.ID)
	if err != nil {
		return "", errors.New("note cursor: note ID is not a UUID")
	}
	var b [1 + 8 + 16]byte
	b[0] = noteCursorVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(n.CreatedAt.UnixMicro()))
	copy(b[9:], id[:])
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func decodeNoteCursor(s string) (*gatehouse.NoteCursor, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 1+8+16 || b[0] != noteCursorVersion {
		return nil, false
	}
	u := binary.BigEndian.Uint64(b[1:9])
	if u > math.MaxInt64 {
		return nil, false
	}
	us := int64(u)
	id, err := uuid.FromBytes(b[9:])
	if err != nil {
		return nil, false
	}
	return &gatehouse.NoteCursor{CreatedAt: time.UnixMicro(us).UTC(), ID: id.String()}, true
}

// handleNoteCreate creates a note owned by the caller.
func handleNoteCreate(store gatehouse.NoteStore, maxBodyBytes int64) http.Handler {
	var dec jsonbody.Decoder
	_ = dec.SetMaxBytes(maxBodyBytes) // a value < 1 leaves the 1 MiB default
	var html sanitize.Sanitizer
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		userID, ok := noteCaller(w, r)
		if !ok {
			return
		}
		var req noteCreateRequest
		if err := dec.Decode(w, r, &req); err != nil {
			respond(w, r, err)
			return
		}
		// A random (version 4) UUID: 122 random bits, no order and no time,
		// so one note's ID says nothing about another's.
		id, err := uuid.NewRandom()
		if err != nil {
			respond(w, r, err)
			return
		}
		// The body is sanitized once, on the way in (ASVS 5.0 §1.3.1), so
		// every reader gets the same safe HTML. The title and tags are plain
		// text and stored as given: a JSON API does not know the context
		// they will be shown in, so encoding them is the client's job.
		n := &gatehouse.Note{ID: id.String(), OwnerID: userID, Title: req.Title, Body: html.HTML(req.Body), Tags: req.Tags}
		if err := store.CreateNote(r.Context(), n); err != nil {
			if errors.Is(err, gatehouse.ErrNotFound) {
				problem.Write(w, r, problem.New(http.StatusNotFound, "The account no longer exists."))
				return
			}
			respond(w, r, err)
			return
		}
		w.Header().Set("Location", "/v1/notes/"+n.ID)
		writeNote(w, http.StatusCreated, n)
	})
}

// handleNoteGet returns one note.
func handleNoteGet(store gatehouse.NoteStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _, ok := loadNote(w, r, store)
		if !ok {
			return
		}
		writeNote(w, http.StatusOK, n)
	})
}

// handleNoteUpdate changes the title, body or tags of a note: its owner or
// a write share may.
func handleNoteUpdate(store gatehouse.NoteStore, maxBodyBytes int64) http.Handler {
	var dec jsonbody.Decoder
	_ = dec.SetMaxBytes(maxBodyBytes)
	var html sanitize.Sanitizer
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Access first: a stranger gets the same 404 whatever it sends.
		n, userID, ok := loadNote(w, r, store)
		if !ok {
			return
		}
		if !n.Access.CanWrite() {
			problem.Write(w, r, problem.New(http.StatusForbidden, "The note is shared with you for reading only."))
			return
		}
		var req noteUpdateRequest
		if err := dec.Decode(w, r, &req); err != nil {
			respond(w, r, err)
			return
		}
		u := gatehouse.NoteUpdate{Title: req.Title, Tags: req.Tags}
		if req.Body != nil {
			clean := html.HTML(*req.Body)
			u.Body = &clean
		}
		n, err := store.UpdateNote(r.Context(), n.ID, userID, u)
		if err != nil {
			noteStoreError(w, r, err)
			return
		}
		writeNote(w, http.StatusOK, n)
	})
}

// noteOwnerOnly answers a sharee that tries what only the owner may do.
func noteOwnerOnly() *problem.Problem {
	return problem.New(http.StatusForbidden, "Only the owner of a note can delete or share it.")
}

// handleNoteDelete deletes a note and its shares: its owner only.
func handleNoteDelete(store gatehouse.NoteStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, userID, ok := loadNote(w, r, store)
		if !ok {
			return
		}
		if !n.Access.CanManage() {
			problem.Write(w, r, noteOwnerOnly())
			return
		}
		if err := store.DeleteNote(r.Context(), n.ID, userID); err != nil {
			noteStoreError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// noteSharee resolves the {username} of a share route for the owner of n.
// The answers are 422 at path.username for a name that is not valid, not
// an account, or the owner's own: the caller owns the note, so they reveal
// no more than registration does (a taken username is a 409 there).
func noteSharee(r *http.Request, users gatehouse.UserStore, n *gatehouse.Note) (*gatehouse.User, *problem.FieldError, error) {
	name := gatehouse.NormalizeUsername(r.PathValue("username"))
	if !gatehouse.ValidUsername(name) {
		return nil, &problem.FieldError{Location: "path.username", Message: "must be a username: 3–32 characters of lowercase letters, digits, '.', '_' or '-'"}, nil
	}
	u, err := users.UserByUsername(r.Context(), name)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, &problem.FieldError{Location: "path.username", Message: "is not a user"}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if u.ID == n.OwnerID {
		return nil, &problem.FieldError{Location: "path.username", Message: "is the note's owner, who has every right already"}, nil
	}
	return u, nil, nil
}

// noteShareStore is what sharing needs: notes, and users by name.
type noteShareStore interface {
	gatehouse.NoteStore
	gatehouse.UserStore
}

// handleNoteShare grants a user read or write access to a note, or changes
// the access of an existing share: 201 when the share is new, 200 when it
// replaced one, with the note as its owner sees it. Owner only: a share
// cannot be passed on.
func handleNoteShare(store noteShareStore) http.Handler {
	var dec jsonbody.Decoder
	_ = dec.SetMaxBytes(1 << 10) // {"permission":"write"} is 22 bytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, userID, ok := loadNote(w, r, store)
		if !ok {
			return
		}
		if !n.Access.CanManage() {
			problem.Write(w, r, noteOwnerOnly())
			return
		}
		sharee, fe, err := noteSharee(r, store, n)
		if err != nil {
			respond(w, r, err)
			return
		}
		var req shareRequest
		if err := dec.Decode(w, r, &req); err != nil {
			// Report the path and the body errors in one 422.
			if p, ok := errors.AsType[*problem.Problem](err); ok && p.Status == http.StatusUnprocessableEntity && fe != nil {
				p.Errors = append([]problem.FieldError{*fe}, p.Errors...)
			}
			respond(w, r, err)
			return
		}
		if fe != nil {
			problem.Write(w, r, problem.Validation(*fe))
			return
		}
		created, err := store.ShareNote(r.Context(), n.ID, userID, sharee.ID, gatehouse.NoteAccess(req.Permission))
		if err != nil {
			noteStoreError(w, r, err)
			return
		}
		n, err = store.NoteFor(r.Context(), n.ID, userID)
		if err != nil {
			noteStoreError(w, r, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		writeNote(w, status, n)
	})
}

// handleNoteUnshare ends a user's share of a note: 204, also when there was
// no share. Owner only.
func handleNoteUnshare(store noteShareStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, userID, ok := loadNote(w, r, store)
		if !ok {
			return
		}
		if !n.Access.CanManage() {
			problem.Write(w, r, noteOwnerOnly())
			return
		}
		sharee, fe, err := noteSharee(r, store, n)
		if err != nil {
			respond(w, r, err)
			return
		}
		if fe != nil {
			problem.Write(w, r, problem.Validation(*fe))
			return
		}
		if err := store.UnshareNote(r.Context(), n.ID, userID, sharee.ID); err != nil {
			noteStoreError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

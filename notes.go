package gatehouse

import (
	"context"
	"time"
)

// NoteAccess is what one user may do with one note: the owner's full
// control, or the access a share grants. The empty NoteAccess grants
// nothing.
type NoteAccess string

// The kinds of access to a note.
const (
	NoteOwner NoteAccess = "owner" // read, change, delete, share and unshare
	NoteWrite NoteAccess = "write" // a share: read and change
	NoteRead  NoteAccess = "read"  // a share: read
)

// The object-level rules (OWASP API1:2023, broken object level
// authorization; ASVS 5.0 §8.2.2) are these three methods, and nothing else
// decides them. Each fails closed: a value that is not one of the constants
// grants nothing.

// CanRead reports whether a lets its holder read the note.
func (a NoteAccess) CanRead() bool { return a == NoteOwner || a == NoteWrite || a == NoteRead }

// CanWrite reports whether a lets its holder change the title, body and
// tags of the note.
func (a NoteAccess) CanWrite() bool { return a == NoteOwner || a == NoteWrite }

// CanManage reports whether a lets its holder delete the note and share or
// unshare it. Only the owner may: a share cannot be passed on or widened by
// the one who holds it.
func (a NoteAccess) CanManage() bool { return a == NoteOwner }

// Note is a user's rich-text note. Body is HTML that was sanitized before it
// was stored; Title and Tags are plain text, stored as given.
type Note struct {
	ID            string // random (UUIDv4): reveals nothing and cannot be guessed
	OwnerID       string
	OwnerUsername string
	Title         string
	Body          string
	Tags          []string
	CreatedAt     time.Time
	UpdatedAt     time.Time

	// Access is the access of the user the note was read for.
	Access NoteAccess
	// Shares lists who else may use the note, by username. Stores fill it
	// only when the note was read for its owner.
	Shares []Share
}

// Share grants one user read or write access to a note.
type Share struct {
	Username string
	Access   NoteAccess // NoteRead or NoteWrite
}

// NoteUpdate holds the fields of a note to change; nil leaves one as it is.
type NoteUpdate struct {
	Title *string
	Body  *string // already sanitized
	Tags  *[]string
}

// NoteCursor is a position in a list of notes, which are ordered newest
// first by (CreatedAt, ID): the notes after it are those strictly older in
// that order.
type NoteCursor struct {
	CreatedAt time.Time
	ID        string
}

// NoteQuery selects a page of the notes a user may read.
type NoteQuery struct {
	// Search, when not empty, keeps the notes whose title or body contains
	// it, as literal text (no wildcards), ignoring ASCII case.
	Search string
	Limit  int         // at most this many notes
	After  *NoteCursor // nil for the first page
}

// NoteStore keeps notes and their shares.
//
// Every method but CreateNote takes the ID of the acting user and enforces
// the object-level rules itself, in the same statement or transaction that
// reads or writes the note, so a share revoked between a check and a write
// cannot be used. A note that does not exist and one the user may not see
// give the same ErrNotFound.
type NoteStore interface {
	// CreateNote inserts n, owned by n.OwnerID, and fills in
	// n.OwnerUsername and n.Access. The store sets n.CreatedAt and
	// n.UpdatedAt; creation times strictly increase in insertion order,
	// so a list cursor stays stable while notes are added.
	CreateNote(ctx context.Context, n *Note) error
	// NoteFor returns the note as userID sees it, with Access set (and
	// Shares for its owner), or ErrNotFound.
	NoteFor(ctx context.Context, id, userID string) (*Note, error)
	// Notes lists the notes userID owns or has been shared, newest first.
	Notes(ctx context.Context, userID string, q NoteQuery) ([]Note, error)
	// UpdateNote changes the note when userID may write it (Access.CanWrite)
	// and returns it as userID sees it; otherwise ErrNotFound.
	UpdateNote(ctx context.Context, id, userID string, u NoteUpdate) (*Note, error)
	// DeleteNote deletes the note and its shares when ownerID owns it;
	// otherwise ErrNotFound.
	DeleteNote(ctx context.Context, id, ownerID string) error
	// ShareNote grants shareeID access (NoteRead or NoteWrite) to a note
	// that ownerID owns, replacing any earlier share with that user. It
	// reports whether the share is new. ErrNotFound when ownerID does not own
	// the note or shareeID does not exist.
	ShareNote(ctx context.Context, id, ownerID, shareeID string, access NoteAccess) (created bool, err error)
	// UnshareNote ends the share of a note that ownerID owns with shareeID;
	// it is not an error when there is none. ErrNotFound when ownerID does
	// not own the note.
	UnshareNote(ctx context.Context, id, ownerID, shareeID string) error
}

// Package gatehouse holds the domain types of the gatehouse API server and
// the store interfaces they need. It imports neither net/http nor any SQL
// driver: the server (internal/server) and the stores (internal/sqlite, and
// later others) depend on it, never the other way round.
package gatehouse

import (
	"errors"
	"time"
)

// Permissions (OAuth2 scopes) known to gatehouse. A role is a set of them.
const (
	PermNotesRead  = "notes:read"
	PermNotesWrite = "notes:write"
	PermUsersRead  = "users:read"
	PermUsersWrite = "users:write"
	PermAuditRead  = "audit:read"
)

// Roles seeded by the first migration.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// Errors returned by stores, matched with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// ConflictError says which unique field was already taken.
type ConflictError struct{ Field string }

func (e *ConflictError) Error() string { return e.Field + " is already taken" }

// Is makes errors.Is(err, ErrConflict) true for a *ConflictError.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// User is an account. PasswordHash is a PHC string and never leaves the
// server.
type User struct {
	ID           string
	Username     string // NFKC-normalized and lower-cased
	Email        string // as given
	Age          int
	PasswordHash string
	Roles        []string
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// SigningKey is one Ed25519 key pair. PrivateKeyEnc is the private key
// sealed with the key-encryption key; the clear private key never reaches
// the store.
type SigningKey struct {
	ID            string // the JWT kid
	Algorithm     string // "EdDSA"
	PublicKey     []byte
	PrivateKeyEnc []byte
	CreatedAt     time.Time
	ActivatedAt   time.Time  // signs new tokens from this time on
	RetiredAt     *time.Time // no longer published after this time
}

// Session is one login: a family of refresh tokens (RFC 9700 §4.14).
type Session struct {
	ID           string
	UserID       string
	CreatedAt    time.Time
	LastUsedAt   time.Time
	ExpiresAt    time.Time // absolute lifetime
	RevokedAt    *time.Time
	RevokeReason string
	Scope        string
	ClientIP     string
	UserAgent    string
}

// RefreshToken is stored only as a hash of the token the client holds.
type RefreshToken struct {
	Hash       []byte // SHA-256 of the opaque token
	SessionID  string
	CreatedAt  time.Time
	ExpiresAt  time.Time // idle lifetime
	UsedAt     *time.Time
	ReplacedBy []byte
}

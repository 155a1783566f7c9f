package gatehouse

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable means the store cannot be reached now; callers answer 503.
var ErrUnavailable = errors.New("store unavailable")

// UserStore keeps accounts and their roles.
type UserStore interface {
	// CreateUser inserts u with its roles. A taken username or email gives
	// a *ConflictError naming the field.
	CreateUser(ctx context.Context, u *User) error
	UserByID(ctx context.Context, id string) (*User, error)
	// UserByUsername finds an account by its normalized username.
	UserByUsername(ctx context.Context, username string) (*User, error)
	SetPasswordHash(ctx context.Context, userID, hash string) error
	// RolePermissions returns the union of the permissions of roles.
	RolePermissions(ctx context.Context, roles []string) ([]string, error)
}

// KeyStore keeps the signing keys.
type KeyStore interface {
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// SigningKeys lists every key that is not retired, newest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// RetireSigningKey stops publishing a key.
	RetireSigningKey(ctx context.Context, id string, at time.Time) error
}

// SessionStore keeps logins and their refresh tokens.
type SessionStore interface {
	// CreateSession stores a new session with its first refresh token.
	CreateSession(ctx context.Context, s *Session, t *RefreshToken) error
}

// Store is everything the server keeps. One implementation per database.
type Store interface {
	UserStore
	KeyStore
	SessionStore
	NoteStore
	LifecycleStore
	AdminStore
	CookieStore
	Ping(ctx context.Context) error
	Close() error
}

// Clock returns the current time; tests inject their own.
type Clock func() time.Time

// RotateOutcome says what happened to a presented refresh token.
type RotateOutcome int

const (
	// Rotated: the token was live; it is retired and its successor stored.
	Rotated RotateOutcome = iota + 1
	// Replayed: the token was rotated moments ago (within the grace
	// window) and its successor is still unused; the same successor is
	// returned, sealed, so the client gets the same answer again.
	Replayed
	// ReuseDetected: a retired token came back outside the grace window.
	// The whole session has been revoked (RFC 9700 §4.14.2).
	ReuseDetected
	// Invalid: unknown, expired, or its session has ended.
	Invalid
)

// RotateRequest is one refresh-grant rotation.
type RotateRequest struct {
	OldHash         []byte
	New             *RefreshToken // SessionID is filled in by the store
	SuccessorSealed []byte        // New's clear token, sealed, kept for the grace window
	Now             time.Time
	Grace           time.Duration
	IdleTTL         time.Duration // the successor expires after this, or with the session
}

// RotateResult is the outcome of a rotation with the session it concerns.
type RotateResult struct {
	Outcome         RotateOutcome
	Session         *Session
	SuccessorSealed []byte // set for Replayed
}

// RevokedSession is one ended session, for the revocation set.
type RevokedSession struct {
	ID        string
	UserID    string
	RevokedAt time.Time
}

// LifecycleStore is what refresh rotation and revocation need.
type LifecycleStore interface {
	// RotateRefreshToken retires a refresh token and stores its successor
	// in one transaction; concurrent calls with the same token yield at
	// most one successor.
	RotateRefreshToken(ctx context.Context, req RotateRequest) (*RotateResult, error)
	// SessionByRefreshHash finds the session of a refresh token, live or not.
	SessionByRefreshHash(ctx context.Context, hash []byte) (*Session, error)
	SessionByID(ctx context.Context, id string) (*Session, error)
	// ActiveSessions lists a user's sessions that are neither revoked nor expired.
	ActiveSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
	// RevokeSession ends one session; ErrNotFound when it does not exist
	// or belongs to another user (userID "" skips that check).
	RevokeSession(ctx context.Context, id, userID, reason string, now time.Time) error
	// RevokeUserSessions ends every live session of a user except keep
	// ("" for none) and returns the IDs it ended.
	RevokeUserSessions(ctx context.Context, userID, keep, reason string, now time.Time) ([]string, error)
	// RevokedSince lists sessions revoked at or after since.
	RevokedSince(ctx context.Context, since time.Time) ([]RevokedSession, error)
}

// CookieStore keeps browser sessions, whose cookie is stored as a hash.
type CookieStore interface {
	CreateCookieSession(ctx context.Context, s *Session, cookieHash []byte) error
	// SessionByCookieHash finds a browser session, live or not.
	SessionByCookieHash(ctx context.Context, hash []byte) (*Session, error)
}

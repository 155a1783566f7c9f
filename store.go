package gatehouse

import (
	"context"
	"time"
)

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
	Ping(ctx context.Context) error
	Close() error
}

// Clock returns the current time; tests inject their own.
type Clock func() time.Time

package gatehouse

import "context"

// AdminStore is what the admin API needs beyond UserStore.
type AdminStore interface {
	// ListUsers returns up to limit accounts with IDs after afterID ("" for
	// the first page), in ID order (IDs are time-ordered UUIDv7, so this is
	// creation order and stable under concurrent inserts).
	ListUsers(ctx context.Context, afterID string, limit int) ([]User, error)
	// SetUserRoles replaces a user's roles. It refuses, with
	// ErrLastAdmin, a change that would leave no enabled admin.
	SetUserRoles(ctx context.Context, userID string, roles []string) error
	// SetUserDisabled disables or enables an account. It refuses, with
	// ErrLastAdmin, to disable the last enabled admin.
	SetUserDisabled(ctx context.Context, userID string, disabled bool) error
}

// ErrLastAdmin refuses a change that would leave no enabled admin, so
// that the admin API cannot lock every administrator out.
var ErrLastAdmin = &ConflictError{Field: "last admin"}

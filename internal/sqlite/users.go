package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// CreateUser inserts u and its roles in one transaction.
func (s *Store) CreateUser(ctx context.Context, u *gatehouse.User) error {
	if err := checkText("id", u.ID, "username", u.Username, "email", u.Email, "password hash", u.PasswordHash); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	for _, r := range u.Roles {
		if err := checkText("role", r); err != nil {
			return fmt.Errorf("create user: %w", err)
		}
	}
	now := s.now().UTC()
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	u.UpdatedAt = u.CreatedAt
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users
			(id, username, email, email_normalized, age, password_hash, disabled, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.Username, u.Email, gatehouse.NormalizeEmail(u.Email), u.Age, u.PasswordHash, u.Disabled,
			micros(u.CreatedAt), micros(u.UpdatedAt))
		if err != nil {
			if col, ok := uniqueViolation(err); ok {
				switch col {
				case "username":
					return &gatehouse.ConflictError{Field: "username"}
				case "email_normalized":
					return &gatehouse.ConflictError{Field: "email"}
				}
				return &gatehouse.ConflictError{Field: "id"}
			}
			return fmt.Errorf("insert user: %w", err)
		}
		for _, role := range u.Roles {
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_roles (user_id, role) VALUES (?, ?)`, u.ID, role); err != nil {
				return fmt.Errorf("insert user role %q: %w", role, err)
			}
		}
		return nil
	})
	return err
}

const userColumns = `id, username, email, age, password_hash, disabled, created_at, updated_at`

// userRolesColumn is the user's roles as a JSON array in role order, so
// that one statement (one read transaction) reads the account and its roles.
const userRolesColumn = `(SELECT json_group_array(role ORDER BY role) FROM user_roles WHERE user_id = users.id)`

func (s *Store) userWhere(ctx context.Context, where string, arg any) (*gatehouse.User, error) {
	var u gatehouse.User
	var created, updated int64
	var roles string
	// where is a constant of this file: the text is fit for the statement cache.
	err := prepared{s}.QueryRowContext(ctx, `SELECT `+userColumns+`, `+userRolesColumn+` FROM users WHERE `+where, arg).
		Scan(&u.ID, &u.Username, &u.Email, &u.Age, &u.PasswordHash, &u.Disabled, &created, &updated, &roles)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("select user: %w", err)
	}
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	if err := json.Unmarshal([]byte(roles), &u.Roles); err != nil {
		return nil, fmt.Errorf("decode roles of user %s: %w", u.ID, err)
	}
	if len(u.Roles) == 0 {
		u.Roles = nil // as before: no roles is a nil slice
	}
	return &u, nil
}

// UserByID finds an account by ID.
func (s *Store) UserByID(ctx context.Context, id string) (*gatehouse.User, error) {
	return s.userWhere(ctx, "id = ?", id)
}

// UserByUsername finds an account by its normalized username.
func (s *Store) UserByUsername(ctx context.Context, username string) (*gatehouse.User, error) {
	return s.userWhere(ctx, "username = ?", username)
}

// SetPasswordHash replaces the stored password hash of a user.
func (s *Store) SetPasswordHash(ctx context.Context, userID, hash string) error {
	if err := checkText("password hash", hash); err != nil {
		return fmt.Errorf("set password hash: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`,
		hash, micros(s.now()), userID)
	if err != nil {
		return fmt.Errorf("update password hash: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return gatehouse.ErrNotFound
	}
	return nil
}

// RolePermissions returns the sorted union of the permissions of roles.
func (s *Store) RolePermissions(ctx context.Context, roles []string) ([]string, error) {
	if len(roles) == 0 {
		return nil, nil
	}
	// One placeholder per role: the list is built from "?" only, never
	// from the values.
	q := `SELECT DISTINCT permission FROM role_permissions WHERE role IN (?` + strings.Repeat(", ?", len(roles)-1) + `) ORDER BY permission` // #nosec G202 -- only placeholders are concatenated
	args := make([]any, len(roles))
	for i, r := range roles {
		args[i] = r
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("select permissions: %w", err)
	}
	defer rows.Close()
	var perms []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		perms = append(perms, p)
	}
	return perms, rows.Err()
}

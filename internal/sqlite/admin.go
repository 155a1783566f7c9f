package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse"
)

// ListUsers returns a page of accounts in ID order.
func (s *Store) ListUsers(ctx context.Context, afterID string, limit int) ([]gatehouse.User, error) {
	if limit < 1 {
		return nil, nil // SQLite reads LIMIT -1 as no limit
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("select users: %w", err)
	}
	var out []gatehouse.User
	for rows.Next() {
		var u gatehouse.User
		var created, updated int64
		if err := rows.Scan(&u.ID, &u.Username, &u.Email, &u.Age, &u.PasswordHash, &u.Disabled, &created, &updated); err != nil {
			_ = rows.Close()
			return nil, err
		}
		u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
		out = append(out, u)
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		roles, err := s.roles(ctx, s.db, out[i].ID)
		if err != nil {
			return nil, err
		}
		out[i].Roles = roles
	}
	return out, nil
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func (s *Store) roles(ctx context.Context, q querier, userID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT role FROM user_roles WHERE user_id = ? ORDER BY role`, userID)
	if err != nil {
		return nil, fmt.Errorf("select roles: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// enabledAdminsExcept counts enabled admins other than userID.
func enabledAdminsExcept(ctx context.Context, tx *sql.Tx, userID string) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM user_roles ur JOIN users u ON u.id = ur.user_id
		WHERE ur.role = 'admin' AND u.disabled = 0 AND u.id != ?`, userID).Scan(&n)
	return n, err
}

func userState(ctx context.Context, tx *sql.Tx, userID string) (isAdmin, disabled bool, err error) {
	err = tx.QueryRowContext(ctx, `SELECT u.disabled, EXISTS (SELECT 1 FROM user_roles WHERE user_id = u.id AND role = 'admin')
		FROM users u WHERE u.id = ?`, userID).Scan(&disabled, &isAdmin)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, gatehouse.ErrNotFound
	}
	return isAdmin, disabled, err
}

// SetUserRoles replaces a user's roles in one transaction, refusing to
// remove the last enabled admin.
func (s *Store) SetUserRoles(ctx context.Context, userID string, roles []string) error {
	for _, r := range roles {
		if err := checkText("role", r); err != nil {
			return fmt.Errorf("set user roles: %w", err)
		}
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		isAdmin, disabled, err := userState(ctx, tx, userID)
		if err != nil {
			return err
		}
		keepsAdmin := false
		for _, r := range roles {
			keepsAdmin = keepsAdmin || r == gatehouse.RoleAdmin
		}
		if isAdmin && !disabled && !keepsAdmin {
			n, err := enabledAdminsExcept(ctx, tx, userID)
			if err != nil {
				return err
			}
			if n == 0 {
				return gatehouse.ErrLastAdmin
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_roles WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("delete roles: %w", err)
		}
		for _, r := range roles {
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_roles (user_id, role) VALUES (?, ?)`, userID, r); err != nil {
				return fmt.Errorf("insert role %q: %w", r, err)
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET updated_at = ? WHERE id = ?`, micros(s.now()), userID)
		return err
	})
}

// SetUserDisabled disables or enables an account, refusing to disable the
// last enabled admin.
func (s *Store) SetUserDisabled(ctx context.Context, userID string, disabled bool) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		isAdmin, wasDisabled, err := userState(ctx, tx, userID)
		if err != nil {
			return err
		}
		if disabled && isAdmin && !wasDisabled {
			n, err := enabledAdminsExcept(ctx, tx, userID)
			if err != nil {
				return err
			}
			if n == 0 {
				return gatehouse.ErrLastAdmin
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?`, disabled, micros(s.now()), userID)
		if err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		return nil
	})
}

package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse"
)

// ListUsers returns a page of accounts in ID order (byte order: the id
// column is COLLATE "C", as SQLite compares).
func (s *Store) ListUsers(ctx context.Context, afterID string, limit int) (out []gatehouse.User, err error) {
	defer s.done(&err)
	if limit < 1 {
		return nil, nil
	}
	q := `SELECT ` + userColumns + ` FROM users WHERE id > $1 ORDER BY id LIMIT $2`
	if !validText(afterID) {
		// The server cannot receive afterID; the IDs after it are those
		// from textAbove(afterID) on.
		above, ok := textAbove(afterID)
		if !ok {
			return nil, nil
		}
		q, afterID = `SELECT `+userColumns+` FROM users WHERE id >= $1 ORDER BY id LIMIT $2`, above
	}
	rows, err := s.db.QueryContext(ctx, q, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("select users: %w", err)
	}
	defer rows.Close()
	index := map[string]int{}
	ids := []string{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		index[u.ID] = len(out)
		ids = append(ids, u.ID)
		out = append(out, *u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select users: %w", err)
	}
	_ = rows.Close()
	if len(out) == 0 {
		return nil, nil
	}
	// The roles of the whole page in one query.
	rr, err := s.db.QueryContext(ctx, `SELECT user_id, role FROM user_roles WHERE user_id = ANY($1::text[]) ORDER BY user_id, role`, ids)
	if err != nil {
		return nil, fmt.Errorf("select roles: %w", err)
	}
	defer rr.Close()
	for rr.Next() {
		var id, role string
		if err := rr.Scan(&id, &role); err != nil {
			return nil, err
		}
		i := index[id]
		out[i].Roles = append(out[i].Roles, role)
	}
	if err := rr.Err(); err != nil {
		return nil, fmt.Errorf("select roles: %w", err)
	}
	return out, nil
}

// The last-admin rule ("at least one enabled admin remains") is about a set
// of rows, which row locks cannot guard at READ COMMITTED: two transactions
// demoting two different admins each see the other still enabled, and both
// commit. So every change that can shrink the set of enabled admins
// (SetUserRoles, SetUserDisabled, and anything added later that deletes or
// disables accounts) first takes one transaction-scoped advisory lock of
// the schema. They then run one at a time, across every instance, and each
// one's count (a statement after the lock, so a fresh snapshot at READ
// COMMITTED) sees every earlier change. Changes that only add admins
// (CreateUser) need no lock: they cannot break the rule. These changes are
// rare (admin API calls), so serializing them costs nothing.

// userState reads whether a user is an admin and disabled.
func userState(ctx context.Context, tx *sql.Tx, userID string) (isAdmin, disabled bool, err error) {
	err = tx.QueryRowContext(ctx, `SELECT u.disabled, EXISTS (SELECT 1 FROM user_roles WHERE user_id = u.id AND role = 'admin')
		FROM users u WHERE u.id = $1`, userID).Scan(&disabled, &isAdmin)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, gatehouse.ErrNotFound
	}
	if err != nil {
		return false, false, fmt.Errorf("select user: %w", err)
	}
	return isAdmin, disabled, nil
}

// enabledAdminsExcept counts enabled admins other than userID.
func enabledAdminsExcept(ctx context.Context, tx *sql.Tx, userID string) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM user_roles ur JOIN users u ON u.id = ur.user_id
		WHERE ur.role = 'admin' AND NOT u.disabled AND u.id <> $1`, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count admins: %w", err)
	}
	return n, nil
}

// SetUserRoles replaces a user's roles in one transaction, refusing to
// remove the last enabled admin.
func (s *Store) SetUserRoles(ctx context.Context, userID string, roles []string) (err error) {
	defer s.done(&err)
	for _, r := range roles {
		if err := checkText("role", r); err != nil {
			return fmt.Errorf("set user roles: %w", err)
		}
	}
	if !validText(userID) {
		return gatehouse.ErrNotFound
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := lockXact(ctx, tx, s.locks.admins); err != nil {
			return err
		}
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
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_roles WHERE user_id = $1`, userID); err != nil {
			return fmt.Errorf("delete roles: %w", err)
		}
		for _, r := range roles {
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_roles (user_id, role) VALUES ($1, $2)`, userID, r); err != nil {
				return fmt.Errorf("insert role %q: %w", r, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET updated_at = $1 WHERE id = $2`, ts(s.now()), userID); err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		return nil
	})
}

// SetUserDisabled disables or enables an account, refusing to disable the
// last enabled admin.
func (s *Store) SetUserDisabled(ctx context.Context, userID string, disabled bool) (err error) {
	defer s.done(&err)
	if !validText(userID) {
		return gatehouse.ErrNotFound
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := lockXact(ctx, tx, s.locks.admins); err != nil {
			return err
		}
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
		if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3`, disabled, ts(s.now()), userID); err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		return nil
	})
}

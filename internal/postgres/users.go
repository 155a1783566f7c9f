package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse"
)

// CreateUser inserts u and its roles in one transaction.
func (s *Store) CreateUser(ctx context.Context, u *gatehouse.User) (err error) {
	defer s.done(&err)
	if err := checkText("id", u.ID, "username", u.Username, "email", u.Email, "password hash", u.PasswordHash); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	for _, r := range u.Roles {
		if err := checkText("role", r); err != nil {
			return fmt.Errorf("create user: %w", err)
		}
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now()
	}
	u.CreatedAt = ts(u.CreatedAt)
	u.UpdatedAt = u.CreatedAt
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users
			(id, username, email, email_normalized, age, password_hash, disabled, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			u.ID, u.Username, u.Email, gatehouse.NormalizeEmail(u.Email), u.Age, u.PasswordHash, u.Disabled,
			u.CreatedAt, u.UpdatedAt)
		if code, constraint := pgCode(err); code == codeUniqueViolation {
			switch constraint {
			case "users_username_key":
				return &gatehouse.ConflictError{Field: "username"}
			case "users_email_normalized_key":
				return &gatehouse.ConflictError{Field: "email"}
			}
			return &gatehouse.ConflictError{Field: "id"}
		}
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		for _, role := range u.Roles {
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_roles (user_id, role) VALUES ($1, $2)`, u.ID, role); err != nil {
				return fmt.Errorf("insert user role %q: %w", role, err)
			}
		}
		return nil
	})
}

const userColumns = `id, username, email, age, password_hash, disabled, created_at, updated_at`

func scanUser(row scanner) (*gatehouse.User, error) {
	var u gatehouse.User
	if err := row.Scan(&u.ID, &u.Username, &u.Email, &u.Age, &u.PasswordHash, &u.Disabled, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = utc(u.CreatedAt), utc(u.UpdatedAt)
	return &u, nil
}

// userWhere reads the user whose column (a constant) equals arg.
func (s *Store) userWhere(ctx context.Context, column, arg string) (*gatehouse.User, error) {
	if !validText(arg) {
		return nil, gatehouse.ErrNotFound // never stored
	}
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+column+` = $1`, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("select user: %w", err)
	}
	if u.Roles, err = s.roles(ctx, u.ID); err != nil {
		return nil, err
	}
	return u, nil
}

// UserByID finds an account by ID.
func (s *Store) UserByID(ctx context.Context, id string) (u *gatehouse.User, err error) {
	defer s.done(&err)
	return s.userWhere(ctx, "id", id)
}

// UserByUsername finds an account by its normalized username.
func (s *Store) UserByUsername(ctx context.Context, username string) (u *gatehouse.User, err error) {
	defer s.done(&err)
	return s.userWhere(ctx, "username", username)
}

func (s *Store) roles(ctx context.Context, userID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role`, userID)
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

// SetPasswordHash replaces the stored password hash of a user.
func (s *Store) SetPasswordHash(ctx context.Context, userID, hash string) (err error) {
	defer s.done(&err)
	if err := checkText("password hash", hash); err != nil {
		return fmt.Errorf("set password hash: %w", err)
	}
	if !validText(userID) {
		return gatehouse.ErrNotFound
	}
	res, err := s.db.ExecContext(ctx, `UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3`,
		hash, ts(s.now()), userID)
	if err != nil {
		return fmt.Errorf("update password hash: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return gatehouse.ErrNotFound
	}
	return nil
}

// RolePermissions returns the sorted union of the permissions of roles.
func (s *Store) RolePermissions(ctx context.Context, roles []string) (perms []string, err error) {
	defer s.done(&err)
	names := make([]string, 0, len(roles))
	for _, r := range roles {
		if validText(r) { // a role that cannot be stored has no permissions
			names = append(names, r)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	// One array parameter, never a list built from the values.
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT permission FROM role_permissions
		WHERE role = ANY($1::text[]) ORDER BY permission`, names)
	if err != nil {
		return nil, fmt.Errorf("select permissions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		perms = append(perms, p)
	}
	return perms, rows.Err()
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

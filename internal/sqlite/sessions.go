package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gatehouse/gatehouse"
)

// CreateSession stores a new session and its first refresh token.
func (s *Store) CreateSession(ctx context.Context, sess *gatehouse.Session, t *gatehouse.RefreshToken) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions
			(id, user_id, created_at, last_used_at, expires_at, scope, client_ip, user_agent)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			sess.ID, sess.UserID, micros(sess.CreatedAt), micros(sess.LastUsedAt), micros(sess.ExpiresAt),
			sess.Scope, sess.ClientIP, sess.UserAgent); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at)
			VALUES (?, ?, ?, ?)`, t.Hash, t.SessionID, micros(t.CreatedAt), micros(t.ExpiresAt)); err != nil {
			return fmt.Errorf("insert refresh token: %w", err)
		}
		return nil
	})
}

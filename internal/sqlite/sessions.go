package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

func checkSessionText(sess *gatehouse.Session) error {
	return checkText("session id", sess.ID, "user id", sess.UserID, "scope", sess.Scope,
		"client ip", sess.ClientIP)
}

// CreateSession stores a new session and its first refresh token.
func (s *Store) CreateSession(ctx context.Context, sess *gatehouse.Session, t *gatehouse.RefreshToken) error {
	if err := checkSessionText(sess); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if err := checkText("refresh token session id", t.SessionID); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions
			(id, user_id, created_at, last_used_at, expires_at, scope, client_ip, user_agent)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			sess.ID, sess.UserID, micros(sess.CreatedAt), micros(sess.LastUsedAt), micros(sess.ExpiresAt),
			sess.Scope, sess.ClientIP, cleanUserAgent(sess.UserAgent)); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at)
			VALUES (?, ?, ?, ?)`, t.Hash, t.SessionID, micros(t.CreatedAt), micros(t.ExpiresAt)); err != nil {
			return fmt.Errorf("insert refresh token: %w", err)
		}
		return nil
	})
}

const sessionColumns = `s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at, s.revoke_reason, s.scope, s.client_ip, s.user_agent`

type scanner interface{ Scan(...any) error }

func scanSession(row scanner) (*gatehouse.Session, error) {
	var ss gatehouse.Session
	var created, used, expires int64
	var revoked sql.NullInt64
	if err := row.Scan(&ss.ID, &ss.UserID, &created, &used, &expires, &revoked, &ss.RevokeReason, &ss.Scope, &ss.ClientIP, &ss.UserAgent); err != nil {
		return nil, err
	}
	ss.CreatedAt, ss.LastUsedAt, ss.ExpiresAt, ss.RevokedAt = fromMicros(created), fromMicros(used), fromMicros(expires), fromNullMicros(revoked)
	return &ss, nil
}

func oneSession(row *sql.Row) (*gatehouse.Session, error) {
	ss, err := scanSession(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("select session: %w", err)
	}
	return ss, nil
}

// SessionByID finds a session, live or not.
func (s *Store) SessionByID(ctx context.Context, id string) (*gatehouse.Session, error) {
	return oneSession(s.db.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = ?`, id))
}

// SessionByRefreshHash finds the session a refresh token belongs to.
func (s *Store) SessionByRefreshHash(ctx context.Context, hash []byte) (*gatehouse.Session, error) {
	return oneSession(s.db.QueryRowContext(ctx, `SELECT `+sessionColumns+`
		FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE rt.hash = ?`, hash))
}

// RotateRefreshToken implements the rotation rules of RFC 9700 §4.14.2 in
// one BEGIN IMMEDIATE transaction: SQLite's write lock serializes
// concurrent rotations of the same token, so only the first sees it live.
func (s *Store) RotateRefreshToken(ctx context.Context, req gatehouse.RotateRequest) (*gatehouse.RotateResult, error) {
	var res *gatehouse.RotateResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var (
			sessionID string
			expires   int64
			usedAt    sql.NullInt64
			successor []byte
			nextUsed  sql.NullInt64
		)
		err := tx.QueryRowContext(ctx, `SELECT rt.session_id, rt.expires_at, rt.used_at, rt.successor_sealed,
				(SELECT n.used_at FROM refresh_tokens n WHERE n.hash = rt.replaced_by)
			FROM refresh_tokens rt WHERE rt.hash = ?`, req.OldHash).
			Scan(&sessionID, &expires, &usedAt, &successor, &nextUsed)
		if errors.Is(err, sql.ErrNoRows) {
			res = &gatehouse.RotateResult{Outcome: gatehouse.Invalid}
			return nil
		}
		if err != nil {
			return fmt.Errorf("select refresh token: %w", err)
		}
		sess, err := oneSession(tx.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = ?`, sessionID))
		if err != nil {
			return err
		}
		now := req.Now
		if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) {
			res = &gatehouse.RotateResult{Outcome: gatehouse.Invalid, Session: sess}
			return nil
		}
		if usedAt.Valid {
			// A retired token. Within the grace window, and while the
			// successor is unused, it is a retry: answer the same.
			if now.Sub(fromMicros(usedAt.Int64)) <= req.Grace && successor != nil && !nextUsed.Valid {
				res = &gatehouse.RotateResult{Outcome: gatehouse.Replayed, Session: sess, SuccessorSealed: successor}
				return nil
			}
			// Otherwise two parties hold tokens of this family: end it.
			if err := revokeSessionTx(ctx, tx, sess.ID, "refresh token reuse", now); err != nil {
				return err
			}
			res = &gatehouse.RotateResult{Outcome: gatehouse.ReuseDetected, Session: sess}
			return nil
		}
		if !now.Before(fromMicros(expires)) {
			res = &gatehouse.RotateResult{Outcome: gatehouse.Invalid, Session: sess}
			return nil
		}
		n := req.New
		n.SessionID = sess.ID
		n.ExpiresAt = now.Add(req.IdleTTL)
		if n.ExpiresAt.After(sess.ExpiresAt) {
			n.ExpiresAt = sess.ExpiresAt
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = ?, replaced_by = ?, successor_sealed = ?
			WHERE hash = ? AND used_at IS NULL`, micros(now), n.Hash, req.SuccessorSealed, req.OldHash); err != nil {
			return fmt.Errorf("retire refresh token: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			n.Hash, n.SessionID, micros(n.CreatedAt), micros(n.ExpiresAt)); err != nil {
			return fmt.Errorf("insert refresh token: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET last_used_at = ? WHERE id = ?`, micros(now), sess.ID); err != nil {
			return fmt.Errorf("touch session: %w", err)
		}
		// Sealed successors are only needed for the grace window; drop
		// the ones of this session that are older than that.
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET successor_sealed = NULL
			WHERE session_id = ? AND successor_sealed IS NOT NULL AND used_at < ?`, sess.ID, micros(now.Add(-req.Grace))); err != nil {
			return fmt.Errorf("clear sealed successors: %w", err)
		}
		sess.LastUsedAt = now
		res = &gatehouse.RotateResult{Outcome: gatehouse.Rotated, Session: sess}
		return nil
	})
	return res, err
}

func revokeSessionTx(ctx context.Context, tx *sql.Tx, id, reason string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL`,
		micros(now), reason, id); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	// Refresh tokens of an ended session are useless; forget their sealed
	// successors at once.
	if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET successor_sealed = NULL WHERE session_id = ?`, id); err != nil {
		return fmt.Errorf("clear sealed successors: %w", err)
	}
	return nil
}

// ActiveSessions lists a user's live sessions, newest first.
func (s *Store) ActiveSessions(ctx context.Context, userID string, now time.Time) ([]gatehouse.Session, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions s
		WHERE s.user_id = ? AND s.revoked_at IS NULL AND s.expires_at > ?
		ORDER BY s.created_at DESC, s.id DESC LIMIT 1000`, userID, micros(now))
	if err != nil {
		return nil, fmt.Errorf("select sessions: %w", err)
	}
	defer rows.Close()
	var out []gatehouse.Session
	for rows.Next() {
		ss, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *ss)
	}
	return out, rows.Err()
}

// RevokeSession ends one session of a user.
func (s *Store) RevokeSession(ctx context.Context, id, userID, reason string, now time.Time) error {
	if err := checkText("reason", reason); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT user_id FROM sessions WHERE id = ?`, id).Scan(&owner)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && userID != "" && owner != userID) {
			return gatehouse.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("select session: %w", err)
		}
		return revokeSessionTx(ctx, tx, id, reason, now)
	})
}

// RevokeUserSessions ends every live session of a user but keep.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, keep, reason string, now time.Time) ([]string, error) {
	if err := checkText("reason", reason); err != nil {
		return nil, fmt.Errorf("revoke sessions: %w", err)
	}
	var ids []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND id != ?`, userID, keep)
		if err != nil {
			return fmt.Errorf("select sessions: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				_ = rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		_ = rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			if err := revokeSessionTx(ctx, tx, id, reason, now); err != nil {
				return err
			}
		}
		return nil
	})
	return ids, err
}

// RevokedSince lists sessions revoked at or after since, oldest first.
func (s *Store) RevokedSince(ctx context.Context, since time.Time) ([]gatehouse.RevokedSession, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, user_id, revoked_at FROM sessions
		WHERE revoked_at IS NOT NULL AND revoked_at >= ? ORDER BY revoked_at, id`, micros(since))
	if err != nil {
		return nil, fmt.Errorf("select revoked sessions: %w", err)
	}
	defer rows.Close()
	var out []gatehouse.RevokedSession
	for rows.Next() {
		var r gatehouse.RevokedSession
		var at int64
		if err := rows.Scan(&r.ID, &r.UserID, &at); err != nil {
			return nil, err
		}
		r.RevokedAt = fromMicros(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// CreateCookieSession stores a browser session keyed by its cookie's hash.
func (s *Store) CreateCookieSession(ctx context.Context, sess *gatehouse.Session, cookieHash []byte) error {
	if err := checkSessionText(sess); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions
		(id, user_id, created_at, last_used_at, expires_at, scope, client_ip, user_agent, cookie_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sess.ID, sess.UserID, micros(sess.CreatedAt), micros(sess.LastUsedAt), micros(sess.ExpiresAt),
		sess.Scope, sess.ClientIP, cleanUserAgent(sess.UserAgent), cookieHash)
	if err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// SessionByCookieHash finds a browser session by its cookie's hash.
func (s *Store) SessionByCookieHash(ctx context.Context, hash []byte) (*gatehouse.Session, error) {
	return oneSession(s.db.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.cookie_hash = ?`, hash))
}

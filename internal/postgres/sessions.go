package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Lock order. A transaction that writes a session and its refresh tokens
// locks the session row first, then the token rows: rotation does so with
// SELECT ... FOR UPDATE, revocation by updating the session before its
// tokens. Transactions that lock several sessions lock them in ID order.
// With one order there is no deadlock between rotation and revocation; the
// deadlock retry in tx is only a safety net.

func checkSessionText(sess *gatehouse.Session) error {
	return checkText("session id", sess.ID, "user id", sess.UserID, "scope", sess.Scope,
		"client ip", sess.ClientIP)
}

// CreateSession stores a new session and its first refresh token.
func (s *Store) CreateSession(ctx context.Context, sess *gatehouse.Session, t *gatehouse.RefreshToken) (err error) {
	defer s.done(&err)
	if err := checkSessionText(sess); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if err := checkText("refresh token session id", t.SessionID); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions
			(id, user_id, created_at, last_used_at, expires_at, scope, client_ip, user_agent)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			sess.ID, sess.UserID, ts(sess.CreatedAt), ts(sess.LastUsedAt), ts(sess.ExpiresAt),
			sess.Scope, sess.ClientIP, cleanUserAgent(sess.UserAgent)); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at)
			VALUES ($1, $2, $3, $4)`, t.Hash, t.SessionID, ts(t.CreatedAt), ts(t.ExpiresAt)); err != nil {
			return fmt.Errorf("insert refresh token: %w", err)
		}
		return nil
	})
}

const sessionColumns = `s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at, s.revoke_reason, s.scope, s.client_ip, s.user_agent`

func scanSession(row scanner) (*gatehouse.Session, error) {
	var ss gatehouse.Session
	var revoked sql.NullTime
	if err := row.Scan(&ss.ID, &ss.UserID, &ss.CreatedAt, &ss.LastUsedAt, &ss.ExpiresAt, &revoked,
		&ss.RevokeReason, &ss.Scope, &ss.ClientIP, &ss.UserAgent); err != nil {
		return nil, err
	}
	ss.CreatedAt, ss.LastUsedAt, ss.ExpiresAt = utc(ss.CreatedAt), utc(ss.LastUsedAt), utc(ss.ExpiresAt)
	ss.RevokedAt = nullUTC(revoked)
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
func (s *Store) SessionByID(ctx context.Context, id string) (ss *gatehouse.Session, err error) {
	defer s.done(&err)
	if !validText(id) {
		return nil, gatehouse.ErrNotFound
	}
	return oneSession(s.db.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = $1`, id))
}

// SessionByRefreshHash finds the session a refresh token belongs to.
func (s *Store) SessionByRefreshHash(ctx context.Context, hash []byte) (ss *gatehouse.Session, err error) {
	defer s.done(&err)
	return oneSession(s.db.QueryRowContext(ctx, `SELECT `+sessionColumns+`
		FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE rt.hash = $1`, hash))
}

// RotateRefreshToken implements the rotation rules of RFC 9700 §4.14.2 in
// one transaction.
//
// Concurrency: the transaction locks the token's session row (SELECT ...
// FOR UPDATE) before it reads the token, so every rotation, replay check
// and revocation of one session runs one at a time, across instances. The
// token is read by a statement after the lock, which at READ COMMITTED sees
// everything committed before the lock was granted: of concurrent calls
// with one token, the first finds it live and rotates it, and the others
// find it used (and get Replayed or ReuseDetected), so there is at most one
// successor. Reading the session ID before the lock is safe: a token never
// moves to another session.
func (s *Store) RotateRefreshToken(ctx context.Context, req gatehouse.RotateRequest) (res *gatehouse.RotateResult, err error) {
	defer s.done(&err)
	oldHash := req.OldHash
	now := ts(req.Now)
	err = s.tx(ctx, func(tx *sql.Tx) error {
		res = nil
		var sessionID string
		err := tx.QueryRowContext(ctx, `SELECT session_id FROM refresh_tokens WHERE hash = $1`, oldHash).Scan(&sessionID)
		if errors.Is(err, sql.ErrNoRows) {
			res = &gatehouse.RotateResult{Outcome: gatehouse.Invalid}
			return nil
		}
		if err != nil {
			return fmt.Errorf("select refresh token: %w", err)
		}
		sess, err := oneSession(tx.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = $1 FOR UPDATE`, sessionID))
		if errors.Is(err, gatehouse.ErrNotFound) {
			// Deleted (with its account) since the first read.
			res = &gatehouse.RotateResult{Outcome: gatehouse.Invalid}
			return nil
		}
		if err != nil {
			return err
		}
		var (
			expires    time.Time
			usedAt     sql.NullTime
			successor  []byte
			replacedBy []byte
		)
		err = tx.QueryRowContext(ctx, `SELECT expires_at, used_at, successor_sealed, replaced_by
			FROM refresh_tokens WHERE hash = $1 FOR UPDATE`, oldHash).Scan(&expires, &usedAt, &successor, &replacedBy)
		if errors.Is(err, sql.ErrNoRows) {
			// Deleted with its session after the first read.
			res = &gatehouse.RotateResult{Outcome: gatehouse.Invalid}
			return nil
		}
		if err != nil {
			return fmt.Errorf("select refresh token: %w", err)
		}
		if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) {
			res = &gatehouse.RotateResult{Outcome: gatehouse.Invalid, Session: sess}
			return nil
		}
		if usedAt.Valid {
			// A retired token. Within the grace window, and while the
			// successor is unused, it is a retry: answer the same.
			nextUsed := false
			if replacedBy != nil {
				var next sql.NullTime
				err := tx.QueryRowContext(ctx, `SELECT used_at FROM refresh_tokens WHERE hash = $1`, replacedBy).Scan(&next)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("select successor: %w", err)
				}
				nextUsed = next.Valid
			}
			if now.Sub(usedAt.Time) <= req.Grace && successor != nil && !nextUsed {
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
		if !now.Before(expires) {
			res = &gatehouse.RotateResult{Outcome: gatehouse.Invalid, Session: sess}
			return nil
		}
		n := req.New
		n.SessionID = sess.ID
		n.ExpiresAt = now.Add(req.IdleTTL)
		if n.ExpiresAt.After(sess.ExpiresAt) {
			n.ExpiresAt = sess.ExpiresAt
		}
		r, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = $1, replaced_by = $2, successor_sealed = $3
			WHERE hash = $4 AND used_at IS NULL`, now, n.Hash, req.SuccessorSealed, oldHash)
		if err != nil {
			return fmt.Errorf("retire refresh token: %w", err)
		}
		if k, err := r.RowsAffected(); err != nil {
			return err
		} else if k != 1 {
			// Cannot happen under the session lock; refuse rather than
			// store a second successor.
			return errors.New("retire refresh token: the token changed under the session lock")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			n.Hash, n.SessionID, ts(n.CreatedAt), ts(n.ExpiresAt)); err != nil {
			return fmt.Errorf("insert refresh token: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET last_used_at = $1 WHERE id = $2`, now, sess.ID); err != nil {
			return fmt.Errorf("touch session: %w", err)
		}
		// Sealed successors are only needed for the grace window; drop
		// the ones of this session that are older than that.
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET successor_sealed = NULL
			WHERE session_id = $1 AND successor_sealed IS NOT NULL AND used_at < $2`, sess.ID, clampTS(now.Add(-req.Grace))); err != nil {
			return fmt.Errorf("clear sealed successors: %w", err)
		}
		sess.LastUsedAt = now
		res = &gatehouse.RotateResult{Outcome: gatehouse.Rotated, Session: sess}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// revokeSessionTx ends a session (keeping the first revocation time) and
// forgets the sealed successors of its tokens. It updates the session row
// before the token rows (the lock order).
func revokeSessionTx(ctx context.Context, tx *sql.Tx, id, reason string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL`,
		ts(now), reason, id); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	// Refresh tokens of an ended session are useless; forget their sealed
	// successors at once.
	if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET successor_sealed = NULL WHERE session_id = $1 AND successor_sealed IS NOT NULL`, id); err != nil {
		return fmt.Errorf("clear sealed successors: %w", err)
	}
	return nil
}

// ActiveSessions lists a user's live sessions, newest first.
func (s *Store) ActiveSessions(ctx context.Context, userID string, now time.Time) (out []gatehouse.Session, err error) {
	defer s.done(&err)
	if !validText(userID) {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions s
		WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2
		ORDER BY s.created_at DESC, s.id DESC LIMIT 1000`, userID, clampTS(now))
	if err != nil {
		return nil, fmt.Errorf("select sessions: %w", err)
	}
	defer rows.Close()
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
func (s *Store) RevokeSession(ctx context.Context, id, userID, reason string, now time.Time) (err error) {
	defer s.done(&err)
	if err := checkText("reason", reason); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	if !validText(id) || !validText(userID) {
		return gatehouse.ErrNotFound
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT user_id FROM sessions WHERE id = $1 FOR UPDATE`, id).Scan(&owner)
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
func (s *Store) RevokeUserSessions(ctx context.Context, userID, keep, reason string, now time.Time) (ids []string, err error) {
	defer s.done(&err)
	if err := checkText("reason", reason); err != nil {
		return nil, fmt.Errorf("revoke sessions: %w", err)
	}
	if !validText(userID) {
		return nil, nil
	}
	if !validText(keep) {
		keep = "" // names no session, as "" does
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		ids = nil
		// Lock the sessions in ID order (the lock order), then end them.
		rows, err := tx.QueryContext(ctx, `SELECT id FROM sessions
			WHERE user_id = $1 AND revoked_at IS NULL AND id <> $2 ORDER BY id FOR UPDATE`, userID, keep)
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
			return fmt.Errorf("select sessions: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE id = ANY($3::text[])`,
			ts(now), reason, ids); err != nil {
			return fmt.Errorf("revoke sessions: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET successor_sealed = NULL
			WHERE session_id = ANY($1::text[]) AND successor_sealed IS NOT NULL`, ids); err != nil {
			return fmt.Errorf("clear sealed successors: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// RevokedSince lists sessions revoked at or after since, oldest first.
func (s *Store) RevokedSince(ctx context.Context, since time.Time) (out []gatehouse.RevokedSession, err error) {
	defer s.done(&err)
	rows, err := s.db.QueryContext(ctx, `SELECT id, user_id, revoked_at FROM sessions
		WHERE revoked_at IS NOT NULL AND revoked_at >= $1 ORDER BY revoked_at, id`, clampTS(since))
	if err != nil {
		return nil, fmt.Errorf("select revoked sessions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r gatehouse.RevokedSession
		if err := rows.Scan(&r.ID, &r.UserID, &r.RevokedAt); err != nil {
			return nil, err
		}
		r.RevokedAt = utc(r.RevokedAt)
		out = append(out, r)
	}
	return out, rows.Err()
}

// CreateCookieSession stores a browser session keyed by its cookie's hash.
func (s *Store) CreateCookieSession(ctx context.Context, sess *gatehouse.Session, cookieHash []byte) (err error) {
	defer s.done(&err)
	if err := checkSessionText(sess); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO sessions
		(id, user_id, created_at, last_used_at, expires_at, scope, client_ip, user_agent, cookie_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		sess.ID, sess.UserID, ts(sess.CreatedAt), ts(sess.LastUsedAt), ts(sess.ExpiresAt),
		sess.Scope, sess.ClientIP, cleanUserAgent(sess.UserAgent), cookieHash)
	if err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// SessionByCookieHash finds a browser session by its cookie's hash.
func (s *Store) SessionByCookieHash(ctx context.Context, hash []byte) (ss *gatehouse.Session, err error) {
	defer s.done(&err)
	return oneSession(s.db.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.cookie_hash = $1`, hash))
}

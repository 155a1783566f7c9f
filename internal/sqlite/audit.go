package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

var _ gatehouse.AuditStore = (*Store)(nil)

// cleanAuditEvent makes every text of e storable before it is sealed: an
// audit event is not refused for bytes an attacker chose (a username that
// is not UTF-8), and the seal must cover exactly what reads back. JSON
// would rewrite invalid UTF-8 in Detail, and a nil Detail is stored as {}
// and reads back as an empty map, so either would break the chain at
// verification. Text becomes valid as in cleanUserAgent; the PostgreSQL
// store does the same.
func cleanAuditEvent(e *gatehouse.AuditEvent) {
	e.Type, e.Actor, e.Subject = cleanUserAgent(e.Type), cleanUserAgent(e.Actor), cleanUserAgent(e.Subject)
	e.ClientIP, e.RequestID, e.Outcome = cleanUserAgent(e.ClientIP), cleanUserAgent(e.RequestID), cleanUserAgent(e.Outcome)
	d := make(map[string]string, len(e.Detail))
	for k, v := range e.Detail {
		d[cleanUserAgent(k)] = cleanUserAgent(v)
	}
	e.Detail = d
}

// AppendAudit inserts e at the end of the chain. BEGIN IMMEDIATE takes the
// write lock first, so two appends cannot read the same previous hash.
func (s *Store) AppendAudit(ctx context.Context, e *gatehouse.AuditEvent, seal func(*gatehouse.AuditEvent) []byte) error {
	cleanAuditEvent(e)
	detail, err := json.Marshal(e.Detail)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var last int64
		var prev []byte
		err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&last, &prev)
		if errors.Is(err, sql.ErrNoRows) {
			last, prev = 0, nil
			if err := tx.QueryRowContext(ctx, `SELECT hash FROM audit_anchor WHERE id = 1`).Scan(&prev); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("select audit anchor: %w", err)
			}
			// After a prune of everything, keep numbering after the
			// highest sequence ever used. A failed read fails the append:
			// numbering from 1 again would reuse pruned sequence numbers.
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(seq, 0) FROM sqlite_sequence WHERE name = 'audit_events'`).Scan(&last); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("select audit sequence: %w", err)
			}
		} else if err != nil {
			return fmt.Errorf("select last audit event: %w", err)
		}
		e.Seq, e.PrevHash = last+1, prev
		e.Time = e.Time.UTC().Truncate(time.Microsecond)
		e.Hash = seal(e)
		_, err = tx.ExecContext(ctx, `INSERT INTO audit_events
			(seq, at, type, actor, subject, client_ip, request_id, outcome, detail, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, micros(e.Time), e.Type, e.Actor, e.Subject, e.ClientIP, e.RequestID, e.Outcome, string(detail), e.PrevHash, e.Hash)
		if err != nil {
			return fmt.Errorf("insert audit event: %w", err)
		}
		return nil
	})
}

const auditColumns = `seq, at, type, actor, subject, client_ip, request_id, outcome, detail, prev_hash, hash`

func scanAudit(rows *sql.Rows) (*gatehouse.AuditEvent, error) {
	var e gatehouse.AuditEvent
	var at int64
	var detail string
	if err := rows.Scan(&e.Seq, &at, &e.Type, &e.Actor, &e.Subject, &e.ClientIP, &e.RequestID, &e.Outcome, &detail, &e.PrevHash, &e.Hash); err != nil {
		return nil, err
	}
	e.Time = fromMicros(at)
	if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
		// A row whose detail no longer parses was tampered with; keep
		// the raw text so verification reports the broken link.
		e.Detail = map[string]string{"_raw": detail}
	}
	return &e, nil
}

// AuditEvents returns events matching f in Seq order; a Limit of 0 or less
// returns them all.
func (s *Store) AuditEvents(ctx context.Context, f gatehouse.AuditFilter) ([]gatehouse.AuditEvent, error) {
	where := []string{"seq > ?"}
	args := []any{f.AfterSeq}
	if f.Type != "" {
		where, args = append(where, "type = ?"), append(args, f.Type)
	}
	if f.UserID != "" {
		where, args = append(where, "(actor = ? OR subject = ?)"), append(args, f.UserID, f.UserID)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, micros(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "at < ?"), append(args, micros(f.Until))
	}
	limit := int64(-1) // SQLite: no limit
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	args = append(args, limit)
	// Only fixed clauses with placeholders are joined; no input reaches
	// the SQL text.
	rows, err := s.db.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events WHERE `+strings.Join(where, " AND ")+` ORDER BY seq LIMIT ?`, args...) // #nosec G202 -- constant clauses with placeholders only
	if err != nil {
		return nil, fmt.Errorf("select audit events: %w", err)
	}
	defer rows.Close()
	var out []gatehouse.AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

// WalkAudit calls fn for every event in order, reading in a single
// transaction so the walk sees one consistent chain.
func (s *Store) WalkAudit(ctx context.Context, fn func(anchor []byte, e *gatehouse.AuditEvent) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var anchor []byte
	if err := tx.QueryRowContext(ctx, `SELECT hash FROM audit_anchor WHERE id = 1`).Scan(&anchor); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("select audit anchor: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("select audit events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return err
		}
		if err := fn(anchor, e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PruneAudit deletes events older than before; the hash of the newest
// deleted event becomes the anchor the remaining chain starts from.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	var n int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var lastSeq int64
		var lastHash []byte
		err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_events WHERE at < ? ORDER BY seq DESC LIMIT 1`, micros(before)).Scan(&lastSeq, &lastHash)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_events WHERE seq <= ?`, lastSeq)
		if err != nil {
			return fmt.Errorf("prune audit events: %w", err)
		}
		k, _ := res.RowsAffected()
		n = int(k)
		_, err = tx.ExecContext(ctx, `INSERT INTO audit_anchor (id, hash) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET hash = excluded.hash`, lastHash)
		return err
	})
	return n, err
}

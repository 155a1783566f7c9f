// Package audit keeps gatehouse's security audit trail: append-only events
// in the store, each sealed with an HMAC over the previous event's seal and
// all of its own fields. Changing, deleting or reordering any event, or
// inserting one, breaks the chain at that point, and without the
// key-encryption key nobody can forge a consistent chain (OWASP ASVS 5.0
// §16.4.2: logs protected from modification).
package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Log appends to and verifies the audit trail.
type Log struct {
	store gatehouse.AuditStore
	key   []byte
	now   func() time.Time
}

// KeyLabel is the label under which the audit chain's key is derived from
// the key-encryption key (keys.KEK.Derive): every writer and verifier of
// one deployment must use the same.
const KeyLabel = "audit chain v1"

// New returns a Log over store, sealing with key (at least 32 bytes;
// gatehouse derives it from the key-encryption key, keys.KEK.Derive).
func New(store gatehouse.AuditStore, key []byte, now func() time.Time) (*Log, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("audit: key must have at least 32 bytes")
	}
	if now == nil {
		now = time.Now
	}
	return &Log{store: store, key: key, now: now}, nil
}

// sealed is the canonical form an event's seal covers. encoding/json
// writes struct fields in order and map keys sorted, so it is stable.
type sealed struct {
	Seq       int64             `json:"seq"`
	Time      int64             `json:"time"`
	Type      string            `json:"type"`
	Actor     string            `json:"actor"`
	Subject   string            `json:"subject"`
	ClientIP  string            `json:"client_ip"`
	RequestID string            `json:"request_id"`
	Outcome   string            `json:"outcome"`
	Detail    map[string]string `json:"detail"`
}

// Seal computes the HMAC of an event chained to its PrevHash.
func (l *Log) Seal(e *gatehouse.AuditEvent) []byte {
	body, _ := json.Marshal(sealed{e.Seq, e.Time.UnixMicro(), e.Type, e.Actor, e.Subject, e.ClientIP, e.RequestID, e.Outcome, e.Detail})
	m := hmac.New(sha256.New, l.key)
	m.Write(e.PrevHash)
	m.Write([]byte{0})
	m.Write(body)
	return m.Sum(nil)
}

// Append records e, filling Time when zero.
func (l *Log) Append(ctx context.Context, e *gatehouse.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	return l.store.AppendAudit(ctx, e, l.Seal)
}

// Result is the outcome of Verify.
type Result struct {
	Events   int   // events checked
	BrokenAt int64 // Seq of the first event whose link is broken; 0 when intact
	Reason   string
}

// Verify walks the whole chain and reports the first broken link.
func (l *Log) Verify(ctx context.Context) (Result, error) {
	var res Result
	var prev []byte
	var prevSeq int64
	first := true
	err := l.store.WalkAudit(ctx, func(anchor []byte, e *gatehouse.AuditEvent) error {
		if res.BrokenAt != 0 {
			return nil
		}
		res.Events++
		want := prev
		if first {
			want, first = anchor, false
		}
		switch {
		case !first && prevSeq != 0 && e.Seq != prevSeq+1:
			res.BrokenAt, res.Reason = e.Seq, fmt.Sprintf("event %d follows %d: events are missing", e.Seq, prevSeq)
		case !bytes.Equal(e.PrevHash, want):
			res.BrokenAt, res.Reason = e.Seq, "does not chain from the event before it"
		case !hmac.Equal(e.Hash, l.Seal(e)):
			res.BrokenAt, res.Reason = e.Seq, "its contents do not match its seal"
		}
		prev, prevSeq = e.Hash, e.Seq
		return nil
	})
	return res, err
}

// Prune deletes events older than the retention period; the chain stays
// verifiable from the anchor.
func (l *Log) Prune(ctx context.Context, retention time.Duration) (int, error) {
	return l.store.PruneAudit(ctx, l.now().Add(-retention))
}

package audit_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

func newLog(t *testing.T) (*audit.Log, *sql.DB, *time.Time) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	store, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	l, err := audit.New(store, []byte(strings.Repeat("k", 32)), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return l, raw, &now
}

func appendN(t *testing.T, l *audit.Log, now *time.Time, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		*now = now.Add(time.Hour)
		if err := l.Append(context.Background(), &gatehouse.AuditEvent{Type: "login_success", Actor: "u1", Outcome: "success", Detail: map[string]string{"i": string(rune('a' + i))}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTamperingIsDetected changes, deletes and reorders rows behind the
// log's back, one attack per subtest, and expects Verify to name the
// first broken event.
func TestTamperingIsDetected(t *testing.T) {
	attacks := []struct {
		name   string
		sql    string
		broken int64
	}{
		{"change a type", `UPDATE audit_events SET type = 'nothing' WHERE seq = 3`, 3},
		{"change the actor", `UPDATE audit_events SET actor = 'someone-else' WHERE seq = 2`, 2},
		{"change the time", `UPDATE audit_events SET at = at + 1 WHERE seq = 4`, 4},
		{"change the detail", `UPDATE audit_events SET detail = '{"i":"z"}' WHERE seq = 1`, 1},
		{"delete a row", `DELETE FROM audit_events WHERE seq = 3`, 4},
		{"delete the last row and re-add it with a new hash", `UPDATE audit_events SET hash = x'00' WHERE seq = 5`, 5},
		{"swap two rows' hashes", `UPDATE audit_events SET hash = (SELECT hash FROM audit_events WHERE seq = 2) WHERE seq = 3`, 3},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			l, raw, now := newLog(t)
			appendN(t, l, now, 5)
			if res, err := l.Verify(context.Background()); err != nil || res.BrokenAt != 0 || res.Events != 5 {
				t.Fatalf("before tampering: got %+v, %v; want 5 intact events", res, err)
			}
			if _, err := raw.Exec(a.sql); err != nil {
				t.Fatal(err)
			}
			res, err := l.Verify(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.BrokenAt != a.broken {
				t.Errorf("got broken at %d (%s), want %d", res.BrokenAt, res.Reason, a.broken)
			}
		})
	}
}

// TestPruneKeepsChainVerifiable: after pruning old events the rest still
// verifies from the anchor, new events chain on, and tampering with the
// anchor is detected.
func TestPruneKeepsChainVerifiable(t *testing.T) {
	l, raw, now := newLog(t)
	appendN(t, l, now, 6) // hours 1..6
	n, err := l.Prune(context.Background(), 3*time.Hour-time.Minute)
	if err != nil || n != 3 {
		t.Fatalf("prune: got %d, %v; want 3", n, err)
	}
	appendN(t, l, now, 2)
	res, err := l.Verify(context.Background())
	if err != nil || res.BrokenAt != 0 || res.Events != 5 {
		t.Fatalf("after prune: got %+v, %v; want 5 intact events", res, err)
	}
	if _, err := raw.Exec(`UPDATE audit_anchor SET hash = x'01'`); err != nil {
		t.Fatal(err)
	}
	if res, _ := l.Verify(context.Background()); res.BrokenAt != 4 {
		t.Errorf("forged anchor: got broken at %d, want 4", res.BrokenAt)
	}
}

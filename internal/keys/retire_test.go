package keys_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

// TestRetirement: after a rotation the old key stays published until every
// token it could have signed has expired, then is retired automatically.
func TestRetirement(t *testing.T) {
	dir := t.TempDir()
	store, err := sqlite.Open(filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	kek, _, err := keys.LoadKEK("", "", dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ring := keys.NewRing(store, kek, clock)
	ring.SetRetireAfter(16 * time.Minute)
	if _, err := ring.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	oldKid, _, _ := ring.Signer()

	now = now.Add(time.Hour)
	k, err := ring.Rotate(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if kid, _, _ := ring.Signer(); kid != k.ID {
		t.Fatalf("active key: got %s, want the new %s", kid, k.ID)
	}
	steps := []struct {
		after     time.Duration
		published bool
	}{
		{0, true},
		{15 * time.Minute, true},
		{16*time.Minute - time.Second, true},
		{16 * time.Minute, false},
	}
	rotatedAt := now
	for _, s := range steps {
		now = rotatedAt.Add(s.after)
		if err := ring.Load(ctx); err != nil {
			t.Fatal(err)
		}
		if _, ok := ring.PublicKey(oldKid); ok != s.published {
			t.Errorf("%v after rotation: old key published=%v, want %v", s.after, ok, s.published)
		}
	}
	// Retired in the store, so another instance loading fresh agrees.
	other := keys.NewRing(store, kek, clock)
	if err := other.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := other.PublicKey(oldKid); ok {
		t.Errorf("a fresh ring still publishes the retired key")
	}
	if len(other.Keys()) != 1 {
		t.Errorf("published keys: got %d, want 1", len(other.Keys()))
	}

	// A key made to activate later is published at once but signs only
	// from its activation time.
	pending, err := ring.Rotate(ctx, now.Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ring.PublicKey(pending.ID); !ok {
		t.Errorf("pending key not published")
	}
	if kid, _, _ := ring.Signer(); kid == pending.ID {
		t.Errorf("pending key signs before its activation")
	}
	now = now.Add(10 * time.Minute)
	ring.Load(ctx)
	if kid, _, _ := ring.Signer(); kid != pending.ID {
		t.Errorf("after activation: got %s, want %s", kid, pending.ID)
	}
}

package keys_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/keys"
)

// TestReloadOnUnknownKid: two rings on one store, as two instances. A key
// rotated through one is found by the other on the first lookup of its
// kid, without waiting for a poll; made-up kids reload at most once per
// interval.
func TestReloadOnUnknownKid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	storeA := openKeyStore(t, path)
	storeB := openKeyStore(t, path)
	kek := mustKEK(t, kekBytes)
	a := keys.NewRing(storeA, kek, nil)
	b := keys.NewRing(storeB, kek, nil)
	if _, err := a.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := b.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	var errs []error
	var mu sync.Mutex
	b.SetReloadOnUnknown(time.Hour, func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() })

	k, err := a.Rotate(t.Context(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if kid, _, _ := a.Signer(); kid != k.ID {
		t.Fatalf("A signs with %s, want the new key %s", kid, k.ID)
	}
	// Concurrent lookups: one reloads, the others wait for it and all
	// find the key.
	var wg sync.WaitGroup
	found := make(chan bool, 8)
	for range 8 {
		wg.Go(func() {
			_, ok := b.PublicKey(k.ID)
			found <- ok
		})
	}
	wg.Wait()
	close(found)
	for ok := range found {
		if !ok {
			t.Fatalf("B PublicKey(new kid): got false, want true without waiting for a poll")
		}
	}
	if kid, _, _ := b.Signer(); kid != k.ID {
		t.Errorf("B signs with %s after the reload, want %s", kid, k.ID)
	}

	// A second rotation within the interval is not looked up again: the
	// reload bound holds for made-up and real kids alike, and the poll
	// picks the key up.
	k2, err := a.Rotate(t.Context(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.PublicKey("made-up-kid"); ok {
		t.Errorf("PublicKey(made-up-kid): got true, want false")
	}
	if _, ok := b.PublicKey(k2.ID); ok {
		t.Errorf("PublicKey within the reload interval: got true, want false (at most one reload per interval)")
	}

	// Off (the default): an unknown kid is not looked up.
	c := keys.NewRing(storeB, kek, nil)
	if err := c.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	k3, err := a.Rotate(t.Context(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.PublicKey(k3.ID); ok {
		t.Errorf("PublicKey without SetReloadOnUnknown: got true, want false")
	}

	// A failing reload is reported and the last good keys stay.
	storeB.Close()
	d := keys.NewRing(storeB, kek, nil)
	d.SetReloadOnUnknown(time.Millisecond, func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() })
	if _, ok := d.PublicKey(k3.ID); ok {
		t.Errorf("PublicKey on a closed store: got true, want false")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 1 {
		t.Errorf("reload errors: got %v, want one error from the closed store", errs)
	}
}

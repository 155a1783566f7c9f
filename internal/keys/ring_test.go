package keys_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

// openKeyStore opens (and migrates) the SQLite database at path; it is
// closed when the test ends.
func openKeyStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func newKeyStore(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	return openKeyStore(t, path), path
}

// testClock is a settable clock, safe for the Poll goroutine.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var ringStart = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func storedKeys(t *testing.T, s gatehouse.KeyStore) []gatehouse.SigningKey {
	t.Helper()
	ks, err := s.SigningKeys(t.Context())
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	return ks
}

func mustSigner(t *testing.T, r *keys.Ring) (string, ed25519.PrivateKey) {
	t.Helper()
	kid, priv, err := r.Signer()
	if err != nil {
		t.Fatalf("Signer: %v", err)
	}
	return kid, priv
}

func TestThumbprint(t *testing.T) {
	// RFC 8037 Appendix A.1 (private key d), A.2 (public key x) and A.3
	// (its RFC 7638 thumbprint).
	tests := []struct {
		name string
		x    string
		d    string
		want string
	}{
		{
			name: "RFC 8037 A.3",
			x:    "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
			d:    "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
			want: "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := base64.RawURLEncoding.DecodeString(tt.x)
			if err != nil {
				t.Fatal(err)
			}
			if got := keys.Thumbprint(ed25519.PublicKey(x)); got != tt.want {
				t.Errorf("Thumbprint(%s) = %s, want %s", tt.x, got, tt.want)
			}
			d, err := base64.RawURLEncoding.DecodeString(tt.d)
			if err != nil {
				t.Fatal(err)
			}
			pub := ed25519.NewKeyFromSeed(d).Public().(ed25519.PublicKey)
			if got := keys.Thumbprint(pub); got != tt.want {
				t.Errorf("Thumbprint(public key of d) = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestRingEmpty(t *testing.T) {
	store, _ := newKeyStore(t)
	r := keys.NewRing(store, mustKEK(t, kekBytes), nil)
	tests := []struct {
		name string
		load bool
	}{
		{"before Load", false},
		{"after Load of an empty store", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.load {
				if err := r.Load(t.Context()); err != nil {
					t.Fatalf("Load: %v", err)
				}
			}
			if kid, key, err := r.Signer(); !errors.Is(err, keys.ErrNoKey) || kid != "" || key != nil {
				t.Errorf("Signer = %q, %v, %v, want ErrNoKey", kid, key, err)
			}
			if got := r.Keys(); len(got) != 0 {
				t.Errorf("Keys = %d keys, want 0", len(got))
			}
			if _, ok := r.PublicKey("anything"); ok {
				t.Errorf("PublicKey(anything): got found, want not found")
			}
		})
	}
}

func TestRingEnsure(t *testing.T) {
	store, path := newKeyStore(t)
	kek := mustKEK(t, kekBytes)
	clk := &testClock{t: ringStart}
	r := keys.NewRing(store, kek, clk.now)

	created, err := r.Ensure(t.Context())
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if !created {
		t.Errorf("first Ensure created = false, want true")
	}
	stored := storedKeys(t, store)
	if len(stored) != 1 {
		t.Fatalf("stored keys after Ensure = %d, want 1", len(stored))
	}
	k := stored[0]
	kid, priv := mustSigner(t, r)
	pub := priv.Public().(ed25519.PublicKey)
	if kid != k.ID {
		t.Errorf("Signer kid = %q, want the stored key %q", kid, k.ID)
	}
	if want := keys.Thumbprint(pub); kid != want {
		t.Errorf("kid = %q, want the thumbprint %q", kid, want)
	}
	if k.Algorithm != keys.Algorithm || !bytes.Equal(k.PublicKey, pub) {
		t.Errorf("stored key = %s %x, want %s %x", k.Algorithm, k.PublicKey, keys.Algorithm, pub)
	}
	if !k.ActivatedAt.Equal(ringStart) || !k.CreatedAt.Equal(ringStart) {
		t.Errorf("stored key times = %v, %v, want %v", k.CreatedAt, k.ActivatedAt, ringStart)
	}
	// The private key is stored sealed only.
	if bytes.Contains(k.PrivateKeyEnc, priv.Seed()) {
		t.Errorf("stored private key: got the seed in clear, want it sealed")
	}
	if seed, err := kek.Open(k.ID, k.PrivateKeyEnc); err != nil || !bytes.Equal(seed, priv.Seed()) {
		t.Errorf("Open(stored private key) = %v, want the signer's seed", err)
	}

	// Signer, PublicKey and Keys agree.
	msg := []byte("signing input")
	got, ok := r.PublicKey(kid)
	if !ok || !ed25519.Verify(got, msg, ed25519.Sign(priv, msg)) {
		t.Errorf("PublicKey(%q) = %x, %v, want the key that verifies the signer's signatures", kid, got, ok)
	}
	if ks := r.Keys(); len(ks) != 1 || ks[0].ID != kid {
		t.Errorf("Keys = %v, want [%s]", ids(ks), kid)
	}

	tests := []struct {
		name string
		ring func() *keys.Ring
	}{
		{"same ring", func() *keys.Ring { return r }},
		{"new ring", func() *keys.Ring { return keys.NewRing(store, kek, clk.now) }},
		{"ring on another connection", func() *keys.Ring { return keys.NewRing(openKeyStore(t, path), kek, clk.now) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.ring()
			created, err := r.Ensure(t.Context())
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			if created {
				t.Errorf("Ensure created = true, want false")
			}
			if n := len(storedKeys(t, store)); n != 1 {
				t.Errorf("stored keys = %d, want 1", n)
			}
			if got, _ := mustSigner(t, r); got != kid {
				t.Errorf("Signer kid = %q, want %q", got, kid)
			}
		})
	}
}

func ids(ks []gatehouse.SigningKey) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.ID)
	}
	return out
}

func TestRingRotate(t *testing.T) {
	store, _ := newKeyStore(t)
	clk := &testClock{t: ringStart}
	r := keys.NewRing(store, mustKEK(t, kekBytes), clk.now)
	if _, err := r.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	first, _ := mustSigner(t, r)

	clk.add(time.Hour)
	k, err := r.Rotate(t.Context(), time.Time{})
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if !k.ActivatedAt.Equal(clk.now()) {
		t.Errorf("rotated key ActivatedAt = %v, want now %v", k.ActivatedAt, clk.now())
	}
	second, priv := mustSigner(t, r)
	if second != k.ID || second == first {
		t.Errorf("Signer kid after Rotate = %q, want the new key %q (not %q)", second, k.ID, first)
	}
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), k.PublicKey) {
		t.Errorf("Signer key: got another public key than the rotated one")
	}
	if _, ok := r.PublicKey(first); !ok {
		t.Errorf("PublicKey(old %q): got not found, want still published", first)
	}
	if got, want := ids(r.Keys()), []string{second, first}; !slices.Equal(got, want) {
		t.Errorf("Keys = %q, want newest first %q", got, want)
	}

	// A key that activates later is published now but signs only from its
	// activation time.
	at := clk.now().Add(10 * time.Minute)
	pending, err := r.Rotate(t.Context(), at)
	if err != nil {
		t.Fatalf("Rotate(future): %v", err)
	}
	if !pending.ActivatedAt.Equal(at) {
		t.Errorf("pending ActivatedAt = %v, want %v", pending.ActivatedAt, at)
	}
	steps := []struct {
		name       string
		advance    time.Duration
		wantActive string
	}{
		{"just made", 0, second},
		{"a second early", 10*time.Minute - time.Second, second},
		{"at activation", time.Second, pending.ID},
		{"later", time.Hour, pending.ID},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			clk.add(st.advance)
			if err := r.Load(t.Context()); err != nil {
				t.Fatalf("Load: %v", err)
			}
			if kid, _ := mustSigner(t, r); kid != st.wantActive {
				t.Errorf("Signer kid = %q, want %q", kid, st.wantActive)
			}
			for _, kid := range []string{first, second, pending.ID} {
				if _, ok := r.PublicKey(kid); !ok {
					t.Errorf("PublicKey(%q): got not found, want published", kid)
				}
			}
			if n := len(r.Keys()); n != 3 {
				t.Errorf("Keys = %d keys, want 3", n)
			}
		})
	}
}

// A Ring on a database whose keys were sealed with another KEK refuses to
// load, and Ensure does not paper over it with a new key.
func TestRingWrongKEK(t *testing.T) {
	store, _ := newKeyStore(t)
	good := keys.NewRing(store, mustKEK(t, kekBytes), nil)
	if _, err := good.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	wrong := mustKEK(t, bytes.Repeat([]byte{1}, 32))
	tests := []struct {
		name string
		call func(r *keys.Ring) error
	}{
		{"Load", func(r *keys.Ring) error { return r.Load(t.Context()) }},
		{"Ensure", func(r *keys.Ring) error { _, err := r.Ensure(t.Context()); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := keys.NewRing(store, wrong, nil)
			if err := tt.call(r); !errors.Is(err, keys.ErrUnseal) {
				t.Errorf("%s: got %v, want ErrUnseal", tt.name, err)
			}
			if _, _, err := r.Signer(); !errors.Is(err, keys.ErrNoKey) {
				t.Errorf("Signer: got %v, want ErrNoKey", err)
			}
			if n := len(storedKeys(t, store)); n != 1 {
				t.Errorf("stored keys = %d, want 1", n)
			}
		})
	}
}

// Rows that were tampered with, or that gatehouse cannot use, never become
// the signing key.
func TestRingBadRows(t *testing.T) {
	kek := mustKEK(t, kekBytes)
	seedA := bytes.Repeat([]byte{0xa}, ed25519.SeedSize)
	pubA := ed25519.NewKeyFromSeed(seedA).Public().(ed25519.PublicKey)
	pubB := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0xb}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	kidA, kidB := keys.Thumbprint(pubA), keys.Thumbprint(pubB)
	row := func(id string, pub []byte, sealed []byte) gatehouse.SigningKey {
		return gatehouse.SigningKey{ID: id, Algorithm: keys.Algorithm, PublicKey: pub, PrivateKeyEnc: sealed, CreatedAt: ringStart, ActivatedAt: ringStart}
	}
	tests := []struct {
		name          string
		row           gatehouse.SigningKey
		wantErr       error // nil: any error
		wantPublished bool
	}{
		{"sealed for another row", row(kidB, pubB, kek.Seal(kidA, seedA)), keys.ErrUnseal, false},
		{"private key of another public key", row(kidB, pubB, kek.Seal(kidB, seedA)), nil, false},
		{"short private key", row(kidA, pubA, kek.Seal(kidA, seedA[:16])), nil, false},
		{"garbage", row(kidA, pubA, []byte("not sealed at all, just bytes")), keys.ErrUnseal, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, _ := newKeyStore(t)
			if err := store.CreateSigningKey(t.Context(), &tt.row); err != nil {
				t.Fatal(err)
			}
			r := keys.NewRing(store, kek, func() time.Time { return ringStart })
			err := r.Load(t.Context())
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("Load: got %v, want %v", err, tt.wantErr)
			}
			if _, _, err := r.Signer(); !errors.Is(err, keys.ErrNoKey) {
				t.Errorf("Signer: got %v, want ErrNoKey", err)
			}
		})
	}
}

// A key of another algorithm or size is neither published nor used.
func TestRingSkipsForeignKeys(t *testing.T) {
	store, _ := newKeyStore(t)
	kek := mustKEK(t, kekBytes)
	r := keys.NewRing(store, kek, func() time.Time { return ringStart })
	if _, err := r.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	good, _ := mustSigner(t, r)
	foreign := []gatehouse.SigningKey{
		{ID: "rsa", Algorithm: "RS256", PublicKey: bytes.Repeat([]byte{1}, 32), PrivateKeyEnc: []byte("x"), ActivatedAt: ringStart.Add(time.Second)},
		{ID: "short", Algorithm: keys.Algorithm, PublicKey: []byte{1, 2, 3}, PrivateKeyEnc: []byte("x"), ActivatedAt: ringStart.Add(time.Second)},
	}
	for _, k := range foreign {
		if err := store.CreateSigningKey(t.Context(), &k); err != nil {
			t.Fatal(err)
		}
	}
	clk := func() time.Time { return ringStart.Add(time.Minute) }
	r = keys.NewRing(store, kek, clk)
	if err := r.Load(t.Context()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if kid, _ := mustSigner(t, r); kid != good {
		t.Errorf("Signer kid = %q, want %q", kid, good)
	}
	for _, k := range foreign {
		if _, ok := r.PublicKey(k.ID); ok {
			t.Errorf("PublicKey(%q): got published, want skipped", k.ID)
		}
	}
}

// waitFor polls cond until it holds or the deadline passes; it makes no
// assertion about how long that takes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: gave up after 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRingPoll(t *testing.T) {
	store, path := newKeyStore(t)
	kek := mustKEK(t, kekBytes)
	a := keys.NewRing(store, kek, nil)
	if _, err := a.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	old, _ := mustSigner(t, a)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	var errs []error
	var mu sync.Mutex
	go func() {
		defer close(done)
		a.Poll(ctx, 10*time.Millisecond, func(err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}()

	// Another instance (its own connection and ring) rotates.
	b := keys.NewRing(openKeyStore(t, path), kek, nil)
	k, err := b.Rotate(t.Context(), time.Time{})
	if err != nil {
		t.Fatalf("Rotate on the second ring: %v", err)
	}
	waitFor(t, "the first ring to pick up the new key", func() bool {
		kid, _, err := a.Signer()
		return err == nil && kid == k.ID
	})
	if _, ok := a.PublicKey(old); !ok {
		t.Errorf("PublicKey(old %q) after Poll: got not found, want still published", old)
	}
	cancel()
	<-done // Poll returns once its context ends
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 0 {
		t.Errorf("Poll errors = %v, want none", errs)
	}
}

// When the store fails, Poll reports the error and the ring keeps its last
// good keys.
func TestRingPollError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	first := openKeyStore(t, path)
	kek := mustKEK(t, kekBytes)
	if _, err := keys.NewRing(first, kek, nil).Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r := keys.NewRing(store, kek, nil)
	if err := r.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	kid, _ := mustSigner(t, r)
	store.Close() // every later Load fails

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Poll(ctx, 10*time.Millisecond, func(err error) {
			select {
			case errc <- err:
			default:
			}
		})
	}()
	defer func() { cancel(); <-done }()
	select {
	case err := <-errc:
		if err == nil {
			t.Errorf("onErr(nil), want an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("onErr: not called after 10s, want a call")
	}
	if got, _ := mustSigner(t, r); got != kid {
		t.Errorf("Signer kid after a failed Load = %q, want the last good %q", got, kid)
	}
}

// Concurrent readers see a consistent ring while another goroutine rotates
// (run with -race).
func TestRingConcurrentUse(t *testing.T) {
	store, _ := newKeyStore(t)
	r := keys.NewRing(store, mustKEK(t, kekBytes), nil)
	if _, err := r.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				kid, priv, err := r.Signer()
				if err != nil {
					t.Errorf("Signer: %v", err)
					return
				}
				pub, ok := r.PublicKey(kid)
				if !ok || !pub.Equal(priv.Public()) {
					t.Errorf("PublicKey(%q) = %v: got no match for the signer, want it", kid, ok)
					return
				}
			}
		})
	}
	for range 5 {
		if _, err := r.Rotate(t.Context(), time.Time{}); err != nil {
			t.Errorf("Rotate: %v", err)
		}
	}
	wg.Wait()
}

package keys

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Algorithm is the only JWS algorithm gatehouse signs with (RFC 8037).
const Algorithm = "EdDSA"

// Ring holds the signing keys of a deployment as last read from the store.
// Reads are lock-free; Load swaps in a new snapshot.
type Ring struct {
	store gatehouse.KeyStore
	kek   *KEK
	now   gatehouse.Clock

	mu   sync.Mutex // serializes Load and Rotate
	snap atomic.Pointer[snapshot]

	// retireAfter is how long a key stays published after a newer key
	// became active: the longest a token it signed can remain valid.
	retireAfter time.Duration

	// Reload on an unknown kid (SetReloadOnUnknown): missMu serializes
	// those reloads, lastMiss is when the last one started.
	missMu    sync.Mutex
	lastMiss  time.Time
	missEvery atomic.Int64 // time.Duration; 0: off
	missErr   func(error)
}

// SetReloadOnUnknown makes PublicKey reload the ring from the store when
// asked for a kid it does not hold, at most once per every (0 turns it
// off), and report a failed reload to onErr.
//
// Several instances share one store but poll it on their own clocks: after
// `gatehouse keys rotate`, or a rotation by another instance, one instance
// may sign with the new key while another has not read it yet and would
// refuse every token it signs until its next poll. Reloading on the first
// unknown kid closes that window to one store round trip. The bound keeps
// a client that sends tokens with made-up kids from turning each request
// into a store query: it costs at most one reload per interval, and a kid
// the reload does not find is refused as before (fail closed).
func (r *Ring) SetReloadOnUnknown(every time.Duration, onErr func(error)) {
	r.missMu.Lock()
	r.missErr = onErr
	r.missMu.Unlock()
	r.missEvery.Store(int64(every))
}

// SetRetireAfter sets how long a superseded key stays published: at least
// the access-token lifetime plus the allowed clock skew. Zero never retires.
func (r *Ring) SetRetireAfter(d time.Duration) {
	r.mu.Lock()
	r.retireAfter = d
	r.mu.Unlock()
}

type snapshot struct {
	activeID string
	active   ed25519.PrivateKey
	public   map[string]ed25519.PublicKey
	keys     []gatehouse.SigningKey // newest first, private halves sealed
}

// NewRing returns an empty ring; call Ensure or Load before use.
func NewRing(store gatehouse.KeyStore, kek *KEK, now gatehouse.Clock) *Ring {
	if now == nil {
		now = time.Now
	}
	r := &Ring{store: store, kek: kek, now: now}
	r.snap.Store(&snapshot{public: map[string]ed25519.PublicKey{}})
	return r
}

// Thumbprint is the RFC 7638 JWK thumbprint of an Ed25519 public key, used
// as its kid: derived from the key, so it cannot collide or be chosen.
func Thumbprint(pub ed25519.PublicKey) string {
	// Members in lexicographic order, no whitespace (RFC 7638 §3.2, RFC 8037 §2).
	canon := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ErrNoKey means the store holds no usable signing key.
var ErrNoKey = errors.New("no active signing key")

// Load reads the keys from the store and opens the active private key. The
// active key is the newest one whose activation time has come.
func (r *Ring) Load(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.load(ctx)
}

func (r *Ring) load(ctx context.Context) error {
	keys, err := r.store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	now := r.now()
	s := &snapshot{public: make(map[string]ed25519.PublicKey, len(keys))}
	// keys are newest first, so keys[i-1] superseded keys[i]. A key is
	// retired once the key after it has been active for retireAfter: every
	// token it signed has expired by then.
	for i, k := range keys {
		if k.Algorithm != Algorithm || len(k.PublicKey) != ed25519.PublicKeySize {
			continue
		}
		if i > 0 && r.retireAfter > 0 && s.active != nil && !keys[i-1].ActivatedAt.After(now) &&
			!now.Before(keys[i-1].ActivatedAt.Add(r.retireAfter)) {
			if err := r.store.RetireSigningKey(ctx, k.ID, now); err != nil {
				return fmt.Errorf("retire signing key %s: %w", k.ID, err)
			}
			continue
		}
		s.keys = append(s.keys, k)
		s.public[k.ID] = ed25519.PublicKey(k.PublicKey)
		if s.active == nil && !k.ActivatedAt.After(now) {
			if old := r.snap.Load(); old.activeID == k.ID {
				s.activeID, s.active = old.activeID, old.active
				continue
			}
			seed, err := r.kek.Open(k.ID, k.PrivateKeyEnc)
			if err != nil {
				return fmt.Errorf("signing key %s: %w", k.ID, err)
			}
			if len(seed) != ed25519.SeedSize {
				return fmt.Errorf("signing key %s: bad private key size", k.ID)
			}
			priv := ed25519.NewKeyFromSeed(seed)
			if !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(k.PublicKey)) {
				return fmt.Errorf("signing key %s: private key does not match public key", k.ID)
			}
			s.activeID, s.active = k.ID, priv
		}
	}
	r.snap.Store(s)
	return nil
}

// Ensure loads the keys and creates a first one when there is none.
func (r *Ring) Ensure(ctx context.Context) (created bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.load(ctx); err != nil {
		return false, err
	}
	if r.snap.Load().active != nil {
		return false, nil
	}
	if _, err := r.create(ctx, r.now()); err != nil {
		return false, err
	}
	return true, r.load(ctx)
}

// Rotate creates a new key that becomes active at activateAt (now when
// zero) and reloads the ring.
func (r *Ring) Rotate(ctx context.Context, activateAt time.Time) (*gatehouse.SigningKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if activateAt.IsZero() {
		activateAt = r.now()
	}
	k, err := r.create(ctx, activateAt)
	if err != nil {
		return nil, err
	}
	return k, r.load(ctx)
}

func (r *Ring) create(ctx context.Context, activateAt time.Time) (*gatehouse.SigningKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	kid := Thumbprint(pub)
	k := &gatehouse.SigningKey{
		ID:            kid,
		Algorithm:     Algorithm,
		PublicKey:     pub,
		PrivateKeyEnc: r.kek.Seal(kid, priv.Seed()),
		CreatedAt:     r.now().UTC(),
		ActivatedAt:   activateAt.UTC(),
	}
	if err := r.store.CreateSigningKey(ctx, k); err != nil {
		return nil, err
	}
	return k, nil
}

// Signer returns the active key and its kid.
func (r *Ring) Signer() (kid string, key ed25519.PrivateKey, err error) {
	s := r.snap.Load()
	if s.active == nil {
		return "", nil, ErrNoKey
	}
	return s.activeID, s.active, nil
}

// PublicKey returns the published key with the given kid; it implements
// auth.KeySet.
func (r *Ring) PublicKey(kid string) (ed25519.PublicKey, bool) {
	k, ok := r.snap.Load().public[kid]
	if ok || r.missEvery.Load() == 0 {
		return k, ok
	}
	r.reloadUnknown()
	k, ok = r.snap.Load().public[kid]
	return k, ok
}

// missReloadTimeout bounds the wait of the request that triggers a reload
// on an unknown kid (and of those that arrive meanwhile).
const missReloadTimeout = 2 * time.Second

// reloadUnknown reloads the ring unless a reload for an unknown kid started
// within the interval. Callers that arrive during a reload wait for it
// (missMu) and then find its keys, rather than refusing a valid token
// because another request happened to trigger the reload.
func (r *Ring) reloadUnknown() {
	r.missMu.Lock()
	defer r.missMu.Unlock()
	// Monotonic wall time, not the ring's clock: this bounds store load,
	// which has nothing to do with key activation times.
	now := time.Now()
	if every := time.Duration(r.missEvery.Load()); !r.lastMiss.IsZero() && now.Sub(r.lastMiss) < every {
		return
	}
	r.lastMiss = now
	ctx, cancel := context.WithTimeout(context.Background(), missReloadTimeout)
	defer cancel()
	if err := r.Load(ctx); err != nil && r.missErr != nil {
		r.missErr(err)
	}
}

// Keys lists the published keys, newest first.
func (r *Ring) Keys() []gatehouse.SigningKey {
	return r.snap.Load().keys
}

// Poll reloads the ring every interval until ctx ends, so that a key made
// by `gatehouse keys rotate` or by another instance is picked up without a
// restart. Errors go to onErr and the last good keys stay in use.
func (r *Ring) Poll(ctx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Load(ctx); err != nil && ctx.Err() == nil && onErr != nil {
				onErr(err)
			}
		}
	}
}

package auth

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Errors from Verify. Use errors.Is: some are wrapped with the name of a
// claim. None ever contains any part of the token.
var (
	ErrNotConfigured = errors.New("auth: verifier not configured")
	ErrTooLarge      = errors.New("auth: token too large")
	ErrMalformed     = errors.New("auth: malformed token")
	ErrAlgorithm     = errors.New("auth: unsupported algorithm")
	ErrType          = errors.New("auth: not an access token (typ)")
	ErrCritical      = errors.New("auth: unsupported critical header")
	ErrUnknownKey    = errors.New("auth: unknown signing key")
	ErrSignature     = errors.New("auth: invalid signature")
	ErrIssuer        = errors.New("auth: wrong issuer")
	ErrAudience      = errors.New("auth: wrong audience")
	ErrMissingClaim  = errors.New("auth: missing required claim")
	ErrExpired       = errors.New("auth: token expired")
	ErrNotYetValid   = errors.New("auth: token not yet valid")
)

// Defaults and limits of a Verifier.
const (
	DefaultMaxTokenLen = 4096
	DefaultCacheSize   = 10000
	MaxLeeway          = 60 * time.Second
)

// A Verifier checks access tokens. Make one with NewVerifier; the zero value
// refuses every token with ErrNotConfigured. Its methods, setters included,
// are safe for concurrent use.
type Verifier struct {
	mu  sync.Mutex // serializes setters
	cfg atomic.Pointer[verifierConfig]

	stats [cacheShards]shardStats
}

// verifierConfig is immutable once published; setters publish a new one.
type verifierConfig struct {
	keys      KeySet
	issuer    string
	audience  string
	leeway    time.Duration
	now       func() time.Time
	maxLen    int
	cacheSize int
	cache     *cache // nil when caching is off
}

func (c *verifierConfig) clock() time.Time {
	if c.now == nil {
		return time.Now()
	}
	return c.now()
}

// NewVerifier returns a Verifier for tokens issued by issuer (compared
// exactly, RFC 8725 §3.8) for audience (one of the token's aud values, RFC
// 8725 §3.9), with keys from keys. It starts with no leeway, the real clock,
// DefaultMaxTokenLen and a cache of DefaultCacheSize tokens.
func NewVerifier(keys KeySet, issuer, audience string) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("auth: NewVerifier: nil KeySet")
	}
	if issuer == "" || audience == "" {
		return nil, errors.New("auth: NewVerifier: issuer and audience are required")
	}
	v := &Verifier{}
	v.cfg.Store(&verifierConfig{
		keys:      keys,
		issuer:    issuer,
		audience:  audience,
		maxLen:    DefaultMaxTokenLen,
		cacheSize: DefaultCacheSize,
		cache:     newCache(DefaultCacheSize),
	})
	return v, nil
}

// update publishes a changed copy of the configuration.
func (v *Verifier) update(f func(c *verifierConfig)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var c verifierConfig
	if old := v.cfg.Load(); old != nil {
		c = *old
	} else {
		c = verifierConfig{maxLen: DefaultMaxTokenLen}
	}
	f(&c)
	v.cfg.Store(&c)
}

// SetLeeway sets the clock skew allowed when checking exp, nbf and iat: from
// 0 (the default) to MaxLeeway. The contract caps it at 60 s because every
// second of leeway is a second in which an expired token still works.
func (v *Verifier) SetLeeway(d time.Duration) error {
	if d < 0 || d > MaxLeeway {
		return fmt.Errorf("auth: leeway %v outside 0 to %v", d, MaxLeeway)
	}
	v.update(func(c *verifierConfig) { c.leeway = d })
	return nil
}

// SetClock sets the function that gives the current time; nil means
// time.Now. Tests use it to check expiry without sleeping.
func (v *Verifier) SetClock(now func() time.Time) {
	v.update(func(c *verifierConfig) { c.now = now })
}

// SetMaxTokenLen sets the length above which a token is refused with
// ErrTooLarge before any decoding, so that an oversized header costs no
// memory or CPU. It must be from 256 to 65536 bytes.
func (v *Verifier) SetMaxTokenLen(n int) error {
	if n < 256 || n > 65536 {
		return fmt.Errorf("auth: max token length %d outside 256 to 65536", n)
	}
	v.update(func(c *verifierConfig) { c.maxLen = n })
	return nil
}

// SetCacheSize sets how many verified tokens are remembered, from 0 (no
// cache) to 1,000,000. Changing it empties the cache. The cache holds at
// most about n tokens of at most the maximum token length each.
func (v *Verifier) SetCacheSize(n int) error {
	if n < 0 || n > 1_000_000 {
		return fmt.Errorf("auth: cache size %d outside 0 to 1000000", n)
	}
	v.update(func(c *verifierConfig) {
		c.cacheSize = n
		c.cache = newCache(n)
	})
	return nil
}

// Verify checks token and returns its claims, or an error that matches one
// of the Err values with errors.Is.
//
// Tokens that pass are cached by their exact text. A cache hit skips the
// signature check only: exp, nbf and iat are checked again against the
// clock, and the key that verified the token must still be the one the
// KeySet returns for its kid, so that an expired token or a withdrawn key
// fails at once even when cached.
func (v *Verifier) Verify(token string) (*Claims, error) {
	cfg := v.cfg.Load()
	if cfg == nil || cfg.keys == nil || cfg.issuer == "" || cfg.audience == "" {
		return nil, ErrNotConfigured
	}
	// Size first, before any decoding or hashing: this bounds the memory
	// and CPU that an unauthenticated client can make a request cost.
	if len(token) > cfg.maxLen {
		return nil, ErrTooLarge
	}
	now := cfg.clock()
	if cfg.cache == nil {
		c, _, err := cfg.verify(token, now)
		return c, err
	}
	shard := cfg.cache.shard(token)
	st := &v.stats[shard]
	if e := cfg.cache.get(shard, token); e != nil {
		if err := cfg.checkTimes(e.claims, now); err != nil {
			st.hits.Add(1)
			cfg.cache.remove(shard, token)
			return nil, err
		}
		if pub, ok := cfg.keys.PublicKey(e.kid); ok && bytes.Equal(pub, e.key) {
			st.hits.Add(1)
			return e.claims.clone(), nil
		}
		// The key was withdrawn or replaced: forget the token and judge it
		// afresh, which gives the right error.
		cfg.cache.remove(shard, token)
	}
	st.misses.Add(1)
	c, e, err := cfg.verify(token, now)
	if err != nil {
		return nil, err
	}
	st.evictions.Add(uint64(cfg.cache.put(shard, token, e, cfg, now))) // #nosec G115 -- a count of deleted entries, never negative
	return c, nil
}

// b64url marks the bytes of the base64url alphabet (RFC 4648 §5).
var b64url = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['-'], t['_'] = true, true
	return t
}()

// verify does the full check of a token that is not cached. It returns the
// caller's claims and a cache entry that shares nothing with them.
func (cfg *verifierConfig) verify(token string, now time.Time) (*Claims, *cacheEntry, error) {
	// JWS compact serialization (RFC 7515 §7.1): exactly three non-empty
	// base64url segments. One pass over the bytes also refuses padding,
	// whitespace (which Go's base64 decoder would skip) and anything else.
	d1, d2 := -1, -1
	for i := 0; i < len(token); i++ {
		ch := token[i]
		if b64url[ch] {
			continue
		}
		if ch != '.' || d2 >= 0 {
			return nil, nil, ErrMalformed
		}
		if d1 < 0 {
			d1 = i
		} else {
			d2 = i
		}
	}
	if d2 < 0 || d1 == 0 || d2 == d1+1 || d2 == len(token)-1 {
		return nil, nil, ErrMalformed
	}

	// The protected header (RFC 7515 §5.2 steps 2-5), strictly: canonical
	// base64url, UTF-8, one object, no duplicate names.
	hb, err := b64.DecodeString(token[:d1])
	if err != nil {
		return nil, nil, ErrMalformed
	}
	h, err := decodeObject(hb)
	if err != nil {
		return nil, nil, ErrMalformed
	}
	// RFC 8725 §3.1: the algorithm is fixed by the verifier, never chosen by
	// the token. "none", HS256 keyed with the public key, RS256 and every
	// other value fail here, before any key is looked up.
	if alg, ok := jsonString(h["alg"]); !ok || alg != Algorithm {
		return nil, nil, ErrAlgorithm
	}
	// RFC 7515 §4.1.11: a recipient must refuse a token with a crit header
	// naming extensions it does not understand; this package understands
	// none, so any crit is refused.
	if _, ok := h["crit"]; ok {
		return nil, nil, ErrCritical
	}
	// RFC 9068 §4 and RFC 8725 §3.11: explicit typing keeps an ID token, a
	// logout token or any other JWT signed by the same key from passing as
	// an access token. A missing typ is refused too. The comparison is exact
	// (RFC 7515 §4.1.9 would allow case-insensitivity; gatehouse and every
	// RFC 9068 issuer write it in lowercase), so it fails closed.
	if typ, ok := jsonString(h["typ"]); !ok || typ != TokenType && typ != "application/"+TokenType {
		return nil, nil, ErrType
	}
	// The key comes only from the configured KeySet, selected by a kid of a
	// safe alphabet (RFC 8725 §3.10); jku, x5u, x5c and jwk are never read,
	// so a token cannot bring its own key.
	kid, ok := jsonString(h["kid"])
	if !ok || !validKID(kid) {
		return nil, nil, ErrUnknownKey
	}
	pub, ok := cfg.keys.PublicKey(kid)
	if !ok || len(pub) != ed25519.PublicKeySize { // ed25519.Verify panics on a bad key size
		return nil, nil, ErrUnknownKey
	}

	sig, err := b64.DecodeString(token[d2+1:])
	if err != nil {
		return nil, nil, ErrMalformed
	}
	// The signing input is the token's own bytes up to the second dot (RFC
	// 7515 §5.2 step 8). crypto/ed25519 rejects non-canonical S values, so
	// signatures are not malleable (RFC 8032 §5.1.7).
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, []byte(token[:d2]), sig) {
		return nil, nil, ErrSignature
	}

	// Only now, with the signature checked, is the payload parsed.
	pb, err := b64.DecodeString(token[d1+1 : d2])
	if err != nil {
		return nil, nil, ErrMalformed
	}
	m, err := decodeObject(pb)
	if err != nil {
		return nil, nil, ErrMalformed
	}
	c, err := claimsFrom(m)
	if err != nil {
		return nil, nil, ErrMalformed
	}
	if err := cfg.checkClaims(c, now); err != nil {
		return nil, nil, err
	}
	e := &cacheEntry{claims: c.clone(), kid: kid, key: slices.Clone(pub)}
	return c, e, nil
}

// checkClaims applies RFC 9068 §4 and RFC 8725 §3.8-3.9 to verified claims.
func (cfg *verifierConfig) checkClaims(c *Claims, now time.Time) error {
	if c.Issuer != cfg.issuer {
		return ErrIssuer
	}
	if !slices.Contains(c.Audience, cfg.audience) {
		return ErrAudience
	}
	if c.ExpiresAt.IsZero() {
		// RFC 9068 §2.2: exp is required; a token without it would never
		// expire.
		return fmt.Errorf("%w: exp", ErrMissingClaim)
	}
	if err := cfg.checkTimes(c, now); err != nil {
		return err
	}
	if c.Subject == "" {
		return fmt.Errorf("%w: sub", ErrMissingClaim)
	}
	if c.ID == "" {
		return fmt.Errorf("%w: jti", ErrMissingClaim)
	}
	return nil
}

// checkTimes checks exp, nbf and iat against now with the configured leeway
// (RFC 7519 §4.1.4-4.1.6). It runs on every cache hit too.
func (cfg *verifierConfig) checkTimes(c *Claims, now time.Time) error {
	if !now.Before(c.ExpiresAt.Add(cfg.leeway)) {
		return ErrExpired
	}
	late := now.Add(cfg.leeway)
	if !c.NotBefore.IsZero() && late.Before(c.NotBefore) {
		return ErrNotYetValid
	}
	if !c.IssuedAt.IsZero() && late.Before(c.IssuedAt) {
		return ErrNotYetValid
	}
	return nil
}

// CacheStats counts the work of a Verifier's cache, for metrics.
type CacheStats struct {
	Hits      uint64 // tokens found in the cache (including ones then refused as expired)
	Misses    uint64 // tokens verified in full
	Evictions uint64 // entries dropped to make room
	Entries   int    // tokens cached now
	Capacity  int    // the configured cache size; 0 when caching is off
}

// Stats returns the cache counters. Hits, Misses and Evictions only grow.
func (v *Verifier) Stats() CacheStats {
	var s CacheStats
	for i := range v.stats {
		s.Hits += v.stats[i].hits.Load()
		s.Misses += v.stats[i].misses.Load()
		s.Evictions += v.stats[i].evictions.Load()
	}
	if cfg := v.cfg.Load(); cfg != nil && cfg.cache != nil {
		s.Entries = cfg.cache.len()
		s.Capacity = cfg.cacheSize
	}
	return s
}

package auth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of a RemoteKeySet.
const (
	// RemoteMinTTL and RemoteMaxTTL bound how long a fetched JWKS is used
	// before it is fetched again, whatever its Cache-Control says: at least
	// a minute so that a "no-cache" server is not asked on every request,
	// at most a day so that a withdrawn key does not live on for long.
	RemoteMinTTL = time.Minute
	RemoteMaxTTL = 24 * time.Hour
	// RemoteDefaultTTL applies when the response has no max-age.
	RemoteDefaultTTL = 5 * time.Minute
	// RemoteRetryInterval is the least time between two fetches caused by
	// requests: an attacker who sends tokens with made-up kids cannot make
	// the verifier hammer the JWKS endpoint.
	RemoteRetryInterval = 30 * time.Second
	// RemoteTimeout is the http.Client timeout used when the client given
	// has none.
	RemoteTimeout = 10 * time.Second
	// remoteMaxBody caps the JWKS document.
	remoteMaxBody = 1 << 20
)

// RemoteKeySet is a KeySet fetched from a JWKS URL (RFC 7517 §5), such as an
// authorization server's /.well-known/jwks.json. It is safe for concurrent
// use.
//
// The set is fetched on first use (or by Refresh) and again when its
// Cache-Control max-age (bounded by RemoteMinTTL and RemoteMaxTTL) has
// passed, or when a token names a kid the set lacks, as after a key
// rotation; fetches caused by requests happen at most once per
// RemoteRetryInterval. When a fetch fails, the last good set stays in use:
// an outage of the JWKS endpoint does not log every user out. Until a first
// fetch succeeds every kid is unknown, so verification fails closed.
type RemoteKeySet struct {
	url    string
	client *http.Client

	state  atomic.Pointer[remoteState]
	now    atomic.Pointer[func() time.Time]
	logger atomic.Pointer[slog.Logger]

	mu          sync.Mutex // held during a fetch
	lastAttempt time.Time  // guarded by mu
}

type remoteState struct {
	keys    StaticKeys
	expires time.Time
}

// NewRemoteKeySet returns a RemoteKeySet for the JWKS at rawURL, fetched
// with client (nil means a client with RemoteTimeout).
//
// The URL must be https: keys fetched over plain HTTP could be replaced by
// anyone on the path, and with them every token. Plain http is allowed only
// to a loopback address (localhost, 127.0.0.0/8, ::1), for development and
// tests. The client is copied; redirects are not followed, so that an https
// URL cannot be redirected to plain http, and a client without a timeout
// gets RemoteTimeout.
func NewRemoteKeySet(rawURL string, client *http.Client) (*RemoteKeySet, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, errors.New("auth: NewRemoteKeySet: invalid URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, fmt.Errorf("auth: NewRemoteKeySet: JWKS URL must be https (plain http only to a loopback address)")
	}
	c := &http.Client{}
	if client != nil {
		*c = *client
	}
	if c.Timeout == 0 {
		c.Timeout = RemoteTimeout
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error {
		return errors.New("auth: JWKS redirects are not followed")
	}
	return &RemoteKeySet{url: u.String(), client: c}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SetClock sets the function that gives the current time; nil means
// time.Now.
func (s *RemoteKeySet) SetClock(now func() time.Time) {
	if now == nil {
		s.now.Store(nil)
		return
	}
	s.now.Store(&now)
}

// SetLogger sets where failed background refreshes are reported, at Warn
// level; nil means slog.Default. Refresh returns its error instead.
func (s *RemoteKeySet) SetLogger(l *slog.Logger) {
	s.logger.Store(l)
}

func (s *RemoteKeySet) clock() time.Time {
	if f := s.now.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

// PublicKey returns the key with ID kid, fetching the set first when it is
// missing, out of date, or lacks kid (at most once per RemoteRetryInterval).
func (s *RemoteKeySet) PublicKey(kid string) (ed25519.PublicKey, bool) {
	now := s.clock()
	st := s.state.Load()
	if st != nil {
		k, ok := st.keys[kid]
		if ok && now.Before(st.expires) {
			return k, true
		}
		if ok {
			// Known kid, stale set: one caller refreshes while the others
			// go on with the set they have rather than queue behind it.
			if !s.mu.TryLock() {
				return k, true
			}
			s.refreshLocked(now)
			s.mu.Unlock()
			return s.lookup(kid)
		}
	}
	// Unknown kid or no set yet: wait for a fetch, ours or one under way.
	s.mu.Lock()
	s.refreshLocked(now)
	s.mu.Unlock()
	return s.lookup(kid)
}

func (s *RemoteKeySet) lookup(kid string) (ed25519.PublicKey, bool) {
	st := s.state.Load()
	if st == nil {
		return nil, false
	}
	k, ok := st.keys[kid]
	return k, ok
}

// refreshLocked fetches the set unless a fetch was tried within
// RemoteRetryInterval. s.mu must be held.
func (s *RemoteKeySet) refreshLocked(now time.Time) {
	if d := now.Sub(s.lastAttempt); !s.lastAttempt.IsZero() && d >= 0 && d < RemoteRetryInterval {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.client.Timeout)
	defer cancel()
	if err := s.fetchLocked(ctx, now); err != nil {
		l := s.logger.Load()
		if l == nil {
			l = slog.Default()
		}
		l.Warn("auth: JWKS refresh failed; using the last good key set", "url", s.url, "error", err.Error())
	}
}

// Refresh fetches the set now, whatever its age, and reports why it could
// not. Call it at start-up to fail early on a wrong URL.
func (s *RemoteKeySet) Refresh(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetchLocked(ctx, s.clock())
}

func (s *RemoteKeySet) fetchLocked(ctx context.Context, now time.Time) error {
	s.lastAttempt = now
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return fmt.Errorf("fetch JWKS: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch JWKS: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, remoteMaxBody+1))
	if err != nil {
		return fmt.Errorf("fetch JWKS: %w", err)
	}
	if len(body) > remoteMaxBody {
		return errors.New("fetch JWKS: document larger than 1 MiB")
	}
	keys, err := ParseJWKS(body)
	if err != nil {
		return fmt.Errorf("fetch JWKS: %w", err)
	}
	s.state.Store(&remoteState{keys: keys, expires: now.Add(ttl(resp.Header))})
	return nil
}

// ttl reads max-age from Cache-Control (RFC 9111 §5.2.2.1) and bounds it.
// no-store and no-cache mean the minimum.
func ttl(h http.Header) time.Duration {
	d := RemoteDefaultTTL
	for _, v := range h.Values("Cache-Control") {
		for dir := range strings.SplitSeq(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(dir), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return RemoteMinTTL
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
				if err != nil || n < 0 {
					continue
				}
				d = time.Duration(min(n, int64(RemoteMaxTTL/time.Second))) * time.Second
			}
		}
	}
	return min(max(d, RemoteMinTTL), RemoteMaxTTL)
}

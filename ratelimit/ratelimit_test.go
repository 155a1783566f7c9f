package ratelimit_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/clientip"
	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/reqid"
)

// clock is a settable test clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) Advance(d time.Duration) { c.now = c.now.Add(d) }
func (c *clock) Set(t time.Time)         { c.now = t }
func newClock(t time.Time) *clock        { return &clock{now: t} }
func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
}
func get(remote string) *http.Request {
	r := httptest.NewRequest("GET", "/x", nil)
	r.RemoteAddr = remote
	return r
}
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func newLimiter(t *testing.T, policy string, rate ratelimit.Rate, store ratelimit.Store, c *clock) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(policy, rate, store)
	if err != nil {
		t.Fatal(err)
	}
	l.SetNow(c.Now)
	return l
}

func TestNew(t *testing.T) {
	store := ratelimit.NewMemoryStore(0)
	tests := []struct {
		policy  string
		rate    ratelimit.Rate
		store   ratelimit.Store
		wantErr string
	}{
		{policy: "login", rate: perMinute5, store: store},
		{policy: "POST /v1/auth/token", rate: perMinute5, store: store},
		{policy: strings.Repeat("a", ratelimit.MaxPolicyLen), rate: perMinute5, store: store},
		{policy: "", rate: perMinute5, store: store, wantErr: "length"},
		{policy: strings.Repeat("a", ratelimit.MaxPolicyLen+1), rate: perMinute5, store: store, wantErr: "length"},
		{policy: `a"b`, rate: perMinute5, store: store, wantErr: `character '"'`},
		{policy: `a\b`, rate: perMinute5, store: store, wantErr: `character '\\'`},
		{policy: "a\x00b", rate: perMinute5, store: store, wantErr: `character '\x00'`},
		{policy: "a\nb", rate: perMinute5, store: store, wantErr: `character '\n'`},
		{policy: "é", rate: perMinute5, store: store, wantErr: "character"},
		{policy: " login", rate: perMinute5, store: store, wantErr: "leading or trailing space"},
		{policy: "login", rate: ratelimit.Rate{}, store: store, wantErr: "invalid rate"},
		{policy: "login", rate: perMinute5, store: nil, wantErr: "nil store"},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			l, err := ratelimit.New(tt.policy, tt.rate, tt.store)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if l.Policy() != tt.policy || l.Rate() != tt.rate {
				t.Errorf("got %q %v, want %q %v", l.Policy(), l.Rate(), tt.policy, tt.rate)
			}
		})
	}
}

func TestHandlerPanicsUnconfigured(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("got no panic for a zero Limiter, want one")
		}
	}()
	new(ratelimit.Limiter).Handler(okHandler())
}

// TestHandlerSequence walks one client through its budget with an injected
// clock and checks status and every header field at each step.
func TestHandlerSequence(t *testing.T) {
	c := newClock(t0)
	h := newLimiter(t, "login", perMinute5, ratelimit.NewMemoryStore(0), c).Handler(okHandler())
	steps := []struct {
		name       string
		advance    time.Duration
		wantStatus int
		wantLimit  string
		wantRetry  string
	}{
		{"1", 0, 200, `"login";r=4;t=12`, ""},
		{"2", 0, 200, `"login";r=3;t=12`, ""},
		{"3", time.Second, 200, `"login";r=2;t=11`, ""},
		{"4", 0, 200, `"login";r=1;t=11`, ""},
		{"5", 0, 200, `"login";r=0;t=11`, ""},
		{"6 refused", 0, 429, `"login";r=0;t=11`, "11"},
		{"7 refused, rounded up", 500 * time.Millisecond, 429, `"login";r=0;t=11`, "11"},
		{"8 refused, last ms", 10*time.Second + 499*time.Millisecond, 429, `"login";r=0;t=1`, "1"},
		{"9 refilled one", time.Millisecond, 200, `"login";r=0;t=12`, ""},
		{"10 refused again", 0, 429, `"login";r=0;t=12`, "12"},
		{"11 after full period", time.Hour, 200, `"login";r=4;t=12`, ""},
	}
	for _, st := range steps {
		c.Advance(st.advance)
		w := serve(h, get("192.0.2.1:1234"))
		if w.Code != st.wantStatus {
			t.Errorf("step %s: got status %d, want %d", st.name, w.Code, st.wantStatus)
		}
		if got := w.Header().Get("RateLimit-Policy"); got != `"login";q=5;w=60` {
			t.Errorf("step %s: got RateLimit-Policy %q, want %q", st.name, got, `"login";q=5;w=60`)
		}
		if got := w.Header().Get("RateLimit"); got != st.wantLimit {
			t.Errorf("step %s: got RateLimit %q, want %q", st.name, got, st.wantLimit)
		}
		if got := w.Header().Get("Retry-After"); got != st.wantRetry {
			t.Errorf("step %s: got Retry-After %q, want %q", st.name, got, st.wantRetry)
		}
	}
}

func TestHandlerExactlyN(t *testing.T) {
	for _, rate := range []ratelimit.Rate{
		{Limit: 1, Period: time.Second},
		{Limit: 5, Period: time.Minute},
		{Limit: 50, Period: time.Hour},
	} {
		t.Run(rate.String(), func(t *testing.T) {
			c := newClock(t0)
			h := newLimiter(t, "p", rate, ratelimit.NewMemoryStore(0), c).Handler(okHandler())
			for _, client := range []string{"192.0.2.1:1", "192.0.2.2:1"} {
				for i := 1; i <= rate.Limit; i++ {
					if w := serve(h, get(client)); w.Code != 200 {
						t.Fatalf("client %s request %d: got %d, want 200", client, i, w.Code)
					}
				}
				if w := serve(h, get(client)); w.Code != 429 {
					t.Fatalf("client %s request %d: got %d, want 429", client, rate.Limit+1, w.Code)
				}
			}
		})
	}
}

func TestHandlerNoEdgeBurst(t *testing.T) {
	c := newClock(t0.Add(59 * time.Second))
	h := newLimiter(t, "p", perMinute5, ratelimit.NewMemoryStore(0), c).Handler(okHandler())
	passed := 0
	for range 5 {
		if serve(h, get("192.0.2.1:1")).Code == 200 {
			passed++
		}
	}
	c.Set(t0.Add(time.Minute))
	for range 5 {
		if serve(h, get("192.0.2.1:1")).Code == 200 {
			passed++
		}
	}
	if passed != 5 {
		t.Errorf("got %d passed across the minute edge, want 5", passed)
	}
}

func TestHandlerProblem(t *testing.T) {
	c := newClock(t0)
	l := newLimiter(t, "login", ratelimit.Rate{Limit: 1, Period: time.Minute}, ratelimit.NewMemoryStore(0), c)
	h := reqid.Handler(l.Handler(okHandler()))
	serve(h, get("192.0.2.1:1"))
	for _, method := range []string{"GET", "HEAD"} {
		r := get("192.0.2.1:1")
		r.Method = method
		r.Header.Set("X-Request-ID", "req-1")
		w := serve(h, r)
		if w.Code != http.StatusTooManyRequests {
			t.Fatalf("%s: got %d, want 429", method, w.Code)
		}
		if got := w.Header().Get("Content-Type"); got != problem.ContentType {
			t.Errorf("%s: got Content-Type %q, want %q", method, got, problem.ContentType)
		}
		if got := w.Header().Get("Retry-After"); got != "60" {
			t.Errorf("%s: got Retry-After %q, want 60", method, got)
		}
		if method == "HEAD" {
			if w.Body.Len() != 0 {
				t.Errorf("HEAD: got body %q, want none", w.Body)
			}
			continue
		}
		var p problem.Problem
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if p.Status != 429 || p.Title != "Too Many Requests" || p.RequestID != "req-1" || p.Type != "about:blank" {
			t.Errorf("got %+v, want status 429, title Too Many Requests, request_id req-1", p)
		}
		if want := "Too many requests; retry after 60 seconds."; p.Detail != want {
			t.Errorf("got detail %q, want %q", p.Detail, want)
		}
	}
}

// TestHandlerPolicyPrefix shows that two limiters sharing one store and
// one client keep separate budgets, and that a route with both sends both.
func TestHandlerPolicyPrefix(t *testing.T) {
	c := newClock(t0)
	store := ratelimit.NewMemoryStore(0)
	a := newLimiter(t, "a", ratelimit.Rate{Limit: 1, Period: time.Minute}, store, c)
	b := newLimiter(t, "b", ratelimit.Rate{Limit: 2, Period: time.Hour}, store, c)
	ha, hb := a.Handler(okHandler()), b.Handler(okHandler())
	if w := serve(ha, get("192.0.2.1:1")); w.Code != 200 {
		t.Fatalf("a: got %d, want 200", w.Code)
	}
	if w := serve(hb, get("192.0.2.1:1")); w.Code != 200 {
		t.Fatalf("b after a: got %d, want 200 (budgets must not be shared)", w.Code)
	}

	both := a.Handler(b.Handler(okHandler()))
	w := serve(both, get("192.0.2.2:1"))
	if got, want := w.Header().Values("RateLimit-Policy"), []string{`"a";q=1;w=60`, `"b";q=2;w=3600`}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got RateLimit-Policy %q, want %q", got, want)
	}
	if got, want := w.Header().Values("RateLimit"), []string{`"a";r=0;t=60`, `"b";r=1;t=1800`}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got RateLimit %q, want %q", got, want)
	}
}

// failStore is a Store whose backend is down.
type failStore struct{ err error }

func (s failStore) Allow(context.Context, string, ratelimit.Rate, time.Time) (ratelimit.Result, error) {
	return ratelimit.Result{}, s.err
}

func TestHandlerStoreError(t *testing.T) {
	storeErr := errors.New("dial tcp 10.0.0.9:6379: connection refused")
	tests := []struct {
		name       string
		failOpen   bool
		wantStatus int
		wantRetry  string
	}{
		{name: "closed by default", failOpen: false, wantStatus: 503, wantRetry: "12"},
		{name: "open", failOpen: true, wantStatus: 200, wantRetry: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimiter(t, "login", perMinute5, failStore{storeErr}, newClock(t0))
			if tt.failOpen {
				l.SetFailOpen(true)
			}
			var hooked error
			l.SetOnError(func(r *http.Request, err error) { hooked = err })
			w := serve(l.Handler(okHandler()), get("192.0.2.1:1"))
			if w.Code != tt.wantStatus {
				t.Errorf("got %d, want %d", w.Code, tt.wantStatus)
			}
			if got := w.Header().Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("got Retry-After %q, want %q", got, tt.wantRetry)
			}
			if !errors.Is(hooked, storeErr) {
				t.Errorf("got OnError %v, want %v", hooked, storeErr)
			}
			if got := w.Header().Get("RateLimit"); got != "" {
				t.Errorf("got RateLimit %q, want none (nothing known)", got)
			}
			if strings.Contains(w.Body.String(), "6379") {
				t.Errorf("got body %q, want no store error detail", w.Body)
			}
		})
	}
}

func TestHandlerKey(t *testing.T) {
	c := newClock(t0)
	l := newLimiter(t, "user", ratelimit.Rate{Limit: 1, Period: time.Minute}, ratelimit.NewMemoryStore(0), c)
	l.SetKey(func(r *http.Request) (string, bool) {
		u := r.Header.Get("X-Test-User")
		return u, u != ""
	})
	h := l.Handler(okHandler())
	req := func(user, remote string) *http.Request {
		r := get(remote)
		if user != "" {
			r.Header.Set("X-Test-User", user)
		}
		return r
	}
	steps := []struct {
		user, remote string
		want         int
		wantHeader   bool
	}{
		{"alice", "192.0.2.1:1", 200, true},
		{"alice", "192.0.2.2:1", 429, true}, // same user, other address
		{"bob", "192.0.2.1:1", 200, true},   // other user, same address
		{"", "192.0.2.1:1", 200, false},     // no key: not limited
		{"", "192.0.2.1:1", 200, false},
	}
	for i, st := range steps {
		w := serve(h, req(st.user, st.remote))
		if w.Code != st.want {
			t.Errorf("step %d: got %d, want %d", i, w.Code, st.want)
		}
		if got := w.Header().Get("RateLimit") != ""; got != st.wantHeader {
			t.Errorf("step %d: got RateLimit present=%v, want %v", i, got, st.wantHeader)
		}
	}
	l.SetKey(nil) // back to ByClientIP
	if w := serve(h, req("carol", "192.0.2.9:1")); w.Code != 200 {
		t.Errorf("after SetKey(nil): got %d, want 200", w.Code)
	}
	if w := serve(h, req("dave", "192.0.2.9:1")); w.Code != 429 {
		t.Errorf("after SetKey(nil), same IP: got %d, want 429", w.Code)
	}
}

func TestByClientIP(t *testing.T) {
	var trusting clientip.Resolver
	prefixes, _ := clientip.ParseCIDRs("10.0.0.0/8")
	trusting.AddTrustedProxies(prefixes...)
	tests := []struct {
		name     string
		remote   string
		xff      string
		resolver *clientip.Resolver // nil: no clientip Handler
		want     string
	}{
		{name: "socket IPv4", remote: "192.0.2.1:5", want: "192.0.2.1"},
		{name: "socket IPv6 cut to /64", remote: "[2001:db8:1:2:3:4:5:6]:5", want: "2001:db8:1:2::/64"},
		{name: "mapped IPv4", remote: "[::ffff:192.0.2.1]:5", want: "192.0.2.1"},
		{name: "unix socket", remote: "@", want: "unknown"},
		{name: "XFF ignored without clientip", remote: "10.0.0.1:5", xff: "198.51.100.1", want: "10.0.0.1"},
		{name: "clientip handler", remote: "10.0.0.1:5", xff: "198.51.100.1", resolver: &trusting, want: "198.51.100.1"},
		{name: "clientip handler IPv6", remote: "10.0.0.1:5", xff: "2001:db8::1", resolver: &trusting, want: "2001:db8::/64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			var ok bool
			var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, ok = ratelimit.ByClientIP(r)
			})
			if tt.resolver != nil {
				h = tt.resolver.Handler(h)
			}
			r := get(tt.remote)
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			serve(h, r)
			if got != tt.want || !ok {
				t.Errorf("got %q, %v, want %q, true", got, ok, tt.want)
			}
		})
	}
}

// TestHandlerIPv6Rotation: a client rotating through its /64 shares one
// budget.
func TestHandlerIPv6Rotation(t *testing.T) {
	h := newLimiter(t, "p", ratelimit.Rate{Limit: 2, Period: time.Minute}, ratelimit.NewMemoryStore(0), newClock(t0)).Handler(okHandler())
	codes := []int{}
	for _, a := range []string{"[2001:db8::1]:1", "[2001:db8::2]:1", "[2001:db8::ffff:3]:1"} {
		codes = append(codes, serve(h, get(a)).Code)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
		t.Errorf("got %v, want [200 200 429]", codes)
	}
}

func TestHandlerConcurrent(t *testing.T) {
	l := newLimiter(t, "p", ratelimit.Rate{Limit: 50, Period: time.Minute}, ratelimit.NewMemoryStore(0), newClock(t0))
	h := l.Handler(okHandler())
	results := make(chan int, 400)
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 50 {
				results <- serve(h, get("192.0.2.1:1")).Code
			}
		}()
	}
	for range 8 {
		<-done
	}
	close(results)
	ok := 0
	for code := range results {
		if code == 200 {
			ok++
		}
	}
	if ok != 50 {
		t.Errorf("got %d allowed of 400 concurrent requests, want exactly 50", ok)
	}
}

func BenchmarkHandler(b *testing.B) {
	for _, bb := range []struct {
		name string
		step time.Duration
	}{
		{"allowed", time.Microsecond}, // the budget refills as fast as it is spent
		{"refused", 0},
	} {
		b.Run(bb.name, func(b *testing.B) {
			c := newClock(t0)
			l, _ := ratelimit.New("p", ratelimit.Rate{Limit: ratelimit.MaxLimit, Period: time.Second}, ratelimit.NewMemoryStore(0))
			l.SetNow(c.Now)
			h := l.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			r := get("192.0.2.1:1")
			w := httptest.NewRecorder()
			for range ratelimit.MaxLimit { // spend the burst
				h.ServeHTTP(w, r)
			}
			b.ReportAllocs()
			for b.Loop() {
				c.Advance(bb.step)
				clear(w.Header())
				w.Body.Reset()
				h.ServeHTTP(w, r)
			}
		})
	}
}

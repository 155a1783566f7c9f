package ratelimit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/ratelimit"
)

func newConcurrency(t testing.TB, total, perIP int) *ratelimit.Concurrency {
	t.Helper()
	c, err := ratelimit.NewConcurrency(total, perIP)
	if err != nil {
		t.Fatalf("NewConcurrency(%d, %d): got error %v, want nil", total, perIP, err)
	}
	return c
}

func concRequest(remote string) *http.Request {
	r := httptest.NewRequest("GET", "/x", nil)
	r.RemoteAddr = remote
	return r
}

// holdServer is a handler whose requests stay in progress until the test
// releases them, so that tests control exactly what is in flight without
// sleeping.
type holdServer struct {
	h       http.Handler
	entered chan struct{}
}

func newHoldServer(c *ratelimit.Concurrency) *holdServer {
	s := &holdServer{entered: make(chan struct{})}
	s.h = c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.entered <- struct{}{}
		<-r.Context().Done() // released by cancelling the request
		w.WriteHeader(http.StatusOK)
	}))
	return s
}

// start sends a request from remote. It returns a release function and 0
// when the request reached the handler and is now held there, or nil and
// the status when the middleware answered at once.
func (s *holdServer) start(remote string) (release func(), status int) {
	ctx, cancel := context.WithCancel(context.Background())
	r := concRequest(remote).WithContext(ctx)
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.h.ServeHTTP(w, r)
	}()
	select {
	case <-s.entered:
		return func() { cancel(); <-done }, 0
	case <-done:
		cancel()
		return nil, w.Code
	}
}

func TestNewConcurrency(t *testing.T) {
	tests := []struct {
		total, perIP int
		wantErr      string
	}{
		{total: 1, perIP: 1},
		{total: 1000, perIP: 32},
		{total: 0, perIP: 1, wantErr: "total must be at least 1"},
		{total: -1, perIP: 1, wantErr: "total must be at least 1"},
		{total: 5, perIP: 0, wantErr: "per-IP bound must be at least 1"},
		{total: 5, perIP: 6, wantErr: "per-IP bound is more than the total"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.total, "/", tt.perIP), func(t *testing.T) {
			c, err := ratelimit.NewConcurrency(tt.total, tt.perIP)
			if tt.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("got %v, %v, want a Concurrency, nil", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestConcurrencyHandlerPanicsUnconfigured(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Handler on the zero Concurrency: got no panic, want one")
		}
	}()
	new(ratelimit.Concurrency).Handler(http.NotFoundHandler())
}

func TestConcurrencyBounds(t *testing.T) {
	const (
		a  = "198.51.100.7:1000"
		a2 = "198.51.100.7:2000" // same client, another connection
		b  = "203.0.113.9:1000"
		c6 = "[2001:db8:1:2::1]:1000"
		d6 = "[2001:db8:1:2:ffff::9]:1000" // same /64 as c6
		e  = "192.0.2.1:1000"
	)
	type step struct {
		start   string // a request from this address, or ""
		release int    // or: release the held request started at this step
		want    int    // 0: held in the handler; else the status answered at once
	}
	tests := []struct {
		name         string
		total, perIP int
		steps        []step
	}{
		{
			name: "per client", total: 10, perIP: 2,
			steps: []step{
				{start: a}, {start: a2}, {start: a, want: 429},
				{start: b}, {start: b}, {start: b, want: 429},
				{release: 0}, {start: a}, {start: a, want: 429},
			},
		},
		{
			name: "total", total: 3, perIP: 2,
			steps: []step{
				{start: a}, {start: b}, {start: e},
				{start: a, want: 503}, {start: "10.0.0.1:1", want: 503},
				{release: 1}, {start: "10.0.0.1:1"}, {start: b, want: 503},
			},
		},
		{
			name: "IPv6 by /64", total: 10, perIP: 1,
			steps: []step{
				{start: c6}, {start: d6, want: 429}, {release: 0}, {start: d6},
			},
		},
		{
			name: "one at a time", total: 1, perIP: 1,
			steps: []step{
				{start: a}, {start: a, want: 503}, {start: b, want: 503},
				{release: 0}, {start: b}, {release: 4}, {start: a},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConcurrency(t, tt.total, tt.perIP)
			s := newHoldServer(c)
			held := map[int]func(){}
			for i, st := range tt.steps {
				if st.start == "" {
					held[st.release]()
					delete(held, st.release)
					continue
				}
				release, status := s.start(st.start)
				if status != st.want {
					t.Fatalf("step %d, request from %s: got status %d, want %d (0: held)", i, st.start, status, st.want)
				}
				if release != nil {
					held[i] = release
				}
			}
			if got := c.Stats().InFlight; got != len(held) {
				t.Errorf("got InFlight %d, want %d", got, len(held))
			}
			for _, release := range held {
				release()
			}
			if got := c.Stats(); got.InFlight != 0 || got.Clients != 0 {
				t.Errorf("after every request ended: got %+v, want no request and no client", got)
			}
		})
	}
}

func TestConcurrencyProblemPerClient(t *testing.T) {
	c := newConcurrency(t, 2, 1)
	s := newHoldServer(c)
	release, _ := s.start("198.51.100.7:1")
	defer release()
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, concRequest("198.51.100.7:2"))
	checkConcurrencyProblem(t, w, http.StatusTooManyRequests)
	if got := c.Stats(); got.RefusedPerClient != 1 || got.RefusedTotal != 0 {
		t.Errorf("got %+v, want 1 refused per client, 0 for the total", got)
	}
}

func TestConcurrencyProblemOverall(t *testing.T) {
	c := newConcurrency(t, 1, 1)
	s := newHoldServer(c)
	release, _ := s.start("198.51.100.7:1")
	defer release()
	for _, remote := range []string{"198.51.100.7:2", "192.0.2.1:1"} {
		w := httptest.NewRecorder()
		s.h.ServeHTTP(w, concRequest(remote))
		checkConcurrencyProblem(t, w, http.StatusServiceUnavailable)
	}
	if got := c.Stats(); got.RefusedTotal != 2 || got.RefusedPerClient != 0 {
		t.Errorf("got %+v, want 2 refused for the total, 0 per client", got)
	}
}

func checkConcurrencyProblem(t *testing.T, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("got status %d, want %d", w.Code, status)
	}
	if got := w.Header().Get("Retry-After"); got != "1" {
		t.Errorf("got Retry-After %q, want 1", got)
	}
	if got := w.Header().Get("Content-Type"); got != problem.ContentType {
		t.Errorf("got Content-Type %q, want %q", got, problem.ContentType)
	}
	var p problem.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	if p.Status != status || p.Detail == "" {
		t.Errorf("got problem %+v, want status %d and a detail", p, status)
	}
}

func TestConcurrencyReleasesOnPanic(t *testing.T) {
	c := newConcurrency(t, 1, 1)
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
	}))
	for i := range 3 {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("request %d: got no panic, want the handler's", i)
				}
			}()
			r := httptest.NewRequest("GET", "/panic", nil)
			r.RemoteAddr = "198.51.100.7:1"
			h.ServeHTTP(httptest.NewRecorder(), r)
		}()
	}
	if got := c.Stats(); got.InFlight != 0 || got.Clients != 0 {
		t.Fatalf("after panics: got %+v, want no request and no client", got)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, concRequest("198.51.100.7:1"))
	if w.Code != http.StatusOK {
		t.Errorf("after panics: got status %d, want 200", w.Code)
	}
}

func TestConcurrencyKeyExempt(t *testing.T) {
	c := newConcurrency(t, 2, 1)
	c.SetKey(func(r *http.Request) (string, bool) {
		k := r.Header.Get("X-Tenant")
		return k, k != ""
	})
	s := newHoldServer(c)
	var releases []func()
	defer func() {
		for _, r := range releases {
			r()
		}
	}()
	// No key: not bounded per client, but counted in the total.
	for i, want := range []int{0, 0, 503} {
		release, status := s.start("198.51.100.7:1")
		if status != want {
			t.Fatalf("request %d without a key: got status %d, want %d", i, status, want)
		}
		if release != nil {
			releases = append(releases, release)
		}
	}
	if got := c.Stats().Clients; got != 0 {
		t.Errorf("got %d clients, want 0: requests without a key are not in the table", got)
	}
	c.SetKey(nil) // back to ByClientIP
	releases[0]()
	releases = releases[1:]
	release, status := s.start("198.51.100.7:1")
	if status != 0 {
		t.Fatalf("after SetKey(nil): got status %d, want held", status)
	}
	releases = append(releases, release)
	releases[0]() // the last request without a key: one total slot free
	releases = releases[1:]
	if _, status := s.start("198.51.100.7:2"); status != http.StatusTooManyRequests {
		t.Errorf("second request by client IP: got status %d, want 429", status)
	}
}

// TestConcurrencyTableBounded: the per-client table holds only clients with
// a request in progress, so it never holds more entries than the total,
// whatever the number of clients.
func TestConcurrencyTableBounded(t *testing.T) {
	const total = 64
	c := newConcurrency(t, total, 1)
	s := newHoldServer(c)
	var releases []func()
	for i := range total {
		release, status := s.start(fmt.Sprintf("10.0.%d.%d:1", i/256, i%256))
		if status != 0 {
			t.Fatalf("client %d: got status %d, want held", i, status)
		}
		releases = append(releases, release)
	}
	for i := range 10_000 {
		w := httptest.NewRecorder()
		s.h.ServeHTTP(w, concRequest(fmt.Sprintf("10.1.%d.%d:1", i/256, i%256)))
		if w.Code != http.StatusServiceUnavailable {
			t.Fatalf("new client %d with the server full: got %d, want 503", i, w.Code)
		}
	}
	if got := c.Stats().Clients; got != total {
		t.Errorf("got %d clients in the table, want %d", got, total)
	}
	for _, release := range releases {
		release()
	}
	if got := c.Stats().Clients; got != 0 {
		t.Errorf("after every request ended: got %d clients, want 0", got)
	}
}

// TestConcurrencyRace sends many parallel requests from a few clients and
// measures, inside the handler, the most requests in progress at once,
// overall and per client: never over the bounds, whatever the scheduling.
// Run with -race.
func TestConcurrencyRace(t *testing.T) {
	const total, perIP, clients, goroutines, each = 8, 3, 5, 32, 200
	c := newConcurrency(t, total, perIP)
	var now, peak atomic.Int64
	var perNow, perPeak [clients]atomic.Int64
	raise := func(peak *atomic.Int64, n int64) {
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
	}
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var i int
		fmt.Sscanf(r.RemoteAddr, "10.0.0.%d:", &i)
		raise(&peak, now.Add(1))
		raise(&perPeak[i], perNow[i].Add(1))
		runtime.Gosched()
		perNow[i].Add(-1)
		now.Add(-1)
	}))
	var codes [600]atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for j := range each {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, concRequest(fmt.Sprintf("10.0.0.%d:%d", (g+j)%clients, g)))
				codes[w.Code].Add(1)
			}
		})
	}
	wg.Wait()
	if got := peak.Load(); got > total {
		t.Errorf("got %d requests in progress at once, want at most %d", got, total)
	}
	for i := range clients {
		if got := perPeak[i].Load(); got > perIP {
			t.Errorf("client %d: got %d requests in progress at once, want at most %d", i, got, perIP)
		}
	}
	if sum := codes[200].Load() + codes[429].Load() + codes[503].Load(); sum != goroutines*each {
		t.Errorf("got %d answers of 200, 429 or 503, want %d", sum, goroutines*each)
	}
	if got := c.Stats(); got.InFlight != 0 || got.Clients != 0 {
		t.Errorf("at the end: got %+v, want no request and no client", got)
	}
}

func BenchmarkConcurrencyHandler(b *testing.B) {
	for _, tc := range []struct {
		name    string
		clients int
	}{{"one client", 1}, {"many clients", 1024}} {
		b.Run(tc.name, func(b *testing.B) {
			c := newConcurrency(b, 1<<20, 1<<20)
			h := c.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			reqs := make([]*http.Request, tc.clients)
			for i := range reqs {
				reqs[i] = concRequest(fmt.Sprintf("10.0.%d.%d:1", i/256, i%256))
			}
			b.RunParallel(func(pb *testing.PB) {
				w := httptest.NewRecorder()
				i := 0
				for pb.Next() {
					h.ServeHTTP(w, reqs[i%len(reqs)])
					i++
				}
			})
		})
	}
}

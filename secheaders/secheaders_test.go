package secheaders_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/secheaders"
)

// wantHeaders are the headers API.md requires on every response.
var wantHeaders = map[string]string{
	"X-Content-Type-Options":       "nosniff",
	"Content-Security-Policy":      "default-src 'none'; frame-ancestors 'none'",
	"Referrer-Policy":              "no-referrer",
	"X-Frame-Options":              "DENY",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
}

const wantHSTS = "max-age=31536000; includeSubDomains"

// leaky sets Server and X-Powered-By, as a careless handler or library
// might, before answering.
func leaky(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "gatehouse/1.0 (Go)")
		w.Header().Set("X-Powered-By", "Go")
		h(w, r)
	}
}

// recoverer answers 500 when the handler inside panics, as the server's
// outermost middleware does.
func recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		h.ServeHTTP(w, r)
	})
}

var handlers = []struct {
	name    string
	handler http.HandlerFunc
	status  int
}{
	{"200 body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, `{"status":"ok"}`)
	}, http.StatusOK},
	{"200 empty", func(w http.ResponseWriter, r *http.Request) {}, http.StatusOK},
	{"204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, http.StatusNoContent},
	{"404", http.NotFound, http.StatusNotFound},
	{"500", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}, http.StatusInternalServerError},
	{"panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") }, http.StatusInternalServerError},
	{"leaky 200", leaky(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), http.StatusOK},
	{"leaky 500", leaky(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}), http.StatusInternalServerError},
	{"leaky flush", leaky(func(w http.ResponseWriter, r *http.Request) { w.(http.Flusher).Flush() }), http.StatusOK},
	{"leaky controller flush", leaky(func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			panic(err)
		}
	}), http.StatusOK},
	{"leaky ReadFrom", leaky(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, strings.NewReader("streamed"))
	}), http.StatusOK},
	{"leaky early hints", leaky(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Server", "again")
		w.WriteHeader(http.StatusOK)
	}), http.StatusOK},
}

func checkHeaders(t *testing.T, h http.Header, hsts bool) {
	t.Helper()
	for k, want := range wantHeaders {
		if got := h.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("%s: got %q, want [%q]", k, got, want)
		}
	}
	for _, k := range []string{"Server", "X-Powered-By"} {
		if got := h.Values(k); len(got) != 0 {
			t.Errorf("%s: got %q, want none", k, got)
		}
	}
	got := h.Values("Strict-Transport-Security")
	switch {
	case hsts && (len(got) != 1 || got[0] != wantHSTS):
		t.Errorf("Strict-Transport-Security: got %q, want [%q]", got, wantHSTS)
	case !hsts && len(got) != 0:
		t.Errorf("Strict-Transport-Security: got %q, want none over plain HTTP", got)
	}
}

// TestEveryResponse runs each handler behind the middleware on a real
// server, plain and TLS, and checks the headers the client receives.
func TestEveryResponse(t *testing.T) {
	servers := []struct {
		name  string
		start func(http.Handler) *httptest.Server
		hsts  bool
	}{
		{"http", httptest.NewServer, false},
		{"https", httptest.NewTLSServer, true},
	}
	for _, srv := range servers {
		for _, tt := range handlers {
			t.Run(srv.name+"/"+tt.name, func(t *testing.T) {
				ts := srv.start(recoverer(secheaders.New().Handler(tt.handler)))
				defer ts.Close()
				res, err := ts.Client().Get(ts.URL)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != tt.status {
					t.Errorf("status: got %d, want %d", res.StatusCode, tt.status)
				}
				checkHeaders(t, res.Header, srv.hsts)
			})
		}
	}
}

// TestRecorder checks the same with httptest.ResponseRecorder, which
// snapshots the header when it is written: anything set after that does
// not count, as on the wire.
func TestRecorder(t *testing.T) {
	for _, tt := range handlers {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "leaky early hints" {
				t.Skip("ResponseRecorder does not support 1xx responses")
			}
			rec := httptest.NewRecorder()
			recoverer(secheaders.New().Handler(tt.handler)).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			res := rec.Result()
			if res.StatusCode != tt.status {
				t.Errorf("status: got %d, want %d", res.StatusCode, tt.status)
			}
			checkHeaders(t, res.Header, false)
		})
	}
}

func TestHSTS(t *testing.T) {
	plain := httptest.NewRequest("GET", "http://api.example/", nil)
	overTLS := httptest.NewRequest("GET", "https://api.example/", nil)
	overTLS.TLS = &tls.ConnectionState{HandshakeComplete: true}
	forwarded := httptest.NewRequest("GET", "http://api.example/", nil)
	forwarded.Header.Set("X-Forwarded-Proto", "https")
	fromProxy := func(r *http.Request) bool { return r.Header.Get("X-Forwarded-Proto") == "https" }
	setsHSTS := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=1")
		w.WriteHeader(http.StatusOK)
	}

	tests := []struct {
		name    string
		req     *http.Request
		hook    func(*http.Request) bool
		handler http.HandlerFunc
		want    string // "" means absent
	}{
		{"plain HTTP", plain, nil, nil, ""},
		{"TLS", overTLS, nil, nil, wantHSTS},
		{"forwarded, no hook", forwarded, nil, nil, ""},
		{"forwarded, hook says yes", forwarded, fromProxy, nil, wantHSTS},
		{"plain, hook says no", plain, fromProxy, nil, ""},
		{"TLS, hook says no", overTLS, func(*http.Request) bool { return false }, nil, wantHSTS},
		{"plain, handler sets it", plain, nil, setsHSTS, ""},
		{"TLS, handler sets it", overTLS, nil, setsHSTS, "max-age=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh := secheaders.New()
			sh.SetTLSTerminated(tt.hook)
			next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
			if tt.handler != nil {
				next = tt.handler
			}
			rec := httptest.NewRecorder()
			sh.Handler(next).ServeHTTP(rec, tt.req)
			if got := rec.Result().Header.Get("Strict-Transport-Security"); got != tt.want {
				t.Errorf("Strict-Transport-Security: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSetHSTS(t *testing.T) {
	const year = 365 * 24 * time.Hour
	tests := []struct {
		name    string
		in      secheaders.HSTS
		want    string // header value on success
		wantErr bool
	}{
		{"default", secheaders.HSTS{MaxAge: year, IncludeSubDomains: true}, wantHSTS, false},
		{"two years", secheaders.HSTS{MaxAge: 2 * year, IncludeSubDomains: true}, "max-age=63072000; includeSubDomains", false},
		{"no subdomains", secheaders.HSTS{MaxAge: year}, "max-age=31536000", false},
		{"zero clears", secheaders.HSTS{}, "max-age=0", false},
		{"preload", secheaders.HSTS{MaxAge: year, IncludeSubDomains: true, Preload: true}, "max-age=31536000; includeSubDomains; preload", false},
		{"negative", secheaders.HSTS{MaxAge: -time.Second}, "", true},
		{"fractional", secheaders.HSTS{MaxAge: 1500 * time.Millisecond}, "", true},
		{"preload short", secheaders.HSTS{MaxAge: year - time.Second, IncludeSubDomains: true, Preload: true}, "", true},
		{"preload without subdomains", secheaders.HSTS{MaxAge: year, Preload: true}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh := secheaders.New()
			err := sh.SetHSTS(tt.in)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("SetHSTS(%+v): got error %v, want error %v", tt.in, err, tt.wantErr)
			}
			want := tt.want
			if tt.wantErr {
				want = wantHSTS // a failed setter changes nothing
			}
			req := httptest.NewRequest("GET", "https://api.example/", nil)
			req.TLS = &tls.ConnectionState{}
			rec := httptest.NewRecorder()
			sh.Handler(http.NotFoundHandler()).ServeHTTP(rec, req)
			if got := rec.Result().Header.Get("Strict-Transport-Security"); got != want {
				t.Errorf("Strict-Transport-Security after SetHSTS(%+v): got %q, want %q", tt.in, got, want)
			}
		})
	}
}

func TestSetCSP(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  bool
	}{
		{"default", secheaders.DefaultCSP, false},
		{"docs page", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'", false},
		{"trailing semicolon", "default-src 'none';", false},
		{"tab separated", "default-src\t'none'", false},
		{"two policies", "default-src 'none', frame-ancestors 'none'", false},
		{"report-to", "default-src 'none'; frame-ancestors 'none'; report-to csp-endpoint", false},
		{"empty", "", true},
		{"blank", "  ; ", true},
		{"CRLF injection", "default-src 'none'\r\nSet-Cookie: a=b", true},
		{"NUL", "default-src 'none'\x00", true},
		{"non-ASCII", "default-src 'nоne'", true}, // Cyrillic o
		{"bad directive name", "default_src 'none'", true},
		{"quoted name", "'default-src' 'none'", true},
		{"duplicate directive", "default-src 'none'; DEFAULT-SRC *", true},
		{"empty policy in list", "default-src 'none',", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh := secheaders.New()
			err := sh.SetCSP(tt.in)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("SetCSP(%q): got error %v, want error %v", tt.in, err, tt.wantErr)
			}
			want := tt.in
			if tt.wantErr {
				want = secheaders.DefaultCSP
			}
			rec := httptest.NewRecorder()
			sh.Handler(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if got := rec.Result().Header.Get("Content-Security-Policy"); got != want {
				t.Errorf("Content-Security-Policy after SetCSP(%q): got %q, want %q", tt.in, got, want)
			}
		})
	}
}

func TestCSPHandler(t *testing.T) {
	const docsCSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
	mux := http.NewServeMux()
	mux.Handle("GET /docs", secheaders.CSPHandler(http.NotFoundHandler(), docsCSP))
	mux.HandleFunc("GET /inline", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		w.WriteHeader(http.StatusOK)
	})
	mux.Handle("GET /v1/", http.NotFoundHandler())
	h := secheaders.New().Handler(mux)

	tests := []struct {
		path, want string
	}{
		{"/docs", docsCSP},
		{"/inline", "default-src 'self'"},
		{"/v1/notes", secheaders.DefaultCSP},
		{"/nowhere", secheaders.DefaultCSP},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
			if got := rec.Result().Header.Values("Content-Security-Policy"); len(got) != 1 || got[0] != tt.want {
				t.Errorf("GET %s Content-Security-Policy: got %q, want [%q]", tt.path, got, tt.want)
			}
		})
	}
}

func TestCSPHandlerPanicsOnInvalidPolicy(t *testing.T) {
	defer func() {
		v := recover()
		if v == nil {
			t.Fatal("CSPHandler with an invalid policy: got no panic, want one")
		}
		if msg := fmt.Sprint(v); !strings.HasPrefix(msg, "secheaders: invalid Content-Security-Policy") {
			t.Errorf("panic: got %q, want prefix %q", msg, "secheaders: invalid Content-Security-Policy")
		}
	}()
	secheaders.CSPHandler(http.NotFoundHandler(), "default-src 'none'\r\nX-Injected: 1")
}

func TestZeroValue(t *testing.T) {
	var sh secheaders.Headers
	rec := httptest.NewRecorder()
	sh.Handler(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	checkHeaders(t, rec.Result().Header, false)
}

// TestUnwrap checks that http.ResponseController reaches the real writer
// through the middleware.
func TestUnwrap(t *testing.T) {
	var got error = errors.New("handler did not run")
	ts := httptest.NewServer(secheaders.New().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute))
	})))
	defer ts.Close()
	res, err := ts.Client().Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got != nil {
		t.Errorf("SetWriteDeadline through the middleware: got %v, want nil", got)
	}
}

// TestConcurrentSetters changes the configuration while requests are being
// served; run with -race it shows that setters and requests do not race.
// Every response must carry one of the two configurations whole.
func TestConcurrentSetters(t *testing.T) {
	sh := secheaders.New()
	h := sh.Handler(http.NotFoundHandler())
	const other = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; i < 200; i++ {
			policy := secheaders.DefaultCSP
			if i%2 == 0 {
				policy = other
			}
			if err := sh.SetCSP(policy); err != nil {
				t.Error(err)
			}
		}
	})
	for g := 0; g < 4; g++ {
		wg.Go(func() {
			for i := 0; i < 200; i++ {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				if got := rec.Result().Header.Get("Content-Security-Policy"); got != secheaders.DefaultCSP && got != other {
					t.Errorf("Content-Security-Policy: got %q, want %q or %q", got, secheaders.DefaultCSP, other)
				}
			}
		})
	}
	wg.Wait()
}

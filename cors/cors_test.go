package cors_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/cors"
)

// serve runs one request through c.Handler and reports whether the inner
// handler ran.
func serve(c *cors.CORS, method string, header map[string]string) (*http.Response, bool) {
	called := false
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = true
		w.Write([]byte("inner"))
	}))
	req := httptest.NewRequest(method, "https://api.example.com/v1/notes", nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result(), called
}

func preflight(origin, method, headers string) map[string]string {
	m := map[string]string{"Origin": origin, "Access-Control-Request-Method": method}
	if headers != "" {
		m["Access-Control-Request-Headers"] = headers
	}
	return m
}

func newCORS(t *testing.T, origins ...string) *cors.CORS {
	t.Helper()
	c := cors.New()
	for _, o := range origins {
		if err := c.AddOrigin(o); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

var corsHeaders = []string{
	"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers", "Access-Control-Max-Age", "Access-Control-Expose-Headers",
}

func noCORSHeaders(t *testing.T, res *http.Response) {
	t.Helper()
	for _, k := range corsHeaders {
		if v := res.Header.Get(k); v != "" {
			t.Errorf("got %s: %q, want none", k, v)
		}
	}
}

func TestZeroValueAllowsNothing(t *testing.T) {
	var c cors.CORS
	res, called := serve(&c, "GET", map[string]string{"Origin": "https://app.example.com"})
	if !called {
		t.Error("request was not passed on")
	}
	noCORSHeaders(t, res)
	res, called = serve(&c, "OPTIONS", preflight("https://app.example.com", "GET", ""))
	if called || res.StatusCode != http.StatusForbidden {
		t.Errorf("preflight: got %d (inner called %v), want 403 answered by the middleware", res.StatusCode, called)
	}
	noCORSHeaders(t, res)
	if err := c.Check(httptest.NewRequest("GET", "/", nil)); err != nil {
		t.Errorf("Check without Origin: got %v, want nil", err)
	}
}

func TestAddOrigin(t *testing.T) {
	for _, ok := range []string{
		"https://app.example.com", "https://app.example.com:8443", "http://localhost:3000", "http://127.0.0.1:5173",
		"http://[::1]:8080", "http://app.localhost:3000", "https://[2001:db8::1]", "https://xn--bcher-kva.example", "*",
	} {
		if err := cors.New().AddOrigin(ok); err != nil {
			t.Errorf("AddOrigin(%q): %v", ok, err)
		}
	}
	for _, tc := range []struct{ origin, want string }{
		{"null", "sandboxed"},
		{"https://*.example.com", "patterns"},
		{"https://app.example.com/", "write https://app.example.com"},
		{"https://app.example.com/path", "no user, path"},
		{"https://app.example.com?q", "no user, path"},
		{"https://user@app.example.com", "no user"},
		{"https://App.Example.com", "browsers send it as https://app.example.com"},
		{"https://app.example.com:443", "browsers send it as https://app.example.com"},
		{"HTTPS://app.example.com", "browsers send it as https://app.example.com"},
		{"http://app.example.com", "plain-http"},
		{"http://10.0.0.1:8080", "plain-http"},
		{"ftp://app.example.com", "only http and https"},
		{"app.example.com", "scheme://host"},
		{"", "scheme://host"},
		{"https://bücher.example", "xn--"},
		{"https://app.example.com:99999", "port"},
		{"https://app.example.com, https://b.example.com", ""},
	} {
		err := cors.New().AddOrigin(tc.origin)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AddOrigin(%q): got %v, want an error mentioning %q", tc.origin, err, tc.want)
		}
	}
}

func TestActualRequests(t *testing.T) {
	c := newCORS(t, "https://app.example.com")
	c.SetAllowCredentials(true)
	if err := c.SetExposedHeaders("x-request-id", "Retry-After"); err != nil {
		t.Fatal(err)
	}

	t.Run("listed origin", func(t *testing.T) {
		res, called := serve(c, "GET", map[string]string{"Origin": "https://app.example.com"})
		if !called {
			t.Fatal("not passed on")
		}
		for k, want := range map[string]string{
			"Access-Control-Allow-Origin":      "https://app.example.com",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Expose-Headers":    "X-Request-Id, Retry-After",
			"Vary":                             "Origin",
		} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("got %s %q, want %q", k, got, want)
			}
		}
	})
	t.Run("unlisted origin is served without CORS headers", func(t *testing.T) {
		for _, o := range []string{"https://evil.example", "https://app.example.com.evil.example", "null", "https://APP.example.com", "http://app.example.com"} {
			res, called := serve(c, "POST", map[string]string{"Origin": o})
			if !called {
				t.Errorf("%s: not passed on (CORS is not access control; same-origin POSTs carry Origin too)", o)
			}
			noCORSHeaders(t, res)
			if got := res.Header.Get("Vary"); got != "Origin" {
				t.Errorf("%s: got Vary %q, want Origin", o, got)
			}
			if err := c.Check(httptest.NewRequest("GET", "/", nil)); err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("no Origin still varies", func(t *testing.T) {
		res, _ := serve(c, "GET", nil)
		noCORSHeaders(t, res)
		if got := res.Header.Get("Vary"); got != "Origin" {
			t.Errorf("got Vary %q, want Origin (a cached answer must not serve a cross-origin request)", got)
		}
	})
}

func TestWildcardNeverWithCredentials(t *testing.T) {
	c := newCORS(t, "*", "https://app.example.com")
	c.SetAllowCredentials(true)
	res, _ := serve(c, "GET", map[string]string{"Origin": "https://other.example"})
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("unlisted origin: got ACAO %q, want *", got)
	}
	if got := res.Header.Get("Access-Control-Allow-Credentials"); got != "" {
		t.Errorf("unlisted origin under *: got Allow-Credentials %q, want none", got)
	}
	res, _ = serve(c, "GET", map[string]string{"Origin": "https://app.example.com"})
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("listed origin: got ACAO %q, want the origin itself", got)
	}
	if got := res.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
		t.Errorf("listed origin: got Allow-Credentials %q, want true", got)
	}
	res, _ = serve(c, "GET", map[string]string{"Origin": "null"})
	noCORSHeaders(t, res)
	res, _ = serve(c, "OPTIONS", preflight("https://other.example", "POST", ""))
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "*" || res.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("wildcard preflight: got %d ACAO %q ACAC %q, want 204 * and no credentials", res.StatusCode,
			res.Header.Get("Access-Control-Allow-Origin"), res.Header.Get("Access-Control-Allow-Credentials"))
	}
}

func TestPreflight(t *testing.T) {
	c := newCORS(t, "https://app.example.com")
	if err := c.SetAllowedMethods("PUT", "PATCH", "DELETE", "GET"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetAllowedHeaders("authorization", "Content-Type", "X-Request-ID"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		header     map[string]string
		wantStatus int
		wantErr    error
	}{
		{"allowed", preflight("https://app.example.com", "PATCH", "authorization,content-type"), 204, nil},
		{"allowed, headers with spaces and case", preflight("https://app.example.com", "DELETE", " Authorization , X-Request-Id"), 204, nil},
		{"safelisted method needs no listing", preflight("https://app.example.com", "POST", "content-type"), 204, nil},
		{"always-safelisted headers", preflight("https://app.example.com", "PUT", "accept, accept-language"), 204, nil},
		{"unlisted origin", preflight("https://evil.example", "PATCH", ""), 403, cors.ErrOriginNotAllowed},
		{"null origin", preflight("null", "GET", ""), 403, cors.ErrOriginNotAllowed},
		{"unlisted method", preflight("https://app.example.com", "PROPFIND", ""), 403, cors.ErrMethodNotAllowed},
		{"methods are case-sensitive", preflight("https://app.example.com", "patch", ""), 403, cors.ErrMethodNotAllowed},
		{"unlisted header", preflight("https://app.example.com", "PUT", "authorization, x-evil"), 403, cors.ErrHeaderNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, called := serve(c, "OPTIONS", tc.header)
			if called {
				t.Error("preflight reached the inner handler")
			}
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("got %d, want %d", res.StatusCode, tc.wantStatus)
			}
			req := httptest.NewRequest("OPTIONS", "/", nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			if err := c.Check(req); !errors.Is(err, tc.wantErr) {
				t.Errorf("Check: got %v, want %v", err, tc.wantErr)
			}
			vary := strings.Join(res.Header.Values("Vary"), ", ")
			if vary != "Origin, Access-Control-Request-Method, Access-Control-Request-Headers" {
				t.Errorf("got Vary %q", vary)
			}
			if tc.wantStatus != 204 {
				noCORSHeaders(t, res)
				return
			}
			for k, want := range map[string]string{
				"Access-Control-Allow-Origin":      "https://app.example.com",
				"Access-Control-Allow-Methods":     "PUT, PATCH, DELETE",
				"Access-Control-Allow-Headers":     "Authorization, Content-Type, X-Request-Id",
				"Access-Control-Max-Age":           "7200",
				"Access-Control-Allow-Credentials": "",
			} {
				if got := res.Header.Get(k); got != want {
					t.Errorf("got %s %q, want %q", k, got, want)
				}
			}
		})
	}
	t.Run("OPTIONS without Access-Control-Request-Method is not a preflight", func(t *testing.T) {
		_, called := serve(c, "OPTIONS", map[string]string{"Origin": "https://app.example.com"})
		if !called {
			t.Error("plain OPTIONS was not passed on")
		}
	})
	t.Run("deny handler", func(t *testing.T) {
		c := newCORS(t, "https://app.example.com")
		c.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
		}))
		res, _ := serve(c, "OPTIONS", preflight("https://evil.example", "GET", ""))
		if res.StatusCode != http.StatusTeapot {
			t.Errorf("got %d, want the deny handler's 418", res.StatusCode)
		}
	})
}

func TestSetters(t *testing.T) {
	c := newCORS(t, "https://app.example.com")
	for _, m := range [][]string{{"CONNECT"}, {"TRACE"}, {"track"}, {""}, {"GET POST"}, {"PUT\r\nX: y"}} {
		if err := c.SetAllowedMethods(m...); err == nil {
			t.Errorf("SetAllowedMethods(%q): got nil", m)
		}
	}
	for _, h := range [][]string{{"*"}, {""}, {"Bad Header"}, {"a:b"}} {
		if err := c.SetAllowedHeaders(h...); err == nil {
			t.Errorf("SetAllowedHeaders(%q): got nil", h)
		}
		if err := c.SetExposedHeaders(h...); err == nil {
			t.Errorf("SetExposedHeaders(%q): got nil", h)
		}
	}
	for _, d := range []time.Duration{-time.Second, 25 * time.Hour, 1500 * time.Millisecond} {
		if err := c.SetMaxAge(d); err == nil {
			t.Errorf("SetMaxAge(%v): got nil", d)
		}
	}
	// Failed setters changed nothing: the defaults still hold.
	res, _ := serve(c, "OPTIONS", preflight("https://app.example.com", "GET", ""))
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Max-Age") != "7200" || res.Header.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("got %d, Max-Age %q, Methods %q", res.StatusCode, res.Header.Get("Access-Control-Max-Age"), res.Header.Get("Access-Control-Allow-Methods"))
	}
	if err := c.SetMaxAge(0); err != nil {
		t.Fatal(err)
	}
	res, _ = serve(c, "OPTIONS", preflight("https://app.example.com", "GET", ""))
	if got := res.Header.Get("Access-Control-Max-Age"); got != "0" {
		t.Errorf("got Max-Age %q, want 0", got)
	}
	if err := c.AddOrigin("https://bad.example/"); err == nil {
		t.Fatal("AddOrigin accepted a path")
	}
	res, _ = serve(c, "GET", map[string]string{"Origin": "https://bad.example"})
	noCORSHeaders(t, res)
}

// Setters may run while requests are served (run with -race).
func TestConcurrentUse(t *testing.T) {
	c := newCORS(t, "https://app.example.com")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := range 50 {
				c.SetAllowCredentials(j%2 == 0)
				c.SetAllowedHeaders("Authorization")
				c.AddOrigin("https://app" + string(rune('a'+i)) + ".example.com")
			}
		}()
		go func() {
			defer wg.Done()
			for range 50 {
				res, _ := serve(c, "GET", map[string]string{"Origin": "https://app.example.com"})
				if res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
					t.Error("listed origin lost during concurrent updates")
					return
				}
			}
		}()
	}
	wg.Wait()
}

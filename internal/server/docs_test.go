package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/internal/docsui"
	"github.com/gatehouse/gatehouse/secheaders"
)

// TestDocsCSP: the /docs page carries its own policy through the whole
// middleware chain; every other response, its assets and 404s under
// /docs/ included, keeps the API policy.
func TestDocsCSP(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		path   string
		status int
		csp    string
	}{
		{"/docs", 200, docsui.CSP},
		{"/docs/" + docsAsset(t), 200, secheaders.DefaultCSP},
		{"/docs/nothing.js", 404, secheaders.DefaultCSP},
		{"/openapi.json", 200, secheaders.DefaultCSP},
		{"/healthz", 200, secheaders.DefaultCSP},
		{"/v1/users/me", 401, secheaders.DefaultCSP},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, httptest.NewRequest("GET", c.path, nil))
		if w.Code != c.status {
			t.Errorf("GET %s: got %d, want %d", c.path, w.Code, c.status)
		}
		if got := w.Header().Get("Content-Security-Policy"); got != c.csp {
			t.Errorf("GET %s: Content-Security-Policy %q, want %q", c.path, got, c.csp)
		}
		for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy"} {
			if w.Header().Get(h) == "" {
				t.Errorf("GET %s: no %s", c.path, h)
			}
		}
	}
	// A method other than GET (or HEAD) is 405, as on every route.
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, httptest.NewRequest("POST", "/docs", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /docs: got %d, want 405", w.Code)
	}
}

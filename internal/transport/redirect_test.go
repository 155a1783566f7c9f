package transport_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/transport"
)

func TestRedirect(t *testing.T) {
	for _, tc := range []struct {
		name         string
		rd           transport.Redirect
		method, url  string
		host         string
		wantStatus   int
		wantLocation string
	}{
		{"GET to default port", transport.Redirect{HTTPSPort: "443"}, "GET", "/v1/users/me?x=1&y=%20", "api.example.com", 308, "https://api.example.com/v1/users/me?x=1&y=%20"},
		{"HEAD", transport.Redirect{}, "HEAD", "/", "api.example.com:80", 308, "https://api.example.com/"},
		{"GET keeps other HTTPS port", transport.Redirect{HTTPSPort: "8443"}, "GET", "/healthz", "127.0.0.1:8080", 308, "https://127.0.0.1:8443/healthz"},
		{"IPv6 literal", transport.Redirect{HTTPSPort: "8443"}, "GET", "/", "[::1]:8080", 308, "https://[::1]:8443/"},
		{"IPv6 literal default port", transport.Redirect{HTTPSPort: "443"}, "GET", "/", "[::1]", 308, "https://[::1]/"},
		{"host lower-cased", transport.Redirect{}, "GET", "/a", "API.Example.COM", 308, "https://api.example.com/a"},
		{"double slash stays a path", transport.Redirect{}, "GET", "//evil.example/x", "api.example.com", 308, "https://api.example.com//evil.example/x"},
		{"listed host", transport.Redirect{Hosts: []string{"api.example.com"}}, "GET", "/", "api.example.com", 308, "https://api.example.com/"},
		{"unlisted host", transport.Redirect{Hosts: []string{"api.example.com"}}, "GET", "/", "evil.example", 421, ""},
		{"POST refused", transport.Redirect{}, "POST", "/v1/auth/token", "api.example.com", 403, ""},
		{"PUT refused", transport.Redirect{}, "PUT", "/v1/notes/1", "api.example.com", 403, ""},
		{"PATCH refused", transport.Redirect{}, "PATCH", "/v1/notes/1", "api.example.com", 403, ""},
		{"DELETE refused", transport.Redirect{}, "DELETE", "/v1/notes/1", "api.example.com", 403, ""},
		{"OPTIONS refused", transport.Redirect{}, "OPTIONS", "/v1/users", "api.example.com", 403, ""},
		{"bad host: user info", transport.Redirect{}, "GET", "/", "user@evil.example", 400, ""},
		{"bad host: percent", transport.Redirect{}, "GET", "/", "evil%2eexample", 400, ""},
		{"bad host: empty", transport.Redirect{}, "GET", "/", "", 400, ""},
		{"bad host: zone", transport.Redirect{}, "GET", "/", "[fe80::1%25eth0]", 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "http://placeholder"+tc.url, nil)
			req.Host = tc.host
			rec := httptest.NewRecorder()
			rd := tc.rd
			rd.ServeHTTP(rec, req)
			res := rec.Result()
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("got %d, want %d: %s", res.StatusCode, tc.wantStatus, rec.Body)
			}
			if got := res.Header.Get("Location"); got != tc.wantLocation {
				t.Errorf("got Location %q, want %q", got, tc.wantLocation)
			}
			if tc.wantStatus == 308 {
				if rec.Body.Len() != 0 {
					t.Errorf("redirect has a body: %q", rec.Body)
				}
				return
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("got Content-Type %q, want application/problem+json", ct)
			}
			var p map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatalf("body is not JSON: %s", rec.Body)
			}
			if tc.wantStatus == 403 {
				detail, _ := p["detail"].(string)
				if !strings.Contains(detail, "HTTPS") || !strings.Contains(detail, "https://api.example.com") || !strings.Contains(detail, "exposed") {
					t.Errorf("got detail %q, want it to say to use https://api.example.com and that the contents are exposed", detail)
				}
			}
		})
	}
}

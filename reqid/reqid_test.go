package reqid_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/reqid"
)

func TestValid(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"empty", "", false},
		{"one char", "a", true},
		{"all classes", "Abc-123_x.Y", true},
		{"uuid", "0195f3a8-7c2e-7d5b-9a61-3c1f0e2d4b6a", true},
		{"64 chars", strings.Repeat("a", 64), true},
		{"65 chars", strings.Repeat("a", 65), false},
		{"space", "abc def", false},
		{"leading space", " abc", false},
		{"CR", "abc\rdef", false},
		{"LF", "abc\ndef", false},
		{"CRLF injection", "abc\r\nSet-Cookie: x=1", false},
		{"tab", "abc\tdef", false},
		{"NUL", "abc\x00", false},
		{"slash", "a/b", false},
		{"colon", "a:b", false},
		{"quote", `a"b`, false},
		{"plus", "a+b", false},
		{"equals", "YWJj==", false},
		{"non-ASCII letter", "é", false},
		{"non-ASCII digit", "١٢٣", false},
		{"fullwidth A", "Ａ", false},
		{"invalid UTF-8", "\xff", false},
		{"DEL", "a\x7f", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reqid.Valid(tt.id); got != tt.want {
				t.Errorf("Valid(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	const n = 1000
	seen := make(map[string]bool, n)
	for range n {
		id := reqid.New()
		if !reqid.Valid(id) {
			t.Fatalf("New() = %q: got invalid, want valid", id)
		}
		if len(id) != 16 {
			t.Errorf("len(New()) = %d (%q), want 16", len(id), id)
		}
		if seen[id] {
			t.Fatalf("New() = %q: got a repeated ID, want unique", id)
		}
		seen[id] = true
	}
}

func TestHandler(t *testing.T) {
	tests := []struct {
		name     string
		incoming []string // X-Request-ID header values; nil sends none
		keep     bool     // the first incoming value is kept
	}{
		{"none", nil, false},
		{"valid", []string{"abc-123"}, true},
		{"valid 64", []string{strings.Repeat("Z", 64)}, true},
		{"empty", []string{""}, false},
		{"too long", []string{strings.Repeat("a", 65)}, false},
		{"spaces", []string{"abc def"}, false},
		{"CR", []string{"abc\rdef"}, false},
		{"LF", []string{"abc\ndef"}, false},
		{"log injection", []string{"x\n{\"level\":\"ERROR\"}"}, false},
		{"non-ASCII", []string{"requête"}, false},
		{"first of two valid", []string{"first", "second"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inContext string
			var called bool
			h := reqid.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called = true
				inContext = reqid.FromContext(r.Context())
				// The header is set before the inner handler runs.
				if got := w.Header().Get(reqid.Header); got != inContext {
					t.Errorf("response header in handler = %q, want %q", got, inContext)
				}
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, v := range tt.incoming {
				r.Header.Add(reqid.Header, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			if !called {
				t.Fatal("inner handler: got not called, want called")
			}
			got := w.Header().Get(reqid.Header)
			if got != inContext {
				t.Errorf("response %s = %q, context ID = %q: got different, want equal", reqid.Header, got, inContext)
			}
			if !reqid.Valid(got) {
				t.Errorf("response %s = %q: got invalid, want valid", reqid.Header, got)
			}
			if tt.keep {
				if got != tt.incoming[0] {
					t.Errorf("response %s = %q, want %q", reqid.Header, got, tt.incoming[0])
				}
			} else {
				for _, in := range tt.incoming {
					if got == in {
						t.Errorf("response %s = %q: got the invalid incoming value, want a fresh ID", reqid.Header, got)
					}
				}
				if len(got) != 16 {
					t.Errorf("len(fresh ID %q) = %d, want 16", got, len(got))
				}
			}
			if n := len(w.Header().Values(reqid.Header)); n != 1 {
				t.Errorf("number of %s response headers = %d, want 1", reqid.Header, n)
			}
		})
	}
}

func TestHandlerFreshIDsDiffer(t *testing.T) {
	h := reqid.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	ids := map[string]bool{}
	for range 10 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		ids[w.Header().Get(reqid.Header)] = true
	}
	if len(ids) != 10 {
		t.Errorf("distinct IDs over 10 requests = %d, want 10", len(ids))
	}
}

func TestHandlerNested(t *testing.T) {
	var inner string
	h := reqid.Handler(reqid.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner = reqid.FromContext(r.Context())
	})))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if got := w.Header().Get(reqid.Header); got == "" || got != inner {
		t.Errorf("response ID %q, inner context ID %q: want one ID", got, inner)
	}
	if n := len(w.Header().Values(reqid.Header)); n != 1 {
		t.Errorf("got %d X-Request-ID fields, want 1", n)
	}
}

func TestContext(t *testing.T) {
	tests := []struct {
		name string
		id   string
	}{
		{"empty", ""},
		{"set", "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := reqid.NewContext(t.Context(), tt.id)
			if got := reqid.FromContext(ctx); got != tt.id {
				t.Errorf("FromContext(NewContext(%q)) = %q, want %q", tt.id, got, tt.id)
			}
		})
	}
	if got := reqid.FromContext(t.Context()); got != "" {
		t.Errorf("FromContext(empty context) = %q, want %q", got, "")
	}
}

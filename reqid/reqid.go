// Package reqid gives every request an ID that appears in the response, in
// problem details and in the access log, so that a user who reports an error
// can be matched to the log line that explains it.
//
// An ID sent by the client in X-Request-ID is kept only when it is 1–64
// characters of [A-Za-z0-9._-]; anything else is replaced by a fresh random
// ID. The check keeps header and log injection out (OWASP ASVS 5.0 §16.4.1:
// log entries must not be forgeable through client input).
package reqid

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"net/http"
)

// Header is the request and response header that carries the ID.
const Header = "X-Request-ID"

type ctxKey struct{}

// FromContext returns the request ID stored by Handler, or "" when there is none.
func FromContext(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// NewContext returns a copy of ctx that carries id.
func NewContext(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// Valid reports whether id may be taken from a client as it is.
func Valid(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// canonicalHeader is Header as net/http stores it (X-Request-Id).
var canonicalHeader = http.CanonicalHeaderKey(Header)

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// New returns a fresh random ID: 80 bits, 16 characters.
func New() string {
	var b [10]byte
	rand.Read(b[:])
	return enc.EncodeToString(b[:])
}

// Handler sets X-Request-ID on the response before calling h, and stores the
// ID in the request context for FromContext. Inside another Handler it
// keeps the ID the outer one chose.
func Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Nested inside another reqid Handler (a server that wraps the
		// API in its own outer layers): keep the ID it chose, so that the
		// response and the log carry one ID and none is made twice.
		if FromContext(r.Context()) != "" {
			h.ServeHTTP(w, r)
			return
		}
		// The map is indexed with the canonical key, made once: Get and
		// Set would canonicalize "X-Request-ID" (and allocate) on every
		// request.
		var id string
		if v := r.Header[canonicalHeader]; len(v) > 0 {
			id = v[0]
		}
		if !Valid(id) {
			id = New()
		}
		w.Header()[canonicalHeader] = []string{id}
		h.ServeHTTP(w, r.WithContext(NewContext(r.Context(), id)))
	})
}

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

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// New returns a fresh random ID: 80 bits, 16 characters.
func New() string {
	var b [10]byte
	rand.Read(b[:])
	return enc.EncodeToString(b[:])
}

// Handler sets X-Request-ID on the response before calling h, and stores the
// ID in the request context for FromContext.
func Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if !Valid(id) {
			id = New()
		}
		w.Header().Set(Header, id)
		h.ServeHTTP(w, r.WithContext(NewContext(r.Context(), id)))
	})
}

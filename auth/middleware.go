package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/reqlog"
)

// DefaultRealm is the realm of the WWW-Authenticate challenges when an
// Authenticator has none.
const DefaultRealm = "gatehouse"

// Errors from Authenticate, besides those of Verify.
var (
	// ErrNoToken means the request carries no bearer credentials: no
	// Authorization header (and no token from TokenFunc), or one of another
	// scheme.
	ErrNoToken = errors.New("auth: no bearer token")
	// ErrRefused wraps an error returned by Authenticator.Check.
	ErrRefused = errors.New("auth: token refused")
)

// Authenticator is middleware that lets a request through only with a valid
// access token, and puts the token's claims in the request context. Put
// Require inside it to check scopes.
//
// The configuration is read when Handler is called; changing the fields
// afterwards does not affect handlers already made.
type Authenticator struct {
	// Verifier checks tokens. A nil or unconfigured Verifier answers every
	// request with a 500: a misconfiguration fails closed and loudly.
	Verifier *Verifier

	// Realm names the protection space in WWW-Authenticate (RFC 6750 §3).
	// Empty means DefaultRealm. It must be printable ASCII; Handler panics
	// otherwise.
	Realm string

	// Check, when set, runs on every request after the token verified,
	// cached or not, with the request's context: the place for a revocation
	// list (sid, jti) and the account-disabled check, which must apply at
	// once and so cannot be cached with the token.
	//
	// An error refuses the token with a 401 invalid_token, except a
	// *problem.Problem (found with errors.As) of status 500 or more, which is
	// sent as it is: when the store behind Check is down the answer is a 503
	// the client may retry, not a 401 that tells it to log in again.
	Check func(ctx context.Context, c *Claims) error

	// TokenFunc, when set, finds a token in a request without an
	// Authorization header: for example in a session cookie. The token is
	// verified exactly like a bearer token. A request with an Authorization
	// header is judged by that header alone. A cookie-borne credential is
	// sent by browsers on cross-site requests: put
	// http.CrossOriginProtection in front of unsafe methods.
	TokenFunc func(r *http.Request) (string, bool)
}

// BearerToken returns the token of the request's Authorization header (RFC
// 6750 §2.1): exactly one header, the scheme "Bearer" in any case, then the
// token, which must be base64url segments separated by dots, as an access
// token is.
//
// It returns ErrNoToken when there is no Authorization header or it is of
// another scheme, and ErrMalformed for several Authorization headers or a
// bearer credential that is empty or has spaces or other characters. Tokens
// are never taken from the query string (RFC 6750 §2.3 and §5.3: URLs end up
// in logs, histories and Referer headers) nor from a form body (§2.2).
func BearerToken(r *http.Request) (string, error) {
	vals := r.Header.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", ErrNoToken
	case 1:
	default:
		return "", ErrMalformed
	}
	scheme, rest, _ := strings.Cut(vals[0], " ")
	if !strings.EqualFold(scheme, "Bearer") { // RFC 9110 §11.1: schemes are case-insensitive
		if scheme == "" {
			return "", ErrMalformed
		}
		return "", ErrNoToken
	}
	tok := strings.TrimLeft(rest, " ") // 1*SP (RFC 6750 §2.1)
	if tok == "" {
		return "", ErrMalformed
	}
	for i := 0; i < len(tok); i++ {
		if !b64url[tok[i]] && tok[i] != '.' {
			return "", ErrMalformed
		}
	}
	return tok, nil
}

// Authenticate is the check that Handler makes, without writing a response:
// it finds the token, verifies it, runs Check, and returns the claims.
func (a *Authenticator) Authenticate(r *http.Request) (*Claims, error) {
	if a.Verifier == nil {
		return nil, ErrNotConfigured
	}
	tok, err := BearerToken(r)
	if err == ErrNoToken && a.TokenFunc != nil && len(r.Header.Values("Authorization")) == 0 {
		if t, ok := a.TokenFunc(r); ok {
			tok, err = t, nil
		}
	}
	if err != nil {
		return nil, err
	}
	c, err := a.Verifier.Verify(tok)
	if err != nil {
		return nil, err
	}
	if a.Check != nil {
		if err := a.Check(r.Context(), c); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRefused, err)
		}
	}
	return c, nil
}

// Handler returns a handler that calls h with the claims in the request
// context (FromContext) and the user recorded for the access log
// (reqlog.SetUser), or answers:
//
//   - 401 with WWW-Authenticate: Bearer realm="gatehouse" when the request
//     has no bearer token. RFC 6750 §3.1 asks for no error code then.
//   - 401 with WWW-Authenticate: Bearer realm="gatehouse",
//     error="invalid_token", error_description="..." for any token that was
//     refused, malformed Authorization headers included (the contract of
//     the API answers 401 rather than RFC 6750's optional 400, so that a
//     client has one path: get a new token). The description is one of two
//     fixed texts, expired or invalid; it never echoes the token or says
//     which check failed, which would guide an attacker.
//   - the *problem.Problem of Check when its status is 500 or more.
//   - a generic 500 when the Verifier is missing or unconfigured.
//
// The reason for a refusal goes to the access log as auth_error.
func (a *Authenticator) Handler(h http.Handler) http.Handler {
	cfg := *a
	realm := cfg.Realm
	if realm == "" {
		realm = DefaultRealm
	}
	if !validRealm(realm) {
		panic("auth: Authenticator.Realm must be printable ASCII")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := cfg.Authenticate(r)
		if err != nil {
			fail(w, r, realm, err)
			return
		}
		ctx := context.WithValue(r.Context(), ctxKey{}, &ctxValue{claims: c, realm: realm})
		reqlog.SetUser(ctx, c.Subject)
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// fail answers a request that Authenticate refused.
func fail(w http.ResponseWriter, r *http.Request, realm string, err error) {
	if errors.Is(err, ErrNoToken) {
		unauthorized(w, r, realm)
		return
	}
	if errors.Is(err, ErrNotConfigured) {
		problem.Respond(w, r, err) // logged; the client sees a generic 500
		return
	}
	if p, ok := errors.AsType[*problem.Problem](err); ok && p.Status >= 500 {
		reqlog.Add(r.Context(), slog.String("auth_error", err.Error()))
		problem.Write(w, r, p)
		return
	}
	reqlog.Add(r.Context(), slog.String("auth_error", err.Error()))
	desc := "The access token is invalid"
	if errors.Is(err, ErrExpired) {
		desc = "The access token expired"
	}
	problem.Write(w, r, problem.New(http.StatusUnauthorized, desc+".").With("WWW-Authenticate",
		`Bearer realm="`+quote(realm)+`", error="invalid_token", error_description="`+desc+`"`))
}

func unauthorized(w http.ResponseWriter, r *http.Request, realm string) {
	problem.Write(w, r, problem.New(http.StatusUnauthorized, "The request needs a bearer access token.").
		With("WWW-Authenticate", `Bearer realm="`+quote(realm)+`"`))
}

// Require returns middleware that lets a request through only when the
// claims in its context grant every one of scopes (RFC 6750 §3.1, RFC 9068
// §2.2.3). With no scopes it only requires authentication.
//
// Require must sit inside an Authenticator, which puts the claims there:
//
//	authn.Handler(auth.Require("notes:write")(h))
//
// Without claims (no Authenticator in front: a wiring mistake) it fails
// closed with a 401. A token that lacks a scope gets a 403 with
// WWW-Authenticate: Bearer realm="gatehouse", error="insufficient_scope",
// scope="..." naming all the scopes the route requires.
//
// Require panics when a scope is not an RFC 6749 §3.3 scope-token, so that a
// typo is found when routes are built.
func Require(scopes ...string) func(http.Handler) http.Handler {
	for _, s := range scopes {
		if !validScope(s) {
			panic(fmt.Sprintf("auth: Require: invalid scope %q", s))
		}
	}
	need := strings.Join(scopes, " ")
	scopes = append([]string(nil), scopes...)
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v, _ := r.Context().Value(ctxKey{}).(*ctxValue)
			realm := DefaultRealm
			if v != nil && v.realm != "" {
				realm = v.realm
			}
			if v == nil || v.claims == nil {
				reqlog.Add(r.Context(), slog.String("auth_error", "no claims in context: Require is not inside an Authenticator"))
				unauthorized(w, r, realm)
				return
			}
			for _, s := range scopes {
				if !v.claims.Has(s) {
					problem.Write(w, r, problem.New(http.StatusForbidden, "The access token lacks a required scope.").With("WWW-Authenticate",
						`Bearer realm="`+quote(realm)+`", error="insufficient_scope", scope="`+need+`"`))
					return
				}
			}
			h.ServeHTTP(w, r)
		})
	}
}

type ctxKey struct{}

type ctxValue struct {
	claims *Claims
	realm  string
}

// NewContext returns a copy of ctx that carries c, as an Authenticator does.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, ctxKey{}, &ctxValue{claims: c})
}

// FromContext returns the claims of the request's access token, put there
// by an Authenticator or NewContext.
func FromContext(ctx context.Context) (*Claims, bool) {
	v, _ := ctx.Value(ctxKey{}).(*ctxValue)
	if v == nil || v.claims == nil {
		return nil, false
	}
	return v.claims, true
}

func validRealm(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// quote escapes s for a quoted-string (RFC 9110 §5.6.4).
func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/jsonbody"
	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/reqlog"
)

// CookieName is the browser session cookie. The __Host- prefix makes
// browsers refuse it unless it is Secure, has Path=/ and no Domain, so a
// sibling subdomain cannot plant or overwrite it (RFC 6265bis §4.1.3.2).
const CookieName = "__Host-gatehouse_session"

type browserLoginRequest struct {
	Username string `json:"username" required:"true" maxLength:"256"`
	Password string `json:"password" required:"true" maxLength:"256"`
}

// handleBrowserLogin starts a browser session from JSON credentials and
// sets the session cookie (Secure, HttpOnly so scripts cannot read it,
// SameSite=Lax so other sites' subrequests do not carry it). The same
// credential checks, throttling and answers as the token endpoint apply.
func handleBrowserLogin(d Deps) http.Handler {
	ti := &tokenIssuer{d: d}
	var dec jsonbody.Decoder
	_ = dec.SetMaxBytes(4 << 10)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req browserLoginRequest
		if err := dec.Decode(w, r, &req); err != nil {
			respond(w, r, err)
			return
		}
		u, oe := ti.authenticate(r, req.Username, req.Password)
		if oe != nil {
			p := problem.New(oe.status, oe.Description)
			if oe.status == http.StatusBadRequest {
				p = problem.New(http.StatusUnauthorized, oe.Description)
			}
			if oe.retryAfter > 0 {
				p.With("Retry-After", strconv.Itoa(oe.retryAfter))
			}
			problem.Write(w, r, p)
			return
		}
		perms, err := d.Store.RolePermissions(r.Context(), u.Roles)
		if err != nil {
			respond(w, r, err)
			return
		}
		now := d.Now().UTC()
		sid, err := uuid.NewV7()
		if err != nil {
			respond(w, r, err)
			return
		}
		value, hash := newRefreshToken() // 256 random bits, stored hashed
		sess := &gatehouse.Session{ID: sid.String(), UserID: u.ID, CreatedAt: now, LastUsedAt: now,
			ExpiresAt: now.Add(d.Config.CookieSessionTTL), Scope: strings.Join(perms, " "), UserAgent: truncate(r.UserAgent(), 256)}
		if err := d.Store.CreateCookieSession(r.Context(), sess, hash); err != nil {
			respond(w, r, err)
			return
		}
		securityEvent(d, r, "browser_session_started", u.ID, "session", sess.ID)
		http.SetCookie(w, &http.Cookie{Name: CookieName, Value: value, Path: "/", MaxAge: int(d.Config.CookieSessionTTL / time.Second),
			Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		noStore(w)
		jsonbody.Write(w, http.StatusOK, newUserResponse(u))
	})
}

// handleBrowserLogout ends the browser session and clears the cookie.
func handleBrowserLogout(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := auth.FromContext(r.Context())
		now := d.Now()
		if err := d.Store.RevokeSession(r.Context(), c.SessionID, c.Subject, "logout", now); err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
			respond(w, r, err)
			return
		}
		d.Revocations.Add(c.SessionID, now)
		clearCookie(w)
		w.WriteHeader(http.StatusNoContent)
	})
}

func clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// browserAuth authenticates a request by bearer token when it has an
// Authorization header, else by the session cookie. Cookie-authenticated
// unsafe requests must pass http.CrossOriginProtection (Fetch Metadata
// Sec-Fetch-Site, with an Origin fallback), which a cross-site form or
// fetch cannot: that is the CSRF defence, with no token to carry (OWASP
// CSRF Cheat Sheet, "Fetch Metadata headers"). Bearer requests are not
// affected: browsers never attach them on their own. cookieOnly refuses
// bearer tokens (logout of a browser session).
func browserAuth(d Deps, a *auth.Authenticator, cop *http.CrossOriginProtection, cookieOnly bool) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		bearer := a.Handler(h)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, has := r.Header["Authorization"]; has && !cookieOnly {
				bearer.ServeHTTP(w, r)
				return
			}
			ck, err := r.Cookie(CookieName)
			if err != nil || ck.Value == "" || len(ck.Value) > 128 {
				unauthenticated(w, r)
				return
			}
			if err := cop.Check(r); err != nil {
				problem.Write(w, r, problem.New(http.StatusForbidden, "Cross-origin requests cannot use the session cookie."))
				return
			}
			sess, err := d.Store.SessionByCookieHash(r.Context(), hashRefreshToken(ck.Value))
			if err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
				respond(w, r, err)
				return
			}
			now := d.Now()
			if sess == nil || sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) || d.Revocations.Revoked(sess.ID) {
				clearCookie(w)
				unauthenticated(w, r)
				return
			}
			c := &auth.Claims{Issuer: d.Config.Issuer, Subject: sess.UserID, SessionID: sess.ID, Scope: strings.Fields(sess.Scope), ExpiresAt: sess.ExpiresAt}
			reqlog.SetUser(r.Context(), sess.UserID)
			h.ServeHTTP(w, r.WithContext(auth.NewContext(r.Context(), c)))
		})
	}
}

// unauthenticated is the RFC 6750 §3 answer for a missing credential.
func unauthenticated(w http.ResponseWriter, r *http.Request) {
	problem.Write(w, r, problem.New(http.StatusUnauthorized, "Authentication is required.").
		With("WWW-Authenticate", `Bearer realm="gatehouse"`))
}

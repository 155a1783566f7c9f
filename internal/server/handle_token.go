package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/clientip"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/throttle"
	"github.com/gatehouse/gatehouse/reqid"
	"github.com/gatehouse/gatehouse/reqlog"
)

// ClientID is the client_id of gatehouse's first-party public client
// (RFC 9068 §2.2 requires the claim).
const ClientID = "gatehouse"

// tokenResponse is the RFC 6749 §5.1 success body.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

// oauthError is the RFC 6749 §5.2 error body.
type oauthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	status      int
	retryAfter  int
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func invalidRequest(desc string) *oauthError {
	return &oauthError{Code: "invalid_request", Description: desc, status: http.StatusBadRequest}
}

// errBusy answers when the password-hash queue is full: the client should
// retry shortly (RFC 9110 §10.2.3 Retry-After).
var errBusy = &oauthError{Code: "temporarily_unavailable", Description: "The server is busy; retry shortly.", status: http.StatusServiceUnavailable, retryAfter: 1}

// hashBusy is errBusy for a refusal of the password-hash limiter, with the
// Retry-After it estimated from the demand (password.BusyError).
func hashBusy(err error) *oauthError {
	e := *errBusy
	e.retryAfter = password.RetryAfter(err)
	return &e
}

// errBadCredentials is the one answer for an unknown user, a wrong
// password and a disabled account, so the endpoint reveals nothing about
// which accounts exist (OWASP ASVS 5.0 §6.3.8).
var errBadCredentials = &oauthError{Code: "invalid_grant", Description: "The username or password is incorrect.", status: http.StatusBadRequest}

func writeOAuthError(w http.ResponseWriter, r *http.Request, e *oauthError) {
	noStore(w)
	if e.status == http.StatusUnauthorized {
		// RFC 6749 §5.2: invalid_client over 401 carries a challenge.
		w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse"`)
	}
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	body, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

// maxFormBytes bounds an OAuth2 form body; real requests are far smaller.
const maxFormBytes = 8 << 10

// parseForm reads an application/x-www-form-urlencoded body strictly: the
// right media type, a small size, valid UTF-8, and no parameter twice
// (RFC 6749 §3.2: parameters MUST NOT be included more than once).
// Credentials in the query string are refused so they never reach access
// logs or proxies (RFC 6749 §3.2 requires POST with a body).
func parseForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, invalidRequest("The request body must be application/x-www-form-urlencoded.")
	}
	if r.URL.RawQuery != "" {
		return nil, invalidRequest("Parameters must be sent in the request body, not the query string.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			e := invalidRequest("The request body is too large.")
			e.status = http.StatusRequestEntityTooLarge
			return nil, e
		}
		return nil, invalidRequest("The request body could not be read.")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, invalidRequest("The request body is not valid form encoding.")
	}
	for k, v := range form {
		if len(v) > 1 {
			return nil, invalidRequest("The parameter " + safeName(k) + " is repeated.")
		}
		if !utf8.ValidString(k) || !utf8.ValidString(v[0]) {
			return nil, invalidRequest("Parameters must be valid UTF-8.")
		}
	}
	return form, nil
}

// safeName is a client-chosen parameter name fit to echo in an
// error_description, whose characters RFC 6749 §5.2 limits (no quote, no
// backslash, printable ASCII): anything else is replaced by "?".
func safeName(s string) string {
	if len(s) == 0 || len(s) > 32 {
		return "?"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return "?"
		}
	}
	return s
}

// handleToken is the OAuth2 token endpoint (RFC 6749 §3.2).
func handleToken(d Deps) http.Handler {
	ti := &tokenIssuer{d: d}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, oe := parseForm(w, r)
		if oe != nil {
			writeOAuthError(w, r, oe)
			return
		}
		if id := form.Get("client_id"); id != "" && id != ClientID {
			writeOAuthError(w, r, &oauthError{Code: "invalid_client", Description: "Unknown client.", status: http.StatusUnauthorized})
			return
		}
		var resp *tokenResponse
		switch gt := form.Get("grant_type"); gt {
		case "password":
			resp, oe = ti.passwordGrant(r, form)
		case "refresh_token":
			resp, oe = ti.refreshGrant(r, form)
		case "":
			oe = invalidRequest("The grant_type parameter is required.")
		default:
			oe = &oauthError{Code: "unsupported_grant_type", Description: "Supported grant types: password, refresh_token.", status: http.StatusBadRequest}
		}
		if oe != nil {
			writeOAuthError(w, r, oe)
			return
		}
		noStore(w)
		body, _ := json.Marshal(resp) // #nosec G117 -- the token response carries the tokens by design (RFC 6749 §5.1), sent with no-store
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
}

// tokenIssuer makes access and refresh tokens.
type tokenIssuer struct{ d Deps }

// passwordGrant is RFC 6749 §4.3.
func (ti *tokenIssuer) passwordGrant(r *http.Request, form url.Values) (*tokenResponse, *oauthError) {
	username, pw := form.Get("username"), form.Get("password")
	if username == "" || pw == "" {
		return nil, invalidRequest("The username and password parameters are required.")
	}
	u, oe := ti.authenticate(r, username, pw)
	if oe != nil {
		return nil, oe
	}
	scope, oe := ti.grantScope(r, u, form.Get("scope"))
	if oe != nil {
		return nil, oe
	}
	return ti.newSession(r, u, scope)
}

// authenticate checks a username and password. Every failure (unknown
// user, wrong password, disabled account) is the same errBadCredentials,
// reached through the same work: an unknown user's password is verified
// against a dummy hash, so both paths cost one argon2id verification
// (OWASP Authentication Cheat Sheet, "authentication responses"). The
// reason is kept in the server log only.
func (ti *tokenIssuer) authenticate(r *http.Request, username, pw string) (*gatehouse.User, *oauthError) {
	ctx := r.Context()
	name := gatehouse.NormalizeUsername(username)
	if len(username) > 256 || len(pw) > 4096 {
		// No account has such a name or password; still do the work.
		name, pw = "", ""
	}
	// Brute-force back-off per (username, IP) and per username (NIST SP
	// 800-63B-4 §3.2.2). A throttled attempt is answered like a wrong
	// password, after the same dummy verification, whether or not the
	// account exists and whatever the password.
	// When the hash queue is full, refuse before any other work: a
	// flood's refusals must cost as little as possible, or answering them
	// eats the CPU that hashing needs. The check does not look at the
	// username, so it reveals nothing about the account.
	if err := ti.d.Hasher.Busy(); err != nil {
		return nil, hashBusy(err)
	}
	ip, _ := clientip.FromContext(ctx)
	verdict, _ := ti.d.Throttle.Attempt(name, ip)
	if verdict == throttle.InFlight {
		// Too many of this client's own attempts on this name are still
		// being verified: a busy answer that depends only on the
		// client's own requests, so it reveals nothing about the account.
		// The client will come back for a hash: Refuse counts it in the
		// demand that sizes Retry-After.
		return nil, hashBusy(ti.d.Hasher.Refuse())
	}
	if verdict == throttle.Throttled {
		if err := ti.d.Hasher.VerifyDummy(ctx, pw); errors.Is(err, password.ErrBusy) {
			return nil, hashBusy(err)
		}
		reqlog.Add(ctx, slogString("login_failure", "throttled"))
		return nil, errBadCredentials
	}
	var u *gatehouse.User
	if name != "" {
		var err error
		u, err = ti.d.Store.UserByUsername(ctx, name)
		if err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
			ti.d.Throttle.Release(name, ip)
			return nil, ti.serverError(r, err)
		}
	}
	stored := password.DummyHash(ti.d.Hasher.Params)
	if u != nil {
		stored = u.PasswordHash
	}
	ok, rehash, err := ti.d.Hasher.Verify(ctx, stored, pw)
	if err != nil {
		ti.d.Throttle.Release(name, ip)
		if errors.Is(err, password.ErrBusy) {
			return nil, hashBusy(err)
		}
		return nil, ti.serverError(r, err)
	}
	if u == nil || !ok || u.Disabled {
		reason := "wrong password"
		switch {
		case u == nil:
			reason = "unknown user"
		case ok && u.Disabled:
			reason = "account disabled"
		}
		reqlog.Add(ctx, slogString("login_failure", reason))
		userID := ""
		if u != nil {
			userID = u.ID
		}
		// The reason is kept here, server-side only.
		ti.event(r, "login_failure", userID, "username", name, "reason", reason)
		if ev := ti.d.Throttle.Failure(name, ip); ev.Started() {
			ti.event(r, "login_throttled", userID, "username", name, "client_ip", ip.String(),
				"pair_failures", strconv.Itoa(ev.PairFailures), "account_failures", strconv.Itoa(ev.AccountFailures),
				"locked", strconv.FormatBool(ev.Locked))
		}
		return nil, errBadCredentials
	}
	ti.d.Throttle.Success(name, ip)
	ti.event(r, "login_success", u.ID)
	if rehash {
		// Parameters were raised since this hash was made: upgrade it now
		// that the clear password is at hand. Failure is not fatal.
		if h, err := ti.d.Hasher.Hash(ctx, pw); err == nil {
			if err := ti.d.Store.SetPasswordHash(ctx, u.ID, h); err != nil {
				reqlog.Add(ctx, slogString("rehash_error", err.Error()))
			}
		}
	}
	return u, nil
}

// errBadRefresh is the one answer for an unknown, expired, reused or
// revoked refresh token (RFC 6749 §5.2 invalid_grant).
var errBadRefresh = &oauthError{Code: "invalid_grant", Description: "The refresh token is invalid, expired or revoked.", status: http.StatusBadRequest}

// refreshGrant is RFC 6749 §6 with rotation and reuse detection (RFC 9700
// §4.14.2): every use retires the token and returns a successor; a retired
// token presented again outside the grace window ends the whole session.
func (ti *tokenIssuer) refreshGrant(r *http.Request, form url.Values) (*tokenResponse, *oauthError) {
	ctx := r.Context()
	presented := form.Get("refresh_token")
	if presented == "" {
		return nil, invalidRequest("The refresh_token parameter is required.")
	}
	if len(presented) > 128 {
		return nil, errBadRefresh
	}
	now := ti.d.Now().UTC()
	next, nextHash := newRefreshToken()
	oldHash := hashRefreshToken(presented)
	res, err := ti.d.Store.RotateRefreshToken(ctx, gatehouse.RotateRequest{
		OldHash:         oldHash,
		New:             &gatehouse.RefreshToken{Hash: nextHash, CreatedAt: now},
		SuccessorSealed: ti.d.KEK.Seal(sealLabel(oldHash), []byte(next)),
		Now:             now,
		Grace:           ti.d.Config.RefreshGrace,
		IdleTTL:         ti.d.Config.RefreshIdleTTL,
	})
	if err != nil {
		return nil, ti.serverError(r, err)
	}
	switch res.Outcome {
	case gatehouse.Rotated:
	case gatehouse.Replayed:
		clear, err := ti.d.KEK.Open(sealLabel(oldHash), res.SuccessorSealed)
		if err != nil {
			return nil, ti.serverError(r, err)
		}
		next = string(clear)
	case gatehouse.ReuseDetected:
		ti.d.Revocations.Add(res.Session.ID, now)
		ti.event(r, "refresh_token_reuse", res.Session.UserID, "session", res.Session.ID)
		return nil, errBadRefresh
	default:
		return nil, errBadRefresh
	}
	sess := res.Session
	u, err := ti.d.Store.UserByID(ctx, sess.UserID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, errBadRefresh
	}
	if err != nil {
		return nil, ti.serverError(r, err)
	}
	if u.Disabled {
		return nil, errBadRefresh
	}
	// The refreshed scope is the session's, narrowed to what the roles
	// grant now (a removed role takes effect at the next refresh), and
	// narrowed again by a scope parameter, which may not widen it (§6).
	held, err := ti.d.Store.RolePermissions(ctx, u.Roles)
	if err != nil {
		return nil, ti.serverError(r, err)
	}
	var scope []string
	for _, p := range strings.Fields(sess.Scope) {
		if slices.Contains(held, p) {
			scope = append(scope, p)
		}
	}
	if req := strings.Fields(form.Get("scope")); len(req) > 0 {
		var narrowed []string
		for _, p := range req {
			if !slices.Contains(strings.Fields(sess.Scope), p) {
				return nil, &oauthError{Code: "invalid_scope", Description: "The requested scope exceeds the original grant.", status: http.StatusBadRequest}
			}
			if slices.Contains(scope, p) && !slices.Contains(narrowed, p) {
				narrowed = append(narrowed, p)
			}
		}
		slices.Sort(narrowed)
		scope = narrowed
	}
	access, err := ti.accessToken(u, scope, sess.ID, now)
	if err != nil {
		return nil, ti.serverError(r, err)
	}
	ti.event(r, "token_refresh", u.ID, "session", sess.ID)
	return &tokenResponse{
		AccessToken:  access,
		TokenType:    "Bearer",
		ExpiresIn:    int(ti.d.Config.AccessTokenTTL / time.Second),
		RefreshToken: next,
		Scope:        strings.Join(scope, " "),
	}, nil
}

// sealLabel binds a sealed successor to the token it replaced.
func sealLabel(oldHash []byte) string {
	return "refresh:" + base64.RawURLEncoding.EncodeToString(oldHash)
}

func (ti *tokenIssuer) event(r *http.Request, name, userID string, kv ...string) {
	securityEvent(ti.d, r, name, userID, kv...)
}

// securityEvent records a security event: on the log, and in the audit
// trail when the server has one. kv are extra facts (never secrets); the
// keys "subject" and "session" name what the event is about.
func securityEvent(d Deps, r *http.Request, name, userID string, kv ...string) {
	ctx := r.Context()
	attrs := []any{"event", name, "user_id", userID, "request_id", reqid.FromContext(ctx)}
	detail := map[string]string{}
	subject := ""
	for i := 0; i+1 < len(kv); i += 2 {
		attrs = append(attrs, kv[i], kv[i+1])
		switch kv[i] {
		case "subject":
			subject = kv[i+1]
		default:
			detail[kv[i]] = kv[i+1]
		}
	}
	if subject == "" {
		subject = userID
	}
	d.Logger.WarnContext(ctx, "security event", attrs...)
	if d.Audit == nil {
		return
	}
	ip, _ := clientip.FromContext(ctx)
	ev := &gatehouse.AuditEvent{Type: name, Actor: userID, Subject: subject, RequestID: reqid.FromContext(ctx),
		Outcome: outcomeOf(name), Detail: detail}
	if ip.IsValid() {
		ev.ClientIP = ip.String()
	}
	// The request does not fail when the trail cannot be written; the
	// event is on the log line above and the error is logged loudly.
	if err := d.Audit.Append(context.WithoutCancel(ctx), ev); err != nil {
		d.Logger.ErrorContext(ctx, "audit trail write failed", "event", name, "error", err.Error())
	}
}

// outcomeOf classifies an event type for the audit trail.
func outcomeOf(event string) string {
	switch event {
	case "login_failure", "login_throttled", "refresh_token_reuse":
		return "failure"
	case "authorization_denied":
		return "denied"
	}
	return "success"
}

// grantScope intersects the requested scope with what the user's roles
// grant; asking for more than that is invalid_scope (RFC 6749 §5.2). No
// scope parameter means every permission the user holds (§3.3).
func (ti *tokenIssuer) grantScope(r *http.Request, u *gatehouse.User, requested string) ([]string, *oauthError) {
	held, err := ti.d.Store.RolePermissions(r.Context(), u.Roles)
	if err != nil {
		return nil, ti.serverError(r, err)
	}
	if strings.TrimSpace(requested) == "" {
		return held, nil
	}
	var out []string
	for _, s := range strings.Fields(requested) {
		if !slices.Contains(held, s) {
			return nil, &oauthError{Code: "invalid_scope", Description: "The requested scope exceeds what the account holds.", status: http.StatusBadRequest}
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out, nil
}

// newSession starts a session (a refresh-token family) and returns its
// first token pair.
func (ti *tokenIssuer) newSession(r *http.Request, u *gatehouse.User, scope []string) (*tokenResponse, *oauthError) {
	now := ti.d.Now().UTC()
	sid, err := uuid.NewV7()
	if err != nil {
		return nil, ti.serverError(r, err)
	}
	refresh, hash := newRefreshToken()
	sess := &gatehouse.Session{
		ID: sid.String(), UserID: u.ID, CreatedAt: now, LastUsedAt: now,
		ExpiresAt: now.Add(ti.d.Config.RefreshMaxTTL), Scope: strings.Join(scope, " "),
		UserAgent: truncate(r.UserAgent(), 256),
	}
	rt := &gatehouse.RefreshToken{Hash: hash, SessionID: sess.ID, CreatedAt: now, ExpiresAt: minTime(now.Add(ti.d.Config.RefreshIdleTTL), sess.ExpiresAt)}
	if err := ti.d.Store.CreateSession(r.Context(), sess, rt); err != nil {
		return nil, ti.serverError(r, err)
	}
	access, err := ti.accessToken(u, scope, sess.ID, now)
	if err != nil {
		return nil, ti.serverError(r, err)
	}
	return &tokenResponse{
		AccessToken:  access,
		TokenType:    "Bearer",
		ExpiresIn:    int(ti.d.Config.AccessTokenTTL / time.Second),
		RefreshToken: refresh,
		Scope:        strings.Join(scope, " "),
	}, nil
}

// accessToken signs an RFC 9068 access token with the active key.
func (ti *tokenIssuer) accessToken(u *gatehouse.User, scope []string, sessionID string, now time.Time) (string, error) {
	kid, key, err := ti.d.Keys.Signer()
	if err != nil {
		return "", err
	}
	jti, err := uuid.NewRandom()
	if err != nil {
		return "", err
	}
	return auth.Sign(auth.Claims{
		Issuer:    ti.d.Config.Issuer,
		Subject:   u.ID,
		Audience:  []string{ti.d.Config.Audience},
		ExpiresAt: now.Add(ti.d.Config.AccessTokenTTL),
		IssuedAt:  now,
		NotBefore: now,
		ID:        jti.String(),
		Scope:     scope,
		SessionID: sessionID,
		ClientID:  ClientID,
	}, kid, key)
}

func (ti *tokenIssuer) serverError(r *http.Request, err error) *oauthError {
	reqlog.SetError(r.Context(), err)
	if errors.Is(err, gatehouse.ErrUnavailable) {
		return &oauthError{Code: "temporarily_unavailable", Description: "A backing store does not answer; retry shortly.", status: http.StatusServiceUnavailable, retryAfter: 5}
	}
	return &oauthError{Code: "server_error", Description: "The server could not complete the request.", status: http.StatusInternalServerError}
}

// newRefreshToken returns an opaque token of 256 random bits and the hash
// that is stored in its place (RFC 6819 §5.1.4.1.3: store only hashes).
func newRefreshToken() (token string, hash []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashRefreshToken(token)
}

func hashRefreshToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

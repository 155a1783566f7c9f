// Package reqlog writes one structured access-log line per request with
// log/slog, and keeps secrets out of every log line.
//
// The line holds the method, the route pattern (not the raw URL, whose query
// may carry a token), the status, the duration, the request ID and, when an
// authentication layer reports one, the user ID. Request headers, bodies and
// query strings are never logged (OWASP ASVS 5.0 §16.2.5: no credentials or
// session tokens in logs).
package reqlog

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/reqid"
)

// entry collects what handlers learn about a request for its log line.
type entry struct {
	mu      sync.Mutex
	user    string
	err     string
	attrs   []slog.Attr
	pattern string
}

type ctxKey struct{}

func from(ctx context.Context) *entry {
	e, _ := ctx.Value(ctxKey{}).(*entry)
	return e
}

// SetUser records the authenticated user's ID for the request's log line.
// It reports whether the request is being logged by Handler.
func SetUser(ctx context.Context, userID string) bool {
	e := from(ctx)
	if e == nil {
		return false
	}
	e.mu.Lock()
	e.user = userID
	e.mu.Unlock()
	return true
}

// SetError records an internal error for the request's log line. Internal
// errors are logged, never sent to clients.
func SetError(ctx context.Context, err error) bool {
	e := from(ctx)
	if e == nil || err == nil {
		return false
	}
	msg := err.Error() // outside the lock: Error methods may panic
	e.mu.Lock()
	e.err = msg
	e.mu.Unlock()
	return true
}

// Add records extra attributes for the request's log line. Values pass
// through Redact like every other attribute when the logger uses it.
func Add(ctx context.Context, attrs ...slog.Attr) bool {
	e := from(ctx)
	if e == nil {
		return false
	}
	e.mu.Lock()
	e.attrs = append(e.attrs, attrs...)
	e.mu.Unlock()
	return true
}

// SetPattern records the route pattern when a router below Handler serves a
// copy of the request (http.ServeMux sets Pattern on the request it gets).
func SetPattern(ctx context.Context, pattern string) {
	if e := from(ctx); e != nil {
		e.mu.Lock()
		e.pattern = pattern
		e.mu.Unlock()
	}
}

// statusWriter remembers the status code and the body size.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	// 1xx answers (103 Early Hints) precede the real status.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Handler logs one line per request on logger: at Error level for 5xx
// statuses, Info otherwise. A nil logger uses slog.Default.
func Handler(logger *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := logger
		if l == nil {
			l = slog.Default()
		}
		start := time.Now()
		e := &entry{}
		sw := &statusWriter{ResponseWriter: w}
		r2 := r.WithContext(context.WithValue(r.Context(), ctxKey{}, e))
		defer func() {
			// Deferred so that a line is written even when a panic passes
			// through (put problem.Recover inside this handler to answer it).
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			ctx := r.Context()
			lh := l.Handler()
			if !lh.Enabled(ctx, level) {
				return
			}
			now := time.Now()
			// The record is built here instead of through Logger.LogAttrs,
			// which would copy the attributes once more and walk the stack
			// (runtime.Callers) for a source location that would always be
			// this function.
			rec := slog.NewRecord(now, level, "request", 0)
			pattern := r2.Pattern
			e.mu.Lock()
			if e.pattern != "" {
				pattern = e.pattern
			}
			rec.AddAttrs(
				slog.String("method", r.Method),
				slog.String("route", pattern),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Duration("duration", now.Sub(start)),
				slog.Int64("bytes", sw.bytes),
				slog.String("request_id", reqid.FromContext(ctx)),
			)
			if e.user != "" {
				rec.AddAttrs(slog.String("user_id", e.user))
			}
			if e.err != "" {
				rec.AddAttrs(slog.String("error", e.err))
			}
			rec.AddAttrs(e.attrs...) // copied: the record shares nothing with e
			e.mu.Unlock()
			_ = lh.Handle(ctx, rec) // as Logger.LogAttrs: a line that cannot be written fails nothing
		}()
		h.ServeHTTP(sw, r2)
	})
}

// Redacted is what Redact puts in place of a secret value.
const Redacted = "[REDACTED]"

// sensitive lists substrings of attribute keys whose values are secrets.
var sensitive = []string{"password", "passwd", "passphrase", "secret", "token", "authorization", "cookie", "credential", "private", "apikey", "kek"}

var separators = strings.NewReplacer("-", "", "_", "")

// Sensitive reports whether an attribute key names a secret. Case, '-'
// and '_' are ignored, so X-Api-Key, api_key and APIKEY all match.
func Sensitive(key string) bool {
	if secret, ok := knownKeys[key]; ok {
		return secret
	}
	return sensitiveKey(key)
}

// knownKeys holds Sensitive's answer for slog's built-in keys and the keys
// of the access-log line, which every request logs: computed once by the
// same rule, so that the common case skips lower-casing and removing
// separators on every attribute of every line.
var knownKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range []string{slog.TimeKey, slog.LevelKey, slog.MessageKey, slog.SourceKey,
		"method", "route", "path", "status", "duration", "bytes", "request_id", "user_id", "error"} {
		m[k] = sensitiveKey(k)
	}
	return m
}()

func sensitiveKey(key string) bool {
	k := separators.Replace(strings.ToLower(key))
	for _, s := range sensitive {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// Redact is a slog.HandlerOptions.ReplaceAttr function that replaces the
// value of every attribute whose key names a secret (password, token,
// authorization, cookie, secret, ...) with Redacted. It is a second line of
// defence: code should not log secrets in the first place.
func Redact(groups []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindGroup && Sensitive(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	// With a ReplaceAttr function, slog passes the record's level as an
	// Any value, which the JSON handler encodes through encoding/json
	// (Level.MarshalJSON): the level's name as a string is the same
	// output at a fraction of the cost.
	if a.Key == slog.LevelKey && len(groups) == 0 && a.Value.Kind() == slog.KindAny {
		if l, ok := a.Value.Any().(slog.Level); ok {
			return slog.String(slog.LevelKey, l.String())
		}
	}
	return a
}

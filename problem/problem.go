// Package problem writes RFC 9457 problem details, and makes errors safe to
// show to clients by construction.
//
// Only a *Problem reaches a client as it is. Any other error becomes a
// generic 500 whose request_id points at the log line that holds the real
// error (OWASP ASVS 5.0 §16.5.1: no stack trace, query or library message in
// a response). Fails closed: an unknown error is always treated as internal.
package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"

	"github.com/gatehouse/gatehouse/reqid"
	"github.com/gatehouse/gatehouse/reqlog"
)

// ContentType is the media type of a problem response (RFC 9457 §3).
const ContentType = "application/problem+json"

// FieldError names one bad input and says what is wrong with it.
// Location is a dotted path such as "body.email" or "query.limit".
type FieldError struct {
	Location string `json:"location"`
	Message  string `json:"message"`
}

// Problem is an error meant for clients. Every field is public and is sent as
// it is, so never put internal detail in it.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail"`
	Instance  string       `json:"instance,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`

	// Header holds extra response headers, such as Retry-After or
	// WWW-Authenticate. They are set before the status is written.
	Header http.Header `json:"-"`
}

// New returns a problem of type about:blank whose title is the status text.
func New(status int, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
}

// Validation returns a 422 problem that lists every bad field.
func Validation(errs ...FieldError) *Problem {
	p := New(http.StatusUnprocessableEntity, "The request has invalid fields; see errors.")
	p.Errors = errs
	return p
}

// Error implements error with the public detail.
func (p *Problem) Error() string {
	return strconv.Itoa(p.Status) + " " + p.Title + ": " + p.Detail
}

// With sets a response header on p and returns p.
func (p *Problem) With(key, value string) *Problem {
	if p.Header == nil {
		p.Header = http.Header{}
	}
	p.Header.Set(key, value)
	return p
}

// Write sends p as the response, adding the request ID from the context.
func Write(w http.ResponseWriter, r *http.Request, p *Problem) {
	out := *p
	if out.RequestID == "" {
		out.RequestID = reqid.FromContext(r.Context())
	}
	if out.Type == "" {
		out.Type = "about:blank"
	}
	if out.Title == "" {
		out.Title = http.StatusText(out.Status)
	}
	body, err := json.Marshal(out)
	if err != nil { // cannot happen: every field marshals
		body = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
		out.Status = http.StatusInternalServerError
	}
	h := w.Header()
	for k, v := range p.Header {
		h[k] = v
	}
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del("Content-Encoding")
	w.WriteHeader(out.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// Respond writes err for a client. A *Problem (found with errors.As) is sent
// as it is; anything else is recorded in the request's access-log line (or
// the default logger) and answered with a generic 500.
func Respond(w http.ResponseWriter, r *http.Request, err error) {
	if err == nil {
		err = errors.New("problem.Respond: nil error")
	}
	var p *Problem
	if errors.As(err, &p) {
		if p != nil {
			Write(w, r, p)
			return
		}
		err = errors.New("problem.Respond: nil *Problem")
	}
	if !reqlog.SetError(r.Context(), err) {
		slog.ErrorContext(r.Context(), "internal error", "request_id", reqid.FromContext(r.Context()), "error", err.Error())
	}
	Write(w, r, Internal())
}

// Internal returns the generic 500 problem.
func Internal() *Problem {
	return New(http.StatusInternalServerError, "The server could not complete the request. Quote the request_id when reporting this.")
}

// Recover answers a panic in h with the generic 500 problem and records the
// panic value and stack for the log, never for the client. The panic
// http.ErrAbortHandler is passed on, as net/http expects.
func Recover(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler {
				panic(rec)
			}
			err := fmt.Errorf("panic: %v\n%s", rec, debug.Stack())
			if !reqlog.SetError(r.Context(), err) {
				slog.ErrorContext(r.Context(), "panic", "request_id", reqid.FromContext(r.Context()), "error", err.Error())
			}
			Write(w, r, Internal())
		}()
		h.ServeHTTP(w, r)
	})
}

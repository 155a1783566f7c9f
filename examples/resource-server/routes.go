package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/jsonbody"
	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/reqid"
	"github.com/gatehouse/gatehouse/reqlog"
	"github.com/gatehouse/gatehouse/sanitize"
	"github.com/gatehouse/gatehouse/secheaders"
)

// realm names this service in WWW-Authenticate challenges (RFC 6750 §3).
const realm = "reports"

// newHandler builds the service. Read the route table as: method and path,
// the scope (gatehouse permission) the token must carry, the handler.
// protected(...) is, from the outside in: a valid bearer token
// (Authenticator), the per-user rate limit, the scope (Require).
func newHandler(v *auth.Verifier, userRate ratelimit.Rate, logger *slog.Logger) (http.Handler, error) {
	authn := &auth.Authenticator{Verifier: v, Realm: realm}
	perUser, err := ratelimit.New("user", userRate, ratelimit.NewMemoryStore(0))
	if err != nil {
		return nil, err
	}
	perUser.SetKey(byUser)
	protected := func(scope string, h http.Handler) http.Handler {
		return authn.Handler(perUser.Handler(auth.Require(scope)(h)))
	}

	reports := &reportStore{max: maxReports}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /v1/reports", protected("notes:read", handleReportList(reports)))
	mux.Handle("POST /v1/reports", protected("notes:write", handleReportCreate(reports, sanitize.New())))
	mux.Handle("GET /v1/admin/stats", protected("users:read", handleStats(reports)))

	// Every response, errors included, passes through these, from the
	// outside in: a request ID, one access-log line, the security headers,
	// panic recovery (a panic becomes a generic 500 problem; the stack goes
	// to the log line only), then routing.
	var h http.Handler = problemMux(mux)
	h = problem.Recover(h)
	h = secheaders.New().Handler(h)
	h = reqlog.Handler(logger, h)
	h = reqid.Handler(h)
	return h, nil
}

// byUser keys the rate limit by the token's subject. It sits inside the
// Authenticator, so every request it sees has claims.
func byUser(r *http.Request) (string, bool) {
	c, ok := auth.FromContext(r.Context())
	if !ok {
		return "", false
	}
	return c.Subject, true
}

var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// problemMux answers requests that no route matches with problem details,
// 404 or 405 with Allow (RFC 9110 §15.5.6), where ServeMux would answer in
// plain text, and records the matched route for the access log.
func problemMux(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			reqlog.SetPattern(r.Context(), pattern)
			mux.ServeHTTP(w, r)
			return
		}
		var allow []string
		for _, m := range probeMethods {
			probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
			if _, p := mux.Handler(probe); p != "" && m != r.Method {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			problem.Write(w, r, problem.New(http.StatusMethodNotAllowed,
				fmt.Sprintf("Method %s is not allowed here.", r.Method)).With("Allow", strings.Join(allow, ", ")))
			return
		}
		problem.Write(w, r, problem.New(http.StatusNotFound, "No such resource."))
	})
}

func handleHealthz() http.Handler {
	type response struct {
		Status string `json:"status"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jsonbody.Write(w, http.StatusOK, response{Status: "ok"})
	})
}

// report is one stored report.
type report struct {
	ID        string    `json:"id"`
	Author    string    `json:"author"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// maxReports bounds the memory the example's store can take.
const maxReports = 10000

// reportStore keeps reports in memory: this is an example, not a database.
type reportStore struct {
	mu      sync.Mutex
	max     int
	seq     int
	reports []report
}

// add stores rep and reports false when the store is full.
func (s *reportStore) add(rep report) (report, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reports) >= s.max {
		return report{}, false
	}
	s.seq++
	rep.ID = fmt.Sprintf("r%d", s.seq)
	s.reports = append(s.reports, rep)
	return rep, true
}

// byAuthor returns the newest limit reports of author, newest first.
func (s *reportStore) byAuthor(author string, limit int) []report {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []report{}
	for i := len(s.reports) - 1; i >= 0 && len(out) < limit; i-- {
		if s.reports[i].Author == author {
			out = append(out, s.reports[i])
		}
	}
	return out
}

// stats counts reports and their authors.
func (s *reportStore) stats() (reports, authors int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, r := range s.reports {
		seen[r.Author] = true
	}
	return len(s.reports), len(seen)
}

// handleReportList lists the caller's own reports: the object-level check
// is the filter by the token's subject.
func handleReportList(reports *reportStore) http.Handler {
	type response struct {
		Items []report `json:"items"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, fe := jsonbody.QueryInt(r, "limit", 20, 1, 100)
		if fe != nil {
			problem.Write(w, r, problem.Validation(*fe))
			return
		}
		c, _ := auth.FromContext(r.Context())
		w.Header().Set("Cache-Control", "no-store") // personal data
		jsonbody.Write(w, http.StatusOK, response{Items: reports.byAuthor(c.Subject, limit)})
	})
}

// handleReportCreate stores a report. The body is decoded strictly (size
// limit, one JSON value, unknown fields refused, every bad field listed)
// and its rich text is sanitized before it is stored.
func handleReportCreate(reports *reportStore, san *sanitize.Sanitizer) http.Handler {
	type request struct {
		Title string `json:"title" required:"true" minLength:"1" maxLength:"200" nocontrol:"true" doc:"A one-line title."`
		Body  string `json:"body" maxLength:"20000" doc:"Rich text (HTML); what is not on the allow-list is removed."`
	}
	var dec jsonbody.Decoder
	if err := dec.SetMaxBytes(64 << 10); err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := dec.Decode(w, r, &req); err != nil {
			problem.Respond(w, r, err)
			return
		}
		c, _ := auth.FromContext(r.Context())
		rep, ok := reports.add(report{
			Author:    c.Subject,
			Title:     req.Title,
			Body:      san.HTML(req.Body),
			CreatedAt: time.Now().UTC().Truncate(time.Second),
		})
		if !ok {
			problem.Write(w, r, problem.New(http.StatusInsufficientStorage,
				fmt.Sprintf("The example keeps at most %d reports in memory.", reports.max)))
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		jsonbody.Write(w, http.StatusCreated, rep)
	})
}

// handleStats is an administrators' route: the users:read scope, which
// gatehouse grants to the admin role only, is its guard.
func handleStats(reports *reportStore) http.Handler {
	type response struct {
		Reports int `json:"reports"`
		Authors int `json:"authors"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, a := reports.stats()
		jsonbody.Write(w, http.StatusOK, response{Reports: n, Authors: a})
	})
}

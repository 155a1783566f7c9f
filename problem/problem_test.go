package problem_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/reqid"
	"github.com/gatehouse/gatehouse/reqlog"
)

// result is a response as a client sees it, with its problem decoded.
type result struct {
	code   int
	header http.Header
	body   []byte
	p      problem.Problem
	raw    map[string]any
}

// serve runs h behind reqid and reqlog, as the server's pipeline does, and
// returns the response and the one access-log line.
func serve(t *testing.T, method string, h http.Handler) (result, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: reqlog.Redact}))
	r := httptest.NewRequest(method, "/v1/things", nil)
	r.Header.Set(reqid.Header, "req-abc")
	w := httptest.NewRecorder()
	reqid.Handler(reqlog.Handler(logger, h)).ServeHTTP(w, r)
	res := decode(t, w)
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("log lines = %d, want 1:\n%s", len(lines), buf.String())
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatalf("log line %q: got %v, want JSON", lines[0], err)
	}
	return res, line
}

func decode(t *testing.T, w *httptest.ResponseRecorder) result {
	t.Helper()
	resp := w.Result()
	res := result{code: resp.StatusCode, header: resp.Header, body: w.Body.Bytes()}
	if len(res.body) > 0 && resp.Header.Get("Content-Type") == problem.ContentType {
		if err := json.Unmarshal(res.body, &res.p); err != nil {
			t.Fatalf("body %q: got %v, want a problem", res.body, err)
		}
		if err := json.Unmarshal(res.body, &res.raw); err != nil {
			t.Fatalf("body %q: got %v, want a JSON object", res.body, err)
		}
	}
	return res
}

func TestNew(t *testing.T) {
	tests := []struct {
		status    int
		detail    string
		wantTitle string
	}{
		{http.StatusBadRequest, "bad", "Bad Request"},
		{http.StatusNotFound, "No such note.", "Not Found"},
		{http.StatusTooManyRequests, "Slow down.", "Too Many Requests"},
		{http.StatusServiceUnavailable, "", "Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			p := problem.New(tt.status, tt.detail)
			want := problem.Problem{Type: "about:blank", Title: tt.wantTitle, Status: tt.status, Detail: tt.detail}
			if p.Type != want.Type || p.Title != want.Title || p.Status != want.Status || p.Detail != want.Detail {
				t.Errorf("New(%d, %q) = %+v, want %+v", tt.status, tt.detail, *p, want)
			}
			if wantErr := fmt.Sprintf("%d %s: %s", tt.status, tt.wantTitle, tt.detail); p.Error() != wantErr {
				t.Errorf("Error() = %q, want %q", p.Error(), wantErr)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name string
		errs []problem.FieldError
	}{
		{"none", nil},
		{"one", []problem.FieldError{{Location: "body.email", Message: "must be a valid email address"}}},
		{"several", []problem.FieldError{
			{Location: "body.username", Message: "must be 3 to 32 characters"},
			{Location: "body.age", Message: "must be at least 13"},
			{Location: "query.limit", Message: "must be at most 100"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := problem.Validation(tt.errs...)
			if p.Status != http.StatusUnprocessableEntity {
				t.Errorf("Status = %d, want %d", p.Status, http.StatusUnprocessableEntity)
			}
			if p.Title != "Unprocessable Entity" {
				t.Errorf("Title = %q, want %q", p.Title, "Unprocessable Entity")
			}
			if !slices.Equal(p.Errors, tt.errs) {
				t.Errorf("Errors = %v, want %v", p.Errors, tt.errs)
			}

			res, _ := serve(t, http.MethodPost, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				problem.Write(w, r, p)
			}))
			if res.code != http.StatusUnprocessableEntity {
				t.Errorf("status = %d, want %d", res.code, http.StatusUnprocessableEntity)
			}
			if !slices.Equal(res.p.Errors, tt.errs) {
				t.Errorf("errors in body = %v, want %v", res.p.Errors, tt.errs)
			}
			if _, ok := res.raw["errors"]; ok != (len(tt.errs) > 0) {
				t.Errorf("errors member present = %v, want %v (body %s)", ok, len(tt.errs) > 0, res.body)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		p           *problem.Problem
		preset      http.Header // headers set before Write
		wantStatus  int
		wantHeader  http.Header // headers the response must carry
		wantAbsent  []string    // headers the response must not carry
		wantProblem problem.Problem
		wantBody    bool
	}{
		{
			name:        "not found",
			method:      http.MethodGet,
			p:           problem.New(http.StatusNotFound, "No such note."),
			wantStatus:  http.StatusNotFound,
			wantProblem: problem.Problem{Type: "about:blank", Title: "Not Found", Status: 404, Detail: "No such note.", RequestID: "req-abc"},
			wantBody:    true,
		},
		{
			name:        "retry-after",
			method:      http.MethodPost,
			p:           problem.New(http.StatusTooManyRequests, "Slow down.").With("Retry-After", "30"),
			wantStatus:  http.StatusTooManyRequests,
			wantHeader:  http.Header{"Retry-After": {"30"}},
			wantProblem: problem.Problem{Type: "about:blank", Title: "Too Many Requests", Status: 429, Detail: "Slow down.", RequestID: "req-abc"},
			wantBody:    true,
		},
		{
			name:   "www-authenticate and cache-control",
			method: http.MethodGet,
			p: problem.New(http.StatusUnauthorized, "Log in.").
				With("WWW-Authenticate", `Bearer realm="gatehouse"`).
				With("Cache-Control", "no-store"),
			wantStatus:  http.StatusUnauthorized,
			wantHeader:  http.Header{"Www-Authenticate": {`Bearer realm="gatehouse"`}, "Cache-Control": {"no-store"}},
			wantProblem: problem.Problem{Type: "about:blank", Title: "Unauthorized", Status: 401, Detail: "Log in.", RequestID: "req-abc"},
			wantBody:    true,
		},
		{
			name:        "HEAD has no body",
			method:      http.MethodHead,
			p:           problem.New(http.StatusNotFound, "No such note.").With("Retry-After", "1"),
			wantStatus:  http.StatusNotFound,
			wantHeader:  http.Header{"Retry-After": {"1"}},
			wantProblem: problem.Problem{},
			wantBody:    false,
		},
		{
			name:        "own request ID is kept",
			method:      http.MethodGet,
			p:           &problem.Problem{Type: "https://gatehouse.example/problems/x", Title: "X", Status: 409, Detail: "d", RequestID: "other", Instance: "/v1/things/1"},
			wantStatus:  http.StatusConflict,
			wantProblem: problem.Problem{Type: "https://gatehouse.example/problems/x", Title: "X", Status: 409, Detail: "d", RequestID: "other", Instance: "/v1/things/1"},
			wantBody:    true,
		},
		{
			name:        "empty type and title are filled in",
			method:      http.MethodGet,
			p:           &problem.Problem{Status: http.StatusForbidden, Detail: "No."},
			wantStatus:  http.StatusForbidden,
			wantProblem: problem.Problem{Type: "about:blank", Title: "Forbidden", Status: 403, Detail: "No.", RequestID: "req-abc"},
			wantBody:    true,
		},
		{
			name:        "earlier content headers are replaced",
			method:      http.MethodGet,
			p:           problem.New(http.StatusBadRequest, "Bad."),
			preset:      http.Header{"Content-Type": {"text/html"}, "Content-Encoding": {"gzip"}, "Content-Length": {"99999"}},
			wantStatus:  http.StatusBadRequest,
			wantAbsent:  []string{"Content-Encoding"},
			wantProblem: problem.Problem{Type: "about:blank", Title: "Bad Request", Status: 400, Detail: "Bad.", RequestID: "req-abc"},
			wantBody:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := *tt.p
			res, line := serve(t, tt.method, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.preset {
					w.Header()[k] = v
				}
				problem.Write(w, r, tt.p)
			}))
			if res.code != tt.wantStatus {
				t.Errorf("status = %d, want %d", res.code, tt.wantStatus)
			}
			if got := line["status"]; got != float64(tt.wantStatus) {
				t.Errorf("logged status = %v, want %d", got, tt.wantStatus)
			}
			if got := res.header.Get("Content-Type"); got != problem.ContentType {
				t.Errorf("Content-Type = %q, want %q", got, problem.ContentType)
			}
			for k, want := range tt.wantHeader {
				if got := res.header.Values(k); !slices.Equal(got, want) {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			for _, k := range tt.wantAbsent {
				if got := res.header.Values(k); len(got) > 0 {
					t.Errorf("%s = %q, want absent", k, got)
				}
			}
			if tt.wantBody != (len(res.body) > 0) {
				t.Fatalf("body %q: got present %v, want %v", res.body, len(res.body) > 0, tt.wantBody)
			}
			if tt.wantBody {
				if got := res.header.Get("Content-Length"); got != strconv.Itoa(len(res.body)) {
					t.Errorf("Content-Length = %q, want %d", got, len(res.body))
				}
				if !equalProblem(res.p, tt.wantProblem) {
					t.Errorf("problem = %+v, want %+v", res.p, tt.wantProblem)
				}
				for _, k := range []string{"type", "title", "status", "detail", "request_id"} {
					if _, ok := res.raw[k]; !ok {
						t.Errorf("member %q: got absent, want present (body %s)", k, res.body)
					}
				}
			} else if got := res.header.Get("Content-Length"); got == "" || got == "0" {
				// RFC 9110 §9.3.2: HEAD sends the headers GET would.
				t.Errorf("HEAD Content-Length = %q, want the GET body's length", got)
			}
			// Write must not change the caller's problem.
			if !equalProblem(*tt.p, before) {
				t.Errorf("problem after Write = %+v, want unchanged %+v", *tt.p, before)
			}
		})
	}
}

// equalProblem compares the public fields of two problems.
func equalProblem(a, b problem.Problem) bool {
	return a.Type == b.Type && a.Title == b.Title && a.Status == b.Status && a.Detail == b.Detail &&
		a.Instance == b.Instance && a.RequestID == b.RequestID && slices.Equal(a.Errors, b.Errors)
}

func TestWriteWithoutRequestID(t *testing.T) {
	w := httptest.NewRecorder()
	problem.Write(w, httptest.NewRequest("GET", "/", nil), problem.New(http.StatusNotFound, "x"))
	res := decode(t, w)
	if _, ok := res.raw["request_id"]; ok {
		t.Errorf("request_id = %v, want absent without reqid.Handler", res.raw["request_id"])
	}
}

// secretText is an internal error whose text must never reach a client.
const secretText = `sqlite: UNIQUE constraint failed: users.password_hash at /srv/gatehouse/data/gatehouse.db`

func TestRespond(t *testing.T) {
	notFound := problem.New(http.StatusNotFound, "No such note.")
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantDetail string
		wantLogged string // the error on the log line; "" for none
	}{
		{"problem", notFound, 404, "No such note.", ""},
		{"wrapped problem", fmt.Errorf("load note: %w", notFound), 404, "No such note.", ""},
		{"twice wrapped problem", fmt.Errorf("handler: %w", fmt.Errorf("load note: %w", notFound)), 404, "No such note.", ""},
		{"joined problem", errors.Join(errors.New("cleanup failed"), notFound), 404, "No such note.", ""},
		{"plain error", errors.New(secretText), 500, problem.Internal().Detail, secretText},
		{"wrapped error", fmt.Errorf("create user: %w", errors.New(secretText)), 500, problem.Internal().Detail, "create user: " + secretText},
		{"path error", &fs.PathError{Op: "open", Path: "/srv/gatehouse/data/secret.key", Err: fs.ErrPermission}, 500, problem.Internal().Detail, "open /srv/gatehouse/data/secret.key: permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, line := serve(t, http.MethodGet, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				problem.Respond(w, r, tt.err)
			}))
			if res.code != tt.wantStatus {
				t.Errorf("status = %d, want %d", res.code, tt.wantStatus)
			}
			if res.p.Status != tt.wantStatus || res.p.Detail != tt.wantDetail {
				t.Errorf("problem = %d %q, want %d %q", res.p.Status, res.p.Detail, tt.wantStatus, tt.wantDetail)
			}
			if res.p.RequestID != "req-abc" {
				t.Errorf("request_id = %q, want %q", res.p.RequestID, "req-abc")
			}
			if got := res.header.Get("Content-Type"); got != problem.ContentType {
				t.Errorf("Content-Type = %q, want %q", got, problem.ContentType)
			}
			if tt.wantLogged == "" {
				if got, ok := line["error"]; ok {
					t.Errorf("logged error = %v, want none for a public problem", got)
				}
				return
			}
			for _, leak := range []string{tt.err.Error(), "sqlite", "/srv/", "password_hash", "permission denied"} {
				if bytes.Contains(res.body, []byte(leak)) {
					t.Errorf("body %s: got %q, want no internal detail", res.body, leak)
				}
			}
			if got := line["error"]; got != tt.wantLogged {
				t.Errorf("logged error = %v, want %q", got, tt.wantLogged)
			}
			if got := line["level"]; got != "ERROR" {
				t.Errorf("log level = %v, want ERROR", got)
			}
		})
	}
}

// Without reqlog.Handler, internal errors and panics go to slog.Default
// with the request ID.
func TestWithoutReqlog(t *testing.T) {
	tests := []struct {
		name    string
		handler http.Handler
		want    []string
	}{
		{"Respond", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			problem.Respond(w, r, errors.New(secretText))
		}), []string{`"msg":"internal error"`, secretText}},
		{"Recover", problem.Recover(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			panic(secretText)
		})), []string{`"msg":"panic"`, "panic: " + secretText, "goroutine "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			old := slog.Default()
			slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
			t.Cleanup(func() { slog.SetDefault(old) })

			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set(reqid.Header, "req-xyz")
			w := httptest.NewRecorder()
			reqid.Handler(tt.handler).ServeHTTP(w, r)

			res := decode(t, w)
			if res.code != http.StatusInternalServerError {
				t.Errorf("status = %d, want 500", res.code)
			}
			if bytes.Contains(res.body, []byte(secretText)) {
				t.Errorf("body %s: got the internal error, want it absent", res.body)
			}
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("default log %q: got %v, want one JSON line", buf.String(), err)
			}
			if got := line["request_id"]; got != "req-xyz" {
				t.Errorf("logged request_id = %v, want %q", got, "req-xyz")
			}
			for _, s := range tt.want {
				if !strings.Contains(buf.String(), strings.ReplaceAll(s, "\n", `\n`)) {
					t.Errorf("default log %s: got no %q, want it", buf.String(), s)
				}
			}
		})
	}
}

func TestRecover(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantBody   string // for handlers that do not panic
		wantLogged []string
	}{
		{
			name:       "no panic",
			handler:    func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("fine")) },
			wantStatus: 200,
			wantBody:   "fine",
		},
		{
			name:       "string panic",
			handler:    func(w http.ResponseWriter, r *http.Request) { panic(secretText) },
			wantStatus: 500,
			wantLogged: []string{"panic: " + secretText, "goroutine ", "[running]", "problem_test.TestRecover"},
		},
		{
			name:       "error panic",
			handler:    func(w http.ResponseWriter, r *http.Request) { panic(fmt.Errorf("wrapped: %w", errors.New(secretText))) },
			wantStatus: 500,
			wantLogged: []string{"panic: wrapped: " + secretText, "goroutine "},
		},
		{
			name: "runtime error",
			handler: func(w http.ResponseWriter, r *http.Request) {
				var m map[string]int
				//lint:ignore SA5000 the panic is what the test recovers from
				m["x"] = 1
			},
			wantStatus: 500,
			wantLogged: []string{"panic: assignment to entry in nil map", "goroutine "},
		},
		{
			name:       "nil panic",
			handler:    func(w http.ResponseWriter, r *http.Request) { panic(nil) },
			wantStatus: 500,
			wantLogged: []string{"panic called with nil argument", "goroutine "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, line := serve(t, http.MethodGet, problem.Recover(tt.handler))
			if res.code != tt.wantStatus {
				t.Errorf("status = %d, want %d", res.code, tt.wantStatus)
			}
			if tt.wantLogged == nil {
				if string(res.body) != tt.wantBody {
					t.Errorf("body = %q, want %q", res.body, tt.wantBody)
				}
				if got, ok := line["error"]; ok {
					t.Errorf("logged error = %v, want none", got)
				}
				return
			}
			if got := res.header.Get("Content-Type"); got != problem.ContentType {
				t.Errorf("Content-Type = %q, want %q", got, problem.ContentType)
			}
			want := problem.Internal()
			if res.p.Status != 500 || res.p.Detail != want.Detail || res.p.RequestID != "req-abc" {
				t.Errorf("problem = %+v, want the generic 500 with request_id req-abc", res.p)
			}
			for _, leak := range []string{"panic", "goroutine", secretText, "nil map", ".go:"} {
				if bytes.Contains(res.body, []byte(leak)) {
					t.Errorf("body %s: got %q, want no panic detail", res.body, leak)
				}
			}
			logged, _ := line["error"].(string)
			for _, s := range tt.wantLogged {
				if !strings.Contains(logged, s) {
					t.Errorf("logged error %q: got no %q, want it", logged, s)
				}
			}
			if got := line["status"]; got != 500.0 {
				t.Errorf("logged status = %v, want 500", got)
			}
		})
	}
}

// http.ErrAbortHandler is how a handler asks net/http to drop the
// connection; Recover must pass it on rather than answer it.
func TestRecoverAbortHandler(t *testing.T) {
	h := problem.Recover(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	w := httptest.NewRecorder()
	var got any
	func() {
		defer func() { got = recover() }()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	}()
	if got != http.ErrAbortHandler {
		t.Errorf("recovered %v, want %v", got, http.ErrAbortHandler)
	}
	if w.Body.Len() != 0 {
		t.Errorf("body = %q, want empty", w.Body)
	}
}

// Over a real connection, ErrAbortHandler closes it without a response.
func TestRecoverAbortHandlerServer(t *testing.T) {
	srv := httptest.NewUnstartedServer(problem.Recover(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	})))
	srv.Start()
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET: got status %d, want the connection dropped", resp.StatusCode)
	}
}

// Respond with a nil error is a caller's bug, but it must still answer the
// generic 500 rather than panic inside the error path.
func TestRespondNil(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"nil error", nil},
		{"nil *Problem", (*problem.Problem)(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := serve(t, http.MethodGet, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				problem.Respond(w, r, tt.err)
			}))
			if res.code != http.StatusInternalServerError {
				t.Errorf("status = %d, want 500", res.code)
			}
		})
	}
}

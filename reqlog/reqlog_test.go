package reqlog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/reqid"
	"github.com/gatehouse/gatehouse/reqlog"
)

// newLogger returns a JSON logger that writes to a buffer, with Redact as
// ReplaceAttr as the server configures it.
func newLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: reqlog.Redact})), &buf
}

// oneLine decodes buf, which must hold exactly one JSON line.
func oneLine(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	text := buf.String()
	if !strings.HasSuffix(text, "\n") {
		t.Fatalf("log output %q: got no final newline, want one", text)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("log lines = %d, want 1:\n%s", len(lines), text)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatalf("log line %q: got %v, want JSON", lines[0], err)
	}
	return m
}

func TestHandler(t *testing.T) {
	const secret = "eyJhbGciOiJFZERTQSJ9.c2VjcmV0.c2ln"
	tests := []struct {
		name    string
		method  string
		target  string
		handler http.HandlerFunc
		// want holds the attributes that must appear with these values;
		// absent lists those that must not appear at all.
		want   map[string]any
		absent []string
	}{
		{
			name:   "ok with body",
			method: http.MethodGet,
			target: "/v1/notes/abc",
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "hello")
			},
			want: map[string]any{
				"level": "INFO", "msg": "request", "method": "GET", "route": "GET /v1/notes/{id}",
				"path": "/v1/notes/abc", "status": 200.0, "bytes": 5.0,
			},
			absent: []string{"user_id", "error"},
		},
		{
			name:   "query string is never logged",
			method: http.MethodGet,
			target: "/v1/notes/abc?access_token=" + secret + "&q=x",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNoContent)
			},
			want: map[string]any{"path": "/v1/notes/abc", "status": 204.0, "bytes": 0.0},
		},
		{
			name:   "no write is 200",
			method: http.MethodDelete,
			target: "/v1/notes/abc",
			handler: func(w http.ResponseWriter, r *http.Request) {
			},
			want: map[string]any{"method": "DELETE", "route": "DELETE /v1/notes/{id}", "status": 200.0, "bytes": 0.0},
		},
		{
			name:   "first status wins",
			method: http.MethodGet,
			target: "/v1/notes/abc",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNotFound)
				w.WriteHeader(http.StatusOK) // superfluous, ignored
				io.WriteString(w, "nope")
			},
			want: map[string]any{"level": "INFO", "status": 404.0, "bytes": 4.0},
		},
		{
			name:   "5xx logs at error level",
			method: http.MethodGet,
			target: "/v1/notes/abc",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusServiceUnavailable)
			},
			want: map[string]any{"level": "ERROR", "status": 503.0},
		},
		{
			name:   "SetUser",
			method: http.MethodGet,
			target: "/v1/notes/abc",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if !reqlog.SetUser(r.Context(), "user-42") {
					t.Error("SetUser inside Handler: got false, want true")
				}
			},
			want: map[string]any{"user_id": "user-42"},
		},
		{
			name:   "SetError",
			method: http.MethodPost,
			target: "/v1/notes",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if !reqlog.SetError(r.Context(), errors.New("insert note: disk I/O error")) {
					t.Error("SetError inside Handler: got false, want true")
				}
				w.WriteHeader(http.StatusInternalServerError)
			},
			want: map[string]any{"level": "ERROR", "route": "POST /v1/notes", "status": 500.0, "error": "insert note: disk I/O error"},
		},
		{
			name:   "SetError nil records nothing",
			method: http.MethodPost,
			target: "/v1/notes",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if reqlog.SetError(r.Context(), nil) {
					t.Error("SetError(nil): got true, want false")
				}
			},
			absent: []string{"error"},
		},
		{
			name:   "Add",
			method: http.MethodPost,
			target: "/v1/notes",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if !reqlog.Add(r.Context(), slog.String("note_id", "n-1"), slog.Int("shares", 2)) {
					t.Error("Add inside Handler: got false, want true")
				}
				reqlog.Add(r.Context(), slog.String("refresh_token", secret))
			},
			want: map[string]any{"note_id": "n-1", "shares": 2.0, "refresh_token": reqlog.Redacted},
		},
		{
			name:    "unmatched route",
			method:  http.MethodGet,
			target:  "/nowhere?token=" + secret,
			handler: nil,
			want:    map[string]any{"route": "", "path": "/nowhere", "status": 404.0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, buf := newLogger()
			mux := http.NewServeMux()
			if tt.handler != nil {
				mux.Handle("GET /v1/notes/{id}", tt.handler)
				mux.Handle("DELETE /v1/notes/{id}", tt.handler)
				mux.Handle("POST /v1/notes", tt.handler)
			}
			h := reqid.Handler(reqlog.Handler(logger, mux))
			r := httptest.NewRequest(tt.method, tt.target, nil)
			r.Header.Set(reqid.Header, "req-1")
			r.Header.Set("Authorization", "Bearer "+secret)
			r.Header.Set("Cookie", "__Host-session="+secret)
			h.ServeHTTP(httptest.NewRecorder(), r)

			if strings.Contains(buf.String(), secret) {
				t.Errorf("log line %s: got the secret, want it absent", buf)
			}
			line := oneLine(t, buf)
			for k, want := range tt.want {
				if got, ok := line[k]; !ok || got != want {
					t.Errorf("%s = %#v (present %v), want %#v", k, got, ok, want)
				}
			}
			for _, k := range tt.absent {
				if got, ok := line[k]; ok {
					t.Errorf("%s = %#v, want absent", k, got)
				}
			}
			// Always there.
			if got := line["request_id"]; got != "req-1" {
				t.Errorf("request_id = %#v, want %q", got, "req-1")
			}
			if d, ok := line["duration"].(float64); !ok || d < 0 {
				t.Errorf("duration = %#v, want a number >= 0", line["duration"])
			}
			for _, k := range []string{"time", "level", "msg", "method", "route", "path", "status", "bytes"} {
				if _, ok := line[k]; !ok {
					t.Errorf("%s: got absent, want present", k)
				}
			}
		})
	}
}

// A router below a middleware that copies the request sets Pattern on the
// copy; SetPattern carries it to the log line.
func TestSetPattern(t *testing.T) {
	tests := []struct {
		name       string
		setPattern bool
		want       string
	}{
		{"without SetPattern", false, ""},
		{"with SetPattern", true, "GET /v1/users/{id}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, buf := newLogger()
			mux := http.NewServeMux()
			mux.HandleFunc("GET /v1/users/{id}", func(w http.ResponseWriter, r *http.Request) {
				if tt.setPattern {
					reqlog.SetPattern(r.Context(), r.Pattern)
				}
			})
			copying := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mux.ServeHTTP(w, r.WithContext(r.Context()))
			})
			reqlog.Handler(logger, copying).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/users/7", nil))
			if got := oneLine(t, buf)["route"]; got != tt.want {
				t.Errorf("route = %#v, want %q", got, tt.want)
			}
		})
	}
}

func TestOutsideHandler(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		name string
		call func() bool
	}{
		{"SetUser", func() bool { return reqlog.SetUser(ctx, "u") }},
		{"SetError", func() bool { return reqlog.SetError(ctx, errors.New("x")) }},
		{"Add", func() bool { return reqlog.Add(ctx, slog.String("k", "v")) }},
		{"SetPattern", func() bool { reqlog.SetPattern(ctx, "GET /"); return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.call(); got {
				t.Errorf("%s without Handler: got true, want false", tt.name)
			}
		})
	}
}

// A panic passes through Handler, which still writes its line.
func TestHandlerPanic(t *testing.T) {
	logger, buf := newLogger()
	h := reqlog.Handler(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqlog.SetUser(r.Context(), "user-1")
		panic("boom")
	}))
	func() {
		defer func() {
			if got := recover(); got != "boom" {
				t.Errorf("recovered %#v, want %q", got, "boom")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	line := oneLine(t, buf)
	if got := line["user_id"]; got != "user-1" {
		t.Errorf("user_id = %#v, want %q", got, "user-1")
	}
}

// Handler with a nil logger writes to slog.Default.
func TestHandlerNilLogger(t *testing.T) {
	logger, buf := newLogger()
	old := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(old) })

	reqlog.Handler(nil, http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	if got := oneLine(t, buf)["status"]; got != 404.0 {
		t.Errorf("status = %#v, want 404", got)
	}
}

// The wrapped writer still lets http.ResponseController reach the
// connection's writer.
func TestHandlerUnwrap(t *testing.T) {
	logger, _ := newLogger()
	var flushErr error
	h := reqlog.Handler(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "x")
		flushErr = http.NewResponseController(w).Flush()
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if flushErr != nil {
		t.Errorf("Flush through Handler: got %v, want nil", flushErr)
	}
	if !w.Flushed {
		t.Errorf("recorder Flushed = %v, want true", w.Flushed)
	}
}

// Requests over a real connection each get exactly their own line.
func TestHandlerOneLinePerRequest(t *testing.T) {
	logger, buf := newLogger()
	srv := httptest.NewServer(reqid.Handler(reqlog.Handler(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqlog.SetUser(r.Context(), r.URL.Query().Get("u"))
	}))))
	defer srv.Close()
	const n = 20
	for i := range n {
		resp, err := http.Get(srv.URL + "/?u=user-" + string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	srv.Close() // waits for the handlers, and so for their lines
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("log lines = %d, want %d", len(lines), n)
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d %q: got %v, want JSON", i, l, err)
		}
		if want := "user-" + string(rune('a'+i)); m["user_id"] != want {
			t.Errorf("line %d user_id = %#v, want %q", i, m["user_id"], want)
		}
	}
}

func TestSensitive(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"password", true},
		{"new_password", true},
		{"current_password", true},
		{"Password", true},
		{"passwd", true},
		{"Authorization", true},
		{"authorization", true},
		{"Proxy-Authorization", true},
		{"refresh_token", true},
		{"access_token", true},
		{"id_token", true},
		{"token", true},
		{"cookie", true},
		{"Set-Cookie", true},
		{"secret", true},
		{"client_secret", true},
		{"GATEHOUSE_SECRET_KEY", true},
		{"private_key", true},
		{"credentials", true},
		{"api_key", true},
		{"APIKey", true},
		{"kek", true},
		{"user_id", false},
		{"username", false},
		{"email", false},
		{"method", false},
		{"route", false},
		{"path", false},
		{"status", false},
		{"request_id", false},
		{"error", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := reqlog.Sensitive(tt.key); got != tt.want {
				t.Errorf("Sensitive(%q) = %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name string
		attr slog.Attr
		want slog.Value
	}{
		{"password", slog.String("password", "hunter2hunter2"), slog.StringValue(reqlog.Redacted)},
		{"Authorization", slog.String("Authorization", "Bearer abc"), slog.StringValue(reqlog.Redacted)},
		{"refresh_token", slog.String("refresh_token", "rt"), slog.StringValue(reqlog.Redacted)},
		{"cookie", slog.String("cookie", "__Host-session=abc"), slog.StringValue(reqlog.Redacted)},
		{"secret", slog.String("secret", "s"), slog.StringValue(reqlog.Redacted)},
		{"non-string secret", slog.Any("password", []byte("raw")), slog.StringValue(reqlog.Redacted)},
		{"int secret", slog.Int("token", 12345), slog.StringValue(reqlog.Redacted)},
		{"user_id kept", slog.String("user_id", "u-1"), slog.StringValue("u-1")},
		{"status kept", slog.Int("status", 200), slog.IntValue(200)},
		{"error kept", slog.String("error", "boom"), slog.StringValue("boom")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reqlog.Redact(nil, tt.attr)
			if got.Key != tt.attr.Key {
				t.Errorf("key = %q, want %q", got.Key, tt.attr.Key)
			}
			if !got.Value.Equal(tt.want) {
				t.Errorf("value = %v, want %v", got.Value, tt.want)
			}
		})
	}
}

// Through a logger, Redact reaches attributes inside groups too, while a
// group itself is kept so that its other members survive.
func TestRedactInLogger(t *testing.T) {
	logger, buf := newLogger()
	logger.Info("login",
		slog.String("username", "alice"),
		slog.String("password", "hunter2hunter2"),
		slog.Group("request", slog.String("Authorization", "Bearer abc.def.ghi"), slog.String("method", "POST")),
		slog.Group("token", slog.String("kind", "refresh")),
	)
	out := buf.String()
	for _, leak := range []string{"hunter2hunter2", "abc.def.ghi"} {
		if strings.Contains(out, leak) {
			t.Errorf("log line %s: got %q, want it redacted", out, leak)
		}
	}
	line := oneLine(t, buf)
	if got := line["username"]; got != "alice" {
		t.Errorf("username = %#v, want %q", got, "alice")
	}
	if got := line["password"]; got != reqlog.Redacted {
		t.Errorf("password = %#v, want %q", got, reqlog.Redacted)
	}
	req, _ := line["request"].(map[string]any)
	if got := req["Authorization"]; got != reqlog.Redacted {
		t.Errorf("request.Authorization = %#v, want %q", got, reqlog.Redacted)
	}
	if got := req["method"]; got != "POST" {
		t.Errorf("request.method = %#v, want %q", got, "POST")
	}
	tok, _ := line["token"].(map[string]any)
	if got := tok["kind"]; got != "refresh" {
		t.Errorf("token.kind = %#v, want %q", got, "refresh")
	}
}

// An informational response (103 Early Hints) is not the final status: the
// line must carry the status the client finally got.
func TestHandlerStatusAfterInformational(t *testing.T) {
	logger, buf := newLogger()
	srv := httptest.NewServer(reqlog.Handler(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusServiceUnavailable)
	})))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	srv.Close()
	line := oneLine(t, buf)
	if got := line["status"]; got != float64(resp.StatusCode) {
		t.Errorf("logged status = %v, want %d", got, resp.StatusCode)
	}
	if got := line["level"]; got != "ERROR" {
		t.Errorf("level = %v, want ERROR for a 503", got)
	}
}

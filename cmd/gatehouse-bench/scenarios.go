package main

import (
	"net/http"
	"net/url"
	"strings"
)

// fixtures are what the scenarios send, made before measuring.
type fixtures struct {
	token      string // account 0's access token (warm scenarios)
	noteID     string // a note of account 0
	coldFile   string // distinct access tokens, one a line
	coldCount  int
	coldFirst  string
	noteBody   string // file: the POST /v1/notes body
	loginFile  string // password-grant forms, one a line, over every account
	loginCount int
}

// scenario is one kind of request, sent by wrk to one server.
type scenario struct {
	name     string // for --scenarios
	title    string // for the table
	baseline bool   // sent to the baseline server instead of gatehouse
	method   string
	path     func(f *fixtures) string
	status   int // the expected answer
	env      func(f *fixtures) []string
	// hashBound scenarios are compared with the raw argon2id rate too.
	hashBound bool
}

func fixed(p string) func(*fixtures) string { return func(*fixtures) string { return p } }

var scenarios = []scenario{
	{name: "baseline", title: "baseline: net/http JSON (GET /v1/users/me)", baseline: true, method: http.MethodGet,
		path: fixed("/v1/users/me"), status: http.StatusOK},
	{name: "healthz", title: "GET /healthz", method: http.MethodGet, path: fixed("/healthz"), status: http.StatusOK},
	{name: "me-warm", title: "GET /v1/users/me, one token (warm)", method: http.MethodGet, path: fixed("/v1/users/me"), status: http.StatusOK,
		env: func(f *fixtures) []string { return []string{"BENCH_TOKEN=" + f.token} }},
	{name: "me-cold", title: "GET /v1/users/me, distinct tokens (cold verify)", method: http.MethodGet, path: fixed("/v1/users/me"), status: http.StatusOK,
		env: func(f *fixtures) []string {
			return []string{"BENCH_CYCLE_FILE=" + f.coldFile, "BENCH_CYCLE_KIND=bearer"}
		}},
	{name: "note-get", title: "GET /v1/notes/{id}", method: http.MethodGet,
		path: func(f *fixtures) string { return "/v1/notes/" + f.noteID }, status: http.StatusOK,
		env: func(f *fixtures) []string { return []string{"BENCH_TOKEN=" + f.token} }},
	{name: "note-create", title: "POST /v1/notes", method: http.MethodPost, path: fixed("/v1/notes"), status: http.StatusCreated,
		env: func(f *fixtures) []string {
			return []string{"BENCH_TOKEN=" + f.token, "BENCH_BODY_FILE=" + f.noteBody, "BENCH_CONTENT_TYPE=application/json"}
		}},
	{name: "login", title: "POST /v1/auth/token (password grant)", method: http.MethodPost, path: fixed("/v1/auth/token"), status: http.StatusOK,
		env: func(f *fixtures) []string {
			return []string{"BENCH_CYCLE_FILE=" + f.loginFile, "BENCH_CYCLE_KIND=body", "BENCH_CONTENT_TYPE=application/x-www-form-urlencoded"}
		}, hashBound: true},
}

func scenarioNames() []string {
	var out []string
	for _, s := range scenarios {
		out = append(out, s.name)
	}
	return out
}

// wrkEnv is the environment of a wrk run of s.
func (s *scenario) wrkEnv(f *fixtures) []string {
	env := []string{"BENCH_METHOD=" + s.method, "BENCH_PATH=" + s.path(f)}
	if s.env != nil {
		env = append(env, s.env(f)...)
	}
	return env
}

// noteJSON is the body of POST /v1/notes: the note of the server's own
// BenchmarkNoteGet.
const noteJSON = `{"title":"Benchmark","body":"<p>A <b>short</b> note with a <a href=\"https://example.com/\">link</a>.</p>","tags":["bench","go"]}`

func loginForm(username, pw string) string {
	return url.Values{"grant_type": {"password"}, "username": {username}, "password": {pw}}.Encode()
}

func loginForms(usernames []string, pw string) string {
	var b strings.Builder
	for _, u := range usernames {
		b.WriteString(loginForm(u, pw))
		b.WriteByte('\n')
	}
	return b.String()
}

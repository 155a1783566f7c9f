package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/auth"
)

// This file runs the example against a real gatehouse: the gatehouse binary
// built from ../../cmd/gatehouse and run as a separate process on loopback
// with its own SQLite file, and the example started in-process through run.
// They share nothing but HTTP: the example learns gatehouse's keys from its
// JWKS document only.

const password = "correct horse battery staple 42"

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var client = &http.Client{Timeout: 10 * time.Second}

// trackGatehouseSources reads every Go file of the module and go.mod and
// go.sum. gatehouse is built by a child process whose reads the test cache
// does not see; reading them here makes a change to gatehouse invalidate a
// cached result of this test, which would otherwise pass without running
// the new gatehouse.
func trackGatehouseSources(t *testing.T) {
	t.Helper()
	for _, f := range []string{"../../go.mod", "../../go.sum"} {
		if _, err := os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "../.." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			_, err = os.ReadFile(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// buildGatehouse builds the gatehouse command into a temporary directory,
// with the go command running this test (go test puts it first on PATH).
func buildGatehouse(t *testing.T) string {
	t.Helper()
	trackGatehouseSources(t)
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build gatehouse: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "gatehouse")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goCmd, "build", "-o", bin, "../../cmd/gatehouse").CombinedOutput()
	if err != nil {
		t.Fatalf("go build gatehouse: %v\n%s", err, out)
	}
	return bin
}

// environ is this process's environment without GATEHOUSE_ variables, so
// that gatehouse runs on its flags alone.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			env = append(env, kv)
		}
	}
	return env
}

// gatehouseCLI runs one gatehouse command to completion.
func gatehouseCLI(t *testing.T, bin, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = environ()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("gatehouse %s: %v\n%s%s", strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String()
}

// freeAddr finds a free loopback port for gatehouse, whose issuer URL must
// be known before it starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHealthy polls url until it answers 200, or fails the test after a
// deadline. exited, when it yields, means the server is gone.
func waitHealthy(t *testing.T, url string, exited <-chan struct{}, log func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("%s: server exited early\n%s", url, log())
		default:
		}
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within 30 s\n%s", url, log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startGatehouse runs `gatehouse serve` on dataDir as a process and stops
// it with SIGTERM at the end of the test.
func startGatehouse(t *testing.T, bin, dataDir string) string {
	t.Helper()
	addr := freeAddr(t)
	issuer := "http://" + addr
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", dataDir, "--issuer", issuer,
		"--key-poll-interval", "1s", "--hash-concurrency", "2",
		"--rate-limit", "*=100000/minute",
		"--rate-limit", "POST /v1/auth/token=100000/minute",
		"--rate-limit", "POST /v1/users=100000/minute")
	cmd.Env = environ()
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("gatehouse did not stop within 15 s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("gatehouse log:\n%s", logs)
		}
	})
	waitHealthy(t, issuer+"/healthz", exited, logs.String)
	return issuer
}

// stepClock is a clock that moves only when told to.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// example is the resource server started in-process through run.
type example struct {
	URL string
	Log *syncBuffer
}

var listeningRE = regexp.MustCompile(`listening on (http://\S+)`)

// startExample runs the example with args (plus --addr on a free loopback
// port) and the key-set clock clk, and stops it at the end of the test.
func startExample(t *testing.T, clk *stepClock, args ...string) *example {
	t.Helper()
	jwksClock = clk.Now
	t.Cleanup(func() { jwksClock = nil })
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	exited := make(chan struct{})
	args = append([]string{"--addr", "127.0.0.1:0"}, args...)
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, stdout, stderr)
		close(exited)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
			if err := <-done; err != nil {
				t.Errorf("resource server exited with %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("resource server did not stop within 15 s")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !listeningRE.MatchString(stdout.String()) {
		select {
		case <-exited:
			t.Fatalf("resource server exited early: %v\n%s", <-done, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("resource server did not start within 30 s\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ex := &example{URL: listeningRE.FindStringSubmatch(stdout.String())[1], Log: stderr}
	waitHealthy(t, ex.URL+"/healthz", exited, stderr.String)
	return ex
}

// jwksProxy serves gatehouse's JWKS document, with its Cache-Control, and
// counts the fetches, so that the test can see when the example fetches.
func jwksProxy(t *testing.T, issuer string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		resp, err := client.Get(issuer + "/.well-known/jwks.json")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for _, k := range []string{"Content-Type", "Cache-Control"} {
			w.Header().Set(k, resp.Header.Get(k))
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// response is a decoded HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// call sends one request. A token is sent as a bearer token; hdr adds or,
// with "", removes headers.
func call(t *testing.T, method, url, token, body string, hdr map[string]string) *response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// login runs gatehouse's password grant and returns the access token.
func login(t *testing.T, issuer, username string, extra ...string) string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	resp, err := client.PostForm(issuer+"/v1/auth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("login %s: got status %d, %v; want 200 with an access token", username, resp.StatusCode, err)
	}
	return tok.AccessToken
}

// kidOf returns the kid of a token's header.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(h, &m); err != nil {
		t.Fatal(err)
	}
	return m.KID
}

// forged returns a token with gatehouse's issuer and audience and the given
// kid, signed by a key gatehouse never had.
func forged(t *testing.T, issuer, kid string) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := auth.Sign(auth.Claims{
		Issuer: issuer, Subject: "intruder", Audience: []string{issuer},
		ExpiresAt: now.Add(5 * time.Minute), IssuedAt: now, ID: "forged-1",
		Scope: []string{"notes:read", "notes:write", "users:read"}, ClientID: auth.FirstPartyClientID,
	}, kid, priv)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestWithGatehouse is the example's end-to-end test: tokens issued by a
// running gatehouse open the example's routes according to their scopes,
// and a key rotated on gatehouse is accepted without a restart.
func TestWithGatehouse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs gatehouse")
	}
	bin := buildGatehouse(t)
	dataDir := t.TempDir()
	issuer := startGatehouse(t, bin, dataDir)

	// An administrator from the command line, a user through the API.
	gatehouseCLI(t, bin, password+"\n", "user", "create", "--data-dir", dataDir,
		"--username", "root", "--email", "root@example.com", "--role", "admin")
	reg := call(t, "POST", issuer+"/v1/users", "", `{"username":"rita","email":"rita@example.com","password":"`+password+`","age":30}`, nil)
	if reg.Status != http.StatusCreated {
		t.Fatalf("register rita: got %d, want 201: %s", reg.Status, reg.Body)
	}

	clk := &stepClock{now: time.Now()}
	proxy, fetches := jwksProxy(t, issuer)
	ex := startExample(t, clk, "--issuer", issuer, "--jwks-url", proxy.URL+"/.well-known/jwks.json")
	if got := fetches.Load(); got != 1 {
		t.Fatalf("JWKS fetches at start: got %d, want 1", got)
	}

	rita := login(t, issuer, "rita")                            // notes:read notes:write
	root := login(t, issuer, "root")                            // every scope
	ritaRead := login(t, issuer, "rita", "scope", "notes:read") // asked for less
	oldKid := kidOf(t, rita)
	alien := forged(t, issuer, oldKid) // gatehouse's kid, another key

	bearer := `Bearer realm="reports"`
	invalid := bearer + `, error="invalid_token"`
	tests := []struct {
		name      string
		method    string
		path      string
		token     string
		hdr       map[string]string
		body      string
		want      int
		challenge string // prefix of WWW-Authenticate, "" for none
	}{
		{"health needs no token", "GET", "/healthz", "", nil, "", 200, ""},
		{"no token", "GET", "/v1/reports", "", nil, "", 401, bearer},
		{"another scheme", "GET", "/v1/reports", "", map[string]string{"Authorization": "Basic cml0YTpwdw=="}, "", 401, bearer},
		{"not a token", "GET", "/v1/reports", "not.a.token", nil, "", 401, invalid},
		{"tampered token", "GET", "/v1/reports", rita[:len(rita)-4] + "AAAA", nil, "", 401, invalid},
		{"another key under gatehouse's kid", "GET", "/v1/reports", alien, nil, "", 401, invalid},
		{"token in the query is ignored", "GET", "/v1/reports?access_token=" + rita, "", nil, "", 401, bearer},
		{"list with notes:read", "GET", "/v1/reports", rita, nil, "", 200, ""},
		{"list with a bad limit", "GET", "/v1/reports?limit=1000", rita, nil, "", 422, ""},
		{"create with notes:write", "POST", "/v1/reports", rita, nil, `{"title":"Q3","body":"<p>fine</p><script>alert(1)</script>"}`, 201, ""},
		{"create with an unknown field", "POST", "/v1/reports", rita, nil, `{"title":"Q3","admin":true}`, 422, ""},
		{"create without Content-Type", "POST", "/v1/reports", rita, map[string]string{"Content-Type": "text/plain"}, `{"title":"Q3"}`, 415, ""},
		{"create with a notes:read token", "POST", "/v1/reports", ritaRead, nil, `{"title":"Q3"}`, 403, bearer + `, error="insufficient_scope", scope="notes:write"`},
		{"stats without users:read", "GET", "/v1/admin/stats", rita, nil, "", 403, bearer + `, error="insufficient_scope", scope="users:read"`},
		{"stats as admin", "GET", "/v1/admin/stats", root, nil, "", 200, ""},
		{"unknown path", "GET", "/v1/nothing", rita, nil, "", 404, ""},
		{"wrong method", "DELETE", "/v1/reports", rita, nil, "", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, tt.method, ex.URL+tt.path, tt.token, tt.body, tt.hdr)
			if r.Status != tt.want {
				t.Fatalf("got status %d, want %d: %s", r.Status, tt.want, r.Body)
			}
			if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, tt.challenge) || (tt.challenge == "") != (got == "") {
				t.Errorf("got WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			wantType := "application/json; charset=utf-8"
			if tt.want >= 400 {
				wantType = "application/problem+json"
			}
			if got := r.Header.Get("Content-Type"); got != wantType {
				t.Errorf("got Content-Type %q, want %q", got, wantType)
			}
			for k, want := range map[string]string{
				"X-Content-Type-Options":  "nosniff",
				"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
				"Referrer-Policy":         "no-referrer",
				"X-Frame-Options":         "DENY",
			} {
				if got := r.Header.Get(k); got != want {
					t.Errorf("got %s %q, want %q", k, got, want)
				}
			}
			if got := r.Header.Get("Allow"); tt.want == 405 && got != "GET, HEAD, POST" {
				t.Errorf("got Allow %q, want %q", got, "GET, HEAD, POST")
			}
			if id := r.Header.Get("X-Request-ID"); id == "" {
				t.Errorf("got no X-Request-ID")
			} else if tt.want >= 400 && !bytes.Contains(r.Body, []byte(`"request_id":"`+id+`"`)) {
				t.Errorf("got problem %s, want request_id %q", r.Body, id)
			}
			if tt.token != "" && tt.want != 401 && strings.HasPrefix(tt.path, "/v1/") && tt.want != 404 && tt.want != 405 {
				if got, want := r.Header.Get("RateLimit-Policy"), `"user";q=600;w=60`; got != want {
					t.Errorf("got RateLimit-Policy %q, want %q", got, want)
				}
			}
		})
	}

	t.Run("the report is stored sanitized and listed for its author only", func(t *testing.T) {
		var list struct {
			Items []report `json:"items"`
		}
		r := call(t, "GET", ex.URL+"/v1/reports", rita, "", nil)
		if err := json.Unmarshal(r.Body, &list); err != nil || len(list.Items) != 1 {
			t.Fatalf("rita's list: got %s (%v), want one report", r.Body, err)
		}
		if got, want := list.Items[0].Body, "<p>fine</p>"; got != want {
			t.Errorf("got body %q, want %q", got, want)
		}
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("got Cache-Control %q, want no-store", got)
		}
		r = call(t, "GET", ex.URL+"/v1/reports", root, "", nil)
		if err := json.Unmarshal(r.Body, &list); err != nil || len(list.Items) != 0 {
			t.Errorf("root's list: got %s (%v), want no report", r.Body, err)
		}
	})

	t.Run("the access log has no token", func(t *testing.T) {
		log := ex.Log.String()
		for _, tok := range []string{rita, root, ritaRead} {
			if strings.Contains(log, tok) || strings.Contains(log, strings.Split(tok, ".")[2]) {
				t.Fatalf("the log holds a token:\n%s", log)
			}
		}
		var lines, withUser int
		for line := range strings.SplitSeq(strings.TrimSpace(log), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("log line is not JSON: %q", line)
			}
			if m["msg"] == "request" {
				lines++
				if m["user_id"] != nil {
					withUser++
				}
			}
		}
		if lines < len(tests) || withUser == 0 {
			t.Errorf("got %d access-log lines, %d with user_id; want at least %d, some with user_id", lines, withUser, len(tests))
		}
	})

	t.Run("tokens for another audience or issuer are refused", func(t *testing.T) {
		for _, args := range [][]string{
			{"--issuer", issuer, "--audience", "https://reports.example.com"},
			{"--issuer", "https://id.example.com", "--jwks-url", issuer + "/.well-known/jwks.json"},
		} {
			other := startExample(t, &stepClock{now: time.Now()}, args...)
			r := call(t, "GET", other.URL+"/v1/reports", rita, "", nil)
			if got := r.Header.Get("WWW-Authenticate"); r.Status != 401 || !strings.HasPrefix(got, invalid) {
				t.Errorf("%v: got %d %q, want 401 %q", args, r.Status, got, invalid)
			}
		}
	})

	t.Run("a rotated key is picked up without a restart", func(t *testing.T) {
		out := gatehouseCLI(t, bin, "", "keys", "rotate", "--data-dir", dataDir)
		if !strings.Contains(out, "created signing key") {
			t.Fatalf("keys rotate: got %q, want created signing key", out)
		}
		// gatehouse reloads its keys every second (--key-poll-interval).
		var fresh string
		deadline := time.Now().Add(20 * time.Second)
		for {
			fresh = login(t, issuer, "rita")
			if kidOf(t, fresh) != oldKid {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("gatehouse still signs with %s 20 s after keys rotate", oldKid)
			}
			time.Sleep(200 * time.Millisecond)
		}
		before := fetches.Load()

		// The example's clock has not moved since it fetched the keys at
		// start: an unknown kid may not cause another fetch yet
		// (auth.RemoteRetryInterval), so the new token is refused for now.
		// This is what keeps tokens with made-up kids from turning the
		// example into a flood of JWKS requests.
		if r := call(t, "GET", ex.URL+"/v1/reports", fresh, "", nil); r.Status != 401 {
			t.Errorf("new kid within the retry interval: got %d, want 401", r.Status)
		}
		if got := fetches.Load(); got != before {
			t.Errorf("JWKS fetches within the retry interval: got %d, want %d", got, before)
		}

		clk.Add(auth.RemoteRetryInterval)
		if r := call(t, "GET", ex.URL+"/v1/reports", fresh, "", nil); r.Status != 200 {
			t.Fatalf("new kid after the retry interval: got %d, want 200: %s", r.Status, r.Body)
		}
		if got := fetches.Load(); got != before+1 {
			t.Errorf("JWKS fetches for the new kid: got %d, want %d", got, before+1)
		}
		// The old key stays published until its tokens expire.
		if r := call(t, "GET", ex.URL+"/v1/reports", rita, "", nil); r.Status != 200 {
			t.Errorf("token of the old key: got %d, want 200", r.Status)
		}
		// A made-up kid right after a fetch causes none.
		if r := call(t, "GET", ex.URL+"/v1/reports", forged(t, issuer, "made-up-kid"), "", nil); r.Status != 401 {
			t.Errorf("made-up kid: got %d, want 401", r.Status)
		}
		if r := call(t, "POST", ex.URL+"/v1/reports", fresh, `{"title":"after rotation"}`, nil); r.Status != 201 {
			t.Errorf("create with the new key: got %d, want 201: %s", r.Status, r.Body)
		}
		if got := fetches.Load(); got != before+1 {
			t.Errorf("JWKS fetches after the made-up kid: got %d, want %d", got, before+1)
		}
	})
}

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/keys"
)

// testKEK is a production-style key-encryption key for the environment.
func testKEK(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// exposedAddr is a non-loopback address that this machine does not have
// (TEST-NET-1, RFC 5737): should a refusal ever fail to happen, binding it
// fails too, so these tests never listen beyond loopback.
const exposedAddr = "192.0.2.10:8443"

// TestServeRefusesUnsafePosture checks every startup refusal: serve stops
// before it creates anything or listens, with a message that names the
// flag to change.
func TestServeRefusesUnsafePosture(t *testing.T) {
	kek := testKEK(t)
	withKEK := map[string]string{"GATEHOUSE_SECRET_KEY": kek}
	proxy := []string{"--behind-proxy", "--trusted-proxies", "10.0.0.0/8", "--issuer", "https://auth.example.test"}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want []string // every one must be in the message
	}{
		{"plain HTTP on a non-loopback address", []string{"--addr", exposedAddr}, withKEK, []string{"--addr " + exposedAddr, "--behind-proxy", "--tls-cert"}},
		{"plain HTTP on every interface", []string{"--addr", ":0"}, withKEK, []string{"--addr :0", "--behind-proxy"}},
		{"plain HTTP on 0.0.0.0 from the environment", nil, map[string]string{"GATEHOUSE_SECRET_KEY": kek, "GATEHOUSE_ADDR": "0.0.0.0:0"}, []string{"--addr 0.0.0.0:0"}},
		{"behind-proxy without trusted proxies", []string{"--addr", exposedAddr, "--behind-proxy", "--issuer", "https://auth.example.test"}, withKEK, []string{"--behind-proxy needs --trusted-proxies"}},
		{"behind-proxy without an issuer", []string{"--addr", exposedAddr, "--behind-proxy", "--trusted-proxies", "10.0.0.0/8"}, withKEK, []string{"--behind-proxy needs --issuer"}},
		{"behind-proxy with an http issuer", []string{"--addr", exposedAddr, "--behind-proxy", "--trusted-proxies", "10.0.0.0/8", "--issuer", "http://auth.example.test"}, withKEK, []string{"--issuer"}},
		{"behind-proxy with TLS here", append([]string{"--addr", "127.0.0.1:0", "--dev-tls"}, proxy...), withKEK, []string{"--behind-proxy means TLS ends at the proxy"}},
		{"development KEK on a non-loopback address", append([]string{"--addr", exposedAddr}, proxy...), nil, []string{"--secret-key-file", "GATEHOUSE_SECRET_KEY", keys.DevKEKFile}},
		{"development KEK behind a proxy on loopback", append([]string{"--addr", "127.0.0.1:0"}, proxy...), nil, []string{"--secret-key-file"}},
		{"docs on a non-loopback address", append([]string{"--addr", exposedAddr, "--docs"}, proxy...), withKEK, []string{"--docs", "--docs-public"}},
		{"docs-public without docs", []string{"--docs-public"}, withKEK, []string{"--docs-public only applies with --docs"}},
		{"password minimum below 8", []string{"--password-min-length", "7"}, withKEK, []string{"--password-min-length 7", "below 8"}},
		{"password minimum 0", []string{"--password-min-length", "0"}, withKEK, []string{"--password-min-length 0"}},
		{"password minimum from the environment", nil, map[string]string{"GATEHOUSE_SECRET_KEY": kek, "GATEHOUSE_PASSWORD_MIN_LENGTH": "6"}, []string{"--password-min-length 6"}},
		{"metrics address without a port", []string{"--metrics-addr", "127.0.0.1"}, withKEK, []string{"--metrics-addr"}},
		{"metrics on the API address", []string{"--addr", "127.0.0.1:8080", "--metrics-addr", "127.0.0.1:8080"}, withKEK, []string{"--metrics-addr must differ"}},
		{"several at once", []string{"--addr", exposedAddr, "--docs", "--password-min-length", "4"}, nil, []string{"--addr", "--secret-key-file", "--docs-public", "--password-min-length 4", "config check"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"serve", "--data-dir", dir}, c.args...)
			// A cancelled context: a server that wrongly started stops at once.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var out, errOut bytes.Buffer
			err := run(ctx, args, func(k string) string { return c.env[k] }, strings.NewReader(""), &out, &errOut)
			if err == nil {
				t.Fatalf("serve started; want a refusal naming %q\nlog:\n%s", c.want, errOut.String())
			}
			if got := exitCode(err); got != 2 {
				t.Errorf("got exit status %d, want 2 (a configuration error)", got)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to mention %q", err, w)
				}
			}
			// Refused before anything was made: no development key, no
			// database.
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				t.Errorf("a refused start left %s in the data directory", e.Name())
			}
		})
	}
}

// kekFile writes a key-encryption key to a 0600 file outside any data
// directory and returns its path.
func kekFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(p, []byte(testKEK(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServeAcceptsSafePostures starts the server in configurations the
// rules allow: behind a proxy on the same host (which counts as exposed),
// with the documentation published on purpose and metrics on loopback,
// with the lowest allowed password minimum.
func TestServeAcceptsSafePostures(t *testing.T) {
	ts := startServer(t, "", "--behind-proxy", "--trusted-proxies", "127.0.0.1/32", "--issuer", "https://auth.example.test",
		"--secret-key-file", kekFile(t), "--docs", "--docs-public", "--metrics-addr", "127.0.0.1:0", "--password-min-length", "8")
	r := ts.do(t, "GET", "/.well-known/oauth-authorization-server", nil, nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"issuer":"https://auth.example.test"`) {
		t.Errorf("metadata: got %d %s, want the https issuer", r.Status, r.Body)
	}
	if r := ts.do(t, "GET", "/openapi.json", nil, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"openapi":"3.1.0"`) {
		t.Errorf("--docs: GET /openapi.json got %d, want the OpenAPI 3.1 document", r.Status)
	}
	if r := ts.do(t, "GET", "/docs", nil, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `id="swagger-ui"`) {
		t.Errorf("--docs: GET /docs got %d, want the interactive reference", r.Status)
	}
	ts.Stop(t)
	log := ts.Log.String()
	for _, want := range []string{"--docs: serving the OpenAPI document at /openapi.json and the interactive reference at /docs", "behind a TLS-terminating proxy"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(ts.DataDir, keys.DevKEKFile)); err == nil {
		t.Errorf("a development KEK was generated although --secret-key-file was given")
	}
}

// noteWriter creates notes as fast as it can and records each one the
// server acknowledged (201), in order.
type noteWriter struct {
	base, token string
	mu          sync.Mutex
	acked       []string
	failures    []string
}

func (w *noteWriter) ackedIDs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.acked...)
}

func (w *noteWriter) run(stop <-chan struct{}, worker, max int) {
	client := &http.Client{Timeout: 30 * time.Second}
	for i := 0; i < max; i++ {
		select {
		case <-stop:
			return
		default:
		}
		body := fmt.Sprintf(`{"title":"load %d-%d","body":"<p>written during a backup</p>"}`, worker, i)
		req, _ := http.NewRequest("POST", w.base+"/v1/notes", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+w.token)
		resp, err := client.Do(req)
		if err != nil {
			w.fail(err.Error())
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			w.fail(fmt.Sprintf("status %d: %s", resp.StatusCode, b))
			return
		}
		var n struct{ ID string }
		if err := json.Unmarshal(b, &n); err != nil || n.ID == "" {
			w.fail(fmt.Sprintf("no id in %s", b))
			return
		}
		w.mu.Lock()
		w.acked = append(w.acked, n.ID)
		w.mu.Unlock()
	}
}

func (w *noteWriter) fail(msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failures = append(w.failures, msg)
}

// waitAcked waits until at least n writes are acknowledged (bounded).
func (w *noteWriter) waitAcked(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for len(w.ackedIDs()) < n {
		w.mu.Lock()
		failed := len(w.failures) > 0
		w.mu.Unlock()
		if failed || time.Now().After(deadline) {
			t.Fatalf("the write load stalled at %d acknowledged writes (want %d): %v", len(w.ackedIDs()), n, w.failures)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBackupUnderLoad takes an online backup while clients keep writing,
// restores it, and finds every write acknowledged before the backup
// started. It also checks the restore's safety rules against the running
// server and against a wrong key-encryption key.
func TestBackupUnderLoad(t *testing.T) {
	ts := startServer(t, "")
	ts.register(t, "loader", goodPassword)
	tok := ts.login(t, "loader", goodPassword)["access_token"].(string)

	w := &noteWriter{base: ts.URL, token: tok}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); w.run(stop, i, 3000) }()
	}
	stopLoad := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}
	defer stopLoad()

	w.waitAcked(t, 40)
	before := w.ackedIDs() // acknowledged before the backup started
	backup := filepath.Join(t.TempDir(), "gatehouse-backup.db")
	out, errOut, err := runCLI(t, "", nil, "backup", "--data-dir", ts.DataDir, "--out", backup)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, errOut)
	}
	during := len(w.ackedIDs()) - len(before)
	// The server keeps taking writes after the backup: it never stopped.
	w.waitAcked(t, len(before)+during+20)
	stopLoad()
	if len(w.failures) > 0 {
		t.Fatalf("writes failed during the backup: %v", w.failures)
	}
	t.Logf("%d writes acknowledged before the backup, %d while it ran, %d in all", len(before), during, len(w.ackedIDs()))
	for _, want := range []string{"backup of ", "written to " + backup, "integrity check ok", "development key-encryption key"} {
		if !strings.Contains(out, want) {
			t.Errorf("backup output lacks %q:\n%s", want, out)
		}
	}
	if st, err := os.Stat(backup); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, mode %v; want mode 0600", err, st.Mode())
	}

	// An existing file is never overwritten.
	if _, _, err := runCLI(t, "", nil, "backup", "--data-dir", ts.DataDir, "--out", backup); err == nil || !strings.Contains(err.Error(), "--out") {
		t.Errorf("backup onto an existing file: got %v, want a refusal naming --out", err)
	}
	// Restoring under the running server is refused, and changes nothing.
	if _, _, err := runCLI(t, "", nil, "restore", "--data-dir", ts.DataDir, "--from", backup); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("restore under a running server: got %v, want a refusal", err)
	}
	if m, _ := filepath.Glob(filepath.Join(ts.DataDir, "gatehouse.db.bak-*")); len(m) > 0 {
		t.Errorf("a refused restore left %v", m)
	}

	// A new machine without the key-encryption key, or with another one:
	// refused, since no server could open the signing keys.
	if _, _, err := runCLI(t, "", nil, "restore", "--data-dir", t.TempDir(), "--from", backup); err == nil || !strings.Contains(err.Error(), "--secret-key-file") {
		t.Errorf("restore without a KEK: got %v, want a refusal naming --secret-key-file", err)
	}
	wrong := map[string]string{"GATEHOUSE_SECRET_KEY": testKEK(t)}
	if _, _, err := runCLI(t, "", wrong, "restore", "--data-dir", t.TempDir(), "--from", backup); err == nil || !strings.Contains(err.Error(), "does not open") {
		t.Errorf("restore with another KEK: got %v, want a refusal", err)
	}

	// Restore on a new machine with the same KEK (the development key,
	// copied as docs/OPERATIONS.md says), start a server there and read
	// every acknowledged note back through the API.
	newDir := t.TempDir()
	kek, err := os.ReadFile(filepath.Join(ts.DataDir, keys.DevKEKFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(newDir, keys.DevKEKFile), kek, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err = runCLI(t, "", nil, "restore", "--data-dir", newDir, "--from", backup)
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "restored ") || strings.Contains(out, "kept as") {
		t.Errorf("restore into a new directory: got %q", out)
	}
	ts2 := startServer(t, newDir)
	tok2 := ts2.login(t, "loader", goodPassword)["access_token"].(string)
	for _, id := range before {
		if r := ts2.do(t, "GET", "/v1/notes/"+id, nil, bearer(tok2)); r.Status != http.StatusOK {
			t.Fatalf("note %s, acknowledged before the backup started: got %d after the restore, want 200", id, r.Status)
		}
	}
	ts2.Stop(t)

	// With the original server stopped, restoring over its database
	// works and keeps the replaced file.
	ts.Stop(t)
	out, errOut, err = runCLI(t, "", nil, "restore", "--data-dir", ts.DataDir, "--from", backup)
	if err != nil {
		t.Fatalf("restore over the stopped server's database: %v\n%s", err, errOut)
	}
	baks, _ := filepath.Glob(filepath.Join(ts.DataDir, "gatehouse.db.bak-*"))
	if len(baks) != 1 || !strings.Contains(out, "kept as "+baks[0]) {
		t.Errorf("got .bak files %v and output %q, want one, named in the output", baks, out)
	}
}

// TestBackupRestorePostgresSaysPgDump: the commands handle SQLite only and
// say what to do instead.
func TestBackupRestorePostgresSaysPgDump(t *testing.T) {
	for _, args := range [][]string{
		{"backup", "--out", filepath.Join(t.TempDir(), "x"), "--database-url", "postgres://u:p@localhost/gatehouse"},
		{"restore", "--from", "x", "--database-url", "postgresql://localhost/gatehouse"},
	} {
		_, _, err := runCLI(t, "", nil, args...)
		if err == nil || !strings.Contains(err.Error(), "pg_dump") || strings.Contains(err.Error(), "u:p") {
			t.Errorf("%s with PostgreSQL: got %v, want a pointer to pg_dump", args[0], err)
		}
	}
	for _, args := range [][]string{{"backup"}, {"restore"}} {
		if _, _, err := runCLI(t, "", nil, args...); err == nil || !strings.Contains(err.Error(), "is required") {
			t.Errorf("%s without a file: got %v", args[0], err)
		}
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

// runCLI runs one gatehouse command in-process.
func runCLI(t *testing.T, stdin string, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	err = run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &o, &e)
	return o.String(), e.String(), err
}

func TestMigrateIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	out, _, err := runCLI(t, "", nil, "migrate", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "applied") {
		t.Fatalf("first migrate: got %q, %v; want applied migrations", out, err)
	}
	out, _, err = runCLI(t, "", nil, "migrate", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("second migrate: got %q, %v; want up to date", out, err)
	}
	// Environment variables back every flag.
	out, _, err = runCLI(t, "", map[string]string{"GATEHOUSE_DATA_DIR": dir}, "migrate")
	if err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate with GATEHOUSE_DATA_DIR: got %q, %v", out, err)
	}
}

func TestUserCreateCLI(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := runCLI(t, goodPassword+"\n", nil, "user", "create", "--data-dir", dir, "--username", "Root", "--email", "root@example.com", "--role", "admin")
	if err != nil {
		t.Fatalf("user create: %v\n%s", err, errOut)
	}
	if strings.Contains(out+errOut, goodPassword) {
		t.Errorf("the password was echoed")
	}
	if !strings.Contains(out, "created user root") {
		t.Errorf("got %q, want a confirmation", out)
	}
	cases := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"weak password", "password\n", []string{"--username", "x1y", "--email", "x1y@example.com"}, "password"},
		{"taken username", goodPassword + "\n", []string{"--username", "root", "--email", "other@example.com"}, "username is already taken"},
		{"no password", "", []string{"--username", "x2y", "--email", "x2y@example.com"}, "no password"},
		{"unknown role", goodPassword + "\n", []string{"--username", "x3y", "--email", "x3y@example.com", "--role", "god"}, "unknown role"},
		{"password as flag", goodPassword + "\n", []string{"--username", "x4y", "--email", "x4y@example.com", "--password", "x"}, "not defined"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"user", "create", "--data-dir", dir}, c.args...)
			_, errOut, err := runCLI(t, c.stdin, nil, args...)
			if err == nil || !strings.Contains(err.Error()+errOut, c.want) {
				t.Errorf("got %v (%s), want an error mentioning %q", err, errOut, c.want)
			}
		})
	}

	// The account logs in on a server over the same data, with admin scopes.
	ts := startServer(t, dir)
	m := ts.login(t, "root", goodPassword)
	if m["scope"] != "audit:read notes:read notes:write users:read users:write" {
		t.Errorf("admin scope: got %v", m["scope"])
	}
}

func TestSecretsAtRest(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	ts.register(t, "hank", goodPassword)
	ts.Stop(t)

	st, err := os.Stat(filepath.Join(dir, keys.DevKEKFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("development KEK mode: got %v, want 0600", st.Mode().Perm())
	}
	if !strings.Contains(ts.Log.String(), "DEVELOPMENT key-encryption key") {
		t.Errorf("no loud log line about the generated development key")
	}

	store, err := sqlite.Open(filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := store.UserByUsername(context.Background(), "hank")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("stored hash: got %.40s, want argon2id m=19456,t=2,p=1 in PHC form", u.PasswordHash)
	}
	ks, err := store.SigningKeys(context.Background())
	if err != nil || len(ks) != 1 {
		t.Fatalf("signing keys: got %d, %v", len(ks), err)
	}
	kekText, _ := os.ReadFile(filepath.Join(dir, keys.DevKEKFile))
	secret, _ := keys.ParseKEK(string(kekText))
	kek, _ := keys.NewKEK(secret, "test", "")
	seed, err := kek.Open(ks[0].ID, ks[0].PrivateKeyEnc)
	if err != nil || len(seed) != 32 {
		t.Fatalf("the sealed key does not open with the KEK: %v", err)
	}
	if bytes.Contains(ks[0].PrivateKeyEnc, seed) {
		t.Errorf("the private key is stored in clear")
	}
	store.Close()

	// Another KEK cannot open the keys: the server refuses to start.
	other := make([]byte, 32)
	rand.Read(other)
	env := map[string]string{"GATEHOUSE_SECRET_KEY": base64.StdEncoding.EncodeToString(other)}
	_, _, err = runCLI(t, "", env, "serve", "--data-dir", dir, "--addr", freeAddr(t))
	if err == nil || !strings.Contains(err.Error(), "key-encryption key") {
		t.Errorf("serve with a wrong KEK: got %v, want a refusal naming the key-encryption key", err)
	}
	// A short KEK is refused.
	_, _, err = runCLI(t, "", map[string]string{"GATEHOUSE_SECRET_KEY": "c2hvcnQ="}, "serve", "--data-dir", t.TempDir(), "--addr", freeAddr(t))
	if err == nil || !strings.Contains(err.Error(), "at least 32 bytes") {
		t.Errorf("serve with a short KEK: got %v, want a refusal", err)
	}
}

func TestConfigRefusals(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--password-min-length", "7"}, nil, "--password-min-length"},
		{nil, map[string]string{"GATEHOUSE_PASSWORD_MIN_LENGTH": "abc"}, "GATEHOUSE_PASSWORD_MIN_LENGTH"},
		{[]string{"--access-token-ttl", "48h"}, nil, "--access-token-ttl"},
		{[]string{"--issuer", "ftp://x"}, nil, "--issuer"},
		{[]string{"--log-format", "xml"}, nil, "--log-format"},
		{[]string{"--database-url", "mysql://x"}, nil, "--database-url"},
		{[]string{"--no-such-flag"}, nil, "no-such-flag"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			args := append([]string{"serve", "--data-dir", t.TempDir(), "--addr", freeAddr(t)}, c.args...)
			_, errOut, err := runCLI(t, "", c.env, args...)
			if err == nil || !strings.Contains(err.Error()+errOut, c.want) {
				t.Errorf("got %v, want a refusal naming %s", err, c.want)
			}
		})
	}
}

func TestNoSecretsInLogs(t *testing.T) {
	ts := startServer(t, "")
	secret := "log-canary password 9f8e7d6c"
	ts.register(t, "ivan", secret)
	m := ts.login(t, "ivan", secret)
	access, refresh := m["access_token"].(string), m["refresh_token"].(string)
	ts.do(t, "GET", "/v1/users/me", nil, bearer(access))
	ts.do(t, "GET", "/v1/users/me?token="+access, nil, map[string]string{"Cookie": "__Host-session=" + refresh})
	ts.do(t, "POST", "/v1/auth/token", url.Values{"grant_type": {"password"}, "username": {"ivan"}, "password": {secret + "x"}}, nil)
	ts.do(t, "POST", "/v1/users", `{"username":"ivan2","email":"i@example.com","password":"`+secret+`","age":"x"}`, nil)
	ts.Stop(t)
	log := ts.Log.String()
	if !strings.Contains(log, `"route":"GET /v1/users/me"`) || !strings.Contains(log, `"user_id":"`) {
		t.Fatalf("access log lines missing:\n%s", log)
	}
	for name, s := range map[string]string{"password": secret, "access token": access, "refresh token": refresh, "access token signature": access[strings.LastIndex(access, ".")+1:], "bearer scheme": "Bearer "} {
		if strings.Contains(log, s) {
			t.Errorf("the log contains the %s", name)
		}
	}
}

// buildBinary compiles gatehouse for tests that need a real process.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatehouse")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestSIGTERM stops a real process with SIGTERM while a request is in
// flight: the request completes, the process exits 0 within 10 s, and a
// restart on the same data still has the account.
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	var logBuf syncBuffer
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", dir)
	cmd.Stderr = &logBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitHealthy(t, "http://"+addr, &logBuf)

	body := fmt.Sprintf(`{"username":"judy","email":"judy@example.com","password":%q,"age":33}`, goodPassword)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/users HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", addr, len(body))
	half := len(body) / 2
	io.WriteString(conn, body[:half])
	time.Sleep(300 * time.Millisecond) // let the server start reading the request

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // shutdown has begun
	io.WriteString(conn, body[half:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request: %v\nlog:\n%s", err, logBuf.String())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("in-flight request: got %d, want 201", resp.StatusCode)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: got %v, want status 0\nlog:\n%s", err, logBuf.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10 s after SIGTERM")
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))

	ts := startServer(t, dir)
	ts.login(t, "judy", goodPassword)
}

func waitHealthy(t *testing.T, base string, log *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("not healthy\nlog:\n%s", log.String())
}

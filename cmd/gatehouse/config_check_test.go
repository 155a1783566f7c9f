package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// configCases are the deployments whose `config check` report is kept in
// testdata/config_check.golden. Paths are fixed strings: config check
// reads no file and creates nothing.
var configCases = []struct {
	name     string
	args     []string
	env      map[string]string
	wantExit int
}{
	{"laptop defaults", nil, nil, 0},
	{
		"production with ACME",
		[]string{"--addr", ":443", "--http-redirect-addr", ":80", "--acme-domain", "api.example.com", "--acme-email", "ops@example.com",
			"--secret-key-file", "/etc/gatehouse/kek", "--data-dir", "/var/lib/gatehouse", "--hsts-preload",
			"--cors-origins", "https://app.example.com", "--metrics-addr", "127.0.0.1:9090"},
		map[string]string{"GATEHOUSE_LOG_LEVEL": "warn"},
		0,
	},
	{
		"behind a load balancer",
		[]string{"--addr", "0.0.0.0:8080", "--behind-proxy", "--issuer", "https://auth.example.com", "--docs", "--docs-public",
			"--rate-limit", "POST /v1/auth/token=5/minute", "--password-min-length", "12",
			"--database-url", "sqlite:/var/lib/gatehouse/gatehouse.db"},
		map[string]string{"GATEHOUSE_SECRET_KEY": "c2VjcmV0LWtlay1jYW5hcnktZG8tbm90LXByaW50LW1lLTAxMjM0NTY3ODk=", "GATEHOUSE_TRUSTED_PROXIES": "10.0.0.0/8"},
		0,
	},
	{
		"unsafe",
		[]string{"--addr", ":8080", "--docs", "--password-min-length", "7", "--rate-limit", "POST /v1/auth/token=100/minute,*=1000/minute",
			"--cors-origins", "*,http://localhost:3000", "--metrics-addr", "0.0.0.0:9090", "--trusted-proxies", "8.8.8.0/24",
			"--redis-url", "redis://:hunter2@cache:6379/0", "--database-url", "postgres://gatehouse:pg-canary@db/gatehouse?sslmode=verify-full&password=pg-canary2"},
		nil,
		1,
	},
}

// TestConfigCheckGolden compares the report of every case with the golden
// file (go test -run ConfigCheckGolden -update rewrites it), and checks the
// exit status and that no secret is printed.
func TestConfigCheckGolden(t *testing.T) {
	var all bytes.Buffer
	for _, c := range configCases {
		var out, errOut bytes.Buffer
		args := append([]string{"config", "check"}, c.args...)
		err := run(context.Background(), args, func(k string) string { return c.env[k] }, strings.NewReader(""), &out, &errOut)
		got := 0
		if err != nil {
			got = exitCode(err)
		}
		if got != c.wantExit {
			t.Errorf("%s: got exit status %d (%v), want %d\n%s", c.name, got, err, c.wantExit, errOut.String())
		}
		for _, secret := range []string{"c2VjcmV0LWtlay1jYW5hcnk", "pg-canary", "hunter2"} {
			if strings.Contains(out.String()+errOut.String(), secret) {
				t.Errorf("%s: the report contains the secret %q", c.name, secret)
			}
		}
		shown := make([]string, len(args))
		for i, a := range args {
			shown[i] = a
			if strings.Contains(a, "://") {
				shown[i] = redactURL(a)
			}
		}
		fmt.Fprintf(&all, "##### %s: gatehouse %s (exit %d)\n", c.name, strings.Join(shown, " "), got)
		all.Write(out.Bytes())
		all.WriteString("\n")
	}
	golden := filepath.Join("testdata", "config_check.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, all.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/gatehouse -run ConfigCheckGolden -update to create it)", err)
	}
	if got := all.String(); got != string(want) {
		t.Errorf("config check output differs from %s (rerun with -update after checking the change):\n%s", golden, lineDiff(string(want), got))
	}
}

// lineDiff lists the lines that differ, for a readable failure.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, w, g)
		}
	}
	return b.String()
}

// TestConfigCheckAgreesWithServe: the configurations config check calls
// unsafe are the ones serve refuses, and only those. Serve itself runs
// only for the refused ones (a refusal comes before anything is opened or
// listens); the others go through the same gate without starting, since
// starting them would bind public ports or order ACME certificates.
func TestConfigCheckAgreesWithServe(t *testing.T) {
	for _, c := range configCases {
		t.Run(c.name, func(t *testing.T) {
			getenv := func(k string) string { return c.env[k] }
			if c.wantExit == 0 {
				cfg, err := parseServe(c.args, getenv, &bytes.Buffer{})
				if err != nil {
					t.Fatal(err)
				}
				if err := refuseUnsafe(cfg.posture(getenv)); err != nil {
					t.Errorf("serve would refuse what config check accepts: %v", err)
				}
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			dir := t.TempDir()
			args := append(append([]string{"serve"}, c.args...), "--data-dir", dir)
			err := run(ctx, args, getenv, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), "unsafe configuration") {
				t.Errorf("serve: got %v, want the refusal config check predicts", err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) > 0 {
				t.Errorf("the refused serve created %d files", len(ents))
			}
		})
	}
}

func TestConfigCheckUsage(t *testing.T) {
	if _, _, err := runCLI(t, "", nil, "config"); err == nil || exitCode(err) != 2 {
		t.Errorf("config without check: got %v, want a usage error", err)
	}
	if _, _, err := runCLI(t, "", nil, "config", "check", "--addr", "nonsense"); err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--addr") {
		t.Errorf("a bad value: got %v, want a usage error naming --addr", err)
	}
	if _, errOut, err := runCLI(t, "", nil, "config", "check", "--help"); exitCode(err) != 2 || !strings.Contains(errOut, "--behind-proxy") {
		t.Errorf("--help: got %v, want serve's flags", err)
	}
}

package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gatehouse")
	if err := writeFile(bin); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GATEHOUSE_TEST_POSTGRES_URL": "postgres://x", "GATEHOUSE_TEST_REDIS_URL": "redis://y"}
	getenv := func(k string) string { return env[k] }
	for _, c := range []struct {
		args []string
		want string // "" for no error
	}{
		{[]string{"--bin", bin}, ""},
		{[]string{}, "--bin is required"},
		{[]string{"--bin", bin + ".missing"}, "--bin"},
		{[]string{"--bin", bin, "--workers", "0"}, "--workers"},
		{[]string{"--bin", bin, "--duration", "2m"}, "--duration"},
		{[]string{"--bin", bin, "--redis-url", ""}, "--redis-url"},
		{[]string{"--bin", bin, "extra"}, "unexpected argument"},
	} {
		_, err := parseFlags(c.args, getenv, io.Discard)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("parseFlags(%q): got %v, want no error", c.args, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("parseFlags(%q): got %v, want an error naming %s", c.args, err, c.want)
		}
	}
}

func TestReport(t *testing.T) {
	r := &report{started: time.Now(), workers: 32,
		checks:  []check{{"a", true, "fine"}, {"b", false, "broken"}},
		cluster: benchResult{label: "cluster", requests: 1000, elapsed: time.Second, p99: 20 * time.Millisecond},
		single:  benchResult{label: "single", requests: 2000, elapsed: time.Second, p99: 10 * time.Millisecond},
	}
	text := r.String()
	for _, want := range []string{"PASS  a: fine", "FAIL  b: broken", "0.50× throughput, 2.00× p99", "result: FAIL"} {
		if !strings.Contains(text, want) {
			t.Errorf("report: got\n%s\nwant a line with %q", text, want)
		}
	}
	if r.pass() {
		t.Errorf("pass() with a failed check: got true, want false")
	}
	if (&report{}).pass() {
		t.Errorf("pass() with no checks: got true, want false")
	}
}

func TestKidOf(t *testing.T) {
	// {"alg":"EdDSA","kid":"k1","typ":"at+jwt"}
	tok := "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.e30.sig"
	if got := kidOf(tok); got != "k1" {
		t.Errorf("kidOf: got %q, want k1", got)
	}
	if got := kidOf("not a token"); got != "" {
		t.Errorf("kidOf(garbage): got %q, want empty", got)
	}
}

func writeFile(path string) error { return os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755) }

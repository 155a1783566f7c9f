package postgres

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestParseURLDefaults(t *testing.T) {
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	none := env(nil)
	tests := []struct {
		name        string
		url         string
		getenv      func(string) string
		wantSSLMode string // "" when the URL's (or libpq's) choice stands
	}{
		{"remote host gets verify-full", "postgres://u@db.example.com/gh", none, "verify-full"},
		{"remote IP gets verify-full", "postgres://u@10.1.2.3:5432/gh", none, "verify-full"},
		{"several hosts, one remote", "postgres://u@localhost:5432,db.example.com:5432/gh", none, "verify-full"},
		{"host parameter, remote", "postgres://u@/gh?host=db.example.com", none, "verify-full"},
		{"explicit sslmode kept", "postgres://u@db.example.com/gh?sslmode=require", none, ""},
		{"PGSSLMODE kept", "postgres://u@db.example.com/gh", env(map[string]string{"PGSSLMODE": "require"}), ""},
		{"localhost", "postgres://u@localhost/gh", none, ""},
		{"loopback IPv4", "postgres://u@127.0.0.1:5432/gh", none, ""},
		{"loopback IPv6", "postgres://u@[::1]:5432/gh", none, ""},
		{"unix socket", "postgres://u@/gh?host=/var/run/postgresql", none, ""},
		{"no host", "postgresql:///gh", none, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := parseURL(tt.url, tt.getenv)
			if err != nil {
				t.Fatalf("parseURL(%q): %v", tt.url, err)
			}
			// verify-full: TLS required, certificate and host name checked,
			// and no plain-text fallback.
			strict := cfg.TLSConfig != nil && !cfg.TLSConfig.InsecureSkipVerify && cfg.TLSConfig.ServerName != ""
			for _, fb := range cfg.Fallbacks {
				strict = strict && fb.TLSConfig != nil
			}
			if want := tt.wantSSLMode == "verify-full"; want && !strict {
				t.Errorf("parseURL(%q): TLS %+v, want verify-full", tt.url, cfg.TLSConfig)
			}
		})
	}
}

func TestParseURLPoolAndSession(t *testing.T) {
	cfg, pool, err := parseURL("postgres://u@localhost/gh?pool_max_conns=7&pool_max_conn_idle_time=90s&pool_max_conn_lifetime=1h&statement_timeout=1s&connect_timeout=2", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if pool.maxConns != 7 || pool.maxConnIdleTime != 90*time.Second || pool.maxConnLifetime != time.Hour {
		t.Errorf("pool = %+v, want 7 connections, 90s idle, 1h lifetime", pool)
	}
	for _, k := range []string{"pool_max_conns", "pool_max_conn_idle_time", "pool_max_conn_lifetime"} {
		if _, ok := cfg.RuntimeParams[k]; ok {
			t.Errorf("RuntimeParams holds %s: the server would refuse it", k)
		}
	}
	if got := cfg.RuntimeParams["statement_timeout"]; got != "1s" {
		t.Errorf("statement_timeout = %q, want the URL's 1s", got)
	}
	if got := cfg.RuntimeParams["idle_in_transaction_session_timeout"]; got != defaultIdleInTransactionTimeout {
		t.Errorf("idle_in_transaction_session_timeout = %q, want the default", got)
	}
	if cfg.ConnectTimeout != 2*time.Second {
		t.Errorf("ConnectTimeout = %v, want the URL's 2s", cfg.ConnectTimeout)
	}

	cfg, _, err = parseURL("postgres://u@localhost/gh?options=-c%20statement_timeout%3D9s", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := cfg.RuntimeParams["statement_timeout"]; ok {
		t.Errorf("statement_timeout = %q with options setting it, want it left to options", got)
	}

	cfg, pool, err = parseURL("postgres://u@localhost/gh", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if pool.maxConns != defaultMaxConns || cfg.ConnectTimeout != defaultConnectTimeout ||
		cfg.RuntimeParams["statement_timeout"] != defaultStatementTimeout {
		t.Errorf("defaults: pool %+v, connect timeout %v, params %v", pool, cfg.ConnectTimeout, cfg.RuntimeParams)
	}
}

// TestTextAbove checks textAbove against its definition on random strings:
// for valid text s and any x that is not valid text, s > x exactly when
// s >= textAbove(x).
func TestTextAbove(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"\x00", "\x01", "a", "z", "\x7f", "\x80", "\xbf", "\xc2", "\xc3", "\xa9", "\xdf", "\xe0", "\xed",
		"\xa0", "\xef", "\xf0", "\xf4", "\x8f", "\x90", "\xf5", "\xff", "é", "\u07ff", "\uffff", "\U0010FFFF", "中"}
	gen := func() string {
		var b strings.Builder
		for range r.IntN(5) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	var valid []string
	for len(valid) < 2000 {
		if s := gen(); validText(s) {
			valid = append(valid, s)
		}
	}
	valid = append(valid, "", "\x01", "\U0010FFFF", "\U0010FFFF\U0010FFFF")
	checked := 0
	for range 20000 {
		x := gen()
		if validText(x) {
			continue
		}
		checked++
		above, ok := textAbove(x)
		if ok && !validText(above) {
			t.Fatalf("textAbove(%q) = %q, not valid text", x, above)
		}
		if ok && above <= x {
			t.Fatalf("textAbove(%q) = %q, not above it", x, above)
		}
		for _, s := range valid {
			want := s > x
			got := ok && s >= above
			if got != want {
				t.Fatalf("x=%q above=%q ok=%v: for s=%q, s >= above is %v, want s > x = %v", x, above, ok, s, got, want)
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("checked %d invalid strings, want more", checked)
	}
	for _, tt := range []struct {
		x, want string
		ok      bool
	}{
		{"a\x00", "a\x01", true},
		{"\xff", "", false},
		{"a\xff", "b", true},
		{"\U0010FFFF\xff", "", false},
		{"a\U0010FFFF\xff", "b", true},
		{"\ud7ff\xff", "\ue000", true},
		{"\xc3", "\u00c0", true},
		{"\xed\xa0\x80", "\ue000", true},
		{"ok", "ok\x01", true},
	} {
		got, ok := textAbove(tt.x)
		if got != tt.want || ok != tt.ok {
			t.Errorf("textAbove(%q) = %q, %v; want %q, %v", tt.x, got, ok, tt.want, tt.ok)
		}
	}
}

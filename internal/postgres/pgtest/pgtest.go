// Package pgtest gives tests a PostgreSQL schema of their own on the server
// named by GATEHOUSE_TEST_POSTGRES_URL (which .ci/run sets).
//
// When the variable is not set, tests that need PostgreSQL are skipped, with
// a message that says how to run them. When it is set, the server must
// answer: a test fails, and does not skip, if it cannot reach it, so that a
// CI machine whose database did not start does not pass by testing nothing.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable with the server's URL, as in
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvURL = "GATEHOUSE_TEST_POSTGRES_URL"

var reachable sync.Map // URL -> error of the first connection attempt

// URL returns the server's URL. It skips the test when EnvURL is not set,
// and fails it when the server does not answer.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		t.Skipf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run them", EnvURL)
	}
	errAny, _ := reachable.LoadOrStore(u, sync.OnceValue(func() error { return ping(u) }))
	if err := errAny.(func() error)(); err != nil {
		t.Fatalf("%s is set but PostgreSQL does not answer: %v", EnvURL, err)
	}
	return u
}

func ping(rawURL string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// NewSchema creates an empty schema, dropped with everything in it when the
// test ends, and returns the server's URL with search_path set to it: every
// connection made with that URL creates and finds its tables there, so
// tests (and parallel test binaries) do not see each other's rows.
func NewSchema(t testing.TB) string {
	t.Helper()
	base := URL(t)
	b := make([]byte, 8)
	rand.Read(b)
	name := "gatehouse_test_" + hex.EncodeToString(b)
	exec(t, base, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		// Cleanups run after the test's context is done: use a new one.
		exec(t, base, "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE")
	})
	// Commits need not wait for the disk: a test database does not
	// outlive a crash. (This does not change what a transaction sees.)
	return WithParams(base, "search_path", name, "synchronous_commit", "off")
}

// WithParams appends query parameters (name, value pairs) to a PostgreSQL
// URL, percent-encoded as libpq reads them (which, unlike
// url.Values.Encode, does not read "+" as a space). A parameter given
// twice takes its last value.
func WithParams(rawURL string, params ...string) string {
	for i := 0; i+1 < len(params); i += 2 {
		sep := "?"
		if strings.Contains(rawURL, "?") {
			sep = "&"
		}
		rawURL += sep + url.PathEscape(params[i]) + "=" + strings.ReplaceAll(url.QueryEscape(params[i+1]), "+", "%20")
	}
	return rawURL
}

// Exec runs one statement with its arguments on a connection of its own.
func Exec(t testing.TB, rawURL, sql string, args ...any) { exec(t, rawURL, sql, args...) }

func exec(t testing.TB, rawURL, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", trim(sql), err)
	}
}

func trim(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// Proxy forwards TCP connections to PostgreSQL and can be cut, as a network
// failure or a stopped server would: Down closes the listener and every
// connection, Up listens again on the same address.
type Proxy struct {
	t      testing.TB
	Addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

// StartProxy starts a proxy on a free loopback port to target.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{t: t, Addr: ln.Addr().String(), target: target, conns: map[net.Conn]bool{}}
	p.serve(ln)
	t.Cleanup(p.Down)
	return p
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
}

// Down cuts the proxy.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// Up listens again.
func (p *Proxy) Up() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", p.Addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy up: %v", err)
	}
	p.serve(ln)
}

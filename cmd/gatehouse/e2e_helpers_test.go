package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer collects a server's log output while it runs.
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

// testServer is a gatehouse started in-process through run, on a real
// loopback listener and a real SQLite file.
type testServer struct {
	URL     string
	Addr    string
	DataDir string
	Log     *syncBuffer
	Env     map[string]string
	cancel  context.CancelFunc
	done    chan error
}

// freeAddr finds a free loopback port.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// noDefaultLimits, among startServer's arguments, keeps the server's own
// rate limits instead of the test harness's very high ones.
const noDefaultLimits = "--test-keep-limits"

// startServer runs `gatehouse serve` on dataDir ("" for a new temporary
// one) and waits for /healthz. It stops the server at the end of the test.
func startServer(t testing.TB, dataDir string, args ...string) *testServer {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{URL: "http://" + addr, Addr: addr, DataDir: dataDir, Log: &syncBuffer{}, Env: map[string]string{}, cancel: cancel, done: make(chan error, 1)}
	// Limits high enough for functional tests; the rate-limit tests set
	// their own. Flags given later override these (the last --rate-limit
	// for a route would be a duplicate, so tests that set one pass
	// noDefaultLimits).
	base := []string{"serve", "--addr", addr, "--data-dir", dataDir, "--log-level", "debug", "--hash-concurrency", "2"}
	if !slices.Contains(args, noDefaultLimits) {
		base = append(base, "--rate-limit", "POST /v1/auth/token=100000/minute,POST /v1/users=100000/minute,POST /v1/auth/revoke=100000/minute,POST /v1/auth/session=100000/minute,*=100000/minute")
	}
	args = slices.DeleteFunc(slices.Clone(args), func(s string) bool { return s == noDefaultLimits })
	full := append(base, args...)
	getenv := func(k string) string { return ts.Env[k] }
	go func() { ts.done <- run(ctx, full, getenv, strings.NewReader(""), io.Discard, ts.Log) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-ts.done:
			t.Fatalf("server exited early: %v\nlog:\n%s", err, ts.Log)
		default:
		}
		resp, err := http.Get(ts.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not become healthy\nlog:\n%s", ts.Log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { ts.Stop(t) })
	return ts
}

// Stop shuts the server down as SIGTERM would and checks it exited cleanly.
func (ts *testServer) Stop(t testing.TB) {
	t.Helper()
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	ts.cancel = nil
	select {
	case err := <-ts.done:
		if err != nil {
			t.Errorf("server exited with %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("server did not stop within 15 s")
	}
}

// response is a decoded HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// do sends one request; body may be a string, []byte, url.Values or any
// value to marshal as JSON.
func (ts *testServer) do(t testing.TB, method, path string, body any, header map[string]string) *response {
	t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ctype = strings.NewReader(b), "application/json"
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/json"
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// register creates an account and fails the test unless it gets 201.
func (ts *testServer) register(t testing.TB, username, password string) map[string]any {
	t.Helper()
	r := ts.do(t, "POST", "/v1/users", map[string]any{"username": username, "email": username + "@example.com", "password": password, "age": 30}, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("register %s: got %d, want 201: %s", username, r.Status, r.Body)
	}
	return r.JSON(t)
}

// login runs the password grant and returns the token response.
func (ts *testServer) login(t testing.TB, username, password string, extra ...string) map[string]any {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	r := ts.do(t, "POST", "/v1/auth/token", form, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("login %s: got %d, want 200: %s", username, r.Status, r.Body)
	}
	return r.JSON(t)
}

func bearer(token any) map[string]string {
	return map[string]string{"Authorization": fmt.Sprintf("Bearer %v", token)}
}

// problemOf checks a problem-details answer and returns its body.
func problemOf(t testing.TB, r *response, status int) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("got status %d, want %d: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("got Content-Type %q, want application/problem+json", ct)
	}
	m := r.JSON(t)
	for _, k := range []string{"type", "title", "status", "detail", "request_id"} {
		if _, ok := m[k]; !ok {
			t.Errorf("problem lacks %q: %s", k, r.Body)
		}
	}
	if got := m["request_id"]; got != r.Header.Get("X-Request-ID") {
		t.Errorf("got request_id %v, want the X-Request-ID header %q", got, r.Header.Get("X-Request-ID"))
	}
	return m
}

const goodPassword = "correct horse battery staple 42"

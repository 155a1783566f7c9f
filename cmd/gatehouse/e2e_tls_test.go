package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/transport"
)

// startHTTPS runs `gatehouse serve` with TLS flags in args and waits for
// /healthz over HTTPS. The readiness probe skips certificate checks (the
// test may not know the certificate yet); every test request verifies.
func startHTTPS(t *testing.T, dataDir string, args ...string) *testServer {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{URL: "https://" + addr, Addr: addr, DataDir: dataDir, Log: &syncBuffer{}, Env: map[string]string{}, cancel: cancel, done: make(chan error, 1)}
	full := append([]string{"serve", "--addr", addr, "--data-dir", dataDir, "--log-level", "debug", "--hash-concurrency", "2"}, args...)
	go func() {
		ts.done <- run(ctx, full, func(k string) string { return ts.Env[k] }, strings.NewReader(""), io.Discard, ts.Log)
	}()
	probe := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer probe.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-ts.done:
			t.Fatalf("server exited early: %v\nlog:\n%s", err, ts.Log)
		default:
		}
		if resp, err := probe.Get(ts.URL + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not become healthy over HTTPS\nlog:\n%s", ts.Log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { ts.Stop(t) })
	return ts
}

// httpsClient verifies the server against pool and speaks HTTP/2 when the
// server offers it.
func httpsClient(t *testing.T, pool *x509.CertPool) *http.Client {
	c := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true},
		// Redirects are what the tests look at, not something to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// tlsCall sends one request and reads the whole answer.
func tlsCall(t *testing.T, c *http.Client, method, url string, header map[string]string) *response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if resp.ProtoMajor == 2 {
		r.Header.Set("X-Test-Proto", "HTTP/2")
	}
	return r
}

// jsonLogEntries parses the server's JSON log.
func jsonLogEntries(ts *testServer) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(ts.Log.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// waitLogEntry waits for a log entry that match accepts.
func waitLogEntry(t *testing.T, ts *testServer, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, e := range jsonLogEntries(ts) {
			if match(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log entry %s\nlog:\n%s", what, ts.Log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// e2eCert makes a self-signed ECDSA certificate for 127.0.0.1 and
// localhost and writes it (replacing by rename, as renewal tools do) to
// dir/cert.pem and dir/key.pem.
func e2eCert(t *testing.T, dir, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	for name, block := range map[string]*pem.Block{
		"cert.pem": {Type: "CERTIFICATE", Bytes: der},
		"key.pem":  {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		tmp := filepath.Join(dir, name+".tmp")
		if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	leaf, _ := x509.ParseCertificate(der)
	return leaf
}

const wantHSTS = "max-age=31536000; includeSubDomains"

func TestDevTLS(t *testing.T) {
	t.Parallel()
	ts := startHTTPS(t, "", "--dev-tls")

	// The fingerprint is logged, and matches both the file in the data
	// dir and what the server presents.
	e := waitLogEntry(t, ts, "with the development certificate's fingerprint", func(m map[string]any) bool { return m["fingerprint_sha256"] != nil })
	if !strings.Contains(e["msg"].(string), "CREATED") {
		t.Errorf("first start: got %q, want it to say the certificate was created", e["msg"])
	}
	logged := e["fingerprint_sha256"].(string)
	certFile := filepath.Join(ts.DataDir, transport.DevCertDir, transport.DevCertFile)
	if e["cert_file"] != certFile {
		t.Errorf("got cert_file %v, want %s", e["cert_file"], certFile)
	}
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatal("certificate file holds no certificate")
	}
	conn, err := tls.Dial("tcp", ts.Addr, &tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatalf("the certificate in the data dir does not verify the server: %v", err)
	}
	st := conn.ConnectionState()
	conn.Close()
	if got := transport.Fingerprint(st.PeerCertificates[0]); got != logged {
		t.Errorf("server presents %s, log says %s", got, logged)
	}
	if st.Version != tls.VersionTLS13 || st.NegotiatedProtocol != "h2" {
		t.Errorf("got %s with ALPN %q, want TLS 1.3 and h2", tls.VersionName(st.Version), st.NegotiatedProtocol)
	}

	// HTTPS with HSTS, over HTTP/2; the issuer is https://ADDR.
	r := tlsCall(t, httpsClient(t, pool), "GET", ts.URL+"/healthz", nil)
	if r.Status != 200 || r.Header.Get("Strict-Transport-Security") != wantHSTS || r.Header.Get("X-Test-Proto") != "HTTP/2" {
		t.Errorf("got %d, HSTS %q, %s; want 200, %q, HTTP/2", r.Status, r.Header.Get("Strict-Transport-Security"), r.Header.Get("X-Test-Proto"), wantHSTS)
	}
	waitLogEntry(t, ts, "listening with issuer https://"+ts.Addr, func(m map[string]any) bool {
		return m["msg"] == "listening" && m["issuer"] == "https://"+ts.Addr && m["scheme"] == "https"
	})

	// Made once: a restart on the same data dir serves the same certificate.
	ts.Stop(t)
	again := startHTTPS(t, ts.DataDir, "--dev-tls")
	e2 := waitLogEntry(t, again, "with the fingerprint", func(m map[string]any) bool { return m["fingerprint_sha256"] != nil })
	if e2["fingerprint_sha256"] != logged || strings.Contains(e2["msg"].(string), "CREATED") {
		t.Errorf("restart: got %v (%v), want the same certificate %s, not a new one", e2["fingerprint_sha256"], e2["msg"], logged)
	}
}

func TestTLSFromFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := e2eCert(t, dir, "first")
	ts := startHTTPS(t, "", "--tls-cert", filepath.Join(dir, "cert.pem"), "--tls-key", filepath.Join(dir, "key.pem"))
	pool := x509.NewCertPool()
	pool.AddCert(first)

	t.Run("handshake refuses TLS 1.0, 1.1 and CBC suites", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			version uint16
			suite   uint16
			want    string
		}{
			{"TLS 1.0", tls.VersionTLS10, 0, "protocol version not supported"},
			{"TLS 1.1", tls.VersionTLS11, 0, "protocol version not supported"},
			{"TLS 1.2 AES-CBC-SHA", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "handshake failure"},
			{"TLS 1.2 AES-CBC-SHA256", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "handshake failure"},
			{"TLS 1.2 AES-256-CBC-SHA", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "handshake failure"},
		} {
			cfg := &tls.Config{RootCAs: pool, MinVersion: tc.version, MaxVersion: tc.version}
			if tc.suite != 0 {
				cfg.CipherSuites = []uint16{tc.suite}
			}
			c, err := tls.Dial("tcp", ts.Addr, cfg)
			if err == nil {
				st := c.ConnectionState()
				c.Close()
				t.Errorf("%s: handshake succeeded (%s %s), want it refused", tc.name, tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
				continue
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: got %v, want the server's %q alert", tc.name, err, tc.want)
			}
		}
	})
	t.Run("TLS 1.2 AEAD and TLS 1.3 with h2", func(t *testing.T) {
		c, err := tls.Dial("tcp", ts.Addr, &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12, NextProtos: []string{"h2"},
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})
		if err != nil {
			t.Fatalf("TLS 1.2 with ECDHE-ECDSA-AES128-GCM: %v", err)
		}
		if st := c.ConnectionState(); st.NegotiatedProtocol != "h2" {
			t.Errorf("TLS 1.2: got ALPN %q, want h2", st.NegotiatedProtocol)
		}
		c.Close()
		r := tlsCall(t, httpsClient(t, pool), "GET", ts.URL+"/healthz", nil)
		if r.Status != 200 || r.Header.Get("X-Test-Proto") != "HTTP/2" || r.Header.Get("Strict-Transport-Security") != wantHSTS {
			t.Errorf("got %d %s HSTS %q", r.Status, r.Header.Get("X-Test-Proto"), r.Header.Get("Strict-Transport-Security"))
		}
	})

	t.Run("new files are served without dropping connections", func(t *testing.T) {
		// An HTTP/1.1 keep-alive connection made before the change.
		old, err := tls.Dial("tcp", ts.Addr, &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer old.Close()
		br := bufio.NewReader(old)
		oldGet := func() {
			t.Helper()
			old.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(old, "GET /healthz HTTP/1.1\r\nHost: "+ts.Addr+"\r\n\r\n"); err != nil {
				t.Fatalf("old connection: %v", err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("old connection: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("old connection: got %d", resp.StatusCode)
			}
		}
		oldGet()

		second := e2eCert(t, dir, "second")
		pool.AddCert(second)
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, err := tls.Dial("tcp", ts.Addr, &tls.Config{RootCAs: pool})
			if err != nil {
				t.Fatal(err)
			}
			cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName
			c.Close()
			if cn == "second" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("new connections still get %q\nlog:\n%s", cn, ts.Log)
			}
			time.Sleep(50 * time.Millisecond)
		}
		oldGet()
		if cn := old.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "first" {
			t.Errorf("old connection: got %q, want first", cn)
		}
		waitLogEntry(t, ts, "about the reload", func(m map[string]any) bool {
			return m["msg"] == "reloaded the TLS certificate" && m["trigger"] == "file change" && m["fingerprint_sha256"] == transport.Fingerprint(second)
		})
	})

	t.Run("SIGHUP reloads", func(t *testing.T) {
		// The server registered for SIGHUP before it answered /healthz, so the
		// signal cannot take the test process down.
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitLogEntry(t, ts, "about a SIGHUP reload", func(m map[string]any) bool { return m["trigger"] == "SIGHUP" })
	})

	t.Run("broken files keep the current certificate", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		waitLogEntry(t, ts, "about the broken files", func(m map[string]any) bool {
			return m["level"] == "ERROR" && strings.Contains(m["msg"].(string), "still serving the previous certificate")
		})
		c, err := tls.Dial("tcp", ts.Addr, &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "second" {
			t.Errorf("got %q, want second still", cn)
		}
	})
}

func TestHTTPRedirectListener(t *testing.T) {
	t.Parallel()
	redirectAddr := freeAddr(t)
	ts := startHTTPS(t, "", "--dev-tls", "--http-redirect-addr", redirectAddr)
	_, httpsPort, _ := net.SplitHostPort(ts.Addr)
	plain := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	for _, tc := range []struct {
		method, path, host string
		wantStatus         int
		wantLocation       string
	}{
		{"GET", "/v1/users/me?x=1&y=two", "", 308, "https://127.0.0.1:" + httpsPort + "/v1/users/me?x=1&y=two"},
		{"HEAD", "/healthz", "", 308, "https://127.0.0.1:" + httpsPort + "/healthz"},
		{"GET", "/", "localhost:80", 308, "https://localhost:" + httpsPort + "/"},
		{"POST", "/v1/auth/token", "", 403, ""},
		{"PUT", "/v1/notes/1", "", 403, ""},
		{"DELETE", "/v1/sessions/1", "", 403, ""},
		{"GET", "/", "evil.example@x", 400, ""},
	} {
		t.Run(tc.method+" "+tc.path+" "+tc.host, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://"+redirectAddr+tc.path, strings.NewReader(""))
			if tc.method == "POST" {
				req.Body = io.NopCloser(strings.NewReader("grant_type=password&username=a&password=secret"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			resp, err := plain.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r := &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
			if got := r.Header.Get("Strict-Transport-Security"); got != "" {
				t.Errorf("HSTS over plain HTTP: %q (RFC 6797 §7.2 forbids it)", got)
			}
			if r.Header.Get("X-Request-ID") == "" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("missing X-Request-ID or security headers: %v", r.Header)
			}
			if tc.wantStatus != 308 {
				p := problemOf(t, r, tc.wantStatus)
				if r.Header.Get("Location") != "" {
					t.Errorf("refusal carries Location %q; a client must not follow it silently", r.Header.Get("Location"))
				}
				if tc.wantStatus == 403 && !strings.Contains(p["detail"].(string), "https://127.0.0.1:"+httpsPort) {
					t.Errorf("got detail %q, want it to name the HTTPS address", p["detail"])
				}
				return
			}
			if r.Status != 308 || r.Header.Get("Location") != tc.wantLocation {
				t.Errorf("got %d Location %q, want 308 %q", r.Status, r.Header.Get("Location"), tc.wantLocation)
			}
		})
	}
}

func TestHSTSOnlyOverHTTPS(t *testing.T) {
	t.Parallel()
	plain := startServer(t, "")
	r := plain.do(t, "GET", "/healthz", nil, nil)
	if got := r.Header.Get("Strict-Transport-Security"); r.Status != 200 || got != "" {
		t.Errorf("plain HTTP: got %d with HSTS %q, want 200 without HSTS", r.Status, got)
	}
	// Even when the client claims HTTPS.
	r = plain.do(t, "GET", "/nope", nil, map[string]string{"X-Forwarded-Proto": "https"})
	if got := r.Header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("plain HTTP with X-Forwarded-Proto: got HSTS %q, want none", got)
	}

	ts := startHTTPS(t, "", "--dev-tls", "--hsts-preload", "--cors-origins", "https://app.example.com")
	c := httpsClient(t, devPool(t, ts))
	for _, path := range []string{"/healthz", "/no-such-route"} {
		r := tlsCall(t, c, "GET", ts.URL+path, nil)
		if got := r.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=31536000; includeSubDomains") {
			t.Errorf("GET %s over HTTPS: got HSTS %q, want at least a year with includeSubDomains", path, got)
		}
	}
	// A preflight is answered before the API; it carries HSTS too, with
	// the policy of the flags.
	if got := tlsCall(t, c, "GET", ts.URL+"/healthz", nil).Header.Get("Strict-Transport-Security"); got != "max-age=31536000; includeSubDomains; preload" {
		t.Errorf("API: got HSTS %q, want the --hsts-preload policy", got)
	}
	r = tlsCall(t, c, "OPTIONS", ts.URL+"/v1/notes", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"})
	if got := r.Header.Get("Strict-Transport-Security"); got != "max-age=31536000; includeSubDomains; preload" {
		t.Errorf("preflight: got HSTS %q, want the --hsts-preload policy", got)
	}
}

// devPool trusts the development certificate of ts.
func devPool(t *testing.T, ts *testServer) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ts.DataDir, transport.DevCertDir, transport.DevCertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b)
	return pool
}

func TestCORSThroughServer(t *testing.T) {
	t.Parallel()
	ts := startHTTPS(t, "", "--dev-tls", "--cors-origins", "https://app.example.com, http://localhost:3000")
	c := httpsClient(t, devPool(t, ts))

	t.Run("allowed origin", func(t *testing.T) {
		r := tlsCall(t, c, "GET", ts.URL+"/healthz", map[string]string{"Origin": "https://app.example.com"})
		if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
			r.Header.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "X-Request-Id") {
			t.Errorf("got %d %v", r.Status, r.Header)
		}
		if r.Header.Get("Vary") == "" || !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
			t.Errorf("got Vary %q, want Origin", r.Header.Values("Vary"))
		}
		// The API's own headers are still there.
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("X-Request-ID") == "" {
			t.Errorf("security headers lost: %v", r.Header)
		}
	})
	t.Run("other origin gets no CORS headers", func(t *testing.T) {
		for _, o := range []string{"https://evil.example", "null", "https://app.example.com.evil.example"} {
			r := tlsCall(t, c, "GET", ts.URL+"/healthz", map[string]string{"Origin": o})
			if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("%s: got %d ACAO %q ACAC %q", o, r.Status, r.Header.Get("Access-Control-Allow-Origin"), r.Header.Get("Access-Control-Allow-Credentials"))
			}
		}
	})
	t.Run("preflight allowed", func(t *testing.T) {
		r := tlsCall(t, c, "OPTIONS", ts.URL+"/v1/notes/1", map[string]string{
			"Origin": "http://localhost:3000", "Access-Control-Request-Method": "PATCH",
			"Access-Control-Request-Headers": "authorization, content-type",
		})
		if r.Status != 204 {
			t.Fatalf("got %d: %s", r.Status, r.Body)
		}
		for k, want := range map[string]string{
			"Access-Control-Allow-Origin":      "http://localhost:3000",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods":     "PUT, PATCH, DELETE",
			"Access-Control-Allow-Headers":     "Authorization, Content-Type, X-Request-Id",
			"Access-Control-Max-Age":           "7200",
			"Strict-Transport-Security":        wantHSTS,
			"X-Content-Type-Options":           "nosniff",
		} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("got %s %q, want %q", k, got, want)
			}
		}
		if r.Header.Get("X-Request-ID") == "" {
			t.Error("preflight answer has no X-Request-ID")
		}
	})
	t.Run("preflight denied", func(t *testing.T) {
		for _, h := range []map[string]string{
			{"Origin": "https://evil.example", "Access-Control-Request-Method": "DELETE"},
			{"Origin": "https://app.example.com", "Access-Control-Request-Method": "PROPFIND"},
			{"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-evil"},
		} {
			r := tlsCall(t, c, "OPTIONS", ts.URL+"/v1/notes/1", h)
			problemOf(t, r, 403)
			if r.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("denied preflight carries ACAO %q", r.Header.Get("Access-Control-Allow-Origin"))
			}
		}
	})
	t.Run("without --cors-origins nothing is allowed", func(t *testing.T) {
		plain := startServer(t, "")
		r := plain.do(t, "OPTIONS", "/v1/notes", nil, map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"})
		problemOf(t, r, 403)
		r = plain.do(t, "GET", "/healthz", nil, map[string]string{"Origin": "https://app.example.com"})
		if r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("got ACAO %q, want none", r.Header.Get("Access-Control-Allow-Origin"))
		}
	})
}

// The transport flags are checked at start, and the message names the flag.
func TestTLSFlagValidation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e2eCert(t, dir, "x")
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", cert}, "--tls-cert and --tls-key"},
		{[]string{"--tls-key", key}, "--tls-cert and --tls-key"},
		{[]string{"--tls-cert", cert, "--tls-key", key, "--dev-tls"}, "one source of certificates"},
		{[]string{"--dev-tls", "--acme-domain", "api.example.com", "--http-redirect-addr", ":0"}, "one source of certificates"},
		{[]string{"--acme-domain", "api.example.com"}, "--http-redirect-addr"},
		{[]string{"--acme-domain", "localhost", "--http-redirect-addr", "127.0.0.1:0"}, "--acme-domain"},
		{[]string{"--acme-domain", "*.example.com", "--http-redirect-addr", "127.0.0.1:0"}, "wildcard"},
		{[]string{"--acme-domain", "a.example.com,a.example.com", "--http-redirect-addr", "127.0.0.1:0"}, "twice"},
		{[]string{"--acme-email", "ops@example.com"}, "need --acme-domain"},
		{[]string{"--acme-directory", "https://acme.example/dir"}, "need --acme-domain"},
		{[]string{"--acme-domain", "api.example.com", "--http-redirect-addr", "127.0.0.1:0", "--acme-directory", "http://acme.example/dir"}, "--acme-directory"},
		{[]string{"--acme-domain", "api.example.com", "--http-redirect-addr", "127.0.0.1:0", "--acme-email", "not an address"}, "--acme-email"},
		{[]string{"--http-redirect-addr", "127.0.0.1:0"}, "--http-redirect-addr redirects to HTTPS"},
		{[]string{"--dev-tls", "--http-redirect-addr", "nonsense"}, "--http-redirect-addr"},
		{[]string{"--hsts-preload", "--hsts-include-subdomains=false"}, "--hsts-preload"},
		{[]string{"--cors-origins", "https://app.example.com/"}, "--cors-origins"},
		{[]string{"--cors-origins", "app.example.com"}, "--cors-origins"},
		{[]string{"--cors-origins", "http://app.example.com"}, "--cors-origins"},
		{[]string{"--cors-origins", "null"}, "--cors-origins"},
		{[]string{"--cors-origins", "https://*.example.com"}, "--cors-origins"},
		{[]string{"--tls-cert", filepath.Join(dir, "missing.pem"), "--tls-key", key}, "--tls-cert"},
		{[]string{"--tls-cert", key, "--tls-key", key}, "--tls-cert"},
	} {
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, tc.args...)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := run(ctx, args, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error naming %q", tc.args, err, tc.want)
		}
	}
	// --dev-tls is for loopback only.
	err := run(context.Background(), []string{"serve", "--addr", ":0", "--dev-tls", "--data-dir", t.TempDir()}, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--dev-tls") {
		t.Errorf("--dev-tls on every interface: got %v, want a refusal naming --dev-tls", err)
	}
	// Environment variables work as for every flag.
	err = run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()},
		func(k string) string {
			return map[string]string{"GATEHOUSE_TLS_CERT": cert}[k]
		}, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--tls-key") {
		t.Errorf("GATEHOUSE_TLS_CERT alone: got %v, want the pairing error", err)
	}
}

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/sqlite"
	"github.com/gatehouse/gatehouse/internal/transport"
)

// The ACME test runs Let's Encrypt's test CA, Pebble, and its DNS server,
// pebble-challtestsrv, on loopback (scripts/install-pebble installs both),
// and two gatehouse processes on one data directory:
//
//   - A obtains api.example.test over HTTP-01 through its
//     --http-redirect-addr listener (Pebble's TLS-ALPN-01 port is B's,
//     which is not running yet, so autocert's first choice fails and it
//     falls back to HTTP-01), then serves HTTPS with it;
//   - B, started afterwards on Pebble's TLS-ALPN-01 port, obtains
//     b.example.test over TLS-ALPN-01 and serves api.example.test with the
//     certificate A put in the shared, sealed cache, without a new order.
//
// gatehouse runs as a child process (this test binary, re-executed) so that
// SSL_CERT_FILE can make it trust the test CA of Pebble's own HTTPS
// listener, as an operator of a private ACME CA would.

// acmeHelperEnv makes the test binary run `gatehouse` with the JSON
// arguments it holds instead of tests.
const acmeHelperEnv = "GATEHOUSE_TEST_ACME_HELPER_ARGS"

// TestACMEHelperProcess is not a test: it is the gatehouse child process.
func TestACMEHelperProcess(t *testing.T) {
	raw := os.Getenv(acmeHelperEnv)
	if raw == "" {
		return
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(exitCode(err))
	}
	os.Exit(0)
}

// findPebbleTool looks for a binary on PATH, then in $(go env GOPATH)/bin.
func findPebbleTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	var gopaths []string
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		gopaths = filepath.SplitList(strings.TrimSpace(string(out)))
	}
	if home, err := os.UserHomeDir(); err == nil {
		gopaths = append(gopaths, filepath.Join(home, "go"))
	}
	for _, gp := range gopaths {
		p := filepath.Join(gp, "bin", name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// childProcess is a child process whose output is collected.
type childProcess struct {
	cmd *exec.Cmd
	out *syncBuffer
}

// startChild runs bin with args and env, stopping it (SIGTERM, then kill) when
// the test ends.
func startChild(t *testing.T, env []string, bin string, args ...string) *childProcess {
	t.Helper()
	p := &childProcess{cmd: exec.Command(bin, args...), out: &syncBuffer{}}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(bin), p.out)
		}
	})
	return p
}

// childEnv is the environment of child processes: this one's, less any
// GATEHOUSE_ and SSL_CERT_ settings.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GATEHOUSE_") || strings.HasPrefix(kv, "SSL_CERT_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// acmeWaitFor retries f until it succeeds or the deadline passes.
func acmeWaitFor(t *testing.T, what string, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loopbackCA makes a CA and a certificate it signed for 127.0.0.1 and
// localhost, for Pebble's HTTPS listeners, and writes ca.pem, cert.pem and
// key.pem into dir.
func loopbackCA(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gatehouse test CA for Pebble"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "pebble"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	for name, b := range map[string]*pem.Block{
		"ca.pem":   {Type: "CERTIFICATE", Bytes: caDER},
		"cert.pem": {Type: "CERTIFICATE", Bytes: der},
		"key.pem":  {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}

func portOf(t *testing.T, addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

func TestACMEWithPebble(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Pebble and two servers; skipped with -short")
	}
	pebble, challtest := findPebbleTool("pebble"), findPebbleTool("pebble-challtestsrv")
	if pebble == "" || challtest == "" {
		msg := "Pebble (Let's Encrypt's test ACME server) is not installed: run scripts/install-pebble to build pebble and pebble-challtestsrv into $(go env GOPATH)/bin"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI must run it before the tests)")
		}
		t.Skip(msg)
	}
	t.Parallel()
	dir := t.TempDir()
	caPool := loopbackCA(t, dir)

	// DNS: every name resolves to 127.0.0.1, and to no IPv6 address.
	dnsAddr, challMgmt := freeAddr(t), freeAddr(t)
	startChild(t, childEnv(), challtest,
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dnsserver", dnsAddr, "-management", challMgmt,
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "")
	acmeWaitFor(t, "pebble-challtestsrv DNS", 20*time.Second, func() error {
		c, err := net.Dial("tcp", dnsAddr)
		if err == nil {
			c.Close()
		}
		return err
	})

	// Pebble: HTTP-01 checks go to A's redirect listener, TLS-ALPN-01
	// checks to B's HTTPS listener.
	pebbleAddr, pebbleMgmt := freeAddr(t), freeAddr(t)
	httpsA, redirectA := freeAddr(t), freeAddr(t)
	httpsB, redirectB := freeAddr(t), freeAddr(t)
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  pebbleAddr,
		"managementListenAddress":        pebbleMgmt,
		"certificate":                    filepath.Join(dir, "cert.pem"),
		"privateKey":                     filepath.Join(dir, "key.pem"),
		"httpPort":                       portOf(t, redirectA),
		"tlsPort":                        portOf(t, httpsB),
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":                   "ecdsa",
	}}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "pebble.json")
	os.WriteFile(cfgFile, b, 0o600)
	// No random validation delays and no random nonce rejections: the
	// test is about gatehouse, not about retry paths of the ACME client.
	startChild(t, append(childEnv(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"), pebble,
		"-config", cfgFile, "-dnsserver", dnsAddr)
	pebbleClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool}}}
	defer pebbleClient.CloseIdleConnections()
	directory := "https://" + pebbleAddr + "/dir"
	acmeWaitFor(t, "Pebble's directory", 30*time.Second, func() error {
		resp, err := pebbleClient.Get(directory)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	// The root that Pebble issues under, for checking served chains.
	resp, err := pebbleClient.Get("https://" + pebbleMgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	acmeRoots := x509.NewCertPool()
	if !acmeRoots.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("Pebble root is not PEM: %q", rootPEM)
	}

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	startGatehouse := func(args ...string) *testServer {
		t.Helper()
		full := append([]string{"serve", "--data-dir", dataDir, "--log-level", "debug", "--hash-concurrency", "1",
			"--acme-directory", directory, "--acme-email", "ops@example.test"}, args...)
		j, _ := json.Marshal(full)
		env := append(childEnv(), acmeHelperEnv+"="+string(j), "SSL_CERT_FILE="+filepath.Join(dir, "ca.pem"))
		p := startChild(t, env, self, "-test.run=^TestACMEHelperProcess$", "-test.count=1")
		return &testServer{Log: p.out}
	}

	// client connects to addr whatever the URL says, and checks the
	// certificate for the URL's name against Pebble's root.
	client := func(addr string) *http.Client {
		c := &http.Client{Timeout: 3 * time.Minute, Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: acmeRoots},
			ForceAttemptHTTP2: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		}}
		t.Cleanup(c.CloseIdleConnections)
		return c
	}
	get := func(c *http.Client, url string) (*http.Response, *x509.Certificate) {
		t.Helper()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.TLS == nil {
			t.Fatalf("GET %s: got %d", url, resp.StatusCode)
		}
		return resp, resp.TLS.PeerCertificates[0]
	}

	// A: the first certificate, over HTTP-01.
	a := startGatehouse("--addr", httpsA, "--http-redirect-addr", redirectA, "--acme-domain", "api.example.test")
	waitLogEntry(t, a, "that A's certificate is ready", func(m map[string]any) bool {
		if m["msg"] == "could not obtain a certificate over ACME; the next connection for this name tries again" {
			t.Fatalf("A could not obtain its certificate: %v", m["error"])
		}
		return m["msg"] == "ACME certificate ready" && m["domain"] == "api.example.test"
	})
	ra, certA := get(client(httpsA), "https://api.example.test:"+strconv.Itoa(portOf(t, httpsA))+"/healthz")
	if ra.ProtoMajor != 2 || ra.Header.Get("Strict-Transport-Security") != wantHSTS {
		t.Errorf("A: got %s with HSTS %q, want HTTP/2 and %q", ra.Proto, ra.Header.Get("Strict-Transport-Security"), wantHSTS)
	}
	if len(certA.DNSNames) != 1 || certA.DNSNames[0] != "api.example.test" {
		t.Errorf("A: certificate for %v, want api.example.test", certA.DNSNames)
	}
	// The CA reached the challenge through the redirect listener.
	waitLogEntry(t, a, "of the HTTP-01 challenge answered on the redirect listener", func(m map[string]any) bool {
		p, _ := m["path"].(string)
		return m["msg"] == "request" && strings.HasPrefix(p, "/.well-known/acme-challenge/") && m["status"] == float64(200)
	})
	waitLogEntry(t, a, "with issuer https://api.example.test:PORT", func(m map[string]any) bool {
		return m["msg"] == "listening" && m["issuer"] == "https://api.example.test:"+strconv.Itoa(portOf(t, httpsA))
	})

	// The cache in the store holds the account and the certificate,
	// sealed: no private key in clear, and it opens with the KEK.
	store, err := sqlite.Open(filepath.Join(dataDir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	kek, _, err := keys.LoadKEK("", "", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"acme_account+key", "api.example.test"} {
		raw, err := store.ACMECache().Get(context.Background(), name)
		if err != nil {
			t.Fatalf("cache entry %s: %v", name, err)
		}
		if strings.Contains(string(raw), "PRIVATE KEY") || strings.Contains(string(raw), "BEGIN") {
			t.Errorf("cache entry %s is stored in clear", name)
		}
		plain, err := transport.SealedCache(store.ACMECache(), kek).Get(context.Background(), name)
		if err != nil || !strings.Contains(string(plain), "PRIVATE KEY") {
			t.Errorf("cache entry %s does not open with the KEK to a private key: %v", name, err)
		}
	}

	// B: a second instance on the same store, on Pebble's TLS-ALPN-01 port.
	bsrv := startGatehouse("--addr", httpsB, "--http-redirect-addr", redirectB, "--acme-domain", "api.example.test,b.example.test")
	waitLogEntry(t, bsrv, "that B's certificates are ready", func(m map[string]any) bool {
		if m["msg"] == "could not obtain a certificate over ACME; the next connection for this name tries again" {
			t.Fatalf("B could not obtain a certificate: %v %v", m["domain"], m["error"])
		}
		return m["msg"] == "ACME certificate ready" && m["domain"] == "b.example.test"
	})
	cb := client(httpsB)
	_, shared := get(cb, "https://api.example.test:"+strconv.Itoa(portOf(t, httpsB))+"/healthz")
	if shared.SerialNumber.Cmp(certA.SerialNumber) != 0 {
		t.Errorf("B serves api.example.test with serial %v, A with %v: want the shared certificate, not a new order", shared.SerialNumber, certA.SerialNumber)
	}
	_, certB := get(cb, "https://b.example.test:"+strconv.Itoa(portOf(t, httpsB))+"/healthz")
	if len(certB.DNSNames) != 1 || certB.DNSNames[0] != "b.example.test" {
		t.Errorf("B: certificate for %v, want b.example.test", certB.DNSNames)
	}
	// The CA checked b.example.test over TLS-ALPN-01 (no HTTP-01 request
	// reached B's redirect listener).
	for _, m := range jsonLogEntries(bsrv) {
		if p, _ := m["path"].(string); strings.HasPrefix(p, "/.well-known/acme-challenge/") {
			t.Errorf("B answered an HTTP-01 challenge; want TLS-ALPN-01: %v", m)
		}
	}

	// A name outside --acme-domain gets no certificate (and causes no order).
	c := &tls.Config{RootCAs: acmeRoots, ServerName: "evil.example.test"}
	if conn, err := tls.Dial("tcp", httpsB, c); err == nil {
		conn.Close()
		t.Error("handshake for a name outside --acme-domain succeeded")
	}
}

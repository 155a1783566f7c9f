package transport_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/transport"
)

func TestNewReloaderRefusesUnusablePairs(t *testing.T) {
	good := newCert(t, certOpts{})
	other := newCert(t, certOpts{})
	for _, tc := range []struct {
		name      string
		cert, key []byte
		want      string
	}{
		{"mismatched key", good.certPEM, other.keyPEM, "private key does not match"},
		{"expired", newCert(t, certOpts{notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)}).certPEM, nil, "expired"},
		{"not yet valid", newCert(t, certOpts{notBefore: time.Now().Add(time.Hour)}).certPEM, nil, "not valid before"},
		{"CA as leaf", newCert(t, certOpts{isCA: true}).certPEM, nil, "CA certificate"},
		{"garbage", []byte("not a certificate"), good.keyPEM, "failed to find any PEM data"},
		{"key in cert file", good.keyPEM, good.keyPEM, "load certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			key := tc.key
			if key == nil {
				// The expired/CA certs come with their own keys; pair them.
				key = pairKey(t, tc.cert)
			}
			cf, kf := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
			os.WriteFile(cf, tc.cert, 0o600)
			os.WriteFile(kf, key, 0o600)
			_, err := transport.NewReloader(cf, kf)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error shows key material: %v", err)
			}
		})
	}
	t.Run("missing files", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := transport.NewReloader(filepath.Join(dir, "no.pem"), filepath.Join(dir, "no.key")); err == nil {
			t.Error("got nil error for missing files")
		}
	})
}

// pairKey finds the key that newCert made together with certPEM.
var (
	pairMu   sync.Mutex
	pairKeys = map[string][]byte{}
)

func pairKey(t *testing.T, certPEM []byte) []byte {
	pairMu.Lock()
	defer pairMu.Unlock()
	k, ok := pairKeys[string(certPEM)]
	if !ok {
		t.Fatal("no key recorded for this certificate")
	}
	return k
}

func TestReloaderReload(t *testing.T) {
	dir := t.TempDir()
	first, second := newCert(t, certOpts{cn: "first"}), newCert(t, certOpts{cn: "second"})
	cf, kf := first.write(t, dir)
	r, err := transport.NewReloader(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	served := func() string {
		c, _ := r.GetCertificate(&tls.ClientHelloInfo{})
		return c.Leaf.Subject.CommonName
	}
	if got := served(); got != "first" {
		t.Fatalf("got %q, want first", got)
	}
	if changed, err := r.Reload(); changed || err != nil {
		t.Errorf("Reload of unchanged files: got %v, %v; want false, nil", changed, err)
	}
	second.write(t, dir)
	if changed, err := r.Reload(); !changed || err != nil {
		t.Fatalf("Reload of new files: got %v, %v; want true, nil", changed, err)
	}
	if got := served(); got != "second" {
		t.Errorf("got %q, want second", got)
	}
	if r.Leaf().Subject.CommonName != "second" {
		t.Errorf("Leaf: got %q, want second", r.Leaf().Subject.CommonName)
	}

	// Half a renewal (new certificate, old key) keeps the served pair.
	third := newCert(t, certOpts{cn: "third"})
	writeAtomic(t, cf, third.certPEM)
	if changed, err := r.Reload(); changed || err == nil {
		t.Errorf("Reload of a mismatched pair: got %v, %v; want false and an error", changed, err)
	}
	if got := served(); got != "second" {
		t.Errorf("after a failed reload: got %q, want second still", got)
	}
	writeAtomic(t, kf, third.keyPEM)
	if changed, err := r.Reload(); !changed || err != nil {
		t.Errorf("Reload of the completed pair: got %v, %v; want true, nil", changed, err)
	}
	if got := served(); got != "third" {
		t.Errorf("got %q, want third", got)
	}
	os.Remove(cf)
	if _, err := r.Reload(); err == nil {
		t.Error("Reload with the certificate gone: got nil error")
	}
	if got := served(); got != "third" {
		t.Errorf("after the file vanished: got %q, want third still", got)
	}
}

func TestReloaderWatch(t *testing.T) {
	dir := t.TempDir()
	cf, kf := newCert(t, certOpts{cn: "first"}).write(t, dir)
	r, err := transport.NewReloader(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	type report struct {
		changed bool
		err     error
	}
	reports := make(chan report, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		r.Watch(ctx, time.Millisecond, func(changed bool, err error) { reports <- report{changed, err} })
		close(done)
	}()
	defer func() { cancel(); <-done }()
	next := func() report {
		t.Helper()
		select {
		case rp := <-reports:
			return rp
		case <-time.After(20 * time.Second):
			t.Fatal("no report from Watch")
			return report{}
		}
	}

	// The pair is written one file after the other, so a poll may see the
	// new certificate with the old key (reported, refused) before the
	// change.
	waitChange := func() {
		t.Helper()
		for {
			rp := next()
			if rp.changed {
				return
			}
			t.Logf("intermediate state refused: %v", rp.err)
		}
	}
	newCert(t, certOpts{cn: "second"}).write(t, dir)
	waitChange()
	if r.Leaf().Subject.CommonName != "second" {
		t.Errorf("got %q, want second", r.Leaf().Subject.CommonName)
	}

	// A broken file is reported once, however many times it is polled.
	writeAtomic(t, cf, []byte("broken"))
	if rp := next(); rp.err == nil {
		t.Fatalf("got %+v, want an error", rp)
	}
	time.Sleep(50 * time.Millisecond) // many polls of the same broken file
	if n := len(reports); n != 0 {
		t.Errorf("got %d more reports for the same broken file, want none", n)
	}
	newCert(t, certOpts{cn: "third"}).write(t, dir)
	waitChange()
	if r.Leaf().Subject.CommonName != "third" {
		t.Errorf("got %q, want third", r.Leaf().Subject.CommonName)
	}
}

// A reload does not touch established connections: an HTTP/1.1
// keep-alive connection made before it still works after it and still
// uses the old certificate, while a new connection gets the new one.
func TestReloadKeepsConnections(t *testing.T) {
	dir := t.TempDir()
	first, second := newCert(t, certOpts{cn: "first"}), newCert(t, certOpts{cn: "second"})
	cf, kf := first.write(t, dir)
	r, err := transport.NewReloader(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, r.GetCertificate)
	pool := first.pool()
	pool.AddCert(second.leaf)

	old, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	br := bufio.NewReader(old)
	get := func() {
		t.Helper()
		old.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := old.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")); err != nil {
			t.Fatalf("old connection: %v", err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("old connection: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("old connection: got %d", resp.StatusCode)
		}
	}
	get()

	second.write(t, dir)
	if changed, err := r.Reload(); !changed || err != nil {
		t.Fatalf("Reload: %v %v", changed, err)
	}
	fresh, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if cn := fresh.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "second" {
		t.Errorf("new connection: got %q, want second", cn)
	}
	fresh.Close()

	get()
	if cn := old.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "first" {
		t.Errorf("old connection: got %q, want first", cn)
	}
}

package transport_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/transport"
)

func TestDevCertificate(t *testing.T) {
	dataDir := t.TempDir()
	dc, err := transport.DevCertificate(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if !dc.Created {
		t.Error("first call: got Created false, want true")
	}
	leaf := dc.Cert.Leaf
	if got := transport.Fingerprint(leaf); got != dc.Fingerprint || len(got) != 32*3-1 {
		t.Errorf("got fingerprint %q, want %q in AA:BB:... form", dc.Fingerprint, got)
	}
	if leaf.IsCA {
		t.Error("development certificate is a CA; it must vouch for nothing but itself")
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("got ExtKeyUsage %v, want server auth only", leaf.ExtKeyUsage)
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > 366*24*time.Hour {
		t.Errorf("got lifetime %v, want at most a year", life)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: pool}); err == nil {
		t.Error("verifies for example.com; want localhost names only")
	}

	// Files: the certificate where DevCert says, the key 0600 in a 0700 folder.
	if dc.CertPath != filepath.Join(dataDir, transport.DevCertDir, transport.DevCertFile) {
		t.Errorf("got CertPath %q", dc.CertPath)
	}
	for path, want := range map[string]os.FileMode{
		filepath.Join(dataDir, transport.DevCertDir):                       0o700,
		filepath.Join(dataDir, transport.DevCertDir, transport.DevKeyFile): 0o600,
	} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: got mode %v, want %v", path, st.Mode().Perm(), want)
		}
	}

	// Made once: the next start finds the same certificate.
	again, err := transport.DevCertificate(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Created || again.Fingerprint != dc.Fingerprint {
		t.Errorf("second call: got created=%v %s, want false %s", again.Created, again.Fingerprint, dc.Fingerprint)
	}
}

func TestDevCertificateReplacesBrokenPair(t *testing.T) {
	dataDir := t.TempDir()
	dc, err := transport.DevCertificate(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	// A key that does not match (say, a half-restored backup).
	other := newCert(t, certOpts{})
	os.WriteFile(filepath.Join(dataDir, transport.DevCertDir, transport.DevKeyFile), other.keyPEM, 0o600)
	dc2, err := transport.DevCertificate(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if !dc2.Created || dc2.Fingerprint == dc.Fingerprint {
		t.Errorf("got created=%v, same fingerprint=%v; want a new certificate", dc2.Created, dc2.Fingerprint == dc.Fingerprint)
	}
	if _, err := tls.LoadX509KeyPair(dc2.CertPath, filepath.Join(dataDir, transport.DevCertDir, transport.DevKeyFile)); err != nil {
		t.Errorf("new pair on disk does not load: %v", err)
	}
}

func TestDevCertificateConcurrentStarts(t *testing.T) {
	dataDir := t.TempDir()
	const n = 6
	fps := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dc, err := transport.DevCertificate(dataDir)
			errs[i] = err
			if err == nil {
				fps[i] = dc.Fingerprint
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		if fps[i] != fps[0] {
			t.Errorf("start %d got %s, start 0 got %s: want one certificate", i, fps[i], fps[0])
		}
	}
	final, err := transport.DevCertificate(dataDir)
	if err != nil || final.Fingerprint != fps[0] {
		t.Errorf("on disk: got %v %v, want %s", final, err, fps[0])
	}
	entries, _ := os.ReadDir(dataDir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("data dir holds %v, want only %s (no temporary folders left)", names, transport.DevCertDir)
	}
}

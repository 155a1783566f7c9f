package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// DevCertDir is the folder, inside the data directory, that holds the
// development certificate (DevCertFile) and its key (DevKeyFile).
const (
	DevCertDir  = "dev-tls"
	DevCertFile = "cert.pem"
	DevKeyFile  = "key.pem"
)

// devCertLifetime is how long a development certificate is valid. Short
// enough that a forgotten one does not linger for years (CA/Browser Forum
// limits for public certificates are shorter still), long enough that a
// developer is not asked to trust a new one every week.
const devCertLifetime = 365 * 24 * time.Hour

// devCertRenewBefore replaces a development certificate this long before
// it expires.
const devCertRenewBefore = 7 * 24 * time.Hour

// DevCert describes the development certificate in use.
type DevCert struct {
	Cert        *tls.Certificate
	CertPath    string // PEM certificate, to give to curl --cacert or to trust
	Fingerprint string // SHA-256, as browsers show it
	NotAfter    time.Time
	Created     bool // a new certificate was made by this call
}

// DevCertificate returns the self-signed development certificate kept in
// dataDir/DevCertDir, making it on first use (or when it is about to
// expire). It is an ECDSA P-256 certificate for localhost, 127.0.0.1 and
// ::1 only, valid for a year, usable for TLS server authentication only
// (not a CA: trusting it lets it vouch for nothing else).
//
// The pair is written to a temporary folder that is then renamed into
// place, so a crash never leaves half a pair and two processes starting at
// once agree on one certificate: the rename of the loser fails and it uses
// the winner's. The key file is 0600 in a 0700 folder.
func DevCertificate(dataDir string) (*DevCert, error) {
	dir := filepath.Join(dataDir, DevCertDir)
	now := time.Now()
	dc, err := loadDevCert(dir, now)
	if err == nil {
		return dc, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		// Unusable (expiring, broken, mismatched): move it aside and
		// make a new one. The old folder is kept for inspection until
		// the next replacement.
		old := dir + ".old"
		_ = os.RemoveAll(old)
		if err := os.Rename(dir, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("replace development certificate: %w", err)
		}
	}
	if err := writeDevCert(dataDir, dir, now); err != nil {
		return nil, err
	}
	dc, err = loadDevCert(dir, now)
	if err != nil {
		return nil, fmt.Errorf("development certificate: %w", err)
	}
	dc.Created = true
	return dc, nil
}

func loadDevCert(dir string, now time.Time) (*DevCert, error) {
	certPath := filepath.Join(dir, DevCertFile)
	certPEM, err := os.ReadFile(certPath) // #nosec G304 -- a fixed name in the operator's data directory
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, DevKeyFile)) // #nosec G304 -- a fixed name in the operator's data directory
	if err != nil {
		return nil, err
	}
	cert, err := parseKeyPair(certPEM, keyPEM, now)
	if err != nil {
		return nil, err
	}
	if now.Add(devCertRenewBefore).After(cert.Leaf.NotAfter) {
		return nil, errors.New("development certificate expires soon")
	}
	return &DevCert{Cert: cert, CertPath: certPath, Fingerprint: Fingerprint(cert.Leaf), NotAfter: cert.Leaf.NotAfter}, nil
}

func writeDevCert(dataDir, dir string, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"gatehouse development"},
			CommonName:   "localhost",
		},
		// A minute of slack for clocks that differ a little.
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(devCertLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create development certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dataDir, DevCertDir+".tmp-")
	if err != nil {
		return fmt.Errorf("write development certificate: %w", err)
	}
	defer os.RemoveAll(tmp) // gone after a successful rename; cleanup otherwise
	if err := writeFileSync(filepath.Join(tmp, DevKeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(tmp, DevCertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	// Renaming a folder onto an existing, non-empty one fails: whoever
	// renames first wins, and the others load its pair.
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, DevCertFile)); statErr == nil {
			return nil
		}
		return fmt.Errorf("write development certificate: %w", err)
	}
	return nil
}

func writeFileSync(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm) // #nosec G304 -- a fixed name in the operator's data directory
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// Package keys manages gatehouse's token signing keys: Ed25519 key pairs
// whose private halves are sealed at rest with a key-encryption key (KEK),
// published as a JWKS, and reloaded from the store so that every instance of
// a deployment signs and verifies with the same keys.
package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MinKEKBytes is the least entropy accepted in a key-encryption key.
const MinKEKBytes = 32

// DevKEKFile is the name of the generated development KEK in the data dir.
const DevKEKFile = "secret.key"

// KEK is a key-encryption key. Seal and Open protect private signing keys
// with AES-256-GCM under a key derived from it with HKDF-SHA256, with the
// key ID as additional data so a sealed key cannot be moved to another row.
type KEK struct {
	aead   cipher.AEAD
	secret []byte
	// Source says where the key came from: "file", "env" or "dev".
	Source string
	// Path is the file it was read from, or "" for the environment.
	Path string
}

// ErrWeakKEK means a key-encryption key holds fewer than MinKEKBytes bytes.
var ErrWeakKEK = errors.New("key-encryption key must decode to at least 32 bytes of base64")

// ParseKEK decodes a base64 (standard or URL alphabet, padded or not) KEK.
func ParseKEK(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(text); err == nil {
			if len(b) < MinKEKBytes {
				return nil, ErrWeakKEK
			}
			return b, nil
		}
	}
	return nil, ErrWeakKEK
}

// NewKEK derives the sealing key from secret.
func NewKEK(secret []byte, source, path string) (*KEK, error) {
	if len(secret) < MinKEKBytes {
		return nil, ErrWeakKEK
	}
	k, err := hkdf.Key(sha256.New, secret, nil, "gatehouse signing-key encryption v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &KEK{aead: aead, secret: secret, Source: source, Path: path}, nil
}

// Derive returns a 32-byte key for another purpose (such as sealing the
// audit chain), derived from the KEK with HKDF-SHA256 and the label, so
// one secret serves several uses without any two sharing a key.
func (k *KEK) Derive(label string) []byte {
	out, err := hkdf.Key(sha256.New, k.secret, nil, "gatehouse "+label, 32)
	if err != nil {
		panic(err) // cannot happen: 32 bytes is far below HKDF's limit
	}
	return out
}

// LoadKEK finds the KEK: the file at path when given, else envValue when
// not empty, else (development only) the file DevKEKFile in dataDir,
// generated with 0600 permissions when missing. created reports that a new
// development key was written.
func LoadKEK(path, envValue, dataDir string) (kek *KEK, created bool, err error) {
	switch {
	case path != "":
		b, err := os.ReadFile(path) // #nosec G304 -- --secret-key-file names the file to read: the operator's choice
		if err != nil {
			return nil, false, fmt.Errorf("read --secret-key-file: %w", err)
		}
		secret, err := ParseKEK(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("--secret-key-file %s: %w", path, err)
		}
		k, err := NewKEK(secret, "file", path)
		return k, false, err
	case envValue != "":
		secret, err := ParseKEK(envValue)
		if err != nil {
			return nil, false, fmt.Errorf("GATEHOUSE_SECRET_KEY: %w", err)
		}
		k, err := NewKEK(secret, "env", "")
		return k, false, err
	}
	p := filepath.Join(dataDir, DevKEKFile)
	b, err := os.ReadFile(p) // #nosec G304 -- a fixed name in the operator's data directory
	if errors.Is(err, fs.ErrNotExist) {
		secret := make([]byte, 32)
		rand.Read(secret)
		text := base64.StdEncoding.EncodeToString(secret) + "\n"
		// Written to a temporary file, synced, then linked into place:
		// link fails when the name exists, so of two processes starting at
		// once exactly one key wins, and nobody can read a half-written file.
		tmp, err := os.CreateTemp(dataDir, ".secret-*.tmp")
		if err != nil {
			return nil, false, fmt.Errorf("create development key-encryption key: %w", err)
		}
		defer os.Remove(tmp.Name())
		if err := tmp.Chmod(0o600); err != nil {
			_ = tmp.Close()
			return nil, false, err
		}
		if _, err := tmp.WriteString(text); err != nil {
			_ = tmp.Close()
			return nil, false, fmt.Errorf("write development key-encryption key: %w", err)
		}
		if err := tmp.Sync(); err != nil {
			_ = tmp.Close()
			return nil, false, err
		}
		if err := tmp.Close(); err != nil {
			return nil, false, err
		}
		if err := os.Link(tmp.Name(), p); errors.Is(err, fs.ErrExist) {
			return LoadKEK(path, envValue, dataDir)
		} else if err != nil {
			return nil, false, fmt.Errorf("create development key-encryption key: %w", err)
		}
		k, err := NewKEK(secret, "dev", p)
		return k, true, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("read development key-encryption key: %w", err)
	}
	if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("development key-encryption key %s is readable by other users (mode %v): chmod 600 it", p, st.Mode().Perm())
	}
	secret, err := ParseKEK(string(bytes.TrimSpace(b)))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", p, err)
	}
	k, err := NewKEK(secret, "dev", p)
	return k, false, err
}

// Seal encrypts plaintext bound to keyID.
func (k *KEK) Seal(keyID string, plaintext []byte) []byte {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	rand.Read(nonce)
	return k.aead.Seal(nonce, nonce, plaintext, []byte(keyID))
}

// ErrUnseal means a sealed key could not be opened: a wrong KEK or a
// tampered row.
var ErrUnseal = errors.New("cannot decrypt signing key: wrong key-encryption key or tampered key row")

// Open decrypts what Seal returned for keyID.
func (k *KEK) Open(keyID string, sealed []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, ErrUnseal
	}
	out, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(keyID))
	if err != nil {
		return nil, ErrUnseal
	}
	return out, nil
}

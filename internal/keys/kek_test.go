package keys_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/keys"
)

// kekBytes are 32 bytes whose base64 forms differ between the standard and
// URL alphabets (0xfb 0xff encode as "+/" or "-_").
var kekBytes = func() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i * 37)
	}
	b[0], b[1], b[2] = 0xfb, 0xff, 0xbf
	return b
}()

func TestParseKEK(t *testing.T) {
	long := bytes.Repeat([]byte{0xab}, 64)
	short := kekBytes[:31]
	tests := []struct {
		name    string
		text    string
		want    []byte
		wantErr error
	}{
		{"std padded", base64.StdEncoding.EncodeToString(kekBytes), kekBytes, nil},
		{"std raw", base64.RawStdEncoding.EncodeToString(kekBytes), kekBytes, nil},
		{"url padded", base64.URLEncoding.EncodeToString(kekBytes), kekBytes, nil},
		{"url raw", base64.RawURLEncoding.EncodeToString(kekBytes), kekBytes, nil},
		{"trailing newline", base64.StdEncoding.EncodeToString(kekBytes) + "\n", kekBytes, nil},
		{"surrounding space", "  \t" + base64.StdEncoding.EncodeToString(kekBytes) + " \r\n", kekBytes, nil},
		{"64 bytes", base64.StdEncoding.EncodeToString(long), long, nil},
		{"31 bytes std", base64.StdEncoding.EncodeToString(short), nil, keys.ErrWeakKEK},
		{"31 bytes url raw", base64.RawURLEncoding.EncodeToString(short), nil, keys.ErrWeakKEK},
		{"empty", "", nil, keys.ErrWeakKEK},
		{"spaces only", "   \n", nil, keys.ErrWeakKEK},
		{"not base64", "this is not base64 but it is long enough to be a key!", nil, keys.ErrWeakKEK},
		{"mixed alphabets", "+" + base64.RawURLEncoding.EncodeToString(kekBytes)[1:], nil, keys.ErrWeakKEK},
		{"bad padding", base64.StdEncoding.EncodeToString(kekBytes) + "==", nil, keys.ErrWeakKEK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keys.ParseKEK(tt.text)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseKEK: got error %v, want %v", err, tt.wantErr)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("ParseKEK = %x, want %x", got, tt.want)
			}
		})
	}
}

func TestNewKEK(t *testing.T) {
	tests := []struct {
		name    string
		secret  []byte
		wantErr error
	}{
		{"nil", nil, keys.ErrWeakKEK},
		{"31 bytes", kekBytes[:31], keys.ErrWeakKEK},
		{"32 bytes", kekBytes, nil},
		{"64 bytes", bytes.Repeat(kekBytes, 2), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := keys.NewKEK(tt.secret, "env", "")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("NewKEK: got error %v, want %v", err, tt.wantErr)
			}
			if (k != nil) != (tt.wantErr == nil) {
				t.Errorf("NewKEK = %v, want a KEK only without error", k)
			}
		})
	}
}

func mustKEK(t *testing.T, secret []byte) *keys.KEK {
	t.Helper()
	k, err := keys.NewKEK(secret, "env", "")
	if err != nil {
		t.Fatalf("NewKEK: %v", err)
	}
	return k
}

// sameKey reports whether a and b are the same key: what one seals, the
// other opens.
func sameKey(t *testing.T, a, b *keys.KEK) bool {
	t.Helper()
	out, err := b.Open("kid", a.Seal("kid", []byte("probe")))
	return err == nil && string(out) == "probe"
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is filtered by the umask; set it exactly.
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestLoadKEKFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	encoded := base64.StdEncoding.EncodeToString(kekBytes)
	want := mustKEK(t, kekBytes)

	good := filepath.Join(dir, "kek.b64")
	writeFile(t, good, encoded+"\n", 0o600)
	weak := filepath.Join(dir, "weak.b64")
	writeFile(t, weak, base64.StdEncoding.EncodeToString(kekBytes[:16]), 0o600)
	otherSecret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))

	tests := []struct {
		name       string
		path, env  string
		wantSource string
		wantPath   string
		wantErr    error  // matched with errors.Is when not nil
		errHas     string // text the error must contain
	}{
		{name: "file", path: good, wantSource: "file", wantPath: good},
		{name: "file wins over env", path: good, env: otherSecret, wantSource: "file", wantPath: good},
		{name: "env", env: encoded, wantSource: "env"},
		{name: "env url raw", env: base64.RawURLEncoding.EncodeToString(kekBytes), wantSource: "env"},
		{name: "weak file", path: weak, wantErr: keys.ErrWeakKEK, errHas: weak},
		{name: "missing file", path: filepath.Join(dir, "missing"), wantErr: os.ErrNotExist, errHas: "--secret-key-file"},
		{name: "weak env", env: "c2hvcnQ=", wantErr: keys.ErrWeakKEK, errHas: "GATEHOUSE_SECRET_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A data dir that must not be used: file and env come first.
			dataDir := t.TempDir()
			k, created, err := keys.LoadKEK(tt.path, tt.env, dataDir)
			if created {
				t.Errorf("created = true, want false")
			}
			if _, statErr := os.Stat(filepath.Join(dataDir, keys.DevKEKFile)); statErr == nil {
				t.Errorf("%s written to the data dir, want no development key", keys.DevKEKFile)
			}
			if tt.wantErr != nil || tt.errHas != "" {
				if err == nil {
					t.Fatalf("LoadKEK: got nil error, want %v", tt.wantErr)
				}
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("LoadKEK: got %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Errorf("LoadKEK error %q: got no %q, want it", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadKEK: %v", err)
			}
			if k.Source != tt.wantSource || k.Path != tt.wantPath {
				t.Errorf("Source, Path = %q, %q, want %q, %q", k.Source, k.Path, tt.wantSource, tt.wantPath)
			}
			if !sameKey(t, want, k) {
				t.Errorf("loaded KEK: got a different key, want the one encoded")
			}
		})
	}
}

// An error never shows the key itself.
func TestLoadKEKErrorHidesKey(t *testing.T) {
	secret := "c2hvcnQtYnV0LXNlY3JldA" // "short-but-secret"
	_, _, err := keys.LoadKEK("", secret, t.TempDir())
	if err == nil {
		t.Fatal("LoadKEK(weak env): got nil error, want one")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q: got the key, want it hidden", err)
	}
}

func TestLoadKEKDev(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, keys.DevKEKFile)

	first, created, err := keys.LoadKEK("", "", dir)
	if err != nil {
		t.Fatalf("first LoadKEK: %v", err)
	}
	if !created {
		t.Errorf("first LoadKEK created = false, want true")
	}
	if first.Source != "dev" || first.Path != path {
		t.Errorf("Source, Path = %q, %q, want %q, %q", first.Source, first.Path, "dev", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat development key: %v", err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Errorf("development key mode = %v, want %v", got, os.FileMode(0o600))
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := keys.ParseKEK(string(text))
	if err != nil || len(secret) != 32 {
		t.Errorf("development key file = %d bytes of key, %v, want 32 bytes of base64", len(secret), err)
	}
	if !sameKey(t, mustKEK(t, secret), first) {
		t.Errorf("file content: got another key than the one returned, want the same")
	}

	second, created, err := keys.LoadKEK("", "", dir)
	if err != nil {
		t.Fatalf("second LoadKEK: %v", err)
	}
	if created {
		t.Errorf("second LoadKEK created = true, want false")
	}
	if !sameKey(t, first, second) {
		t.Errorf("second LoadKEK: got a new key, want the one written first")
	}
	again, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(again, text) {
		t.Errorf("development key file after second LoadKEK = %q, %v, want unchanged", again, err)
	}

	// The same key through the environment opens what the dev key sealed.
	viaEnv, _, err := keys.LoadKEK("", strings.TrimSpace(string(text)), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !sameKey(t, first, viaEnv) {
		t.Errorf("dev key given as GATEHOUSE_SECRET_KEY: got a different key, want the same")
	}

	// Other dev dirs get other keys.
	other, _, err := keys.LoadKEK("", "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if sameKey(t, first, other) {
		t.Errorf("dev keys of two data dirs: got the same key, want different")
	}
}

func TestLoadKEKDevRefused(t *testing.T) {
	encoded := base64.StdEncoding.EncodeToString(kekBytes) + "\n"
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		wantErr error
		errHas  string
	}{
		{"world readable", encoded, 0o644, nil, "chmod 600"},
		{"group readable", encoded, 0o640, nil, "chmod 600"},
		{"group writable", encoded, 0o620, nil, "chmod 600"},
		{"weak", base64.StdEncoding.EncodeToString(kekBytes[:8]), 0o600, keys.ErrWeakKEK, keys.DevKEKFile},
		{"garbage", "not a key", 0o600, keys.ErrWeakKEK, keys.DevKEKFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, keys.DevKEKFile)
			writeFile(t, path, tt.content, tt.mode)
			k, created, err := keys.LoadKEK("", "", dir)
			if err == nil {
				t.Fatalf("LoadKEK = %v: got nil error, want one", k)
			}
			if created {
				t.Errorf("created = true, want false")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("LoadKEK: got %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("LoadKEK error %q: got no %q, want it", err, tt.errHas)
			}
			// The refused file is left as it was.
			got, _ := os.ReadFile(path)
			if string(got) != tt.content {
				t.Errorf("file after LoadKEK = %q, want unchanged %q", got, tt.content)
			}
		})
	}
}

func TestLoadKEKDevAccepted(t *testing.T) {
	tests := []struct {
		name string
		mode os.FileMode
	}{
		{"owner read-write", 0o600},
		{"owner read-only", 0o400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, keys.DevKEKFile), base64.StdEncoding.EncodeToString(kekBytes), tt.mode)
			k, created, err := keys.LoadKEK("", "", dir)
			if err != nil {
				t.Fatalf("LoadKEK: %v", err)
			}
			if created {
				t.Errorf("created = true, want false")
			}
			if !sameKey(t, mustKEK(t, kekBytes), k) {
				t.Errorf("LoadKEK: got another key, want the one in the file")
			}
		})
	}
}

func TestLoadKEKDevMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	if _, _, err := keys.LoadKEK("", "", dir); err == nil {
		t.Errorf("LoadKEK with a missing data dir: got nil error, want one")
	}
}

func TestSealOpen(t *testing.T) {
	k := mustKEK(t, kekBytes)
	tests := []struct {
		name      string
		plaintext []byte
	}{
		{"empty", []byte{}},
		{"seed", bytes.Repeat([]byte{0x42}, 32)},
		{"long", bytes.Repeat([]byte("x"), 4096)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed := k.Seal("kid-1", tt.plaintext)
			if len(tt.plaintext) >= 8 && bytes.Contains(sealed, tt.plaintext) {
				t.Errorf("sealed %x: got the plaintext in clear, want it encrypted", sealed)
			}
			got, err := k.Open("kid-1", sealed)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open = %x, want %x", got, tt.plaintext)
			}
			// A fresh nonce every time.
			if again := k.Seal("kid-1", tt.plaintext); bytes.Equal(again, sealed) {
				t.Errorf("two Seals of the same plaintext: got equal output, want different nonces")
			}
		})
	}
}

func TestOpenRefused(t *testing.T) {
	k := mustKEK(t, kekBytes)
	other := mustKEK(t, bytes.Repeat([]byte{1}, 32))
	seed := bytes.Repeat([]byte{0x42}, 32)
	sealed := k.Seal("kid-1", seed)
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name   string
		kek    *keys.KEK
		keyID  string
		sealed []byte
	}{
		{"another KEK", other, "kid-1", sealed},
		{"another key ID", k, "kid-2", sealed},
		{"empty key ID", k, "", sealed},
		{"flipped nonce byte", k, "kid-1", flip(0)},
		{"flipped ciphertext byte", k, "kid-1", flip(12 + 5)},
		{"flipped tag byte", k, "kid-1", flip(len(sealed) - 1)},
		{"truncated", k, "kid-1", sealed[:len(sealed)-1]},
		{"byte appended", k, "kid-1", append(bytes.Clone(sealed), 0)},
		{"shorter than nonce and tag", k, "kid-1", sealed[:27]},
		{"empty", k, "kid-1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.kek.Open(tt.keyID, tt.sealed)
			if !errors.Is(err, keys.ErrUnseal) {
				t.Errorf("Open: got %x, %v, want ErrUnseal", got, err)
			}
			if got != nil {
				t.Errorf("Open = %x, want nil", got)
			}
		})
	}
	// Every single-byte change is caught.
	for i := range sealed {
		if _, err := k.Open("kid-1", flip(i)); !errors.Is(err, keys.ErrUnseal) {
			t.Errorf("Open with byte %d flipped: got %v, want ErrUnseal", i, err)
		}
	}
}

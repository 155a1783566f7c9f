package password_test

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/password"
)

// fast are cheap parameters so that tests which hash many times stay quick.
// They are far below DefaultParams and must never be used outside tests.
var fast = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func mustHash(t testing.TB, pw string, p password.Params) string {
	t.Helper()
	h, err := password.Hash(pw, p)
	if err != nil {
		t.Fatalf("Hash: got error %v, want nil", err)
	}
	return h
}

// phcRE is the exact shape Hash must write: the PHC string format with
// unpadded standard base64 (no '=', no URL alphabet).
var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=([1-9][0-9]*),t=([1-9][0-9]*),p=([1-9][0-9]*)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$`)

func TestHashFormat(t *testing.T) {
	tests := []struct {
		name string
		p    password.Params
	}{
		{"default", password.DefaultParams},
		{"fast", fast},
		{"long salt and key", password.Params{Memory: 128, Time: 3, Threads: 2, SaltLen: 32, KeyLen: 64}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := mustHash(t, "a perfectly fine passphrase", tc.p)
			m := phcRE.FindStringSubmatch(h)
			if m == nil {
				t.Fatalf("got %q, want a string matching %s", h, phcRE)
			}
			for i, want := range []uint64{uint64(tc.p.Memory), uint64(tc.p.Time), uint64(tc.p.Threads)} {
				if got, _ := strconv.ParseUint(m[i+1], 10, 64); got != want {
					t.Errorf("parameter %d: got %d, want %d", i, got, want)
				}
			}
			salt, _ := base64.RawStdEncoding.DecodeString(m[4])
			key, _ := base64.RawStdEncoding.DecodeString(m[5])
			if len(salt) != int(tc.p.SaltLen) {
				t.Errorf("salt: got %d bytes, want %d", len(salt), tc.p.SaltLen)
			}
			if len(key) != int(tc.p.KeyLen) {
				t.Errorf("key: got %d bytes, want %d", len(key), tc.p.KeyLen)
			}
		})
	}
}

func TestDefaultParamsMeetOWASPMinimum(t *testing.T) {
	// OWASP Password Storage Cheat Sheet, Argon2id: at least m=19 MiB, t=2,
	// p=1. RFC 9106 §3.1 recommends a 16-byte salt.
	p := password.DefaultParams
	if p.Memory < 19456 || p.Time < 2 || p.Threads < 1 || p.SaltLen < 16 || p.KeyLen < 32 {
		t.Errorf("got %+v, want at least m=19456 t=2 p=1 salt=16 key=32", p)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("Validate: got %v, want nil", err)
	}
}

func TestHashSaltIsRandom(t *testing.T) {
	// The same password must never produce the same string twice: a shared
	// salt would let one precomputation crack every user with that
	// password (NIST SP 800-63B-4 §3.1.1.2: passwords SHALL be salted).
	seen := map[string]bool{}
	for range 20 {
		h := mustHash(t, "same password every time", fast)
		if seen[h] {
			t.Fatalf("got a repeated hash %q, want a fresh salt each time", h)
		}
		seen[h] = true
	}
}

func TestVerify(t *testing.T) {
	h := mustHash(t, "the right password, long enough", fast)
	tests := []struct {
		name string
		pw   string
		want bool
	}{
		{"right", "the right password, long enough", true},
		{"wrong", "the wrong password, long enough", false},
		{"empty", "", false},
		{"case differs", "The right password, long enough", false},
		{"trailing space", "the right password, long enough ", false},
		{"prefix", "the right password", false},
		{"extra suffix", "the right password, long enough!", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, rehash, err := password.Verify(h, tc.pw, fast)
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if ok != tc.want {
				t.Errorf("ok: got %v, want %v", ok, tc.want)
			}
			if rehash {
				t.Errorf("needsRehash: got true, want false")
			}
		})
	}
}

func TestVerifyLongPasswordNotTruncated(t *testing.T) {
	// NIST SP 800-63B-4 §3.1.1.2: verify the entire password. bcrypt, for
	// one, silently ignores bytes past 72; argon2id must not.
	long := strings.Repeat("x", 300)
	h := mustHash(t, long+"A", fast)
	ok, _, err := password.Verify(h, long+"B", fast)
	if err != nil || ok {
		t.Errorf("got ok=%v err=%v, want ok=false err=nil", ok, err)
	}
}

func TestNFKCEquivalence(t *testing.T) {
	// NIST SP 800-63B-4 §3.1.1.2: normalize with NFKC before hashing, so that
	// the same password typed through a different keyboard, input method or
	// OS still verifies.
	tests := []struct {
		name, set, login string
	}{
		{"fi ligature", "\uFB01nancial planning 2024", "financial planning 2024"},
		{"full-width digits", "pin １２３４５６７８９０", "pin 1234567890"},
		{"full-width letters", "ＰＡＳＳＰＨＲＡＳＥ here", "PASSPHRASE here"},
		{"decomposed accent", "cafe\u0301 au lait, s'il vous plait", "café au lait, s'il vous plait"},
		{"no-break space", "two\u00A0words and then some", "two words and then some"},
		{"superscript two", "squared x\u00B2 is fine", "squared x2 is fine"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, dir := range [][2]string{{tc.set, tc.login}, {tc.login, tc.set}} {
				h := mustHash(t, dir[0], fast)
				ok, _, err := password.Verify(h, dir[1], fast)
				if err != nil || !ok {
					t.Errorf("set %q, log in with %q: got ok=%v err=%v, want ok=true err=nil", dir[0], dir[1], ok, err)
				}
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	// OWASP Password Storage Cheat Sheet, "Upgrading the work factor": when
	// the configured cost rises, old hashes are replaced at the next
	// successful login. Stronger or equal stored costs are left alone.
	stored := password.Params{Memory: 64, Time: 2, Threads: 2, SaltLen: 16, KeyLen: 32}
	with := func(f func(*password.Params)) password.Params {
		p := stored
		f(&p)
		return p
	}
	tests := []struct {
		name    string
		current password.Params
		want    bool
	}{
		{"same", stored, false},
		{"more memory", with(func(p *password.Params) { p.Memory = 128 }), true},
		{"more passes", with(func(p *password.Params) { p.Time = 3 }), true},
		{"longer key", with(func(p *password.Params) { p.KeyLen = 64 }), true},
		{"longer salt", with(func(p *password.Params) { p.SaltLen = 32 }), true},
		{"less memory", with(func(p *password.Params) { p.Memory = 32 }), false},
		{"fewer passes", with(func(p *password.Params) { p.Time = 1 }), false},
		{"threads differ", with(func(p *password.Params) { p.Threads = 1 }), false},
		{"default params", password.DefaultParams, true},
	}
	h := mustHash(t, "correct horse battery staple", stored)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, rehash, err := password.Verify(h, "correct horse battery staple", tc.current)
			if err != nil || !ok {
				t.Fatalf("got ok=%v err=%v, want ok=true err=nil", ok, err)
			}
			if rehash != tc.want {
				t.Errorf("needsRehash: got %v, want %v", rehash, tc.want)
			}
		})
	}
	t.Run("wrong password never asks for rehash", func(t *testing.T) {
		ok, rehash, err := password.Verify(h, "wrong", password.DefaultParams)
		if ok || rehash || err != nil {
			t.Errorf("got ok=%v rehash=%v err=%v, want false false nil", ok, rehash, err)
		}
	})
}

// A well-formed salt and key, from which the tampered strings are built.
const (
	validSalt = "c29tZXNhbHRzb21lc2FsdA"                      // 16 bytes
	validKey  = "cGFzc3dvcmRoYXNocGFzc3dvcmRoYXNocGFzc3dvcmQ" // 32 bytes
)

func phc(alg, ver, params, salt, key string) string {
	return "$" + alg + "$" + ver + "$" + params + "$" + salt + "$" + key
}

// tampered are stored strings that Verify must refuse with an error, without
// panicking and without hashing. Each one stands for a corrupted or
// attacker-edited row.
var tampered = []struct {
	name    string
	encoded string
	wantErr error
}{
	{"empty", "", password.ErrMalformedHash},
	{"plain text", "hunter2", password.ErrMalformedHash},
	{"only dollars", "$$$$$", password.ErrMalformedHash},
	{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", password.ErrMalformedHash},
	{"argon2i", phc("argon2i", "v=19", "m=64,t=1,p=1", validSalt, validKey), password.ErrMalformedHash},
	{"argon2d", phc("argon2d", "v=19", "m=64,t=1,p=1", validSalt, validKey), password.ErrMalformedHash},
	{"upper-case algorithm", phc("ARGON2ID", "v=19", "m=64,t=1,p=1", validSalt, validKey), password.ErrMalformedHash},
	{"version 16", phc("argon2id", "v=16", "m=64,t=1,p=1", validSalt, validKey), password.ErrMalformedHash},
	{"no version", "$argon2id$m=64,t=1,p=1$" + validSalt + "$" + validKey, password.ErrMalformedHash},
	{"no leading dollar", "argon2id$v=19$m=64,t=1,p=1$" + validSalt + "$" + validKey, password.ErrMalformedHash},
	{"trailing dollar", phc("argon2id", "v=19", "m=64,t=1,p=1", validSalt, validKey) + "$", password.ErrMalformedHash},
	{"trailing newline", phc("argon2id", "v=19", "m=64,t=1,p=1", validSalt, validKey) + "\n", password.ErrMalformedHash},
	{"no key", "$argon2id$v=19$m=64,t=1,p=1$" + validSalt, password.ErrMalformedHash},
	{"empty key", phc("argon2id", "v=19", "m=64,t=1,p=1", validSalt, ""), password.ErrInvalidParams},
	{"params reordered", phc("argon2id", "v=19", "t=1,m=64,p=1", validSalt, validKey), password.ErrMalformedHash},
	{"param missing", phc("argon2id", "v=19", "m=64,t=1", validSalt, validKey), password.ErrMalformedHash},
	{"extra keyid param", phc("argon2id", "v=19", "m=64,t=1,p=1,keyid=abc", validSalt, validKey), password.ErrMalformedHash},
	{"space in params", phc("argon2id", "v=19", "m=64, t=1,p=1", validSalt, validKey), password.ErrMalformedHash},
	{"leading zero", phc("argon2id", "v=19", "m=064,t=1,p=1", validSalt, validKey), password.ErrMalformedHash},
	{"plus sign", phc("argon2id", "v=19", "m=+64,t=1,p=1", validSalt, validKey), password.ErrMalformedHash},
	{"negative", phc("argon2id", "v=19", "m=-64,t=1,p=1", validSalt, validKey), password.ErrMalformedHash},
	{"hex", phc("argon2id", "v=19", "m=0x40,t=1,p=1", validSalt, validKey), password.ErrMalformedHash},
	{"memory overflows uint32", phc("argon2id", "v=19", "m=4294967296,t=1,p=1", validSalt, validKey), password.ErrMalformedHash},
	{"huge number", phc("argon2id", "v=19", "m=99999999999999999999999,t=1,p=1", validSalt, validKey), password.ErrMalformedHash},
	{"threads overflow uint8", phc("argon2id", "v=19", "m=4096,t=1,p=256", validSalt, validKey), password.ErrMalformedHash},
	{"salt not base64", phc("argon2id", "v=19", "m=64,t=1,p=1", "!!!!!!!!!!!!!!!!!!!!!!", validKey), password.ErrMalformedHash},
	{"salt padded", phc("argon2id", "v=19", "m=64,t=1,p=1", validSalt+"==", validKey), password.ErrMalformedHash},
	{"key url alphabet", phc("argon2id", "v=19", "m=64,t=1,p=1", validSalt, validKey[:41]+"-_"), password.ErrMalformedHash},
	{"salt non-canonical bits", phc("argon2id", "v=19", "m=64,t=1,p=1", "c29tZXNhbHRzb21lc2FsdB", validKey), password.ErrMalformedHash},
	{"too long", phc("argon2id", "v=19", "m=64,t=1,p=1", strings.Repeat("A", 600), validKey), password.ErrMalformedHash},
	{"newline inside key", phc("argon2id", "v=19", "m=64,t=1,p=1", validSalt, validKey[:20]+"\r\n"+validKey[20:]), password.ErrMalformedHash},
	{"NUL inside", phc("argon2id", "v=19", "m=64,t=1,p=1\x00", validSalt, validKey), password.ErrMalformedHash},

	// Syntactically fine but absurd: these must be refused before any
	// hashing, or one tampered row makes a login allocate gigabytes or
	// spin for minutes.
	{"memory over 4 GiB", phc("argon2id", "v=19", "m=4294967295,t=1,p=1", validSalt, validKey), password.ErrInvalidParams},
	{"memory just over 4 GiB", phc("argon2id", "v=19", "m=4194305,t=1,p=1", validSalt, validKey), password.ErrInvalidParams},
	{"time over 100", phc("argon2id", "v=19", "m=64,t=101,p=1", validSalt, validKey), password.ErrInvalidParams},
	{"time max uint32", phc("argon2id", "v=19", "m=64,t=4294967295,p=1", validSalt, validKey), password.ErrInvalidParams},
	{"zero memory", phc("argon2id", "v=19", "m=0,t=1,p=1", validSalt, validKey), password.ErrInvalidParams},
	{"zero time", phc("argon2id", "v=19", "m=64,t=0,p=1", validSalt, validKey), password.ErrInvalidParams},
	{"zero threads", phc("argon2id", "v=19", "m=64,t=1,p=0", validSalt, validKey), password.ErrInvalidParams},
	{"memory below 8 per thread", phc("argon2id", "v=19", "m=15,t=1,p=2", validSalt, validKey), password.ErrInvalidParams},
	{"short salt", phc("argon2id", "v=19", "m=64,t=1,p=1", "c2FsdA", validKey), password.ErrInvalidParams},
	{"short key", phc("argon2id", "v=19", "m=64,t=1,p=1", validSalt, "c2hvcnRrZXk"), password.ErrInvalidParams},
	{"empty salt", phc("argon2id", "v=19", "m=64,t=1,p=1", "", validKey), password.ErrInvalidParams},
}

func TestVerifyRefusesTamperedStrings(t *testing.T) {
	for _, tc := range tampered {
		t.Run(tc.name, func(t *testing.T) {
			ok, rehash, err := password.Verify(tc.encoded, "pw", password.DefaultParams)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("err: got %v, want %v", err, tc.wantErr)
			}
			if ok || rehash {
				t.Errorf("got ok=%v needsRehash=%v, want false false (fail closed)", ok, rehash)
			}
		})
	}
}

func TestVerifyRefusesAlteredHash(t *testing.T) {
	// A row edited within the format (a flipped bit in the salt or the key,
	// lowered cost) must simply not match: the salt and the parameters are
	// inputs to the hash, so an attacker cannot weaken a stored hash and
	// still have it verify.
	h := mustHash(t, "the right password, long enough", fast)
	m := phcRE.FindStringSubmatch(h)
	flip := func(b64 string) string {
		b, _ := base64.RawStdEncoding.DecodeString(b64)
		b[0] ^= 1
		return base64.RawStdEncoding.EncodeToString(b)
	}
	tests := []struct{ name, encoded string }{
		{"salt bit", phc("argon2id", "v=19", "m=64,t=1,p=1", flip(m[4]), m[5])},
		{"key bit", phc("argon2id", "v=19", "m=64,t=1,p=1", m[4], flip(m[5]))},
		{"lower memory", phc("argon2id", "v=19", "m=32,t=1,p=1", m[4], m[5])},
		{"more passes", phc("argon2id", "v=19", "m=64,t=2,p=1", m[4], m[5])},
		{"more threads", phc("argon2id", "v=19", "m=64,t=1,p=2", m[4], m[5])},
		{"key truncated", phc("argon2id", "v=19", "m=64,t=1,p=1", m[4], m[5][:24])},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, _, err := password.Verify(tc.encoded, "the right password, long enough", fast)
			if err != nil || ok {
				t.Errorf("got ok=%v err=%v, want ok=false err=nil", ok, err)
			}
		})
	}
}

func TestHashRefusesInvalidParams(t *testing.T) {
	tests := []struct {
		name string
		p    password.Params
	}{
		{"zero", password.Params{}},
		{"zero memory", password.Params{Memory: 0, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"zero time", password.Params{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"zero threads", password.Params{Memory: 64, Time: 1, Threads: 0, SaltLen: 16, KeyLen: 32}},
		{"memory over 4 GiB", password.Params{Memory: 4<<20 + 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"time over 100", password.Params{Memory: 64, Time: 101, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"short salt", password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 7, KeyLen: 32}},
		{"long salt", password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 65, KeyLen: 32}},
		{"short key", password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 15}},
		{"long key", password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 129}},
		{"memory below 8 per thread", password.Params{Memory: 15, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.Validate(); !errors.Is(err, password.ErrInvalidParams) {
				t.Errorf("Validate: got %v, want %v", err, password.ErrInvalidParams)
			}
			h, err := password.Hash("whatever it is", tc.p)
			if !errors.Is(err, password.ErrInvalidParams) || h != "" {
				t.Errorf("Hash: got %q, %v, want \"\", %v", h, err, password.ErrInvalidParams)
			}
		})
	}
}

func TestErrorsDoNotLeakSecrets(t *testing.T) {
	// Errors are logged; they must not carry the password, salt or key.
	const secret = "Sup3r-Secret-Passphrase"
	for _, tc := range tampered {
		_, _, err := password.Verify(tc.encoded, secret, password.DefaultParams)
		if err == nil {
			continue
		}
		for _, s := range []string{secret, validSalt, validKey} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%s: got error %q containing %q, want no secret material", tc.name, err, s)
			}
		}
	}
}

func TestDummyHash(t *testing.T) {
	d := password.DummyHash(fast)
	if !phcRE.MatchString(d) {
		t.Fatalf("got %q, want a valid PHC string", d)
	}
	if again := password.DummyHash(fast); again != d {
		t.Errorf("second call: got %q, want the cached %q", again, d)
	}
	// It must cost what a real hash costs: same parameters as asked for.
	if !strings.Contains(d, "$m=64,t=1,p=1$") {
		t.Errorf("got %q, want parameters m=64,t=1,p=1", d)
	}
	for _, pw := range []string{"", "password", "\x00", d} {
		ok, _, err := password.Verify(d, pw, fast)
		if ok || err != nil {
			t.Errorf("Verify(dummy, %q): got ok=%v err=%v, want ok=false err=nil", pw, ok, err)
		}
	}
	t.Run("invalid params", func(t *testing.T) {
		for _, bad := range []password.Params{
			{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32},
			{Memory: 64, Time: 1, Threads: 1, SaltLen: 1 << 31, KeyLen: 1 << 31}, // must not allocate 4 GiB
		} {
			ok, _, err := password.Verify(password.DummyHash(bad), "x", bad)
			if ok || !errors.Is(err, password.ErrInvalidParams) {
				t.Errorf("%+v: got ok=%v err=%v, want ok=false err=%v", bad, ok, err, password.ErrInvalidParams)
			}
		}
	})
}

// costRE finds the cost in a fuzzed string, so that the fuzzer does not
// spend its time on legitimately expensive (but in-bounds) parameters.
var costRE = regexp.MustCompile(`m=([0-9]+),t=([0-9]+)`)

// FuzzVerify feeds arbitrary stored strings and passwords to Verify. It must
// never panic, never report a match together with an error, and only ever
// fail with the package's two sentinel errors.
func FuzzVerify(f *testing.F) {
	f.Add(mustHash(f, "seed password", fast), "seed password")
	f.Add(mustHash(f, "ﬁ", fast), "fi")
	f.Add(mustHash(f, "x", password.Params{Memory: 32, Time: 1, Threads: 4, SaltLen: 8, KeyLen: 16}), "x")
	for _, tc := range tampered {
		f.Add(tc.encoded, "pw")
	}
	f.Fuzz(func(t *testing.T, encoded, pw string) {
		if m := costRE.FindStringSubmatch(encoded); m != nil {
			mem, _ := strconv.ParseUint(m[1], 10, 64)
			tm, _ := strconv.ParseUint(m[2], 10, 64)
			if mem > 1024 || tm > 4 {
				// Would pass parsing (bounds allow up to 4 GiB and 100
				// passes) and then just be slow; bounds are tested above.
				t.Skip()
			}
		}
		ok, rehash, err := password.Verify(encoded, pw, fast)
		if err != nil {
			if ok || rehash {
				t.Errorf("got ok=%v rehash=%v with err %v, want false false", ok, rehash, err)
			}
			if !errors.Is(err, password.ErrMalformedHash) && !errors.Is(err, password.ErrInvalidParams) {
				t.Errorf("got error %v, want ErrMalformedHash or ErrInvalidParams", err)
			}
			return
		}
		if !ok && rehash {
			t.Errorf("got ok=false rehash=true, want rehash only on a match")
		}
		// Accepted strings have exactly one spelling: the one Hash writes.
		if !phcRE.MatchString(encoded) {
			t.Errorf("got %q accepted, want only the canonical PHC form", encoded)
		}
	})
}

func BenchmarkHash(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := password.Hash("correct horse battery staple", password.DefaultParams); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := mustHash(b, "correct horse battery staple", password.DefaultParams)
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := password.Verify(h, "correct horse battery staple", password.DefaultParams); !ok || err != nil {
			b.Fatalf("got ok=%v err=%v, want true nil", ok, err)
		}
	}
}

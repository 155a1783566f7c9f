// Package password hashes, verifies and vets user passwords.
//
// Hashing is argon2id (RFC 9106) stored as a PHC string, with defaults at
// the OWASP Password Storage Cheat Sheet minimum (OWASP ASVS 5.0 V11.4.2).
// Policy applies the password rules of NIST SP 800-63B-4 §3.1.1.2: length in
// Unicode code points after NFKC, no composition rules, and a blocklist of
// common and breached passwords that ships inside the binary (Common).
// Limiter bounds how many hashes run at once, because each one holds
// Params.Memory of RAM.
//
// Every function here that takes a password NFKC-normalizes it first, so the
// same password typed on different keyboards or input methods hashes alike
// (NIST SP 800-63B-4 §3.1.1.2). Nothing else is changed: no truncation and
// no case folding before hashing (OWASP ASVS 5.0 V6.2.8).
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Errors returned by Hash and Verify. Their text never contains a password,
// a salt or a hash, so they are safe to log.
var (
	// ErrMalformedHash means a stored string is not an argon2id PHC string
	// that this package writes: wrong algorithm or version, bad syntax or
	// bad base64. A stored row that fails this way was corrupted or tampered
	// with; treat it as a failed login, never as a match.
	ErrMalformedHash = errors.New("password: malformed hash")
	// ErrInvalidParams means hashing parameters are out of the accepted
	// range, whether passed in or read from a stored string.
	ErrInvalidParams = errors.New("password: invalid hash parameters")
)

// Params are the argon2id cost parameters (RFC 9106 §3.1).
type Params struct {
	Memory  uint32 // memory in KiB (RFC 9106 "m")
	Time    uint32 // passes over memory (RFC 9106 "t")
	Threads uint8  // lanes (RFC 9106 "p")
	SaltLen uint32 // bytes of random salt
	KeyLen  uint32 // bytes of output ("tag length" in RFC 9106)
}

// DefaultParams are the OWASP Password Storage Cheat Sheet's minimum for
// argon2id: 19 MiB of memory, 2 passes, 1 lane. RFC 9106 §4 prefers more
// memory where the server can afford it; raise Memory (not only Time) when
// it can, and Verify will report old hashes for rehash. The 16-byte salt is
// what RFC 9106 §3.1 recommends, and the 32-byte key is the usual tag length.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on parameters, for new hashes and stored ones alike. The upper
// bounds exist because Verify runs whatever cost a stored string asks for: a
// row tampered to m=4294967295 would otherwise make one login allocate 4 TiB.
// They are far above any sane setting, so they never refuse a real
// configuration. The lower bounds are RFC 9106 §3.1's minimums for salt and
// lanes, and 16 bytes of key so that a truncated tag cannot weaken a match.
const (
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 128
	maxMemory  = 4 * 1024 * 1024 // KiB, that is 4 GiB
	maxTime    = 100
	// maxEncodedLen bounds a stored string before it is parsed, so parsing
	// a huge value allocates nothing. The longest valid string (maxSaltLen,
	// maxKeyLen, largest numbers) is about 290 bytes.
	maxEncodedLen = 512
)

// Validate reports whether p is usable. Call it once when configuration is
// loaded so that a bad setting stops the process at start (fail closed)
// rather than failing every login.
func (p Params) Validate() error {
	switch {
	case p.Memory == 0 || p.Memory > maxMemory:
		return fmt.Errorf("%w: memory must be 1 to %d KiB", ErrInvalidParams, maxMemory)
	case p.Time == 0 || p.Time > maxTime:
		return fmt.Errorf("%w: time must be 1 to %d", ErrInvalidParams, maxTime)
	case p.Threads == 0:
		return fmt.Errorf("%w: threads must be at least 1", ErrInvalidParams)
	case p.Memory < 8*uint32(p.Threads):
		// RFC 9106 §3.1: m is at least 8*p KiB.
		return fmt.Errorf("%w: memory must be at least 8 KiB per thread", ErrInvalidParams)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("%w: salt length must be %d to %d bytes", ErrInvalidParams, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("%w: key length must be %d to %d bytes", ErrInvalidParams, minKeyLen, maxKeyLen)
	}
	return nil
}

// Normalize returns password in Unicode Normalization Form KC, as NIST SP
// 800-63B-4 §3.1.1.2 requires before hashing, so that "ﬁ" and "fi", or
// full-width and ASCII digits, are the same password.
func Normalize(password string) string {
	return norm.NFKC.String(password)
}

// Hash returns the argon2id PHC string of the NFKC form of password, with a
// fresh random salt:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// where salt and key are unpadded standard base64 (the PHC string format).
// The password is never truncated (NIST SP 800-63B-4 §3.1.1.2); argon2id
// takes input of any length.
func Hash(password string, p Params) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	// crypto/rand.Read never returns an error and crashes the program
	// irrecoverably if the system's randomness fails (Go 1.24+): a
	// predictable salt is never used.
	rand.Read(salt)
	key := argon2.IDKey([]byte(Normalize(password)), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encode(p, salt, key), nil
}

func encode(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	var sb strings.Builder
	sb.Grow(64 + b64.EncodedLen(len(salt)) + b64.EncodedLen(len(key)))
	fmt.Fprintf(&sb, "$argon2id$v=%d$m=%d,t=%d,p=%d$", argon2.Version, p.Memory, p.Time, p.Threads)
	sb.WriteString(b64.EncodeToString(salt))
	sb.WriteByte('$')
	sb.WriteString(b64.EncodeToString(key))
	return sb.String()
}

// Verify reports whether password matches the stored PHC string encoded.
//
// The key is compared in constant time (crypto/subtle), so the time taken
// says nothing about how much of the key matched (OWASP ASVS 5.0 V11.2.4).
// needsRehash is true when the password matched and encoded was made with
// parameters weaker than current (less memory, fewer passes, a shorter salt
// or key): the caller should then store Hash(password, current), so stored
// hashes strengthen as users log in (OWASP Password Storage Cheat Sheet,
// "Upgrading the work factor").
//
// A malformed string returns ErrMalformedHash and one whose parameters are out
// of bounds returns ErrInvalidParams, both before any hashing is done: a
// tampered row can neither panic the server nor make it allocate gigabytes.
// In both cases ok is false (fail closed).
func Verify(encoded, password string, current Params) (ok, needsRehash bool, err error) {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(Normalize(password)), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, weaker(p, current), nil
}

// weaker reports whether stored costs less than current on any axis that
// matters to an attacker. Threads are not compared: more lanes do not make
// a guess dearer for an attacker with enough cores.
func weaker(stored, current Params) bool {
	return stored.Memory < current.Memory ||
		stored.Time < current.Time ||
		stored.SaltLen < current.SaltLen ||
		stored.KeyLen < current.KeyLen
}

// decode parses a PHC string strictly: exactly the form encode writes, with
// canonical numbers and canonical unpadded base64. Anything else is
// ErrMalformedHash; there is one way to write each hash, so a stored value
// cannot be altered without failing here or failing to match.
func decode(s string) (p Params, salt, key []byte, err error) {
	if len(s) > maxEncodedLen {
		return p, nil, nil, ErrMalformedHash
	}
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" || f[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, ErrMalformedHash
	}
	kv := strings.Split(f[3], ",")
	if len(kv) != 3 {
		return p, nil, nil, ErrMalformedHash
	}
	m, ok1 := param(kv[0], "m=", 32)
	t, ok2 := param(kv[1], "t=", 32)
	th, ok3 := param(kv[2], "p=", 8)
	if !ok1 || !ok2 || !ok3 {
		return p, nil, nil, ErrMalformedHash
	}
	// encoding/base64 skips CR and LF even in Strict mode, so check the
	// alphabet first: one accepted spelling per hash.
	if !isB64(f[4]) || !isB64(f[5]) {
		return p, nil, nil, ErrMalformedHash
	}
	b64 := base64.RawStdEncoding.Strict()
	if salt, err = b64.DecodeString(f[4]); err != nil {
		return p, nil, nil, ErrMalformedHash
	}
	if key, err = b64.DecodeString(f[5]); err != nil {
		return p, nil, nil, ErrMalformedHash
	}
	// param parsed m and t with bit size 32 and th with 8, so each fits;
	// salt and key were decoded from one stored hash string, far below 4 GiB.
	p = Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(th), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))} // #nosec G115 -- every value fits, see above
	if err := p.Validate(); err != nil {
		return Params{}, nil, nil, err
	}
	return p, salt, key, nil
}

// isB64 reports whether s uses only the standard base64 alphabet, without
// padding.
func isB64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// param parses "name=N" where N is a canonical decimal (no sign, no leading
// zero) that fits in bits.
func param(s, name string, bits int) (uint64, bool) {
	v, ok := strings.CutPrefix(s, name)
	if !ok || v == "" || (len(v) > 1 && v[0] == '0') || v[0] < '0' || v[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, bits)
	return n, err == nil
}

// dummies holds one lazily computed dummy hash per Params.
var dummies sync.Map // Params -> *dummy

type dummy struct {
	once sync.Once
	hash string
}

// DummyHash returns a valid hash, made with p, of a random password that no
// one knows. Login verifies the submitted password against it when the
// username does not exist, so that an unknown user costs the same argon2id
// work as a known one and response time does not reveal which usernames
// exist (OWASP ASVS 5.0 V6.3.8; OWASP Authentication Cheat Sheet,
// "Authentication Responses"). Verify never reports a match against it.
//
// The hash is computed on first use for each p and then reused; call it once
// at start to keep that cost off the first login. Stored hashes made with
// older, weaker parameters verify faster than this one until they are
// rehashed, so keep rehashing on login (Verify's needsRehash). If p is
// invalid it returns a string that Verify refuses with ErrInvalidParams,
// the same error Hash gives for p: check Params.Validate at start.
func DummyHash(p Params) string {
	v, _ := dummies.LoadOrStore(p, new(dummy))
	d := v.(*dummy)
	d.once.Do(func() {
		if err := p.Validate(); err != nil {
			// A fixed string with t=0, which Verify refuses with
			// ErrInvalidParams. Built from constants: p may ask for
			// absurd salt or key lengths.
			d.hash = encode(Params{Memory: 8, Time: 0, Threads: 1}, make([]byte, 16), make([]byte, 32))
			return
		}
		// 256 random bits that never leave this function: no one can
		// know, let alone send, the password this hash is of.
		secret := make([]byte, 32)
		rand.Read(secret)
		salt := make([]byte, p.SaltLen)
		rand.Read(salt)
		d.hash = encode(p, salt, argon2.IDKey(secret, salt, p.Time, p.Memory, p.Threads, p.KeyLen))
	})
	return d.hash
}

package password

import (
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"strings"
)

//go:generate go run ./gen -o common.bin

// commonList is the blocklist of common and breached passwords (SOURCES.md
// says where it comes from). Each entry is the first 8 bytes, big-endian, of
// SHA-256 over canonical(entry); entries are sorted ascending and unique.
//
// Storing truncated hashes rather than the words keeps the binary small (8
// bytes an entry) and lets Common search the embedded bytes in place, with no
// copy on the heap. 64 bits make a false match negligible: with n entries a
// random password is refused by mistake with probability about n/2^64.
//
//go:embed common.bin
var commonList string

// Common reports whether password is on the built-in list of common and
// breached passwords. NIST SP 800-63B-4 §3.1.1.2 requires verifiers to refuse
// such passwords when one is set (also OWASP ASVS 5.0 V6.2.4 and V6.2.12),
// because attackers try them first in online guessing and credential
// stuffing.
//
// The comparison is on canonical forms: NFKC, surrounding white space
// trimmed, lower case. So "PASSWORD", "Ｐａｓｓｗｏｒｄ" and " password " all match
// "password": a capital letter or a trailing space adds next to nothing to a
// guesser's work, and the check fails closed on such variants.
func Common(password string) bool {
	c := canonical(password)
	if c == "" {
		return false
	}
	sum := sha256.Sum256([]byte(c))
	key := binary.BigEndian.Uint64(sum[:8])

	// Binary search over the embedded entries.
	lo, hi := 0, ListSize()
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if entry(mid) < key {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo < ListSize() && entry(lo) == key
}

// ListSize returns the number of entries on the built-in list.
func ListSize() int {
	return len(commonList) / 8
}

func entry(i int) uint64 {
	s := commonList[8*i : 8*i+8]
	return uint64(s[7]) | uint64(s[6])<<8 | uint64(s[5])<<16 | uint64(s[4])<<24 |
		uint64(s[3])<<32 | uint64(s[2])<<40 | uint64(s[1])<<48 | uint64(s[0])<<56
}

// canonical is the form in which list entries and candidates are compared.
// gen/main.go builds the list with an identical function; keep them equal.
func canonical(s string) string {
	return strings.ToLower(strings.TrimSpace(Normalize(s)))
}

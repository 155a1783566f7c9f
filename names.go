package gatehouse

import (
	"strings"

	"golang.org/x/text/unicode/norm"
)

// NormalizeUsername returns the canonical form of a username: Unicode NFKC,
// then lower case. Two names that look alike after compatibility folding
// (full-width letters, ligatures) are the same account, which closes a
// class of impersonation tricks (OWASP ASVS 5.0 §6.2: unique, normalized
// identifiers).
func NormalizeUsername(s string) string {
	return strings.ToLower(norm.NFKC.String(s))
}

// ValidUsername reports whether a normalized username is 3–32 characters
// of lowercase ASCII letters, digits, '.', '_' and '-'.
func ValidUsername(s string) bool {
	if len(s) < 3 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// NormalizeEmail returns the form of an address used to enforce uniqueness:
// the whole address lower-cased. RFC 5321 lets the local part be case
// sensitive, but no mainstream provider treats it so, and two accounts that
// differ only in case are a phishing and recovery hazard.
func NormalizeEmail(s string) string { return strings.ToLower(s) }

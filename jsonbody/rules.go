package jsonbody

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// checkString returns the message for the first rule that s breaks, or "".
// Cheap checks come first, and the length limit is checked before the
// pattern so that the pattern never runs on an over-long value.
func (r *rules) checkString(s string) string {
	if r.nocontrol && hasControl(s) {
		return "must not contain control characters"
	}
	if r.minLength >= 0 || r.maxLength >= 0 {
		// Characters are code points, as JSON Schema counts them (draft
		// 2020-12 validation §6.3.1), so "é" is one character, not two bytes.
		n := utf8.RuneCountInString(s)
		if r.minLength >= 0 && n < r.minLength {
			return "must be at least " + chars(r.minLength)
		}
		if r.maxLength >= 0 && n > r.maxLength {
			return "must be at most " + chars(r.maxLength)
		}
	}
	if r.pattern != nil && !r.pattern.MatchString(s) {
		return "must match the pattern " + r.pattern.String()
	}
	if r.format == "email" && !validEmail(s) {
		return "must be a valid email address"
	}
	if r.enum != nil {
		for _, e := range r.enum {
			if s == e {
				return ""
			}
		}
		return "must be one of: " + strings.Join(r.enum, ", ")
	}
	return ""
}

func chars(n int) string {
	if n == 1 {
		return "1 character"
	}
	return strconv.Itoa(n) + " characters"
}

// hasControl reports whether s holds a character of Unicode category Cc:
// U+0000–U+001F and U+007F–U+009F. Such characters have no place in a
// single-line text field: NUL truncates strings in C libraries and is
// refused by PostgreSQL text columns, CR and LF forge log lines and headers,
// and ESC sequences drive terminals that display the value.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7F {
			return true
		}
		// U+0080–U+009F are encoded as C2 80 – C2 9F.
		if c == 0xC2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9F {
			return true
		}
	}
	return false
}

// validEmail reports whether s is a bare addr-spec (RFC 5322 §3.4.1) of the
// form used on the Internet today, and not longer than 254 characters, the
// longest address that fits an SMTP path (RFC 5321 §4.5.3.1.3, with errata
// 1690). net/mail.ParseAddress is not used: it accepts display names,
// comments and angle brackets ("Eve <eve@example.com>"), which would then be
// stored and shown as if they were the address.
//
// The local part must be a dot-atom of at most 64 characters (RFC 5321
// §4.5.3.1.1); quoted local parts are refused, since almost nothing can
// deliver to them and their quotes and spaces invite injection into mail
// headers (ASVS 5.0 §1.3.11). The domain must be a host name of at least two
// labels, each 1–63 letters, digits or hyphens, not starting or ending with
// a hyphen, and a top-level label that is not all digits (RFC 1123 §2.1);
// address literals ([192.0.2.1]) are refused. Only ASCII is accepted:
// internationalized domains must be sent in their A-label (xn--) form, and
// SMTPUTF8 local parts (RFC 6531) are not supported.
func validEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at > 64 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for i := 0; i < len(local); i++ {
		if !isAtext(local[i]) && local[i] != '.' {
			return false
		}
	}
	if len(domain) == 0 || len(domain) > 253 {
		return false
	}
	labels, tld := 0, ""
	for l := range strings.SplitSeq(domain, ".") {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
		labels, tld = labels+1, l
	}
	return labels >= 2 && strings.Trim(tld, "0123456789") != ""
}

// isAtext reports whether c is an atext character (RFC 5322 §3.2.3).
func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

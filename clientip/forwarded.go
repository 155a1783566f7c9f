package clientip

import (
	"net/netip"
	"strings"
)

// walkForwarded walks the for= nodes of RFC 7239 Forwarded field lines from
// the right, as walkXFF does for X-Forwarded-For.
//
// A line is parsed from the left, because a quoted-string may hold commas
// and semicolons, and so cannot be split from the right. When a line breaks
// part-way, everything it parsed lies left of the break; walking from the
// right, the break comes first and ends the walk.
func walkForwarded(lines []string, peer netip.Addr, c *config) netip.Addr {
	last := peer
	var nodes []string
	for i := len(lines) - 1; i >= 0; i-- {
		var ok bool
		nodes, ok = parseForwarded(lines[i], nodes[:0])
		if !ok {
			return last // fail closed at the last hop a trusted party wrote
		}
		for j := len(nodes) - 1; j >= 0; j-- {
			a, ok := parseNode(nodes[j])
			if !ok {
				// Malformed, "unknown" (RFC 7239 §6.2) or obfuscated
				// (§6.3): the hop is hidden, so nothing left of it can be
				// tied to a trusted proxy.
				return last
			}
			if !c.trusts(a) {
				return a
			}
			last = a
		}
	}
	return last
}

// parseForwarded parses one Forwarded field line (RFC 7239 §4):
//
//	Forwarded         = 1#forwarded-element
//	forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
//	forwarded-pair    = token "=" value
//	value             = token / quoted-string
//
// It appends the for= value of each element to dst, "" for an element
// without one, and reports whether the whole line was well formed. A
// parameter may appear once per element (§4), so a second for= is an error.
// Whitespace around ";" is tolerated; it cannot move an address.
func parseForwarded(s string, dst []string) ([]string, bool) {
	i := 0
	for {
		var node string
		seen := false
		for {
			i = skipOWS(s, i)
			if i < len(s) && s[i] != ',' && s[i] != ';' {
				j := i
				for j < len(s) && isTchar(s[j]) {
					j++
				}
				if j == i || j >= len(s) || s[j] != '=' {
					return dst, false
				}
				name := s[i:j]
				v, next, ok := parseValue(s, j+1)
				if !ok {
					return dst, false
				}
				if strings.EqualFold(name, "for") {
					if seen {
						return dst, false
					}
					seen, node = true, v
				}
				i = skipOWS(s, next)
			}
			if i < len(s) && s[i] == ';' {
				i++
				continue
			}
			break
		}
		dst = append(dst, node)
		if i >= len(s) {
			return dst, true
		}
		if s[i] != ',' {
			return dst, false
		}
		i++
	}
}

// parseValue parses a token or quoted-string starting at s[i] and returns
// its value and the index after it.
func parseValue(s string, i int) (string, int, bool) {
	if i < len(s) && s[i] == '"' {
		return parseQuoted(s, i)
	}
	j := i
	for j < len(s) && isTchar(s[j]) {
		j++
	}
	return s[i:j], j, j > i
}

// parseQuoted parses an RFC 9110 §5.6.4 quoted-string starting at the
// opening quote s[i], undoing quoted-pairs.
func parseQuoted(s string, i int) (string, int, bool) {
	var b *strings.Builder
	start := i + 1
	for j := start; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			if b == nil {
				return s[start:j], j + 1, true
			}
			return b.String(), j + 1, true
		case c == '\\':
			if j+1 >= len(s) || !isQdOrPair(s[j+1]) {
				return "", 0, false
			}
			if b == nil {
				b = new(strings.Builder)
				b.WriteString(s[start:j])
			}
			j++
			b.WriteByte(s[j])
		case !isQdOrPair(c):
			return "", 0, false
		default:
			if b != nil {
				b.WriteByte(c)
			}
		}
	}
	return "", 0, false // unterminated
}

// isQdOrPair accepts HTAB, SP, VCHAR and obs-text, the bytes allowed in a
// quoted-string (the caller handles '"' and '\').
func isQdOrPair(c byte) bool {
	return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f)
}

// parseNode parses an RFC 7239 §6 node that names an address:
// "192.0.2.1", "192.0.2.1:80", "[2001:db8::1]" or "[2001:db8::1]:80".
// "unknown", obfuscated identifiers ("_hidden") and IPv6 without brackets
// are not accepted.
func parseNode(v string) (netip.Addr, bool) {
	if v == "" {
		return netip.Addr{}, false
	}
	if v[0] == '[' {
		return parseBracketed(v)
	}
	host := v
	if i := strings.IndexByte(v, ':'); i >= 0 {
		if !validPort(v[i+1:]) {
			return netip.Addr{}, false
		}
		host = v[:i]
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

func skipOWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// isTchar reports whether c may appear in an RFC 9110 §5.6.2 token.
func isTchar(c byte) bool {
	if isAlnum(c) {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

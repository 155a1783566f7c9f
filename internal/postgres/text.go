package postgres

import (
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// PostgreSQL text holds valid UTF-8 without NUL bytes, and refuses anything
// else with an error. The store decides what such a string means before it
// reaches the server, in the same way as the SQLite store:
//
//   - as a value to write (a username, a title), it is refused with
//     errInvalidText, which is neither ErrNotFound nor ErrConflict: handlers
//     validate their input, so reaching the store with it is a bug; the one
//     exception is a session's user agent, a header that is stored cleaned
//     (cleanUserAgent);
//   - as a key to find (an ID, a username), it finds nothing, because no
//     such text was ever written;
//   - as a search term, it is contained in no note;
//   - as a position in an order (a list cursor), it keeps its place in byte
//     order, computed here (textAbove), so paging behaves as on SQLite.

// errInvalidText refuses text that the database cannot hold.
var errInvalidText = errors.New("text is not valid UTF-8 or holds a NUL byte")

// validText reports whether s can be stored as text.
func validText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// checkText returns an error naming the first of fields (name, value pairs)
// whose value cannot be stored.
func checkText(fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if !validText(fields[i+1]) {
			return fmt.Errorf("%s: %w", fields[i], errInvalidText)
		}
	}
	return nil
}

// textAbove returns the smallest valid text (see validText) that sorts
// after x in byte order, or ok=false when none does. When x is not valid
// text, every valid s differs from it, so s > x exactly when
// s >= textAbove(x), and s < x exactly when s < textAbove(x): a comparison
// with x, which the server cannot receive, becomes one with a string it
// can. (For valid x the answer is x + "\x01".)
func textAbove(x string) (string, bool) {
	// p is the longest prefix of x made of whole characters other than
	// NUL; rest starts with a NUL byte or a byte sequence that is not
	// UTF-8.
	i := 0
	for i < len(x) {
		r, n := utf8.DecodeRuneInString(x[i:])
		if r == 0 || r == utf8.RuneError && n <= 1 {
			break
		}
		i += n
	}
	p, rest := x[:i], x[i:]
	// A valid s = p + t sorts after x when t's first character's encoding
	// sorts after rest: no encoding is a prefix of rest, so the comparison
	// is decided within that character. UTF-8 keeps code-point order, so
	// the smallest such character is found by bisection.
	if k := sort.Search(numChars, func(k int) bool { return string(charAt(k)) > rest }); k < numChars {
		return p + string(charAt(k)), true
	}
	// No character sorts after rest (it starts with 0xF5–0xFF): no valid
	// string that starts with p sorts after x, and the answer is the
	// smallest string after all of them.
	for p != "" {
		r, n := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-n]
		if r < utf8.MaxRune {
			return p + string(nextChar(r)), true
		}
	}
	return "", false
}

// numChars counts the characters valid text may hold: every Unicode code
// point but NUL and the surrogates.
const numChars = utf8.MaxRune - 0x800

// charAt returns the k-th character valid text may hold, in order.
func charAt(k int) rune {
	r := rune(k + 1) // #nosec G115 -- callers pass 0 <= k < numChars, below utf8.MaxRune
	if r >= 0xD800 {
		r += 0x800
	}
	return r
}

func nextChar(r rune) rune {
	if r+1 == 0xD800 {
		return 0xE000
	}
	return r + 1
}

// The range of timestamptz, 4713 BC to 294276 AD, is narrower than that of
// time.Time. Times the store only compares with (a cursor, "now") are
// clamped into it; times it writes are not, and the server refuses them.
var (
	minTime = time.Date(-4712, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(294276, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// ts converts t for the database: microseconds, as on SQLite (truncated
// toward the Unix epoch, as time.UnixMicro does, where the server would
// round).
func ts(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

// clampTS converts a time the store only compares with.
func clampTS(t time.Time) time.Time {
	switch {
	case t.Before(minTime):
		return minTime
	case t.After(maxTime):
		return maxTime
	}
	return ts(t)
}

func nullTS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

// utc returns a time read from the database in UTC, as the SQLite store
// returns them.
func utc(t time.Time) time.Time { return t.UTC() }

func nullUTC(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// cleanUserAgent makes a session's user agent storable instead of refusing
// it. It is informational (shown in the session list), it comes from a
// header that may carry Latin-1 or other bytes that are not UTF-8, and a
// login must not fail for it: invalid sequences and NUL bytes become U+FFFD,
// as a browser would show them.
func cleanUserAgent(s string) string {
	if validText(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

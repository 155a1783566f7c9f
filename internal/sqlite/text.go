package sqlite

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Text rule, shared with the PostgreSQL store (whose text type cannot hold
// them): the store writes no text that is invalid UTF-8 or holds a NUL byte.
// SQLite could keep such text, but then the two backends would disagree, and
// text that JSON or a browser would rewrite has no business in the
// database. So:
//
//   - as a value to write (a username, a title), such text is refused with
//     errInvalidText, which is neither ErrNotFound nor ErrConflict: handlers
//     validate their input, so reaching the store with it is a bug; the one
//     exception is a session's user agent, a header that is stored cleaned
//     (cleanUserAgent);
//   - as a key to find, it finds nothing (nothing like it was written);
//   - as a search term, it is in no note (LIKE would cut it at a NUL);
//   - as a position in an order (a list cursor), it compares byte by byte,
//     as SQLite does natively.

// errInvalidText refuses text that the store does not write.
var errInvalidText = errors.New("text is not valid UTF-8 or holds a NUL byte")

// validText reports whether s may be written as text.
func validText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// checkText returns an error naming the first of fields (name, value pairs)
// whose value may not be written.
func checkText(fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if !validText(fields[i+1]) {
			return fmt.Errorf("%s: %w", fields[i], errInvalidText)
		}
	}
	return nil
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

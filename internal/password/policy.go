package password

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Policy is the rule set a new password must meet, per NIST SP 800-63B-4
// §3.1.1.2 and OWASP ASVS 5.0 V6.2. The zero value is DefaultPolicy, and a
// minimum below 8 is raised to 8 whether or not Validate was called.
//
// It has no composition rules (no "one digit, one symbol"): NIST SP
// 800-63B-4 §3.1.1.2 forbids them (SHALL NOT) and ASVS V6.2.5 agrees,
// because they push users toward predictable patterns without adding real
// strength. Length and the blocklist do the work instead.
type Policy struct {
	// MinLength is the fewest characters allowed; 0 means 15. NIST SP
	// 800-63B-4 §3.1.1.2 requires 15 for a password that is the only
	// factor, which is the case here, and never less than 8.
	MinLength int
	// MaxLength is the most characters allowed; 0 means 256. NIST asks that
	// at least 64 be allowed (ASVS V6.2.9); the cap exists only to bound the
	// work of normalizing and hashing one request.
	MaxLength int
}

// DefaultPolicy is the policy API.md documents: 15 to 256 characters.
var DefaultPolicy = Policy{MinLength: 15, MaxLength: 256}

// Bounds for Validate.
const (
	lowestMinLength  = 8  // NIST SP 800-63B-4 §3.1.1.2: SHALL be at least 8
	lowestMaxLength  = 64 // NIST SP 800-63B-4 §3.1.1.2: SHOULD permit at least 64
	highestMaxLength = 4096
	// minUsernameLen is the shortest username that the containment rule
	// applies to. Shorter ones ("al", "x") occur inside too many good
	// passwords by chance; refusing them would be arbitrary, not safer.
	minUsernameLen = 3
)

// ErrInvalidPolicy is returned by Policy.Validate.
var ErrInvalidPolicy = errors.New("password: invalid policy")

// Validate reports whether p is a setting NIST SP 800-63B-4 allows. Call it
// when configuration is loaded (for --password-min-length) so that a weak
// setting stops the process at start.
func (p Policy) Validate() error {
	if p.MinLength < 0 || p.MaxLength < 0 {
		return fmt.Errorf("%w: lengths must not be negative", ErrInvalidPolicy)
	}
	p = p.withDefaults()
	switch {
	case p.MinLength < lowestMinLength:
		return fmt.Errorf("%w: minimum length must be at least %d", ErrInvalidPolicy, lowestMinLength)
	case p.MaxLength < lowestMaxLength || p.MaxLength > highestMaxLength:
		return fmt.Errorf("%w: maximum length must be %d to %d", ErrInvalidPolicy, lowestMaxLength, highestMaxLength)
	case p.MinLength > p.MaxLength:
		return fmt.Errorf("%w: minimum length is above maximum length", ErrInvalidPolicy)
	}
	return nil
}

// withDefaults fills in zero (or negative) fields.
func (p Policy) withDefaults() Policy {
	if p.MinLength <= 0 {
		p.MinLength = DefaultPolicy.MinLength
	}
	if p.MaxLength <= 0 {
		p.MaxLength = DefaultPolicy.MaxLength
	}
	return p
}

// Check returns one human-readable message for each rule that password
// breaks, all of them at once (as API.md asks of validation errors), or nil
// when it is acceptable. username is the account's username; pass "" when
// there is none.
//
// Lengths are counted in Unicode code points after NFKC normalization, as
// NIST SP 800-63B-4 §3.1.1.2 says (each code point is one character), so
// "ﬁ" counts as the two characters it normalizes to.
//
// The messages say which rule was broken and never repeat the password or
// any part of it, so they are safe to return to clients and to log.
func (p Policy) Check(password, username string) []string {
	p = p.withDefaults()
	// Fail closed on a configuration that skipped Validate: never accept
	// fewer than NIST's absolute floor of 8.
	p.MinLength = max(p.MinLength, lowestMinLength)
	var msgs []string

	if !utf8.ValidString(password) {
		// JSON decoding refuses invalid UTF-8 already; this guards other
		// callers (the CLI reads standard input), since NFKC is not defined
		// on invalid text.
		return []string{"Must be valid UTF-8 text."}
	}
	nfkc := Normalize(password)
	n := utf8.RuneCountInString(nfkc)
	if n < p.MinLength {
		msgs = append(msgs, fmt.Sprintf("Must be at least %d characters long.", p.MinLength))
	}
	if n > p.MaxLength {
		msgs = append(msgs, fmt.Sprintf("Must be at most %d characters long.", p.MaxLength))
		// The other rules cannot make an over-long password acceptable,
		// and skipping them bounds the work done on hostile input.
		return msgs
	}

	// NIST SP 800-63B-4 §3.1.1.2: refuse known common or compromised
	// passwords. Also ASVS V6.2.4 and V6.2.12.
	if Common(nfkc) {
		msgs = append(msgs, "Is a commonly used or previously breached password; choose another.")
	}

	// NIST SP 800-63B-4 §3.1.1.2 lists context-specific words, "such as
	// ... the username", among what the blocklist must hold (also ASVS
	// V6.2.11). Guessers try the username and its variants first.
	if u := strings.ToLower(Normalize(username)); utf8.RuneCountInString(u) >= minUsernameLen &&
		strings.Contains(strings.ToLower(nfkc), u) {
		msgs = append(msgs, "Must not contain the username.")
	}
	return msgs
}

package password_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/password"
)

const (
	msgShort    = "Must be at least 15 characters long."
	msgLong     = "Must be at most 256 characters long."
	msgCommon   = "Is a commonly used or previously breached password; choose another."
	msgUsername = "Must not contain the username."
	msgUTF8     = "Must be valid UTF-8 text."
)

func TestPolicyCheck(t *testing.T) {
	tests := []struct {
		name     string
		pw, user string
		want     []string
	}{
		// Length, counted in code points after NFKC (NIST SP 800-63B-4
		// §3.1.1.2).
		{"fine", "violet tractor under 9 moons", "alice", nil},
		{"exactly 15", "violet tractor!", "", nil},
		{"14", "violet tractor", "", []string{msgShort}},
		{"empty", "", "", []string{msgShort}},
		{"15 two-byte characters", strings.Repeat("é", 15), "", nil},
		{"14 three-byte characters", strings.Repeat("日", 14), "", []string{msgShort}},
		{"ligatures count after NFKC", strings.Repeat("\uFB01", 8), "", nil},                           // 8 code points, 16 after NFKC
		{"decomposed accents count after NFKC", strings.Repeat("e\u0301", 14), "", []string{msgShort}}, // 28 code points, 14 after NFKC
		{"exactly 256", strings.Repeat("abcdefgh", 32), "", nil},
		{"257", strings.Repeat("abcdefgh", 32) + "i", "", []string{msgLong}},
		{"256 two-byte characters", strings.Repeat("é", 256), "", nil},
		{"257 two-byte characters", strings.Repeat("é", 257), "", []string{msgLong}},
		{"200 decomposed accents", strings.Repeat("e\u0301", 200), "", nil}, // 400 code points, 200 after NFKC
		{"far too long", strings.Repeat("x", 1<<20), "", []string{msgLong}},

		// Any characters, no composition rules (NIST SP 800-63B-4
		// §3.1.1.2, ASVS V6.2.5).
		{"only lower-case letters", "violettractorundermoons", "", nil},
		{"spaces and emoji", "🐢 slow and steady 🐢 wins", "", nil},
		{"control characters", "tab\there\nnewline ok", "", nil},

		// Blocklist (NIST SP 800-63B-4 §3.1.1.2, ASVS V6.2.4, V6.2.12).
		{"common 15 digits", "123456789012345", "", []string{msgCommon}},
		{"common keyboard walk", "qwertyuiopasdfgh", "", []string{msgCommon}},
		{"common, other case", "QwertyuiopASDFGH", "", []string{msgCommon}},
		{"common, full-width", "１２３４５６７８９０１２３４５", "", []string{msgCommon}},
		{"common and short", "letmein", "", []string{msgShort, msgCommon}},

		// Username (NIST SP 800-63B-4 §3.1.1.2 context-specific words,
		// ASVS V6.2.11).
		{"contains username", "alice-loves-long-walks", "alice", []string{msgUsername}},
		{"contains username, other case", "ALICE-loves-long-walks", "alice", []string{msgUsername}},
		{"contains full-width username", "alice-loves-long-walks", "ａｌｉｃｅ", []string{msgUsername}},
		{"is the username", "alice.the.long.username", "alice.the.long.username", []string{msgUsername}},
		{"username of 3 applies", "bobs-burgers-are-great", "bob", []string{msgUsername}},
		{"username under 3 skipped", "al-loves-long-walks-xyz", "al", nil},
		{"no username", "alice-loves-long-walks", "", nil},

		// Every broken rule at once.
		{"short, common and username", "letmein", "letme", []string{msgShort, msgCommon, msgUsername}},

		{"invalid UTF-8", "valid prefix then \xff\xfe bytes", "", []string{msgUTF8}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := password.DefaultPolicy.Check(tc.pw, tc.user)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if tc.want == nil && got != nil {
				t.Errorf("got empty non-nil %#v, want nil", got)
			}
			for _, m := range got {
				if len(tc.pw) >= 3 && strings.Contains(strings.ToLower(m), strings.ToLower(tc.pw)) {
					t.Errorf("message %q: got the password echoed, want it never shown", m)
				}
			}
		})
	}
}

func TestPolicyZeroValueIsDefault(t *testing.T) {
	// The zero Policy must not mean "no minimum" (fail closed).
	tests := []struct {
		name string
		pw   string
		want []string
	}{
		{"short", "fourteen chars", []string{msgShort}},
		{"long", strings.Repeat("y", 257), []string{msgLong}},
		{"fine", "violet tractor under 9 moons", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := (password.Policy{}).Check(tc.pw, ""); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPolicyCustomLengths(t *testing.T) {
	p := password.Policy{MinLength: 20, MaxLength: 64}
	tests := []struct {
		pw   string
		want []string
	}{
		{strings.Repeat("z", 19), []string{"Must be at least 20 characters long."}},
		{strings.Repeat("z", 20), nil},
		{strings.Repeat("z", 64), nil},
		{strings.Repeat("z", 65), []string{"Must be at most 64 characters long."}},
	}
	for _, tc := range tests {
		if got := p.Check(tc.pw, ""); !slices.Equal(got, tc.want) {
			t.Errorf("%d characters: got %q, want %q", len(tc.pw), got, tc.want)
		}
	}
}

func TestPolicyMinimumNeverBelowEight(t *testing.T) {
	// Even a policy that skipped Validate never accepts fewer than 8
	// characters (NIST SP 800-63B-4 §3.1.1.2).
	tests := []struct {
		name string
		p    password.Policy
	}{
		{"min 1", password.Policy{MinLength: 1}},
		{"min 7", password.Policy{MinLength: 7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := []string{"Must be at least 8 characters long."}
			if got := tc.p.Check("violet!", ""); !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name string
		p    password.Policy
		ok   bool
	}{
		{"default", password.DefaultPolicy, true},
		{"zero", password.Policy{}, true},
		{"MFA minimum of 8", password.Policy{MinLength: 8, MaxLength: 256}, true},
		{"below NIST floor of 8", password.Policy{MinLength: 7, MaxLength: 256}, false},
		{"negative minimum", password.Policy{MinLength: -1}, false},
		{"negative maximum", password.Policy{MaxLength: -1}, false},
		{"max below 64", password.Policy{MinLength: 15, MaxLength: 63}, false},
		{"max above 4096", password.Policy{MinLength: 15, MaxLength: 4097}, false},
		{"min above max", password.Policy{MinLength: 100, MaxLength: 64}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if tc.ok && err != nil {
				t.Errorf("got %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, password.ErrInvalidPolicy) {
				t.Errorf("got %v, want %v", err, password.ErrInvalidPolicy)
			}
		})
	}
}

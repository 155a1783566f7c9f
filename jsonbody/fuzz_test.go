package jsonbody_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/jsonbody"
	"github.com/gatehouse/gatehouse/problem"
)

type fuzzItem struct {
	Name string `json:"name" required:"true" minLength:"1" maxLength:"5"`
	Qty  uint8  `json:"qty"`
}

type fuzzRequest struct {
	Username string          `json:"username" required:"true" minLength:"3" maxLength:"32" pattern:"^[a-z0-9._-]+$"`
	Email    string          `json:"email" required:"true" format:"email"`
	Age      int             `json:"age" required:"true" minimum:"13" maximum:"150"`
	Bio      *string         `json:"bio" maxLength:"10" nocontrol:"true"`
	Roles    []string        `json:"roles" maxItems:"3" enum:"user,admin" uniqueItems:"true"`
	Items    []fuzzItem      `json:"items" maxItems:"2"`
	Meta     map[string]int8 `json:"meta" maximum:"9"`
	Score    float32         `json:"score" minimum:"-1" maximum:"1"`
	Active   bool            `json:"active"`
	Extra    any             `json:"extra"`
}

// fuzzLoose has the shapes of fuzzRequest without its rules, so that most
// well-formed bodies are accepted and compared with encoding/json.
type fuzzLoose struct {
	Username string          `json:"username"`
	Age      int             `json:"age"`
	Small    int8            `json:"small"`
	Big      uint64          `json:"big"`
	Bio      *string         `json:"bio"`
	Roles    []string        `json:"roles"`
	Items    []fuzzItem      `json:"items"`
	Meta     map[string]int8 `json:"meta"`
	Score    float32         `json:"score"`
	Ratio    float64         `json:"ratio"`
	Active   *bool           `json:"active"`
	Extra    any             `json:"extra"`
	When     *time.Time      `json:"when"`
	Avatar   []byte          `json:"avatar"`
}

var fuzzUsername = regexp.MustCompile(`^[a-z0-9._-]+$`)

// FuzzDecode feeds arbitrary bodies to Decode. It checks that Decode never
// panics, that every refusal is a *problem.Problem with a status the package
// documents, and that every accepted body obeys the tag rules (checked here
// independently of the package) and decodes to exactly what encoding/json
// reads from it: one parser's reading cannot differ from the other's
// (ASVS 5.0 §1.5.3).
//
// Each body is decoded twice: into fuzzRequest, whose rules make most bodies
// fail, and into fuzzLoose, which accepts most well-formed bodies so that
// the comparison with encoding/json runs often. The seed corpus is in
// testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	var dec jsonbody.Decoder
	if err := dec.SetMaxBytes(4096); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var strict fuzzRequest
		if fuzzOne(t, &dec, body, &strict) {
			checkRules(t, &strict)
		}
		var loose fuzzLoose
		fuzzOne(t, &dec, body, &loose)
	})
}

// fuzzOne decodes body into dst, a pointer to a zero value, checks the
// invariants that hold for every type, and reports whether body was
// accepted.
func fuzzOne[T any](t *testing.T, dec *jsonbody.Decoder, body []byte, dst *T) bool {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	err := dec.Decode(httptest.NewRecorder(), r, dst)
	if err != nil {
		var p *problem.Problem
		if !errors.As(err, &p) {
			t.Fatalf("got error %v (%T), want a *problem.Problem", err, err)
		}
		switch p.Status {
		case 400, 413, 415:
			if len(p.Errors) != 0 {
				t.Errorf("got field errors %v with status %d, want none", p.Errors, p.Status)
			}
		case 422:
			checkFieldErrors(t, p.Errors)
		default:
			t.Fatalf("got status %d, want 400, 413, 415 or 422", p.Status)
		}
		var zero T
		if !reflect.DeepEqual(*dst, zero) {
			t.Errorf("got dst %+v after an error, want it unchanged", *dst)
		}
		return false
	}
	var std T
	if err := json.Unmarshal(body, &std); err != nil {
		t.Fatalf("Decode accepted %q, but encoding/json refuses it: %v", body, err)
	}
	if !reflect.DeepEqual(*dst, std) {
		t.Fatalf("Decode read %q as\n%+v\nbut encoding/json reads\n%+v", body, *dst, std)
	}
	return true
}

func checkFieldErrors(t *testing.T, errs []problem.FieldError) {
	t.Helper()
	if len(errs) == 0 || len(errs) > jsonbody.MaxErrors+1 {
		t.Fatalf("got %d field errors, want 1 to %d", len(errs), jsonbody.MaxErrors+1)
	}
	seen := map[string]bool{}
	for _, fe := range errs {
		if !strings.HasPrefix(fe.Location, "body") || fe.Message == "" {
			t.Errorf("got field error %+v, want a body location and a message", fe)
		}
		if seen[fe.Location] {
			t.Errorf("got two errors at %s, want one per location", fe.Location)
		}
		seen[fe.Location] = true
	}
}

// checkRules restates the tags of fuzzRequest in plain code.
func checkRules(t *testing.T, v *fuzzRequest) {
	t.Helper()
	if n := utf8.RuneCountInString(v.Username); n < 3 || n > 32 || !fuzzUsername.MatchString(v.Username) {
		t.Errorf("got username %q, want 3–32 of [a-z0-9._-]", v.Username)
	}
	if at := strings.IndexByte(v.Email, '@'); len(v.Email) > 254 || at < 1 || strings.Count(v.Email, "@") != 1 ||
		!strings.Contains(v.Email[at:], ".") || strings.ContainsAny(v.Email, " <>\"\\(),:;[]") {
		t.Errorf("got email %q, want a bare address", v.Email)
	}
	if v.Age < 13 || v.Age > 150 {
		t.Errorf("got age %d, want 13 to 150", v.Age)
	}
	if v.Bio != nil {
		if utf8.RuneCountInString(*v.Bio) > 10 {
			t.Errorf("got bio %q, want at most 10 characters", *v.Bio)
		}
		for _, c := range *v.Bio {
			if c < 0x20 || c >= 0x7F && c <= 0x9F {
				t.Errorf("got bio %q, want no control characters", *v.Bio)
			}
		}
	}
	if len(v.Roles) > 3 {
		t.Errorf("got %d roles, want at most 3", len(v.Roles))
	}
	seen := map[string]bool{}
	for _, r := range v.Roles {
		if r != "user" && r != "admin" || seen[r] {
			t.Errorf("got roles %q, want distinct user or admin", v.Roles)
		}
		seen[r] = true
	}
	if len(v.Items) > 2 {
		t.Errorf("got %d items, want at most 2", len(v.Items))
	}
	for _, it := range v.Items {
		if n := utf8.RuneCountInString(it.Name); n < 1 || n > 5 {
			t.Errorf("got item name %q, want 1 to 5 characters", it.Name)
		}
	}
	for k, m := range v.Meta {
		if m > 9 {
			t.Errorf("got meta[%q] = %d, want at most 9", k, m)
		}
	}
	if v.Score < -1 || v.Score > 1 {
		t.Errorf("got score %v, want -1 to 1", v.Score)
	}
	for _, s := range []string{v.Username, v.Email} {
		if !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) {
			t.Errorf("got %q, want valid text", s)
		}
	}
}

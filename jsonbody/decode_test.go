package jsonbody_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/jsonbody"
	"github.com/gatehouse/gatehouse/problem"
)

// register mirrors the registration request of API.md: username 3–32
// characters, a valid email, an age from 13 to 150, a password of at least
// 15 and at most 256 characters that does not contain the username.
type register struct {
	Username string `json:"username" required:"true" minLength:"3" maxLength:"32" pattern:"^[a-z0-9._-]+$" nocontrol:"true" doc:"Lowercase login name."`
	Email    string `json:"email" required:"true" format:"email"`
	Password string `json:"password" required:"true" minLength:"15" maxLength:"256"`
	Age      int    `json:"age" required:"true" minimum:"13" maximum:"150"`
}

// Validate holds the rule that tags cannot say: it compares two fields.
func (r *register) Validate() []problem.FieldError {
	if len(r.Username) >= 3 && strings.Contains(strings.ToLower(r.Password), r.Username) {
		return []problem.FieldError{{Location: "body.password", Message: "must not contain the username"}}
	}
	return nil
}

type item struct {
	Name string `json:"name" required:"true" minLength:"1" maxLength:"5"`
	Qty  uint8  `json:"qty"`
}

type order struct {
	Items []item          `json:"items" required:"true" minItems:"1" maxItems:"3"`
	Tags  []string        `json:"tags" maxItems:"4" maxLength:"3" enum:"a,b,ccc" uniqueItems:"true"`
	Note  *string         `json:"note" maxLength:"5" nocontrol:"true"`
	Meta  map[string]int  `json:"meta" maximum:"9"`
	Extra any             `json:"extra"`
	When  *time.Time      `json:"when"`
	Small int8            `json:"small"`
	Ratio float64         `json:"ratio" minimum:"0" maximum:"1"`
	Flags map[string]bool `json:"flags"`
}

const goodRegister = `{"username":"alice","email":"alice@example.com","password":"correct horse battery","age":30}`

func decode(d *jsonbody.Decoder, contentType, body string, dst any) error {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return d.Decode(httptest.NewRecorder(), r, dst)
}

func asProblem(t *testing.T, err error) *problem.Problem {
	t.Helper()
	var p *problem.Problem
	if !errors.As(err, &p) {
		t.Fatalf("got error %v (%T), want a *problem.Problem", err, err)
	}
	return p
}

func TestDecodeSuccess(t *testing.T) {
	var got register
	if err := decode(new(jsonbody.Decoder), "application/json", goodRegister, &got); err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	want := register{Username: "alice", Email: "alice@example.com", Password: "correct horse battery", Age: 30}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestDecodeStatus(t *testing.T) {
	small := new(jsonbody.Decoder)
	if err := small.SetMaxBytes(64); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		dec         *jsonbody.Decoder
		contentType string
		body        string
		want        int    // 0: success
		detail      string // a part of the detail, when set
	}{
		{name: "json", contentType: "application/json", body: goodRegister},
		{name: "charset utf-8", contentType: "application/json; charset=utf-8", body: goodRegister},
		{name: "media type case", contentType: "Application/JSON; Charset=UTF-8", body: goodRegister},
		{name: "other parameter", contentType: "application/json; profile=x", body: goodRegister},
		{name: "leading whitespace", contentType: "application/json", body: " \r\n\t" + goodRegister + "\n"},

		{name: "no content type", body: goodRegister, want: 415},
		{name: "text/plain", contentType: "text/plain", body: goodRegister, want: 415},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: goodRegister, want: 415},
		{name: "json suffix", contentType: "application/merge-patch+json", body: goodRegister, want: 415},
		{name: "latin1", contentType: "application/json; charset=iso-8859-1", body: goodRegister, want: 415},
		{name: "malformed", contentType: "application/json;;", body: goodRegister, want: 415},

		{name: "too large", dec: small, contentType: "application/json", body: goodRegister + strings.Repeat(" ", 64), want: 413, detail: "64 bytes"},
		{name: "at the limit", dec: small, contentType: "application/json", body: `{"username":"bob"` + strings.Repeat(" ", 64-17-1) + "}", want: 422},

		{name: "empty", contentType: "application/json", body: "", want: 400, detail: "empty"},
		{name: "blank", contentType: "application/json", body: " \n\t\r ", want: 400, detail: "empty"},
		{name: "invalid utf-8 in string", contentType: "application/json", body: `{"username":"al` + "\xff" + `ice"}`, want: 400, detail: "UTF-8"},
		{name: "invalid utf-8 in name", contentType: "application/json", body: `{"` + "\xc3\x28" + `":1}`, want: 400, detail: "UTF-8"},
		{name: "overlong utf-8", contentType: "application/json", body: `{"username":"` + "\xc0\xaf" + `"}`, want: 400, detail: "UTF-8"},
		{name: "lone high surrogate", contentType: "application/json", body: `{"username":"a\ud800b"}`, want: 400, detail: "surrogate"},
		{name: "lone low surrogate", contentType: "application/json", body: `{"username":"\udc00"}`, want: 400, detail: "surrogate"},
		{name: "surrogate in unknown field", contentType: "application/json", body: `{"x":["\ud800"]}`, want: 400, detail: "surrogate"},
		{name: "reversed surrogates", contentType: "application/json", body: `{"username":"\ude00\ud83d"}`, want: 400, detail: "surrogate"},
		{name: "syntax", contentType: "application/json", body: `{"username": secret}`, want: 400, detail: "byte"},
		{name: "truncated", contentType: "application/json", body: `{"username":"a`, want: 400, detail: "not valid JSON"},
		{name: "two values", contentType: "application/json", body: goodRegister + goodRegister, want: 400, detail: "exactly one"},
		{name: "trailing garbage", contentType: "application/json", body: goodRegister + " x", want: 400, detail: "exactly one"},
		{name: "trailing comma", contentType: "application/json", body: `{"username":"alice",}`, want: 400},
		{name: "single quotes", contentType: "application/json", body: `{'username':'alice'}`, want: 400},
		{name: "comment", contentType: "application/json", body: `{"age":30 /* x */}`, want: 400},
		{name: "NaN", contentType: "application/json", body: `{"age":NaN}`, want: 400},
		{name: "byte order mark", contentType: "application/json", body: "\ufeff" + goodRegister, want: 400},

		{name: "not an object", contentType: "application/json", body: `[]`, want: 422},
		{name: "null", contentType: "application/json", body: `null`, want: 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.dec
			if d == nil {
				d = new(jsonbody.Decoder)
			}
			var dst register
			err := decode(d, tt.contentType, tt.body, &dst)
			if tt.want == 0 {
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				return
			}
			p := asProblem(t, err)
			if p.Status != tt.want {
				t.Fatalf("got status %d (%s), want %d", p.Status, p.Detail, tt.want)
			}
			if !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("got detail %q, want it to contain %q", p.Detail, tt.detail)
			}
			// The detail describes, it never quotes: the body may hold a
			// secret, and a quoted body is a reflection vector.
			for _, secret := range []string{"secret", "alice", "username"} {
				if strings.Contains(p.Detail, secret) {
					t.Errorf("got detail %q, want no part of the body in it", p.Detail)
				}
			}
		})
	}
}

func TestDecodeHeaders(t *testing.T) {
	t.Run("two content types", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(goodRegister))
		r.Header.Add("Content-Type", "application/json")
		r.Header.Add("Content-Type", "text/plain")
		p := asProblem(t, jsonbody.Decode(httptest.NewRecorder(), r, new(register)))
		if p.Status != 415 {
			t.Errorf("got status %d, want 415", p.Status)
		}
	})
	for _, enc := range []string{"gzip", "identity, br"} {
		t.Run("content encoding "+enc, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(goodRegister))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Content-Encoding", enc)
			p := asProblem(t, jsonbody.Decode(httptest.NewRecorder(), r, new(register)))
			if p.Status != 415 {
				t.Errorf("got status %d, want 415", p.Status)
			}
			if got := p.Header.Get("Accept-Encoding"); got != "identity" {
				t.Errorf("got Accept-Encoding %q, want %q", got, "identity")
			}
		})
	}
	t.Run("content encoding identity", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(goodRegister))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Content-Encoding", "identity")
		if err := jsonbody.Decode(httptest.NewRecorder(), r, new(register)); err != nil {
			t.Errorf("got error %v, want nil", err)
		}
	})
}

// TestDecodeSize checks the three ways a body can be too large: declared,
// undeclared (chunked), and larger than declared.
func TestDecodeSize(t *testing.T) {
	d := new(jsonbody.Decoder)
	if err := d.SetMaxBytes(100); err != nil {
		t.Fatal(err)
	}
	big := `{"username":"` + strings.Repeat("a", 200) + `"}`
	tests := []struct {
		name          string
		contentLength int64
	}{
		{"declared", int64(len(big))},
		{"chunked", -1},
		{"understated", 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", io.NopCloser(strings.NewReader(big)))
			r.Header.Set("Content-Type", "application/json")
			r.ContentLength = tt.contentLength
			p := asProblem(t, d.Decode(httptest.NewRecorder(), r, new(register)))
			if p.Status != 413 {
				t.Errorf("got status %d, want 413", p.Status)
			}
		})
	}

	t.Run("default is 1 MiB", func(t *testing.T) {
		var zero jsonbody.Decoder
		if got := zero.MaxBytes(); got != 1<<20 {
			t.Errorf("got %d, want %d", got, 1<<20)
		}
		body := `{"x":"` + strings.Repeat("a", 1<<20) + `"}`
		p := asProblem(t, decode(&zero, "application/json", body, new(register)))
		if p.Status != 413 {
			t.Errorf("got status %d, want 413", p.Status)
		}
	})

	t.Run("SetMaxBytes refuses non-positive limits", func(t *testing.T) {
		for _, n := range []int64{0, -1} {
			var d jsonbody.Decoder
			if err := d.SetMaxBytes(n); err == nil {
				t.Errorf("SetMaxBytes(%d): got nil error, want one", n)
			}
			if got := d.MaxBytes(); got != jsonbody.DefaultMaxBytes {
				t.Errorf("SetMaxBytes(%d): got limit %d, want %d unchanged", n, got, jsonbody.DefaultMaxBytes)
			}
		}
	})
}

func TestDecodeReadError(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", io.NopCloser(errReader{}))
	r.Header.Set("Content-Type", "application/json")
	p := asProblem(t, jsonbody.Decode(httptest.NewRecorder(), r, new(register)))
	if p.Status != 400 {
		t.Errorf("got status %d, want 400", p.Status)
	}
	if strings.Contains(p.Detail, "boom") {
		t.Errorf("got detail %q, want no library error in it", p.Detail)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

type fe = problem.FieldError

func e(location, message string) fe { return fe{Location: location, Message: message} }

func TestDecodeFieldErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []fe
	}{
		{
			name: "unknown fields, all of them",
			body: `{"username":"alice","isAdmin":true,"email":"alice@example.com","role":"admin","password":"correct horse battery","age":30,"isAdmin":false}`,
			want: []fe{e("body.isAdmin", "unknown field"), e("body.role", "unknown field")},
		},
		{
			name: "names match exactly, not in any case",
			body: `{"Username":"alice","email":"alice@example.com","password":"correct horse battery","age":30}`,
			want: []fe{e("body.Username", "unknown field"), e("body.username", "is required")},
		},
		{
			name: "duplicate name",
			body: `{"username":"alice","username":"root","email":"alice@example.com","password":"correct horse battery","age":30}`,
			want: []fe{e("body.username", "duplicate field")},
		},
		{
			name: "duplicate name through an escape",
			body: `{"username":"alice","\u0075sername":"root","email":"alice@example.com","password":"correct horse battery","age":30}`,
			want: []fe{e("body.username", "duplicate field")},
		},
		{
			name: "escaped name is decoded",
			body: `{"\u0075sername":"alice","email":"alice@example.com","password":"correct horse battery","age":30}`,
		},
		{
			name: "missing, all of them",
			body: `{}`,
			want: []fe{e("body.username", "is required"), e("body.email", "is required"), e("body.password", "is required"), e("body.age", "is required")},
		},
		{
			name: "null is not a value",
			body: `{"username":null,"email":"alice@example.com","password":"correct horse battery","age":null}`,
			want: []fe{e("body.username", "must not be null"), e("body.age", "must not be null")},
		},
		{
			name: "wrong types",
			body: `{"username":5,"email":["a@b.c"],"password":{"x":1},"age":"30"}`,
			want: []fe{e("body.username", "must be a string"), e("body.email", "must be a string"), e("body.password", "must be a string"), e("body.age", "must be an integer")},
		},
		{
			name: "fraction",
			body: `{"username":"alice","email":"alice@example.com","password":"correct horse battery","age":13.5}`,
			want: []fe{e("body.age", "must be an integer")},
		},
		{
			name: "integral fraction",
			body: `{"username":"alice","email":"alice@example.com","password":"correct horse battery","age":30.0}`,
			want: []fe{e("body.age", "must be an integer")},
		},
		{
			name: "exponent",
			body: `{"username":"alice","email":"alice@example.com","password":"correct horse battery","age":3e1}`,
			want: []fe{e("body.age", "must be an integer")},
		},
		{
			name: "huge integer",
			body: `{"username":"alice","email":"alice@example.com","password":"correct horse battery","age":99999999999999999999999}`,
			want: []fe{e("body.age", "must be at most 150")},
		},
		{
			name: "huge negative integer",
			body: `{"username":"alice","email":"alice@example.com","password":"correct horse battery","age":-99999999999999999999999}`,
			want: []fe{e("body.age", "must be at least 13")},
		},
		{
			name: "every rule at once",
			body: `{"username":"Al","email":"alice@","password":"short","age":12}`,
			want: []fe{
				e("body.username", "must be at least 3 characters"),
				e("body.email", "must be a valid email address"),
				e("body.password", "must be at least 15 characters"),
				e("body.age", "must be at least 13"),
			},
		},
		{
			name: "pattern",
			body: `{"username":"Alice","email":"alice@example.com","password":"correct horse battery","age":151}`,
			want: []fe{e("body.username", "must match the pattern ^[a-z0-9._-]+$"), e("body.age", "must be at most 150")},
		},
		{
			name: "length counts characters, not bytes",
			body: `{"username":"` + strings.Repeat("é", 20) + `","email":"alice@example.com","password":"` + strings.Repeat("é", 8) + `","age":30}`,
			want: []fe{e("body.username", "must match the pattern ^[a-z0-9._-]+$"), e("body.password", "must be at least 15 characters")},
		},
		{
			name: "control character",
			body: `{"username":"ali\u0000ce","email":"alice@example.com","password":"correct horse battery","age":30}`,
			want: []fe{e("body.username", "must not contain control characters")},
		},
		{
			name: "Validate adds its errors",
			body: `{"username":"alice","email":"alice@example.com","password":"Alice-correct-horse","age":30}`,
			want: []fe{e("body.password", "must not contain the username")},
		},
		{
			name: "Validate and tags together, one error per field",
			body: `{"username":"alice","email":"x","password":"alice","age":30}`,
			want: []fe{e("body.email", "must be a valid email address"), e("body.password", "must be at least 15 characters")},
		},
		{
			name: "Validate is not run when the shape is wrong",
			body: `{"username":"alice","email":"alice@example.com","password":"Alice-correct-horse","age":"30"}`,
			want: []fe{e("body.age", "must be an integer")},
		},
		{
			name: "names that are not identifiers are quoted in locations",
			body: `{"a.b":1,"x[0]":2,"":3,"` + strings.Repeat("k", 100) + `":4,"username":"alice","email":"alice@example.com","password":"correct horse battery","age":30}`,
			want: []fe{
				e(`body["a.b"]`, "unknown field"),
				e(`body["x[0]"]`, "unknown field"),
				e(`body[""]`, "unknown field"),
				e(`body["`+strings.Repeat("k", 64)+`…"]`, "unknown field"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst register
			err := decode(new(jsonbody.Decoder), "application/json", tt.body, &dst)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				return
			}
			p := asProblem(t, err)
			if p.Status != 422 {
				t.Fatalf("got status %d (%s), want 422", p.Status, p.Detail)
			}
			if !slices.Equal(p.Errors, tt.want) {
				t.Errorf("got errors\n%v\nwant\n%v", p.Errors, tt.want)
			}
			if dst != (register{}) {
				t.Errorf("got dst %+v after an error, want it unchanged", dst)
			}
		})
	}
}

func TestDecodeNested(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []fe
	}{
		{name: "valid", body: `{"items":[{"name":"a","qty":2}],"tags":["a","ccc"],"note":"hi","meta":{"x":1},"extra":{"a":[1,{"b":null}]},"when":"2024-05-01T10:00:00Z","small":-128,"ratio":0.5,"flags":{"x":true}}`},
		{name: "null for optional pointer", body: `{"items":[{"name":"a"}],"note":null,"when":null}`},
		{
			name: "locations inside arrays",
			body: `{"items":[{"name":"a"},{"name":"toolong","qty":300},{"qty":1,"price":9}]}`,
			want: []fe{
				e("body.items[1].name", "must be at most 5 characters"),
				e("body.items[1].qty", "must be an integer from 0 to 255"),
				e("body.items[2].price", "unknown field"),
				e("body.items[2].name", "is required"),
			},
		},
		{
			name: "array bounds",
			body: `{"items":[],"tags":["a","b","ccc","a","b"]}`,
			want: []fe{e("body.items", "must have at least 1 item"), e("body.tags", "must have at most 4 items"), e("body.tags[3]", "duplicates an earlier item")},
		},
		{
			name: "too many items are not decoded",
			body: `{"items":[{"name":"a"},{"name":"b"},{"name":"c"},{"bad":1},{"bad":2}]}`,
			want: []fe{e("body.items", "must have at most 3 items")},
		},
		{
			name: "item rules",
			body: `{"items":[{"name":"a"}],"tags":["a","dddd","b",1,null]}`,
			want: []fe{
				e("body.tags[1]", "must be at most 3 characters"),
				e("body.tags[3]", "must be a string"),
				e("body.tags", "must have at most 4 items"),
			},
		},
		{
			name: "enum",
			body: `{"items":[{"name":"a"}],"tags":["d"]}`,
			want: []fe{e("body.tags[0]", "must be one of: a, b, ccc")},
		},
		{
			name: "pointer rules and control characters",
			body: `{"items":[{"name":"a"}],"note":"a\nb"}`,
			want: []fe{e("body.note", "must not contain control characters")},
		},
		{
			name: "C1 control character",
			body: `{"items":[{"name":"a"}],"note":"a\u0085"}`,
			want: []fe{e("body.note", "must not contain control characters")},
		},
		{
			name: "map values and names",
			body: `{"items":[{"name":"a"}],"meta":{"a":1,"b":10,"a":2,"a.b":"x"}}`,
			want: []fe{e("body.meta.b", "must be at most 9"), e("body.meta.a", "duplicate field"), e(`body.meta["a.b"]`, "must be an integer")},
		},
		{
			name: "duplicates deep inside any",
			body: `{"items":[{"name":"a"}],"extra":{"a":[{"b":1,"c":2,"b":3}],"\u0061":0}}`,
			want: []fe{e("body.extra.a[0].b", "duplicate field"), e("body.extra.a", "duplicate field")},
		},
		{
			name: "UnmarshalJSON types",
			body: `{"items":[{"name":"a"}],"when":"yesterday"}`,
			want: []fe{e("body.when", "must be an RFC 3339 date-time")},
		},
		{
			name: "int8 range",
			body: `{"items":[{"name":"a"}],"small":-129}`,
			want: []fe{e("body.small", "must be an integer from -128 to 127")},
		},
		{
			name: "float bounds",
			body: `{"items":[{"name":"a"}],"ratio":1.5}`,
			want: []fe{e("body.ratio", "must be at most 1")},
		},
		{
			name: "float overflow",
			body: `{"items":[{"name":"a"}],"ratio":1e400}`,
			want: []fe{e("body.ratio", "must be a number that fits a float64")},
		},
		{
			name: "null inside a map of non-pointers",
			body: `{"items":[{"name":"a"}],"flags":{"x":null}}`,
			want: []fe{e("body.flags.x", "must not be null")},
		},
		{
			name: "object where an array belongs",
			body: `{"items":{"name":"a"}}`,
			want: []fe{e("body.items", "must be an array")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst order
			err := decode(new(jsonbody.Decoder), "application/json", tt.body, &dst)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				return
			}
			p := asProblem(t, err)
			if p.Status != 422 {
				t.Fatalf("got status %d (%s), want 422", p.Status, p.Detail)
			}
			if !slices.Equal(p.Errors, tt.want) {
				t.Errorf("got errors\n%v\nwant\n%v", p.Errors, tt.want)
			}
		})
	}
}

func TestDecodeValues(t *testing.T) {
	var o order
	body := `{"items":[{"name":"a","qty":255}],"tags":[],"note":"h\u00e9\ud83d\ude00","extra":{"n":1.5},"when":"2024-05-01T10:00:00Z","small":-128}`
	if err := decode(new(jsonbody.Decoder), "application/json", body, &o); err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if len(o.Items) != 1 || o.Items[0] != (item{Name: "a", Qty: 255}) {
		t.Errorf("got items %+v, want [{a 255}]", o.Items)
	}
	if o.Tags == nil || len(o.Tags) != 0 {
		t.Errorf("got tags %#v, want an empty, non-nil slice", o.Tags)
	}
	if o.Note == nil || *o.Note != "hé😀" {
		t.Errorf("got note %v, want %q", o.Note, "hé😀")
	}
	if m, ok := o.Extra.(map[string]any); !ok || m["n"] != 1.5 {
		t.Errorf("got extra %#v, want map[n:1.5]", o.Extra)
	}
	if want := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC); o.When == nil || !o.When.Equal(want) {
		t.Errorf("got when %v, want %v", o.When, want)
	}
	if o.Small != -128 {
		t.Errorf("got small %d, want -128", o.Small)
	}
}

// TestDecodeKeepsDefaults checks that fields absent from the body keep the
// caller's values, and that *dst is untouched when Decode fails.
func TestDecodeKeepsDefaults(t *testing.T) {
	type page struct {
		Limit int    `json:"limit" minimum:"1" maximum:"100"`
		Sort  string `json:"sort" enum:"asc,desc"`
	}
	got := page{Limit: 20, Sort: "asc"}
	if err := decode(new(jsonbody.Decoder), "application/json", `{"sort":"desc"}`, &got); err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if want := (page{Limit: 20, Sort: "desc"}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}

	before := page{Limit: 20, Sort: "asc"}
	got = before
	if err := decode(new(jsonbody.Decoder), "application/json", `{"sort":"desc","limit":0}`, &got); err == nil {
		t.Fatal("got nil error, want one")
	}
	if got != before {
		t.Errorf("got %+v after an error, want %+v", got, before)
	}

	// A slice in *dst is replaced, never appended to or written through.
	tags := []string{"a", "b"}
	o := order{Tags: tags}
	if err := decode(new(jsonbody.Decoder), "application/json", `{"items":[{"name":"x"}],"tags":["ccc"]}`, &o); err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if !slices.Equal(o.Tags, []string{"ccc"}) || !slices.Equal(tags, []string{"a", "b"}) {
		t.Errorf("got tags %v and original %v, want [ccc] and [a b]", o.Tags, tags)
	}
}

func TestDecodeTooManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 80 {
		fmt.Fprintf(&b, `"x%d":1,`, i)
	}
	b.WriteString(`"y":1}`)
	p := asProblem(t, decode(new(jsonbody.Decoder), "application/json", b.String(), new(register)))
	if got, want := len(p.Errors), jsonbody.MaxErrors+1; got != want {
		t.Fatalf("got %d errors, want %d", got, want)
	}
	if last := p.Errors[len(p.Errors)-1]; last.Location != "body" {
		t.Errorf("got last error %v, want one at body", last)
	}
}

// TestDecodeDeepDuplicates checks that a deep body full of duplicate names
// gives a bounded response: locations stop at 32 steps and the list at
// MaxErrors.
func TestDecodeDeepDuplicates(t *testing.T) {
	const depth = 5000
	body := `{"items":[{"name":"a"}],"extra":` + strings.Repeat(`{"a":0,"a":`, depth) + "0" + strings.Repeat("}", depth) + "}"
	p := asProblem(t, decode(new(jsonbody.Decoder), "application/json", body, new(order)))
	if p.Status != 422 {
		t.Fatalf("got status %d, want 422", p.Status)
	}
	if got := len(p.Errors); got > jsonbody.MaxErrors+1 {
		t.Errorf("got %d errors, want at most %d", got, jsonbody.MaxErrors+1)
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > 16<<10 {
		t.Errorf("got a %d-byte problem for a %d-byte body, want at most 16 KiB", len(out), len(body))
	}
	// Deeper locations are all cut to the same one, which is listed once.
	if last := p.Errors[len(p.Errors)-1].Location; !strings.HasSuffix(last, "…") || strings.Count(last, ".") != 32 {
		t.Errorf("got location %q, want 32 steps cut short with …", last)
	}
}

func TestDecodeEmbedded(t *testing.T) {
	type Base struct {
		ID string `json:"id" required:"true"`
	}
	type withBase struct {
		Base
		Name string `json:"name"`
	}
	var got withBase
	if err := decode(new(jsonbody.Decoder), "application/json", `{"id":"1","name":"n"}`, &got); err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if got.ID != "1" || got.Name != "n" {
		t.Errorf("got %+v, want ID 1 and name n", got)
	}
	p := asProblem(t, decode(new(jsonbody.Decoder), "application/json", `{"name":"n"}`, &got))
	if want := []fe{e("body.id", "is required")}; !slices.Equal(p.Errors, want) {
		t.Errorf("got %v, want %v", p.Errors, want)
	}
}

// Types with mistakes in their tags. Each must be refused with an error that
// is not a *problem.Problem, so problem.Respond answers 500 and logs it.
type (
	badTypo struct {
		Name string `json:"name" minlength:"3"`
	}
	badKeyword struct {
		Age int `json:"age" minLength:"3"`
	}
	badPattern struct {
		Name string `json:"name" pattern:"("`
	}
	badEnumOnInt struct {
		N int `json:"n" enum:"1,2"`
	}
	badUnique struct {
		Items []item `json:"items" uniqueItems:"true"`
	}
	badRequired struct {
		Name string `json:"name" required:"yes"`
	}
	badBounds struct {
		N int8 `json:"n" maximum:"300"`
	}
	badOrder struct {
		Name string `json:"name" minLength:"5" maxLength:"3"`
	}
	badString struct {
		N int `json:"n,string"`
	}
	badRecursive struct {
		Children []badRecursive `json:"children"`
	}
	badChan struct {
		C chan int `json:"c"`
	}
	badFormat struct {
		U string `json:"u" format:"uri"`
	}
	badItemsOnString struct {
		S string `json:"s" maxItems:"3"`
	}
	badSkipped struct {
		S string `json:"-" required:"true"`
	}
)

func TestCheckType(t *testing.T) {
	bad := []any{
		badTypo{}, badKeyword{}, badPattern{}, badEnumOnInt{}, badUnique{}, badRequired{},
		badBounds{}, badOrder{}, badString{}, badRecursive{},
		badChan{}, badFormat{}, badItemsOnString{}, badSkipped{},
		// Built with reflect, since vet rightly refuses to compile these tags.
		reflect.New(reflect.StructOf([]reflect.StructField{
			{Name: "name", PkgPath: "jsonbody_test", Type: reflect.TypeFor[string](), Tag: `json:"name"`},
		})).Interface(),
		reflect.New(reflect.StructOf([]reflect.StructField{
			{Name: "A", Type: reflect.TypeFor[string](), Tag: `json:"x"`},
			{Name: "B", Type: reflect.TypeFor[string](), Tag: `json:"x"`},
		})).Interface(),
	}
	for _, v := range bad {
		t.Run(fmt.Sprintf("%T", v), func(t *testing.T) {
			err := jsonbody.CheckType(v)
			if err == nil {
				t.Fatal("got nil error, want one")
			}
		})
	}
	t.Run("Decode reports a bad type as an internal error", func(t *testing.T) {
		err := decode(new(jsonbody.Decoder), "application/json", `{"name":"x"}`, new(badTypo))
		var p *problem.Problem
		if err == nil || errors.As(err, &p) {
			t.Errorf("got %v, want an error that is not a *problem.Problem", err)
		}
	})
	t.Run("Decode needs a non-nil pointer", func(t *testing.T) {
		for _, dst := range []any{register{}, (*register)(nil), nil} {
			err := decode(new(jsonbody.Decoder), "application/json", goodRegister, dst)
			var p *problem.Problem
			if err == nil || errors.As(err, &p) {
				t.Errorf("Decode(%T): got %v, want an error that is not a *problem.Problem", dst, err)
			}
		}
	})
	for _, v := range []any{register{}, &order{}} {
		if err := jsonbody.CheckType(v); err != nil {
			t.Errorf("CheckType(%T): got %v, want nil", v, err)
		}
	}
}

// TestCheckTypeMalformedTag checks that a tag reflect cannot parse ends the
// scan for misspelt keywords instead of looping.
func TestCheckTypeMalformedTag(t *testing.T) {
	typ := reflect.StructOf([]reflect.StructField{
		{Name: "N", Type: reflect.TypeFor[string](), Tag: `json:"n" minLength:"3`},
	})
	if err := jsonbody.CheckType(reflect.New(typ).Interface()); err != nil {
		t.Errorf("got %v, want nil: reflect ignores the malformed part", err)
	}
}

func TestDecodeRawMessage(t *testing.T) {
	type hook struct {
		Payload json.RawMessage `json:"payload"`
	}
	tests := []struct {
		body string
		want string // "" when an error is expected
	}{
		{`{"payload":{"a":[1,2]}}`, `{"a":[1,2]}`},
		{`{"payload":null}`, "-"},
		{`{"payload":{"a":1,"a":2}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			var got hook
			err := decode(new(jsonbody.Decoder), "application/json", tt.body, &got)
			switch {
			case tt.want == "" && err == nil:
				t.Errorf("got nil error, want one")
			case tt.want == "-" && (err != nil || got.Payload != nil):
				t.Errorf("got %q, %v, want nil payload and nil error", got.Payload, err)
			case tt.want != "" && tt.want != "-" && (err != nil || string(got.Payload) != tt.want):
				t.Errorf("got %q, %v, want %q", got.Payload, err, tt.want)
			}
		})
	}
}

// TestDecodeConcurrent runs decodes of one type side by side, so that the
// race detector sees the type cache and the decoder pool in use.
func TestDecodeConcurrent(t *testing.T) {
	type req struct {
		N    int    `json:"n" required:"true" minimum:"0"`
		Name string `json:"name" required:"true" maxLength:"8"`
	}
	for i := range 16 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("n%d", i)
			for j := range 50 {
				var got req
				body := fmt.Sprintf(`{"n":%d,"name":%q}`, j, name)
				if err := decode(new(jsonbody.Decoder), "application/json", body, &got); err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				if got.N != j || got.Name != name {
					t.Fatalf("got %+v, want {%d %s}", got, j, name)
				}
				p := asProblem(t, decode(new(jsonbody.Decoder), "application/json", `{"n":-1,"name":"toolongname","x\u0041":1}`, &got))
				if want := []fe{e("body.n", "must be at least 0"), e("body.name", "must be at most 8 characters"), e("body.xA", "unknown field")}; !slices.Equal(p.Errors, want) {
					t.Fatalf("got %v, want %v", p.Errors, want)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	body := []byte(goodRegister)
	rd := strings.NewReader("")
	r := httptest.NewRequest(http.MethodPost, "/v1/users", nil)
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(goodRegister)
		r.Body = io.NopCloser(rd)
		r.ContentLength = int64(len(body))
		var dst register
		if err := jsonbody.Decode(w, r, &dst); err != nil {
			b.Fatal(err)
		}
	}
}

func TestUnmarshal(t *testing.T) {
	type req struct {
		Name string `json:"name" required:"true" maxLength:"5"`
		Age  int    `json:"age" minimum:"1"`
	}
	var ok req
	if err := jsonbody.Unmarshal([]byte(`{"name":"abc","age":3}`), &ok); err != nil || ok.Name != "abc" || ok.Age != 3 {
		t.Fatalf("got %+v, %v; want {abc 3}, nil", ok, err)
	}
	var bad req
	err := jsonbody.Unmarshal([]byte(`{"name":"abcdef","age":0,"x":1}`), &bad)
	var p *problem.Problem
	if !errors.As(err, &p) || p.Status != 422 || len(p.Errors) != 3 {
		t.Fatalf("got %v, want a 422 problem with 3 errors", err)
	}
	if err := jsonbody.Unmarshal([]byte(`{}`), bad); err == nil {
		t.Errorf("non-pointer: got nil error, want one")
	}
}

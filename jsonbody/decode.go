package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/problem"
)

// DefaultMaxBytes is the largest body a zero Decoder accepts: 1 MiB.
const DefaultMaxBytes = 1 << 20

// Validator is implemented by request types with rules that tags cannot
// say, such as rules between fields. Validate returns one error per bad
// field, with full locations ("body.password"); nil means valid.
type Validator interface {
	Validate() []problem.FieldError
}

// Decoder reads JSON request bodies. The zero value is ready to use and
// accepts bodies up to [DefaultMaxBytes]. A Decoder is safe for concurrent
// use once configured.
type Decoder struct {
	maxBytes int64
}

// SetMaxBytes sets the largest body, in bytes, that d accepts; larger ones
// are answered 413. Routes that take small bodies should lower it: the limit
// bounds the memory and time one request can cost (ASVS 5.0 §15.2.2, OWASP
// API4:2023). It returns an error, and leaves d unchanged, when n < 1.
func (d *Decoder) SetMaxBytes(n int64) error {
	if n < 1 {
		return fmt.Errorf("jsonbody: max bytes must be at least 1, got %d", n)
	}
	d.maxBytes = n
	return nil
}

// MaxBytes returns the largest body d accepts.
func (d *Decoder) MaxBytes() int64 {
	if d.maxBytes == 0 {
		return DefaultMaxBytes
	}
	return d.maxBytes
}

// Decode reads the body of r into dst, a non-nil pointer, with a zero
// [Decoder]. See [Decoder.Decode].
func Decode(w http.ResponseWriter, r *http.Request, dst any) error {
	var d Decoder
	return d.Decode(w, r, dst)
}

// Decode reads the body of r into dst, which must be a non-nil pointer, and
// checks it against the tag rules of dst's type and its Validate method.
//
// Every refusal caused by the request is a *problem.Problem with status 400,
// 413, 415 or 422; the package documentation lists them. Any other error is
// a programming error (dst is not a pointer, or its type has bad tags) and
// is safe to pass to problem.Respond, which answers a generic 500. *dst is
// changed only when Decode returns nil.
//
// w is used by http.MaxBytesReader to close the connection after a body
// that is too large; Decode writes nothing to it.
func (d *Decoder) Decode(w http.ResponseWriter, r *http.Request, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("jsonbody: Decode needs a non-nil pointer, got %T", dst)
	}
	n, err := rootFor(rv.Type().Elem())
	if err != nil {
		return err
	}
	if p := checkHeaders(r.Header); p != nil {
		return p
	}
	body, p := d.read(w, r)
	if p != nil {
		return p
	}
	if p := decodeBody(body, n, rv); p != nil {
		return p
	}
	return nil
}

// checkHeaders refuses bodies that are not plain UTF-8 JSON. The check fails
// closed: a missing, repeated or malformed Content-Type is refused rather
// than guessed at, since a body whose type is guessed can be sent by a
// cross-site form (text/plain) that no CORS preflight guards.
func checkHeaders(h http.Header) *problem.Problem {
	ct := h.Values("Content-Type")
	if len(ct) != 1 || !isJSON(ct[0]) {
		return problem.New(http.StatusUnsupportedMediaType,
			"The request body must be JSON, sent with Content-Type: application/json.")
	}
	// A compressed body would be read as bytes that are not JSON, or
	// decompressed without the size limit applying to the result. None is
	// accepted; RFC 9110 §15.5.16 and RFC 7694 §3 say to answer 415 with
	// Accept-Encoding naming what is.
	for _, v := range h.Values("Content-Encoding") {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
				return problem.New(http.StatusUnsupportedMediaType,
					"The request body must not be compressed.").With("Accept-Encoding", "identity")
			}
		}
	}
	return nil
}

// isJSON reports whether a Content-Type value is application/json. Media
// types are case-insensitive (RFC 9110 §8.3.1). Parameters are allowed, but
// a charset must be utf-8: RFC 8259 §8.1 requires UTF-8 and this package
// never transcodes.
func isJSON(v string) bool {
	if strings.EqualFold(v, "application/json") || strings.EqualFold(v, "application/json; charset=utf-8") {
		return true // the common cases, without the allocations of ParseMediaType
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil || mt != "application/json" {
		return false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return false
	}
	return true
}

// read reads the whole body, up to the limit.
func (d *Decoder) read(w http.ResponseWriter, r *http.Request) ([]byte, *problem.Problem) {
	limit := d.MaxBytes()
	tooLarge := func() *problem.Problem {
		return problem.New(http.StatusRequestEntityTooLarge,
			"The request body must not be larger than "+strconv.FormatInt(limit, 10)+" bytes.")
	}
	// A declared length over the limit is refused before reading anything.
	if r.ContentLength > limit {
		return nil, tooLarge()
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	size := int64(512)
	if r.ContentLength >= 0 {
		size = r.ContentLength + 1 // +1: room to see EOF without growing
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return nil, tooLarge()
			}
			// The client went away or was too slow; nobody may read this.
			return nil, problem.New(http.StatusBadRequest, "The request body could not be read.")
		}
	}
}

// decodeBody checks and decodes body into the value rv points to.
func decodeBody(body []byte, n *node, rv reflect.Value) *problem.Problem {
	if isBlank(body) {
		return problem.New(http.StatusBadRequest, "The request body is empty; it must be one JSON value.")
	}
	// encoding/json replaces invalid UTF-8 with U+FFFD, so two readers of
	// the same bytes could see different strings (ASVS 5.0 §1.5.3). RFC 8259
	// §8.1 requires UTF-8; anything else is refused before parsing.
	if !utf8.Valid(body) {
		return problem.New(http.StatusBadRequest, "The request body is not valid UTF-8.")
	}
	if !json.Valid(body) {
		return problem.New(http.StatusBadRequest, syntaxDetail(body))
	}

	d := getDecoder(body)
	defer putDecoder(d)
	v := reflect.New(rv.Type().Elem())
	v.Elem().Set(rv.Elem()) // absent fields keep the caller's values
	d.value(n, v.Elem())
	if d.badText {
		return problem.New(http.StatusBadRequest,
			"The request body holds a \\u escape of an unpaired surrogate, which is not a character.")
	}
	if !d.shape {
		if val, ok := v.Interface().(Validator); ok {
			for _, fe := range val.Validate() {
				addError(&d.errs, &d.more, fe)
			}
		}
	}
	if len(d.errs) > 0 {
		errs := d.errs
		if d.more {
			errs = append(errs, problem.FieldError{
				Location: "body",
				Message:  "may have more errors; only the first " + strconv.Itoa(MaxErrors) + " are listed",
			})
		}
		return problem.Validation(errs...)
	}
	rv.Elem().Set(v.Elem())
	return nil
}

// isBlank reports whether b holds only JSON whitespace (RFC 8259 §2).
func isBlank(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return true
}

// syntaxDetail describes a body that is not exactly one JSON value. It gives
// the byte offset of the problem but never the input or the parser's own
// message, which quotes it.
func syntaxDetail(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw json.RawMessage
	err := dec.Decode(&raw)
	if err == nil {
		return "The request body must hold exactly one JSON value; more data follows it at byte " +
			strconv.FormatInt(dec.InputOffset(), 10) + "."
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return "The request body is not valid JSON (error at byte " + strconv.FormatInt(se.Offset, 10) + ")."
	}
	return "The request body is not valid JSON (it ends too early)."
}

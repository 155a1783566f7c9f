package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

var errJSON = errors.New("auth: invalid JSON")

// decodeObject decodes data, which must be exactly one JSON object, into its
// members keyed by their exact names.
//
// It refuses invalid UTF-8 (RFC 7515 §5.2 step 4, RFC 7519 §7.2 step 4) and
// duplicate member names at any depth. RFC 7515 §5.2 lets a JWS parser either
// reject duplicates or take the last one; taking one silently is what
// makes "two parsers disagree on alg" attacks possible, so this fails closed.
// Member names are compared exactly (JOSE names are case-sensitive): unlike
// decoding into a struct with encoding/json, "ALG" never stands for "alg".
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(data) {
		return nil, errJSON
	}
	if err := checkDuplicates(data); err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return nil, errJSON
	}
	return m, nil
}

// jsonFrame is one open container while checkDuplicates walks a document.
type jsonFrame struct {
	names   map[string]struct{} // nil for an array
	wantKey bool                // an object expects a member name next
}

// checkDuplicates walks every token of data and reports an error for a
// repeated member name within one object, for a top-level value that is not
// an object, and for anything after the first value.
func checkDuplicates(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []jsonFrame
	started := false
	for {
		t, err := dec.Token()
		if err == io.EOF {
			if len(stack) != 0 || !started {
				return errJSON
			}
			return nil
		}
		if err != nil {
			return errJSON
		}
		if !started {
			if t != json.Delim('{') {
				return errJSON
			}
			started = true
			stack = append(stack, jsonFrame{names: map[string]struct{}{}, wantKey: true})
			continue
		}
		if len(stack) == 0 {
			return errJSON // a second top-level value
		}
		top := &stack[len(stack)-1]
		if top.names != nil && top.wantKey {
			if t == json.Delim('}') {
				stack = valueDone(stack[:len(stack)-1])
				continue
			}
			name, ok := t.(string)
			if !ok {
				return errJSON
			}
			if _, dup := top.names[name]; dup {
				return errJSON
			}
			top.names[name] = struct{}{}
			top.wantKey = false
			continue
		}
		switch t {
		case json.Delim('{'):
			stack = append(stack, jsonFrame{names: map[string]struct{}{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, jsonFrame{})
		case json.Delim(']'), json.Delim('}'):
			stack = valueDone(stack[:len(stack)-1])
		default:
			stack = valueDone(stack)
		}
	}
}

// valueDone records that the innermost container got a complete value: an
// object then expects its next member name.
func valueDone(stack []jsonFrame) []jsonFrame {
	if n := len(stack); n > 0 && stack[n-1].names != nil {
		stack[n-1].wantKey = true
	}
	return stack
}

// jsonString returns the value of a member that must be a JSON string.
// An absent member, null or any other type reports false.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// maxNumericDate is 9999-12-31T23:59:59Z; later values are refused rather
// than overflowing time arithmetic.
const maxNumericDate = 253402300799

// numericDate parses an RFC 7519 §2 NumericDate: a JSON number (never a
// string) of seconds since the epoch, possibly with a fraction.
func numericDate(raw json.RawMessage) (time.Time, bool) {
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return time.Time{}, false
	}
	// raw was validated as a JSON number by the decoder, so ParseFloat sees
	// only JSON number syntax (no "Inf", hex or underscores).
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		if n < 0 || n > maxNumericDate {
			return time.Time{}, false
		}
		return time.Unix(n, 0), true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

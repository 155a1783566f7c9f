package jsonbody

import (
	"fmt"
	"reflect"
)

// Unmarshal decodes data into dst with exactly the checks Decode applies to
// a request body (one JSON value, valid UTF-8, no unknown or duplicate keys,
// tag rules, the Validate method), for input that arrives other than as an
// HTTP body, such as a command line, so that every entry point enforces one
// set of rules. Refusals are *problem.Problem values as with Decode; a
// non-pointer dst or bad tags give a plain error (a programming error).
func Unmarshal(data []byte, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("jsonbody: Unmarshal needs a non-nil pointer, got %T", dst)
	}
	n, err := rootFor(rv.Type().Elem())
	if err != nil {
		return err
	}
	if p := decodeBody(data, n, rv); p != nil {
		return p
	}
	return nil
}

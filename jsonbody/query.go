package jsonbody

import (
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/problem"
)

// queryValue returns the one value of the query parameter name, or ok=false
// when it is absent or empty. The query is parsed strictly: a malformed
// escape or a ';' separator is an error rather than a silently dropped
// parameter, and a parameter given twice is an error rather than "first one
// wins", since a proxy or cache may pick a different one (HTTP parameter
// pollution, ASVS 5.0 §15.3.7).
func queryValue(r *http.Request, name string) (value string, ok bool, fe *problem.FieldError) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", false, &problem.FieldError{Location: "query", Message: "is not a valid query string"}
	}
	vs := q[name]
	switch {
	case len(vs) > 1:
		return "", false, &problem.FieldError{Location: "query." + name, Message: "must be given at most once"}
	case len(vs) == 0 || vs[0] == "":
		return "", false, nil
	}
	return vs[0], true, nil
}

// QueryInt returns the integer query parameter name: def when it is absent
// or empty, otherwise a decimal integer from min to max. A bad value gives a
// field error located at "query.<name>" and def.
func QueryInt(r *http.Request, name string, def, min, max int) (int, *problem.FieldError) {
	s, ok, fe := queryValue(r, name)
	if fe != nil || !ok {
		return def, fe
	}
	msg := "must be an integer from " + strconv.Itoa(min) + " to " + strconv.Itoa(max)
	// ParseInt accepts a leading '+'; nothing else that is not a digit.
	n, err := strconv.ParseInt(s, 10, strconv.IntSize)
	if err != nil || n < int64(min) || n > int64(max) {
		return def, &problem.FieldError{Location: "query." + name, Message: msg}
	}
	return int(n), nil
}

// QueryString returns the text query parameter name, "" when it is absent.
// The value must be valid UTF-8, hold no control characters and be at most
// maxLength characters; a bad value gives a field error located at
// "query.<name>" and "".
func QueryString(r *http.Request, name string, maxLength int) (string, *problem.FieldError) {
	s, ok, fe := queryValue(r, name)
	if fe != nil || !ok {
		return "", fe
	}
	loc := "query." + name
	switch {
	case !utf8.ValidString(s):
		return "", &problem.FieldError{Location: loc, Message: "must be valid UTF-8"}
	case hasControl(s):
		return "", &problem.FieldError{Location: loc, Message: "must not contain control characters"}
	case utf8.RuneCountInString(s) > maxLength:
		return "", &problem.FieldError{Location: loc, Message: "must be at most " + chars(maxLength)}
	}
	return s, nil
}

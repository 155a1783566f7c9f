package ratelimit

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxLimit is the largest request count a Rate may allow per period. It
// keeps the emission interval (Period/Limit) at one microsecond or more.
const MaxLimit = 1_000_000

// MaxPeriod is the longest period a Rate may have.
const MaxPeriod = 366 * 24 * time.Hour

// A Rate allows Limit requests per Period. The limit is also the burst: a
// key that has been idle for a whole period may send Limit requests at once,
// and after that one request every Period/Limit (see Store).
type Rate struct {
	Limit  int           // requests per period, 1 to MaxLimit
	Period time.Duration // whole seconds, 1s to MaxPeriod
}

// ErrInvalidRate is wrapped by every error about a bad Rate.
var ErrInvalidRate = errors.New("invalid rate")

// Validate reports whether r can be enforced and advertised. The period must
// be whole seconds because the RateLimit-Policy w parameter is an Integer of
// seconds without sub-second precision (draft-ietf-httpapi-ratelimit-headers
// §3.1.3).
func (r Rate) Validate() error {
	switch {
	case r.Limit < 1 || r.Limit > MaxLimit:
		return fmt.Errorf("%w: limit %d is not between 1 and %d", ErrInvalidRate, r.Limit, MaxLimit)
	case r.Period < time.Second || r.Period > MaxPeriod:
		return fmt.Errorf("%w: period %s is not between 1s and %s", ErrInvalidRate, r.Period, MaxPeriod)
	case r.Period%time.Second != 0:
		return fmt.Errorf("%w: period %s is not a whole number of seconds", ErrInvalidRate, r.Period)
	}
	return nil
}

// Interval is the emission interval Period/Limit: after a burst, one more
// request is allowed every Interval.
func (r Rate) Interval() time.Duration {
	if r.Limit < 1 {
		return 0
	}
	return r.Period / time.Duration(r.Limit)
}

// String formats r as ParseRate reads it, "5/minute", or as "5/90s" when the
// period is not one of the named units.
func (r Rate) String() string {
	n := strconv.Itoa(r.Limit)
	switch r.Period {
	case time.Second:
		return n + "/second"
	case time.Minute:
		return n + "/minute"
	case time.Hour:
		return n + "/hour"
	case 24 * time.Hour:
		return n + "/day"
	}
	return n + "/" + r.Period.String()
}

var units = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
}

// ParseRate parses a rate written as "N/unit", the form of --rate-limit and
// of slowapi: "5/minute", "100/hour". N is a decimal count from 1 to
// MaxLimit (digits only, no sign). The unit is second, minute, hour or day,
// in the singular or plural, or abbreviated as s, sec, m, min, h or d;
// letter case does not matter. Spaces around N and the unit are allowed.
// There is no multiplier ("5/10 minutes"); choose the unit whose rate
// matches.
func ParseRate(s string) (Rate, error) {
	num, unit, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("%w %q: want N/unit, such as 5/minute", ErrInvalidRate, s)
	}
	num, unit = strings.TrimSpace(num), strings.ToLower(strings.TrimSpace(unit))
	period, ok := units[unit]
	if !ok {
		return Rate{}, fmt.Errorf("%w %q: unit %q is not second, minute, hour or day", ErrInvalidRate, s, unit)
	}
	if num == "" || len(num) > 7 || strings.Trim(num, "0123456789") != "" {
		return Rate{}, fmt.Errorf("%w %q: count %q is not a number from 1 to %d", ErrInvalidRate, s, num, MaxLimit)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > MaxLimit {
		return Rate{}, fmt.Errorf("%w %q: count %q is not a number from 1 to %d", ErrInvalidRate, s, num, MaxLimit)
	}
	return Rate{Limit: n, Period: period}, nil
}

// ParseRule parses a --rate-limit flag value such as
// "POST /v1/auth/token=5/minute": a net/http.ServeMux pattern, "=", and a
// rate for ParseRate. It splits at the last "=", since a rate never holds
// one and a pattern may. The pattern is checked by registering it on a
// scratch ServeMux, so it is exactly what the running Go version accepts.
func ParseRule(s string) (pattern string, rate Rate, err error) {
	i := strings.LastIndexByte(s, '=')
	if i < 0 {
		return "", Rate{}, fmt.Errorf("rate limit rule %q: want PATTERN=RATE, such as \"POST /v1/auth/token=5/minute\"", s)
	}
	pattern = strings.TrimSpace(s[:i])
	if err := checkPattern(pattern); err != nil {
		return "", Rate{}, fmt.Errorf("rate limit rule %q: pattern %q: %w", s, pattern, err)
	}
	rate, err = ParseRate(s[i+1:])
	if err != nil {
		return "", Rate{}, fmt.Errorf("rate limit rule %q: %w", s, err)
	}
	return pattern, rate, nil
}

// checkPattern reports whether http.ServeMux accepts pattern. ServeMux has
// no parse function; Handle panics on a bad pattern, which is turned into an
// error here.
func checkPattern(pattern string) (err error) {
	if pattern == "" {
		return errors.New("empty")
	}
	defer func() {
		if v := recover(); v != nil {
			msg := fmt.Sprint(v)
			// "parsing "X": at offset 3: bad method" → keep the reason only.
			if j := strings.LastIndex(msg, ": "); j >= 0 {
				msg = msg[j+2:]
			}
			err = errors.New(msg)
		}
	}()
	http.NewServeMux().Handle(pattern, http.NotFoundHandler())
	return nil
}

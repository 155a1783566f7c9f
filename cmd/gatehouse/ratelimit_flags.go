package main

import (
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/ratelimit"
)

// rateLimitFlag collects --rate-limit 'METHOD /path=N/period' rules. The
// pattern "*" sets the general per-user limit over all authenticated
// routes. One value may hold several rules separated by commas (for the
// GATEHOUSE_RATE_LIMIT variable).
type rateLimitFlag struct {
	rules map[string]ratelimit.Rate
	user  ratelimit.Rate
}

func (f *rateLimitFlag) String() string {
	if f == nil {
		return ""
	}
	var parts []string
	for p, r := range f.rules {
		parts = append(parts, p+"="+r.String())
	}
	return strings.Join(parts, ",")
}

func (f *rateLimitFlag) Set(v string) error {
	for _, rule := range strings.Split(v, ",") {
		rule = strings.TrimSpace(rule)
		if rule == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(rule, "*="); ok {
			r, err := ratelimit.ParseRate(rest)
			if err != nil {
				return err
			}
			f.user = r
			continue
		}
		pattern, r, err := ratelimit.ParseRule(rule)
		if err != nil {
			return err
		}
		if f.rules == nil {
			f.rules = map[string]ratelimit.Rate{}
		}
		if _, dup := f.rules[pattern]; dup {
			return fmt.Errorf("%s is limited twice", pattern)
		}
		f.rules[pattern] = r
	}
	return nil
}

package ratelimit_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/ratelimit"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    ratelimit.Rate
		wantErr string // substring of the error; "" for success
	}{
		{in: "5/minute", want: ratelimit.Rate{Limit: 5, Period: time.Minute}},
		{in: "1/second", want: ratelimit.Rate{Limit: 1, Period: time.Second}},
		{in: "100/hour", want: ratelimit.Rate{Limit: 100, Period: time.Hour}},
		{in: "1000/day", want: ratelimit.Rate{Limit: 1000, Period: 24 * time.Hour}},
		{in: "10/seconds", want: ratelimit.Rate{Limit: 10, Period: time.Second}},
		{in: "10/minutes", want: ratelimit.Rate{Limit: 10, Period: time.Minute}},
		{in: "10/hours", want: ratelimit.Rate{Limit: 10, Period: time.Hour}},
		{in: "10/days", want: ratelimit.Rate{Limit: 10, Period: 24 * time.Hour}},
		{in: "3/s", want: ratelimit.Rate{Limit: 3, Period: time.Second}},
		{in: "3/sec", want: ratelimit.Rate{Limit: 3, Period: time.Second}},
		{in: "3/m", want: ratelimit.Rate{Limit: 3, Period: time.Minute}},
		{in: "3/min", want: ratelimit.Rate{Limit: 3, Period: time.Minute}},
		{in: "3/h", want: ratelimit.Rate{Limit: 3, Period: time.Hour}},
		{in: "3/d", want: ratelimit.Rate{Limit: 3, Period: 24 * time.Hour}},
		{in: " 5 / Minute ", want: ratelimit.Rate{Limit: 5, Period: time.Minute}},
		{in: "005/MINUTE", want: ratelimit.Rate{Limit: 5, Period: time.Minute}},
		{in: "1000000/second", want: ratelimit.Rate{Limit: 1000000, Period: time.Second}},

		{in: "", wantErr: `want N/unit`},
		{in: "5", wantErr: `want N/unit`},
		{in: "5 per minute", wantErr: `want N/unit`},
		{in: "0/minute", wantErr: `count "0" is not a number from 1 to 1000000`},
		{in: "-1/minute", wantErr: `count "-1"`},
		{in: "+1/minute", wantErr: `count "+1"`},
		{in: "1000001/second", wantErr: `count "1000001"`},
		{in: "99999999999999999999/second", wantErr: `count "99999999999999999999"`},
		{in: "1.5/minute", wantErr: `count "1.5"`},
		{in: "/minute", wantErr: `count ""`},
		{in: "5/", wantErr: `unit "" is not second, minute, hour or day`},
		{in: "5/week", wantErr: `unit "week"`},
		{in: "5/10 minutes", wantErr: `unit "10 minutes"`},
		{in: "5/minute/hour", wantErr: `unit "minute/hour"`},
		{in: "five/minute", wantErr: `count "five"`},
		{in: "５/minute", wantErr: `count "５"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ratelimit.ParseRate(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				if !errors.Is(err, ratelimit.ErrInvalidRate) {
					t.Errorf("got %v, want it to wrap ErrInvalidRate", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("got Validate error %v, want nil", err)
			}
		})
	}
}

func TestRateValidate(t *testing.T) {
	tests := []struct {
		rate ratelimit.Rate
		ok   bool
	}{
		{ratelimit.Rate{Limit: 5, Period: time.Minute}, true},
		{ratelimit.Rate{Limit: 7, Period: 90 * time.Second}, true},
		{ratelimit.Rate{Limit: 1, Period: ratelimit.MaxPeriod}, true},
		{ratelimit.Rate{}, false},
		{ratelimit.Rate{Limit: 0, Period: time.Minute}, false},
		{ratelimit.Rate{Limit: -1, Period: time.Minute}, false},
		{ratelimit.Rate{Limit: ratelimit.MaxLimit + 1, Period: time.Minute}, false},
		{ratelimit.Rate{Limit: 5, Period: 0}, false},
		{ratelimit.Rate{Limit: 5, Period: 500 * time.Millisecond}, false},
		{ratelimit.Rate{Limit: 5, Period: 1500 * time.Millisecond}, false},
		{ratelimit.Rate{Limit: 5, Period: ratelimit.MaxPeriod + time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.rate.String(), func(t *testing.T) {
			err := tt.rate.Validate()
			if (err == nil) != tt.ok {
				t.Errorf("got %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestRateString(t *testing.T) {
	tests := []struct {
		rate ratelimit.Rate
		want string
	}{
		{ratelimit.Rate{Limit: 5, Period: time.Minute}, "5/minute"},
		{ratelimit.Rate{Limit: 1, Period: time.Second}, "1/second"},
		{ratelimit.Rate{Limit: 2, Period: time.Hour}, "2/hour"},
		{ratelimit.Rate{Limit: 3, Period: 24 * time.Hour}, "3/day"},
		{ratelimit.Rate{Limit: 4, Period: 90 * time.Second}, "4/1m30s"},
	}
	for _, tt := range tests {
		if got := tt.rate.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestParseRule(t *testing.T) {
	tests := []struct {
		in          string
		wantPattern string
		wantRate    ratelimit.Rate
		wantErr     string
	}{
		{in: "POST /v1/auth/token=5/minute", wantPattern: "POST /v1/auth/token", wantRate: ratelimit.Rate{Limit: 5, Period: time.Minute}},
		{in: "/v1/users=100/hour", wantPattern: "/v1/users", wantRate: ratelimit.Rate{Limit: 100, Period: time.Hour}},
		{in: "GET /v1/notes/{id}=10/s", wantPattern: "GET /v1/notes/{id}", wantRate: ratelimit.Rate{Limit: 10, Period: time.Second}},
		{in: "GET example.com/=1/d", wantPattern: "GET example.com/", wantRate: ratelimit.Rate{Limit: 1, Period: 24 * time.Hour}},
		{in: "GET /a=b=2/minute", wantPattern: "GET /a=b", wantRate: ratelimit.Rate{Limit: 2, Period: time.Minute}},
		{in: " POST /v1/users = 3/minute ", wantPattern: "POST /v1/users", wantRate: ratelimit.Rate{Limit: 3, Period: time.Minute}},

		{in: "POST /v1/auth/token", wantErr: "want PATTERN=RATE"},
		{in: "=5/minute", wantErr: `pattern "": empty`},
		{in: "POST /v1/auth/token=", wantErr: "want N/unit"},
		{in: "POST /v1/auth/token=0/minute", wantErr: `count "0"`},
		{in: "POST /v1/auth/token=5/fortnight", wantErr: `unit "fortnight"`},
		{in: "POST=5/minute", wantErr: `pattern "POST"`},
		{in: "GET /{x=5/minute", wantErr: `pattern "GET /{x"`},
		{in: "GET /{a}/{a}=5/minute", wantErr: `pattern "GET /{a}/{a}"`},
		{in: "GET /{rest...}/x=5/minute", wantErr: `pattern "GET /{rest...}/x"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			pattern, rate, err := ratelimit.ParseRule(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if pattern != tt.wantPattern || rate != tt.wantRate {
				t.Errorf("got %q, %v, want %q, %v", pattern, rate, tt.wantPattern, tt.wantRate)
			}
		})
	}
}

func FuzzParseRate(f *testing.F) {
	f.Add("5/minute")
	f.Fuzz(func(t *testing.T, s string) {
		rate, err := ratelimit.ParseRate(s)
		if err != nil {
			if !errors.Is(err, ratelimit.ErrInvalidRate) {
				t.Fatalf("got error %v, want it to wrap ErrInvalidRate", err)
			}
			return
		}
		if err := rate.Validate(); err != nil {
			t.Fatalf("ParseRate(%q) = %v, which fails Validate: %v", s, rate, err)
		}
		again, err := ratelimit.ParseRate(rate.String())
		if err != nil || again != rate {
			t.Fatalf("got %v, %v from ParseRate(%q), want %v", again, err, rate.String(), rate)
		}
	})
}

func FuzzParseRule(f *testing.F) {
	f.Add("POST /v1/auth/token=5/minute")
	f.Fuzz(func(t *testing.T, s string) {
		pattern, rate, err := ratelimit.ParseRule(s)
		if err != nil {
			return
		}
		if pattern == "" {
			t.Fatalf("ParseRule(%q) returned an empty pattern", s)
		}
		if err := rate.Validate(); err != nil {
			t.Fatalf("ParseRule(%q) returned invalid rate %v: %v", s, rate, err)
		}
		p2, r2, err := ratelimit.ParseRule(pattern + "=" + rate.String())
		if err != nil || p2 != pattern || r2 != rate {
			t.Fatalf("got %q, %v, %v on re-parse, want %q, %v", p2, r2, err, pattern, rate)
		}
	})
}

package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		issuer   string
		audience string
		jwksURL  string
		rate     string
		err      string // substring of the error, "" for none
	}{
		{
			name:     "defaults from the issuer",
			args:     []string{"--issuer", "https://id.example.com/"},
			issuer:   "https://id.example.com/",
			audience: "https://id.example.com/",
			jwksURL:  "https://id.example.com/.well-known/jwks.json",
			rate:     "600/minute",
		},
		{
			name:     "flags",
			args:     []string{"--issuer", "https://id.example.com", "--audience", "reports", "--jwks-url", "https://keys.example.com/jwks", "--rate-limit", "5/second"},
			issuer:   "https://id.example.com",
			audience: "reports",
			jwksURL:  "https://keys.example.com/jwks",
			rate:     "5/second",
		},
		{
			name:     "environment, and a flag wins over it",
			args:     []string{"--audience", "from-flag"},
			env:      map[string]string{"RESOURCE_SERVER_ISSUER": "http://127.0.0.1:8080", "RESOURCE_SERVER_AUDIENCE": "from-env", "RESOURCE_SERVER_RATE_LIMIT": "10/hour"},
			issuer:   "http://127.0.0.1:8080",
			audience: "from-flag",
			jwksURL:  "http://127.0.0.1:8080/.well-known/jwks.json",
			rate:     "10/hour",
		},
		{name: "issuer missing", args: nil, err: "--issuer is required"},
		{name: "issuer not a URL", args: []string{"--issuer", "gatehouse"}, err: "--issuer"},
		{name: "issuer of another scheme", args: []string{"--issuer", "ftp://id.example.com"}, err: "--issuer"},
		{name: "bad rate", args: []string{"--issuer", "https://id.example.com", "--rate-limit", "5/week"}, err: "--rate-limit"},
		{name: "bad rate in the environment", env: map[string]string{"RESOURCE_SERVER_ISSUER": "https://id.example.com", "RESOURCE_SERVER_RATE_LIMIT": "x"}, err: "--rate-limit"},
		{name: "unknown flag", args: []string{"--issuer", "https://id.example.com", "--secret", "x"}, err: "flag provided but not defined"},
		{name: "stray argument", args: []string{"--issuer", "https://id.example.com", "serve"}, err: `unexpected argument "serve"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got error %v, want one containing %q", err, tt.err)
				}
				if !errors.As(err, new(usageError)) {
					t.Errorf("got %T, want a usageError (exit status 2)", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if c.issuer != tt.issuer || c.audience != tt.audience || c.jwksURL != tt.jwksURL || c.userRate.String() != tt.rate {
				t.Errorf("got issuer %q, audience %q, JWKS %q, rate %v; want %q, %q, %q, %s",
					c.issuer, c.audience, c.jwksURL, c.userRate, tt.issuer, tt.audience, tt.jwksURL, tt.rate)
			}
		})
	}
}

func TestRunRefusesBadConfiguration(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"plain http to another host", []string{"--issuer", "http://id.example.com"}, "--jwks-url"},
		{"invalid listen address", []string{"--issuer", "https://127.0.0.1:1", "--addr", "256.0.0.1:0"}, "--addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			err := run(ctx, tt.args, func(string) string { return "" }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"--help"}, func(string) string { return "" }, io.Discard, &out); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	for _, flag := range []string{"-issuer", "-audience", "-jwks-url", "-addr", "-rate-limit"} {
		if !strings.Contains(out.String(), flag) {
			t.Errorf("help lacks %s:\n%s", flag, out.String())
		}
	}
}

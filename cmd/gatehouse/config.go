package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// errUnsafeConfig is config check's answer when a finding is UNSAFE; the
// findings themselves are on stdout.
var errUnsafeConfig = errors.New("config check: the configuration is unsafe; serve would refuse to start")

// runConfig is `gatehouse config check [serve flags]`: it prints the
// configuration serve would run with (each value with its source, secrets
// redacted) and the posture list, and fails when serve would refuse to
// start. It reads no secret and creates nothing, so it can run in CI/CD
// against the deployment's flags and environment before a deploy.
func runConfig(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(stderr, "Usage: gatehouse config check [serve flags]")
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			return nil
		}
		return usageError{"config needs a subcommand: check"}
	}
	c, err := parseServeAs("config check", "config check [serve flags]", args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	findings := c.posture(getenv)
	if err := c.printConfig(stdout, getenv, findings); err != nil {
		return err
	}
	for _, f := range findings {
		if f.sev == sevUnsafe {
			return errUnsafeConfig
		}
	}
	return nil
}

// printConfig writes the report. Its format is covered by a golden test
// (testdata/config_check_*.golden).
func (c *serveConfig) printConfig(w io.Writer, getenv func(string) string, findings []finding) error {
	fmt.Fprintln(w, "# gatehouse config check: the configuration `gatehouse serve` would run with")
	fmt.Fprintln(w, "# (flags, then GATEHOUSE_* variables, then defaults; secrets redacted)")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tVALUE\tSOURCE")
	c.flags.VisitAll(func(f *flag.Flag) {
		if f.Name == "rate-limit" {
			for _, r := range c.effectiveRateLimits() {
				fmt.Fprintf(tw, "--%s\t%s\t%s\n", f.Name, r[0], r[1])
			}
			return
		}
		fmt.Fprintf(tw, "--%s\t%s\t%s\n", f.Name, c.displayValue(f), c.source(f.Name))
	})
	if getenv("GATEHOUSE_SECRET_KEY") != "" {
		fmt.Fprintf(tw, "GATEHOUSE_SECRET_KEY\t[redacted]\tenv\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "# posture: one line per risk; UNSAFE stops serve, WARN is a risk to accept knowingly")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	counts := map[severity]int{}
	for _, f := range findings {
		counts[f.sev]++
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f.sev, f.flag, f.text)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	verdict := "serve would start"
	if counts[sevUnsafe] > 0 {
		verdict = "serve would refuse to start"
	}
	_, err := fmt.Fprintf(w, "%d unsafe, %d warn, %d ok: %s\n", counts[sevUnsafe], counts[sevWarn], counts[sevOK], verdict)
	return err
}

// source names where a flag's value came from.
func (c *serveConfig) source(name string) string {
	switch c.sources[name] {
	case fromFlag:
		return "flag"
	case fromEnv:
		return "env " + envName(name)
	}
	return "default"
}

// displayValue is a flag's effective value for the report: derived
// defaults spelled out, credentials in URLs redacted.
func (c *serveConfig) displayValue(f *flag.Flag) string {
	v := f.Value.String()
	switch f.Name {
	case "database-url", "redis-url":
		v = redactURL(v)
	case "issuer":
		if v == "" {
			v = "(from --addr) " + c.defaultIssuer(c.addr)
		}
	case "audience":
		if v == "" {
			v = "(the issuer)"
		}
	case "hash-concurrency":
		if v == "0" {
			v = "0 (the number of CPUs)"
		}
	case "hash-queue":
		if v == "0" {
			v = "0 (16 per hashing slot)"
		}
	}
	if v == "" {
		v = "(none)"
	}
	return v
}

// effectiveRateLimits lists every route limit in force, defaults merged
// with --rate-limit, sorted, each with its source: PATTERN=RATE, source.
func (c *serveConfig) effectiveRateLimits() [][2]string {
	src := c.source("rate-limit")
	var out [][2]string
	patterns := map[string]bool{}
	for p := range server.DefaultRateLimits {
		patterns[p] = true
	}
	for p := range c.rateLimits.rules {
		patterns[p] = true
	}
	sorted := make([]string, 0, len(patterns))
	for p := range patterns {
		sorted = append(sorted, p)
	}
	slices.Sort(sorted)
	for _, p := range sorted {
		if r, ok := c.rateLimits.rules[p]; ok {
			out = append(out, [2]string{p + "=" + r.String(), src})
		} else {
			out = append(out, [2]string{p + "=" + server.DefaultRateLimits[p], "default"})
		}
	}
	if r := c.rateLimits.user; r != (ratelimit.Rate{}) {
		out = append(out, [2]string{"*=" + r.String() + " (per user)", src})
	} else {
		out = append(out, [2]string{"*=" + server.DefaultUserRate + " (per user)", "default"})
	}
	return out
}

// redactURL hides the password of a database or Redis URL, in its user
// information or in a query parameter (libpq's password=, sslpassword=).
func redactURL(s string) string {
	if s == "" {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "[redacted: not a URL]"
	}
	if u.Opaque != "" { // sqlite:path
		return s
	}
	q := u.Query()
	changed := false
	for k := range q {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "password") || strings.Contains(lk, "secret") || strings.Contains(lk, "token") {
			q.Set(k, "xxxxx")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

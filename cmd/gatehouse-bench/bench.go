package main

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/loadtest"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

// accounts is how many accounts the login scenario spreads its
// connections over: the login throttle lets at most six attempts of one
// (username, client IP) pair be verified at once (docs/LOAD.md), and 32
// connections over 16 accounts keep about two per account.
const accounts = 16

// bench starts both servers, prepares the fixtures, runs every scenario and
// returns the report.
func bench(ctx context.Context, c *config, stderr io.Writer) (*report, error) {
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "gatehouse-bench: "+format+"\n", args...)
	}
	if _, err := os.Stat(c.wrk); err != nil {
		if _, err := exec.LookPath(c.wrk); err != nil {
			return nil, fmt.Errorf("--wrk %q: %w (Debian: apt-get install wrk)", c.wrk, err)
		}
	}
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return nil, err
	}
	if c.keepData {
		defer logf("kept %s (data, KEK, server logs, wrk inputs)", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	script := filepath.Join(dir, "bench.lua")
	if err := os.WriteFile(script, benchLua, 0o600); err != nil {
		return nil, err
	}

	var usernames []string
	for i := range accounts {
		usernames = append(usernames, fmt.Sprintf("bench-%02d", i))
	}
	pw := "bench password " + randomHex(12)

	rep := &report{cfg: c, load: [2]string{loadtest.LoadAverage()}, started: time.Now()}
	logf("creating %d accounts and starting %s", accounts, c.bin)
	gh, err := startGatehouse(ctx, c, dir, usernames, pw)
	if err != nil {
		return nil, err
	}
	defer gh.stop()
	base, err := startBaseline(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer base.stop()
	rep.serverArgs = gh.args

	var run []*scenario
	for i := range scenarios {
		s := &scenarios[i]
		if s.baseline || c.scenarios == nil || slices.Contains(c.scenarios, s.name) {
			run = append(run, s)
		}
	}
	cold := 0
	if slices.ContainsFunc(run, func(s *scenario) bool { return s.name == "me-cold" }) {
		cold = c.coldTokens
	}
	f, err := makeFixtures(ctx, gh.url, dir, usernames, pw, cold, logf)
	if err != nil {
		return nil, fmt.Errorf("%w\nserver log:\n%s", err, loadtest.LogTail(gh.logPath, 10))
	}
	target := func(s *scenario) *process {
		if s.baseline {
			return base
		}
		return gh
	}
	for _, s := range run {
		if err := check(ctx, target(s).url, s, f); err != nil {
			return nil, err
		}
	}

	results := make(map[string]*scenarioResult)
	var light, hashBound []*scenario
	for _, s := range run {
		results[s.name] = &scenarioResult{sc: s}
		if s.hashBound {
			hashBound = append(hashBound, s)
		} else {
			light = append(light, s)
		}
	}
	// once runs s for d and keeps the figures (warm-up: round < 0).
	once := func(s *scenario, round int, d time.Duration) error {
		if ctx.Err() != nil {
			return errors.New("interrupted")
		}
		if round < 0 {
			logf("warm-up: %s", s.title)
		} else {
			logf("round %d/%d: %s", round+1, c.runs, s.title)
		}
		m, err := measure(ctx, c, script, target(s), s, f, d)
		if err != nil {
			return fmt.Errorf("%s: %w", s.title, err)
		}
		r := results[s.name]
		r.peakRSS = max(r.peakRSS, m.hwm)
		if round >= 0 {
			r.runs = append(r.runs, m)
		}
		return nil
	}
	// Warm-up, then the measured runs round by round, every scenario once
	// per round, so that a change in what else the machine does spreads
	// over all of them instead of spoiling one.
	for round := -1; round < c.runs; round++ {
		for _, s := range light {
			d := c.duration
			if round < 0 {
				if c.warmup == 0 {
					continue
				}
				d = c.warmup
			}
			if err := once(s, round, d); err != nil {
				return nil, err
			}
		}
	}
	// The hash-bound scenarios last, each with its runs in a row between
	// two measurements of the raw argon2id rate: the 19 MiB argon2id
	// buffers the server keeps afterwards would otherwise count in the
	// peak memory of the scenarios that follow them.
	if len(hashBound) > 0 {
		logf("measuring the raw argon2id rate at concurrency %d for %s", c.hashConc, c.hashTime)
		rep.raw[0] = loadtest.RawHashRate(ctx, c.hashConc, c.hashTime, pw)
		for _, s := range hashBound {
			for round := -1; round < c.runs; round++ {
				d := c.duration
				if round < 0 {
					if c.warmup == 0 {
						continue
					}
					d = c.warmup
				}
				if err := once(s, round, d); err != nil {
					return nil, err
				}
			}
		}
		logf("measuring the raw argon2id rate again")
		rep.raw[1] = loadtest.RawHashRate(ctx, c.hashConc, c.hashTime, pw)
	}
	for _, s := range run {
		rep.results = append(rep.results, results[s.name])
	}
	rep.load[1] = loadtest.LoadAverage()
	rep.coldTokens = f.coldCount
	rep.elapsed = time.Since(rep.started)
	return rep, nil
}

// runResult is one measured wrk run.
type runResult struct {
	wrk     wrkResult
	server  loadtest.CPU // the target server's CPU during the run
	machine loadtest.Machine
	hwm     int64 // the server's VmHWM after the run, KiB (reset before)
}

// measure runs wrk once and reads the server's CPU and peak memory.
func measure(ctx context.Context, c *config, script string, p *process, s *scenario, f *fixtures, d time.Duration) (runResult, error) {
	pid := p.pid()
	// Peak RSS of this run only: VmHWM back to the current RSS. When that
	// is not allowed, VmHWM is the peak since the server started.
	_ = loadtest.ResetPeakRSS(pid)
	cpu0, err := loadtest.ProcessCPU(pid)
	if err != nil {
		return runResult{}, err
	}
	m0, _ := loadtest.MachineCPU()
	w, err := runWrk(ctx, c, script, p.url, d, s.wrkEnv(f))
	if err != nil {
		return runResult{}, err
	}
	cpu1, err := loadtest.ProcessCPU(pid)
	if err != nil {
		return runResult{}, err
	}
	m1, _ := loadtest.MachineCPU()
	st, err := loadtest.ReadStatus(pid)
	if err != nil {
		return runResult{}, err
	}
	return runResult{wrk: w, server: cpu1.Sub(cpu0), machine: m1.Sub(m0), hwm: st["VmHWM"]}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}

// tokenResponse is the part of a token-endpoint answer the tool uses.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func grant(ctx context.Context, hc *http.Client, base string, form url.Values) (*tokenResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/auth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s grant: status %d: %s", form.Get("grant_type"), resp.StatusCode, body)
	}
	var t tokenResponse
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" || t.RefreshToken == "" {
		return nil, fmt.Errorf("%s grant: no tokens in %s", form.Get("grant_type"), body)
	}
	return &t, nil
}

// makeFixtures logs in to every account, creates the note, and mints the
// cold distinct access tokens of the cold-verify scenario (mintTokens).
func makeFixtures(ctx context.Context, base, dir string, usernames []string, pw string, cold int, logf func(string, ...any)) (*fixtures, error) {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: len(usernames)}}
	f := &fixtures{}
	sessions := make([]*tokenResponse, len(usernames))
	for i, u := range usernames {
		t, err := grant(ctx, hc, base, url.Values{"grant_type": {"password"}, "username": {u}, "password": {pw}})
		if err != nil {
			return nil, fmt.Errorf("log in as %s: %w", u, err)
		}
		sessions[i] = t
	}
	f.token = sessions[0].AccessToken

	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/notes", strings.NewReader(noteJSON))
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	var note struct {
		ID string `json:"id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&note)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || err != nil || note.ID == "" {
		return nil, fmt.Errorf("create a note: status %d, %v", resp.StatusCode, err)
	}
	f.noteID = note.ID

	f.noteBody = filepath.Join(dir, "note.json")
	if err := os.WriteFile(f.noteBody, []byte(noteJSON), 0o600); err != nil {
		return nil, err
	}
	f.loginFile = filepath.Join(dir, "logins.txt")
	if err := os.WriteFile(f.loginFile, []byte(loginForms(usernames, pw)), 0o600); err != nil {
		return nil, err
	}
	f.loginCount = len(usernames)

	if cold == 0 {
		return f, nil
	}
	logf("minting %d distinct access tokens", cold)
	start := time.Now()
	var templates []string
	for _, t := range sessions {
		templates = append(templates, t.AccessToken)
	}
	tokens, err := mintTokens(ctx, dir, templates, cold)
	if err != nil {
		return nil, fmt.Errorf("mint access tokens: %w", err)
	}
	var b strings.Builder
	seen := make(map[string]bool, cold)
	for _, t := range tokens {
		if seen[t] {
			return nil, errors.New("mint access tokens: a token came twice")
		}
		seen[t] = true
		b.WriteString(t)
		b.WriteByte('\n')
	}
	f.coldCount = len(seen)
	f.coldFile = filepath.Join(dir, "tokens.txt")
	if err := os.WriteFile(f.coldFile, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	f.coldFirst = tokens[0]
	logf("minted %d tokens in %s", f.coldCount, time.Since(start).Round(time.Millisecond))
	return f, nil
}

// check sends one request of s and compares the status, so that a broken
// scenario fails at once instead of measuring error answers.
func check(ctx context.Context, base string, s *scenario, f *fixtures) error {
	var body io.Reader
	ctype := ""
	switch s.name {
	case "note-create":
		body, ctype = strings.NewReader(noteJSON), "application/json"
	case "login":
		b, err := os.ReadFile(f.loginFile)
		if err != nil {
			return err
		}
		line, _, _ := strings.Cut(string(b), "\n")
		body, ctype = strings.NewReader(line), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, s.method, base+s.path(f), body)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	switch {
	case s.name == "me-cold":
		req.Header.Set("Authorization", "Bearer "+f.coldFirst)
	case s.name != "login" && s.name != "healthz" && !s.baseline:
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", s.title, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != s.status {
		return fmt.Errorf("%s: got status %d, want %d: %s", s.title, resp.StatusCode, s.status, b)
	}
	return nil
}

// mintTokens makes n distinct access tokens as the server would issue them:
// each is the claims of one of the server's own tokens (templates, from
// real logins: same subject, session, scope, issuer, audience and expiry)
// with a new jti, signed with the server's active key, read from the data
// directory with the KEK like `gatehouse keys` does. Minting them by
// refresh grants, one write transaction each, would take minutes; the
// server cannot tell the difference, and every token must pass the full
// verification (signature included) the first time it is seen.
func mintTokens(ctx context.Context, dir string, templates []string, n int) ([]string, error) {
	kek, _, err := keys.LoadKEK(filepath.Join(dir, "kek"), "", "")
	if err != nil {
		return nil, err
	}
	store, err := sqlite.Open(filepath.Join(dir, "data", "gatehouse.db"))
	if err != nil {
		return nil, err
	}
	defer store.Close()
	ring := keys.NewRing(store, kek, nil)
	if err := ring.Load(ctx); err != nil {
		return nil, err
	}
	kid, key, err := ring.Signer()
	if err != nil {
		return nil, err
	}
	claims := make([]auth.Claims, len(templates))
	for i, t := range templates {
		parts := strings.Split(t, ".")
		if len(parts) != 3 {
			return nil, errors.New("a token from the server is not a JWS")
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(payload, &claims[i]); err != nil {
			return nil, err
		}
	}
	prefix := randomHex(8)
	out := make([]string, n)
	for i := range out {
		c := claims[i%len(claims)]
		c.ID = fmt.Sprintf("bench-%s-%d", prefix, i)
		if out[i], err = auth.Sign(c, kid, key); err != nil {
			return nil, err
		}
	}
	return out, nil
}

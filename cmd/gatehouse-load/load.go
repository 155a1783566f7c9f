package main

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/loadtest"
	"github.com/gatehouse/gatehouse/internal/password"
)

// loadTest runs the whole test: server, raw hash rate, flood, memory.
func loadTest(ctx context.Context, c *config, stdin io.Reader, stderr io.Writer) (*report, error) {
	rep := &report{cfg: c, params: password.DefaultParams}
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "gatehouse-load: "+format+"\n", args...)
	}

	var (
		base, pw  string
		usernames []string
		srv       *server
	)
	if c.bin != "" {
		var err error
		usernames = []string{"loadtest"}
		if c.accounts > 1 {
			usernames = nil
			for i := range c.accounts {
				usernames = append(usernames, fmt.Sprintf("loadtest-%02d", i))
			}
		}
		pw = "load test " + randomHex(16) // long, random, not a username
		srv, err = startServer(ctx, c, usernames, pw, logf)
		if err != nil {
			return nil, err
		}
		defer srv.stop(logf)
		base = srv.url
		rep.serverArgs = srv.args
		rep.pid = srv.cmd.Process.Pid
	} else {
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read the password from stdin: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
		if pw == "" {
			return nil, errors.New("--url: no password on stdin")
		}
		base, usernames, rep.pid = c.url, []string{c.username}, c.pid
	}

	// Memory is sampled from before the first login to the end.
	var mem *rssSampler
	if rep.pid != 0 {
		var err error
		if mem, err = startRSS(rep.pid, 100*time.Millisecond); err != nil {
			return nil, err
		}
		defer mem.stop()
	}

	clients := newClients(c, base)
	var forms []string
	for _, u := range usernames {
		forms = append(forms, url.Values{"grant_type": {"password"}, "username": {u}, "password": {pw}}.Encode())
	}
	endpoint := base + "/v1/auth/token"

	// One login per account first: the accounts work, and the server's
	// first-use costs (the dummy hash, prepared statements) are paid
	// before measuring.
	for i, form := range forms {
		if status, err := login(ctx, clients[0], endpoint, form); err != nil || status != http.StatusOK {
			return nil, fmt.Errorf("a first login as %s failed (status %d, error %v): check the account and the server log", usernames[i], status, err)
		}
	}

	// (a) The raw argon2id rate at the server's hash concurrency, in this
	// process, while the server is idle; again after the flood, so that a
	// change in what else the machine runs shows as a difference.
	logf("measuring the raw argon2id rate at concurrency %d for %s", c.hashConc, c.hashTime)
	rep.raw[0] = rawHashRate(ctx, c.hashConc, c.hashTime, pw)
	srv0, srvErr := processStat(rep.pid)
	self0, _ := processStat(os.Getpid())
	mach0, machErr := readMachineStat()

	// (b) The flood.
	logf("flooding %s with %d clients for %s + %s warm-up", endpoint, c.concurrency, c.duration, c.warmup)
	rep.flood = flood(ctx, c, clients, endpoint, forms)
	if srv1, err := processStat(rep.pid); err == nil && srvErr == nil {
		rep.serverCPU = srv1.sub(srv0)
	}
	if self1, err := processStat(os.Getpid()); err == nil {
		rep.toolCPU = self1.sub(self0)
	}
	if mach1, err := readMachineStat(); err == nil && machErr == nil {
		rep.machine = machineStat{busy: mach1.busy - mach0.busy, steal: mach1.steal - mach0.steal}
	}
	logf("measuring the raw argon2id rate again")
	rep.raw[1] = rawHashRate(ctx, c.hashConc, c.hashTime, pw)

	// (c) Memory.
	if mem != nil {
		rep.rss = mem.stop()
	}
	if ctx.Err() != nil {
		return nil, errors.New("interrupted")
	}
	return rep, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

// rawRun is one measurement of the raw hash rate.
type rawRun struct {
	hashes  int64
	elapsed time.Duration
	cpu     time.Duration // this process's CPU time during the run
}

func (r rawRun) rate() float64 { return float64(r.hashes) / r.elapsed.Seconds() }

// rawHashRate runs password verifications (the work of one login) on conc
// goroutines for d, and returns how many completed and how long they took.
func rawHashRate(ctx context.Context, conc int, d time.Duration, pw string) rawRun {
	r := loadtest.RawHashRate(ctx, conc, d, pw)
	return rawRun{hashes: r.Hashes, elapsed: r.Elapsed, cpu: r.CPU}
}

// newClients makes one http.Client per source address, each with a pool
// big enough to keep every client's connection open between requests.
func newClients(c *config, base string) []*http.Client {
	var out []*http.Client
	for i := range c.sourceIPs {
		d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
		if c.sourceIPs > 1 {
			d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(i+1))}
		}
		per := (c.concurrency + c.sourceIPs - 1) / c.sourceIPs
		tr := &http.Transport{
			DialContext:           d.DialContext,
			MaxIdleConns:          per,
			MaxIdleConnsPerHost:   per,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 40 * time.Second, // past the server's WriteTimeout
			DisableCompression:    true,
			ForceAttemptHTTP2:     false,
		}
		out = append(out, &http.Client{Transport: tr, Timeout: 45 * time.Second})
	}
	return out
}

// login sends one password grant and returns the status. A 200 must carry
// an access token.
func login(ctx context.Context, hc *http.Client, endpoint, form string) (int, error) {
	st, _, err := send(ctx, hc, endpoint, form)
	return st, err
}

// send posts form and returns the status and Retry-After in seconds.
func send(ctx context.Context, hc *http.Client, endpoint, form string) (int, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form)) // #nosec G704 -- the load tool's target, the server it started or named by the operator
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req) // #nosec G704 -- the load tool's target, see above
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return resp.StatusCode, 0, fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(body, &tok) != nil || tok.AccessToken == "" {
			return resp.StatusCode, 0, errors.New("200 without an access_token")
		}
	}
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, ra, nil
}

// floodResult counts the answers of a flood.
type floodResult struct {
	window   time.Duration
	okWindow int64         // 200s completed inside the measured window
	statuses map[int]int64 // every answer, warm-up included
	errors   int64         // transport errors and statuses other than 200, 429, 503
	samples  []string      // the first few errors
	latency  [3]time.Duration
}

// flood runs c.concurrency clients against endpoint for the warm-up and
// the measured duration, and counts what they get.
func flood(ctx context.Context, c *config, clients []*http.Client, endpoint string, forms []string) floodResult {
	start := time.Now()
	from, to := start.Add(c.warmup), start.Add(c.warmup+c.duration)
	fctx, cancel := context.WithDeadline(ctx, to)
	defer cancel()

	type tally struct {
		okWindow int64
		statuses map[int]int64
		errors   int64
		samples  []string
		lat      []time.Duration // 200s in the window
	}
	tallies := make([]tally, c.concurrency)
	var wg sync.WaitGroup
	for i := range c.concurrency {
		// Client i logs in to account i mod A from address (i div A) mod S,
		// so that every (account, address) pair gets its share.
		form := forms[i%len(forms)]
		hc := clients[(i/len(forms))%len(clients)]
		t := &tallies[i]
		t.statuses = map[int]int64{}
		wg.Go(func() {
			for fctx.Err() == nil {
				t0 := time.Now()
				status, retry, err := send(fctx, hc, endpoint, form)
				done := time.Now()
				if err != nil {
					if fctx.Err() != nil {
						return // our own deadline, not the server's fault
					}
					t.errors++
					if len(t.samples) < 3 {
						t.samples = append(t.samples, err.Error())
					}
					continue
				}
				t.statuses[status]++
				switch status {
				case http.StatusOK:
					if !done.Before(from) && done.Before(to) {
						t.okWindow++
						t.lat = append(t.lat, done.Sub(t0))
					}
				case http.StatusTooManyRequests, http.StatusServiceUnavailable:
					if c.retryAfter {
						// A well-behaved client: wait as told, with
						// jitter so that refused clients do not return
						// in step.
						wait := time.Duration(min(max(retry, 1), 5)) * time.Second
						wait += rand.N(wait / 2) // #nosec G404 -- retry jitter, not a secret
						select {
						case <-fctx.Done():
						case <-time.After(wait):
						}
					}
				default:
					t.errors++
					if len(t.samples) < 3 {
						t.samples = append(t.samples, "status "+strconv.Itoa(status))
					}
				}
			}
		})
	}
	wg.Wait()

	res := floodResult{window: c.duration, statuses: map[int]int64{}}
	var lat []time.Duration
	for _, t := range tallies {
		res.okWindow += t.okWindow
		res.errors += t.errors
		for k, v := range t.statuses {
			res.statuses[k] += v
		}
		for _, s := range t.samples {
			if len(res.samples) < 5 {
				res.samples = append(res.samples, s)
			}
		}
		lat = append(lat, t.lat...)
	}
	res.latency = percentiles(lat)
	return res
}

// percentiles returns the 50th, 90th and 99th percentiles.
func percentiles(d []time.Duration) [3]time.Duration {
	if len(d) == 0 {
		return [3]time.Duration{}
	}
	s := append([]time.Duration(nil), d...)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[min(int(p*float64(len(s))), len(s)-1)] }
	return [3]time.Duration{at(0.50), at(0.90), at(0.99)}
}

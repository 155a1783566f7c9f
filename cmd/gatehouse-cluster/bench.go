package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// benchResult is one read benchmark: GET /v1/notes/{id} from a fixed
// number of workers for a fixed time.
type benchResult struct {
	label    string
	requests int // answered 200
	other    int // any other answer or a transport error
	elapsed  time.Duration
	p50, p99 time.Duration
}

func (b benchResult) rps() float64 { return float64(b.requests) / b.elapsed.Seconds() }

func (b benchResult) String() string {
	return fmt.Sprintf("%-28s %8.0f req/s   p50 %7s   p99 %7s   (%d ok, %d not 200)", b.label, b.rps(), ms(b.p50), ms(b.p99), b.requests, b.other)
}

// benchSetup creates an account and one note through in and returns the
// access token and the note's ID.
func benchSetup(ctx context.Context, c *client, in *instance, username string) (token, noteID string, err error) {
	if err := c.register(ctx, in, username); err != nil {
		return "", "", err
	}
	t, err := c.login(ctx, in, username)
	if err != nil {
		return "", "", err
	}
	a, err := do(ctx, c.main(), "POST", in.url+"/v1/notes", map[string]any{"title": "bench", "body": "<p>read me</p>", "tags": []string{"bench"}}, t.access)
	if err != nil {
		return "", "", err
	}
	if a.status != http.StatusCreated || a.str("id") == "" {
		return "", "", fmt.Errorf("create the benchmark note on %s: got %s, want 201", in.name, a)
	}
	return t.access, a.str("id"), nil
}

// bench reads the note from workers goroutines for d, each sending its
// requests round-robin over targets (one connection pool, one client, as
// a load balancer would spread them). A short warm-up fills connection
// pools and the verification caches first and is not counted.
func bench(ctx context.Context, label string, targets []*instance, token, noteID string, workers int, d time.Duration) benchResult {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConns: 4 * workers, MaxIdleConnsPerHost: 2 * workers}}
	defer hc.CloseIdleConnections()
	one := func(i int) (time.Duration, bool) {
		in := targets[i%len(targets)]
		req, _ := http.NewRequestWithContext( // #nosec G704 -- loopback instances this tool started
			ctx, "GET", in.url+"/v1/notes/"+noteID, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := hc.Do(req) // #nosec G704 -- loopback instances this tool started
		if err != nil {
			return time.Since(start), false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return time.Since(start), resp.StatusCode == http.StatusOK
	}
	run := func(d time.Duration) ([]time.Duration, int, time.Duration) {
		var mu sync.Mutex
		var lat []time.Duration
		other := 0
		var wg sync.WaitGroup
		start := time.Now()
		end := start.Add(d)
		for w := range workers {
			wg.Go(func() {
				var mine []time.Duration
				bad := 0
				for i := w; time.Now().Before(end); i++ {
					l, ok := one(i)
					if ok {
						mine = append(mine, l)
					} else {
						bad++
					}
				}
				mu.Lock()
				lat = append(lat, mine...)
				other += bad
				mu.Unlock()
			})
		}
		wg.Wait()
		return lat, other, time.Since(start)
	}
	run(time.Second) // warm-up
	lat, other, elapsed := run(d)
	slices.Sort(lat)
	r := benchResult{label: label, requests: len(lat), other: other, elapsed: elapsed}
	if len(lat) > 0 {
		r.p50 = lat[len(lat)/2]
		r.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return r
}

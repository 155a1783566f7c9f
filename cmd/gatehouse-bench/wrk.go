package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

//go:embed bench.lua
var benchLua []byte

// wrkResult is what bench.lua's done() prints.
type wrkResult struct {
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	Bytes      int64   `json:"bytes"`
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Status     int64   `json:"status"` // answers with a status of 400 or more
	Timeout    int64   `json:"timeout"`
	P50US      int64   `json:"p50_us"`
	P90US      int64   `json:"p90_us"`
	P99US      int64   `json:"p99_us"`
	MeanUS     float64 `json:"mean_us"`
	MaxUS      int64   `json:"max_us"`

	cpu time.Duration // wrk's own CPU time
}

func (r wrkResult) rate() float64 {
	if r.DurationUS <= 0 {
		return 0
	}
	return float64(r.Requests) / (float64(r.DurationUS) / 1e6)
}

func (r wrkResult) errors() int64 { return r.Connect + r.Read + r.Write + r.Status + r.Timeout }

// runWrk runs wrk against url for d with the scenario's environment.
func runWrk(ctx context.Context, c *config, script, url string, d time.Duration, env []string) (wrkResult, error) {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, c.wrk, "-t", strconv.Itoa(c.threads), "-c", strconv.Itoa(c.connections), // #nosec G204 G702 -- the --wrk the operator named, with our arguments
		"-d", strconv.Itoa(secs)+"s", "--timeout", "10s", "-s", script, url)
	cmd.Env = append(env, "BENCH_THREADS="+strconv.Itoa(c.threads))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v: %s", err, strings.TrimSpace(errb.String()+"\n"+out.String()))
	}
	res, err := parseWrk(out.Bytes())
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w:\n%s%s", err, out.String(), errb.String())
	}
	res.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return res, nil
}

// parseWrk finds the BENCH-RESULT line in wrk's output.
func parseWrk(out []byte) (wrkResult, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "BENCH-RESULT "); ok {
			var r wrkResult
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return wrkResult{}, err
			}
			return r, nil
		}
	}
	return wrkResult{}, fmt.Errorf("no BENCH-RESULT line")
}

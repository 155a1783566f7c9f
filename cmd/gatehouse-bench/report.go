package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/loadtest"
)

// scenarioResult collects a scenario's measured runs.
type scenarioResult struct {
	sc      *scenario
	runs    []runResult
	peakRSS int64 // KiB, the highest VmHWM of its runs and warm-up
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r *scenarioResult) each(f func(runResult) float64) float64 {
	var xs []float64
	for _, run := range r.runs {
		xs = append(xs, f(run))
	}
	return median(xs)
}

func (r *scenarioResult) rate() float64 {
	return r.each(func(x runResult) float64 { return x.wrk.rate() })
}
func (r *scenarioResult) p50() float64 {
	return r.each(func(x runResult) float64 { return float64(x.wrk.P50US) })
}
func (r *scenarioResult) p99() float64 {
	return r.each(func(x runResult) float64 { return float64(x.wrk.P99US) })
}

// cpuPerRequest is the server's CPU time per answered request, µs.
func (r *scenarioResult) cpuPerRequest() float64 {
	return r.each(func(x runResult) float64 {
		if x.wrk.Requests == 0 {
			return 0
		}
		return float64(x.server.Total().Microseconds()) / float64(x.wrk.Requests)
	})
}

// clientCPU is wrk's CPU time per request, µs.
func (r *scenarioResult) clientCPU() float64 {
	return r.each(func(x runResult) float64 {
		if x.wrk.Requests == 0 {
			return 0
		}
		return float64(x.wrk.cpu.Microseconds()) / float64(x.wrk.Requests)
	})
}

// others is the CPU other processes took during the runs, in CPUs.
func (r *scenarioResult) others() float64 {
	return r.each(func(x runResult) float64 {
		d := float64(x.wrk.DurationUS) / 1e6
		if d <= 0 {
			return 0
		}
		o := x.machine.Busy - x.server.Total() - x.wrk.cpu
		return max(o, 0).Seconds() / d
	})
}

func (r *scenarioResult) errors() int64 {
	var n int64
	for _, x := range r.runs {
		n += x.wrk.errors()
	}
	return n
}

// report is what a run measured.
type report struct {
	cfg        *config
	serverArgs []string
	raw        [2]loadtest.HashRun
	results    []*scenarioResult
	load       [2]string // load averages at the start and the end
	coldTokens int
	started    time.Time
	elapsed    time.Duration
}

func (r *report) result(name string) *scenarioResult {
	for _, x := range r.results {
		if x.sc.name == name {
			return x
		}
	}
	return nil
}

// rawRate is the mean of the raw argon2id measurements, weighted by time.
func (r *report) rawRate() float64 {
	t := (r.raw[0].Elapsed + r.raw[1].Elapsed).Seconds()
	if t <= 0 {
		return 0
	}
	return float64(r.raw[0].Hashes+r.raw[1].Hashes) / t
}

// target is a required ratio of a scenario's requests/s.
type target struct {
	name string
	min  float64
	of   string // "baseline" or "raw argon2id"
}

var targets = []target{
	{name: "me-warm", min: 0.75, of: "baseline"},
	{name: "note-get", min: 0.5, of: "baseline"},
	{name: "login", min: 0.9, of: "raw argon2id"},
}

func ratio(a, b float64) string {
	if b <= 0 || a <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func ms(us float64) string {
	if us >= 10000 {
		return fmt.Sprintf("%.0f ms", us/1000)
	}
	return fmt.Sprintf("%.2f ms", us/1000)
}

// print writes the Markdown report and returns whether every target was met.
func (r *report) print(w io.Writer) bool {
	c := r.cfg
	base := r.result("baseline")
	fmt.Fprintf(w, "## gatehouse-bench, %s\n\n", r.started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "- machine: %d CPUs, %s/%s, %s; load average %s at the start, %s at the end (%s)\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), r.load[0], r.load[1], r.elapsed.Round(time.Second))
	fmt.Fprintf(w, "- client: wrk, %d threads, %d kept-alive connections; %d × %s measured per scenario (median shown) after %s warm-up, rounds interleaved, the hash-bound login last\n",
		c.threads, c.connections, c.runs, c.duration, c.warmup)
	fmt.Fprintf(w, "- server: `%s %s`\n", c.bin, quoteArgs(r.serverArgs))
	if r.result("me-cold") != nil {
		fmt.Fprintf(w, "- cold verify: %d distinct access tokens in turn (the verifier caches 10000)\n", r.coldTokens)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | requests/s | × baseline | p50 | p99 | p99 × baseline | server CPU µs/request | × baseline | peak RSS MiB | × baseline | errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, x := range r.results {
		rss := float64(x.peakRSS) / 1024
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %s | %.1f | %s | %.1f | %s | %d |\n",
			x.sc.title, x.rate(), ratio(x.rate(), base.rate()), ms(x.p50()), ms(x.p99()), ratio(x.p99(), base.p99()),
			x.cpuPerRequest(), ratio(x.cpuPerRequest(), base.cpuPerRequest()), rss, ratio(rss, float64(base.peakRSS)/1024), x.errors())
	}
	fmt.Fprintln(w)
	if l := r.result("login"); l != nil {
		fmt.Fprintf(w, "- raw argon2id (m=19 MiB, t=2, p=1) at concurrency %d: %.1f hashes/s (%.1f/s before, %.1f/s after the runs); logins/s ÷ raw = %s\n",
			c.hashConc, r.rawRate(), r.raw[0].Rate(), r.raw[1].Rate(), ratio(l.rate(), r.rawRate()))
	}
	var busy []string
	for _, x := range r.results {
		busy = append(busy, fmt.Sprintf("%s %.1f µs/%.2f CPUs", x.sc.name, x.clientCPU(), x.others()))
	}
	fmt.Fprintf(w, "- wrk CPU per request / CPU taken by other processes, per scenario: %s\n", strings.Join(busy, "; "))

	pass := true
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | measured | result |")
	fmt.Fprintln(w, "|---|---:|---|")
	for _, t := range targets {
		x := r.result(t.name)
		if x == nil {
			fmt.Fprintf(w, "| %s | not run | – |\n", t.name)
			continue
		}
		of := base.rate()
		if t.of != "baseline" {
			of = r.rawRate()
		}
		got := 0.0
		if of > 0 {
			got = x.rate() / of
		}
		verdict := "met"
		if got < t.min {
			verdict, pass = "**missed**", false
		}
		if x.errors() > 0 {
			verdict, pass = "**errors**", false
		}
		fmt.Fprintf(w, "| %s ≥ %.2f × %s requests/s | %.2f× | %s |\n", x.sc.title, t.min, t.of, got, verdict)
	}
	for _, x := range r.results {
		if x.errors() > 0 && !slices.ContainsFunc(targets, func(t target) bool { return t.name == x.sc.name }) {
			fmt.Fprintf(w, "| %s: no error answers | %d | **errors** |\n", x.sc.title, x.errors())
			pass = false
		}
	}
	return pass
}

func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " '\"*") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

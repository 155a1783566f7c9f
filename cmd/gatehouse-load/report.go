package main

import (
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
)

// report is what a run measured.
type report struct {
	cfg        *config
	params     password.Params
	serverArgs []string
	pid        int
	raw        [2]rawRun // before and after the flood
	flood      floodResult
	serverCPU  procStat // during the flood
	toolCPU    procStat // this process, during the flood
	machine    machineStat
	rss        rssResult
}

// rawRate is the mean of the two raw measurements, weighted by time.
func (r *report) rawRate() float64 {
	n := r.raw[0].hashes + r.raw[1].hashes
	return float64(n) / (r.raw[0].elapsed + r.raw[1].elapsed).Seconds()
}

func (r *report) loginRate() float64 {
	return float64(r.flood.okWindow) / r.flood.window.Seconds()
}

// cpuEfficiency compares logins per server CPU-second with raw hashes per
// CPU-second: the share of the server's CPU that turned into logins.
func (r *report) cpuEfficiency() (float64, bool) {
	srv := (r.serverCPU.user + r.serverCPU.sys).Seconds()
	raw := (r.raw[0].cpu + r.raw[1].cpu).Seconds()
	if srv <= 0 || raw <= 0 {
		return 0, false
	}
	perRaw := float64(r.raw[0].hashes+r.raw[1].hashes) / raw
	return float64(r.flood.statuses[200]) / srv / perRaw, true
}

func (r *report) peakRSSMiB() float64 {
	return float64(max(r.rss.hwm, r.rss.maxRSS)) / 1024
}

// print writes the report and returns whether every target was met.
func (r *report) print(w io.Writer) bool {
	c := r.cfg
	pass := true
	verdict := func(ok bool) string {
		if ok {
			return "ok"
		}
		pass = false
		return "MISSED"
	}
	fmt.Fprintln(w, "gatehouse load test")
	if c.bin != "" {
		fmt.Fprintf(w, "  server       %s serve %s (pid %d)\n", c.bin, quoteArgs(r.serverArgs), r.pid)
	} else {
		fmt.Fprintf(w, "  server       %s (pid %d)\n", c.url, r.pid)
	}
	fmt.Fprintf(w, "  machine      %d CPUs, %s/%s, %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(w, "  raw argon2id %.1f hashes/s at concurrency %d (m=%d KiB, t=%d, p=%d): %d in %.1f s before the flood (%.1f/s), %d in %.1f s after (%.1f/s)\n",
		r.rawRate(), c.hashConc, r.params.Memory, r.params.Time, r.params.Threads,
		r.raw[0].hashes, r.raw[0].elapsed.Seconds(), r.raw[0].rate(), r.raw[1].hashes, r.raw[1].elapsed.Seconds(), r.raw[1].rate())
	mode := "clients wait as Retry-After says"
	if !c.retryAfter {
		mode = "clients retry at once"
	}
	fmt.Fprintf(w, "  flood        %d clients from %d address(es) on %d account(s), %s measured after %s warm-up; %s\n",
		c.concurrency, c.sourceIPs, c.accounts, c.duration, c.warmup, mode)
	ratio := r.loginRate() / r.rawRate()
	fmt.Fprintf(w, "  logins/s     %.1f (%d logins answered 200 in the window; latency p50 %s, p90 %s, p99 %s)\n",
		r.loginRate(), r.flood.okWindow, round(r.flood.latency[0]), round(r.flood.latency[1]), round(r.flood.latency[2]))
	fmt.Fprintf(w, "  ratio        %.3f (target ≥ %.2f)  %s\n", ratio, c.minRatio, verdict(ratio >= c.minRatio))
	fmt.Fprintf(w, "  statuses     %s\n", formatStatuses(r.flood.statuses))
	fmt.Fprintf(w, "  errors       %d non-200/429/503 answers or transport errors (target 0)  %s\n",
		r.flood.errors, verdict(r.flood.errors == 0))
	for _, s := range r.flood.samples {
		fmt.Fprintf(w, "                 %s\n", s)
	}
	if r.pid != 0 && r.rss.samples > 0 {
		fmt.Fprintf(w, "  peak RSS     %.1f MiB (VmHWM %.1f MiB, highest of %d VmRSS samples %.1f MiB, at the end %.1f MiB) (target < %.0f MiB)  %s\n",
			r.peakRSSMiB(), float64(r.rss.hwm)/1024, r.rss.samples, float64(r.rss.maxRSS)/1024, float64(r.rss.finalRSS)/1024,
			c.maxRSSMiB, verdict(r.peakRSSMiB() < c.maxRSSMiB))
	} else {
		fmt.Fprintf(w, "  peak RSS     not measured (give --pid with --url)  NOT CHECKED\n")
	}
	window := (c.warmup + c.duration).Seconds()
	if e, ok := r.cpuEfficiency(); ok {
		fmt.Fprintf(w, "  per CPU      %.3f: the server's logins per CPU-second (all 200s of the flood) over the raw hashes per CPU-second; what other processes take does not change it\n", e)
	}
	if cpu := r.serverCPU; cpu.user+cpu.sys > 0 {
		fmt.Fprintf(w, "  server CPU   %.1f s user + %.1f s system during the %.0f s flood: %.2f of %d CPUs; %d minor page faults\n",
			cpu.user.Seconds(), cpu.sys.Seconds(), window, (cpu.user+cpu.sys).Seconds()/window, runtime.NumCPU(), cpu.minFaults)
	}
	if cpu := r.toolCPU; cpu.user+cpu.sys > 0 {
		fmt.Fprintf(w, "  load CPU     %.1f s user + %.1f s system (this tool, competing for the same CPUs): %.2f CPUs\n",
			cpu.user.Seconds(), cpu.sys.Seconds(), (cpu.user+cpu.sys).Seconds()/window)
	}
	if m := r.machine; m.busy > 0 {
		others := m.busy - r.serverCPU.user - r.serverCPU.sys - r.toolCPU.user - r.toolCPU.sys
		fmt.Fprintf(w, "  machine CPU  %.2f of %d CPUs busy during the flood; other processes %.2f CPUs, steal %.2f CPUs\n",
			m.busy.Seconds()/window, runtime.NumCPU(), max(others, 0).Seconds()/window, m.steal.Seconds()/window)
		if others.Seconds()/window > 0.1 || m.steal.Seconds()/window > 0.1 {
			fmt.Fprintln(w, "  WARNING      other work took CPU during the run: the rates, and their ratio, are unreliable; rerun on an idle machine")
		}
	}
	if d := r.raw[0].rate() / r.raw[1].rate(); d > 1.1 || d < 1/1.1 {
		fmt.Fprintln(w, "  WARNING      the raw rate changed by more than 10% between before and after the flood: the machine was not steady")
	}
	if pass {
		fmt.Fprintln(w, "  result       PASS")
	} else {
		fmt.Fprintln(w, "  result       FAIL")
	}
	return pass
}

func formatStatuses(m map[int]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " '\"") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

func round(d time.Duration) time.Duration {
	return d.Round(time.Millisecond)
}

package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "bin", args: []string{"--bin", "/tmp/gatehouse"}},
		{name: "some scenarios", args: []string{"--bin", "x", "--scenarios", "me-warm,note-get"}},
		{name: "no bin", args: nil, wantErr: "--bin is required"},
		{name: "unknown scenario", args: []string{"--bin", "x", "--scenarios", "me-hot"}, wantErr: "unknown scenario"},
		{name: "too long", args: []string{"--bin", "x", "--duration", "10m"}, wantErr: "--duration"},
		{name: "past the in-flight bound", args: []string{"--bin", "x", "--connections", "64"}, wantErr: "--connections"},
		{name: "threads over connections", args: []string{"--bin", "x", "--connections", "2", "--threads", "4"}, wantErr: "--threads"},
		{name: "few cold tokens", args: []string{"--bin", "x", "--cold-tokens", "100"}, wantErr: "--cold-tokens"},
		{name: "bad env", args: []string{"--bin", "x", "--server-env", "GOGC"}, wantErr: "NAME=VALUE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseWrk(t *testing.T) {
	out := "Running 5s test @ http://127.0.0.1:1\n  2 threads and 32 connections\n" +
		`BENCH-RESULT {"requests":50000,"duration_us":5000000,"bytes":1,"connect":0,"read":0,"write":0,"status":3,"timeout":1,"p50_us":900,"p90_us":1500,"p99_us":4000,"mean_us":1000.5,"max_us":9000}` + "\n"
	r, err := parseWrk([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if r.rate() != 10000 || r.P99US != 4000 || r.errors() != 4 {
		t.Errorf("got rate %v p99 %d errors %d, want 10000 4000 4", r.rate(), r.P99US, r.errors())
	}
	if _, err := parseWrk([]byte("no result\n")); err == nil {
		t.Error("no result line: got nil error, want one")
	}
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v): got %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestReport(t *testing.T) {
	c, err := parseFlags([]string{"--bin", "x", "--scenarios", "me-warm"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	run := func(rate, cpuMS int64) runResult {
		var r runResult
		r.wrk = wrkResult{Requests: rate * 5, DurationUS: 5e6, P50US: 1000, P99US: 3000}
		r.server.User = time.Duration(cpuMS) * time.Millisecond
		return r
	}
	rep := &report{cfg: c, results: []*scenarioResult{
		{sc: &scenarios[0], runs: []runResult{run(10000, 1000), run(9000, 1000), run(11000, 1000)}, peakRSS: 10 << 10},
		{sc: &scenarios[2], runs: []runResult{run(8000, 2000), run(7000, 2000), run(9000, 2000)}, peakRSS: 40 << 10},
	}}
	var out bytes.Buffer
	if !rep.print(&out) {
		t.Errorf("got a missed target, want every target met:\n%s", out.String())
	}
	for _, want := range []string{"| 8000 | 0.80× |", "| 40.0 | 4.00× |", "| met |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	rep.results[1].runs = []runResult{run(5000, 2000)}
	out.Reset()
	if rep.print(&out) {
		t.Errorf("0.5× the baseline: got every target met, want a miss:\n%s", out.String())
	}
}

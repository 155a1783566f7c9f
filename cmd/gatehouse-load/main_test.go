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
		{name: "url", args: []string{"--url", "http://127.0.0.1:8080/", "--username", "u"}},
		{name: "url ipv6 loopback", args: []string{"--url", "http://[::1]:8080", "--username", "u"}},
		{name: "neither", args: nil, wantErr: "exactly one of --bin and --url"},
		{name: "both", args: []string{"--bin", "x", "--url", "http://127.0.0.1:1", "--username", "u"}, wantErr: "exactly one"},
		{name: "url without user", args: []string{"--url", "http://127.0.0.1:1"}, wantErr: "--username"},
		{name: "not loopback", args: []string{"--url", "http://192.0.2.1:8080", "--username", "u"}, wantErr: "only loopback"},
		{name: "https", args: []string{"--url", "https://127.0.0.1:8080", "--username", "u"}, wantErr: "want http://"},
		{name: "too long", args: []string{"--bin", "x", "--duration", "10m"}, wantErr: "--duration"},
		{name: "too many clients", args: []string{"--bin", "x", "--concurrency", "100000"}, wantErr: "--concurrency"},
		{name: "bad env", args: []string{"--bin", "x", "--server-env", "GOGC"}, wantErr: "NAME=VALUE"},
		{name: "pid with bin", args: []string{"--bin", "x", "--pid", "5"}, wantErr: "go with --url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				if c.hashQueue != 16*c.hashConc {
					t.Errorf("got hash queue %d, want %d", c.hashQueue, 16*c.hashConc)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	in := "Name:\tgatehouse\nVmPeak:\t 1234 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t9\n"
	got, err := parseStatus(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got["VmRSS"] != 102400 || got["VmHWM"] != 204800 {
		t.Errorf("got VmRSS %d VmHWM %d, want 102400 204800", got["VmRSS"], got["VmHWM"])
	}
	if _, err := parseStatus(strings.NewReader("Name:\tx\n")); err == nil {
		t.Error("no VmRSS: got nil error, want one")
	}
}

func TestReportVerdicts(t *testing.T) {
	base := func() *report {
		c, err := parseFlags([]string{"--bin", "x"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return &report{
			cfg:   c,
			pid:   1,
			raw:   [2]rawRun{{hashes: 100, elapsed: 2 * time.Second}, {hashes: 100, elapsed: 2 * time.Second}},
			flood: floodResult{window: 20 * time.Second, okWindow: 950, statuses: map[int]int64{200: 1000, 503: 5000}},
			rss:   rssResult{samples: 10, maxRSS: 100 << 10, hwm: 101 << 10},
		}
	}
	tests := []struct {
		name   string
		change func(*report)
		pass   bool
		want   string
	}{
		{name: "all met", change: func(*report) {}, pass: true, want: "PASS"},
		{name: "slow", change: func(r *report) { r.flood.okWindow = 800 }, want: "ratio        0.800"},
		{name: "errors", change: func(r *report) { r.flood.errors = 1; r.flood.samples = []string{"status 500"} }, want: "status 500"},
		{name: "memory", change: func(r *report) { r.rss.hwm = 256 << 10 }, want: "peak RSS     256.0 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base()
			tt.change(r)
			var out bytes.Buffer
			if got := r.print(&out); got != tt.pass {
				t.Errorf("got pass %v, want %v:\n%s", got, tt.pass, out.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("report lacks %q:\n%s", tt.want, out.String())
			}
		})
	}
}

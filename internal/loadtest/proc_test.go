package loadtest

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStatus(t *testing.T) {
	in := "Name:\tgatehouse\nVmPeak:\t 1234 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t9\n"
	got, err := ParseStatus(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got["VmRSS"] != 102400 || got["VmHWM"] != 204800 {
		t.Errorf("got VmRSS %d VmHWM %d, want 102400 204800", got["VmRSS"], got["VmHWM"])
	}
	if _, err := ParseStatus(strings.NewReader("Name:\tx\n")); err == nil {
		t.Error("no VmRSS: got nil error, want one")
	}
}

func TestParseStat(t *testing.T) {
	// Fields 3 to 15 after a command name with a space and a parenthesis.
	in := "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 777 0 0 0 250 31 0 0 20 0 9 0\n"
	got, err := parseStat([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := CPU{User: 2500 * time.Millisecond, Sys: 310 * time.Millisecond, MinorFaults: 777}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := parseStat([]byte("4242 (x) S 1")); err == nil {
		t.Error("short stat: got nil error, want one")
	}
}

func TestSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := ProcessCPU(os.Getpid()); err != nil {
		t.Errorf("ProcessCPU: %v", err)
	}
	if _, err := MachineCPU(); err != nil {
		t.Errorf("MachineCPU: %v", err)
	}
	s, err := StartRSS(os.Getpid(), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if r := s.Stop(); r.Samples < 1 || r.Peak() <= 0 || r.Err != nil {
		t.Errorf("got %+v, want samples and a peak", r)
	}
	if err := ResetPeakRSS(os.Getpid()); err != nil {
		t.Logf("ResetPeakRSS: %v (the kernel may not allow it here)", err)
	}
}

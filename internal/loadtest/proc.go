// Package loadtest holds what the load and benchmark tools (cmd/gatehouse-load,
// cmd/gatehouse-bench) share: reading a process's CPU time and memory from
// /proc, the machine's CPU time, the raw argon2id rate, and small helpers to
// start a server process on a free loopback port.
//
// Linux only: elsewhere the /proc readers return errors and the tools report
// the figures as not measured.
package loadtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// tick is USER_HZ, the unit of /proc/PID/stat and /proc/stat times: 1/100 s
// on every Linux architecture Go supports.
const tick = 10 * time.Millisecond

// CPU is a process's CPU time and minor page faults, from /proc/PID/stat.
type CPU struct {
	User, Sys   time.Duration
	MinorFaults int64
}

// Total is user plus system time.
func (c CPU) Total() time.Duration { return c.User + c.Sys }

// Sub returns c − o, the usage between two readings.
func (c CPU) Sub(o CPU) CPU {
	return CPU{User: c.User - o.User, Sys: c.Sys - o.Sys, MinorFaults: c.MinorFaults - o.MinorFaults}
}

// ProcessCPU reads /proc/PID/stat: minflt (field 10), utime and stime
// (fields 14 and 15).
func ProcessCPU(pid int) (CPU, error) {
	if pid <= 0 {
		return CPU{}, errors.New("no pid")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return CPU{}, err
	}
	return parseStat(b)
}

func parseStat(b []byte) (CPU, error) {
	// The command name (field 2) is in parentheses and may hold spaces;
	// f[0] is field 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return CPU{}, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return CPU{}, errors.New("malformed stat")
	}
	minflt, err1 := strconv.ParseInt(f[7], 10, 64)
	utime, err2 := strconv.ParseInt(f[11], 10, 64)
	stime, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return CPU{}, errors.New("malformed stat")
	}
	return CPU{User: time.Duration(utime) * tick, Sys: time.Duration(stime) * tick, MinorFaults: minflt}, nil
}

// Machine is the CPU time of the whole machine, from the first line of
// /proc/stat.
type Machine struct {
	Busy, Steal time.Duration // Busy includes Steal
}

// Sub returns m − o.
func (m Machine) Sub(o Machine) Machine {
	return Machine{Busy: m.Busy - o.Busy, Steal: m.Steal - o.Steal}
}

// MachineCPU reads the first line of /proc/stat.
func MachineCPU() (Machine, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Machine{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return Machine{}, errors.New("malformed /proc/stat")
	}
	var v [8]int64 // user nice system idle iowait irq softirq steal
	for i := range v {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return Machine{}, errors.New("malformed /proc/stat")
		}
		v[i] = n
	}
	busy := v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	return Machine{Busy: time.Duration(busy) * tick, Steal: time.Duration(v[7]) * tick}, nil
}

// LoadAverage is the first three fields of /proc/loadavg, "" when unknown.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// ReadStatus reads the kB fields of /proc/PID/status (VmRSS, VmHWM, ...),
// in KiB.
func ReadStatus(pid int) (map[string]int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseStatus(f)
}

// ParseStatus parses the kB fields of a /proc/PID/status text.
func ParseStatus(r io.Reader) (map[string]int64, error) {
	out := map[string]int64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 2 && f[1] == "kB" {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				out[k] = n
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if _, ok := out["VmRSS"]; !ok {
		return nil, errors.New("no VmRSS in /proc/PID/status")
	}
	return out, nil
}

// ResetPeakRSS sets the process's VmHWM back to its current RSS (writing 5
// to /proc/PID/clear_refs, Linux 4.0 and later), so that the next VmHWM
// reading is the peak of what follows. It needs the right to write to the
// process's clear_refs: the same user.
func ResetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// RSS is what an RSSSampler saw, in KiB.
type RSS struct {
	Samples int
	Max     int64 // the highest VmRSS sample
	HWM     int64 // VmHWM at the end: the kernel's own peak
	Final   int64 // VmRSS at the end
	Err     error // the last read error, if any
}

// Peak is the larger of VmHWM and the highest sample, in KiB.
func (r RSS) Peak() int64 { return max(r.HWM, r.Max) }

// RSSSampler reads a process's resident memory every interval.
type RSSSampler struct {
	pid   int
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
	mu    sync.Mutex
	res   RSS
	final RSS
}

// StartRSS starts sampling pid's memory every interval.
func StartRSS(pid int, every time.Duration) (*RSSSampler, error) {
	if _, err := ReadStatus(pid); err != nil {
		return nil, fmt.Errorf("sample the memory of process %d: %w", pid, err)
	}
	r := &RSSSampler{pid: pid, done: make(chan struct{})}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			r.sample()
			select {
			case <-r.done:
				return
			case <-t.C:
			}
		}
	}()
	return r, nil
}

func (r *RSSSampler) sample() {
	st, err := ReadStatus(r.pid)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.res.Err = err
		return
	}
	r.res.Samples++
	r.res.Max = max(r.res.Max, st["VmRSS"])
	r.res.HWM = st["VmHWM"]
	r.res.Final = st["VmRSS"]
}

// Stop takes a last sample, stops sampling and returns the result; later
// calls return the same.
func (r *RSSSampler) Stop() RSS {
	r.once.Do(func() {
		close(r.done)
		r.wg.Wait()
		r.sample()
		r.mu.Lock()
		r.final = r.res
		r.mu.Unlock()
	})
	return r.final
}

package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// mem is a process's resident memory from /proc/PID/status, in bytes: VmRSS now
// and VmHWM, the most it has ever held.
type mem struct{ rss, hwm int64 }

func readMem(pid int) (mem, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return mem{}, fmt.Errorf("swarmload: memory of pid %d: %w", pid, err)
	}
	return parseStatus(string(b))
}

// parseStatus reads VmRSS and VmHWM out of /proc/PID/status text, where each is a
// line like "VmHWM:\t  123456 kB".
func parseStatus(text string) (mem, error) {
	var m mem
	var seen int
	for line := range strings.Lines(text) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return mem{}, fmt.Errorf("swarmload: /proc status: %s: want a number of kB, got %q", name, strings.TrimSpace(rest))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 {
			return mem{}, fmt.Errorf("swarmload: /proc status: %s: bad number %q", name, f[0])
		}
		if name == "VmRSS" {
			m.rss, seen = kb<<10, seen|1
		} else {
			m.hwm, seen = kb<<10, seen|2
		}
	}
	if seen != 3 {
		return mem{}, errors.New("swarmload: /proc status: no VmRSS and VmHWM lines (a kernel thread, or not Linux?)")
	}
	return m, nil
}

// userHZ is the unit of /proc/PID/stat's times. The kernel fixes it at 100 for
// user space on every architecture Linux runs on.
const userHZ = 100

func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("swarmload: cpu time of pid %d: %w", pid, err)
	}
	return parseStatCPU(string(b))
}

// parseStatCPU returns utime+stime from /proc/PID/stat text. The command name, in
// parentheses, may itself hold spaces and parentheses, so fields are counted from
// the last ')'.
func parseStatCPU(text string) (time.Duration, error) {
	i := strings.LastIndexByte(text, ')')
	if i < 0 {
		return 0, errors.New("swarmload: /proc stat: no command name")
	}
	// After the name: state (field 3) ... utime is field 14, stime field 15.
	f := strings.Fields(text[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("swarmload: /proc stat: %d fields after the name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("swarmload: /proc stat: bad cpu time %q", s)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / userHZ), nil
}

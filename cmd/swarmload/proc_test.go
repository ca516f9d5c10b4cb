package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStatus(t *testing.T) {
	const real = "Name:\tswarmlight\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t 1234 kB\nVmHWM:\t   24508 kB\nVmRSS:\t   20000 kB\nThreads:\t7\n"
	tests := []struct {
		name    string
		text    string
		want    mem
		wantErr string
	}{
		{"status file", real, mem{rss: 20000 << 10, hwm: 24508 << 10}, ""},
		{"zero", "VmRSS: 0 kB\nVmHWM: 0 kB\n", mem{}, ""},
		{"exited process has no Vm lines", "Name:\tx\nState:\tZ (zombie)\n", mem{}, "no VmRSS and VmHWM"},
		{"only one of them", "VmRSS:\t 1 kB\n", mem{}, "no VmRSS and VmHWM"},
		{"another unit", "VmRSS:\t 1 MB\nVmHWM:\t 1 kB\n", mem{}, "want a number of kB"},
		{"not a number", "VmRSS:\t lots kB\nVmHWM:\t 1 kB\n", mem{}, "bad number"},
		{"negative", "VmRSS:\t -1 kB\nVmHWM:\t 1 kB\n", mem{}, "bad number"},
		{"empty", "", mem{}, "no VmRSS and VmHWM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatus(tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseStatCPU(t *testing.T) {
	tail := " 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	tests := []struct {
		name    string
		text    string
		want    time.Duration
		wantErr string
	}{
		{"plain", "42 (swarmlight) S 1 42 42 0 -1 4194560 100 0 0 0 150 25" + tail, 1750 * time.Millisecond, ""},
		{"name with spaces and parentheses", "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 3 4" + tail, 70 * time.Millisecond, ""},
		{"no name", "42 swarmlight S", 0, "no command name"},
		{"cut short", "42 (x) S 1 2 3", 0, "fields after the name"},
		{"not a number", "42 (x) S 1 42 42 0 -1 0 0 0 0 0 x 1" + tail, 0, "bad cpu time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU(tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// TestProcSelf reads this very process, the one /proc file sure to exist.
func TestProcSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	m, err := readMem(os.Getpid())
	if err != nil || m.rss <= 0 || m.hwm < m.rss {
		t.Fatalf("readMem(self) = %+v, %v", m, err)
	}
	if _, err := readCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}

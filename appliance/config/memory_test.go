package config

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

// fakeRAM is a probe that reads meminfo as /proc/meminfo and, if asked, gets
// sysinfoBytes from sysinfo (a failure when it is 0).
func fakeRAM(meminfo string, sysinfoBytes int64) ramProbe {
	return ramProbe{
		meminfo: func() ([]byte, error) {
			if meminfo == "" {
				return nil, errors.New("open /proc/meminfo: no such file or directory")
			}
			return []byte(meminfo), nil
		},
		sysinfo: func() (int64, error) {
			if sysinfoBytes == 0 {
				return 0, errors.New("sysinfo: function not implemented")
			}
			return sysinfoBytes, nil
		},
	}
}

// Heads of real /proc/meminfo files.
const (
	piZero2W = "MemTotal:         439704 kB\nMemFree:          301512 kB\nMemAvailable:     360544 kB\n"
	pi4      = "MemTotal:        3882888 kB\nMemFree:         3403396 kB\nMemAvailable:    3577240 kB\n"
	bigPC    = "MemTotal:       65776508 kB\nMemFree:        41036848 kB\nMemAvailable:   58734520 kB\n"
)

func TestAutoMemory(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name  string
		probe ramProbe
		ram   int64  // MachineRAM
		want  int64  // MaxMemory
		note  string // "" when only the form of the note is checked
	}{
		{
			name: "Pi Zero 2 W", probe: fakeRAM(piZero2W, 0),
			ram: 439704 << 10, want: 171 * mib,
			note: "effective: 171 MiB (40% of this machine's 429.4 MiB of RAM)",
		},
		{
			name: "Pi 4 with 4 GiB", probe: fakeRAM(pi4, 0),
			ram: 3882888 << 10, want: 1516 * mib,
			note: "effective: 1516 MiB (40% of this machine's 3791.9 MiB of RAM)",
		},
		{
			name: "64 GiB PC", probe: fakeRAM(bigPC, 0),
			ram: 65776508 << 10, want: 2 << 30,
			note: "effective: 2 GiB (40% of this machine's 62.7 GiB of RAM, capped at 2 GiB)",
		},
		{
			name: "tiny board", probe: fakeRAM("MemTotal: 20480 kB\n", 0),
			ram: 20 * mib, want: 16 * mib,
			note: "effective: 16 MiB (40% of this machine's 20 MiB of RAM, raised to the 16 MiB floor)",
		},
		{
			name: "MemTotal not on the first line", probe: fakeRAM("MemFree: 1 kB\nMemTotal: 1048576 kB\n", 0),
			ram: 1 << 30, want: 409 * mib,
		},
		{
			name: "garbage falls back to sysinfo", probe: fakeRAM("\x00\xffMemTotal\n::::\n", 1<<30),
			ram: 1 << 30, want: 409 * mib,
			note: "effective: 409 MiB (40% of this machine's 1 GiB of RAM)",
		},
		{name: "missing MemTotal", probe: fakeRAM("MemFree: 301512 kB\n", 1<<30), ram: 1 << 30, want: 409 * mib},
		{name: "MemTotal without a number", probe: fakeRAM("MemTotal:\n", 1<<30), ram: 1 << 30, want: 409 * mib},
		{name: "MemTotal in another unit", probe: fakeRAM("MemTotal: 512 MB\n", 1<<30), ram: 1 << 30, want: 409 * mib},
		{name: "MemTotal zero", probe: fakeRAM("MemTotal: 0 kB\n", 1<<30), ram: 1 << 30, want: 409 * mib},
		{name: "MemTotal negative", probe: fakeRAM("MemTotal: -5 kB\n", 1<<30), ram: 1 << 30, want: 409 * mib},
		{name: "MemTotal overflows", probe: fakeRAM("MemTotal: 99999999999999999999 kB\n", 1<<30), ram: 1 << 30, want: 409 * mib},
		{name: "MemTotal overflows in bytes", probe: fakeRAM("MemTotal: 9223372036854775807 kB\n", 1<<30), ram: 1 << 30, want: 409 * mib},
		{name: "meminfo unreadable", probe: fakeRAM("", 512*mib), ram: 512 * mib, want: 204 * mib},
		{
			name: "nothing readable", probe: fakeRAM("garbage", 0),
			ram: 0, want: 256 * mib,
			note: "effective: 256 MiB (assumed: neither /proc/meminfo nor sysinfo gave this machine's RAM)",
		},
		{name: "no sources at all", probe: ramProbe{}, ram: 0, want: 256 * mib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Swarm: Swarm{MaxMemoryAuto: true}}
			resolveMemory(&c.Swarm, tt.probe)
			if c.Swarm.MachineRAM != tt.ram || c.Swarm.MaxMemory != tt.want {
				t.Fatalf("RAM %d, budget %d; want RAM %d, budget %d", c.Swarm.MachineRAM, c.Swarm.MaxMemory, tt.ram, tt.want)
			}
			note := memoryNote(&c)
			if tt.note != "" && note != tt.note {
				t.Fatalf("note %q, want %q", note, tt.note)
			}
			if !strings.HasPrefix(note, "effective: ") || strings.Contains(note, "\n") {
				t.Fatalf("note %q is not one effective: line", note)
			}
		})
	}
}

func TestExplicitMemoryNote(t *testing.T) {
	for n, want := range map[int64]string{
		96 << 20:  "effective: 96 MiB",
		1 << 30:   "effective: 1 GiB",
		500000000: "effective: 476.8 MiB",
	} {
		c := Config{Swarm: Swarm{MaxMemory: n}}
		resolveMemory(&c.Swarm, fakeRAM(bigPC, 0)) // an explicit budget ignores the RAM
		if got := memoryNote(&c); got != want || c.Swarm.MaxMemory != n || c.Swarm.MachineRAM != 0 {
			t.Errorf("budget %d: note %q, MaxMemory %d, MachineRAM %d; want %q", n, got, c.Swarm.MaxMemory, c.Swarm.MachineRAM, want)
		}
	}
}

// TestMachineRAM reads this machine's RAM for real, from each source.
func TestMachineRAM(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/meminfo and sysinfo are Linux's")
	}
	text, err := machine.meminfo()
	if err != nil {
		t.Fatalf("read /proc/meminfo: %v", err)
	}
	fromMeminfo := memTotal(text)
	fromSysinfo, err := sysinfoRAM()
	if err != nil {
		t.Fatal(err)
	}
	if fromMeminfo <= 0 || fromSysinfo <= 0 {
		t.Fatalf("MemTotal %d bytes, sysinfo %d bytes; want both positive", fromMeminfo, fromSysinfo)
	}
	if got := machine.total(); got != fromMeminfo {
		t.Errorf("total %d, want MemTotal's %d", got, fromMeminfo)
	}
}

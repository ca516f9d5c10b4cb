package config

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// swarm.max_memory is the cap that binds first on a small board, and the right value
// depends on the board: "auto" sizes it from the RAM of the machine it runs on, at
// load time, so one config file serves a Pi Zero and a PC.

const (
	// minMemory refuses budgets too small to be meant: "500000" with a forgotten
	// unit is 488 KiB, which would refuse peers from the first busy torrent.
	minMemory = 8 << 20

	// The automatic budget leaves 60% of RAM to the kernel, the page cache, the Go
	// runtime's garbage and the rest of the tracker; it never goes below what a busy
	// LAN needs, and stops at 2 GiB, past which a LAN tracker gains nothing.
	autoPercent   = 40
	autoMinMemory = 16 << 20
	autoMaxMemory = 2 << 30

	// unknownRAMMemory is the budget when the RAM cannot be read: a middle figure,
	// small enough that a board with 512 MiB of RAM keeps running.
	unknownRAMMemory = 256 << 20

	// maxMemory is what the platform can address: 2 GiB for a 32-bit build, whose
	// 4 GiB address space the kernel, the binary and the Go runtime share, and 128
	// TiB (the 47-bit user address space of amd64 and arm64 Linux) for a 64-bit one.
	maxMemory = 1 << 31 << (strconv.IntSize / 64 * 16)
)

// memoryKey is swarm.max_memory. It sets three fields, so it is not one of the
// generic constructors: the budget, whether it is automatic, and the RAM it came
// from, which check-config shows and build fills in once every key is read.
func memoryKey(name, doc string) key {
	return key{
		name: name, kind: kindSize, def: "auto", doc: doc,
		apply: func(c *Config, raw any) string {
			n, auto, problem := toMemory(raw)
			if problem == "" {
				c.Swarm.MaxMemory, c.Swarm.MaxMemoryAuto, c.Swarm.MachineRAM = n, auto, 0
			}
			return problem
		},
		value: func(c *Config) any {
			if c.Swarm.MaxMemoryAuto {
				return "auto"
			}
			return byteSize(c.Swarm.MaxMemory)
		},
		note: memoryNote,
	}
}

// toMemory reads "auto" (auto is true, n is left for build to resolve) or a size
// within what a store can be given.
func toMemory(raw any) (n int64, auto bool, problem string) {
	if s, ok := raw.(string); ok && strings.EqualFold(strings.TrimSpace(s), "auto") {
		return 0, true, ""
	}
	n, problem = toSize(raw)
	if rest, ok := strings.CutPrefix(problem, "want "); ok {
		problem = "want auto or " + rest
	}
	if problem != "" {
		return 0, false, problem
	}
	if problem = inRange(n, minMemory, maxMemory, formatSize); problem != "" {
		return 0, false, problem
	}
	return n, false, ""
}

// resolveMemory turns "auto" into bytes from the machine's RAM.
func resolveMemory(s *Swarm, probe ramProbe) {
	if !s.MaxMemoryAuto {
		return
	}
	s.MachineRAM = probe.total()
	s.MaxMemory = autoMemory(s.MachineRAM)
}

// autoMemory is the budget for a machine with ram bytes (0 when unknown), rounded
// down to a MiB so check-config shows a round figure.
func autoMemory(ram int64) int64 {
	if ram <= 0 {
		return unknownRAMMemory
	}
	share := ram / 100 * autoPercent &^ (1<<20 - 1)
	return min(max(share, autoMinMemory), autoMaxMemory, maxMemory)
}

// memoryNote says what the budget is on this machine, for the comment YAML output
// writes under max_memory.
func memoryNote(c *Config) string {
	s := c.Swarm
	effective := "effective: " + formatBytes(s.MaxMemory)
	switch {
	case !s.MaxMemoryAuto:
		return effective
	case s.MachineRAM <= 0:
		return effective + " (assumed: neither /proc/meminfo nor sysinfo gave this machine's RAM)"
	}
	why := fmt.Sprintf("%d%% of this machine's %s of RAM", autoPercent, formatBytes(s.MachineRAM))
	switch share := s.MachineRAM / 100 * autoPercent; {
	case share < autoMinMemory:
		why += ", raised to the " + formatBytes(autoMinMemory) + " floor"
	case share > s.MaxMemory+(1<<20):
		why += ", capped at " + formatBytes(s.MaxMemory)
	}
	return effective + " (" + why + ")"
}

// ramProbe reads how much RAM the machine has. Its sources are functions so tests
// can feed made-up /proc/meminfo text and failing system calls.
type ramProbe struct {
	meminfo func() ([]byte, error) // the text of /proc/meminfo
	sysinfo func() (int64, error)  // total RAM in bytes from sysinfo(2)
}

// machine probes the machine we run on.
var machine = ramProbe{
	meminfo: func() ([]byte, error) { return os.ReadFile("/proc/meminfo") },
	sysinfo: sysinfoRAM,
}

// total is the RAM in bytes, or 0 when no source gives a believable figure: a bad
// /proc/meminfo (a container's fake one, a kernel that changed its format) falls
// back to sysinfo rather than failing the load.
func (p ramProbe) total() int64 {
	if p.meminfo != nil {
		if text, err := p.meminfo(); err == nil {
			if n := memTotal(text); n > 0 {
				return n
			}
		}
	}
	if p.sysinfo != nil {
		if n, err := p.sysinfo(); err == nil && n > 0 {
			return n
		}
	}
	return 0
}

// memTotal reads the "MemTotal: 439704 kB" line of /proc/meminfo, in bytes, or 0 if
// it is missing or not in that form.
func memTotal(meminfo []byte) int64 {
	for line := range bytes.Lines(meminfo) {
		rest, ok := bytes.CutPrefix(line, []byte("MemTotal:"))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) != 2 || f[1] != "kB" {
			return 0
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb <= 0 || kb > math.MaxInt64/1024 {
			return 0
		}
		return kb * 1024
	}
	return 0
}

package config

import (
	"fmt"
	"math"

	"golang.org/x/sys/unix"
)

// sysinfoRAM is the machine's RAM from sysinfo(2), for when /proc is not mounted or
// not readable.
func sysinfoRAM() (int64, error) {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0, fmt.Errorf("config: sysinfo: %w", err)
	}
	unit := uint64(si.Unit)
	if unit == 0 {
		unit = 1 // kernels before 2.3.23 count in bytes and leave the unit 0
	}
	total := uint64(si.Totalram)
	if total > math.MaxInt64/unit {
		return 0, fmt.Errorf("config: sysinfo: %d units of %d bytes overflow", total, unit)
	}
	return int64(total * unit), nil
}

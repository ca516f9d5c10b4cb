// Package human writes figures the way a person reads them, alike on the status
// page, the shelf and the command line: counts grouped by thousands, sizes in
// binary units with one decimal. The status page's script formats the same way
// (appliance/web/page.go, the fmt function in its script), so a figure reads alike before and after an update.
package human

import (
	"strconv"
	"strings"
)

// Count groups digits by thousands: 1234567 is "1,234,567".
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// Bytes is n bytes in the largest binary unit that keeps it at least 1, with one
// decimal: 1536 is "1.5 KiB", 512 is "512 B".
func Bytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, unit := float64(n)/1024, "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB", "PiB", "EiB"} {
		if v < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
}

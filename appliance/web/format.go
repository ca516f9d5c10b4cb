package web

import (
	"fmt"
	"strconv"
	"time"

	"github.com/swarmlight/swarmlight/appliance/human"
)

// How figures read on the page. The page's script formats the same way
// (page.go, the fmt function in its script), so a figure reads alike before and after an update.

// count and bytesText are package human's, named as the page's script names
// them.
func count(n int64) string { return human.Count(n) }

func bytesText(n int64) string { return human.Bytes(n) }

// rate is announces per second, one decimal.
func rate(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// duration is an uptime in the two largest units: "3 d 4 h", "2 h 5 min",
// "42 s".
func duration(secs int64) string {
	d := time.Duration(secs) * time.Second
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%d d %d h", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%d h %d min", d/time.Hour, d%time.Hour/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%d min %d s", d/time.Minute, d%time.Minute/time.Second)
	}
	return fmt.Sprintf("%d s", secs)
}

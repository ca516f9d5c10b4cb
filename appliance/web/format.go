package web

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// How figures read on the page. The page's script formats the same way
// (page.html: fmt), so a figure reads alike before and after an update.

// count groups digits by thousands: 1234567 is "1,234,567".
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// bytesText is a size in binary units, one decimal: "12.5 MiB".
func bytesText(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	unit := "B"
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		if v < 1024 {
			break
		}
		v /= 1024
		unit = u
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

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

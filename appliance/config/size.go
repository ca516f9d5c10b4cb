package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sizes are spelled as GOMEMLIMIT spells them, which the systemd unit sets next to
// this file's budget: a whole number of bytes with an optional binary unit. K, M, G
// and KB, MB, GB are refused rather than guessed, because systemd reads 512M as MiB
// while a disk's label means 10^6 bytes by MB, and a budget that is off by 5% is
// found only when the board runs out of memory.

// byteSize is a size a key holds, so YAML output writes it as 96MiB, not 100663296.
type byteSize int64

const wantSize = "want a whole number of bytes with an optional unit B, KiB, MiB, GiB or TiB, like 96MiB or 500000000"

var sizeUnits = []struct {
	name  string
	bytes int64
}{
	{"TiB", 1 << 40},
	{"GiB", 1 << 30},
	{"MiB", 1 << 20},
	{"KiB", 1 << 10},
	{"B", 1},
}

// toSize reads a size from any source. YAML gives plain numbers as ints; a float
// (1e9, 1.5) is refused like "1e9" from the environment, since a byte count that
// needs an exponent is a unit written the wrong way.
func toSize(raw any) (int64, string) {
	switch v := raw.(type) {
	case byteSize:
		return int64(v), ""
	case int:
		return int64(v), ""
	case int64:
		return v, ""
	case uint64:
		if v > math.MaxInt64 {
			return 0, fmt.Sprintf("%d is too large", v)
		}
		return int64(v), ""
	case string:
		return parseSize(v)
	default:
		return 0, fmt.Sprintf("%s; got %s", wantSize, describe(raw))
	}
}

// parseSize reads text like "96MiB", "96 MiB", "500000000" or "-1"; a sign is
// accepted so a negative size gets the range message, as it does from YAML.
func parseSize(text string) (int64, string) {
	s := strings.TrimSpace(text)
	end := 0
	if end < len(s) && (s[end] == '-' || s[end] == '+') {
		end++
	}
	digits := end
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	if end == digits {
		return 0, fmt.Sprintf("%s; got %s", wantSize, describe(text))
	}
	num, unit := s[:end], strings.TrimSpace(s[end:])
	mult, problem := sizeUnit(num, unit, text)
	if problem != "" {
		return 0, problem
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if errors.Is(err, strconv.ErrRange) || n > math.MaxInt64/mult || n < math.MinInt64/mult {
		return 0, fmt.Sprintf("%s is too large", describe(text))
	}
	if err != nil {
		return 0, fmt.Sprintf("%s; got %s", wantSize, describe(text))
	}
	return n * mult, ""
}

// sizeUnit is the number of bytes in unit. The binary units are unambiguous in any
// case, so "96mib" is read as written.
func sizeUnit(num, unit, text string) (int64, string) {
	if unit == "" {
		return 1, ""
	}
	for _, u := range sizeUnits {
		if strings.EqualFold(unit, u.name) {
			return u.bytes, ""
		}
	}
	switch up := strings.ToUpper(unit); up {
	case "K", "M", "G", "T", "KB", "MB", "GB", "TB":
		return 0, fmt.Sprintf("%s: %s is ambiguous (1000 or 1024 based?); write %s%siB for the binary unit",
			describe(text), unit, num, up[:1])
	}
	return 0, fmt.Sprintf("%s; got %s", wantSize, describe(text))
}

// formatSize writes n as the config file spells it, in the largest unit that
// divides it, so loading the text gives n back.
func formatSize(n int64) string {
	for _, u := range sizeUnits[:len(sizeUnits)-1] {
		if n != 0 && n%u.bytes == 0 {
			return strconv.FormatInt(n/u.bytes, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// formatBytes writes n for people: whole GiB or MiB when exact, else to one
// decimal, as "429.4 MiB" or "62.8 GiB".
func formatBytes(n int64) string {
	const mib, gib = 1 << 20, 1 << 30
	switch {
	case n != 0 && n%gib == 0:
		return strconv.FormatInt(n/gib, 10) + " GiB"
	case n >= 4*gib:
		return strconv.FormatFloat(float64(n)/gib, 'f', 1, 64) + " GiB"
	case n != 0 && n%mib == 0:
		return strconv.FormatInt(n/mib, 10) + " MiB"
	case n >= mib:
		return strconv.FormatFloat(float64(n)/mib, 'f', 1, 64) + " MiB"
	default:
		return strconv.FormatInt(n, 10) + " bytes"
	}
}

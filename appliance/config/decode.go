package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The decoders accept a raw value as any source delivers it: YAML gives ints, bools,
// strings and lists; the environment and flags give text; defaults give Go values.
// Each returns the problem in words ("" when the value is good), never an error
// chain, because the problem becomes the text of a KeyError.

const wantDuration = "want a duration with a unit, like 30m, 90s or 1h30m"

func toDuration(raw any) (time.Duration, string) {
	switch v := raw.(type) {
	case time.Duration:
		return v, ""
	case string:
		s := strings.TrimSpace(v)
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return bareDuration(f, raw)
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Sprintf("%s; got %s", wantDuration, describe(raw))
		}
		return d, ""
	case int, int64, uint64, float64:
		f, _ := strconv.ParseFloat(fmt.Sprint(v), 64)
		return bareDuration(f, raw)
	default:
		return 0, fmt.Sprintf("%s; got %s", wantDuration, describe(raw))
	}
}

// bareDuration accepts a number without a unit only when it is zero: cast and
// time.Duration would read 30 as 30 nanoseconds, which is never what "30" means.
func bareDuration(f float64, raw any) (time.Duration, string) {
	if f == 0 {
		return 0, ""
	}
	return 0, fmt.Sprintf("%s; got %s, which has no unit", wantDuration, describe(raw))
}

func toInt(raw any) (int, string) {
	var n int64
	switch v := raw.(type) {
	case int:
		return v, ""
	case int64:
		n = v
	case uint64:
		if v > math.MaxInt64 {
			return 0, fmt.Sprintf("%d is too large", v)
		}
		n = int64(v)
	case float64:
		// YAML reads 1e6 as a float; a whole number written that way is still clear.
		if v != math.Trunc(v) {
			return 0, fmt.Sprintf("want a whole number; got %s", describe(raw))
		}
		if math.Abs(v) > 1<<53 {
			return 0, fmt.Sprintf("%s is too large", describe(raw))
		}
		n = int64(v)
	case string:
		var err error
		n, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Sprintf("%s is too large", describe(raw))
		}
		if err != nil {
			return 0, fmt.Sprintf("want a whole number; got %s", describe(raw))
		}
	default:
		return 0, fmt.Sprintf("want a whole number; got %s", describe(raw))
	}
	// int is 32 bits on the Pi's arm build.
	if int64(int(n)) != n {
		return 0, fmt.Sprintf("%d is too large", n)
	}
	return int(n), ""
}

func toBool(raw any) (bool, string) {
	switch v := raw.(type) {
	case bool:
		return v, ""
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			return b, ""
		}
	}
	return false, fmt.Sprintf("want true or false; got %s", describe(raw))
}

// toStrings reads a list. Text is split on commas and white space, so one
// environment variable or flag can carry a whole list.
func toStrings(raw any) ([]string, string) {
	var list []string
	switch v := raw.(type) {
	case string:
		list = splitList(v)
	case []string:
		list = v
	case []any:
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Sprintf("want a list of text entries; entry %d is %s", i+1, describe(e))
			}
			list = append(list, s)
		}
	default:
		return nil, fmt.Sprintf("want a list; got %s", describe(raw))
	}
	out := make([]string, 0, len(list))
	for i, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, fmt.Sprintf("entry %d is empty", i+1)
		}
		out = append(out, s)
	}
	return out, ""
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

func toPrefixes(list []string) ([]netip.Prefix, string) {
	if len(list) == 0 {
		return nil, `want at least one network; ["0.0.0.0/0", "::/0"] allows everyone`
	}
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Sprintf("%q is not a network in CIDR notation, like 192.168.0.0/16 or fd00::/8", s)
		}
		// 192.168.1.7/24 plainly means the /24 it sits in; keep the canonical form so
		// matching and printing agree.
		out = append(out, p.Masked())
	}
	return out, ""
}

// toWord reads one of a fixed set of words, ignoring case.
func toWord(raw any, choices []string) (string, string) {
	if s, ok := raw.(string); ok {
		w := strings.ToLower(strings.TrimSpace(s))
		for _, c := range choices {
			if w == c {
				return c, ""
			}
		}
	}
	return "", fmt.Sprintf("want %s; got %s", orList(choices), describe(raw))
}

// orList writes choices as "a, b or c".
func orList(choices []string) string {
	if len(choices) < 2 {
		return strings.Join(choices, "")
	}
	return strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
}

// describe names a raw value for a message: text is quoted so blanks and empty
// values show.
func describe(raw any) string {
	switch v := raw.(type) {
	case nil:
		return "nothing"
	case string:
		return strconv.Quote(v)
	case map[string]any, map[any]any:
		return "a mapping"
	case []any, []string:
		return "a list"
	case time.Duration:
		return formatDuration(v)
	default:
		return fmt.Sprint(v)
	}
}

// formatDuration writes d in the largest unit that divides it, as people write
// durations in the config file: 30m rather than Go's 30m0s.
func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d%time.Millisecond == 0:
		return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
	default:
		return d.String()
	}
}

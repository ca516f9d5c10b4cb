package config

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// YAML writes c as a config file with every key and its doc comment, in schema
// order, and under a key like swarm.max_memory a comment with what "auto" came to
// on this machine. Loading the result gives c back, so check-config's output can be
// saved as a config file. Written by hand rather than by a YAML encoder to keep the
// comments, the key order and durations like 30m.
func (c Config) YAML() string {
	var b strings.Builder
	section := ""
	for _, k := range schema {
		if sec := k.section(); sec != section {
			if section != "" {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "%s:\n", sec)
			section = sec
		}
		fmt.Fprintf(&b, "  # %s\n", k.doc)
		items, isList := listItems(k.value(&c))
		switch {
		case !isList:
			fmt.Fprintf(&b, "  %s: %s\n", k.leaf(), formatScalar(k.value(&c)))
		case len(items) == 0:
			fmt.Fprintf(&b, "  %s: []\n", k.leaf())
		default:
			fmt.Fprintf(&b, "  %s:\n", k.leaf())
			for _, item := range items {
				// Go's quoting is valid YAML double quoting, and quoting every item
				// keeps ":6969" and "::/0" from being read as anything but text.
				fmt.Fprintf(&b, "    - %s\n", strconv.Quote(item))
			}
		}
		if k.note != nil {
			fmt.Fprintf(&b, "  # %s\n", k.note(&c))
		}
	}
	return b.String()
}

func listItems(v any) ([]string, bool) {
	switch l := v.(type) {
	case []string:
		return l, true
	case []netip.Prefix:
		items := make([]string, len(l))
		for i, p := range l {
			items[i] = p.String()
		}
		return items, true
	}
	return nil, false
}

// formatScalar writes one value as the config file spells it.
func formatScalar(v any) string {
	switch s := v.(type) {
	case time.Duration:
		return formatDuration(s)
	case byteSize:
		return formatSize(int64(s))
	case slog.Level:
		return strings.ToLower(s.String())
	case string:
		if isPlainWord(s) {
			return s
		}
		return strconv.Quote(s)
	default:
		return fmt.Sprint(v)
	}
}

// isPlainWord reports whether s can go unquoted in YAML and still read as the same
// text: lower-case letters only, and not a word YAML reads as a boolean or null.
func isPlainWord(s string) bool {
	switch s {
	case "", "true", "false", "yes", "no", "on", "off", "null", "y", "n":
		return false
	}
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

package config

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/hw/devspec"
)

// The constructors below tie a key's decoder, range check and Config field together,
// so the schema table stays one line of facts per key.

func durationKey(name string, def, lo, hi time.Duration, doc string, field func(*Config) *time.Duration) key {
	return key{
		name: name, kind: kindDuration, def: def, doc: doc,
		apply: func(c *Config, raw any) string {
			d, problem := toDuration(raw)
			if problem == "" {
				problem = inRange(d, lo, hi, formatDuration)
			}
			if problem == "" {
				*field(c) = d
			}
			return problem
		},
		value: func(c *Config) any { return *field(c) },
	}
}

func intKey(name string, def, lo, hi int, doc string, field func(*Config) *int) key {
	return key{
		name: name, kind: kindInt, def: def, doc: doc,
		apply: func(c *Config, raw any) string {
			n, problem := toInt(raw)
			switch {
			case problem != "":
			case hi == noMax && n < lo:
				problem = fmt.Sprintf("%d is out of range; want at least %d", n, lo)
			case hi != noMax:
				problem = inRange(n, lo, hi, strconv.Itoa)
			}
			if problem == "" {
				*field(c) = n
			}
			return problem
		},
		value: func(c *Config) any { return *field(c) },
	}
}

func boolKey(name string, def bool, doc string, field func(*Config) *bool) key {
	return key{
		name: name, kind: kindBool, def: def, doc: doc,
		apply: func(c *Config, raw any) string {
			b, problem := toBool(raw)
			if problem == "" {
				*field(c) = b
			}
			return problem
		},
		value: func(c *Config) any { return *field(c) },
	}
}

// listKey is a list of strings; check judges the whole list once every entry is a
// string.
func listKey(name string, def []string, doc string, check func([]string) string, field func(*Config) *[]string) key {
	return key{
		name: name, kind: kindStrings, def: def, doc: doc,
		apply: func(c *Config, raw any) string {
			list, problem := toStrings(raw)
			if problem == "" {
				problem = check(list)
			}
			if problem == "" {
				*field(c) = list
			}
			return problem
		},
		value: func(c *Config) any { return *field(c) },
	}
}

func cidrsKey(name string, def []string, doc string, field func(*Config) *[]netip.Prefix) key {
	return key{
		name: name, kind: kindCIDRs, def: def, doc: doc,
		apply: func(c *Config, raw any) string {
			list, problem := toStrings(raw)
			if problem != "" {
				return problem
			}
			prefixes, problem := toPrefixes(list)
			if problem == "" {
				*field(c) = prefixes
			}
			return problem
		},
		value: func(c *Config) any { return *field(c) },
	}
}

// optionalCIDRsKey is cidrsKey for a list that may be empty.
func optionalCIDRsKey(name string, def []string, doc string, field func(*Config) *[]netip.Prefix) key {
	return key{
		name: name, kind: kindCIDRs, def: def, doc: doc,
		apply: func(c *Config, raw any) string {
			list, problem := toStrings(raw)
			if problem != "" {
				return problem
			}
			if len(list) == 0 {
				*field(c) = nil
				return ""
			}
			prefixes, problem := toPrefixes(list)
			if problem == "" {
				*field(c) = prefixes
			}
			return problem
		},
		value: func(c *Config) any { return *field(c) },
	}
}

// modeKey is access.mode, read by the access package's own parser.
func modeKey(name, def, doc string, field func(*Config) *access.Mode) key {
	return key{
		name: name, kind: kindEnum, def: def, doc: doc,
		apply: func(c *Config, raw any) string {
			s, ok := raw.(string)
			if !ok {
				return "want " + access.ModeWords + "; got " + describe(raw)
			}
			m, err := access.ParseMode(s)
			if err != nil {
				return err.Error()
			}
			*field(c) = m
			return ""
		},
		value: func(c *Config) any { return field(c).String() },
	}
}

// clientsKey is access.clients, read by the access package's own parser.
func clientsKey(name, doc string, field func(*Config) *access.Clients) key {
	return key{
		name: name, kind: kindStrings, def: []string{}, doc: doc,
		apply: func(c *Config, raw any) string {
			list, problem := toStrings(raw)
			if problem != "" {
				return problem
			}
			cl, err := access.ParseClients(list)
			if err != nil {
				return err.Error()
			}
			*field(c) = cl
			return ""
		},
		value: func(c *Config) any { return field(c).Strings() },
	}
}

func levelKey(name, def, doc string, field func(*Config) *slog.Level) key {
	return key{
		name: name, kind: kindLevel, def: def, doc: doc,
		apply: func(c *Config, raw any) string {
			word, problem := toWord(raw, levelNames)
			if problem == "" {
				*field(c) = levels[word]
			}
			return problem
		},
		value: func(c *Config) any { return *field(c) },
	}
}

func enumKey(name, def string, choices []string, doc string, field func(*Config) *string) key {
	return key{
		name: name, kind: kindEnum, def: def, doc: doc,
		apply: func(c *Config, raw any) string {
			word, problem := toWord(raw, choices)
			if problem == "" {
				*field(c) = word
			}
			return problem
		},
		value: func(c *Config) any { return *field(c) },
	}
}

var (
	levelNames = []string{"debug", "info", "warn", "error"}
	levels     = map[string]slog.Level{
		"debug": slog.LevelDebug,
		"info":  slog.LevelInfo,
		"warn":  slog.LevelWarn,
		"error": slog.LevelError,
	}
)

// inRange says why v is outside lo..hi, or "" if it is inside.
func inRange[T cmp.Ordered](v, lo, hi T, format func(T) string) string {
	if v >= lo && v <= hi {
		return ""
	}
	return fmt.Sprintf("%s is out of range; want %s to %s", format(v), format(lo), format(hi))
}

// checkListenAddrs checks the form of http.listen without binding anything: binding
// is CheckListen's job and the tracker's.
func checkListenAddrs(addrs []string) string {
	if len(addrs) == 0 {
		return `want at least one address, like ":6969"`
	}
	seen := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		if problem := checkListenAddr(a); problem != "" {
			return problem
		}
		// Port 0 asks for a fresh port each time, so only a fixed port can clash.
		if seen[a] && !strings.HasSuffix(a, ":0") {
			return fmt.Sprintf("%q is listed twice", a)
		}
		seen[a] = true
	}
	return ""
}

// checkOptionalListenAddrs is checkListenAddrs for a front that may be turned off
// with an empty list.
func checkOptionalListenAddrs(addrs []string) string {
	if len(addrs) == 0 {
		return ""
	}
	return checkListenAddrs(addrs)
}

func checkListenAddr(a string) string {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Sprintf("%q is not host:port; want an address like :6969, 192.168.1.10:6969 or [::1]:6969", a)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Sprintf("%q: the port must be a number from 0 to 65535", a)
	}
	if strings.Contains(host, ":") {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Sprintf("%q: %q is not an IPv6 address", a, host)
		}
	}
	return ""
}

func stringKey(name, def, doc string, check func(string) string, field func(*Config) *string) key {
	return key{
		name: name, kind: kindString, def: def, doc: doc,
		apply: func(c *Config, raw any) string {
			s, ok := raw.(string)
			if !ok {
				return "want text; got " + describe(raw)
			}
			s = strings.TrimSpace(s)
			if check != nil {
				if problem := check(s); problem != "" {
					return problem
				}
			}
			*field(c) = s
			return ""
		},
		value: func(c *Config) any { return *field(c) },
	}
}

// checkPath accepts a file path or "": a path names no directory to read, only a
// file, so it must not end in a slash.
func checkPath(s string) string {
	if strings.HasSuffix(s, "/") || strings.ContainsRune(s, 0) {
		return fmt.Sprintf("%q is not a file path", s)
	}
	return ""
}

// checkHostLabel accepts "" or one DNS label: letters, digits and '-', not at
// either end, at most 63 characters.
func checkHostLabel(s string) string {
	if s == "" {
		return ""
	}
	ok := len(s) <= 63 && s[0] != '-' && s[len(s)-1] != '-'
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
	}
	if !ok {
		return fmt.Sprintf("%q is not a host name like swarmlight; want letters, digits and '-', at most 63", s)
	}
	return ""
}

func checkName(s string) string {
	if len(s) > 21 {
		return fmt.Sprintf("%q is longer than the 21 characters a display line holds", s)
	}
	return ""
}

// checkLEDSpec checks an LED with the parser hw/board opens it with.
func checkLEDSpec(s string) string {
	if _, err := devspec.ParseLED(s); err != nil {
		return err.Error()
	}
	return ""
}

// checkPinName checks the button's pin with the parser hw/board uses; "" is none.
func checkPinName(s string) string {
	if s == "" {
		return ""
	}
	if err := devspec.CheckPin(s); err != nil {
		return err.Error()
	}
	return ""
}

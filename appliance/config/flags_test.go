package config

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestRegisterFlags(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs)
	if fs.Lookup(ConfigFlag) == nil {
		t.Errorf("no --%s flag", ConfigFlag)
	}
	for _, k := range schema {
		f := fs.Lookup(k.name)
		if f == nil {
			t.Errorf("no flag --%s", k.name)
			continue
		}
		if f.Usage != k.doc {
			t.Errorf("--%s help = %q, want the key's doc %q", k.name, f.Usage, k.doc)
		}
	}

	tests := []struct {
		flag, typ, def string
	}{
		{"http.listen", "strings", ":6969"},
		{"tracker.interval", "duration", "30m"},
		{"tracker.peer_timeout", "duration", "0s"},
		{"http.max_header_bytes", "int", "16384"},
		{"tracker.full_scrape", "bool", "false"},
		{"swarm.max_memory", "size", "auto"},
		{"swarm.source_window", "duration", "10m"},
		{"tracker.allowed_networks", "cidrs", "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,169.254.0.0/16,fe80::/10,fc00::/7"},
		{"log.level", "level", "info"},
		{"log.format", "string", "text"},
	}
	for _, tt := range tests {
		f := fs.Lookup(tt.flag)
		if f == nil {
			continue // reported above
		}
		if f.Value.Type() != tt.typ || f.DefValue != tt.def {
			t.Errorf("--%s is %s defaulting to %q, want %s defaulting to %q", tt.flag, f.Value.Type(), f.DefValue, tt.typ, tt.def)
		}
	}
	if usage := fs.FlagUsages(); !strings.Contains(usage, "--tracker.interval duration") {
		t.Errorf("help does not show the value type:\n%s", usage)
	}
}

// TestFlagHelpDefaults: --help shows each default as it would be typed, a string
// quoted once.
func TestFlagHelpDefaults(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs)
	usage := fs.FlagUsages()
	for _, tc := range []struct{ flag, want string }{
		{"panel.button", `--panel.button string`},
		{"panel.button", `(default "GPIO23")`},
		{"panel.led_power", `(default "sysfs:ACT")`},
		{"panel.mode", `(default "auto")`},
		{"log.format", `(default "text")`},
		{"tracker.interval", `(default 30m)`},
		{"http.listen", `(default :6969)`},
	} {
		if !strings.Contains(usage, tc.want) {
			t.Errorf("--%s: help lacks %s:\n%s", tc.flag, tc.want, usage)
		}
	}
	if strings.Contains(usage, `\"`) {
		t.Errorf("help quotes a default twice:\n%s", usage)
	}
}

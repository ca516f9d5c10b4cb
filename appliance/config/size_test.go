package config

import (
	"strings"
	"testing"
)

func TestToMemory(t *testing.T) {
	const mib, gib = 1 << 20, 1 << 30
	tests := []struct {
		name    string
		raw     any
		want    int64
		auto    bool
		problem string // a substring of the problem; "" when the value is good
	}{
		{name: "auto", raw: "auto", auto: true},
		{name: "auto in any case and blanks", raw: " AUTO ", auto: true},
		{name: "MiB", raw: "96MiB", want: 96 * mib},
		{name: "GiB", raw: "1GiB", want: gib},
		{name: "KiB", raw: "16384KiB", want: 16 * mib},
		{name: "bytes with B", raw: "500000000B", want: 500000000},
		{name: "plain bytes", raw: "500000000", want: 500000000},
		{name: "blank between number and unit", raw: "96 MiB", want: 96 * mib},
		{name: "unit in lower case", raw: "96mib", want: 96 * mib},
		{name: "YAML int", raw: 500000000, want: 500000000},
		{name: "YAML uint64", raw: uint64(64 * mib), want: 64 * mib},
		{name: "the lower bound", raw: "8MiB", want: 8 * mib},
		{name: "the upper bound", raw: formatSize(maxMemory), want: maxMemory},

		{name: "empty", raw: "", problem: `want auto or a whole number of bytes with an optional unit B, KiB, MiB, GiB or TiB, like 96MiB or 500000000; got ""`},
		{name: "negative", raw: "-1", problem: "-1 is out of range; want 8MiB to " + formatSize(maxMemory)},
		{name: "negative from YAML", raw: -1, problem: "-1 is out of range"},
		{name: "unknown unit", raw: "12XB", problem: `want auto or a whole number of bytes with an optional unit B, KiB, MiB, GiB or TiB, like 96MiB or 500000000; got "12XB"`},
		{name: "exponent", raw: "1e9", problem: `got "1e9"`},
		{name: "exponent from YAML", raw: 1e9, problem: "got 1e+09"},
		{name: "fraction", raw: "1.5GiB", problem: `got "1.5GiB"`},
		{name: "unit alone", raw: "MiB", problem: `got "MiB"`},
		{name: "MB is ambiguous", raw: "96MB", problem: `"96MB": MB is ambiguous (1000 or 1024 based?); write 96MiB for the binary unit`},
		{name: "M is ambiguous", raw: "512M", problem: "write 512MiB"},
		{name: "kb is ambiguous", raw: "9000kb", problem: "write 9000KiB"},
		{name: "number overflows", raw: "99999999999999999999GiB", problem: `"99999999999999999999GiB" is too large`},
		{name: "unit overflows", raw: "9999999999TiB", problem: `"9999999999TiB" is too large`},
		{name: "YAML uint64 overflows", raw: uint64(1 << 63), problem: "9223372036854775808 is too large"},
		{name: "below 8 MiB", raw: "8191KiB", problem: "8191KiB is out of range; want 8MiB to " + formatSize(maxMemory)},
		{name: "forgotten unit", raw: 500000, problem: "500000 is out of range"},
		{name: "above the platform's limit", raw: formatSize(maxMemory + mib), problem: "is out of range; want 8MiB to " + formatSize(maxMemory)},
		{name: "a bool", raw: true, problem: "got true"},
		{name: "a list", raw: []any{"1GiB"}, problem: "got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, auto, problem := toMemory(tt.raw)
			if tt.problem != "" {
				if !strings.Contains(problem, tt.problem) {
					t.Fatalf("toMemory(%#v) problem %q, want it to contain %q", tt.raw, problem, tt.problem)
				}
				return
			}
			if problem != "" || n != tt.want || auto != tt.auto {
				t.Fatalf("toMemory(%#v) = %d, %v, %q; want %d, %v", tt.raw, n, auto, problem, tt.want, tt.auto)
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		n           int64
		file, human string
	}{
		{8 << 20, "8MiB", "8 MiB"},
		{96 << 20, "96MiB", "96 MiB"},
		{1 << 30, "1GiB", "1 GiB"},
		{1536 << 20, "1536MiB", "1536 MiB"},
		{5 << 40, "5TiB", "5120 GiB"},
		{3 << 10, "3KiB", "3072 bytes"},
		{500000000, "500000000", "476.8 MiB"},
		{65776508 << 10, "65776508KiB", "62.7 GiB"},
	}
	for _, tt := range tests {
		if got := formatSize(tt.n); got != tt.file {
			t.Errorf("formatSize(%d) = %q, want %q", tt.n, got, tt.file)
		}
		if back, problem := parseSize(formatSize(tt.n)); back != tt.n || problem != "" {
			t.Errorf("parseSize(formatSize(%d)) = %d, %q", tt.n, back, problem)
		}
		if got := formatBytes(tt.n); got != tt.human {
			t.Errorf("formatBytes(%d) = %q, want %q", tt.n, got, tt.human)
		}
	}
}

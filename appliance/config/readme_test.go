package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's configuration reference from the schema")

// The README's configuration reference lives between these markers and is written
// by renderReference, so it cannot drift from the schema the way a hand-kept table
// did (it once lacked every panel.* key).
const (
	readmeFile   = "../../README.md"
	refBegin     = "<!-- config-reference:begin -->"
	refEnd       = "<!-- config-reference:end -->"
	regenerate   = "go test ./appliance/config -run TestREADMEReference -update"
	refGenerated = "<!-- generated from appliance/config/schema.go by `" + regenerate + "`; edit the schema, not this table -->"
)

// TestREADMEReference fails when the README's configuration reference is not the
// one the schema gives: a key added, removed, renamed, re-documented or given
// another default. After a deliberate change, regenerate it with
//
//	go test ./appliance/config -run TestREADMEReference -update
func TestREADMEReference(t *testing.T) {
	body, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatalf("read %s: %v", readmeFile, err)
	}
	want := renderReference()
	got, err := spliceReference(string(body), want)
	if err != nil {
		t.Fatalf("%s: %v", readmeFile, err)
	}
	if got == string(body) {
		return
	}
	if *update {
		if err := os.WriteFile(readmeFile, []byte(got), 0o644); err != nil {
			t.Fatalf("write %s: %v", readmeFile, err)
		}
		t.Logf("rewrote the configuration reference in %s", readmeFile)
		return
	}
	t.Errorf("%s: the configuration reference differs from the schema:\n%s\nregenerate it with: %s",
		readmeFile, diffLines(currentReference(string(body)), want), regenerate)
}

// TestSpliceReference shows that drift is caught and that only the text between
// the markers is ever rewritten.
func TestSpliceReference(t *testing.T) {
	ref := renderReference()
	good := "# title\n\nbefore\n" + refBegin + "\n" + ref + refEnd + "\nafter\n"
	tests := []struct {
		name    string
		readme  string
		wantErr error
		same    bool // the README already holds the reference
	}{
		{"up to date", good, nil, true},
		{"a key missing", strings.Replace(good, "| `panel.button` |", "| `panel.buton` |", 1), nil, false},
		{"a stale default", strings.Replace(good, "| `tracker.interval` | `30m` |", "| `tracker.interval` | `20m` |", 1), nil, false},
		{"empty block", "x\n" + refBegin + "\n" + refEnd + "\ny\n", nil, false},
		{"no markers", "# title\n| key | default | meaning |\n", errNoMarkers, false},
		{"end before begin", refEnd + "\n" + refBegin + "\n", errNoMarkers, false},
		{"two blocks", good + good, errTwoBlocks, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := spliceReference(tt.readme, ref)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if (got == tt.readme) != tt.same {
				t.Errorf("README unchanged = %v, want %v", got == tt.readme, tt.same)
			}
			before, _, _ := strings.Cut(tt.readme, refBegin)
			_, after, _ := strings.Cut(tt.readme, refEnd)
			if want := before + refBegin + "\n" + ref + refEnd + after; got != want {
				t.Errorf("spliced README:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestReferenceRow pins how a key's facts are written into a Markdown table cell.
func TestReferenceRow(t *testing.T) {
	tests := []struct {
		name string
		k    string
		def  any
		doc  string
		want string
	}{
		{"scalar", "tracker.interval", mustDuration(t, "30m"), "How often", "| `tracker.interval` | `30m` | How often |"},
		{"list", "http.listen", []string{":6969", "[::1]:6969"}, "Where", "| `http.listen` | `[\":6969\", \"[::1]:6969\"]` | Where |"},
		{"empty list", "access.clients", []string{}, "Who", "| `access.clients` | `[]` | Who |"},
		{"empty string", "panel.sim_png", "", "File", "| `panel.sim_png` | `\"\"` | File |"},
		{"pipe in the doc", "access.key_file", "/etc/x", "swarmlight key add|list|revoke", "| `access.key_file` | `\"/etc/x\"` | swarmlight key add\\|list\\|revoke |"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := referenceRow(tt.k, tt.def, tt.doc); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestReferenceCoversEveryKey guards the generator itself: one row per key, in
// schema order, so a key can never be left out of the README.
func TestReferenceCoversEveryKey(t *testing.T) {
	var names []string
	for line := range strings.SplitSeq(renderReference(), "\n") {
		if name, ok := strings.CutPrefix(line, "| `"); ok {
			name, _, _ = strings.Cut(name, "`")
			names = append(names, name)
		}
	}
	if got, want := strings.Join(names, " "), strings.Join(Keys(), " "); got != want {
		t.Errorf("rows:\n got %s\nwant %s", got, want)
	}
}

var (
	errNoMarkers = errors.New("no " + refBegin + " ... " + refEnd + " block")
	errTwoBlocks = errors.New("more than one " + refBegin + " block")
)

// renderReference is the table the README shows: every key with its default as
// the schema states it (tracker.peer_timeout is 0s there, not what 0 resolves to)
// spelled as in the config file, and its doc from the schema.
func renderReference() string {
	var b strings.Builder
	b.WriteString(refGenerated + "\n\n")
	b.WriteString("| key | default | meaning |\n|---|---|---|\n")
	for _, k := range schema {
		b.WriteString(referenceRow(k.name, k.def, k.doc) + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

func referenceRow(name string, def any, doc string) string {
	var value string
	if items, isList := listItems(def); isList {
		quoted := make([]string, len(items))
		for i, item := range items {
			quoted[i] = strconv.Quote(item)
		}
		value = "[" + strings.Join(quoted, ", ") + "]"
	} else {
		value = formatScalar(def)
	}
	// A '|' ends a table cell even inside backticks; GitHub's Markdown reads "\|"
	// as the character.
	cell := strings.NewReplacer("|", `\|`)
	return fmt.Sprintf("| `%s` | `%s` | %s |", name, cell.Replace(value), cell.Replace(doc))
}

// spliceReference returns readme with the text between the markers replaced by ref.
func spliceReference(readme, ref string) (string, error) {
	before, rest, ok := strings.Cut(readme, refBegin)
	if !ok {
		return "", errNoMarkers
	}
	_, after, ok := strings.Cut(rest, refEnd)
	if !ok {
		return "", errNoMarkers
	}
	if strings.Contains(after, refBegin) {
		return "", errTwoBlocks
	}
	return before + refBegin + "\n" + ref + refEnd + after, nil
}

// currentReference is the text between the markers, for the failure message.
func currentReference(readme string) string {
	_, rest, _ := strings.Cut(readme, refBegin)
	cur, _, _ := strings.Cut(rest, refEnd)
	return strings.TrimPrefix(cur, "\n")
}

// diffLines lists the lines only one side has: enough to see which keys drifted
// without a diff library.
func diffLines(got, want string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for l := range strings.SplitSeq(s, "\n") {
			m[l] = true
		}
		return m
	}
	gotSet, wantSet := in(got), in(want)
	var b strings.Builder
	for l := range strings.SplitSeq(got, "\n") {
		if !wantSet[l] {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for l := range strings.SplitSeq(want, "\n") {
		if !gotSet[l] {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return b.String()
}

func mustDuration(t *testing.T, s string) any {
	t.Helper()
	d, problem := toDuration(s)
	if problem != "" {
		t.Fatalf("duration %q: %s", s, problem)
	}
	return d
}

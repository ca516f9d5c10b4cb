package access

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	re := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for range 100 {
		k := Generate()
		if !re.MatchString(k) {
			t.Fatalf("key %q is not 32 lowercase hex digits", k)
		}
		var key Key
		if !key.Set(k) {
			t.Fatalf("key %q is not one a request can carry", k)
		}
		if seen[k] {
			t.Fatalf("key %q twice", k)
		}
		seen[k] = true
	}
}

func TestReadMembers(t *testing.T) {
	alice, bob := Generate(), Generate()
	good := Member{"alice", Digest(alice)}.String() + "\n# the club\n\n" + Member{"bob@home.lan", Digest(bob)}.String() + "  # since May\n"
	hash := Member{"x", Digest(alice)}.String()[2:]
	tests := []struct {
		name     string
		text     string
		want     []string // labels
		wantLine int
	}{
		{"empty", "", nil, 0},
		{"good", good, []string{"alice", "bob@home.lan"}, 0},
		{"label taken", good + Member{"alice", Digest(bob)}.String() + "\n", nil, 5},
		{"bad label", "al/ice " + hash + "\n", nil, 1},
		{"label too long", strings.Repeat("a", 65) + " " + hash + "\n", nil, 1},
		{"short hash", "\nalice " + hash[:63] + "\n", nil, 2},
		{"not hex", "alice " + strings.Repeat("z", 64) + "\n", nil, 1},
		{"no hash", "alice\n", nil, 1},
		{"a raw key instead of its hash", "alice " + alice + "\n", nil, 1},
		{"three fields", "alice " + hash + " extra\n", nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := ReadMembers(strings.NewReader(tt.text), "/etc/swarmlight/passkeys")
			if tt.wantLine != 0 {
				var le *LineError
				if !errors.As(err, &le) || le.Line != tt.wantLine {
					t.Fatalf("error %v, want one for line %d", err, tt.wantLine)
				}
				if strings.Contains(err.Error(), hash[:16]) || strings.Contains(err.Error(), alice) {
					t.Fatalf("error %q repeats the line", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ms {
				got = append(got, m.Label)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("labels %q, want %q", got, tt.want)
			}
			keys := NewKeys(ms)
			for _, k := range []string{alice, bob}[:len(ms)] {
				var key Key
				key.Set(k)
				if !keys.Has(&key) {
					t.Fatalf("key of a member refused")
				}
			}
		})
	}
}

func TestKeysHas(t *testing.T) {
	alice := Generate()
	keys := NewKeys([]Member{{"alice", Digest(alice)}, {"bob", Digest(Generate())}})
	tests := []struct {
		name string
		key  string
		want bool
	}{
		{"member", alice, true},
		{"upper case is another key", strings.ToUpper(alice), false},
		{"prefix", alice[:31], false},
		{"stranger", Generate(), false},
		{"none", "", false},
	}
	for _, tt := range tests {
		var k Key
		k.Set(tt.key)
		if got := keys.Has(&k); got != tt.want {
			t.Errorf("%s: Has %v, want %v", tt.name, got, tt.want)
		}
	}
	if keys.Has(nil) || (*Keys)(nil).Has(&Key{}) {
		t.Error("no key, or no key set, admitted someone")
	}
}

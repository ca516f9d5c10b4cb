package periph

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeLED makes root/name look like a kernel LED.
func fakeLED(t *testing.T, root, name, trigger, max string) string {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"trigger": trigger, "brightness": "0\n"}
	if max != "" {
		files["max_brightness"] = max
	}
	for f, v := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readAttr(t *testing.T, dir, attr string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, attr))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSysfsLED(t *testing.T) {
	const triggers = "none rc-feedback kbd-scrolllock [mmc0] timer oneshot heartbeat default-on\n"
	for _, tc := range []struct {
		name     string // asked for
		dir      string // in the tree
		max      string // max_brightness, "" for none
		trigger  string
		wantOn   string
		wantTrig string // restored on Close
	}{
		{"ACT", "ACT", "255\n", triggers, "255", "mmc0"},
		{"ACT", "led0", "1\n", triggers, "1", "mmc0"},
		{"PWR", "led1", "", "none [default-on] mmc0\n", "1", "default-on"},
		{"status", "status", "garbage", "[none] heartbeat\n", "1", "none"},
		{"input3::capslock", "input3::capslock", "1\n", "none [kbd-capslock]\n", "1", "kbd-capslock"},
	} {
		t.Run(tc.name+"_as_"+tc.dir, func(t *testing.T) {
			root := t.TempDir()
			dir := fakeLED(t, root, tc.dir, tc.trigger, tc.max)
			l, err := OpenSysfsLED(root, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAttr(t, dir, "trigger"); got != "none" {
				t.Fatalf("trigger after open: %q, want none", got)
			}
			for _, step := range []struct {
				on   bool
				want string
			}{{true, tc.wantOn}, {false, "0"}, {true, tc.wantOn}} {
				if err := l.Set(step.on); err != nil {
					t.Fatal(err)
				}
				if got := readAttr(t, dir, "brightness"); got != step.want {
					t.Fatalf("Set(%t): brightness %q, want %q", step.on, got, step.want)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if got := readAttr(t, dir, "brightness"); got != "0" {
				t.Fatalf("brightness after Close: %q", got)
			}
			if got := readAttr(t, dir, "trigger"); got != tc.wantTrig {
				t.Fatalf("trigger after Close: %q, want %q", got, tc.wantTrig)
			}
		})
	}
}

// TestSysfsLEDPrefersName checks that the fallback is only a fallback: a kernel
// with both names (a board whose overlay adds led0) uses the one configured.
func TestSysfsLEDPrefersName(t *testing.T) {
	root := t.TempDir()
	act := fakeLED(t, root, "ACT", "[mmc0]", "1")
	led0 := fakeLED(t, root, "led0", "[heartbeat]", "1")
	l, err := OpenSysfsLED(root, "ACT")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := readAttr(t, act, "trigger"); got != "none" {
		t.Fatalf("ACT trigger %q", got)
	}
	if got := readAttr(t, led0, "trigger"); got != "[heartbeat]" {
		t.Fatalf("led0 was touched: trigger %q", got)
	}
}

func TestSysfsLEDErrors(t *testing.T) {
	root := t.TempDir()
	fakeLED(t, root, "led1", "[default-on]", "1")

	_, err := OpenSysfsLED(root, "ACT")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing LED: %v, want fs.ErrNotExist", err)
	}
	if want := "sysfs-led ACT: no ACT or led0 in " + root; !strings.Contains(err.Error(), want) {
		t.Fatalf("missing LED: %q, want it to say %q", err, want)
	}

	for _, name := range []string{"", "..", "../etc", "a/b"} {
		if _, err := OpenSysfsLED(root, name); err == nil || !strings.Contains(err.Error(), "invalid name") {
			t.Errorf("OpenSysfsLED(%q): %v", name, err)
		}
	}

	// A read-only attribute is what a non-root user meets on a real Pi.
	dir := fakeLED(t, root, "ro", "none [mmc0]", "1")
	if err := os.Chmod(filepath.Join(dir, "trigger"), 0o444); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// Root writes through file modes; an attribute that is missing fails
		// the same way for everyone.
		if err := os.Remove(filepath.Join(dir, "brightness")); err != nil {
			t.Fatal(err)
		}
		_, err = OpenSysfsLED(root, "ro")
		if err == nil || !strings.HasPrefix(err.Error(), "sysfs-led ro: brightness 0: open ") {
			t.Fatalf("missing brightness: %v", err)
		}
		// The trigger must not stay "none" behind a failed open.
		if got := readAttr(t, dir, "trigger"); got != "mmc0" {
			t.Fatalf("trigger after failed open: %q, want mmc0", got)
		}
		return
	}
	_, err = OpenSysfsLED(root, "ro")
	if !errors.Is(err, fs.ErrPermission) || !strings.HasPrefix(err.Error(), "sysfs-led ro: trigger none: open ") {
		t.Fatalf("read-only trigger: %v", err)
	}
}

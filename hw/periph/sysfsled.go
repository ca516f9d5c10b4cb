package periph

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/swarmlight/swarmlight/hw"
)

// DefaultSysfsLEDRoot is where Linux lists its kernel LEDs.
const DefaultSysfsLEDRoot = "/sys/class/leds"

// sysfsFallback names the same LED on kernels older than 6.1, which called the
// Pi's green activity LED led0 and its red power LED led1.
var sysfsFallback = map[string]string{"ACT": "led0", "PWR": "led1"}

// OpenSysfsLED takes over the kernel LED name under root (normally
// DefaultSysfsLEDRoot). Its trigger (the kernel's own use of the LED, like SD
// card activity) is saved and replaced by "none", so that the kernel does not
// fight Set; Close gives the trigger back.
//
// Writing needs root or a udev rule; the error then names the LED and the file.
// A missing LED wraps fs.ErrNotExist.
func OpenSysfsLED(root, name string) (hw.LED, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return nil, fmt.Errorf("sysfs-led %q: invalid name", name)
	}
	tried := []string{name}
	if alt, ok := sysfsFallback[name]; ok {
		tried = append(tried, alt)
	}
	dir := ""
	for _, n := range tried {
		if fi, err := os.Stat(filepath.Join(root, n)); err == nil && fi.IsDir() {
			dir = filepath.Join(root, n)
			break
		}
	}
	if dir == "" {
		return nil, fmt.Errorf("sysfs-led %s: no %s in %s: %w", name, strings.Join(tried, " or "), root, fs.ErrNotExist)
	}
	l := &sysfsLED{name: name, dir: dir, max: "1"}

	trig, err := os.ReadFile(filepath.Join(dir, "trigger"))
	if err != nil {
		return nil, l.errorf("read trigger: %w", err)
	}
	l.trigger = activeTrigger(trig)
	// Some LEDs (GPIO-backed ones without PWM) have no max_brightness worth
	// trusting; anything above 0 lights them, so 1 is a safe default.
	if b, err := os.ReadFile(filepath.Join(dir, "max_brightness")); err == nil {
		if n, err := strconv.Atoi(string(bytes.TrimSpace(b))); err == nil && n > 0 {
			l.max = strconv.Itoa(n)
		}
	}
	if err := l.write("trigger", "none"); err != nil {
		return nil, err
	}
	// Removing the trigger turns the LED off in the kernel; write it anyway so a
	// brightness file we cannot write fails here, not on the first Set.
	if err := l.write("brightness", "0"); err != nil {
		return nil, errors.Join(err, l.write("trigger", l.trigger))
	}
	l.on = false
	l.known = true
	return l, nil
}

// activeTrigger returns the bracketed word of a trigger file ("none [mmc0]
// timer" gives "mmc0"), "none" when there is none.
func activeTrigger(b []byte) string {
	for _, w := range strings.Fields(string(b)) {
		if len(w) > 2 && w[0] == '[' && w[len(w)-1] == ']' {
			return w[1 : len(w)-1]
		}
	}
	return "none"
}

type sysfsLED struct {
	name    string // as asked for, which is what the user configured
	dir     string
	max     string
	trigger string // the kernel's trigger, restored on Close

	mu     sync.Mutex
	on     bool
	known  bool // on is what the LED shows
	closed bool
}

func (l *sysfsLED) String() string {
	return "sysfs-led " + l.name
}

// Set implements hw.LED. Writes are skipped when the LED already shows the
// state: the activity LED is set on every announce, and each write is a
// syscall on a Pi Zero.
func (l *sysfsLED) Set(on bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return l.errorf("%w", errClosed)
	}
	if l.known && l.on == on {
		return nil
	}
	v := "0"
	if on {
		v = l.max
	}
	l.known = false
	if err := l.write("brightness", v); err != nil {
		return err
	}
	l.on, l.known = on, true
	return nil
}

// Close implements hw.LED.
func (l *sysfsLED) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	// Restoring the trigger alone would leave a trigger like "none" or
	// "default-on" with whatever brightness we left, so turn it off first.
	return errors.Join(l.write("brightness", "0"), l.write("trigger", l.trigger))
}

// write replaces the content of one attribute. A sysfs attribute takes one
// whole value per write(2) at offset 0; O_TRUNC is ignored there but keeps a
// plain file (a test's fake tree) equal to the last value, and no O_CREATE
// keeps a missing attribute an error.
func (l *sysfsLED) write(attr, v string) error {
	f, err := os.OpenFile(filepath.Join(l.dir, attr), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return l.errorf("%s %s: %w", attr, v, err)
	}
	_, err = f.Write([]byte(v))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return l.errorf("%s %s: %w", attr, v, err)
	}
	return nil
}

func (l *sysfsLED) errorf(format string, a ...any) error {
	return fmt.Errorf("sysfs-led %s: "+format, append([]any{l.name}, a...)...)
}

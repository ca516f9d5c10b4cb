package board

import (
	"errors"
	"image"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"

	"github.com/swarmlight/swarmlight/hw"
)

// defaults is the configuration the appliance ships with.
var defaults = Opts{
	Power:    "sysfs:ACT",
	Activity: "gpio:GPIO17",
	Swarm:    "gpio:GPIO27",
	Error:    "gpio:GPIO22",
	Button:   "GPIO23",
	Display:  true,
}

// TestOpenHere runs Open against this machine's real drivers. On a machine
// without GPIO (any CI runner) that is the simulated case: no device, no
// error, whatever is configured.
func TestOpenHere(t *testing.T) {
	e := hostEnv{}
	if err := e.init(); err != nil {
		t.Fatal(err)
	}
	if e.pinCount() != 0 || len(e.gpioChips()) != 0 {
		t.Skip("this machine has GPIO: Open would drive real devices")
	}
	o := defaults
	o.SysfsRoot = t.TempDir() // no kernel LED there
	d, errs := Open(o)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if !d.NoHardware {
		t.Fatal("NoHardware not reported")
	}
	if d.Power != nil || d.Activity != nil || d.Swarm != nil || d.Error != nil || d.Display != nil || d.Button != nil {
		t.Fatalf("devices on a machine without hardware: %+v", d)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	// A bus named explicitly is tried even here, and its absence said clearly.
	o.DisplayBus = "7"
	d, errs = Open(o)
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), `display: i2c bus "7": no such bus`) {
		t.Fatalf("errors: %v", errs)
	}
	if !d.NoHardware || d.Display != nil {
		t.Fatalf("devices: %+v", d)
	}
}

// fakeEnv is a board with pins, buses and kernel LEDs of the test's choosing.
type fakeEnv struct {
	pins  map[string]gpio.PinIO
	chips []string
	refs  []*i2creg.Ref
}

func (e *fakeEnv) init() error { return nil }
func (e *fakeEnv) pin(name string) gpio.PinIO {
	if p, ok := e.pins[name]; ok {
		return p
	}
	return nil
}
func (e *fakeEnv) pinCount() int        { return len(e.pins) }
func (e *fakeEnv) gpioChips() []string  { return e.chips }
func (e *fakeEnv) buses() []*i2creg.Ref { return e.refs }

// fakeBus is an I²C bus with a device that acknowledges at one address.
type fakeBus struct {
	name   string
	dev    uint16
	mu     sync.Mutex
	writes map[uint16]int
	closed bool
}

func (b *fakeBus) String() string                    { return b.name }
func (b *fakeBus) SetSpeed(f physic.Frequency) error { return nil }
func (b *fakeBus) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("sysfs-i2c: bad file descriptor")
	}
	if addr != b.dev {
		return errors.New("sysfs-i2c: remote I/O error")
	}
	b.writes[addr]++
	return nil
}
func (b *fakeBus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

// busyPin is a line another process holds.
type busyPin struct{ gpiotest.Pin }

func (p *busyPin) Out(gpio.Level) error { return errors.New("gpioioctl: device or resource busy") }

func newFakeEnv(t *testing.T) (*fakeEnv, map[string]*fakeBus) {
	e := &fakeEnv{pins: map[string]gpio.PinIO{}, chips: []string{"/dev/gpiochip0"}}
	for _, n := range []string{"GPIO17", "GPIO27", "GPIO22", "GPIO5", "GPIO6"} {
		// Pins come up high here so a test sees Open turn LEDs off.
		e.pins[n] = &gpiotest.Pin{N: n, L: gpio.High}
	}
	e.pins["GPIO23"] = &gpiotest.Pin{N: "GPIO23", EdgesChan: make(chan gpio.Level, 1)}
	e.pins["GPIO13"] = &busyPin{gpiotest.Pin{N: "GPIO13"}}
	buses := map[string]*fakeBus{}
	for _, b := range []struct {
		name  string
		alias string
		n     int
		dev   uint16
	}{{"/dev/i2c-0", "I2C0", 0, 0x50}, {"/dev/i2c-1", "I2C1", 1, 0x3C}, {"/dev/i2c-20", "I2C20", 20, 0x3D}} {
		fb := &fakeBus{name: b.name, dev: b.dev, writes: map[uint16]int{}}
		buses[b.name] = fb
		e.refs = append(e.refs, &i2creg.Ref{
			Name: b.name, Aliases: []string{b.alias}, Number: b.n,
			Open: func() (i2c.BusCloser, error) {
				fb.mu.Lock()
				fb.closed = false
				fb.mu.Unlock()
				return fb, nil
			},
		})
	}
	return e, buses
}

func fakeSysfs(t *testing.T, names ...string) string {
	root := t.TempDir()
	for _, n := range names {
		dir := filepath.Join(root, n)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, v := range map[string]string{"trigger": "none [mmc0]", "brightness": "1", "max_brightness": "1"} {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestOpenBoard(t *testing.T) {
	e, buses := newFakeEnv(t)
	o := defaults
	o.Error = "gpio:GPIO22:low"
	o.SysfsRoot = fakeSysfs(t, "led0") // an older kernel's name for ACT
	d, errs := open(o, e)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if d.NoHardware {
		t.Fatal("NoHardware on a board with pins")
	}
	if d.Power == nil || d.Activity == nil || d.Swarm == nil || d.Error == nil || d.Display == nil || d.Button == nil {
		t.Fatalf("missing devices: %+v", d)
	}
	level := func(n string) gpio.Level { return e.pins[n].Read() }
	if level("GPIO17") != gpio.Low || level("GPIO27") != gpio.Low || level("GPIO22") != gpio.High {
		t.Fatal("Open did not turn the LEDs off")
	}
	if err := d.Activity.Set(true); err != nil || level("GPIO17") != gpio.High {
		t.Fatalf("activity LED: %v", err)
	}
	if got := d.Display.Bounds(); got != image.Rect(0, 0, 128, 64) {
		t.Fatalf("display %v", got)
	}
	// The default bus is I2C1, not the lower numbered HAT EEPROM bus.
	if buses["/dev/i2c-1"].writes[0x3C] == 0 || len(buses["/dev/i2c-0"].writes) != 0 {
		t.Fatalf("display traffic: i2c-0 %v, i2c-1 %v", buses["/dev/i2c-0"].writes, buses["/dev/i2c-1"].writes)
	}
	if trig, _ := os.ReadFile(filepath.Join(o.SysfsRoot, "led0", "trigger")); string(trig) != "none" {
		t.Fatalf("led0 trigger %q", trig)
	}

	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if level("GPIO17") != gpio.Low || level("GPIO22") != gpio.High {
		t.Fatal("Close left LEDs on")
	}
	if trig, _ := os.ReadFile(filepath.Join(o.SysfsRoot, "led0", "trigger")); string(trig) != "mmc0" {
		t.Fatalf("led0 trigger after Close %q", trig)
	}
	if !buses["/dev/i2c-1"].closed {
		t.Fatal("bus left open")
	}
}

func TestOpenBoardErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Opts
		env  func(*fakeEnv)
		want []string // one error each, by prefix
		kind []hw.ErrorKind
	}{
		{
			name: "nothing configured",
			opts: Opts{},
		},
		{
			name: "missing pin and missing kernel LED",
			opts: Opts{Power: "sysfs:PWR", Activity: "gpio:GPIO99", Button: "GPIO98"},
			want: []string{
				"power LED: sysfs-led PWR: no PWR or led1 in ",
				`activity LED: gpio pin "GPIO99": no such pin`,
				`button: gpio pin "GPIO98": no such pin`,
			},
			kind: []hw.ErrorKind{hw.Missing, hw.Missing, hw.Missing},
		},
		{
			name: "pins that periph could not open",
			opts: Opts{Activity: "gpio:GPIO17"},
			env:  func(e *fakeEnv) { e.pins = nil },
			want: []string{`activity LED: gpio pin "GPIO17": no such pin (GPIO chips (/dev/gpiochip0) are there but periph could use none`},
			kind: []hw.ErrorKind{hw.Permission},
		},
		{
			name: "busy pin",
			opts: Opts{Swarm: "gpio:GPIO13"},
			want: []string{"swarm LED: gpio-led GPIO13: gpioioctl: device or resource busy"},
			kind: []hw.ErrorKind{hw.Busy},
		},
		{
			name: "one pin twice",
			opts: Opts{Activity: "gpio:17", Swarm: "gpio:GPIO17", Button: "gpio17"},
			want: []string{
				"swarm LED: gpio:GPIO17 is already the activity LED",
				"button: gpio:GPIO17 is already the activity LED",
			},
			kind: []hw.ErrorKind{hw.Conflict, hw.Conflict},
		},
		{
			name: "bad specs",
			opts: Opts{Power: "ACT", Activity: "gpio:GPIO17:high", Swarm: "sysfs:", Error: "gpio:", Button: "GPIO 23"},
			want: []string{
				`power LED: "ACT" is not an LED: want "sysfs:NAME" (sysfs:ACT), "gpio:PIN" (gpio:GPIO17), "gpio:PIN:low" or "" for none`,
				`activity LED: "gpio:GPIO17:high" is not an LED`,
				`swarm LED: "sysfs:" is not an LED`,
				`error LED: "gpio:" is not an LED`,
				`button: "GPIO 23" is not a pin name`,
			},
			kind: []hw.ErrorKind{hw.Invalid, hw.Invalid, hw.Invalid, hw.Invalid, hw.Invalid},
		},
		{
			name: "no such bus",
			opts: Opts{Display: true, DisplayBus: "7"},
			want: []string{`display: i2c bus "7": no such bus (there are /dev/i2c-0, /dev/i2c-1, /dev/i2c-20)`},
			kind: []hw.ErrorKind{hw.Missing},
		},
		{
			name: "no bus at all",
			opts: Opts{Display: true},
			env:  func(e *fakeEnv) { e.refs = nil },
			want: []string{"display: no I2C bus on this machine (on a Pi, turn I2C on"},
			kind: []hw.ErrorKind{hw.Missing},
		},
		{
			name: "nothing at the address",
			opts: Opts{Display: true, DisplayAddress: 0x3D},
			want: []string{`display: i2c bus "/dev/i2c-1": nothing answers at 0x3d (check the wiring and the address): ssd1306: init at 0x3d: sysfs-i2c: remote I/O error`},
			kind: []hw.ErrorKind{hw.Missing},
		},
		{
			name: "bus that cannot be opened",
			opts: Opts{Display: true, DisplayBus: "I2C1"},
			env: func(e *fakeEnv) {
				e.refs[1].Open = func() (i2c.BusCloser, error) {
					return nil, errors.New("sysfs-i2c: are you member of group 'plugdev'? permission denied")
				}
			},
			want: []string{`display: i2c bus "/dev/i2c-1": sysfs-i2c: are you member of group 'plugdev'? permission denied`},
			kind: []hw.ErrorKind{hw.Permission},
		},
		{
			name: "display by number, at 0x3D, 32 high",
			opts: Opts{Display: true, DisplayBus: "20", DisplayAddress: 0x3D, DisplayHeight: 32},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newFakeEnv(t)
			if tc.env != nil {
				tc.env(e)
			}
			tc.opts.SysfsRoot = fakeSysfs(t)
			d, errs := open(tc.opts, e)
			defer d.Close()
			if len(errs) != len(tc.want) {
				t.Fatalf("errors: %q, want %d", errs, len(tc.want))
			}
			for i, err := range errs {
				if !strings.HasPrefix(err.Error(), tc.want[i]) {
					t.Errorf("error %d:\n%s\nwant it to start\n%s", i, err, tc.want[i])
				}
				var de *hw.DeviceError
				if !errors.As(err, &de) || de.Kind != tc.kind[i] {
					t.Errorf("error %d (%v): kind %+v, want %v", i, err, de, tc.kind[i])
				}
			}
		})
	}
}

// TestOpenNoHardware checks what a machine without GPIO still opens: kernel
// LEDs that exist (a laptop's capslock LED, say) and a display on a bus named
// explicitly (a USB I²C adapter).
func TestOpenNoHardware(t *testing.T) {
	e, buses := newFakeEnv(t)
	e.pins, e.chips = nil, nil
	o := defaults
	o.Activity = "sysfs:input3::capslock"
	o.SysfsRoot = fakeSysfs(t, "input3::capslock")
	d, errs := open(o, e)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if !d.NoHardware || d.Activity == nil || d.Power != nil || d.Display != nil || d.Button != nil {
		t.Fatalf("devices: %+v", d)
	}
	for _, b := range buses {
		if len(b.writes) != 0 {
			t.Fatalf("display probed on %s without being asked", b.name)
		}
	}
	d.Close()

	o.DisplayBus = "I2C1"
	d, errs = open(o, e)
	if len(errs) != 0 || d.Display == nil {
		t.Fatalf("display on a named bus: %v", errs)
	}
	d.Close()
}

// Package board wires the front panel to this machine's hardware: it is the only
// place that initialises periph's host drivers and looks pins and buses up in
// its registries, and hands hw/periph devices to the rest of the appliance.
//
// A machine without GPIO (a laptop, a CI runner, a VM) is not an error: Open
// says so in Devices.NoHardware and the caller simulates the panel. On a board
// with GPIO, each configured device that cannot be used is one *hw.DeviceError
// naming it, the kind of trouble and the cause, and the others work.
package board

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"

	"github.com/swarmlight/swarmlight/hw"
	"github.com/swarmlight/swarmlight/hw/devspec"
	"github.com/swarmlight/swarmlight/hw/periph"
)

// Opts says which devices the panel has and where they are.
//
// An LED is "" (none), "sysfs:NAME" (a kernel LED under SysfsRoot, like ACT,
// the Pi's green LED), "gpio:PIN" (lit when the pin is high) or "gpio:PIN:low"
// (lit when low), as devspec.ParseLED reads it. PIN is a periph pin name
// ("GPIO17", or the header position "P1_11"); a bare number is taken as "GPIO"
// and the number.
type Opts struct {
	Power, Activity, Swarm, Error string

	// Button is the pin of a push button to ground, "" for none.
	Button string

	// Display drives an SSD1306 OLED on I²C.
	Display bool
	// DisplayBus is the bus name ("/dev/i2c-1"), alias ("I2C1") or number
	// ("1"). "" picks bus 1, the one on every 40-pin Pi header (pins 3 and 5),
	// or else the lowest numbered bus.
	DisplayBus string
	// DisplayAddress is 0x3C (the default when 0) or 0x3D.
	DisplayAddress uint16
	// DisplayHeight is 64 (the default when 0) or 32.
	DisplayHeight int

	// SysfsRoot is where kernel LEDs are; "" is /sys/class/leds.
	SysfsRoot string
}

// Devices are the panel's devices that work. A device that is not configured,
// or failed, is nil.
type Devices struct {
	Power, Activity, Swarm, Error hw.LED
	Display                       hw.Display
	Button                        hw.Button

	// NoHardware reports a machine without GPIO: Open skipped the GPIO devices
	// and the display on the default bus (on a PC that would be the SMBus of
	// the mainboard, not a place to write to). Kernel LEDs and a display on a
	// named bus were still tried, but a kernel LED that does not exist is no
	// error there.
	NoHardware bool

	bus i2c.BusCloser
}

// Open initialises the host drivers and opens every device o names. It never
// fails as a whole: the devices that work are in Devices, and each that does
// not is one *hw.DeviceError in the list.
func Open(o Opts) (*Devices, []error) {
	return open(o, hostEnv{})
}

// env is what Open needs from the host: periph's registries, or a test's.
type env interface {
	init() error
	pin(name string) gpio.PinIO
	pinCount() int
	// gpioChips lists GPIO character devices, present even when periph could
	// not use them.
	gpioChips() []string
	buses() []*i2creg.Ref
}

type hostEnv struct{}

func (hostEnv) init() error {
	_, err := host.Init()
	return err
}
func (hostEnv) pin(name string) gpio.PinIO { return gpioreg.ByName(name) }
func (hostEnv) pinCount() int              { return len(gpioreg.All()) }
func (hostEnv) buses() []*i2creg.Ref       { return i2creg.All() }
func (hostEnv) gpioChips() []string {
	m, _ := filepath.Glob("/dev/gpiochip*")
	return m
}

func open(o Opts, e env) (*Devices, []error) {
	d := &Devices{}
	var errs []error
	if err := e.init(); err != nil {
		// Drivers that failed are not an error of host.Init; this is something
		// worse, but the drivers that loaded may still be of use.
		errs = append(errs, &hw.DeviceError{Device: "board", Kind: hw.Failed, Err: fmt.Errorf("periph init: %w", err)})
	}
	b := &opener{e: e, used: map[string]string{}}
	if e.pinCount() == 0 {
		if chips := e.gpioChips(); len(chips) == 0 {
			d.NoHardware = true
		} else {
			b.noPins = fmt.Sprintf("GPIO chips (%s) are there but periph could use none: run as root or add the user to group gpio", strings.Join(chips, ", "))
		}
	}
	b.noHardware = d.NoHardware
	root := o.SysfsRoot
	if root == "" {
		root = periph.DefaultSysfsLEDRoot
	}

	for _, l := range []struct {
		role string
		spec string
		dst  *hw.LED
	}{
		{"power", o.Power, &d.Power},
		{"activity", o.Activity, &d.Activity},
		{"swarm", o.Swarm, &d.Swarm},
		{"error", o.Error, &d.Error},
	} {
		led, err := b.led(l.role, l.spec, root)
		if err != nil {
			errs = append(errs, err)
		} else if led != nil {
			*l.dst = led
		}
	}

	// A button named in a form that means nothing is an error on any machine,
	// as it is to check-config; one that is not there is none without GPIO.
	if err := devspec.CheckPin(o.Button); o.Button != "" && err != nil {
		errs = append(errs, &hw.DeviceError{Device: "button", Kind: hw.Invalid, Err: err})
	} else if o.Button != "" && !d.NoHardware {
		if p, err := b.pin("button", o.Button); err != nil {
			errs = append(errs, err)
		} else if btn, err := periph.NewButton(p); err != nil {
			errs = append(errs, deviceError("button", err))
		} else {
			d.Button = btn
		}
	}

	if o.Display && (!d.NoHardware || o.DisplayBus != "") {
		if err := d.openDisplay(o, e); err != nil {
			errs = append(errs, err)
		}
	}
	return d, errs
}

type opener struct {
	e          env
	noHardware bool
	noPins     string            // why no pin is found, when it is not obvious
	used       map[string]string // pin or LED → the role that has it
}

// led opens the LED of one role; nil without error when there is none.
func (b *opener) led(role, spec, root string) (hw.LED, error) {
	dev := role + " LED"
	ls, err := devspec.ParseLED(spec)
	if err != nil {
		return nil, &hw.DeviceError{Device: dev, Kind: hw.Invalid, Err: err}
	}
	switch ls.Kind {
	case devspec.None:
		return nil, nil
	case devspec.Sysfs:
		if err := b.claim(dev, "sysfs:"+ls.Name); err != nil {
			return nil, err
		}
		l, err := periph.OpenSysfsLED(root, ls.Name)
		if err != nil {
			if b.noHardware && errors.Is(err, fs.ErrNotExist) {
				return nil, nil
			}
			return nil, deviceError(dev, err)
		}
		return l, nil
	}
	if b.noHardware {
		return nil, nil
	}
	p, err := b.pin(dev, ls.Name)
	if err != nil {
		return nil, err
	}
	l := periph.NewGPIOLED(p, ls.ActiveLow)
	// Off now: a known state, and the pin's first use, where a line another
	// process holds fails.
	if err := l.Set(false); err != nil {
		return nil, deviceError(dev, err)
	}
	return l, nil
}

// pin finds the GPIO pin name for dev.
func (b *opener) pin(dev, name string) (gpio.PinIO, error) {
	if err := devspec.CheckPin(name); err != nil {
		return nil, &hw.DeviceError{Device: dev, Kind: hw.Invalid, Err: err}
	}
	p := b.e.pin(name)
	if p == nil && strings.ToUpper(name) != name {
		p = b.e.pin(strings.ToUpper(name))
	}
	if p == nil && strings.Trim(name, "0123456789") == "" {
		p = b.e.pin("GPIO" + name)
	}
	if p == nil {
		if b.noPins != "" {
			// The chips are there: what is missing is the right to use them.
			return nil, &hw.DeviceError{Device: dev, Kind: hw.Permission, Err: fmt.Errorf("gpio pin %q: no such pin (%s)", name, b.noPins)}
		}
		return nil, &hw.DeviceError{Device: dev, Kind: hw.Missing, Err: fmt.Errorf("gpio pin %q: no such pin", name)}
	}
	// Aliases (P1_11) and names (GPIO17) of one pin are one pin.
	key := "gpio:" + p.Name()
	if r, ok := p.(gpio.RealPin); ok {
		key = "gpio:" + r.Real().Name()
	}
	if err := b.claim(dev, key); err != nil {
		return nil, err
	}
	return p, nil
}

func (b *opener) claim(dev, key string) error {
	if other, ok := b.used[key]; ok {
		return &hw.DeviceError{Device: dev, Kind: hw.Conflict, Err: fmt.Errorf("%s is already the %s", key, other)}
	}
	b.used[key] = dev
	return nil
}

// deviceError sorts a driver's error by kind. periph formats some errnos away
// (%v), so where errors.Is cannot tell, the driver's text is read, here and
// only here.
func deviceError(dev string, err error) *hw.DeviceError {
	s := err.Error()
	kind := hw.Failed
	switch {
	case errors.Is(err, fs.ErrNotExist):
		kind = hw.Missing
	case errors.Is(err, fs.ErrPermission) || strings.Contains(s, "permission denied"):
		kind = hw.Permission
	case errors.Is(err, syscall.EBUSY) || strings.Contains(s, "device or resource busy"):
		kind = hw.Busy
	case strings.Contains(s, "remote I/O error") || strings.Contains(s, "no such device or address"):
		kind = hw.Missing
	}
	return &hw.DeviceError{Device: dev, Kind: kind, Err: err}
}

func (d *Devices) openDisplay(o Opts, e env) error {
	refs := e.buses()
	var names []string
	for _, r := range refs {
		names = append(names, r.Name)
	}
	var ref *i2creg.Ref
	if o.DisplayBus == "" {
		if len(refs) == 0 {
			return &hw.DeviceError{Device: "display", Kind: hw.Missing, Err: errors.New("no I2C bus on this machine (on a Pi, turn I2C on: raspi-config, Interface Options)")}
		}
		ref = defaultBus(refs)
	} else {
		ref = findBus(refs, o.DisplayBus)
		if ref == nil {
			have := "this machine has none"
			if len(names) != 0 {
				have = "there are " + strings.Join(names, ", ")
			}
			return &hw.DeviceError{Device: "display", Kind: hw.Missing, Err: fmt.Errorf("i2c bus %q: no such bus (%s)", o.DisplayBus, have)}
		}
	}
	bus, err := ref.Open()
	if err != nil {
		return deviceError("display", fmt.Errorf("i2c bus %q: %w", ref.Name, err))
	}
	addr := o.DisplayAddress
	if addr == 0 {
		addr = periph.SSD1306Addr
	}
	disp, err := periph.NewSSD1306(bus, &periph.SSD1306Opts{Address: addr, H: o.DisplayHeight})
	if err != nil {
		bus.Close()
		de := deviceError("display", fmt.Errorf("i2c bus %q: %w", ref.Name, err))
		if de.Kind == hw.Missing {
			// The NACK of an address nobody answers at.
			de.Err = fmt.Errorf("i2c bus %q: nothing answers at %#x (check the wiring and the address): %w", ref.Name, addr, err)
		}
		return de
	}
	d.Display = disp
	d.bus = bus
	return nil
}

// defaultBus prefers bus 1, which is on the header of every 40-pin Pi (bus 0
// there is the HAT EEPROM's), then the lowest number, then the first name.
func defaultBus(refs []*i2creg.Ref) *i2creg.Ref {
	refs = append([]*i2creg.Ref(nil), refs...)
	rank := func(r *i2creg.Ref) int {
		switch {
		case r.Number == 1:
			return -1
		case r.Number < 0:
			return int(^uint(0) >> 1)
		}
		return r.Number
	}
	sort.SliceStable(refs, func(i, j int) bool { return rank(refs[i]) < rank(refs[j]) })
	return refs[0]
}

// findBus finds a bus as i2creg.Open does: by name, alias or number.
func findBus(refs []*i2creg.Ref, name string) *i2creg.Ref {
	for _, r := range refs {
		if r.Name == name || (r.Number >= 0 && strconv.Itoa(r.Number) == name) {
			return r
		}
		for _, a := range r.Aliases {
			if a == name {
				return r
			}
		}
	}
	return nil
}

// Close turns every device off and releases it.
func (d *Devices) Close() error {
	var errs []error
	for _, c := range []interface{ Close() error }{d.Power, d.Activity, d.Swarm, d.Error, d.Display, d.Button} {
		// A nil hw.LED converts to a nil interface here.
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	if d.bus != nil {
		errs = append(errs, d.bus.Close())
		d.bus = nil
	}
	return errors.Join(errs...)
}

// Package devspec parses how the configuration names front-panel devices: an LED
// spec and a GPIO pin name. It is the one parser of these values: the
// configuration's checks (check-config) and hw/board, which opens the devices,
// both call it, so a value that passes one is never refused by the other.
package devspec

import (
	"fmt"
	"strings"
)

// Kind is where an LED is.
type Kind int

const (
	// None is no LED (the empty spec).
	None Kind = iota
	// Sysfs is a kernel LED under /sys/class/leds, like the Pi's ACT.
	Sysfs
	// GPIO is an LED on a GPIO pin.
	GPIO
)

// LED is a parsed LED spec.
type LED struct {
	Kind Kind
	// Name is the kernel LED's name (Sysfs) or the pin's name (GPIO).
	Name string
	// ActiveLow is a GPIO LED lit when its pin is low.
	ActiveLow bool
}

// ParseLED parses "" (none), "sysfs:NAME" or "gpio:PIN", with ":low" after PIN
// for an LED lit when the pin is low. The error does not repeat the key's name:
// each caller says which LED it is about.
func ParseLED(s string) (LED, error) {
	kind, rest, _ := strings.Cut(s, ":")
	switch {
	case s == "":
		return LED{}, nil
	case kind == "sysfs" && checkSysfsName(rest):
		return LED{Kind: Sysfs, Name: rest}, nil
	case kind == "gpio":
		pin, level, hasLevel := strings.Cut(rest, ":")
		if CheckPin(pin) != nil || hasLevel && level != "low" {
			break
		}
		return LED{Kind: GPIO, Name: pin, ActiveLow: hasLevel}, nil
	}
	return LED{}, fmt.Errorf(`%q is not an LED: want "sysfs:NAME" (sysfs:ACT), "gpio:PIN" (gpio:GPIO17), "gpio:PIN:low" or "" for none`, s)
}

// checkSysfsName refuses what would leave /sys/class/leds: a kernel LED's name
// is one directory entry.
func checkSysfsName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/ \t\n")
}

// CheckPin accepts what periph's gpioreg names pins by ("GPIO17", the header
// position "P1_11", or a bare number, taken as GPIO and the number): letters,
// digits, '_' and '-', at least one.
func CheckPin(s string) error {
	if s == "" {
		return fmt.Errorf(`"" is not a pin name: want one like GPIO23`)
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("%q is not a pin name: want one like GPIO23", s)
		}
	}
	return nil
}

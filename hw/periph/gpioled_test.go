package periph

import (
	"errors"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

func TestGPIOLED(t *testing.T) {
	for _, tc := range []struct {
		name      string
		activeLow bool
		on, off   gpio.Level
	}{
		{"active high", false, gpio.High, gpio.Low},
		{"active low", true, gpio.Low, gpio.High},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &gpiotest.Pin{N: "GPIO17", Num: 17}
			l := NewGPIOLED(p, tc.activeLow)
			for _, step := range []struct {
				on   bool
				want gpio.Level
			}{{true, tc.on}, {false, tc.off}, {true, tc.on}} {
				if err := l.Set(step.on); err != nil {
					t.Fatal(err)
				}
				if got := p.Read(); got != step.want {
					t.Fatalf("Set(%t): pin %s, want %s", step.on, got, step.want)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if got := p.Read(); got != tc.off {
				t.Fatalf("after Close: pin %s, want %s (off)", got, tc.off)
			}
			if err := l.Set(true); !errors.Is(err, errClosed) {
				t.Fatalf("Set after Close: %v, want closed", err)
			}
			if got := p.Read(); got != tc.off {
				t.Fatalf("Set after Close changed the pin to %s", got)
			}
			if err := l.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
		})
	}
}

// failPin is a pin whose driver refuses output, as a line held by another
// process does.
type failPin struct{ gpiotest.Pin }

func (p *failPin) Out(gpio.Level) error { return errors.New("device or resource busy") }

func TestGPIOLEDError(t *testing.T) {
	l := NewGPIOLED(&failPin{gpiotest.Pin{N: "GPIO27"}}, false)
	err := l.Set(true)
	if err == nil || err.Error() != "gpio-led GPIO27: device or resource busy" {
		t.Fatalf("Set: %v", err)
	}
	if err := l.Close(); err == nil {
		t.Fatal("Close on a failing pin: no error")
	}
}

package periph

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/gpio"

	"github.com/swarmlight/swarmlight/hw"
)

// NewGPIOLED returns an LED on pin p. activeLow is for an LED wired from 3.3 V
// to the pin, lit when the pin is driven low.
//
// The LED is not touched until the first Set; the caller wanting a known state
// (and an early error for a busy pin) calls Set(false) first.
func NewGPIOLED(p gpio.PinOut, activeLow bool) hw.LED {
	return &gpioLED{p: p, activeLow: activeLow}
}

type gpioLED struct {
	p         gpio.PinOut
	activeLow bool

	mu     sync.Mutex
	closed bool
}

func (l *gpioLED) String() string {
	return "gpio-led " + l.p.Name()
}

// Set implements hw.LED.
func (l *gpioLED) Set(on bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("gpio-led %s: %w", l.p.Name(), errClosed)
	}
	return l.set(on)
}

func (l *gpioLED) set(on bool) error {
	if err := l.p.Out(gpio.Level(on != l.activeLow)); err != nil {
		return fmt.Errorf("gpio-led %s: %w", l.p.Name(), err)
	}
	return nil
}

// Close implements hw.LED. The pin stays driven (off): released, it would float
// and an LED on it could glow dimly.
func (l *gpioLED) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	err := l.set(false)
	if herr := l.p.Halt(); herr != nil {
		err = errors.Join(err, fmt.Errorf("gpio-led %s: halt: %w", l.p.Name(), herr))
	}
	return err
}

// errClosed is returned by a device used after Close.
var errClosed = errors.New("closed")

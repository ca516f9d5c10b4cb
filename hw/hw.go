// Package hw is the appliance's front-panel hardware, seen through the smallest
// interfaces the panel needs. hw/periph drives real devices through periph.io
// (depending only on periph's conn interfaces); hw/board is the wiring that calls
// host.Init and the registries; hw/sim is a faithful stand-in for machines without
// the hardware (it records LED states and renders the display to PNG).
//
// Every method may fail (a device unplugged mid-run, a bus error): callers report
// the failure once and carry on without the device. Nothing here may block the
// tracker.
package hw

import (
	"context"
	"image"
)

// LED is one indicator light.
type LED interface {
	// Set turns the LED on or off.
	Set(on bool) error
	// Close turns the LED off and gives the device back as it was found (a kernel
	// LED gets its trigger back).
	Close() error
}

// Display is a small monochrome screen.
type Display interface {
	// Bounds is the screen's size, origin at (0, 0).
	Bounds() image.Rectangle
	// Draw shows img, which has the display's bounds, as the whole frame. A frame
	// equal to the one shown sends nothing to the device.
	Draw(img image.Image) error
	// Close blanks the screen and releases it.
	Close() error
}

// Button is a push button.
type Button interface {
	// WaitPress blocks until the button is pressed (once per press, debounced) or
	// ctx is done, and reports which.
	WaitPress(ctx context.Context) bool
	Close() error
}

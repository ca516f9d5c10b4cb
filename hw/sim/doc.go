// Package sim stands in for the front panel's hardware on machines without it
// (`make run` on a laptop), and in tests: LEDs that record what they were set
// to and when, a display that keeps its frames and can write them to a PNG
// file shaped like the real OLED, and a button pressed from code.
//
// Each device behaves as its hw/periph twin does where a caller can tell: the
// display shows the same pixels, skips equal frames and blanks on Close; every
// device refuses use after Close.
package sim

import "errors"

// errClosed is returned by a device used after Close.
var errClosed = errors.New("closed")

package appliance

import (
	"errors"
	"fmt"
	"testing"

	"github.com/swarmlight/swarmlight/hw"
)

// TestDeviceProblem: the health page's line for a device comes from the typed
// error, whatever the driver's message says.
func TestDeviceProblem(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&hw.DeviceError{Device: "activity LED", Kind: hw.Missing, Err: errors.New(`gpio pin "GPIO99": no such pin`)}, "no activity LED"},
		{&hw.DeviceError{Device: "display", Kind: hw.Permission, Err: errors.New("i2c: bus: permission denied")}, "display: no access"},
		{&hw.DeviceError{Device: "swarm LED", Kind: hw.Busy, Err: errors.New("gpio-led GPIO13: device or resource busy")}, "swarm LED busy"},
		{&hw.DeviceError{Device: "button", Kind: hw.Conflict, Err: errors.New("gpio:GPIO17 is already the activity LED")}, "button misconfigured"},
		{&hw.DeviceError{Device: "error LED", Kind: hw.Invalid, Err: errors.New(`"x" is not an LED`)}, "error LED misconfigured"},
		{&hw.DeviceError{Device: "board", Kind: hw.Failed, Err: errors.New("periph init: x: y")}, "board failed"},
		{fmt.Errorf("wrapped: %w", &hw.DeviceError{Device: "display", Kind: hw.Missing, Err: errors.New("x")}), "no display"},
		{errors.New("led power: something"), "panel device failed"},
	} {
		if got := deviceProblem(tc.err); got != tc.want {
			t.Errorf("deviceProblem(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

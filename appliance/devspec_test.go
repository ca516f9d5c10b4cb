package appliance_test

import (
	"errors"
	"testing"

	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/hw"
	"github.com/swarmlight/swarmlight/hw/board"
)

// TestCheckConfigAgreesWithBoard: an LED spec or button pin that check-config
// accepts is never refused as malformed when the board opens it, and one it
// refuses, the board refuses too: both read it with hw/devspec.
func TestCheckConfigAgreesWithBoard(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		ok         bool
	}{
		{"panel.led_power", "sysfs:ACT", true},
		{"panel.led_power", "sysfs:input3::capslock", true},
		{"panel.led_power", "sysfs:../../etc", false},
		{"panel.led_power", "sysfs:", false},
		{"panel.led_power", "ACT", false},
		{"panel.led_activity", "gpio:GPIO17", true},
		{"panel.led_activity", "gpio:17", true},
		{"panel.led_activity", "gpio:P1_11:low", true},
		{"panel.led_activity", "gpio:GPIO17:high", false},
		{"panel.led_activity", "gpio:GPIO17:low:x", false},
		{"panel.led_activity", "gpio:", false},
		{"panel.led_activity", "gpio:GPIO 17", false},
		{"panel.button", "GPIO23", true},
		{"panel.button", "23", true},
		{"panel.button", "GPIO23:low", false},
		{"panel.button", "gpio:GPIO23", false},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			env := "SWARMLIGHT_PANEL_LED_POWER="
			o := board.Opts{SysfsRoot: t.TempDir()}
			switch tc.key {
			case "panel.led_power":
				env, o.Power = "SWARMLIGHT_PANEL_LED_POWER=", tc.value
			case "panel.led_activity":
				env, o.Activity = "SWARMLIGHT_PANEL_LED_ACTIVITY=", tc.value
			case "panel.button":
				env, o.Button = "SWARMLIGHT_PANEL_BUTTON=", tc.value
			}
			_, err := config.Load(config.Options{SearchPaths: []string{t.TempDir()}, Env: []string{env + tc.value}})
			if checked := err == nil; checked != tc.ok {
				t.Errorf("check-config: accepted %v (%v), want %v", checked, err, tc.ok)
			}
			d, errs := board.Open(o)
			defer d.Close()
			malformed := false
			for _, err := range errs {
				var de *hw.DeviceError
				if errors.As(err, &de) && de.Kind == hw.Invalid {
					malformed = true
				}
			}
			if malformed == tc.ok {
				t.Errorf("board: refused as malformed %v (%v), want %v", malformed, errs, !tc.ok)
			}
		})
	}
}

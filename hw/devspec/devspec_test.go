package devspec

import "testing"

func TestParseLED(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want LED
		ok   bool
	}{
		{"", LED{}, true},
		{"sysfs:ACT", LED{Kind: Sysfs, Name: "ACT"}, true},
		{"sysfs:led0", LED{Kind: Sysfs, Name: "led0"}, true},
		{"gpio:GPIO17", LED{Kind: GPIO, Name: "GPIO17"}, true},
		{"gpio:17", LED{Kind: GPIO, Name: "17"}, true},
		{"gpio:P1_11:low", LED{Kind: GPIO, Name: "P1_11", ActiveLow: true}, true},
		{"gpio:GPIO17:high", LED{}, false},
		{"gpio:GPIO17:low:x", LED{}, false},
		{"gpio:GPIO17:", LED{}, false},
		{"gpio:", LED{}, false},
		{"gpio", LED{}, false},
		{"gpio::low", LED{}, false},
		{"gpio:GPIO 17", LED{}, false},
		{"sysfs:", LED{}, false},
		{"sysfs:..", LED{}, false},
		{"sysfs:../../etc", LED{}, false},
		{"sysfs:a b", LED{}, false},
		{"ACT", LED{}, false},
		{"GPIO17", LED{}, false},
		{"led:ACT", LED{}, false},
	} {
		got, err := ParseLED(tc.spec)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseLED(%q) = %+v, %v; want %+v, ok %v", tc.spec, got, err, tc.want, tc.ok)
		}
	}
}

func TestCheckPin(t *testing.T) {
	for _, tc := range []struct {
		pin string
		ok  bool
	}{
		{"GPIO23", true},
		{"23", true},
		{"P1_16", true},
		{"gpio-23", true},
		{"", false},
		{"GPIO 23", false},
		{"GPIO23:low", false},
		{"../x", false},
	} {
		if err := CheckPin(tc.pin); (err == nil) != tc.ok {
			t.Errorf("CheckPin(%q) = %v, want ok %v", tc.pin, err, tc.ok)
		}
	}
}

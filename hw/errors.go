package hw

// ErrorKind says why a device cannot be used, so that what shows the problem
// (the panel's health page) can word it without reading an error's text.
type ErrorKind int

const (
	// Failed is any other failure: the driver said no for a reason of its own.
	Failed ErrorKind = iota
	// Invalid is a device named in a form that means nothing (a bad LED spec).
	Invalid
	// Conflict is one pin or LED given two roles.
	Conflict
	// Missing is a device that is not there: no such pin, kernel LED or bus, or
	// nothing answering at the display's address.
	Missing
	// Permission is a device there but not ours to use (group gpio, i2c).
	Permission
	// Busy is a device another process holds.
	Busy
)

// DeviceError is a front-panel device that cannot be used.
type DeviceError struct {
	// Device names it as a person would: "activity LED", "button", "display".
	Device string
	Kind   ErrorKind
	Err    error
}

func (e *DeviceError) Error() string { return e.Device + ": " + e.Err.Error() }

func (e *DeviceError) Unwrap() error { return e.Err }

// Package periph drives the front panel's real devices through periph.io: LEDs
// on GPIO pins or kernel LEDs in sysfs, an SSD1306 OLED on I²C and a push button.
//
// The devices see only periph's conn interfaces (gpio.PinIO, i2c.Bus), never
// the host drivers, so each is tested against periph's fakes (gpiotest,
// i2ctest); hw/board does the wiring to the real pins and buses.
package periph

//go:build soak && linux && !amd64

package soak

import (
	"errors"
	"os"
	"time"
)

// The clock shift reads registers and the initial stack of amd64; the
// suite runs on the development machine, not on the Pi.
const clockShiftSupported = false

type shifted struct{}

func startShifted(argv, env []string, dir string, files []uintptr) (*shifted, error) {
	return nil, errors.New("soak: clockshift: only on linux/amd64")
}

func (s *shifted) jump(wall, mono time.Duration)  {}
func (s *shifted) clockReads() (wall, mono int64) { return 0, 0 }
func (s *shifted) signal(sig os.Signal) error     { return nil }
func (s *shifted) wait(limit time.Duration) error { return nil }
func (s *shifted) failed() (int64, error)         { return 0, nil }

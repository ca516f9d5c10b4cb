//go:build !linux

package main

import "errors"

func twoCPUs() (load, tracker int, ok bool) { return 0, 0, false }

func pinSelf(int) error { return errors.New("swarmload: pinning needs Linux") }

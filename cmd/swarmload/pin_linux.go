//go:build linux

package main

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// twoCPUs returns two CPUs this process may run on: one for the load, one for the
// tracker, so that neither steals the other's time.
func twoCPUs() (load, tracker int, ok bool) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 0, 0, false
	}
	found := make([]int, 0, 2)
	for c := 0; c < len(set)*64 && len(found) < 2; c++ {
		if set.IsSet(c) {
			found = append(found, c)
		}
	}
	if len(found) < 2 {
		return 0, 0, false
	}
	return found[0], found[1], true
}

// pinSelf puts every thread of this process on cpu. sched_setaffinity moves one
// thread, and the Go runtime already runs several; threads started later inherit
// the mask of the thread that starts them, which is then pinned too.
func pinSelf(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	// Twice: a thread started during the first pass by a thread not yet pinned
	// is caught by the second.
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("swarmload: pin to cpu %d: %w", cpu, err)
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("swarmload: pin to cpu %d: %w", cpu, err)
			}
		}
	}
	return nil
}

//go:build race

package udptracker

const raceEnabled = true

//go:build race

package ugnos_test

// raceEnabled is true when the race detector is on: slow tests do less.
const raceEnabled = true

//go:build race

package forked_test

// raceEnabled: the race detector maps its shadow memory as the program
// grows, which a memory limit refuses.
const raceEnabled = true

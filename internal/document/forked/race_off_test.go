//go:build !race

package forked_test

const raceEnabled = false

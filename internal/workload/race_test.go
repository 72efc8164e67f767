//go:build race

package workload_test

// raceEnabled: the race detector is on (it makes the 200k-item test take
// over 10 minutes; make test runs that test again without it).
const raceEnabled = true

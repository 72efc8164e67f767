//go:build race

package workload_test

// raceOn: the race detector slows SQLite (pure Go) some 10x.
const raceOn = true

//go:build !race

package workload_test

const raceOn = false

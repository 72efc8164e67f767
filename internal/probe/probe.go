// Package probe is a temporary timing probe (not committed).
package probe

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

var mu sync.Mutex
var sums = map[string]time.Duration{}
var counts = map[string]int{}

func Add(name string, since time.Time) {
	d := time.Since(since)
	mu.Lock()
	sums[name] += d
	counts[name]++
	mu.Unlock()
}

func Reset() { mu.Lock(); sums = map[string]time.Duration{}; counts = map[string]int{}; mu.Unlock() }

func Dump() {
	mu.Lock()
	defer mu.Unlock()
	var ks []string
	for k := range sums {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		fmt.Printf("  %-20s n=%7d mean=%6.1f µs\n", k, counts[k], float64(sums[k].Microseconds())/float64(counts[k]))
	}
}

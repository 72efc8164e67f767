package workload

// SetRebuildBudget sets the postings a build holds in memory, for a test;
// the returned func restores it.
func SetRebuildBudget(n int) func() {
	old := rebuildBudget
	rebuildBudget = n
	return func() { rebuildBudget = old }
}

package hypervisor

// SetReplicateChunkHook makes replication runs call f after reading each
// chunk from the export (so a test can act in the middle of a run) until
// restore is called. Not for parallel tests.
func SetReplicateChunkHook(f func(off uint64)) (restore func()) {
	testHookChunkRead = f
	return func() { testHookChunkRead = nil }
}

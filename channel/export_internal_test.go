package channel

// RecycleState reports, for the tests of package channel_test, what
// recycle would see of the call c now: whether its current stream counts
// as the call's only attempt (singleAttempt), and whether that stream is
// drained. With both, the call's request buffer would go back to bufpool.
func RecycleState(c *Call) (single, drained bool) {
	cs := c.state()
	cs.mu.Lock()
	s, single := cs.singleAttempt()
	cs.mu.Unlock()
	return single, s != nil && s.Drained()
}

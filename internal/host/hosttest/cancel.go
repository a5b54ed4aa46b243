package hosttest

// CancelOnWrite is a writer that calls Cancel at every write and counts
// the writes (N): given as the output of an encoder that writes through
// output.ContextWriter, it shows the encoder stops at its next output once
// its context is cancelled (a SIGINT to kheaders pack or initramfs).
type CancelOnWrite struct {
	Cancel func()
	N      int
}

func (c *CancelOnWrite) Write(p []byte) (int, error) {
	c.N++
	c.Cancel()
	return len(p), nil
}

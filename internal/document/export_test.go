package document

// SetPanicHook makes h see every panic that Extract recovers, and returns
// a function that restores the hook before it.
func SetPanicHook(h func(recovered any)) (restore func()) {
	old := panicHook
	panicHook = h
	return func() { panicHook = old }
}

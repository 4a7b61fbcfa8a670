//go:build linux && cgo

package spawn

// forkNPLacks names what of attr the ForkNP backend cannot carry: it forks
// and then unshares, which moves the child into no new PID or time
// namespace (unshare moves only its later children). User namespace maps
// it carries: the child waits for them after its unshare.
func forkNPLacks(attr *Attr) string {
	switch {
	case attr.Cloneflags&cloneNewPID != 0:
		return "Cloneflags with CLONE_NEWPID"
	case attr.Cloneflags&cloneNewTime != 0:
		return "Cloneflags with CLONE_NEWTIME"
	}
	return ""
}

//go:build linux && cgo

package spawn

// forkNPLacks names what of attr the ForkNP backend cannot carry: it forks
// and then unshares, which moves the child into no new PID or time
// namespace, and its child runs no handshake to wait for the maps.
func forkNPLacks(attr *Attr) string {
	switch {
	case attr.Cloneflags&cloneNewPID != 0:
		return "Cloneflags with CLONE_NEWPID"
	case attr.Cloneflags&cloneNewTime != 0:
		return "Cloneflags with CLONE_NEWTIME"
	case attr.UidMappings != nil:
		return "UidMappings"
	case attr.GidMappings != nil:
		return "GidMappings"
	}
	return ""
}

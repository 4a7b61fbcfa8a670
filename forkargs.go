package spawn

import (
	"syscall"
)

// ForkFlags select what a fork_np-style fork does (ForkExec, ForkCall). The
// bit values are those of glibc's fork_np proposal.
type ForkFlags uint64

const (
	// ForkPidfd asks for a pidfd. It is implied: a Process always holds one.
	ForkPidfd ForkFlags = 1 << 1
	// ForkCgroup creates the child in the cgroup v2 directory ForkArgs.Cgroup
	// (Linux ≥ 5.7).
	ForkCgroup ForkFlags = 1 << 2
	// ForkAsyncSafe forks like _Fork: no atfork handlers run, and the fork is
	// a raw clone3 (Linux ≥ 5.5).
	ForkAsyncSafe ForkFlags = 1 << 3
	// ForkExitSignal sets the signal the parent receives when the child
	// exits to ForkArgs.ExitSignal (0: none). Needs ForkAsyncSafe unless the
	// C library has a native fork_np.
	ForkExitSignal ForkFlags = 1 << 4

	forkKnown = ForkPidfd | ForkCgroup | ForkAsyncSafe | ForkExitSignal
)

// ForkArgs are the arguments of a fork_np-style fork. A nil *ForkArgs is a
// plain fork that runs the atfork handlers.
type ForkArgs struct {
	Flags      ForkFlags      // what the fork does, Fork* bits
	Cgroup     int            // cgroup v2 directory descriptor, with ForkCgroup
	ExitSignal syscall.Signal // with ForkExitSignal; 0 = no signal at all
}

// validate rejects unknown flags and bad values before any child exists.
func (a *ForkArgs) validate() error {
	if a == nil {
		return nil
	}
	if a.Flags&^forkKnown != 0 {
		return syscall.EINVAL
	}
	if a.Flags&ForkExitSignal != 0 && (a.ExitSignal < 0 || a.ExitSignal > 64) {
		return syscall.EINVAL
	}
	if a.Flags&ForkCgroup != 0 && a.Cgroup < 0 {
		return syscall.EBADF
	}
	return nil
}

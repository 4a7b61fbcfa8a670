//go:build linux && cgo

package shim

// -ldl: dlvsym lives in libdl before glibc 2.34 (in libc from 2.34 on, where
// libdl.so.2 is an empty placeholder).

/*
#cgo LDFLAGS: -ldl
#include "shim.h"
*/
import "C"

import "syscall"

// What the running C library has (Have).
const (
	HavePidfdSpawn  = C.SPAWN_HAVE_PIDFD_SPAWN  // pidfd_spawn, pidfd_spawnp (glibc 2.39)
	HavePidfdGetpid = C.SPAWN_HAVE_PIDFD_GETPID // pidfd_getpid (glibc 2.39)
	HaveSetcgroup   = C.SPAWN_HAVE_SETCGROUP    // posix_spawnattr_setcgroup_np (glibc 2.39)
	HaveAddchdir    = C.SPAWN_HAVE_ADDCHDIR     // posix_spawn_file_actions_addchdir_np (glibc 2.29)
	HaveClosefrom   = C.SPAWN_HAVE_CLOSEFROM    // posix_spawn_file_actions_addclosefrom_np (glibc 2.34)
	HaveForkNP      = C.SPAWN_HAVE_FORK_NP      // fork_np (in no release)
)

// Where a failure happened when it is not a step of the child (Result.Where).
const (
	AtSpawn      = C.SPAWN_AT_SPAWN
	AtAttr       = C.SPAWN_AT_ATTR
	AtPipe       = C.SPAWN_AT_PIPE
	AtFork       = C.SPAWN_AT_FORK
	AtClone3     = C.SPAWN_AT_CLONE3
	AtPidfdOpen  = C.SPAWN_AT_PIDFD_OPEN
	AtForkNP     = C.SPAWN_AT_FORK_NP
	AtCgroup     = C.SPAWN_AT_CGROUP
	AtExitSignal = C.SPAWN_AT_EXIT_SIGNAL
	AtUserns     = C.SPAWN_AT_USERNS
)

// The layouts package spawn shares with the shim (checked there at compile
// time) and the step kinds (checked by its tests).
const (
	OpSize      = C.sizeof_struct_spawn_op
	StepSize    = C.sizeof_struct_spawn_step
	OpSetsid    = C.SPAWN_OP_SETSID
	OpSigMask   = C.SPAWN_OP_SIGMASK
	OpExec      = C.SPAWN_OP_EXEC
	CheckEq     = C.SPAWN_CHECK_EQ
	SelfPid     = C.SPAWN_SELF_PID
	Notify      = C.SPAWN_NOTIFY
	ForkPidfd   = C.SPAWN_FORK_PIDFD
	ForkExitSig = C.SPAWN_FORK_EXIT_SIGNAL
)

// Have looks the optional functions up (once) and returns Have* bits.
func Have() int { return int(C.spawn_have()) }

// LibcVersion returns gnu_get_libc_version(), e.g. "2.36".
func LibcVersion() string { return C.GoString(C.spawn_libc_version()) }

// PidfdGetpid is glibc's pidfd_getpid: the pid, or the errno.
func PidfdGetpid(pidfd int) (int, syscall.Errno) {
	pid := int(C.spawn_pidfd_getpid(C.int(pidfd)))
	if pid < 0 {
		return -1, syscall.Errno(-pid)
	}
	return pid, 0
}

// Result is the outcome of PidfdSpawn or Fork: Err == 0 and a child with Pid
// and Pidfd (Pid < 0: -errno of pidfd_getpid), or Err and Where, an At*
// value or the index of the step the child failed at (the child has been
// reaped).
type Result struct {
	Err   syscall.Errno
	Where int
	Pid   int
	Pidfd int
	Rep   int // ForkUserns with Where == AtUserns and no Err: the report pipe's read end
}

func result(r C.struct_spawn_result) Result {
	return Result{Err: syscall.Errno(r.err), Where: int(r.where), Pid: int(r.pid), Pidfd: int(r.pidfd), Rep: -1}
}

// PidfdSpawn runs pidfd_spawn (search: pidfd_spawnp) for the plan steps at
// ops. path, dir, argv and envp are C strings and NULL-terminated arrays in
// memory the caller keeps alive; nothing is kept past the call.
func PidfdSpawn(path, dir, argv, envp, ops uintptr, nops int, mask uint64, cgroup int, search bool) Result {
	s := C.int(0)
	if search {
		s = 1
	}
	return result(C.spawn_pidfd_spawn(C.uintptr_t(path), C.uintptr_t(dir), C.uintptr_t(argv), C.uintptr_t(envp),
		C.uintptr_t(ops), C.size_t(nops), C.uint64_t(mask), C.int(cgroup), s))
}

// PidfdSpawnCall is the address of the C function
// spawn_pidfd_spawn_call(struct spawn_pidfd_call *), for callers that call
// it without cgo's transition.
func PidfdSpawnCall() uintptr { return uintptr(C.spawn_pidfd_spawn_call_addr()) }

// CallSize is the size of PidfdSpawnCall's argument block (struct pidfdCall
// in package spawn, checked there).
const CallSize = C.sizeof_struct_spawn_pidfd_call

// Fork creates a child fork_np-style that runs nsteps raw steps at steps
// (the last one execve) or, with fn != 0, the C function fn(arg). flags are
// the ForkFlags bits; the child's report pipe is kept at or above lowfd.
func Fork(flags uint64, cgroup, exitSignal int, steps uintptr, nsteps, lowfd int, fn, arg uintptr) Result {
	return result(C.spawn_fork(C.uint64_t(flags), C.int(cgroup), C.int(exitSignal), C.uintptr_t(steps),
		C.size_t(nsteps), C.int(lowfd), C.uintptr_t(fn), C.uintptr_t(arg), nil))
}

// ForkUserns is Fork for steps of which one has Notify: the child's user
// namespace handshake. Once the child has told it that it waits for its
// maps, ForkUserns returns Err == 0, Where == AtUserns, the child's Pid and
// Pidfd, and Rep, the read end of the child's report pipe: the caller
// writes the maps, lets the child go on and calls ForkWait, or kills the
// child, reaps it and closes Rep and Pidfd. Anything else is what Fork
// would return; a child that died before the handshake without a word is
// Err ESRCH at AtUserns (reaped).
func ForkUserns(flags uint64, cgroup, exitSignal int, steps uintptr, nsteps, lowfd int) Result {
	rep := C.int(-1)
	r := result(C.spawn_fork(C.uint64_t(flags), C.int(cgroup), C.int(exitSignal), C.uintptr_t(steps),
		C.size_t(nsteps), C.int(lowfd), 0, 0, &rep))
	if r.Err == 0 && r.Where == AtUserns {
		r.Rep = int(rep)
	}
	return r
}

// ForkWait ends a ForkUserns that returned AtUserns, once the child has
// been let go on: it reads the rest of the child's report from rep (which
// it closes) and returns what Fork would. On a failure the child has been
// reaped and pidfd closed.
func ForkWait(rep, pid, pidfd int) Result {
	return result(C.spawn_fork_wait(C.int(rep), C.int(pid), C.int(pidfd)))
}

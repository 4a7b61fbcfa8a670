//go:build linux && cgo

// The ForkNP backend, ForkExec and ForkCall: the fork_np contract proposed
// for glibc (libc-alpha, August 2023; in no glibc release), run by the C
// shim (internal/shim). Kernel history:
//
//	v4.5: cgroup v2 (the child writes itself into cgroup.procs)
//	v5.3: pidfd_open, clone3 with CLONE_PIDFD
//	v5.5: CLONE_CLEAR_SIGHAND
//	v5.7: CLONE_INTO_CGROUP
//
// Without ForkAsyncSafe the child comes from glibc's fork(), so the
// pthread_atfork handlers of every C library in the process run; the pidfd
// comes from pidfd_open of the child, which waits on a pipe until the parent
// holds it (an unreaped child keeps its pid, but with SIGCHLD ignored the
// kernel reaps it at once). A cgroup is entered by the child writing "0" to
// cgroup.procs before it does anything else. With ForkAsyncSafe the child
// comes from a raw clone3 (CLONE_PIDFD, CLONE_CLEAR_SIGHAND, and
// CLONE_INTO_CGROUP and the exit signal as asked), like glibc's _Fork: no
// handlers run. If the C library ever exports fork_np, the shim calls it.
//
// All signals are blocked on the forking thread around the fork. The child
// resets every caught handler to SIG_DFL before it unblocks anything, so no Go
// signal handler ever runs in it, and from then on does only
// async-signal-safe work: the raw steps of the plan, then execve; or, for
// ForkCall, the caller's C function. A failing step sends {errno, step}
// through a close-on-exec pipe whose EOF means the exec succeeded; the parent
// then reaps the child before it returns the error. A child with user
// namespace maps says on that pipe that it waits for them, after its
// unshare (forkNPUserns).

package spawn

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"github.com/pidfd/spawn/internal/shim"
	"golang.org/x/sys/unix"
)

func availableForkNP() error { return nil }

// ForkExec creates a child the way glibc's proposed fork_np does and executes
// the program at path (no PATH search) in it with arguments argv and
// attributes attr, which may be nil. Unlike Spawn it forks, so the
// pthread_atfork handlers of the C libraries in the process run (prepare and
// parent in the caller, child in the child) unless args has ForkAsyncSafe.
// The child carries out attr as the other backends do, with raw system calls,
// then calls execve; with UidMappings or GidMappings it waits after its
// unshare while ForkExec writes the maps. args may be nil: a plain fork with handlers, SIGCHLD on
// exit. attr.Cgroup and ForkCgroup are alternatives for the same thing;
// AutoReap and AutoKill need the Clone3 backend.
//
// It returns once the child has executed the program, or an error and no
// child. Forking copies the parent's page tables: with a large heap Spawn is
// much faster.
//
// An exit signal from ForkExitSignal lasts only until the child executes the
// program: execve resets it to SIGCHLD. The Process waits with __WALL all the
// same.
//
// Needs cgo and Linux ≥ 5.3 (pidfd_open), any glibc. ForkAsyncSafe needs
// Linux ≥ 5.5 (clone3 with CLONE_CLEAR_SIGHAND); ForkCgroup with
// ForkAsyncSafe, Linux ≥ 5.7 (CLONE_INTO_CGROUP). ForkExitSignal other than
// SIGCHLD needs ForkAsyncSafe, or a C library that exports fork_np (none
// does yet).
func ForkExec(path string, argv []string, attr *Attr, args *ForkArgs) (*Process, error) {
	if attr == nil {
		attr = &zeroAttr
	}
	if err := validate(path, argv, attr); err != nil {
		return nil, &os.PathError{Op: "fork_np", Path: path, Err: err}
	}
	if attr.Backend != Auto && attr.Backend != ForkNP {
		return nil, &os.PathError{Op: "fork_np", Path: path, Err: syscall.EINVAL}
	}
	if f := clone3Only(attr); f != "" {
		return nil, unsupported(nil, "Attr.%s needs the Clone3 backend (a clone3 flag of Linux 7.1)", f)
	}
	a := *attr
	a.Backend = ForkNP // no_new_privs by prctl in the child, never CLONE_NNP
	pl, err := buildPlan(path, argv, &a, false)
	if err != nil {
		return nil, &os.PathError{Op: "fork_np", Path: path, Err: err}
	}
	defer pl.done()
	if a.InheritFDs {
		// See spawn: no half-made descriptor may leak into the child.
		syscall.ForkLock.Lock()
		defer syscall.ForkLock.Unlock()
	}
	return spawnForkNP(pl, args)
}

// ForkCall creates a child the way glibc's proposed fork_np does and calls
// the C function fn, of type int (*)(void *), with arg in it; the child then
// exits with fn's result (_exit). arg may point anywhere: the child sees a
// copy of the parent's memory as it was at the fork. fn runs after the
// pthread_atfork child handlers (unless ForkAsyncSafe), with the calling
// thread's signal mask and every caught signal reset to its default action;
// only this one thread exists in the child, so fn must restrict itself to
// async-signal-safe functions, as after fork in any multithreaded program.
// The child inherits every descriptor, among them the close-on-exec pipes
// through which other goroutines may be waiting for a child of theirs to
// execute (os/exec): such a wait lasts until fn returns. args may be nil.
//
// It returns once the child is about to call fn, or an error and no child.
//
// Needs cgo and Linux ≥ 5.3 (pidfd_open), any glibc; ForkAsyncSafe,
// ForkCgroup and ForkExitSignal need what they need for ForkExec.
func ForkCall(fn, arg unsafe.Pointer, args *ForkArgs) (*Process, error) {
	if fn == nil {
		return nil, os.NewSyscallError("fork_np", syscall.EINVAL)
	}
	if err := args.validate(); err != nil {
		return nil, os.NewSyscallError("fork_np", err)
	}
	fc, err := forkSetup(args, -1)
	if err != nil {
		return nil, err
	}
	forkMu.Lock()
	r := shim.Fork(uint64(fc.flags), fc.cgroup, fc.exitSignal, 0, 0, 0, uintptr(fn), uintptr(arg))
	forkMu.Unlock()
	runtime.KeepAlive(arg)
	if r.Err != 0 {
		return nil, forkErr(r, fc, "")
	}
	return newProcess(r.Pidfd, r.Pid, ForkNP, fc.pflags), nil
}

// forkMu keeps ForkCall's children from inheriting the report pipes of
// ForkExecs under way. A ForkExec waits for the EOF of its pipe, and every
// child forked meanwhile holds a copy of the write end until it executes its
// program (close-on-exec) or closes it with the plan's close_range; a ForkCall
// child does neither and may run for long. ForkExecs share the lock and run
// concurrently; a ForkCall excludes them while it forks.
var forkMu sync.RWMutex

// forkConf is a validated ForkArgs.
type forkConf struct {
	flags      ForkFlags
	cgroup     int // -1: none
	exitSignal int
	pflags     procFlags
}

// forkSetup checks args against what the fork can do, before any child
// exists. attrCgroup is Attr.Cgroup's descriptor, or -1.
func forkSetup(args *ForkArgs, attrCgroup int) (forkConf, error) {
	fc := forkConf{cgroup: -1, exitSignal: int(syscall.SIGCHLD)}
	if args != nil {
		fc.flags = args.Flags
	}
	switch {
	case fc.flags&ForkCgroup != 0:
		if attrCgroup >= 0 && attrCgroup != args.Cgroup {
			return fc, fmt.Errorf("spawn: Attr.Cgroup and ForkArgs.Cgroup name different descriptors: %w", syscall.EINVAL)
		}
		fc.cgroup = args.Cgroup
	case attrCgroup >= 0:
		fc.flags |= ForkCgroup
		fc.cgroup = attrCgroup
	}
	if fc.cgroup >= 0 {
		// What CLONE_INTO_CGROUP would say of a descriptor that is not an
		// open cgroup2 directory (EBADF), said before any child exists,
		// rather than the child's failure to find cgroup.procs (ENOENT).
		magic, err := fsMagic(fc.cgroup)
		if err != nil {
			return fc, fmt.Errorf("spawn: fork_np: cgroup descriptor %d: %w", fc.cgroup, err)
		}
		if magic != unix.CGROUP2_SUPER_MAGIC {
			return fc, fmt.Errorf("spawn: fork_np: cgroup descriptor %d is not a cgroup2 directory: %w", fc.cgroup, syscall.EBADF)
		}
	}
	if fc.flags&ForkExitSignal != 0 {
		fc.exitSignal = int(args.ExitSignal)
	}
	if fc.exitSignal != int(syscall.SIGCHLD) {
		fc.pflags |= procWall
		if fc.flags&ForkAsyncSafe == 0 && libcHave()&shim.HaveForkNP == 0 {
			return fc, unsupported(nil, "ForkExitSignal with atfork handlers needs a native fork_np, which glibc %s lacks (ForkAsyncSafe forks without handlers)", glibcVersion())
		}
	}
	return fc, nil
}

func spawnForkNP(pl *plan, args *ForkArgs) (*Process, error) {
	if f := forkNPLacks(pl.attr); f != "" {
		return nil, unsupported(nil, "Attr.%s needs the Clone3 backend (ForkNP forks, then unshares)", f)
	}
	if err := args.validate(); err != nil {
		return nil, &os.PathError{Op: "fork_np", Path: pl.path, Err: err}
	}
	fc, err := forkSetup(args, pl.cgroup)
	if err != nil {
		return nil, err
	}
	if pl.search {
		path, err := lookPath(pl.path)
		if err != nil {
			return nil, &os.PathError{Op: "pidfd_spawnp", Path: pl.path, Err: err}
		}
		pl.path = path
	}
	rp := lowerPlan(pl)
	if pl.sys != nil && pl.sys.userns {
		return forkNPUserns(pl, fc, rp)
	}
	// The report pipe must stay above every descriptor the steps write.
	forkMu.RLock()
	r := shim.Fork(uint64(fc.flags), fc.cgroup, fc.exitSignal, uintptr(unsafe.Pointer(unsafe.SliceData(rp.steps))),
		len(rp.steps), len(pl.attr.Files), 0, 0)
	forkMu.RUnlock()
	runtime.KeepAlive(rp)
	if r.Err != 0 {
		if r.Where >= 0 {
			return nil, pl.stepErr(rp.opOf(int32(r.Where)), r.Err)
		}
		return nil, forkErr(r, fc, pl.path)
	}
	return newProcess(r.Pidfd, r.Pid, ForkNP, fc.pflags), nil
}

// forkNPUserns is spawnForkNP for a child with user namespace maps. The
// child forks, unshares its namespaces (CLONE_NEWUSER first among them, by
// the kernel's order), reports on its report pipe that it waits, and blocks
// in a read of the handshake pipe (its opUsernsWait step). The parent
// writes uid_map, setgroups and gid_map into /proc/PID (mapAndRelease, as
// for Clone3), writes the byte that lets the child go on, and waits for the
// rest of the report: the credentials and every later step run under the
// maps. A failed map write kills the child and reaps it before the error
// returns.
func forkNPUserns(pl *plan, fc forkConf, rp *rawPlan) (*Process, error) {
	sync, err := usernsPipe(rp.steps)
	if err != nil {
		return nil, err
	}
	forkMu.RLock()
	defer forkMu.RUnlock()
	r := shim.ForkUserns(uint64(fc.flags), fc.cgroup, fc.exitSignal, uintptr(unsafe.Pointer(unsafe.SliceData(rp.steps))),
		len(rp.steps), len(pl.attr.Files))
	unix.Close(sync[0])
	if r.Err == 0 && r.Where == shim.AtUserns {
		if err := mapAndRelease(r.Pid, pl.attr, sync[1]); err != nil {
			unix.PidfdSendSignal(r.Pidfd, unix.SIGKILL, nil, 0)
			unix.Close(r.Rep)
			reapAndClose(r.Pidfd, false)
			return nil, err
		}
		r = shim.ForkWait(r.Rep, r.Pid, r.Pidfd)
	} else {
		unix.Close(sync[1])
	}
	runtime.KeepAlive(rp)
	if r.Err != 0 {
		switch {
		case r.Where >= 0:
			return nil, pl.stepErr(rp.opOf(int32(r.Where)), r.Err)
		case r.Where == shim.AtUserns:
			return nil, pl.stepErr(opUsernsWait, r.Err)
		}
		return nil, forkErr(r, fc, pl.path)
	}
	return newProcess(r.Pidfd, r.Pid, ForkNP, fc.pflags), nil
}

// forkErr explains a failure of the fork itself or of the child's cgroup
// move.
func forkErr(r shim.Result, fc forkConf, path string) error {
	errno := r.Err
	switch r.Where {
	case shim.AtPipe:
		return os.NewSyscallError("pipe2", errno)
	case shim.AtFork:
		return os.NewSyscallError("fork", errno)
	case shim.AtForkNP:
		return os.NewSyscallError("fork_np", errno)
	case shim.AtClone3:
		if errno == syscall.ENOSYS {
			return unsupported(errno, "ForkAsyncSafe needs Linux 5.3 (clone3)")
		}
		return os.NewSyscallError("clone3", errno)
	case shim.AtPidfdOpen:
		if errno == syscall.ENOSYS {
			return unsupported(errno, "ForkNP needs Linux 5.3 (pidfd_open)")
		}
		return os.NewSyscallError("pidfd_open", errno)
	case shim.AtCgroup:
		dir, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fc.cgroup))
		if err != nil {
			dir = "cgroup fd " + strconv.Itoa(fc.cgroup)
		}
		return &os.PathError{Op: "write", Path: dir + "/cgroup.procs", Err: errno}
	case shim.AtExitSignal:
		return unsupported(errno, "ForkExitSignal with atfork handlers needs a native fork_np")
	}
	if path != "" {
		return &os.PathError{Op: "fork_np", Path: path, Err: errno}
	}
	return os.NewSyscallError("fork_np", errno)
}

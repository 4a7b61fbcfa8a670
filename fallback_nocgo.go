//go:build linux && (amd64 || arm64)

// The Clone3 backend: raw clone3 from an assembly trampoline, pure Go. It
// serves CGO_ENABLED=0 builds, glibc older than 2.39, and whatever
// posix_spawn cannot express. Kernel history:
//
//	v5.3: clone3, CLONE_PIDFD
//	v5.5: CLONE_CLEAR_SIGHAND (required here: no Go handler may run in the child)
//	v5.7: CLONE_INTO_CGROUP
//	v5.9: close_range
//	v7.1: CLONE_AUTOREAP, CLONE_NNP, CLONE_PIDFD_AUTOKILL
//
// The trampoline (clone3_linux_*.s) blocks every signal on the calling
// thread, calls clone3 with CLONE_VM|CLONE_VFORK and a stack of the child's
// own, and in the child runs the raw steps of the plan, then execve. No Go
// code runs in the child, and the child never touches the caller's frames.
// A failing step stores its errno and index in clone3Call.res, which the
// parent shares until the child exits with status 127; the parent reaps that
// child before it returns the error.

package spawn

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cloneArgs is the kernel's struct clone_args (version 2, 88 bytes). The
// blank fields are the ones spawn leaves zero.
type cloneArgs struct {
	flags      uint64
	pidfd      uint64
	_          uint64 // child_tid
	_          uint64 // parent_tid
	exitSignal uint64
	stack      uint64
	stackSize  uint64
	_          uint64 // tls
	_          uint64 // set_tid
	_          uint64 // set_tid_size
	cgroup     uint64
}

// childStackSize is the child's stack. The trampoline's child pushes nothing
// and no handler can run on it (signals are blocked until the last step,
// and CLONE_CLEAR_SIGHAND leaves no handler), so a small one is ample.
const childStackSize = 1024

// clone3Call is the memory of one clone3: the arguments, the word the kernel
// writes the pidfd into, the child's report and its stack. It lives in the Go
// heap (objects there never move) and is pooled.
type clone3Call struct {
	args  cloneArgs
	pidfd int32
	_     int32
	res   rawResult
	stack [childStackSize + 16]byte
}

var clone3Pool = sync.Pool{New: func() any { return new(clone3Call) }}

// rawClone3 is the trampoline. It returns the child's pid, or the errno of
// clone3 itself.
//
//go:noescape
func rawClone3(args *cloneArgs, size uintptr, steps *rawStep, nsteps uintptr, res *rawResult) (pid uintptr, errno uintptr)

// clone3 creates a child with flags that runs steps, and returns its pidfd
// and pid; a failed step comes back as its index with the errno.
func clone3(flags uint64, cgroup int, steps []rawStep) (pidfd, pid int, failed int32, err error) {
	c := clone3Pool.Get().(*clone3Call)
	defer clone3Pool.Put(c)
	c.args = cloneArgs{flags: flags | unix.CLONE_PIDFD | unix.CLONE_VM | unix.CLONE_VFORK | unix.CLONE_CLEAR_SIGHAND}
	c.args.pidfd = uint64(uintptr(unsafe.Pointer(&c.pidfd)))
	if flags&_CLONE_AUTOREAP == 0 {
		c.args.exitSignal = uint64(syscall.SIGCHLD)
	}
	if cgroup >= 0 {
		c.args.flags |= unix.CLONE_INTO_CGROUP
		c.args.cgroup = uint64(cgroup)
	}
	// The stack grows down from its 16-byte-aligned top.
	base := uintptr(unsafe.Pointer(&c.stack[0]))
	top := (base + uintptr(len(c.stack))) &^ 15
	c.args.stack = uint64(base)
	c.args.stackSize = uint64(top - base)
	c.pidfd = -1
	c.res = rawResult{}

	var stepsp *rawStep
	if len(steps) > 0 {
		stepsp = &steps[0]
	}
	r, errno := rawClone3(&c.args, unsafe.Sizeof(c.args), stepsp, uintptr(len(steps)), &c.res)
	if errno != 0 {
		return -1, -1, -1, syscall.Errno(errno)
	}
	pidfd, pid = int(c.pidfd), int(r)
	if c.res.errno != 0 {
		return pidfd, pid, c.res.step, syscall.Errno(c.res.errno)
	}
	return pidfd, pid, -1, nil
}

func spawnClone3(pl *plan) (*Process, error) {
	if pl.search {
		path, err := lookPath(pl.path)
		if err != nil {
			return nil, &os.PathError{Op: "pidfd_spawnp", Path: pl.path, Err: err}
		}
		pl.path = path
	}
	flags, pflags := cloneFlags(pl.attr)
	rp := lowerPlan(pl)
	pidfd, pid, failed, err := clone3(flags, pl.cgroup, rp.steps)
	runtime.KeepAlive(rp) // the steps point into rp's buffers
	if err != nil && failed < 0 {
		return nil, clone3Err(err, pl, flags)
	}
	if err != nil {
		reapAndClose(pidfd, pflags&procAutoReap != 0)
		return nil, pl.stepErr(rp.opOf(failed), err.(syscall.Errno))
	}
	return newProcess(pidfd, pid, Clone3, pflags), nil
}

// cloneFlags maps the lifecycle fields of attr to clone3 flags.
func cloneFlags(attr *Attr) (uint64, procFlags) {
	var flags uint64
	var pf procFlags
	if attr.AutoReap || attr.AutoKill {
		flags |= _CLONE_AUTOREAP
		pf |= procAutoReap
	}
	if attr.AutoKill {
		flags |= _CLONE_PIDFD_AUTOKILL
		pf |= procAutoKill
	}
	if nnpAtClone(attr) {
		flags |= _CLONE_NNP
	}
	return flags, pf
}

// clone3Err explains a failed clone3.
func clone3Err(err error, pl *plan, flags uint64) error {
	switch err {
	case unix.ENOSYS:
		return unsupported(err, "Clone3 needs Linux 5.3 (clone3)")
	case unix.EINVAL:
		if e := lifecycleSupported(pl.attr); e != nil {
			return e
		}
	case unix.ENOENT, unix.ENODEV, unix.EBUSY, unix.EBADF, unix.EOPNOTSUPP:
		// Before the child exists these can only come from the cgroup: a
		// removed one, one with controllers in subtree_control, not a
		// cgroup2 directory.
		if pl.attr.Cgroup != nil {
			return &os.PathError{Op: "clone3 into cgroup", Path: pl.attr.Cgroup.Path(), Err: err}
		}
	}
	return &os.PathError{Op: "clone3", Path: pl.path, Err: err}
}

// probeClone3 creates a child that exits at once, with extra flags, and
// reports whether clone3 accepted them. EINVAL means "unknown flag".
func probeClone3(extra uint64) error {
	steps := []rawStep{{nr: unix.SYS_EXIT_GROUP}}
	pidfd, _, _, err := clone3(extra, -1, steps)
	if err != nil {
		return err
	}
	reapAndClose(pidfd, extra&_CLONE_AUTOREAP != 0)
	return nil
}

// probeOnce runs fn until its answer is conclusive and caches that: nil, or
// an error that will not change (ENOSYS, EINVAL, a filter's EPERM). A
// transient failure (EAGAIN from RLIMIT_NPROC, pid_max or pids.max; ENOMEM)
// says nothing about the kernel: it is returned, not kept, and the next call
// probes again. Cached once, a result costs one atomic load.
func probeOnce(fn func() error) func() error {
	var (
		mu   sync.Mutex
		done atomic.Bool
		res  error
	)
	return func() error {
		if done.Load() {
			return res
		}
		mu.Lock()
		defer mu.Unlock()
		if done.Load() {
			return res
		}
		err := fn()
		if !transient(err) {
			res = err
			done.Store(true)
		}
		return err
	}
}

// transient reports whether a failed clone3 may work on a later try.
func transient(err error) bool {
	return errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.EINTR)
}

var clone3Probe = probeOnce(func() error {
	switch err := probeClone3(0); {
	case err == nil:
		return nil
	case err == unix.ENOSYS:
		return unsupported(err, "Clone3 needs Linux 5.3 (clone3 is missing: an older kernel, a seccomp filter or an emulator)")
	case err == unix.EINVAL:
		return unsupported(err, "Clone3 needs Linux 5.5 (CLONE_CLEAR_SIGHAND)")
	case transient(err):
		// Out of processes or memory right now: the spawn fails as its
		// own clone3 would, and Clone3 is probed again next time.
		return os.NewSyscallError("clone3", err)
	default:
		return unsupported(err, "Clone3: clone3 failed")
	}
})

func availableClone3() error { return clone3Probe() }

// Lifecycle flag probes, one per flag (Linux 7.1), each cached once
// conclusive.
var (
	probeAutoReap = probeOnce(func() error { return probeClone3(_CLONE_AUTOREAP) })
	probeNNP      = probeOnce(func() error { return probeClone3(_CLONE_NNP) })
	probeAutoKill = probeOnce(func() error {
		return probeClone3(_CLONE_AUTOREAP | _CLONE_PIDFD_AUTOKILL | _CLONE_NNP)
	})
)

// nnpAtClone reports whether NoNewPrivs is carried by CLONE_NNP (Linux ≥
// 7.1) rather than by a prctl step in the child.
func nnpAtClone(attr *Attr) bool {
	return attr.NoNewPrivs && (attr.Backend == Auto || attr.Backend == Clone3) && probeNNP() == nil
}

// lifecycleSupported checks the Linux 7.1 flags attr asks for.
func lifecycleSupported(attr *Attr) error {
	if attr.AutoKill {
		if err := probeAutoKill(); transient(err) {
			return os.NewSyscallError("clone3", err)
		} else if err != nil {
			return unsupported(err, "AutoKill needs Linux 7.1 (CLONE_PIDFD_AUTOKILL)")
		}
	}
	if attr.AutoReap || attr.AutoKill {
		if err := probeAutoReap(); transient(err) {
			return os.NewSyscallError("clone3", err)
		} else if err != nil {
			return unsupported(err, "AutoReap needs Linux 7.1 (CLONE_AUTOREAP)")
		}
	}
	return nil
}

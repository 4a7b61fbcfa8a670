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
	"fmt"
	"math"
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
	childTID   uint64
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

// rawClone is the trampoline: it makes system call nr (SYS_CLONE3 or
// SYS_CLONE) with arguments a0..a2 and, for clone, ctid as its child_tid
// (clone3 takes that in its args; tls is zero) on a thread with every
// signal blocked, and in the child runs steps. It returns the child's pid,
// or the errno of the call itself.
//
//go:noescape
func rawClone(nr, a0, a1, a2, ctid uintptr, steps *rawStep, nsteps uintptr, res *rawResult) (pid uintptr, errno uintptr)

// stackTop returns the 16-byte-aligned top of c's child stack.
func (c *clone3Call) stackTop() uintptr {
	return (uintptr(unsafe.Pointer(&c.stack[0])) + uintptr(len(c.stack))) &^ 15
}

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
	c.args.stack = uint64(base)
	c.args.stackSize = uint64(c.stackTop() - base)
	c.pidfd = -1
	c.res = rawResult{}

	var stepsp *rawStep
	if len(steps) > 0 {
		stepsp = &steps[0]
	}
	r, errno := rawClone(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&c.args)), unsafe.Sizeof(c.args), 0, 0, stepsp, uintptr(len(steps)), &c.res)
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
	if useClonePath() {
		if f := clonePathLacks(pl); f != "" {
			why, errno := clonePathReason()
			return nil, unsupported(errno, "Attr.%s needs clone3 here: %s", f, why)
		}
		return spawnClone(pl)
	}
	flags, pflags := cloneFlags(pl.attr)
	rp := lowerPlan(pl)
	if pl.sys != nil {
		return spawnClone3Sys(pl, flags|pl.cloneNSFlags(), pflags, rp)
	}
	pidfd, pid, failed, err := clone3(flags, pl.cgroup, rp.steps)
	runtime.KeepAlive(rp) // the steps point into rp's buffers
	if (err == unix.ENOSYS || err == unix.EPERM) && failed < 0 && flags == 0 {
		// The probe found clone3 working, but a seccomp filter installed
		// since (a program may sandbox itself) refuses it: clone(2)
		// from now on.
		clone3Lost.Store(int32(err.(syscall.Errno)))
		return spawnClone(pl)
	}
	if err != nil && failed < 0 {
		return nil, clone3Err(err, pl, flags)
	}
	if err != nil {
		reapAndClose(pidfd, pflags&procAutoReap != 0)
		return nil, pl.stepErr(rp.opOf(failed), err.(syscall.Errno))
	}
	return newProcess(pidfd, pid, Clone3, pflags), nil
}

// The clone(2) path. Where clone3 is filtered (the default seccomp profiles
// of Docker, containerd and Kubernetes' RuntimeDefault answer it with
// ENOSYS, so that C libraries fall back to clone; qemu-user has no clone3),
// the Clone3 backend makes its child with
//
//	clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD|SIGCHLD)
//
// from the same trampoline, on the same stack of the child's own (CLONE_PIDFD
// on clone: Linux 5.2). What clone3 did at creation the child does first,
// as steps of its own before the plan's:
//
//   - CLONE_CLEAR_SIGHAND: every signal but SIGKILL and SIGSTOP is set to
//     SIG_DFL, or to SIG_IGN where this process ignored it when the plan was
//     built (ignored signals stay ignored across exec, caught ones do not).
//     All signals are blocked until the plan's last steps restore the mask,
//     so no handler of this process (the Go runtime catches nearly every
//     signal) ever runs in the child. A disposition changed by another
//     goroutine meanwhile can at worst leave a signal ignored or default in
//     the child, never caught.
//   - CLONE_INTO_CGROUP: the parent opens the target's cgroup.procs
//     (close-on-exec) and the child writes "0" to it, moving itself, before
//     anything else and long before exec: nothing the program starts can
//     be outside it. An unopenable cgroup.procs fails the spawn before any
//     child exists.
//
// The SysProcAttr fields take the same shape as on clone3: namespace flags
// in clone's flags, a non-vfork child for a user namespace with maps, the
// tid word through clone's child_tid. The Linux 7.1 flags exist only in
// clone3: AutoReap and AutoKill fail with ErrNotSupported naming the filter,
// NoNewPrivs is a prctl step.

// clonePathLacks names what of pl the clone(2) path cannot do, or "".
// Cloneflags (only CLONE_NEW* bits pass the plan) go into clone's own
// flags, except CLONE_NEWTIME: its bit (0x80) lies in clone(2)'s
// exit-signal byte. A user namespace with maps and Foreground with Pgid 0
// are carried as on clone3: clone(2) takes child_tid as well.
func clonePathLacks(pl *plan) string {
	if pl.sys != nil && pl.attr.Cloneflags&unix.CLONE_NEWTIME != 0 {
		return "Cloneflags (CLONE_NEWTIME)"
	}
	return ""
}

// Signal dispositions the child sets (struct sigaction: the handler in the
// first word, no flags, an empty mask). Package variables: they never move.
var (
	sigactDfl  = [sigactionWords]uint64{0}
	sigactIgn  = [sigactionWords]uint64{1}
	cgroupSelf = [8]byte{'0'}
)

// Step kinds of the clone path's own steps, for errors.
const (
	opCloneSigReset opKind = 0x100 + iota
	opCloneCgroup
)

// cloneSteps is the clone path's step list: its own, then the plan's.
type cloneSteps struct{ steps []rawStep }

var cloneStepsPool = sync.Pool{New: func() any { return &cloneSteps{steps: make([]rawStep, 0, 96)} }}

// ignoredSignals returns the set of signals this process ignores (SIG_IGN).
func ignoredSignals() uint64 {
	var set uint64
	var act [sigactionWords]uint64
	for sig := uintptr(1); sig <= 64; sig++ {
		if sig == uintptr(unix.SIGKILL) || sig == uintptr(unix.SIGSTOP) {
			continue
		}
		_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, sig, 0, uintptr(unsafe.Pointer(&act)), 8, 0, 0)
		if e == 0 && act[0] == 1 {
			set |= 1 << (sig - 1)
		}
	}
	return set
}

func spawnClone(pl *plan) (*Process, error) {
	cs := cloneStepsPool.Get().(*cloneSteps)
	defer func() {
		if cap(cs.steps) <= 1024 {
			cs.steps = cs.steps[:0]
			cloneStepsPool.Put(cs)
		}
	}()
	steps := cs.steps[:0]
	ign := ignoredSignals()
	for sig := uint64(1); sig <= 64; sig++ {
		if sig == uint64(unix.SIGKILL) || sig == uint64(unix.SIGSTOP) {
			continue
		}
		act := &sigactDfl
		if ign&(1<<(sig-1)) != 0 {
			act = &sigactIgn
		}
		steps = append(steps, rawStep{nr: unix.SYS_RT_SIGACTION, a: [6]uint64{sig, uint64(uintptr(unsafe.Pointer(act))), 0, 8}, op: int64(opCloneSigReset)})
	}
	if pl.cgroup >= 0 {
		// What CLONE_INTO_CGROUP says of a descriptor that is not a
		// cgroup2 directory, before any child exists.
		if magic, err := fsMagic(pl.cgroup); err != nil || magic != unix.CGROUP2_SUPER_MAGIC {
			return nil, &os.PathError{Op: "clone into cgroup", Path: pl.attr.Cgroup.Path(), Err: syscall.EBADF}
		}
		procs, err := unix.Openat(pl.cgroup, "cgroup.procs", unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: pl.attr.Cgroup.Path() + "/cgroup.procs", Err: err}
		}
		defer unix.Close(procs)
		steps = append(steps, rawStep{nr: unix.SYS_WRITE, a: [6]uint64{uint64(procs), uint64(uintptr(unsafe.Pointer(&cgroupSelf))), 1}, op: int64(opCloneCgroup)})
	}
	own := int32(len(steps))
	rp := lowerPlan(pl)
	steps = append(steps, rp.steps...)
	cs.steps = steps

	c := clone3Pool.Get().(*clone3Call)
	defer clone3Pool.Put(c)
	c.pidfd = -1
	c.res = rawResult{}
	flags := uintptr(unix.CLONE_VM|unix.CLONE_PIDFD) | uintptr(syscall.SIGCHLD) | uintptr(pl.cloneNSFlags())
	// The tid word and the user namespace handshake, as on the clone3
	// path (spawnClone3Sys): clone(2) takes child_tid too.
	sp := pl.sys
	userns := sp != nil && sp.userns
	var ctid uintptr
	if !userns {
		flags |= unix.CLONE_VFORK
	}
	if sp != nil && (sp.userns || sp.selfPgrp) {
		flags |= unix.CLONE_CHILD_SETTID
		ctid = uintptr(unsafe.Pointer(&sp.tid))
	}
	var sync [2]int
	if userns {
		flags |= unix.CLONE_CHILD_CLEARTID
		var err error
		if sync, err = usernsPipe(steps[own:]); err != nil {
			return nil, err
		}
	}
	r, errno := rawClone(unix.SYS_CLONE, flags, c.stackTop(), uintptr(unsafe.Pointer(&c.pidfd)), ctid, &steps[0], uintptr(len(steps)), &c.res)
	if userns {
		unix.Close(sync[0])
	}
	if errno != 0 {
		if userns {
			unix.Close(sync[1])
		}
		return nil, &os.PathError{Op: "clone", Path: pl.path, Err: syscall.Errno(errno)}
	}
	pidfd, pid := int(c.pidfd), int(r)
	if userns {
		err := mapAndRelease(pid, pl.attr, sync[1])
		if err != nil {
			unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
		}
		waitReleased(&sp.tid)
		if err != nil {
			reapAndClose(pidfd, false)
			return nil, err
		}
	}
	runtime.KeepAlive(rp) // the steps point into rp's buffers
	runtime.KeepAlive(sp) // and the child reads and writes sp's tid word
	if c.res.errno == 0 {
		return newProcess(pidfd, pid, Clone3, 0), nil
	}
	reapAndClose(pidfd, false)
	errno = uintptr(c.res.errno)
	switch failed := c.res.step; {
	case failed >= own:
		return nil, pl.stepErr(rp.opOf(failed-own), syscall.Errno(errno))
	case steps[failed].op == int64(opCloneCgroup):
		return nil, &os.PathError{Op: "write", Path: pl.attr.Cgroup.Path() + "/cgroup.procs", Err: syscall.Errno(errno)}
	default:
		return nil, &os.PathError{Op: "rt_sigaction", Path: pl.path, Err: syscall.Errno(errno)}
	}
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

// Probes.
//
// Whether clone3 takes a set of flags is asked without creating a child and
// without a descriptor: the flags go with CLONE_INTO_CGROUP and a cgroup
// descriptor that cannot be open (INT_MAX, above any RLIMIT_NOFILE). The
// kernel checks the flags (clone3_args_valid, then copy_process's checks of
// their combinations) before it looks the cgroup up, and fails the lookup
// with EBADF before the new task is visible or has run: EBADF means "these
// flags are known". EINVAL means they are not (or CLONE_INTO_CGROUP is not:
// Linux < 5.7), ENOSYS that clone3 itself is missing or filtered. So no
// SIGCHLD reaches a program watching for it, and a full descriptor table
// changes no answer. Only where CLONE_INTO_CGROUP is unknown (Linux 5.5 and
// 5.6) does the Clone3 probe create a child, with no exit signal.
//
// A probe's answer is cached once it is conclusive: the flags work, or the
// kernel refused them in a way that will not change (ENOSYS, EINVAL, E2BIG,
// a filter's EPERM). Anything else (EAGAIN from RLIMIT_NPROC or pids.max,
// ENOMEM, EMFILE for the pidfd that CLONE_PIDFD_AUTOKILL needs, EINTR) is
// returned as the syscall error it is, and the probe runs again next time.

// probeExit is the plan of a probe child, should one be created: exit.
var probeExit = [1]rawStep{{nr: unix.SYS_EXIT_GROUP}}

// clone3Accepts reports whether clone3 takes flags (with CLONE_INTO_CGROUP),
// without creating a child: nil, or clone3's errno.
func clone3Accepts(flags uint64) error {
	c := clone3Pool.Get().(*clone3Call)
	defer clone3Pool.Put(c)
	c.args = cloneArgs{
		flags:  flags | unix.CLONE_VM | unix.CLONE_VFORK | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_INTO_CGROUP,
		cgroup: math.MaxInt32,
	}
	c.pidfd = -1
	if flags&unix.CLONE_PIDFD != 0 {
		c.args.pidfd = uint64(uintptr(unsafe.Pointer(&c.pidfd)))
	}
	base := uintptr(unsafe.Pointer(&c.stack[0]))
	c.args.stack = uint64(base)
	c.args.stackSize = uint64(c.stackTop() - base)
	r, errno := rawClone(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&c.args)), unsafe.Sizeof(c.args), 0, 0, &probeExit[0], 1, &c.res)
	switch syscall.Errno(errno) {
	case unix.EBADF:
		return nil // the flags passed; the cgroup lookup stopped it
	case 0:
		// A kernel that never looked at the cgroup made a child, which has
		// exited (a vfork child sharing the memory, it ran exit_group):
		// the flags work. Collect it; it had no exit signal.
		reapProbeChild(int(r), int(c.pidfd), flags&_CLONE_AUTOREAP != 0)
		return nil
	}
	return syscall.Errno(errno)
}

// clone3Child reports whether clone3 takes flags by creating a child that
// exits at once, with no exit signal (no SIGCHLD) and no pidfd (no
// descriptor), and reaping it by its pid.
func clone3Child(flags uint64) error {
	c := clone3Pool.Get().(*clone3Call)
	defer clone3Pool.Put(c)
	c.args = cloneArgs{flags: flags | unix.CLONE_VM | unix.CLONE_VFORK}
	base := uintptr(unsafe.Pointer(&c.stack[0]))
	c.args.stack = uint64(base)
	c.args.stackSize = uint64(c.stackTop() - base)
	r, errno := rawClone(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&c.args)), unsafe.Sizeof(c.args), 0, 0, &probeExit[0], 1, &c.res)
	if errno != 0 {
		return syscall.Errno(errno)
	}
	reapProbeChild(int(r), -1, false)
	return nil
}

// reapProbeChild collects a probe's child, which has exited.
func reapProbeChild(pid, pidfd int, autoreap bool) {
	if !autoreap {
		var si unix.Siginfo
		for unix.Waitid(unix.P_PID, pid, &si, unix.WEXITED|unix.WALL, nil) == unix.EINTR {
		}
	}
	if pidfd >= 0 {
		unix.Close(pidfd)
	}
}

// probeOnce runs fn until its answer is conclusive and caches that. Cached
// once, a result costs one atomic load.
func probeOnce[T any](fn func() (T, error)) func() (T, error) {
	var (
		mu   sync.Mutex
		done atomic.Bool
		res  T
		rerr error
	)
	return func() (T, error) {
		if done.Load() {
			return res, rerr
		}
		mu.Lock()
		defer mu.Unlock()
		if done.Load() {
			return res, rerr
		}
		v, err := fn()
		if conclusive(err) {
			res, rerr = v, err
			done.Store(true)
		}
		return v, err
	}
}

// conclusive reports whether a probe's answer will be the same next time:
// success, or clone3 refusing for good (missing or filtered, unknown flags,
// a struct it does not take, a policy's EPERM).
func conclusive(err error) bool {
	if err == nil {
		return true
	}
	for _, e := range []error{unix.ENOSYS, unix.EINVAL, unix.E2BIG, unix.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// clone3Mode is how the Clone3 backend creates children on this machine.
type clone3Mode struct {
	// viaClone: clone3 cannot serve (why says why), clone(2) does.
	viaClone bool
	// why is nil when clone3 works; else why it cannot serve, an error
	// matching ErrNotSupported and the errno clone3 gave.
	why error
}

// kernelRelease returns the running kernel's release ("6.18.0-1-amd64"),
// or "" where uname fails.
func unameRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// releaseAtLeast compares a release such as "6.18.4-foo" with major.minor;
// an unreadable release counts as new enough.
func releaseAtLeast(rel string, major, minor int) bool {
	var a, b int
	if n, _ := fmt.Sscanf(rel, "%d.%d", &a, &b); n < 2 {
		return true
	}
	return a > major || a == major && b >= minor
}

// probeClone3 finds out how the Clone3 backend can create children. The
// error is for an inconclusive answer only (see probeOnce).
func probeClone3() (clone3Mode, error) {
	err := clone3Accepts(unix.CLONE_CLEAR_SIGHAND)
	if err == unix.EINVAL {
		// No CLONE_INTO_CGROUP (Linux < 5.7): ask about
		// CLONE_CLEAR_SIGHAND alone, from a child without exit signal.
		err = clone3Child(unix.CLONE_CLEAR_SIGHAND)
	}
	return clone3ModeFor(err, unameRelease())
}

// clone3ModeFor maps the probe's answer err on kernel release rel to the
// Clone3 backend's mode, or to an inconclusive error.
func clone3ModeFor(err error, rel string) (clone3Mode, error) {
	// The clone path needs CLONE_PIDFD on clone (5.2) and, as everything
	// here, waitid(P_PIDFD) (5.4).
	cloneServes := releaseAtLeast(rel, 5, 4)
	switch {
	case err == nil:
		return clone3Mode{}, nil
	case err == unix.ENOSYS && !releaseAtLeast(rel, 5, 3):
		return clone3Mode{why: unsupported(err, "Clone3 needs Linux 5.4 (this kernel is too old: Linux %s has no clone3)", rel)}, nil
	case err == unix.ENOSYS:
		return clone3Mode{viaClone: cloneServes, why: unsupported(err, "clone3 filtered (ENOSYS on Linux %s ≥ 5.3: a seccomp filter or an emulator)", rel)}, nil
	case err == unix.EPERM:
		return clone3Mode{viaClone: cloneServes, why: unsupported(err, "clone3 filtered (EPERM: a seccomp filter or a security policy)")}, nil
	case err == unix.EINVAL:
		return clone3Mode{viaClone: cloneServes, why: unsupported(err, "clone3 has no CLONE_CLEAR_SIGHAND (needs Linux 5.5; this is Linux %s)", rel)}, nil
	case err == unix.E2BIG:
		return clone3Mode{viaClone: cloneServes, why: unsupported(err, "clone3 refuses struct clone_args of 88 bytes")}, nil
	}
	return clone3Mode{}, os.NewSyscallError("clone3", err)
}

var clone3State = probeOnce(probeClone3)

// forceClonePath makes the Clone3 backend take the clone(2) path where
// clone3 works: set by the tests only, so that the path's behaviour is
// tested on every machine.
var forceClonePath atomic.Bool

// clone3Lost is the errno (ENOSYS or EPERM) of a clone3 that failed after
// the probe had found it working: a seccomp filter installed since.
var clone3Lost atomic.Int32

// useClonePath reports whether the Clone3 backend creates children with
// clone(2) rather than clone3.
func useClonePath() bool {
	if forceClonePath.Load() || clone3Lost.Load() != 0 {
		return true
	}
	m, err := clone3State()
	return err == nil && m.viaClone
}

// clonePathReason says why the Clone3 backend uses clone(2), and the errno
// of clone3 that shows it.
func clonePathReason() (string, error) {
	if e := clone3Lost.Load(); e != 0 {
		return fmt.Sprintf("clone3 filtered (%s since the first spawn: a seccomp filter installed later)", unix.ErrnoName(syscall.Errno(e))), syscall.Errno(e)
	}
	if m, err := clone3State(); err == nil && m.why != nil {
		if u, ok := m.why.(*unsupportedError); ok {
			return u.what, u.err
		}
		return m.why.Error(), m.why
	}
	return "clone3 is not used here (the clone(2) path is forced)", nil
}

func availableClone3() error {
	m, err := clone3State()
	switch {
	case err != nil:
		// Out of processes or memory right now: the spawn fails as its
		// own clone3 would, and Clone3 is probed again next time.
		return err
	case m.why != nil && !m.viaClone:
		return m.why
	}
	return nil
}

// Lifecycle flag probes, one per flag (Linux 7.1), each cached once
// conclusive. CLONE_PIDFD_AUTOKILL needs CLONE_PIDFD with it (so a free
// descriptor, which the kernel takes back) and CLONE_AUTOREAP.
var (
	autoReapProbe = probeFlags(_CLONE_AUTOREAP)
	nnpProbe      = probeFlags(_CLONE_NNP)
	autoKillProbe = probeFlags(unix.CLONE_PIDFD | _CLONE_AUTOREAP | _CLONE_PIDFD_AUTOKILL | _CLONE_NNP)
)

func probeFlags(flags uint64) func() (struct{}, error) {
	return probeOnce(func() (struct{}, error) {
		return struct{}{}, clone3Accepts(unix.CLONE_CLEAR_SIGHAND | flags)
	})
}

func probeAutoReap() error { _, err := autoReapProbe(); return err }
func probeNNP() error      { _, err := nnpProbe(); return err }
func probeAutoKill() error { _, err := autoKillProbe(); return err }

// nnpAtClone reports whether NoNewPrivs is carried by CLONE_NNP (Linux ≥
// 7.1) rather than by a prctl step in the child.
func nnpAtClone(attr *Attr) bool {
	if !attr.NoNewPrivs || attr.Backend != Auto && attr.Backend != Clone3 || useClonePath() {
		return false
	}
	return probeNNP() == nil
}

// lifecycleSupported checks the Linux 7.1 flags attr asks for.
func lifecycleSupported(attr *Attr) error {
	if !attr.AutoReap && !attr.AutoKill {
		return nil
	}
	if useClonePath() {
		name, flag := "AutoReap", "CLONE_AUTOREAP"
		if attr.AutoKill {
			name, flag = "AutoKill", "CLONE_PIDFD_AUTOKILL"
		}
		why, errno := clonePathReason()
		return unsupported(errno, "%s needs clone3 with %s (Linux 7.1): %s", name, flag, why)
	}
	return lifecycleKernel(attr)
}

// lifecycleKernel checks that the kernel's clone3 takes the Linux 7.1 flags
// attr asks for.
func lifecycleKernel(attr *Attr) error {
	if attr.AutoKill {
		if err := probeAutoKill(); !conclusive(err) {
			return os.NewSyscallError("clone3", err)
		} else if err != nil {
			return unsupported(err, "AutoKill needs Linux 7.1 (CLONE_PIDFD_AUTOKILL)")
		}
	}
	if err := probeAutoReap(); !conclusive(err) {
		return os.NewSyscallError("clone3", err)
	} else if err != nil {
		return unsupported(err, "AutoReap needs Linux 7.1 (CLONE_AUTOREAP)")
	}
	return nil
}

// clone3Why says why clone3 itself is not used: nil where it works (and is
// not only bypassed by the tests), else an error matching ErrNotSupported.
func clone3Why() error {
	if e := clone3Lost.Load(); e != 0 {
		why, errno := clonePathReason()
		return unsupported(errno, "%s", why)
	}
	m, err := clone3State()
	if err != nil {
		return err
	}
	return m.why
}

// clone3Filtered says why clone3 is refused here (a seccomp filter or an
// emulator: ENOSYS on a kernel that has clone3, EPERM; or no
// CLONE_CLEAR_SIGHAND), where the Clone3 backend takes its clone(2) path;
// nil where clone3 works (forcing the clone path in tests changes nothing
// here).
func clone3Filtered() error {
	if clone3Lost.Load() != 0 {
		return clone3Why()
	}
	if m, err := clone3State(); err == nil && m.viaClone {
		return m.why
	}
	return nil
}

// clone3Report is what Probe says of clone3: how the Clone3 backend creates
// children ("" for clone3 itself), and whether clone3 works.
func clone3Report() (via string, err error) {
	m, err := clone3State()
	if err != nil {
		return "", err
	}
	if useClonePath() {
		why, _ := clonePathReason()
		via = "clone(2), since " + why
	}
	return via, m.why
}

// Pidfd operations. Kernel history:
//
//	v5.1: pidfd_send_signal
//	v5.2: CLONE_PIDFD (clone)
//	v5.3: pidfd_open, poll on a pidfd
//	v5.4: waitid(P_PIDFD)
//	v5.6: pidfd_getfd
//	v5.10: PIDFD_NONBLOCK, waitid on a non-blocking pidfd returns EAGAIN
//	v6.13: PIDFD_GET_INFO
//	v6.15: PIDFD_INFO_EXIT (status of an exited, even reaped, process)

package spawn

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pidfdHandle is the pidfd with a count of the calls using it. Every use of
// the descriptor holds a reference for the length of the call, and the
// descriptor is closed when it has been released and the last reference is
// dropped: after Release no call can reach a descriptor number that the
// kernel has handed to another open.
//
// Nothing on the way from Spawn to the end of Wait enters the runtime's
// blocking-syscall path (the calls are short and raw): a syscall there wakes
// the runtime's monitor thread from its deep sleep every time, which on a
// two-CPU machine costs more than the spawn itself (see waitSet).
type pidfdHandle struct {
	fd      int32
	refs    atomic.Uint64 // bit 0: released; above it, references held
	fdDone  atomic.Bool   // the descriptor has been closed
	cleanup runtime.Cleanup
	wake    chan struct{} // Wait's notification in the wait set (cap 1), made by its first use
	kick    atomic.Int32  // 1 + the eventfd of a Wait blocked on the handle, or 0

	// In the wait set's list of parked waiters that have no notification
	// pending (under waits.mu).
	idle               bool
	idlePrev, idleNext *pidfdHandle
}

func (h *pidfdHandle) closed() bool { return h.refs.Load()&1 != 0 }

// acquire takes a reference unless the handle has been released.
func (h *pidfdHandle) acquire() bool {
	for {
		s := h.refs.Load()
		if s&1 != 0 {
			return false
		}
		if h.refs.CompareAndSwap(s, s+2) {
			return true
		}
	}
}

// drop returns a reference; the last one after Release closes the pidfd.
func (h *pidfdHandle) drop() {
	if h.refs.Add(^uint64(1)) == 1 { // -2: released, no reference left
		h.closeFd()
	}
}

func (h *pidfdHandle) closeFd() {
	h.cleanup.Stop()
	closePidfd(h.fd)
	h.fdDone.Store(true)
}

// markReleased sets the released bit; it reports false if it was set
// already, and whether the descriptor was closed then and there (no
// reference was held).
func (h *pidfdHandle) markReleased() (ok, closedNow bool) {
	for {
		s := h.refs.Load()
		if s&1 != 0 {
			return false, false
		}
		if h.refs.CompareAndSwap(s, s|1) {
			if s == 0 {
				h.closeFd()
				return true, true
			}
			return true, false
		}
	}
}

// close releases the handle and returns once the pidfd is closed: a Wait
// parked on it is woken (it returns ErrReleased) and calls in progress
// finish first.
func (h *pidfdHandle) close() error {
	ok, closedNow := h.markReleased()
	if !ok {
		return ErrReleased
	}
	if !closedNow {
		if k := h.kick.Load(); k > 0 {
			kickEventfd(k - 1)
		}
		waits.wake(h)
		h.awaitClosed()
	}
	return nil
}

// end is close for the Wait that has reaped the process and holds a
// reference: it drops that reference and returns once the descriptor is
// closed (at once, unless a Signal, Getfd or Info is in progress on it;
// or a Release got there first, which closes it the same way).
func (h *pidfdHandle) end() {
	h.markReleased()
	h.drop()
	h.awaitClosed()
}

// awaitClosed returns once the last reference is dropped and the descriptor
// closed; the calls holding references are short.
func (h *pidfdHandle) awaitClosed() {
	for i := 0; !h.fdDone.Load(); i++ {
		if i < 50 {
			runtime.Gosched()
		} else {
			time.Sleep(20 * time.Microsecond)
		}
	}
}

// reapAndClose collects the child of pidfd, which has exited or been killed
// (unless the kernel reaps it itself: autoreap), and closes the pidfd: what
// every failed spawn does before it returns its error.
func reapAndClose(pidfd int, autoreap bool) {
	if !autoreap {
		var si unix.Siginfo
		for unix.Waitid(unix.P_PIDFD, pidfd, &si, unix.WEXITED|unix.WALL, nil) == unix.EINTR {
		}
	}
	unix.Close(pidfd)
}

// closePidfd is the cleanup of a Process that became unreachable without
// Release: its pidfd would otherwise leak (and, with AutoKill, the child
// would live on).
func closePidfd(fd int32) { syscall.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0) }

// newProcess takes ownership of pidfd.
func newProcess(pidfd, pid int, b Backend, flags procFlags) *Process {
	p := &Process{pid: pid, backend: b, flags: flags}
	p.h.fd = int32(pidfd)
	p.h.cleanup = runtime.AddCleanup(p, closePidfd, int32(pidfd))
	return p
}

// control runs fn on the pidfd while holding a reference on it. Once Wait
// has ended the handle it returns os.ErrProcessDone; after Release,
// ErrReleased.
func (p *Process) control(fn func(fd int) error) error {
	if !p.h.acquire() {
		if p.reaped.Load() {
			return os.ErrProcessDone
		}
		return ErrReleased
	}
	defer p.h.drop()
	return fn(int(p.h.fd))
}

// OpenProcess returns a handle on the running process pid (pidfd_open,
// Linux ≥ 5.3). Wait on it reaps the process if it is a child of this one,
// and otherwise waits for it to exit. Signals sent through the handle never
// reach another process that later gets the same pid.
func OpenProcess(pid int) (*Process, error) {
	if pid <= 0 {
		return nil, os.NewSyscallError("pidfd_open", syscall.EINVAL)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if err == unix.ENOSYS {
			return nil, unsupported(err, "OpenProcess needs Linux 5.3 (pidfd_open)")
		}
		return nil, os.NewSyscallError("pidfd_open", err)
	}
	return newProcess(fd, pid, Auto, 0), nil
}

// FromPidfd adopts fd, which must be a pidfd, and takes ownership of it: the
// Process closes it on Release. The pid is read from the descriptor
// (PidfdGetpid); a descriptor that is not a pidfd is an EBADF error and is
// left open.
func FromPidfd(fd int) (*Process, error) {
	pid, err := PidfdGetpid(fd)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return nil, err
	}
	if err != nil {
		pid = -1 // the process was reaped already; Wait reports it
	}
	return newProcess(fd, pid, Auto, 0), nil
}

func (p *Process) signal(sig syscall.Signal) error {
	return p.control(func(fd int) error {
		if exited(fd) {
			return os.ErrProcessDone
		}
		err := unix.PidfdSendSignal(fd, sig, nil, 0)
		switch err {
		case nil:
			return nil
		case unix.ESRCH:
			return os.ErrProcessDone
		}
		return os.NewSyscallError("pidfd_send_signal", err)
	})
}

// exited reports whether the pidfd is readable: the process has exited
// (for a thread-group leader: the whole group has).
func exited(fd int) bool {
	pfd := unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	var ts unix.Timespec
	for {
		n, _, errno := syscall.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		return errno == 0 && n > 0 && pfd.Revents&(unix.POLLIN|unix.POLLHUP) != 0
	}
}

func (p *Process) wait(ctx context.Context) (*State, error) {
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	if p.state != nil {
		return nil, ErrWaited
	}
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if !p.h.acquire() {
		return nil, ErrReleased
	}
	fd := int(p.h.fd)
	st, err := p.reap(fd)
	if st == nil && err == nil {
		if efd, ok := blocks.take(); ok {
			err = p.block(ctx, fd, efd, func(fd int) (bool, error) {
				var err error
				st, err = p.reap(fd)
				return st != nil, err
			})
			blocks.put(efd)
		} else {
			st, err = p.park(ctx, fd)
		}
	}
	if err != nil {
		p.h.drop()
		return nil, err
	}
	// Reaped: the handle has done its work. Its descriptor is closed before
	// Wait returns, as os.Process.Wait does, so that a program that waits
	// for its children leaves no descriptor to the garbage collector.
	p.state = st
	p.reaped.Store(true)
	p.h.end()
	return st, nil
}

// park waits in the wait set until the process has exited and reaps it, or
// until ctx is done or the handle is released.
func (p *Process) park(ctx context.Context, fd int) (st *State, err error) {
	if err := waits.add(&p.h); err != nil {
		return nil, err
	}
	defer func() { waits.remove(&p.h, st != nil) }()
	if ctx != nil && ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { waits.wake(&p.h) })
		defer stop()
	}
	// The registration is armed: a child that exited since wait looked, or
	// exits later, makes the set report it (EPOLL_CTL_ADD and _MOD check
	// the pidfd's readiness as they arm it).
	for {
		if err := waits.sleep(&p.h); err != nil {
			return nil, err
		}
		if st, err := p.reap(fd); st != nil || err != nil {
			return st, err
		}
		if p.h.closed() {
			return nil, ErrReleased
		}
		if ctx != nil {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		// Woken, but the child runs (the wake was for Release or the
		// context, or a readiness that did not last): arm again.
		if err := waits.rearm(&p.h); err != nil {
			return nil, err
		}
	}
}

// sigchld is the part of siginfo_t that waitid fills for a child.
type sigchld struct {
	signo, errno, code, _ int32
	pid                   int32
	uid                   uint32
	status                int32
	_                     [100]byte
}

// stateUsage is a State and the resource usage it points to, allocated
// together.
type stateUsage struct {
	st State
	ru syscall.Rusage
}

// reap collects the process's status if it has exited: (nil, nil) means not
// yet.
func (p *Process) reap(fd int) (*State, error) {
	if p.flags&procAutoReap == 0 {
		var si sigchld
		var ru syscall.Rusage
		opts := unix.WEXITED | unix.WNOHANG
		if p.flags&procWall != 0 {
			opts |= unix.WALL
		}
		var err error
		if _, _, errno := syscall.RawSyscall6(unix.SYS_WAITID, unix.P_PIDFD, uintptr(fd), uintptr(unsafe.Pointer(&si)),
			uintptr(opts), uintptr(unsafe.Pointer(&ru)), 0); errno != 0 {
			err = errno
		}
		switch {
		case err == unix.EAGAIN || err == nil && si.pid == 0:
			return nil, nil
		case err == nil:
			r := &stateUsage{st: State{pid: int(si.pid), status: statusOf(si.code, si.status)}, ru: ru}
			r.st.rusage = &r.ru
			return &r.st, nil
		case err != unix.ECHILD:
			return nil, os.NewSyscallError("waitid", err)
		}
		// ECHILD: not our child, or reaped by the kernel (autoreap, SIGCHLD
		// ignored). Its exit shows as a readable pidfd.
	}
	if !exited(fd) {
		return nil, nil
	}
	return p.exitInfo(fd), nil
}

// exitInfo reads the status of an exited process that waitid cannot give.
// Right after the pidfd turns readable the kernel may not have recorded the
// exit yet (PIDFD_INFO_EXIT missing, or ESRCH): retry a bounded number of
// times, then report an unknown status.
func (p *Process) exitInfo(fd int) *State {
	st := &State{pid: p.pid, status: unknownStatus}
	for i := 0; i < 200; i++ {
		info := pidfdInfoArg{Mask: _PIDFD_INFO_EXIT}
		err := ioctlPidfdInfo(fd, &info)
		if err == nil && info.Mask&_PIDFD_INFO_EXIT != 0 {
			st.status = syscall.WaitStatus(info.Exit_code)
			return st
		}
		if err != nil && err != unix.ESRCH {
			return st // no PIDFD_GET_INFO (< 6.13) or no EXIT (< 6.15)
		}
		if err == nil && info.Mask&_PIDFD_INFO_EXIT == 0 && info.Supported_mask != 0 &&
			info.Supported_mask&_PIDFD_INFO_EXIT == 0 {
			return st
		}
		if i < 20 {
			runtime.Gosched()
		} else {
			time.Sleep(100 * time.Microsecond)
		}
	}
	return st
}

// unknownStatus is a wait status that is neither an exit nor a signal: the
// process exited but the kernel gave no status.
const unknownStatus = syscall.WaitStatus(0xffff)

// statusOf turns waitid's si_code and si_status into a wait(2) status.
func statusOf(code, status int32) syscall.WaitStatus {
	switch code {
	case cldExited:
		return syscall.WaitStatus((status & 0xff) << 8)
	case cldKilled:
		return syscall.WaitStatus(status & 0x7f)
	case cldDumped:
		return syscall.WaitStatus(status&0x7f | 0x80)
	}
	return unknownStatus
}

func (p *Process) getfd(target int) (*os.File, error) {
	var nfd int
	err := p.control(func(fd int) error {
		var err error
		nfd, err = unix.PidfdGetfd(fd, target, 0)
		switch err {
		case nil:
			return nil
		case unix.ENOSYS:
			return unsupported(err, "Getfd needs Linux 5.6 (pidfd_getfd)")
		}
		return os.NewSyscallError("pidfd_getfd", err)
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(nfd), "pidfd_getfd"), nil
}

func (p *Process) info() (*Info, error) {
	var info pidfdInfoArg
	err := p.control(func(fd int) error {
		info.Mask = _PIDFD_INFO_PID | _PIDFD_INFO_CREDS | _PIDFD_INFO_CGROUPID | _PIDFD_INFO_EXIT
		return pidfdInfo(fd, &info)
	})
	if err != nil {
		return nil, err
	}
	out := &Info{
		Mask:     info.Mask,
		Pid:      int(info.Pid),
		Tgid:     int(info.Tgid),
		Ppid:     int(info.Ppid),
		Ruid:     info.Ruid,
		Rgid:     info.Rgid,
		Euid:     info.Euid,
		Egid:     info.Egid,
		CgroupID: info.Cgroupid,
	}
	if info.Mask&_PIDFD_INFO_EXIT != 0 {
		out.Exited = true
		out.Status = syscall.WaitStatus(info.Exit_code)
	}
	return out, nil
}

// pidfdInfo is PIDFD_GET_INFO with its errors named.
func pidfdInfo(fd int, info *pidfdInfoArg) error {
	err := ioctlPidfdInfo(fd, info)
	switch err {
	case nil:
		return nil
	case unix.ENOTTY, unix.EINVAL:
		return unsupported(err, "Info needs Linux 6.13 (PIDFD_GET_INFO)")
	}
	return os.NewSyscallError("ioctl(PIDFD_GET_INFO)", err)
}

// si_code values of SIGCHLD (asm-generic/siginfo.h).
const (
	cldExited = 1
	cldKilled = 2
	cldDumped = 3
)

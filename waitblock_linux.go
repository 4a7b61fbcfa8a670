package spawn

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Blocking waits: the fast path of Wait while few goroutines wait.
//
// A goroutine that parks in the runtime poller is woken through two epoll
// levels and the scheduler (the child's exit makes its pidfd readable, which
// makes the wait set readable, which wakes the thread blocked in the
// runtime's netpoll, which finds the goroutine and runs it, often after
// handing it to another thread). A thread blocked in a system call on the
// pidfd itself is woken by the exit directly. So while at most maxBlocked
// Waits are in progress, each blocks its thread in ppoll(2) on its pidfd and
// on an eventfd of its own, through the runtime's ordinary system-call path
// (the scheduler hands the P on to another thread if other goroutines need
// it); beyond that bound, Waits park in the wait set, and a thousand waiting
// goroutines hold no more threads than eight do. The eventfd is how Release
// and a done context wake a blocked Wait (a signal could not do it without
// racing the entry into the system call). The eventfds are made with the
// wait set and kept as long as it is, so that a Wait opens no descriptor.
// (Polling a pidfd: Linux 5.3, as waitid(P_PIDFD) needs 5.4.)
const maxBlocked = 8

// blockLimit is how many Waits may block at once (maxBlocked; tests lower it
// to force the wait set). Read and written atomically.
var blockLimit int32 = maxBlocked

// blockSlots hands out the eventfds of blocked Waits.
type blockSlots struct {
	ready atomic.Bool // the wait set has been made, and the eventfds with it
	mu    sync.Mutex
	free  []int32 // eventfds not in use
	used  int32   // slots in use
}

var blocks blockSlots

// take returns a free eventfd, or false when blockLimit Waits are blocked
// already (or the eventfds could not be made: the wait set serves).
func (b *blockSlots) take() (int32, bool) {
	if !b.ready.Load() && waits.ensure() != nil {
		return -1, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used >= atomic.LoadInt32(&blockLimit) || len(b.free) == 0 {
		return -1, false
	}
	efd := b.free[len(b.free)-1]
	b.free = b.free[:len(b.free)-1]
	b.used++
	return efd, true
}

// make creates the eventfds, close-on-exec and non-blocking, with the wait
// set (under its lock).
func (b *blockSlots) make() {
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.ready.Store(true)
	for i := 0; i < maxBlocked; i++ {
		efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			return // fewer slots; the wait set takes the rest
		}
		b.free = append(b.free, int32(efd))
	}
}

func (b *blockSlots) put(efd int32) {
	b.mu.Lock()
	b.free = append(b.free, efd)
	b.used--
	b.mu.Unlock()
}

// kickEventfd makes a ppoll on efd return.
func kickEventfd(efd int32) {
	var one uint64 = 1
	syscall.RawSyscall(unix.SYS_WRITE, uintptr(efd), uintptr(unsafe.Pointer(&one)), 8)
}

// drainEventfd resets efd (non-blocking).
func drainEventfd(efd int32) {
	var v uint64
	syscall.RawSyscall(unix.SYS_READ, uintptr(efd), uintptr(unsafe.Pointer(&v)), 8)
}

// block waits for the process with its thread blocked in ppoll on the pidfd
// and efd, until done (called each time the pidfd is readable) says it is
// done, or until ctx is done or the handle released.
func (p *Process) block(ctx context.Context, fd int, efd int32, done func(fd int) (bool, error)) error {
	p.h.kick.Store(efd + 1)
	defer p.h.kick.Store(0)
	if ctx != nil && ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { kickEventfd(efd) })
		defer stop()
	}
	fds := [2]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: efd, Events: unix.POLLIN}}
	for {
		// Release sets its bit before it looks at kick, and this looks at
		// the bit after storing kick: one of them sees the other.
		if p.h.closed() {
			return ErrReleased
		}
		if ctx != nil {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		_, _, errno := syscall.Syscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), 2, 0, 0, 0, 0)
		if errno != 0 && errno != syscall.EINTR {
			return os.NewSyscallError("ppoll", errno)
		}
		if fds[1].Revents != 0 {
			drainEventfd(efd) // Release, the context, or a stale kick
		}
		if fds[0].Revents != 0 {
			if ok, err := done(fd); ok || err != nil {
				return err
			}
		}
	}
}

package spawn

import (
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The wait set: how Wait parks without an OS thread, and cheaply, once
// more than maxBlocked Waits are in progress (the first ones block in ppoll:
// waitblock_linux.go).
//
// The obvious way, each pidfd an *os.File in the runtime poller, costs a
// spawn+wait loop about a third of its speed on a small machine: os.NewFile
// and Close make ordinary (runtime-visible) syscalls, and once every P is
// idle (as while a goroutine waits for its child) the runtime's monitor
// thread sleeps deeply and is woken by the next such syscall, to poll again
// at 20 µs intervals on the other CPU while the next child execs there.
//
// Instead, one epoll set of the package's own holds the pidfds being waited
// for, each EPOLLONESHOT and keyed by its descriptor number, plus an eventfd
// to interrupt a reader. The set itself is an *os.File in the runtime
// poller. Registering, re-arming and removing a pidfd are raw epoll_ctl
// calls. Waiters take turns reading the set: one of them (the leader) is
// parked in the poller on it and wakes the others whose pidfds turned
// readable; when its own did, it passes the turn on to a waiter still
// parked with no notification pending (a list of them is kept, so that the
// turn goes to one whose child had not exited at the last read, and in a
// mass exit the ready pidfds are read in batches rather than reaped one
// hand-off at a time). A lone waiter therefore wakes straight from the
// poller, with no hand-off between goroutines. The set is made by the first Wait that has
// to park and lasts as long as the program: two close-on-exec descriptors,
// no goroutine.
type waitSet struct {
	mu      sync.Mutex
	waiters map[int32]*pidfdHandle // nil until the set exists
	leader  *pidfdHandle           // the waiter reading the set, if any
	idle    *pidfdHandle           // head of the parked waiters with nothing pending
	looked  bool                   // the leader has read the set since it took its turn
	epfd    int
	kickfd  int                 // eventfd in the set: makes the leader look at its wake
	f       *os.File            // the set in the poller; held so that it is never finalized
	rc      syscall.RawConn     // f's
	read    func(uintptr) bool  // w.look as a func value, made once
	evs     [16]unix.EpollEvent // the leader's buffer
}

var waits waitSet

// ensure creates the set if it does not exist yet.
func (w *waitSet) ensure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiters == nil {
		return w.start()
	}
	return nil
}

// start creates the set. Under w.mu.
func (w *waitSet) start() error {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	kickfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return os.NewSyscallError("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(kickfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, kickfd, &ev); err != nil {
		unix.Close(kickfd)
		unix.Close(epfd)
		return os.NewSyscallError("epoll_ctl", err)
	}
	// Non-blocking, so that os.NewFile puts it in the runtime poller (an
	// epoll set can be watched by another: it is readable while it has
	// ready events).
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(kickfd)
		unix.Close(epfd)
		return os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(epfd), "spawn-wait-set")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		unix.Close(kickfd)
		return err
	}
	w.epfd, w.kickfd, w.f, w.rc = epfd, kickfd, f, rc
	blocks.make()
	w.read = w.look
	w.waiters = make(map[int32]*pidfdHandle)
	return nil
}

// add registers h, which holds a reference on its pidfd, until remove.
func (w *waitSet) add(h *pidfdHandle) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiters == nil {
		if err := w.start(); err != nil {
			return err
		}
	}
	if h.wake == nil {
		h.wake = make(chan struct{}, 1)
	}
	if err := epollCtl(w.epfd, unix.EPOLL_CTL_ADD, h.fd); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	w.waiters[h.fd] = h
	return nil
}

// rearm asks for one more notification (the registration is one-shot).
func (w *waitSet) rearm(h *pidfdHandle) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := epollCtl(w.epfd, unix.EPOLL_CTL_MOD, h.fd); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// remove unregisters h and discards a notification it did not take. The
// kernel's registration of a reaped child's pidfd is left to the pidfd's
// close (which ends it, and drops an event still pending with it): it can
// fire no more, and the next look at the set takes a pending event for
// nobody. That saves a syscall between a child's exit and the next spawn.
func (w *waitSet) remove(h *pidfdHandle, reaped bool) {
	w.mu.Lock()
	if w.waiters[h.fd] == h {
		w.unidle(h)
		delete(w.waiters, h.fd)
		if !reaped {
			epollCtl(w.epfd, unix.EPOLL_CTL_DEL, h.fd)
		}
		w.passOn(h)
	}
	w.mu.Unlock()
	select {
	case <-h.wake:
	default:
	}
}

// wake makes h's waiter look at its process again (Release, a done
// context), wherever it is parked.
func (w *waitSet) wake(h *pidfdHandle) {
	w.mu.Lock()
	if w.waiters[h.fd] == h {
		w.notify(h)
		if w.leader == h {
			var one uint64 = 1
			syscall.RawSyscall(unix.SYS_WRITE, uintptr(w.kickfd), uintptr(unsafe.Pointer(&one)), 8)
		}
	}
	w.mu.Unlock()
}

// sleep parks h's waiter until it is notified: as the leader, in the
// runtime poller on the set, or else on its channel.
func (w *waitSet) sleep(h *pidfdHandle) error {
	w.mu.Lock()
	if w.leader != nil {
		if len(h.wake) == 0 { // notifications are sent under w.mu
			w.pushIdle(h)
		}
		w.mu.Unlock()
		<-h.wake
		return nil
	}
	w.leader = h
	w.looked = false
	rc := w.rc
	w.mu.Unlock()

	err := rc.Read(w.read)

	w.mu.Lock()
	defer w.mu.Unlock()
	w.leader = nil
	w.passOn(h)
	select {
	case <-h.wake:
	default:
	}
	if err != nil { // the set's *os.File is never closed: cannot happen
		return os.NewSyscallError("wait set", err)
	}
	return nil
}

// passOn wakes a parked waiter with nothing pending to take the leader's
// turn, if there is no leader. (A waiter that is running, or has a
// notification pending, comes back to sleep, or leaves through remove, and
// then takes the turn or passes it on itself.) Under w.mu.
func (w *waitSet) passOn(skip *pidfdHandle) {
	if w.leader != nil {
		return
	}
	o := w.idle
	if o == skip && o != nil {
		o = o.idleNext
	}
	if o != nil {
		w.notify(o)
	}
}

// notify wakes h's waiter and takes it off the idle list. Under w.mu.
func (w *waitSet) notify(h *pidfdHandle) {
	w.unidle(h)
	notify(h.wake)
}

// pushIdle puts h at the head of the idle list. Under w.mu.
func (w *waitSet) pushIdle(h *pidfdHandle) {
	if h.idle {
		return
	}
	h.idle, h.idlePrev, h.idleNext = true, nil, w.idle
	if w.idle != nil {
		w.idle.idlePrev = h
	}
	w.idle = h
}

// unidle takes h off the idle list if it is on it. Under w.mu.
func (w *waitSet) unidle(h *pidfdHandle) {
	if !h.idle {
		return
	}
	if h.idlePrev != nil {
		h.idlePrev.idleNext = h.idleNext
	} else {
		w.idle = h.idleNext
	}
	if h.idleNext != nil {
		h.idleNext.idlePrev = h.idlePrev
	}
	h.idle, h.idlePrev, h.idleNext = false, nil, nil
}

// look is the leader's read of the set, called before it parks in the
// poller and after each wake there: it reports whether the leader has been
// woken. A lone leader woken by the poller looks at its own process first,
// without reading the set: the wake is its child's exit, or Release or a
// done context (which notify it before they kick the set), or a stale
// event; the park loop tells them apart and the next read of the set takes
// what is left.
func (w *waitSet) look(fd uintptr) bool {
	w.mu.Lock()
	lone := w.looked && len(w.waiters) == 1
	w.looked = true
	w.mu.Unlock()
	return lone || w.drain(fd)
}

// drain reads the set: it wakes the waiters whose pidfds are ready and
// reports whether the leader itself has been woken.
func (w *waitSet) drain(fd uintptr) bool {
	for {
		n, _, errno := syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&w.evs[0])), uintptr(len(w.evs)), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 || n == 0 {
			break
		}
		w.mu.Lock()
		for _, ev := range w.evs[:n] {
			if ev.Fd == int32(w.kickfd) {
				var v uint64
				syscall.RawSyscall(unix.SYS_READ, uintptr(w.kickfd), uintptr(unsafe.Pointer(&v)), 8)
			} else if o := w.waiters[ev.Fd]; o != nil {
				w.notify(o)
			}
		}
		w.mu.Unlock()
		if int(n) < len(w.evs) {
			break
		}
	}
	w.mu.Lock()
	woken := w.leader == nil || len(w.leader.wake) > 0
	w.mu.Unlock()
	return woken
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// epollCtl registers, re-arms or removes fd for one EPOLLIN notification,
// with the descriptor number as the key.
func epollCtl(epfd, op int, fd int32) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: fd}
	_, _, errno := syscall.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(&ev)), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

//go:build linux

package spawn

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"
	"golang.org/x/sys/unix"
)

// Tests of the wait set (waitset_linux.go): parked Waits take turns reading
// it, and every one of them is woken by its own child, Release or context.
// They force the set (setOnly): otherwise the first Waits block in ppoll
// (waitblock_linux.go, tested in TestWaitBlocked*).

// setOnly makes every Wait of the test park in the wait set.
func setOnly(t *testing.T) {
	old := atomic.SwapInt32(&blockLimit, 0)
	t.Cleanup(func() { atomic.StoreInt32(&blockLimit, old) })
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func leaderIs(h *pidfdHandle) func() bool {
	return func() bool {
		waits.mu.Lock()
		defer waits.mu.Unlock()
		return waits.leader == h
	}
}

// parkInTurn runs waitA in a goroutine until a's Wait leads the wait set,
// then waitB until both are parked: a leader and a follower.
func parkInTurn(t *testing.T, a *Process, waitA, waitB func()) {
	t.Helper()
	go waitA()
	eventually(t, "a leads", leaderIs(&a.h))
	go waitB()
	eventually(t, "both are parked", parked(2))
}

// killReleased kills and reaps the child pid of a released Process: it is
// still the test's child.
func killReleased(t *testing.T, pid int) {
	t.Helper()
	is := is.New(t)
	q, err := OpenProcess(pid)
	is.NoErr(err)
	is.NoErr(q.Kill())
	_, err = q.Wait()
	is.NoErr(err)
	q.Release()
}

func parked(n int) func() bool {
	return func() bool {
		waits.mu.Lock()
		defer waits.mu.Unlock()
		return len(waits.waiters) == n
	}
}

// TestWaitSetOutOfOrder: children exit in the reverse order of their Waits,
// so the first waiter (the leader) is the last to be satisfied and must wake
// every other one with its own status.
func TestWaitSetOutOfOrder(t *testing.T) {
	setOnly(t)
	is := is.New(t)
	const n = 8
	procs := make([]*Process, n)
	for i := range procs {
		// Child i exits with status 10+i after (n-i)×40 ms.
		script := fmt.Sprintf("sleep %.2f; exit %d", float64(n-i)*0.04, 10+i)
		p, err := Spawn("/bin/sh", []string{"sh", "-c", script}, &Attr{Backend: Clone3})
		is.NoErr(err)
		endOnCleanup(t, p)
		procs[i] = p
	}
	var wg sync.WaitGroup
	codes := make([]int, n)
	errs := make([]error, n)
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := p.Wait()
			errs[i] = err
			if err == nil {
				codes[i] = st.ExitCode()
			}
		}()
		if i == 0 {
			eventually(t, "the first waiter leads", leaderIs(&p.h))
		}
	}
	wg.Wait()
	for i := range procs {
		is.NoErr(errs[i])            // every Wait returns
		is.Equal(codes[i], 10+i)     // with its own child's status
		is.NoErr(procs[i].Release()) // and the handle releases
	}
	is.True(parked(0)())     // nobody is left in the set
	is.True(leaderIs(nil)()) // and nobody leads
}

// TestWaitSetReleaseParked: Release wakes a parked Wait, leader or not, with
// ErrReleased and closes the pidfd; the other waiter carries on and takes
// the lead.
func TestWaitSetReleaseParked(t *testing.T) {
	setOnly(t)
	for _, which := range []string{"leader", "follower"} {
		t.Run(which, func(t *testing.T) {
			is := is.New(t)
			a := spawnHelper(t, Clone3, "sleep", "1m")
			b := spawnHelper(t, Clone3, "sleep", "1m")
			aPid, bPid := a.Pid(), b.Pid()
			type result struct {
				st  *State
				err error
			}
			ra, rb := make(chan result, 1), make(chan result, 1)
			parkInTurn(t, a,
				func() { st, err := a.Wait(); ra <- result{st, err} },
				func() { st, err := b.Wait(); rb <- result{st, err} })

			victim, other, rv, ro, otherPid, victimPid := a, b, ra, rb, bPid, aPid
			if which == "follower" {
				victim, other, rv, ro, otherPid, victimPid = b, a, rb, ra, aPid, bPid
			}
			fd := victim.Fd()
			is.NoErr(victim.Release())
			endPidOnCleanup(t, victimPid) // killReleased reaps it, or the cleanup if t ends first
			r := <-rv
			is.True(errors.Is(r.err, ErrReleased)) // the released Wait returns ErrReleased
			_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
			is.Equal(err, unix.EBADF) // and its pidfd is closed once Release returns
			eventually(t, "the other waiter leads", leaderIs(&other.h))
			select {
			case r := <-ro:
				t.Fatalf("the other Wait returned early: %v, %v", r.st, r.err)
			default:
			}
			is.NoErr(other.Kill())
			r = <-ro
			is.NoErr(r.err)                          // the other Wait still reaps
			is.Equal(r.st.Signal(), syscall.SIGKILL) // its own child
			is.Equal(r.st.Pid(), otherPid)
			is.NoErr(other.Release())

			killReleased(t, victimPid)
		})
	}
}

// TestWaitSetContextParked: a done context wakes a parked Wait, leader or
// not, and leaves its child alone; the other waiter is not disturbed.
func TestWaitSetContextParked(t *testing.T) {
	setOnly(t)
	for _, which := range []string{"leader", "follower"} {
		t.Run(which, func(t *testing.T) {
			is := is.New(t)
			a := spawnHelper(t, Clone3, "sleep", "1m")
			b := spawnHelper(t, Clone3, "sleep", "1m")
			defer func() {
				for _, p := range []*Process{a, b} {
					p.Kill()
					p.Wait()
					p.Release()
				}
			}()
			ctxA, cancelA := context.WithCancel(context.Background())
			ctxB, cancelB := context.WithCancel(context.Background())
			defer cancelA()
			defer cancelB()
			ra, rb := make(chan error, 1), make(chan error, 1)
			parkInTurn(t, a,
				func() { _, err := a.WaitContext(ctxA); ra <- err },
				func() { _, err := b.WaitContext(ctxB); rb <- err })

			cancel, rv, ro, victim, other := cancelA, ra, rb, a, b
			if which == "follower" {
				cancel, rv, ro, victim, other = cancelB, rb, ra, b, a
			}
			cancel()
			is.True(errors.Is(<-rv, context.Canceled)) // the cancelled Wait returns the context's error
			is.NoErr(victim.Signal(syscall.Signal(0))) // and its child lives on
			eventually(t, "the other waiter leads", leaderIs(&other.h))
			is.NoErr(other.Kill())
			is.NoErr(<-ro) // the other Wait reaps its child
		})
	}
}

// TestWaitSetLoneRelease: Release and a done context wake a lone waiter,
// which looks at its process without reading the set; what they leave in
// the set (the kick) does not end the next Wait early.
func TestWaitSetLoneRelease(t *testing.T) {
	setOnly(t)
	is := is.New(t)
	a := spawnHelper(t, Clone3, "sleep", "1m")
	aPid := a.Pid()
	ra := make(chan error, 1)
	go func() { _, err := a.Wait(); ra <- err }()
	eventually(t, "a leads alone", leaderIs(&a.h))
	is.NoErr(a.Release())
	endPidOnCleanup(t, aPid)              // killReleased reaps it, or the cleanup if t ends first
	is.True(errors.Is(<-ra, ErrReleased)) // the lone Wait is woken by Release

	b := spawnHelper(t, Clone3, "sleep", "1m")
	ctx, cancel := context.WithCancel(context.Background())
	rb := make(chan error, 1)
	go func() { _, err := b.WaitContext(ctx); rb <- err }()
	eventually(t, "b leads alone", leaderIs(&b.h))
	cancel()
	is.True(errors.Is(<-rb, context.Canceled)) // and by its context

	c, err := Spawn("/bin/sh", []string{"sh", "-c", "sleep 0.2; exit 3"}, &Attr{Backend: Clone3})
	is.NoErr(err)
	st, err := c.Wait()
	is.NoErr(err)
	is.Equal(st.ExitCode(), 3) // a later Wait waits for its own child
	c.Release()

	is.NoErr(b.Kill())
	_, err = b.Wait()
	is.NoErr(err)
	b.Release()
	killReleased(t, aPid)
}

// TestWaitSetStaleRegistration: a reaped child's registration stays in the
// set while a duplicate of its pidfd keeps the open file alive (Wait closes
// only its own descriptor), with its event possibly still pending, and the
// descriptor number Wait closed goes to the next child. Later Waits get
// their own child's status all the same.
func TestWaitSetStaleRegistration(t *testing.T) {
	setOnly(t)
	is := is.New(t)
	spawnSh := func(script string) *Process {
		t.Helper()
		p, err := Spawn("/bin/sh", []string{"sh", "-c", script}, &Attr{Backend: Clone3})
		is.NoErr(err)
		endOnCleanup(t, p)
		return p
	}
	wait := func(p *Process, code int) {
		t.Helper()
		st, err := p.Wait()
		is.NoErr(err)
		is.Equal(st.ExitCode(), code)
	}
	a := spawnSh("sleep 0.05; exit 4")
	aFd := a.Fd()
	dup, err := unix.FcntlInt(uintptr(aFd), unix.F_DUPFD_CLOEXEC, 0)
	is.NoErr(err)
	defer unix.Close(dup)
	wait(a, 4) // parked, reaped; its registration lives on through dup
	is.Equal(a.Fd(), -1)
	b := spawnSh("sleep 0.1; exit 5")
	if b.Fd() != aFd {
		t.Logf("the next pidfd is %d, not %d: the reused-number case is not exercised", b.Fd(), aFd)
	}
	wait(b, 5) // a stale event under b's number does not end b's Wait
	c := spawnSh("sleep 0.1; exit 6")
	wait(c, 6)
}

// blockedOn reports whether p's Wait is blocked in ppoll (it has a slot).
func blockedOn(p *Process) func() bool {
	return func() bool { return p.h.kick.Load() != 0 }
}

func slotsUsed() int32 {
	blocks.mu.Lock()
	defer blocks.mu.Unlock()
	return blocks.used
}

// TestWaitBlockedRelease: Release wakes a Wait blocked in ppoll with
// ErrReleased and closes the pidfd before it returns; the kick it leaves on
// the slot's eventfd does not end the next Wait early.
func TestWaitBlockedRelease(t *testing.T) {
	is := is.New(t)
	a := spawnHelper(t, Clone3, "sleep", "1m")
	aPid, fd := a.Pid(), a.Fd()
	ra := make(chan error, 1)
	go func() { _, err := a.Wait(); ra <- err }()
	eventually(t, "a's Wait blocks", blockedOn(a))
	is.True(parked(0)()) // not in the wait set
	is.NoErr(a.Release())
	endPidOnCleanup(t, aPid) // killReleased reaps it, or the cleanup if t ends first
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	is.Equal(err, unix.EBADF)             // closed when Release returns
	is.True(errors.Is(<-ra, ErrReleased)) // the blocked Wait returns ErrReleased
	is.Equal(slotsUsed(), int32(0))       // and gives its slot back

	for i := 0; i < 2*maxBlocked; i++ { // every slot, stale kick or not
		c, err := Spawn("/bin/sh", []string{"sh", "-c", "sleep 0.02; exit 3"}, &Attr{Backend: Clone3})
		is.NoErr(err)
		st, err := c.Wait()
		is.NoErr(err)
		is.Equal(st.ExitCode(), 3) // a later Wait waits for its own child
	}
	killReleased(t, aPid)
}

// TestWaitBlockedContext: a done context wakes a blocked WaitContext and
// leaves the child running, its handle open; a later Wait reaps it.
func TestWaitBlockedContext(t *testing.T) {
	is := is.New(t)
	a := spawnHelper(t, Clone3, "sleep", "1m")
	ctx, cancel := context.WithCancel(context.Background())
	ra := make(chan error, 1)
	go func() { _, err := a.WaitContext(ctx); ra <- err }()
	eventually(t, "a's WaitContext blocks", blockedOn(a))
	cancel()
	is.True(errors.Is(<-ra, context.Canceled)) // the context's error
	is.NoErr(a.Signal(syscall.Signal(0)))      // the child lives on
	is.True(a.Fd() >= 0)                       // and the handle is open
	is.NoErr(a.Kill())
	st, err := a.Wait()
	is.NoErr(err)
	is.Equal(st.Signal(), syscall.SIGKILL)
}

// TestWaitBlockedBound: beyond blockLimit blocked Waits, the others park in
// the wait set; each returns its own child's status, and the slots are all
// given back.
func TestWaitBlockedBound(t *testing.T) {
	is := is.New(t)
	old := atomic.SwapInt32(&blockLimit, 2)
	defer atomic.StoreInt32(&blockLimit, old)
	const n = 5
	procs := make([]*Process, n)
	for i := range procs {
		procs[i] = spawnHelper(t, Clone3, "sleep", "1m")
	}
	codes := make(chan string, n)
	for _, p := range procs {
		go func() {
			st, err := p.Wait()
			if err != nil {
				codes <- err.Error()
				return
			}
			codes <- fmt.Sprintf("%d %v", st.Pid(), st.Signal())
		}()
	}
	eventually(t, "two block and three park", func() bool { return slotsUsed() == 2 && parked(n-2)() })
	want := map[string]bool{}
	for _, p := range procs {
		want[fmt.Sprintf("%d %v", p.Pid(), syscall.SIGKILL)] = true
		is.NoErr(p.Kill())
	}
	for i := 0; i < n; i++ {
		c := <-codes
		is.True(want[c]) // each Wait reports its own child, killed
		delete(want, c)
	}
	is.Equal(slotsUsed(), int32(0)) // every slot is back
	is.True(parked(0)())            // and the set is empty
}

func init() {
	// wait-no-eventfds: with RLIMIT_NOFILE leaving room for the pidfd and
	// the wait set but not for the blocked Waits' eventfds, Wait must still
	// work, parked in the set.
	registerHelper("wait-no-eventfds", func(args []string) int {
		r, w, err := os.Pipe() // the runtime's poller opens its own descriptors first
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		r.Close()
		w.Close()
		ents, err := os.ReadDir("/proc/self/fd") // one of them is ReadDir's own
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		var lim unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
		lim.Cur = uint64(len(ents) - 1 + 3) // the pidfd, the epoll set, its eventfd
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		p, err := Spawn("/bin/sleep", []string{"sleep", "0.05"}, &Attr{Backend: Clone3})
		if err != nil {
			fmt.Fprintln(os.Stderr, "spawn:", err)
			return 2
		}
		st, err := p.Wait()
		if err != nil || !st.Success() {
			fmt.Fprintln(os.Stderr, "wait:", st, err)
			return 3
		}
		blocks.mu.Lock()
		slots := len(blocks.free)
		blocks.mu.Unlock()
		if slots != 0 || !blocks.ready.Load() {
			fmt.Fprintf(os.Stderr, "%d blocking slots made under the limit (ready %v)\n", slots, blocks.ready.Load())
			return 4
		}
		return 0
	})
}

// TestWaitNoEventfds: where the blocked Waits' eventfds cannot be made
// (EMFILE when the wait set is created), every Wait parks in the set.
func TestWaitNoEventfds(t *testing.T) {
	is := is.New(t)
	st := mustWait(t, spawnHelper(t, Auto, "wait-no-eventfds"))
	is.Equal(st.ExitCode(), 0) // Wait works without a blocking slot
}

// TestWaitSetPassOnIdle: when the leader leaves, the turn goes to a parked
// waiter with no notification pending, never to one already notified (whose
// child has exited and which will leave rather than read the set): in a
// mass exit, that keeps the ready pidfds read in batches instead of reaped
// one hand-off at a time. Checked on a private set's bookkeeping.
func TestWaitSetPassOnIdle(t *testing.T) {
	is := is.New(t)
	var w waitSet
	mk := func(fd int32) *pidfdHandle { return &pidfdHandle{fd: fd, wake: make(chan struct{}, 1)} }
	a, b, c := mk(1), mk(2), mk(3)
	w.pushIdle(a)
	w.pushIdle(b)
	w.pushIdle(c)
	w.pushIdle(c) // twice: listed once
	w.notify(c)   // the set reported c's child: c leaves the idle list
	is.Equal(len(c.wake), 1)
	is.True(!c.idle)

	w.passOn(nil) // no leader: the turn goes to an idle waiter, b (the last parked)
	is.Equal(len(b.wake), 1)
	is.Equal(len(a.wake), 0)
	is.True(!b.idle)

	w.passOn(a) // a is the caller: skipped; nobody else is idle
	is.Equal(len(a.wake), 0)
	w.unidle(a)
	is.True(w.idle == nil)
	w.passOn(nil) // nobody idle: nothing to do
	w.leader = a
	w.pushIdle(b)
	<-b.wake
	w.passOn(nil) // a leader reads the set: no hand-off
	is.Equal(len(b.wake), 0)
}

// TestCmdWaitBothWays: Cmd.Wait waits for its child's exit without reaping
// it (os.Process.Wait reaps) through both ways a Wait can wait: blocked in
// ppoll while few wait, and parked in the wait set beyond that. Each way is
// forced; the child's status reaches ProcessState either way, and Release
// ends a parked or blocked wait.
func TestCmdWaitBothWays(t *testing.T) {
	for _, way := range []string{"blocked", "set"} {
		t.Run(way, func(t *testing.T) {
			is := is.New(t)
			if way == "set" {
				setOnly(t)
			}
			c := Command("/bin/sh", "-c", "sleep 0.2; exit 3")
			err := c.Run()
			var ee *ExitError
			is.True(errors.As(err, &ee)) // the exit status, as *exec.ExitError
			is.Equal(ee.ExitCode(), 3)
			is.Equal(c.ProcessState.ExitCode(), 3)

			// Release while Cmd.Wait waits: it returns ErrReleased, and the
			// child is still ours to reap.
			c = Command("/bin/sh", "-c", "sleep 30")
			is.NoErr(c.Start())
			h := c.Handle()
			t.Cleanup(func() {
				// If t failed or skipped first: the test's way, not
				// c.Wait, which must not wait on h beside the goroutine.
				if t.Failed() || t.Skipped() {
					c.Process.Kill()
					c.Process.Wait()
					h.Release()
				}
			})
			done := make(chan error, 1)
			go func() { done <- h.waitExited() }()
			// The wait is where this subtest forces it: blocked in ppoll
			// (its eventfd published on the handle), or parked in the set.
			if way == "blocked" {
				eventually(t, "the wait blocks in ppoll", func() bool { return h.h.kick.Load() != 0 })
			} else {
				eventually(t, "the wait parks in the set", func() bool {
					waits.mu.Lock()
					defer waits.mu.Unlock()
					return waits.waiters[h.h.fd] == &h.h
				})
				is.Equal(h.h.kick.Load(), int32(0)) // not blocked in ppoll
			}
			is.NoErr(h.Release())
			is.True(errors.Is(<-done, ErrReleased)) // woken by Release
			is.NoErr(c.Process.Kill())
			_, err = c.Process.Wait()
			is.NoErr(err) // reaped by os
		})
	}
}

//go:build linux

package spawn

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"
	"golang.org/x/sys/unix"
)

// backends returns the backends that can create children here, each with a
// test name. Behaviour tests run over all of them.
func backends(t *testing.T) []Backend {
	var bs []Backend
	for _, b := range []Backend{PidfdSpawn, Clone3, ForkNP} {
		if err := Available(b); err != nil {
			t.Logf("backend %v not available: %v", b, err)
			continue
		}
		bs = append(bs, b)
	}
	if len(bs) == 0 {
		t.Fatal("no backend is available")
	}
	return bs
}

// forEachBackend runs fn as a subtest per available backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, b Backend)) {
	for _, b := range backends(t) {
		t.Run(b.String(), func(t *testing.T) { fn(t, b) })
	}
}

// spawnHelper starts helper name with args on backend b.
func spawnHelper(t *testing.T, b Backend, name string, args ...string) *Process {
	t.Helper()
	path, argv, env := helperArgv(name, args...)
	p, err := Spawn(path, argv, &Attr{Backend: b, Env: env})
	if err != nil {
		t.Fatalf("spawn helper %s: %v", name, err)
	}
	endOnCleanup(t, p)
	return p
}

// endOnCleanup kills and reaps p when t ends, if t has not: a test that
// fails or skips half-way leaves no child to the tests after it (which
// check that none is left, and would fail for it).
func endOnCleanup(t testing.TB, p *Process) {
	t.Cleanup(func() { end(p) })
}

// end kills and reaps p. On a handle that was waited for or released, both
// calls return their harmless errors.
func end(p *Process) {
	p.Kill()
	p.Wait()
}

// failed is for a spawn that the test expects to fail, and wraps its call:
// failed(Spawn(...)). It returns p and err as they are, after killing and
// reaping p at once if there is one (the spawn succeeded after all), so the
// test's own assertion fails as it would have without leaving a child that
// the later tests' leak checks would report as theirs.
func failed(p *Process, err error) (*Process, error) {
	if p != nil {
		end(p)
	}
	return p, err
}

// failedStart is failed for a Cmd that the test expects not to start: it
// returns c.Start's error as it is, after killing the child and waiting for
// c at once if c started after all.
func failedStart(c *Cmd) error {
	err := c.Start()
	if err == nil {
		endCmd(c)
	}
	return err
}

// endCmdOnCleanup is endOnCleanup for a started Cmd: when t ends, it kills
// the child and waits for the Cmd, which reaps the child and closes the
// pipes. On a Cmd that was waited for, Kill returns os.ErrProcessDone and
// Wait its "already called" error. A Cmd whose pipes a grandchild holds
// needs that grandchild killed first (a cgroup's Kill), or Wait waits for it.
func endCmdOnCleanup(t testing.TB, c *Cmd) {
	t.Cleanup(func() { endCmd(c) })
}

// endCmd kills c's child, if it has one, and waits for c.
func endCmd(c *Cmd) {
	if c.Process != nil {
		c.Process.Kill()
	}
	c.Wait()
}

// endPidOnCleanup kills and reaps child pid when t ends, if t failed or
// skipped first, for a child whose handle the test releases before it reaps
// the child another way (a fresh handle, waitid): after the Release,
// endOnCleanup on the handle can do nothing. It acts only while pid is an
// unreaped child of this process, which no other process can share, and
// never for a test that passed: a child that a passing test leaves behind
// is still the leak checks' to find.
func endPidOnCleanup(t testing.TB, pid int) {
	t.Cleanup(func() {
		if !t.Failed() && !t.Skipped() {
			return
		}
		var si unix.Siginfo
		if unix.Waitid(unix.P_PID, pid, &si, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT|unix.WALL, nil) != nil {
			return // not our child, or reaped already
		}
		unix.Kill(pid, unix.SIGKILL)
		unix.Waitid(unix.P_PID, pid, &si, unix.WEXITED|unix.WALL, nil)
	})
}

// mustWait waits for p and releases it.
func mustWait(t *testing.T, p *Process) *State {
	t.Helper()
	st, err := p.Wait()
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	p.Release()
	return st
}

// osState runs the same helper through os/exec for comparison.
func osState(t *testing.T, name string, args ...string) *os.ProcessState {
	path, argv, env := helperArgv(name, args...)
	cmd := exec.Command(path)
	cmd.Args = argv
	cmd.Env = env
	cmd.Run()
	return cmd.ProcessState
}

func TestStateMatchesOS(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		cases := []struct {
			helper string
			arg    string
		}{{"exit", "0"}, {"exit", "3"}, {"exit", "255"}, {"kill-self", "9"}, {"kill-self", "15"}}
		for _, c := range cases {
			st := mustWait(t, spawnHelper(t, b, c.helper, c.arg))
			want := osState(t, c.helper, c.arg)
			is.Equal(st.String(), want.String())     // String as os.ProcessState's
			is.Equal(st.ExitCode(), want.ExitCode()) // exit code as os's (-1 for a signal)
			is.Equal(st.Exited(), want.Exited())     // Exited as os's
			is.Equal(st.Success(), want.Success())   // Success as os's
			ws := want.Sys().(syscall.WaitStatus)
			is.Equal(st.Signal(), map[bool]syscall.Signal{true: ws.Signal(), false: 0}[ws.Signaled()]) // the killing signal
			is.True(st.SysUsage() != nil)                                                              // a reaped child has rusage
			is.True(st.Pid() > 0)                                                                      // the pid is reported
		}
	})
}

func TestSignalAfterReap(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		p := spawnHelper(t, b, "exit", "0")
		defer p.Release()
		_, err := p.Wait()
		is.NoErr(err)                                                    // the child exits 0
		is.True(errors.Is(p.Signal(syscall.SIGTERM), os.ErrProcessDone)) // signal after reap
		is.True(errors.Is(p.Kill(), os.ErrProcessDone))                  // kill after reap
		_, err = p.Wait()
		is.True(errors.Is(err, ErrWaited)) // a second Wait fails, does not hang
	})
}

func TestKillTwice(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		p := spawnHelper(t, b, "sleep", "1m")
		is.NoErr(p.Kill()) // first kill reaches the running child
		err := p.Kill()
		is.True(err == nil || errors.Is(err, os.ErrProcessDone)) // a second kill is harmless
		st := mustWait(t, p)
		is.Equal(st.Signal(), syscall.SIGKILL) // killed by SIGKILL
	})
}

func TestSignalExitedUnreaped(t *testing.T) {
	is := is.New(t)
	p := spawnHelper(t, Clone3, "exit", "0")
	defer p.Release()
	// Wait until the pidfd is readable without reaping.
	for !exited(p.Fd()) {
		time.Sleep(time.Millisecond)
	}
	is.True(errors.Is(p.Signal(syscall.SIGTERM), os.ErrProcessDone)) // exited, even unreaped, is done
	st, err := p.Wait()
	is.NoErr(err)         // the zombie is still reaped
	is.True(st.Success()) // with its real status
}

func TestWaitContext(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		p := spawnHelper(t, b, "sleep", "1m")
		defer func() { p.Kill(); p.Wait(); p.Release() }()

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := p.WaitContext(ctx)
		is.True(errors.Is(err, context.Canceled)) // an expired context returns its error

		ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err = p.WaitContext(ctx)
		is.True(errors.Is(err, context.DeadlineExceeded)) // a context that expires while waiting
		is.NoErr(p.Signal(syscall.Signal(0)))             // the child is untouched and alive

		is.NoErr(p.Kill())
		st, err := p.Wait()
		is.NoErr(err)                          // a later Wait still reaps
		is.Equal(st.Signal(), syscall.SIGKILL) // with the status
	})
}

func TestReleaseThenUse(t *testing.T) {
	is := is.New(t)
	p := spawnHelper(t, Clone3, "sleep", "1m")
	pid := p.Pid()
	fd := p.Fd()
	is.NoErr(p.Release())
	endPidOnCleanup(t, pid) // released: reaped below, or by the cleanup if t ends first
	is.Equal(p.Fd(), -1)    // released: no descriptor
	// Another open may now get the same descriptor number: nothing may
	// reach it through p.
	f, err := os.Open("/dev/null")
	is.NoErr(err)
	defer f.Close()
	is.True(errors.Is(p.Signal(syscall.SIGKILL), ErrReleased)) // Signal after Release
	_, err = p.Wait()
	is.True(errors.Is(err, ErrReleased)) // Wait after Release
	_, err = p.Getfd(0)
	is.True(errors.Is(err, ErrReleased)) // Getfd after Release
	_, err = p.Info()
	is.True(errors.Is(err, ErrReleased))         // Info after Release
	is.True(errors.Is(p.Release(), ErrReleased)) // Release twice
	_ = fd
	// Clean up the child through a fresh handle.
	q, err := OpenProcess(pid)
	is.NoErr(err) // the child is still running
	endOnCleanup(t, q)
	is.NoErr(q.Kill())
	st, err := q.Wait()
	is.NoErr(err)                          // OpenProcess of our own child reaps it
	is.Equal(st.Signal(), syscall.SIGKILL) // killed
	q.Release()
}

func TestPidfdCloexec(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		p := spawnHelper(t, b, "sleep", "1m")
		defer func() { p.Kill(); mustWait(t, p) }()
		flags, err := unix.FcntlInt(uintptr(p.Fd()), unix.F_GETFD, 0)
		is.NoErr(err)                       // the pidfd is open
		is.True(flags&unix.FD_CLOEXEC != 0) // and close-on-exec
		pid, err := PidfdGetpid(p.Fd())
		is.NoErr(err)          // it is a pidfd
		is.Equal(pid, p.Pid()) // of the child
	})
}

func init() {
	// hold-fd: keep descriptor 3 open and wait to be killed.
	registerHelper("hold-fd", func(args []string) int {
		time.Sleep(time.Minute)
		return 0
	})
}

func TestGetfd(t *testing.T) {
	is := is.New(t)
	r, w, err := os.Pipe()
	is.NoErr(err)
	defer r.Close()
	path, argv, env := helperArgv("hold-fd")
	p, err := Spawn(path, argv, &Attr{Env: env, Files: []*os.File{os.Stdin, os.Stdout, os.Stderr, w}})
	is.NoErr(err) // the helper holds the pipe's write end on fd 3
	w.Close()
	defer func() { p.Kill(); mustWait(t, p) }()

	f, err := p.Getfd(3)
	if errors.Is(err, syscall.EPERM) {
		t.Skipf("pidfd_getfd needs ptrace access to the child: %v", err)
	}
	is.NoErr(err) // fd 3 of the child
	defer f.Close()
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
	is.NoErr(err)
	is.True(flags&unix.FD_CLOEXEC != 0) // the duplicate is close-on-exec
	_, err = f.Write([]byte("x"))
	is.NoErr(err) // it is the same open file: writes reach our read end
	buf := make([]byte, 1)
	_, err = r.Read(buf)
	is.NoErr(err)
	is.Equal(string(buf), "x") // through the pipe

	_, err = p.Getfd(1000)
	is.True(errors.Is(err, syscall.EBADF)) // an fd the child does not have
}

func TestInfoMatchesProc(t *testing.T) {
	is := is.New(t)
	p := spawnHelper(t, Clone3, "sleep", "1m")
	defer func() { p.Kill(); mustWait(t, p) }()
	info, err := p.Info()
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("Info needs Linux 6.13: %v", err)
	}
	is.NoErr(err)                    // PIDFD_GET_INFO on a live child
	is.Equal(info.Pid, p.Pid())      // pid as /proc says
	is.Equal(info.Tgid, p.Pid())     // a single-threaded leader
	is.Equal(info.Ppid, os.Getpid()) // we are the parent
	is.Equal(info.Ruid, uint32(os.Getuid()))
	is.Equal(info.Egid, uint32(os.Getegid()))
	is.True(!info.Exited) // still running

	// The cgroup id is the inode of the child's cgroup directory.
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p.Pid()))
	is.NoErr(err)
	root, err := Cgroup2Root()
	is.NoErr(err)
	var rel string
	for _, l := range strings.Split(string(cg), "\n") {
		if s, ok := strings.CutPrefix(l, "0::"); ok {
			rel = s
		}
	}
	var st unix.Stat_t
	is.NoErr(unix.Stat(filepath.Join(root, rel), &st))
	is.Equal(info.CgroupID, st.Ino) // the cgroup id is the directory's inode

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	is.NoErr(err)
	is.True(strings.Contains(string(status), fmt.Sprintf("PPid:\t%d\n", os.Getpid()))) // /proc agrees on the parent

	is.NoErr(p.Kill())
	for !exited(p.Fd()) {
		time.Sleep(time.Millisecond)
	}
	info, err = p.Info()
	if err == nil && info.Mask&_PIDFD_INFO_EXIT != 0 {
		is.True(info.Exited)                            // the exit is known
		is.Equal(info.Status.Signal(), syscall.SIGKILL) // and says how
	}
}

func TestPidfdGetpid(t *testing.T) {
	is := is.New(t)
	p := spawnHelper(t, Clone3, "exit", "0")
	fd := p.Fd()
	pid, err := PidfdGetpid(fd)
	is.NoErr(err)          // a live (or unreaped) child
	is.Equal(pid, p.Pid()) // its pid
	// Each fallback gives the same answer.
	pid, err = getpidIoctl(fd)
	if err == nil {
		is.Equal(pid, p.Pid()) // PIDFD_GET_INFO path
	}
	pid, err = getpidFdinfo(fd)
	is.NoErr(err)          // fdinfo path
	is.Equal(pid, p.Pid()) // same pid

	// Wait closes p's pidfd: a duplicate outlives it.
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	is.NoErr(err)
	defer unix.Close(dup)
	_, err = p.Wait()
	is.NoErr(err)
	_, err = PidfdGetpid(dup)
	is.True(errors.Is(err, syscall.ESRCH)) // reaped
	_, err = getpidFdinfo(dup)
	is.True(errors.Is(err, syscall.ESRCH)) // reaped, fdinfo path

	_, err = PidfdGetpid(-1)
	is.True(errors.Is(err, syscall.EBADF)) // negative
	_, err = PidfdGetpid(1)
	is.True(errors.Is(err, syscall.EBADF)) // stdout is not a pidfd
	_, err = getpidFdinfo(1)
	is.True(errors.Is(err, syscall.EBADF)) // not a pidfd, fdinfo path
}

func init() {
	// getpid-fd3: in a new pid namespace, check that descriptor 3 (a pidfd
	// of a process outside it) gives EREMOTE, through the ioctl and, with a
	// /proc of the new namespace mounted, through fdinfo.
	registerHelper("getpid-fd3", func(args []string) int {
		if _, err := PidfdGetpid(3); !errors.Is(err, syscall.EREMOTE) {
			fmt.Fprintln(os.Stderr, "PidfdGetpid:", err)
			return 1
		}
		if err := mountOwnProc(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if _, err := getpidFdinfo(3); !errors.Is(err, syscall.EREMOTE) {
			fmt.Fprintln(os.Stderr, "fdinfo:", err)
			return 3
		}
		return 42
	})
}

func TestPidfdGetpidOtherNamespace(t *testing.T) {
	is := is.New(t)
	if os.Getuid() != 0 {
		t.Skip("a new pid namespace needs root (CAP_SYS_ADMIN)")
	}
	self, err := unix.PidfdOpen(os.Getpid(), 0)
	is.NoErr(err)
	f := os.NewFile(uintptr(self), "self-pidfd")
	defer f.Close()
	path, argv, env := helperArgv("getpid-fd3")
	cmd := exec.Command(path)
	cmd.Args = argv
	cmd.Env = env
	cmd.ExtraFiles = []*os.File{f}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS}
	cmd.Stderr = os.Stderr
	err = cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Skipf("cannot create a pid namespace here: %v", err)
	}
	is.Equal(cmd.ProcessState.ExitCode(), 42) // our pid is invisible in the child's namespace: EREMOTE, by ioctl and by fdinfo
}

func TestFromPidfd(t *testing.T) {
	is := is.New(t)
	p := spawnHelper(t, Clone3, "exit", "7")
	dup, err := unix.FcntlInt(uintptr(p.Fd()), unix.F_DUPFD_CLOEXEC, 0)
	is.NoErr(err)
	q, err := FromPidfd(dup)
	is.NoErr(err)              // a pidfd is adopted
	is.Equal(q.Pid(), p.Pid()) // with the pid it refers to
	st, err := q.Wait()
	is.NoErr(err)              // and reaps through it
	is.Equal(st.ExitCode(), 7) // the status
	q.Release()
	p.Release()

	_, err = FromPidfd(1)
	is.True(errors.Is(err, syscall.EBADF)) // stdout is not a pidfd
}

func TestOpenProcessNotChild(t *testing.T) {
	is := is.New(t)
	// A grandchild: the shell's child is not ours.
	r, w, err := os.Pipe()
	is.NoErr(err)
	defer r.Close()
	p, err := Spawn("/bin/sh", []string{"sh", "-c", "sleep 60 & echo $!"}, &Attr{Files: []*os.File{nil, w, os.Stderr}})
	is.NoErr(err)
	endOnCleanup(t, p)
	w.Close()
	buf := make([]byte, 32)
	n, _ := r.Read(buf)
	gpid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	is.NoErr(err) // the shell printed the grandchild's pid
	mustWait(t, p)
	q, err := OpenProcess(gpid)
	is.NoErr(err) // a handle on a process that is not our child
	endOnCleanup(t, q)
	is.NoErr(q.Kill())
	st, err := q.Wait()
	is.NoErr(err)                 // Wait returns when it exits
	is.True(st.SysUsage() == nil) // no rusage for a non-child
	if st.Signal() != 0 {
		is.Equal(st.Signal(), syscall.SIGKILL) // with the status where the kernel tells it (6.15)
	}
	q.Release()
}

func TestManyWaitersFewThreads(t *testing.T) {
	is := is.New(t)
	const n = 200
	before := threads()
	procs := make([]*Process, n)
	for i := range procs {
		procs[i] = spawnHelper(t, Clone3, "sleep", "300ms")
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	peak := 0
	var mu sync.Mutex
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := p.Wait()
			if err == nil && !st.Success() {
				err = fmt.Errorf("child %d: %v", st.Pid(), st)
			}
			errs <- err
			p.Release()
		}()
	}
	// Sample the thread count while the goroutines wait.
	for i := 0; i < 10; i++ {
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		peak = max(peak, threads())
		mu.Unlock()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		is.NoErr(err) // every child exits 0 and is reaped
	}
	t.Logf("threads: %d before, %d peak while 200 goroutines wait", before, peak)
	is.True(peak-before < 40) // waiting holds no OS thread per child
}

func threads() int {
	ents, _ := os.ReadDir("/proc/self/task")
	return len(ents)
}

func TestNotSupportedError(t *testing.T) {
	is := is.New(t)
	is.True(errors.Is(ErrNotSupported, errors.ErrUnsupported)) // the sentinel matches the standard one
	err := unsupported(syscall.EINVAL, "AutoReap needs Linux 7.1 (CLONE_AUTOREAP)")
	is.True(errors.Is(err, ErrNotSupported))       // wrapped errors match
	is.True(errors.Is(err, errors.ErrUnsupported)) // and the standard sentinel
	is.True(errors.Is(err, syscall.EINVAL))        // and keep the probe's errno
	is.True(strings.Contains(err.Error(), "7.1"))  // and name the release
}

func TestBackendNames(t *testing.T) {
	is := is.New(t)
	for _, b := range []Backend{Auto, PidfdSpawn, Clone3, ForkNP} {
		got, err := ParseBackend(b.String())
		is.NoErr(err)    // every name parses
		is.Equal(got, b) // back to its backend
	}
	_, err := ParseBackend("posix")
	is.True(err != nil) // unknown names are errors
	is.Equal(Backend(9).String(), "Backend(9)")
	is.True(Available(Backend(9)) != nil) // an unknown backend is not available
}

func TestAvailableClone3(t *testing.T) {
	is := is.New(t)
	var u unix.Utsname
	is.NoErr(unix.Uname(&u))
	rel := unix.ByteSliceToString(u.Release[:])
	err := Available(Clone3)
	if kernelAtLeast(rel, 5, 5) && runtime.GOARCH == "amd64" {
		is.NoErr(err) // Linux ≥ 5.5 on amd64 must have Clone3
	}
	if err != nil {
		is.True(errors.Is(err, ErrNotSupported)) // and a missing one says so
	}
}

// kernelAtLeast compares a release string such as "6.18.4-foo".
func kernelAtLeast(rel string, major, minor int) bool {
	var a, b int
	fmt.Sscanf(rel, "%d.%d", &a, &b)
	return a > major || a == major && b >= minor
}

func kernelRelease() string {
	var u unix.Utsname
	unix.Uname(&u)
	return unix.ByteSliceToString(u.Release[:])
}

// checkEnded asserts the contract of a handle whose Wait returned a State:
// the pidfd is closed and every method says the process is done.
func checkEnded(t *testing.T, p *Process, fd int) {
	t.Helper()
	is := is.New(t)
	is.Equal(p.Fd(), -1) // Wait closed the pidfd
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	is.Equal(err, unix.EBADF)                                          // the descriptor is gone when Wait returns
	is.True(errors.Is(p.Signal(syscall.SIGTERM), os.ErrProcessDone))   // Signal after Wait
	is.True(errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)) // signal 0 too
	is.True(errors.Is(p.Kill(), os.ErrProcessDone))                    // Kill after Wait
	_, err = p.Getfd(0)
	is.True(errors.Is(err, os.ErrProcessDone)) // Getfd after Wait
	_, err = p.Info()
	is.True(errors.Is(err, os.ErrProcessDone)) // Info after Wait
	_, err = p.Wait()
	is.True(errors.Is(err, ErrWaited)) // a second Wait
	_, err = p.WaitContext(context.Background())
	is.True(errors.Is(err, ErrWaited)) // a second WaitContext
	is.NoErr(p.Release())              // releasing a waited process is not an error
	is.NoErr(p.Release())              // nor is doing it again
	is.Equal(p.Fd(), -1)
}

// TestWaitEndsHandle: Wait (and a WaitContext that returns a State) reaps
// and closes the pidfd before it returns, on every backend, whether it found
// the child exited or parked for it, and for OpenProcess and FromPidfd
// handles.
func TestWaitEndsHandle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		for _, c := range []struct {
			name string
			wait func(p *Process) (*State, error)
			pre  func(p *Process) // before the Wait
		}{
			{"Wait/exited", (*Process).Wait, func(p *Process) {
				for !exited(p.Fd()) {
					time.Sleep(time.Millisecond)
				}
			}},
			{"Wait/parked", (*Process).Wait, func(p *Process) {}},
			{"WaitContext/parked", func(p *Process) (*State, error) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				return p.WaitContext(ctx)
			}, func(p *Process) {}},
		} {
			t.Run(c.name, func(t *testing.T) {
				is := is.New(t)
				p := spawnHelper(t, b, "sleep", "30ms")
				fd := p.Fd()
				c.pre(p)
				st, err := c.wait(p)
				is.NoErr(err)         // the child is reaped
				is.True(st.Success()) // with its status
				checkEnded(t, p, fd)
			})
		}
	})
	t.Run("OpenProcess", func(t *testing.T) {
		is := is.New(t)
		p := spawnHelper(t, Clone3, "sleep", "1m")
		q, err := OpenProcess(p.Pid())
		is.NoErr(err)
		fd := q.Fd()
		is.NoErr(q.Kill())
		st, err := q.Wait()
		is.NoErr(err)                          // OpenProcess of our child reaps it
		is.Equal(st.Signal(), syscall.SIGKILL) // killed
		checkEnded(t, q, fd)
		is.NoErr(p.Release()) // the spawn handle was never waited for: Release closes it
	})
	t.Run("FromPidfd", func(t *testing.T) {
		is := is.New(t)
		p := spawnHelper(t, Clone3, "exit", "7")
		dup, err := unix.FcntlInt(uintptr(p.Fd()), unix.F_DUPFD_CLOEXEC, 0)
		is.NoErr(err)
		q, err := FromPidfd(dup)
		is.NoErr(err)
		st, err := q.Wait()
		is.NoErr(err)
		is.Equal(st.ExitCode(), 7)
		checkEnded(t, q, dup)
		is.NoErr(p.Release())
	})
}

// TestWaitRacesRelease: Release while a Wait is parked or reaping ends
// either way with the descriptor closed, the child reaped or released, and
// neither call reporting anything but its documented results.
func TestWaitRacesRelease(t *testing.T) {
	is := is.New(t)
	for i := 0; i < 50; i++ {
		p := spawnHelper(t, Clone3, "exit", "0")
		pid, fd := p.Pid(), p.Fd()
		done := make(chan error, 1)
		go func() { _, err := p.Wait(); done <- err }()
		if i%2 == 0 {
			time.Sleep(time.Duration(i%5) * 100 * time.Microsecond)
		}
		rerr := p.Release()
		werr := <-done
		is.True(rerr == nil)                                 // Release never fails on a live or waited handle
		is.True(werr == nil || errors.Is(werr, ErrReleased)) // Wait reaped or was released
		is.Equal(p.Fd(), -1)
		_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		is.True(err == unix.EBADF || err == nil) // closed (or the number reused by another open)
		if werr != nil {
			// Released before the reap: the child is still ours.
			var si unix.Siginfo
			is.NoErr(unix.Waitid(unix.P_PID, pid, &si, unix.WEXITED, nil))
		}
	}
}

// tinyOrTrue returns the tiny static program of the benchmarks (exits at
// once, in about half the time of /bin/true) or, where it cannot be built
// (no gcc: the kernel guest), /bin/true; fast reports which.
func tinyOrTrue(t *testing.T) (path string, fast bool) {
	if p, err := benchTiny(); err == nil {
		return p, true
	} else {
		t.Logf("no tiny program (%v): using /bin/true", err)
	}
	if _, err := os.Stat("/bin/true"); err != nil {
		t.Skipf("neither the tiny program nor /bin/true: %v", err)
	}
	return "/bin/true", false
}

// fdCount is the number of open descriptors of this process.
func fdCount(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("read /proc/self/fd: %v", err)
	}
	return len(ents)
}

// noZombie fails unless this process has no child left at all.
func noZombie(t *testing.T) {
	t.Helper()
	var si unix.Siginfo
	err := unix.Waitid(unix.P_ALL, 0, &si, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT|unix.WALL, nil)
	if err != unix.ECHILD {
		t.Fatalf("a child is left (waitid(P_ALL) = %v): %s", err, children())
	}
}

// TestNoDescriptorWithoutOwner: with the garbage collector off, the
// natural loop (Spawn, Wait; no Release) leaves no descriptor and no
// zombie, on every backend, and so do Cmd.Run (with and without pipes) and
// the error paths of Spawn, OpenProcess, FromPidfd and OpenCgroup. Nothing
// here may depend on a cleanup or finalizer.
//
// N is 10,000 per backend (300 for ForkNP, whose fork of this large test
// binary costs ten to thirty times as much: 10,000 would take minutes;
// 1,000 Cmd.Run); with -short, under -race (or another sanitizer), or with
// /bin/true where the tiny program cannot be built, a tenth of it; in the
// emulated kernel guest (ci/kernel.sh), a hundredth.
func TestNoDescriptorWithoutOwner(t *testing.T) {
	path, fast := tinyOrTrue(t)
	scale := 1
	if testing.Short() || !fast || sanitizer() != "" {
		scale = 10 // a race-instrumented spawn loop runs several times slower
	}
	if os.Getenv("SPAWN_GUEST") != "" {
		scale = 100 // the kernel guest emulates its CPUs
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	runtime.GC() // what is unreachable now is not ours to count
	argv := []string{filepath.Base(path)}

	check := func(t *testing.T, what string, n int, body func(i int) error) {
		t.Helper()
		is := is.New(t)
		before := openFds()
		for i := 0; i < n; i++ {
			if err := body(i); err != nil {
				t.Fatalf("%s %d: %v", what, i, err)
			}
		}
		after := openFds()
		if len(after) != len(before) {
			t.Logf("descriptors opened: %s; closed: %s", fdsAdded(before, after), fdsAdded(after, before))
		}
		is.Equal(len(after), len(before)) // no descriptor left behind without the GC
		noZombie(t)
		t.Logf("%s: %d times, %d descriptors before and after", what, n, len(before))
	}

	forEachBackend(t, func(t *testing.T, b Backend) {
		n := 10000 / scale
		if b == ForkNP {
			n = 300 / scale
		}
		attr := &Attr{Backend: b}
		check(t, "Spawn+Wait", n, func(int) error {
			p, err := Spawn(path, argv, attr)
			if err != nil {
				return err
			}
			st, err := p.Wait()
			if err == nil && !st.Success() {
				err = fmt.Errorf("%v", st)
			}
			return err
		})
		check(t, "failed Spawn", 100, func(i int) error {
			missing := "/nonexistent/spawn-test"
			if i%2 == 1 {
				missing = "/dev/null" // exists, not executable: the exec fails in the child
			}
			p, err := Spawn(missing, []string{"x"}, attr)
			if err == nil {
				p.Wait()
				return fmt.Errorf("spawn %s succeeded", missing)
			}
			return nil
		})
	})
	t.Run("Cmd", func(t *testing.T) {
		check(t, "Cmd.Run", 1000/scale, func(i int) error {
			c := Command(path)
			if i%2 == 1 {
				var out strings.Builder
				c.Stdout, c.Stderr = &out, &out // pipes and their copiers
			}
			return c.Run()
		})
		check(t, "failed Cmd.Start", 100, func(i int) error {
			c := Command("/nonexistent/spawn-test")
			var out strings.Builder
			c.Stdout = &out
			if _, err := c.StdinPipe(); err != nil {
				return err
			}
			if c.Run() == nil {
				return errors.New("a missing program ran")
			}
			return nil
		})
	})
	t.Run("OpenProcess", func(t *testing.T) {
		check(t, "OpenProcess+Wait", 200, func(int) error {
			p, err := Spawn(path, argv, &Attr{Backend: Clone3})
			if err != nil {
				return err
			}
			q, err := OpenProcess(p.Pid())
			if err != nil {
				return err
			}
			if _, err := q.Wait(); err != nil {
				return err
			}
			// Reaped through q: p's Wait finds the pidfd readable and
			// ends its handle all the same.
			if _, err := p.Wait(); err != nil {
				return err
			}
			return p.Release() // nil after Wait
		})
		check(t, "failed OpenProcess", 100, func(int) error {
			if _, err := OpenProcess(1 << 30); err == nil {
				return errors.New("pidfd_open of a pid that cannot exist succeeded")
			}
			return nil
		})
		check(t, "failed FromPidfd", 100, func(int) error {
			if _, err := FromPidfd(0); err == nil {
				return errors.New("stdin adopted as a pidfd")
			}
			return nil
		})
	})
	t.Run("Cgroup", func(t *testing.T) {
		check(t, "failed OpenCgroup", 100, func(int) error {
			if _, err := OpenCgroup("/"); err == nil { // not cgroup2
				return errors.New("/ opened as a cgroup")
			}
			if _, err := OpenCgroup("/nonexistent"); err == nil {
				return errors.New("a missing directory opened as a cgroup")
			}
			return nil
		})
	})
}

// fakeSignal is an os.Signal that is not a syscall.Signal.
type fakeSignal struct{}

func (fakeSignal) String() string { return "fake" }
func (fakeSignal) Signal()        {}

func TestSignalOSSignal(t *testing.T) {
	is := is.New(t)
	p, err := Spawn("/bin/sleep", []string{"sleep", "100"}, nil)
	is.NoErr(err) // start a sleeper
	endOnCleanup(t, p)
	is.True(p.Signal(fakeSignal{}) != nil) // a signal type os cannot send is an error, as in os
	is.NoErr(p.Signal(os.Interrupt))       // os.Interrupt is SIGINT
	st, err := p.Wait()
	is.NoErr(err)                                            // reaped
	is.Equal(st.Signal(), syscall.SIGINT)                    // killed by the os.Interrupt sent
	is.True(errors.Is(p.Signal(os.Kill), os.ErrProcessDone)) // after Wait, as os.Process
}

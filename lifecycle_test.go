//go:build linux

package spawn

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"
	"golang.org/x/sys/unix"
)

// The Linux 7.1 clone3 flags. On older kernels each must be refused with an
// error naming 7.1 before any child exists; on 7.1 and later (the kernel
// matrix, ci/kernel.sh) they are tested for real. A probe that says
// "unsupported" on a kernel new enough fails the test.

// needLinux71 checks that attr is refused on kernels before 7.1 and skips
// there; on 7.1 and later it returns and the caller tests the real thing.
func needLinux71(t *testing.T, attr Attr, flag string) {
	t.Helper()
	if useClonePath() && kernelAtLeast(kernelRelease(), 7, 1) {
		// A 7.1 kernel whose clone3 is filtered: refused all the same,
		// naming the filter.
		is := is.New(t)
		attr.Backend = Clone3
		p, err := failed(Spawn("/bin/true", []string{"true"}, &attr))
		is.True(p == nil)                                // no child
		is.True(errors.Is(err, ErrNotSupported))         // refused as unsupported
		is.True(strings.Contains(err.Error(), flag))     // naming the flag
		is.True(strings.Contains(err.Error(), "clone3")) // and clone3
		why, _ := clonePathReason()
		t.Skipf("%s needs clone3: %s", flag, why)
	}
	if kernelAtLeast(kernelRelease(), 7, 1) {
		return
	}
	is := is.New(t)
	attr.Backend = Clone3
	p, err := failed(Spawn("/bin/true", []string{"true"}, &attr))
	is.True(p == nil)                             // no child
	is.True(errors.Is(err, ErrNotSupported))      // refused as unsupported
	is.True(strings.Contains(err.Error(), "7.1")) // naming the release
	is.True(strings.Contains(err.Error(), flag))  // and the flag
	t.Skipf("%s needs Linux 7.1, this is %s: %v", flag, kernelRelease(), err)
}

func TestLifecycleFlagsRefusedElsewhere(t *testing.T) {
	is := is.New(t)
	for _, b := range []Backend{PidfdSpawn, ForkNP} {
		for _, attr := range []Attr{{AutoReap: true}, {AutoKill: true, NoNewPrivs: true}} {
			attr.Backend = b
			_, err := failed(Spawn("/bin/true", []string{"true"}, &attr))
			is.True(errors.Is(err, ErrNotSupported)) // only Clone3 carries the 7.1 flags
		}
	}
}

func TestAutoReap(t *testing.T) {
	needLinux71(t, Attr{AutoReap: true}, "CLONE_AUTOREAP")
	is := is.New(t)
	is.NoErr(probeAutoReap()) // a 7.1 kernel must accept CLONE_AUTOREAP

	p, err := Spawn("/bin/sh", []string{"sh", "-c", "exit 42"}, &Attr{AutoReap: true})
	is.NoErr(err) // Auto routes AutoReap to Clone3
	endOnCleanup(t, p)
	is.Equal(p.Backend(), Clone3) // the only backend that can
	fd := p.Fd()
	st, err := p.Wait()
	is.NoErr(err)                 // Wait works without a zombie
	is.Equal(st.ExitCode(), 42)   // the status comes from PIDFD_GET_INFO
	is.True(st.SysUsage() == nil) // no rusage for an autoreaped child
	var si unix.Siginfo
	err = unix.Waitid(unix.P_ALL, 0, &si, unix.WEXITED|unix.WNOHANG, nil)
	is.True(errors.Is(err, unix.ECHILD)) // no child left to reap: it never was a zombie
	checkEnded(t, p, fd)                 // Wait closed the pidfd of the autoreaped child too

	q, err := Spawn("/bin/sleep", []string{"sleep", "60"}, &Attr{AutoReap: true})
	is.NoErr(err)
	endOnCleanup(t, q)
	is.NoErr(q.Kill())
	st, err = q.Wait()
	is.NoErr(err)
	is.Equal(st.Signal(), syscall.SIGKILL) // a killed child reports SIGKILL
	q.Release()
}

func init() {
	// leader-exits-first MS: the main thread exits alone; another thread
	// ends the process with exit_group(7) after MS milliseconds.
	registerHelper("leader-exits-first", func(args []string) int {
		ms, _ := strconv.Atoi(args[0])
		// The leader thread leaves with the P it holds; the goroutine
		// that ends the process needs another (a 1-CPU machine has one).
		if runtime.GOMAXPROCS(0) < 2 {
			runtime.GOMAXPROCS(2)
		}
		runtime.LockOSThread() // the main goroutine owns the leader thread
		go func() {
			time.Sleep(time.Duration(ms) * time.Millisecond)
			os.Exit(7)
		}()
		unix.RawSyscall(unix.SYS_EXIT, 0, 0, 0) // the leader thread alone
		return 1
	})
}

func TestAutoReapThreadGroup(t *testing.T) {
	needLinux71(t, Attr{AutoReap: true}, "CLONE_AUTOREAP")
	is := is.New(t)
	path, argv, env := helperArgv("leader-exits-first", "300")
	p, err := Spawn(path, argv, &Attr{AutoReap: true, Env: env})
	is.NoErr(err)
	st, err := p.Wait()
	is.NoErr(err)
	is.Equal(st.ExitCode(), 7) // the group's status, not the leader's thread exit
	_, err = os.Stat(fmt.Sprintf("/proc/%d", p.Pid()))
	is.True(errors.Is(err, os.ErrNotExist)) // Wait returned when the whole group was gone
	p.Release()
}

func TestNoNewPrivsAtClone(t *testing.T) {
	is := is.New(t)
	if useClonePath() {
		is.True(!nnpAtClone(&Attr{NoNewPrivs: true})) // no clone3: NoNewPrivs is a prctl step in the child
		why, _ := clonePathReason()
		t.Skipf("CLONE_NNP needs clone3: %s", why)
	}
	if !kernelAtLeast(kernelRelease(), 7, 1) {
		is.True(errors.Is(probeNNP(), syscall.EINVAL)) // before 7.1 clone3 refuses CLONE_NNP
		is.True(!nnpAtClone(&Attr{NoNewPrivs: true}))  // so NoNewPrivs is a prctl step in the child
		t.Skipf("CLONE_NNP needs Linux 7.1, this is %s; NoNewPrivs falls back to prctl (TestSpawnNoNewPrivs)", kernelRelease())
	}
	is.NoErr(probeNNP())                         // 7.1 accepts CLONE_NNP
	is.True(nnpAtClone(&Attr{NoNewPrivs: true})) // and NoNewPrivs uses it rather than prctl
}

// autoKillChild spawns a sleeper that dies when its pidfd is closed.
func autoKillChild(t *testing.T) *Process {
	t.Helper()
	p, err := Spawn("/bin/sleep", []string{"sleep", "60"}, &Attr{AutoKill: true, NoNewPrivs: true})
	if err != nil {
		t.Fatalf("AutoKill spawn: %v", err)
	}
	endOnCleanup(t, p) // after the test's Release, which kills it, a no-op
	return p
}

// waitGone waits, through a pidfd_open handle, for pid to exit and returns
// how it ended.
func waitGone(t *testing.T, q *Process) *State {
	t.Helper()
	st, err := q.Wait()
	if err != nil {
		t.Fatalf("wait for %d: %v", q.Pid(), err)
	}
	q.Release()
	return st
}

func TestAutoKill(t *testing.T) {
	needLinux71(t, Attr{AutoKill: true, NoNewPrivs: true}, "CLONE_PIDFD_AUTOKILL")
	is := is.New(t)
	is.NoErr(probeAutoKill()) // 7.1 accepts CLONE_PIDFD_AUTOKILL

	p := autoKillChild(t)
	is.Equal(p.Backend(), Clone3)
	watch, err := OpenProcess(p.Pid())
	is.NoErr(err) // a pidfd_open handle, which does not keep the child alive
	endOnCleanup(t, watch)
	is.NoErr(p.Signal(syscall.Signal(0))) // alive while the Process is held
	is.NoErr(p.Release())
	st := waitGone(t, watch)
	is.Equal(st.Signal(), syscall.SIGKILL) // SIGKILLed when the clone3 pidfd closed

	// Wait on an AutoKill child that exited by itself closes its pidfd
	// like any other (which kills nothing: it is gone).
	p, err = Spawn("/bin/sh", []string{"sh", "-c", "exit 3"}, &Attr{AutoKill: true, NoNewPrivs: true})
	is.NoErr(err)
	fd := p.Fd()
	st, err = p.Wait()
	is.NoErr(err)
	is.Equal(st.ExitCode(), 3) // its own status, not a kill
	checkEnded(t, p, fd)

	// A duplicate of the pidfd keeps it alive until it is closed too.
	p = autoKillChild(t)
	dup, err := unix.FcntlInt(uintptr(p.Fd()), unix.F_DUPFD_CLOEXEC, 0)
	is.NoErr(err)
	watch, err = OpenProcess(p.Pid())
	is.NoErr(err)
	endOnCleanup(t, watch) // the child lives on through dup if t ends before it is closed
	is.NoErr(p.Release())
	time.Sleep(50 * time.Millisecond)
	is.NoErr(watch.Signal(syscall.Signal(0))) // still alive: the dup holds the file
	unix.Close(dup)
	is.Equal(waitGone(t, watch).Signal(), syscall.SIGKILL) // gone with the last reference
}

func init() {
	// autokill-nobody: as user nobody, AutoKill without NoNewPrivs must be
	// EPERM (CAP_SYS_ADMIN needed), with NoNewPrivs allowed.
	registerHelper("autokill-nobody", func(args []string) int {
		if err := becomeNobody(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 10
		}
		_, err := failed(Spawn("/bin/true", []string{"true"}, &Attr{AutoKill: true}))
		if !errors.Is(err, syscall.EPERM) {
			fmt.Fprintln(os.Stderr, "without NoNewPrivs: want EPERM, got", err)
			return 1
		}
		p, err := Spawn("/bin/true", []string{"true"}, &Attr{AutoKill: true, NoNewPrivs: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, "with NoNewPrivs:", err)
			return 2
		}
		p.Wait()
		p.Release()
		return 0
	})
	// autokill-parent: spawn an AutoKill sleeper, print its pid, wait to be
	// killed.
	registerHelper("autokill-parent", func(args []string) int {
		p, err := Spawn("/bin/sleep", []string{"sleep", "60"}, &Attr{AutoKill: true, NoNewPrivs: true})
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println(p.Pid())
		time.Sleep(time.Minute)
		return 0
	})
}

func TestAutoKillPrivilege(t *testing.T) {
	needLinux71(t, Attr{AutoKill: true, NoNewPrivs: true}, "CLONE_PIDFD_AUTOKILL")
	is := is.New(t)
	if os.Getuid() != 0 {
		t.Skip("dropping to nobody needs root")
	}
	p, err := Spawn("/bin/true", []string{"true"}, &Attr{AutoKill: true})
	is.NoErr(err) // root (CAP_SYS_ADMIN) may AutoKill without NoNewPrivs
	p.Wait()
	p.Release()
	st := mustWait(t, spawnHelper(t, Auto, "autokill-nobody"))
	is.Equal(st.ExitCode(), 0) // unprivileged: EPERM passed through, NoNewPrivs allowed
}

func TestAutoKillParentDies(t *testing.T) {
	needLinux71(t, Attr{AutoKill: true, NoNewPrivs: true}, "CLONE_PIDFD_AUTOKILL")
	is := is.New(t)
	r, w, err := os.Pipe()
	is.NoErr(err)
	defer r.Close()
	path, argv, env := helperArgv("autokill-parent")
	h, err := Spawn(path, argv, &Attr{Env: env, Files: []*os.File{nil, w, os.Stderr}})
	w.Close()
	is.NoErr(err)
	endOnCleanup(t, h) // the helper sleeps a minute
	line, err := bufio.NewReader(r).ReadString('\n')
	is.NoErr(err) // the helper reports its child
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	is.NoErr(err) // a pid, not an error
	watch, err := OpenProcess(pid)
	is.NoErr(err) // the grandchild is running
	is.NoErr(h.Kill())
	is.Equal(mustWait(t, h).Signal(), syscall.SIGKILL)     // the parent died
	is.Equal(waitGone(t, watch).Signal(), syscall.SIGKILL) // and took the AutoKill child with it
}

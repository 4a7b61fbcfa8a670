//go:build linux && cgo

package spawn

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/pidfd/spawn/internal/forktest"
	"github.com/pidfd/spawn/internal/shim"
	"golang.org/x/sys/unix"
)

// forkModes are the two ways ForkNP forks: glibc's fork with the atfork
// handlers, and a raw clone3 without them.
var forkModes = []struct {
	name  string
	flags ForkFlags
}{
	{"fork", 0},
	{"asyncsafe", ForkAsyncSafe},
}

// handlerRun counts the atfork handlers around fn; the child handler
// reports through a pipe, since it runs in the child.
func handlerRun(t *testing.T, fn func()) (prepare, parent, childInParent int, childInChild string) {
	t.Helper()
	forktest.Install()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	forktest.SetChildFd(int(w.Fd()))
	p0, q0, c0 := forktest.Counts()
	fn()
	p1, q1, c1 := forktest.Counts()
	forktest.SetChildFd(-1)
	w.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return p1 - p0, q1 - q0, c1 - c0, string(b)
}

func TestForkExecAtforkHandlers(t *testing.T) {
	for _, c := range []struct {
		name string
		run  func() (*Process, error)
		want int // handler runs
	}{
		{"ForkExec", func() (*Process, error) {
			path, argv, env := helperArgv("exit", "0")
			return ForkExec(path, argv, &Attr{Env: env}, nil)
		}, 1},
		{"ForkExecAsyncSafe", func() (*Process, error) {
			path, argv, env := helperArgv("exit", "0")
			return ForkExec(path, argv, &Attr{Env: env}, &ForkArgs{Flags: ForkAsyncSafe})
		}, 0},
		{"SpawnForkNP", func() (*Process, error) {
			path, argv, env := helperArgv("exit", "0")
			return Spawn(path, argv, &Attr{Env: env, Backend: ForkNP})
		}, 1},
		{"SpawnClone3", func() (*Process, error) {
			path, argv, env := helperArgv("exit", "0")
			return Spawn(path, argv, &Attr{Env: env, Backend: Clone3})
		}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "SpawnClone3" && Available(Clone3) != nil {
				t.Skipf("Clone3 not here: %v", Available(Clone3))
			}
			is := is.New(t)
			var p *Process
			var err error
			prepare, parent, childInParent, childInChild := handlerRun(t, func() { p, err = c.run() })
			is.NoErr(err) // the child runs the helper
			endOnCleanup(t, p)
			is.Equal(prepare, c.want)                           // prepare handler: once in the parent with fork, never without
			is.Equal(parent, c.want)                            // parent handler: likewise
			is.Equal(childInParent, 0)                          // the child handler never runs in the parent
			is.Equal(childInChild, strings.Repeat("c", c.want)) // it ran once in the child, with fork
			st := mustWait(t, p)
			is.Equal(st.ExitCode(), 0) // the helper exited 0
		})
	}
}

func TestForkCall(t *testing.T) {
	for _, m := range forkModes {
		t.Run(m.name, func(t *testing.T) {
			is := is.New(t)
			arg := forktest.Int(7)
			defer forktest.Free(arg)
			var p *Process
			var err error
			prepare, _, _, childInChild := handlerRun(t, func() {
				p, err = ForkCall(forktest.Value(), arg, &ForkArgs{Flags: m.flags})
			})
			is.NoErr(err) // ForkCall forks
			endOnCleanup(t, p)
			is.Equal(p.Backend(), ForkNP) // a ForkNP process
			pid, err := PidfdGetpid(p.Fd())
			is.NoErr(err)          // the pidfd names the child
			is.Equal(pid, p.Pid()) // PidfdGetpid agrees with Pid
			st := mustWait(t, p)
			want := 7 // the argument reached fn
			if m.flags&ForkAsyncSafe == 0 {
				want += 100 // and fn ran after the child handler
				is.Equal(prepare, 1)
				is.Equal(childInChild, "c")
			} else {
				is.Equal(prepare, 0)       // no handlers with ForkAsyncSafe
				is.Equal(childInChild, "") // none in the child either
			}
			is.Equal(st.ExitCode(), want) // fn's result is the exit status
		})
	}
}

func TestForkCallSignalState(t *testing.T) {
	// Go's handlers are installed for nearly every signal; the child must
	// have none, and the forking thread's mask.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	for _, m := range forkModes {
		t.Run(m.name, func(t *testing.T) {
			is := is.New(t)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var mask unix.Sigset_t
			is.NoErr(unix.PthreadSigmask(unix.SIG_SETMASK, nil, &mask)) // this thread's mask
			arg := forktest.Int(int(mask.Val[0]))
			defer forktest.Free(arg)
			p, err := ForkCall(forktest.Handlers(), arg, &ForkArgs{Flags: m.flags})
			is.NoErr(err) // ForkCall forks
			st := mustWait(t, p)
			is.Equal(st.ExitCode(), 0) // no caught signal in the child, and the caller's mask (64: mask differs)
		})
	}
}

// procCgroup returns the cgroup v2 path of process pid.
func procCgroup(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			return rest
		}
	}
	t.Fatalf("no cgroup v2 line in /proc/%d/cgroup: %q", pid, b)
	return ""
}

func TestForkCgroup(t *testing.T) {
	cg := testCgroup(t)
	root, _ := Cgroup2Root()
	rel := strings.TrimPrefix(cg.Path(), root)
	for _, m := range forkModes {
		t.Run(m.name, func(t *testing.T) {
			is := is.New(t)
			args := &ForkArgs{Flags: ForkCgroup | m.flags, Cgroup: cg.Fd()}
			p, err := ForkExec("/bin/sleep", []string{"sleep", "60"}, nil, args)
			is.NoErr(err) // ForkExec into the cgroup
			endOnCleanup(t, p)
			procs, err := cg.Procs()
			is.NoErr(err)                            // cgroup.procs is readable
			is.True(slices.Contains(procs, p.Pid())) // the child is in the cgroup
			is.Equal(procCgroup(t, p.Pid()), rel)    // from before it executed sleep
			is.NoErr(p.Kill())                       //
			mustWait(t, p)                           //
			arg := forktest.Int(60000)
			defer forktest.Free(arg)
			p, err = ForkCall(forktest.Sleep(), arg, args)
			is.NoErr(err) // ForkCall into the cgroup
			endOnCleanup(t, p)
			is.Equal(procCgroup(t, p.Pid()), rel)  // the ForkCall child is in it before fn runs
			is.NoErr(p.Kill())                     //
			st := mustWait(t, p)                   //
			is.Equal(st.Signal(), syscall.SIGKILL) // the sleeping child was killed
		})
	}
}

func TestForkCgroupInvalid(t *testing.T) {
	const closed = 1<<20 - 3 // no descriptor this high is open
	notCgroup, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer notCgroup.Close()
	for _, m := range forkModes {
		t.Run(m.name, func(t *testing.T) {
			is := is.New(t)
			kids := len(childPids(t))
			before := len(openFds())
			var p *Process
			var err error
			prepare, _, _, _ := handlerRun(t, func() {
				p, err = failed(ForkExec("/bin/true", []string{"true"}, nil, &ForkArgs{Flags: ForkCgroup | m.flags, Cgroup: closed}))
			})
			is.True(p == nil)                      // no Process
			is.True(errors.Is(err, syscall.EBADF)) // a closed descriptor is EBADF
			is.Equal(prepare, 0)                   // rejected before any fork
			_, err = unix.FcntlInt(closed, unix.F_GETFD, 0)
			is.True(err != nil) // (the descriptor was indeed closed)
			p, err = failed(ForkExec("/bin/true", []string{"true"}, nil, &ForkArgs{Flags: ForkCgroup | m.flags, Cgroup: -1}))
			is.True(p == nil)                      // no Process
			is.True(errors.Is(err, syscall.EBADF)) // a negative descriptor is EBADF
			arg := forktest.Int(0)
			defer forktest.Free(arg)
			p, err = failed(ForkCall(forktest.Value(), arg, &ForkArgs{Flags: ForkCgroup | m.flags, Cgroup: int(notCgroup.Fd())}))
			is.True(p == nil) // a directory that is no cgroup: no Process
			is.True(err != nil)
			t.Logf("not a cgroup: %v", err)
			p, err = failed(ForkExec("/bin/true", []string{"true"}, nil, &ForkArgs{Flags: ForkCgroup | m.flags, Cgroup: int(notCgroup.Fd())}))
			is.True(p == nil) // likewise for ForkExec
			is.True(err != nil)
			is.Equal(len(childPids(t)), kids) // every child that failed was reaped
			is.Equal(len(openFds()), before)  // and its pidfd and pipes closed
		})
	}
}

// noSignal fails if sig arrives on ch within d.
func noSignal(t *testing.T, ch chan os.Signal, d time.Duration, why string) {
	t.Helper()
	select {
	case s := <-ch:
		t.Errorf("%v arrived: %s", s, why)
	case <-time.After(d):
	}
}

func TestForkExitSignal(t *testing.T) {
	usr1 := make(chan os.Signal, 8)
	chld := make(chan os.Signal, 8)
	signal.Notify(usr1, syscall.SIGUSR1)
	signal.Notify(chld, syscall.SIGCHLD)
	defer signal.Stop(usr1)
	defer signal.Stop(chld)
	drain := func() {
		for len(usr1) > 0 {
			<-usr1
		}
		for len(chld) > 0 {
			<-chld
		}
	}
	arg := forktest.Int(3)
	defer forktest.Free(arg)

	t.Run("none", func(t *testing.T) {
		is := is.New(t)
		drain()
		p, err := ForkCall(forktest.Value(), arg, &ForkArgs{Flags: ForkAsyncSafe | ForkExitSignal, ExitSignal: 0})
		is.NoErr(err) // clone3 with exit signal 0
		st := mustWait(t, p)
		is.Equal(st.ExitCode(), 3) // waited with __WALL: the status arrives
		noSignal(t, chld, 100*time.Millisecond, "the child was created with no exit signal")
		// execve resets the exit signal to SIGCHLD (fs/exec.c, de_thread):
		// ForkExec's child signals its exit like any other.
		path, argv, env := helperArgv("exit", "4")
		p, err = ForkExec(path, argv, &Attr{Env: env}, &ForkArgs{Flags: ForkAsyncSafe | ForkExitSignal})
		is.NoErr(err) // ForkExec with exit signal 0
		st = mustWait(t, p)
		is.Equal(st.ExitCode(), 4) // the helper's status
		select {
		case <-chld:
		case <-time.After(5 * time.Second):
			t.Fatal("no SIGCHLD from a child that executed a program")
		}
	})

	t.Run("SIGUSR1", func(t *testing.T) {
		is := is.New(t)
		drain()
		p, err := ForkCall(forktest.Value(), arg, &ForkArgs{Flags: ForkAsyncSafe | ForkExitSignal, ExitSignal: syscall.SIGUSR1})
		is.NoErr(err) // clone3 with exit signal SIGUSR1
		st := mustWait(t, p)
		is.Equal(st.ExitCode(), 3) // waited with __WALL: the status arrives
		select {
		case <-usr1:
		case <-time.After(5 * time.Second):
			t.Fatal("no SIGUSR1 when the child exited")
		}
		noSignal(t, chld, 100*time.Millisecond, "the child's exit signal is SIGUSR1")
	})

	t.Run("SIGCHLD with handlers", func(t *testing.T) {
		is := is.New(t)
		forktest.Install()
		p, err := ForkCall(forktest.Value(), arg, &ForkArgs{Flags: ForkExitSignal, ExitSignal: syscall.SIGCHLD})
		is.NoErr(err) // SIGCHLD is what fork gives anyway
		st := mustWait(t, p)
		is.Equal(st.ExitCode(), 103) // fn's result, after the child handler
	})

	t.Run("other with handlers", func(t *testing.T) {
		if libcHave()&shim.HaveForkNP != 0 {
			t.Skip("the C library has a native fork_np, which can do this")
		}
		is := is.New(t)
		var p *Process
		var err error
		prepare, _, _, _ := handlerRun(t, func() {
			p, err = failed(ForkCall(forktest.Value(), arg, &ForkArgs{Flags: ForkExitSignal, ExitSignal: syscall.SIGUSR1}))
		})
		is.True(p == nil)                                        // no child
		is.True(errors.Is(err, ErrNotSupported))                 // not possible without a native fork_np
		is.True(strings.Contains(err.Error(), "ForkExitSignal")) // and the error says what
		is.True(strings.Contains(err.Error(), "fork_np"))        // and what would do it
		is.Equal(prepare, 0)                                     // refused before any fork
	})
}

func TestForkPidfd(t *testing.T) {
	for _, m := range forkModes {
		t.Run(m.name, func(t *testing.T) {
			is := is.New(t)
			p, err := ForkExec("/bin/sleep", []string{"sleep", "60"}, nil, &ForkArgs{Flags: m.flags})
			is.NoErr(err) // ForkExec of sleep
			endOnCleanup(t, p)
			flags, err := unix.FcntlInt(uintptr(p.Fd()), unix.F_GETFD, 0)
			is.NoErr(err)                       // F_GETFD on the pidfd
			is.True(flags&unix.FD_CLOEXEC != 0) // the pidfd is close-on-exec
			pid, err := PidfdGetpid(p.Fd())
			is.NoErr(err)                          // it is a pidfd
			is.Equal(pid, p.Pid())                 // of the child
			is.Equal(p.Backend(), ForkNP)          // made by ForkNP
			is.NoErr(p.Kill())                     //
			st := mustWait(t, p)                   //
			is.Equal(st.Signal(), syscall.SIGKILL) // the signal went through the pidfd
		})
	}
}

func TestForkExecFailures(t *testing.T) {
	for _, m := range forkModes {
		t.Run(m.name, func(t *testing.T) {
			is := is.New(t)
			kids := len(childPids(t))
			before := len(openFds())
			args := &ForkArgs{Flags: m.flags}

			p, err := failed(ForkExec("/nonexistent/prog", []string{"prog"}, nil, args))
			is.True(p == nil) // no Process for a failed exec
			var pe *os.PathError
			is.True(errors.As(err, &pe))            // a *os.PathError
			is.Equal(pe.Op, "execve")               // naming the step that failed
			is.True(errors.Is(err, syscall.ENOENT)) // with its errno

			p, err = failed(ForkExec("/bin/true", []string{"true"}, &Attr{Dir: "/nonexistent"}, args))
			is.True(p == nil)                       // no Process
			is.True(errors.As(err, &pe))            // a *os.PathError
			is.Equal(pe.Op, "chdir")                // from the chdir step
			is.Equal(pe.Path, "/nonexistent")       // about the directory
			is.True(errors.Is(err, syscall.ENOENT)) // ENOENT

			// Many Files: the report pipe sits on a low descriptor in the
			// parent and must survive the dups and the close_range.
			files := make([]*os.File, 40)
			for i := range files {
				files[i] = os.Stderr
			}
			p, err = failed(ForkExec("/nonexistent/prog", []string{"prog"}, &Attr{Files: files}, args))
			is.True(p == nil)                       // no Process
			is.True(errors.As(err, &pe))            // the failure still comes back
			is.Equal(pe.Op, "execve")               // from the execve step
			is.True(errors.Is(err, syscall.ENOENT)) // ENOENT

			p, err = ForkExec("/bin/true", []string{"true"}, &Attr{Files: files}, args)
			is.NoErr(err) // and success too
			mustWait(t, p)

			is.Equal(len(childPids(t)), kids) // every failed child was reaped
			is.Equal(len(openFds()), before)  // nothing left open
		})
	}
}

func TestForkBadArgs(t *testing.T) {
	is := is.New(t)
	p, err := failed(ForkExec("/bin/true", []string{"true"}, nil, &ForkArgs{Flags: 1 << 9}))
	is.True(p == nil)                       // no child
	is.True(errors.Is(err, syscall.EINVAL)) // an unknown flag is EINVAL
	p, err = failed(ForkExec("/bin/true", []string{"true"}, nil, &ForkArgs{Flags: ForkAsyncSafe | ForkExitSignal, ExitSignal: 65}))
	is.True(p == nil)                       // no child
	is.True(errors.Is(err, syscall.EINVAL)) // a signal beyond 64 is EINVAL
	p, err = failed(ForkExec("/bin/true", []string{"true"}, &Attr{Backend: Clone3}, nil))
	is.True(p == nil)                       // no child
	is.True(errors.Is(err, syscall.EINVAL)) // ForkExec is the ForkNP backend
	p, err = failed(ForkExec("/bin/true", []string{"true"}, &Attr{AutoReap: true}, nil))
	is.True(p == nil)                        // no child
	is.True(errors.Is(err, ErrNotSupported)) // AutoReap is a clone3 flag
	p, err = failed(ForkExec("/bin/tr\x00ue", []string{"true"}, nil, nil))
	is.True(p == nil)                       // no child
	is.True(errors.Is(err, syscall.EINVAL)) // NUL in the path
	p, err = failed(ForkCall(nil, nil, nil))
	is.True(p == nil)                       // no child
	is.True(errors.Is(err, syscall.EINVAL)) // no function to call
	is.NoErr(Available(ForkNP))             // cgo builds have ForkNP
}

// heap is the benchmark's live, touched 2 GiB, made on first use.
var heap [][]byte

func touchedHeap() {
	if heap != nil {
		return
	}
	const chunk = 64 << 20
	for i := 0; i < (2<<30)/chunk; i++ {
		b := make([]byte, chunk)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		heap = append(heap, b)
	}
}

// BenchmarkForkExecHeap compares ForkExec, which copies the page tables of
// the parent's 2 GiB heap, with Spawn on Clone3, which shares them.
func BenchmarkForkExecHeap(b *testing.B) {
	touchedHeap()
	defer func() {
		heap = nil // later benchmarks run without it
		runtime.GC()
	}()
	run := func(b *testing.B, start func() (*Process, error)) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := start()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.Wait(); err != nil {
				b.Fatal(err)
			}
			p.Release()
		}
	}
	b.Run("ForkExec", func(b *testing.B) {
		run(b, func() (*Process, error) { return ForkExec("/bin/true", []string{"true"}, nil, nil) })
	})
	b.Run("ForkExecAsyncSafe", func(b *testing.B) {
		run(b, func() (*Process, error) {
			return ForkExec("/bin/true", []string{"true"}, nil, &ForkArgs{Flags: ForkAsyncSafe})
		})
	})
	b.Run("Clone3", func(b *testing.B) {
		if err := Available(Clone3); err != nil {
			b.Skipf("Clone3 not here: %v", err)
		}
		run(b, func() (*Process, error) { return Spawn("/bin/true", []string{"true"}, &Attr{Backend: Clone3}) })
	})
	runtime.KeepAlive(heap)
}

// fakeForkNP is a stand-in for a C library that exports fork_np with the
// proposal's interface, built as a shared object and preloaded into a helper:
// a raw clone3 with CLONE_PIDFD, the exit signal and the cgroup as asked.
const fakeForkNP = `#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

struct fork_np_args { uint64_t flags; int pidfd; int cgroup; int exit_signal; };
struct clone_args_v2 { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup; };

pid_t fork_np(struct fork_np_args *a, size_t size) {
	if (size != sizeof *a) {
		errno = EINVAL;
		return -1;
	}
	struct clone_args_v2 ca;
	memset(&ca, 0, sizeof ca);
	ca.flags = 0x1000; /* CLONE_PIDFD */
	ca.pidfd = (uint64_t)(uintptr_t)&a->pidfd;
	ca.exit_signal = (a->flags & (1 << 4)) ? (uint64_t)a->exit_signal : SIGCHLD;
	if (a->flags & (1 << 2)) {
		ca.flags |= 0x200000000ULL; /* CLONE_INTO_CGROUP */
		ca.cgroup = (uint64_t)a->cgroup;
	}
	return (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
}
`

func init() {
	// native-fork-np: run under a preloaded fork_np; exit 0 if ForkNP used it.
	registerHelper("native-fork-np", func(args []string) int {
		if libcHave()&shim.HaveForkNP == 0 {
			fmt.Fprintln(os.Stderr, "fork_np not found")
			return 10
		}
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		arg := forktest.Int(3)
		defer forktest.Free(arg)
		// Atfork handlers with another exit signal: only a native
		// fork_np can do it.
		p, err := ForkCall(forktest.Value(), arg, &ForkArgs{Flags: ForkExitSignal, ExitSignal: syscall.SIGUSR1})
		if err != nil {
			fmt.Fprintln(os.Stderr, "ForkCall:", err)
			return 11
		}
		if st, err := p.Wait(); err != nil || st.ExitCode() != 3 {
			fmt.Fprintln(os.Stderr, "wait:", st, err)
			return 12
		}
		p.Release()
		select {
		case <-usr1:
		case <-time.After(5 * time.Second):
			fmt.Fprintln(os.Stderr, "no SIGUSR1")
			return 13
		}
		p, err = ForkExec("/bin/sh", []string{"sh", "-c", "exit 5"}, nil, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ForkExec:", err)
			return 14
		}
		if st, err := p.Wait(); err != nil || st.ExitCode() != 5 {
			fmt.Fprintln(os.Stderr, "wait:", st, err)
			return 15
		}
		p.Release()
		if _, err := failed(ForkExec("/nonexistent", []string{"x"}, nil, nil)); !errors.Is(err, syscall.ENOENT) {
			fmt.Fprintln(os.Stderr, "ForkExec of a missing program:", err)
			return 16
		}
		if os.Geteuid() == 0 {
			// A user namespace handshake through the native fork_np:
			// root is uid 7 inside.
			p, err = ForkExec("/bin/sh", []string{"sh", "-c", "exit $(id -u)"}, &Attr{Cloneflags: syscall.CLONE_NEWUSER,
				UidMappings: []syscall.SysProcIDMap{{ContainerID: 7, HostID: 0, Size: 1}}}, nil)
			if err != nil {
				fmt.Fprintln(os.Stderr, "ForkExec with maps:", err)
				return 17
			}
			if st, err := p.Wait(); err != nil || st.ExitCode() != 7 {
				fmt.Fprintln(os.Stderr, "wait:", st, err)
				return 18
			}
			p.Release()
		}
		return 0
	})
}

// TestForkExecUserNamespace: both ways ForkExec forks carry a user
// namespace with maps (the handshake runs in the shim's child, after the
// fork of either), the child's ids read back inside, and a refused map
// leaves nothing behind.
func TestForkExecUserNamespace(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("id"); err != nil {
		t.Skipf("needs id in PATH: %v", err)
	}
	for _, m := range forkModes {
		t.Run(m.name, func(t *testing.T) {
			is := is.New(t)
			before := openFds()
			r, w, err := os.Pipe()
			is.NoErr(err)
			p, err := ForkExec("/bin/sh", []string{"sh", "-c", "echo $(id -u) $(id -g); cat /proc/self/uid_map /proc/self/setgroups"}, &Attr{
				Files:       []*os.File{nil, w, os.Stderr},
				Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWUTS,
				UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 5, HostID: 0, Size: 1}},
				GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1001, Size: 1}, {ContainerID: 6, HostID: 0, Size: 1}},
			}, &ForkArgs{Flags: m.flags})
			w.Close()
			is.NoErr(err) // forked with the maps
			endOnCleanup(t, p)
			out, err := io.ReadAll(r)
			r.Close()
			is.NoErr(err)
			st := mustWait(t, p)
			p.Release()
			is.True(st.Success())
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			is.Equal(len(lines), 4)
			is.Equal(lines[0], "5 6")                                      // root (the parent's ids) is 5 and 6 inside
			is.Equal(strings.Fields(lines[1]), []string{"0", "1000", "1"}) // uid_map as asked, seen from inside
			is.Equal(strings.Fields(lines[2]), []string{"5", "0", "1"})    // both lines
			is.Equal(lines[3], "deny")                                     // setgroups denied
			is.NoErr(checkLeaks(before))                                   // nothing left

			_, err = failed(ForkExec("/bin/true", []string{"true"}, &Attr{Unshareflags: syscall.CLONE_NEWUSER,
				GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 2}, {ContainerID: 1, HostID: 9, Size: 1}}},
				&ForkArgs{Flags: m.flags}))
			var pe *os.PathError
			is.True(errors.As(err, &pe))                    // the parent's write failed
			is.True(strings.HasSuffix(pe.Path, "/gid_map")) // named with its file
			is.True(errors.Is(err, syscall.EINVAL))         // overlapping ranges
			is.NoErr(checkLeaks(before))                    // the child killed and reaped, no descriptor left
		})
	}
}

func TestForkNPNative(t *testing.T) {
	// No C library exports fork_np yet; a preloaded stand-in shows that
	// the shim finds it and hands it the proposal's arguments.
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skipf("building a stand-in fork_np needs a C compiler: %v", err)
	}
	if why := clone3Why(); why != nil {
		t.Skipf("the stand-in fork_np is built on clone3: %v", why)
	}
	is := is.New(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "forknp.c")
	so := filepath.Join(dir, "libforknp.so")
	is.NoErr(os.WriteFile(src, []byte(fakeForkNP), 0o644)) // the stand-in's source
	out, err := exec.Command(gcc, "-shared", "-fPIC", "-O2", "-o", so, src).CombinedOutput()
	is.NoErr(err) // the stand-in builds
	if err != nil {
		t.Log(string(out))
	}
	path, argv, env := helperArgv("native-fork-np")
	cmd := exec.Command(path)
	cmd.Args = argv
	cmd.Env = append(env, "LD_PRELOAD="+so)
	cmd.Stderr = os.Stderr
	err = cmd.Run()
	is.NoErr(err) // ForkCall and ForkExec went through the preloaded fork_np
}

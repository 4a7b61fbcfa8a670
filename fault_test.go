//go:build linux

package spawn

// Fault injection. Every fault the kernel or the caller can throw at a spawn
// must come back, on every backend that has the feature, as a clear error
// (errors.Is finds the errno; Clone3 and ForkNP name the failing step) with
// no child left (waitid(P_ALL) says ECHILD) and no descriptor leaked. The
// TestMain guard checks both for the whole run; noLeaks checks them after
// each test here.
//
// The catalogue, fault → error → test:
//
//	RLIMIT_NOFILE exhausted (no slot for the pidfd)  EMFILE           TestSpawnEMFILE (spawn_test.go, helper "emfile")
//	RLIMIT_NPROC reached, unprivileged user          EAGAIN           TestFaultNPROC
//	argv or env larger than execve takes             E2BIG            TestFaultE2BIG
//	Cgroup removed after it was opened               ENOENT / ENODEV  TestCgroupRemovedAfterOpen (cgroup_test.go)
//	Cgroup with controllers in subtree_control       EBUSY            TestFaultCgroupBusy
//	Cgroup descriptor not a cgroup2 directory        EBADF            TestFaultCgroupNotCgroup2
//	Files holding a closed *os.File                  EBADF            TestSpawnClosedFile (spawn_test.go)
//	Dir that is a regular file                       ENOTDIR          TestFaultDirIsFile
//	Signal/Wait/Getfd/Info after Release             ErrReleased      TestFaultReleaseThenUse (TestReleaseThenUse: Clone3)

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/matryer/is"
	"golang.org/x/sys/unix"
)

// noLeaks checks when t ends (after the cleanups registered later, which
// run first) that t left no descriptor open and no child unreaped: the
// local version of TestMain's guard.
func noLeaks(t *testing.T) {
	t.Helper()
	before := openFds()
	t.Cleanup(func() {
		is := is.NewRelaxed(t)
		is.NoErr(checkLeaks(before)) // no descriptor and no child left behind
	})
}

// noChild reports whether this process has no child at all, running or
// zombie.
func noChild() bool {
	var si unix.Siginfo
	return unix.Waitid(unix.P_ALL, 0, &si, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT|unix.WALL, nil) == unix.ECHILD
}

// warmThreads makes the Go runtime start n OS threads and leaves them idle:
// each of n goroutines holds a thread of its own (LockOSThread) until all do,
// then unlocks and ends, so the threads go to the runtime's idle list. A
// helper that is about to forbid new tasks (RLIMIT_NPROC) or to aim at a pid
// (ns_last_pid) calls it first, so that the runtime does not need a thread
// it cannot have, or take the pid.
func warmThreads(n int) {
	var ready, done sync.WaitGroup
	release := make(chan struct{})
	for i := 0; i < n; i++ {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			ready.Done()
			<-release
			runtime.UnlockOSThread()
		}()
	}
	ready.Wait()
	close(release)
	done.Wait()
}

// runHelper runs helper name with args (through the Auto backend) and
// returns what it printed on its standard output and how it ended. Its
// standard error goes to ours.
func runHelper(t *testing.T, name string, args ...string) (string, *State) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	path, argv, env := helperArgv(name, args...)
	p, err := Spawn(path, argv, &Attr{Env: env, Files: []*os.File{nil, w, os.Stderr}})
	w.Close()
	if err != nil {
		t.Fatalf("spawn helper %s: %v", name, err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		out.WriteString(sc.Text())
		out.WriteByte('\n')
	}
	return out.String(), mustWait(t, p)
}

// logLines logs a helper's report line by line.
func logLines(t *testing.T, out string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			t.Log(l)
		}
	}
}

// tasksOfUID counts the tasks (threads: RLIMIT_NPROC counts tasks) whose
// real user ID is uid, from /proc.
func tasksOfUID(uid int) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue // gone meanwhile
		}
		var real, threads int
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Uid:"); ok {
				fmt.Sscan(v, &real)
			}
			if v, ok := strings.CutPrefix(l, "Threads:"); ok {
				fmt.Sscan(v, &threads)
			}
		}
		if real == uid {
			n += max(threads, 1)
		}
	}
	return n
}

func init() {
	// nproc BACKEND: as uid/gid 65534 (no capabilities), with RLIMIT_NPROC
	// at the number of tasks that uid has, Spawn must fail with EAGAIN,
	// leave no child and no descriptor; with room again it must work.
	// Prints the error it got.
	registerHelper("nproc", func(args []string) int {
		b, err := ParseBackend(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 10
		}
		// Once the limit is reached the runtime cannot start a thread
		// (it would die of it): give it idle ones now.
		warmThreads(16)
		if err := becomeNobody(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 10
		}
		n := tasksOfUID(65534)
		// The kernel refuses a new task when the count with it would
		// exceed the soft limit (copy_process: is_rlimit_overlimit).
		lim := unix.Rlimit{Cur: uint64(n), Max: uint64(n + 64)}
		atLimit := func(what string) int {
			lim.Cur = uint64(n)
			if err := unix.Setrlimit(unix.RLIMIT_NPROC, &lim); err != nil {
				fmt.Fprintln(os.Stderr, "setrlimit:", err)
				return 10
			}
			fds := len(openFds())
			p, err := Spawn("/bin/true", []string{"true"}, &Attr{Backend: b})
			if p != nil {
				fmt.Fprintln(os.Stderr, what+": a child was created at the limit")
				p.Wait()
				return 1
			}
			if !errors.Is(err, syscall.EAGAIN) {
				fmt.Fprintln(os.Stderr, what+": want EAGAIN, got", err)
				return 1
			}
			if errors.Is(err, ErrNotSupported) {
				fmt.Fprintln(os.Stderr, what+": a process limit is not a missing feature:", err)
				return 1
			}
			fmt.Printf("%s, RLIMIT_NPROC=%d (tasks of uid 65534): %v\n", what, n, err)
			if !noChild() {
				fmt.Fprintln(os.Stderr, what+": a child was left behind")
				return 2
			}
			if got := len(openFds()); got != fds {
				fmt.Fprintf(os.Stderr, "%s: descriptors: %d before, %d after\n", what, fds, got)
				return 3
			}
			return 0
		}
		// First spawn of the process: the backend's probes run at the
		// limit too, and must not take it for a missing feature.
		if code := atLimit("first spawn"); code != 0 {
			return code
		}
		// Room for the child again: the EAGAIN was the limit's.
		lim.Cur = uint64(n + 32)
		unix.Setrlimit(unix.RLIMIT_NPROC, &lim)
		p, err := Spawn("/bin/true", []string{"true"}, &Attr{Backend: b})
		if err != nil {
			fmt.Fprintln(os.Stderr, "below the limit:", err)
			return 4
		}
		st, err := p.Wait()
		p.Release()
		if err != nil || !st.Success() {
			fmt.Fprintln(os.Stderr, "below the limit: wait:", st, err)
			return 5
		}
		// And at the limit again, probes done: the spawn's own fork or
		// clone fails.
		code := atLimit("probed backend")
		// Room again before exit: under -asan, LeakSanitizer starts a
		// thread at exit and dies (exit 1) if it cannot.
		lim.Cur = lim.Max
		unix.Setrlimit(unix.RLIMIT_NPROC, &lim)
		return code
	})
}

func TestFaultNPROC(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("RLIMIT_NPROC needs an unprivileged user that this test can become: run as root (the helper drops to uid 65534)")
	}
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		noLeaks(t)
		out, st := runHelper(t, "nproc", b.String())
		logLines(t, out)
		is.Equal(st.ExitCode(), 0) // EAGAIN at the limit, no child, no descriptor leaked; below it the child runs
	})
}

func TestFaultE2BIG(t *testing.T) {
	// One string longer than MAX_ARG_STRLEN (32 pages), and a total above
	// what execve takes whatever RLIMIT_STACK is (at most 3/4 of 8 MiB).
	long := strings.Repeat("x", 32*4096+1)
	env := make([]string, 64)
	for i := range env {
		env[i] = fmt.Sprintf("SPAWN_BIG_%d=%s", i, strings.Repeat("y", 120<<10))
	}
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		noLeaks(t)
		p, err := failed(Spawn("/bin/true", []string{"true", long}, &Attr{Backend: b}))
		is.True(p == nil)                      // no child for an argument over MAX_ARG_STRLEN
		is.True(errors.Is(err, syscall.E2BIG)) // E2BIG
		t.Logf("one argument of %d bytes: %.120v", len(long), err)
		is.True(noChild()) // the failed child was reaped

		p, err = failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: b, Env: env}))
		is.True(p == nil)                      // no child for 7.5 MiB of environment
		is.True(errors.Is(err, syscall.E2BIG)) // E2BIG
		t.Logf("64 env entries of 120 KiB: %.120v", err)
		is.True(noChild()) // the failed child was reaped
		if b != PidfdSpawn {
			var pe *os.PathError
			is.True(errors.As(err, &pe)) // a *os.PathError
			is.Equal(pe.Op, "execve")    // naming the step
		}
	})
}

// cgroupFile reads an interface file of cg, trimmed.
func cgroupFile(t *testing.T, cg *Cgroup, name string) string {
	t.Helper()
	b, err := cg.readFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// threadedControllers can be enabled in a cgroup that also takes processes
// as long as it could become a threaded root; the others ("domain"
// controllers) forbid processes in a cgroup that enables them.
var threadedControllers = map[string]bool{"cpu": true, "cpuset": true, "perf_event": true, "pids": true}

// enableController enables a controller in cg's cgroup.subtree_control and
// reports its name and whether it is a threaded one. Where cg's parent does
// not pass the controller down but the cgroup2 root has it, it is enabled in
// the root's subtree_control for the test's length (a hybrid host's unified
// hierarchy often has controllers, none enabled). It skips if none can be
// enabled.
func enableController(t *testing.T, cg *Cgroup) (string, bool) {
	t.Helper()
	pick := func(avail string) string {
		var threaded string
		for _, c := range strings.Fields(avail) {
			if !threadedControllers[c] {
				return c // a domain controller makes the cgroup busy by itself
			}
			threaded = c
		}
		return threaded
	}
	ctrl := pick(cgroupFile(t, cg, "cgroup.controllers"))
	if ctrl == "" {
		root, err := Cgroup2Root()
		if err != nil || filepath.Dir(cg.Path()) != root {
			t.Skipf("EBUSY needs a cgroup v2 controller enabled for %s, and its parent passes none down", cg.Path())
		}
		rc, err := OpenCgroup(root)
		if err != nil {
			t.Skipf("EBUSY needs the cgroup v2 root to enable a controller: %v", err)
		}
		defer rc.Close()
		ctrl = pick(cgroupFile(t, rc, "cgroup.controllers"))
		if ctrl == "" {
			t.Skipf("EBUSY needs a cgroup v2 controller; the cgroup2 root %s has none (controllers bound to cgroup v1 on this hybrid host)", root)
		}
		if err := rc.writeFile("cgroup.subtree_control", "+"+ctrl); err != nil {
			t.Skipf("cannot enable %s in %s/cgroup.subtree_control: %v", ctrl, root, err)
		}
		t.Logf("enabled %s in %s/cgroup.subtree_control for the test", ctrl, root)
		t.Cleanup(func() {
			// Runs after cg's subtree_control has been cleared below.
			rc, err := OpenCgroup(root)
			if err == nil {
				err = rc.writeFile("cgroup.subtree_control", "-"+ctrl)
				rc.Close()
			}
			if err != nil {
				t.Logf("could not disable %s in %s again: %v", ctrl, root, err)
			}
		})
	}
	if err := cg.writeFile("cgroup.subtree_control", "+"+ctrl); err != nil {
		t.Skipf("cannot enable %s in %s/cgroup.subtree_control: %v", ctrl, cg.Path(), err)
	}
	t.Cleanup(func() { cg.writeFile("cgroup.subtree_control", "-"+ctrl) })
	return ctrl, threadedControllers[ctrl]
}

func TestFaultCgroupBusy(t *testing.T) {
	// "No internal processes": a non-root cgroup whose subtree_control
	// enables a domain controller, or any controller once it has a
	// populated child, cannot take a process (EBUSY).
	cg := testCgroup(t)
	ctrl, threaded := enableController(t, cg)
	if threaded {
		leaf, err := cg.Mkdir("leaf")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { leaf.Kill(); leaf.Remove() })
		p, err := Spawn("/bin/sleep", []string{"sleep", "60"}, &Attr{Cgroup: leaf})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Kill(); p.Wait(); p.Release() })
	}
	t.Logf("%s/cgroup.subtree_control: %s", cg.Path(), cgroupFile(t, cg, "cgroup.subtree_control"))
	forEachBackend(t, func(t *testing.T, b Backend) {
		skipFilteredCgroup(t, b, cg)
		is := is.New(t)
		noLeaks(t)
		p, err := failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: b, Cgroup: cg}))
		is.True(p == nil)                      // no child
		is.True(errors.Is(err, syscall.EBUSY)) // a cgroup with controllers enabled for its children takes no process
		t.Logf("controller %s enabled: %v", ctrl, err)
		is.True(noChild()) // nothing left, not even for a fork that moved itself
		procs, err := cg.Procs()
		is.NoErr(err)           // a plain directory to open
		is.Equal(len(procs), 0) // and nothing entered the cgroup
	})
}

func TestFaultCgroupNotCgroup2(t *testing.T) {
	// OpenCgroup refuses anything but a cgroup2 directory (TestOpenCgroupRejects);
	// a Cgroup built around a plain directory by hand reaches the kernel,
	// whose CLONE_INTO_CGROUP says EBADF. ForkNP (glibc's fork, then the
	// child writes cgroup.procs) checks the descriptor first and says the
	// same.
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		noLeaks(t)
		dir := t.TempDir()
		f, err := os.Open(dir)
		is.NoErr(err) // a plain directory
		cg := &Cgroup{path: dir, f: f}
		defer cg.Close()
		skipFilteredCgroup(t, b, cg)
		p, err := failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: b, Cgroup: cg}))
		is.True(p == nil) // no child
		t.Logf("plain directory as Cgroup: %v", err)
		is.True(errors.Is(err, syscall.EBADF)) // a descriptor that is no cgroup2 directory is refused
		is.True(noChild())                     // nothing left
	})
}

func TestFaultDirIsFile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		noLeaks(t)
		file := filepath.Join(t.TempDir(), "file")
		is.NoErr(os.WriteFile(file, nil, 0o644)) // a regular file to use as Dir
		p, err := failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: b, Dir: file}))
		is.True(p == nil)                        // no child
		is.True(errors.Is(err, syscall.ENOTDIR)) // ENOTDIR
		t.Logf("Dir is a file: %v", err)
		is.True(noChild()) // the failed child was reaped
		var pe *os.PathError
		is.True(errors.As(err, &pe)) // a *os.PathError
		if b != PidfdSpawn {
			// posix_spawn reports only the errno; the raw plan knows its step.
			is.Equal(pe.Op, "chdir") // naming the chdir step
			is.Equal(pe.Path, file)  // and the directory
		}
	})
}

func TestFaultReleaseThenUse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		noLeaks(t)
		p, err := Spawn("/bin/sleep", []string{"sleep", "60"}, &Attr{Backend: b})
		is.NoErr(err) // the child
		endOnCleanup(t, p)
		victim, err := Spawn("/bin/sleep", []string{"sleep", "60"}, &Attr{Backend: b})
		is.NoErr(err) // another process, which p must never reach
		defer func() { victim.Kill(); victim.Wait(); victim.Release() }()
		pid, fd := p.Pid(), p.Fd()
		is.NoErr(p.Release())   // the first Release succeeds
		endPidOnCleanup(t, pid) // reaped below, or by the cleanup if t ends first
		is.Equal(p.Fd(), -1)    // released: no descriptor

		// Put a pidfd of the victim on the descriptor number p had.
		var extra []int
		same := false
		for i := 0; i < 64 && !same; i++ {
			nfd, err := unix.PidfdOpen(victim.Pid(), 0)
			is.NoErr(err) // pidfd_open of a live process
			extra = append(extra, nfd)
			same = nfd == fd
		}
		defer func() {
			for _, fd := range extra {
				unix.Close(fd)
			}
		}()
		if !same {
			t.Logf("descriptor %d was not reused; checking without it", fd)
		}

		is.True(errors.Is(p.Signal(syscall.SIGKILL), ErrReleased)) // Signal after Release
		is.True(errors.Is(p.Kill(), ErrReleased))                  // Kill after Release
		_, err = p.Wait()
		is.True(errors.Is(err, ErrReleased)) // Wait after Release
		_, err = p.Getfd(0)
		is.True(errors.Is(err, ErrReleased)) // Getfd after Release
		_, err = p.Info()
		is.True(errors.Is(err, ErrReleased))         // Info after Release
		is.True(errors.Is(p.Release(), ErrReleased)) // Release twice
		is.NoErr(victim.Signal(syscall.Signal(0)))   // the process now on p's old descriptor number is untouched

		// The released child itself still runs, and is still ours to reap.
		q, err := OpenProcess(pid)
		is.NoErr(err) // a fresh handle
		endOnCleanup(t, q)
		is.NoErr(q.Signal(syscall.Signal(0))) // alive: Release never signals
		is.NoErr(q.Kill())                    // our own child, through the new handle
		st, err := q.Wait()
		is.NoErr(err)                          // reaped through the new handle
		is.Equal(st.Signal(), syscall.SIGKILL) // killed by us just now
		q.Release()

		// Released after Wait: the process is known to be done.
		r, err := Spawn("/bin/true", []string{"true"}, &Attr{Backend: b})
		is.NoErr(err) // /bin/true starts
		_, err = r.Wait()
		is.NoErr(err)                                                    // and is reaped
		is.NoErr(r.Release())                                            // Release after Wait
		is.True(errors.Is(r.Signal(syscall.SIGKILL), os.ErrProcessDone)) // reaped and released: done
		_, err = r.Info()
		is.True(errors.Is(err, os.ErrProcessDone)) // reaped: Info says done, as Signal
		_, err = r.Wait()
		is.True(errors.Is(err, ErrWaited)) // waited already
	})
}

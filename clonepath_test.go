//go:build linux && (amd64 || arm64)

package spawn

// The Clone3 backend where clone3 is filtered (the clone(2) path) and the
// clone3 probes. The clone path is forced here with forceClonePath, so that
// its behaviour is tested where clone3 works too; with SPAWN_TEST_CLONE_PATH=1
// the whole suite runs with it forced (CI), and under ci/no-clone3 it is
// taken for real.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/matryer/is"
	"golang.org/x/sys/unix"
)

func init() {
	if os.Getenv("SPAWN_TEST_CLONE_PATH") == "1" {
		forceClonePath.Store(true)
	}
}

// withClonePath forces the clone(2) path for the rest of the test.
func withClonePath(t *testing.T) {
	was := forceClonePath.Swap(true)
	t.Cleanup(func() { forceClonePath.Store(was) })
}

// clonePaths runs fn with the clone(2) path forced and, where clone3 works
// and the path is not forced for the whole run, with clone3.
func clonePaths(t *testing.T, fn func(t *testing.T)) {
	if Available(Clone3) != nil {
		t.Skipf("Clone3 not here: %v", Available(Clone3))
	}
	t.Run("clone", func(t *testing.T) {
		withClonePath(t)
		fn(t)
	})
	if !useClonePath() {
		t.Run("clone3", fn)
	}
}

func TestClonePathSpawn(t *testing.T) {
	withClonePath(t)
	is := is.New(t)
	noLeaks(t)
	p, err := Spawn("/bin/sh", []string{"sh", "-c", "exit 7"}, &Attr{Backend: Clone3})
	is.NoErr(err) // clone(2) makes the child
	endOnCleanup(t, p)
	is.Equal(p.Backend(), Clone3) // still the Clone3 backend
	st := mustWait(t, p)
	is.Equal(st.ExitCode(), 7) // and the status comes back through the pidfd

	p, err = Spawn("/bin/true", []string{"true"}, nil) // Auto
	is.NoErr(err)                                      // Auto spawns on it
	is.True(mustWait(t, p).Success())

	_, err = failed(Spawn("/nonexistent/spawn-clone-path", []string{"x"}, &Attr{Backend: Clone3}))
	var pe *os.PathError
	is.True(errors.As(err, &pe))            // a failed exec is a *os.PathError
	is.Equal(pe.Op, "execve")               // naming the step: the report reached the parent
	is.True(errors.Is(err, syscall.ENOENT)) // with its errno
	is.True(noChild())                      // and the child was reaped
}

func TestClonePathCmd(t *testing.T) {
	withClonePath(t)
	is := is.New(t)
	out, err := Command("sh", "-c", "echo ran; echo err >&2").CombinedOutput()
	is.NoErr(err)                       // Cmd runs on the clone path
	is.Equal(string(out), "ran\nerr\n") // with its pipes
	err = Command("sh", "-c", "exit 3").Run()
	var ee *ExitError
	is.True(errors.As(err, &ee)) // a failure is an *exec.ExitError
	is.Equal(ee.ExitCode(), 3)
}

// TestClonePathBeforeExec looks at the child between its creation and
// exec: it is made in a frozen cgroup, so it stops there (CLONE_INTO_CGROUP)
// or on its way back from writing cgroup.procs (the clone path), before the
// plan's steps and exec. Then it must be in the cgroup already, with no
// caught signal (SigCgt 0: no handler of this process can run in it), the
// ignored ones still ignored, and every signal blocked.
func TestClonePathBeforeExec(t *testing.T) {
	clonePaths(t, func(t *testing.T) {
		is := is.New(t)
		noLeaks(t)
		cg := testCgroup(t)
		freeze := func(v string) {
			t.Helper()
			is.NoErr(os.WriteFile(cg.Path()+"/cgroup.freeze", []byte(v), 0)) // cgroup.freeze (Linux 5.2)
		}
		freeze("1")
		defer freeze("0")
		signal.Ignore(syscall.SIGPWR)
		defer signal.Reset(syscall.SIGPWR)

		type result struct {
			p   *Process
			err error
		}
		done := make(chan result, 1)
		go func() {
			p, err := Spawn("/bin/true", []string{"true"}, &Attr{Backend: Clone3, Cgroup: cg})
			done <- result{p, err}
		}()
		// If t ends before it takes the spawn's result, the cleanup does:
		// it kills the child, which the cgroup may hold frozen (the spawn
		// then returns), and reaps it.
		taken := false
		t.Cleanup(func() {
			if taken {
				return
			}
			cg.Kill()
			if r := <-done; r.p != nil {
				r.p.Kill()
				r.p.Wait()
			}
		})
		var pid int
		for deadline := time.Now().Add(30 * time.Second); pid == 0; {
			select {
			case r := <-done:
				taken = true
				if r.p != nil {
					endOnCleanup(t, r.p)
				}
				t.Fatalf("the spawn returned before the child could run: %v", r.err)
			default:
			}
			pids, err := cg.Procs()
			is.NoErr(err)
			if len(pids) > 0 {
				pid = pids[0]
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no child appeared in the frozen cgroup")
			}
			time.Sleep(5 * time.Millisecond)
		}
		exe, _ := os.Readlink("/proc/self/exe")
		childExe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		is.NoErr(err)
		is.Equal(childExe, exe) // the child has not executed the program yet
		// Wait for it to be frozen, then read its signal state.
		for deadline := time.Now().Add(30 * time.Second); ; {
			if st := procStatus(t, pid, "State"); strings.HasPrefix(st, "S") || strings.HasPrefix(st, "D") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the child did not stop in the frozen cgroup")
			}
			time.Sleep(5 * time.Millisecond)
		}
		is.Equal(procStatus(t, pid, "SigCgt"), "0000000000000000") // no caught signal before exec
		ign, err := strconv.ParseUint(procStatus(t, pid, "SigIgn"), 16, 64)
		is.NoErr(err)
		is.True(ign&sigbit(syscall.SIGPWR) != 0) // an ignored signal stays ignored
		all := fmt.Sprintf("%016x", ^uint64(0)&^(sigbit(syscall.SIGKILL)|sigbit(syscall.SIGSTOP)))
		is.Equal(procStatus(t, pid, "SigBlk"), all) // and every signal is blocked

		freeze("0")
		r := <-done
		taken = true
		is.NoErr(r.err) // the thawed child executed the program
		endOnCleanup(t, r.p)
		is.Equal(r.p.Pid(), pid)
		st := mustWait(t, r.p)
		is.True(st.Success())
	})
}

func TestClonePathCgroupErrors(t *testing.T) {
	// A "domain invalid" cgroup (a sibling of a threaded one) takes no
	// process: the kernel refuses with EOPNOTSUPP, at clone3 with
	// CLONE_INTO_CGROUP and at the child's write of cgroup.procs alike.
	clonePaths(t, func(t *testing.T) {
		is := is.New(t)
		noLeaks(t)
		parent := testCgroup(t)
		threaded, err := parent.Mkdir("threaded")
		is.NoErr(err)
		defer func() { threaded.Remove(); threaded.Close() }()
		invalid, err := parent.Mkdir("invalid")
		is.NoErr(err)
		defer func() { invalid.Remove(); invalid.Close() }()
		is.NoErr(os.WriteFile(threaded.Path()+"/cgroup.type", []byte("threaded"), 0)) // its sibling becomes "domain invalid"
		p, err := failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: Clone3, Cgroup: invalid}))
		is.True(p == nil)                                      // no child
		is.True(errors.Is(err, syscall.EOPNOTSUPP))            // the kernel's refusal
		is.True(strings.Contains(err.Error(), invalid.Path())) // naming the cgroup
		t.Logf("into a domain invalid cgroup: %v", err)
		is.True(noChild()) // a failed child was reaped
	})
}

func TestClonePathLifecycleRefused(t *testing.T) {
	withClonePath(t)
	is := is.New(t)
	for _, attr := range []Attr{{AutoReap: true}, {AutoKill: true, NoNewPrivs: true}} {
		attr.Backend = Clone3
		p, err := failed(Spawn("/bin/true", []string{"true"}, &attr))
		is.True(p == nil)                                // no child
		is.True(errors.Is(err, ErrNotSupported))         // refused as unsupported
		is.True(strings.Contains(err.Error(), "clone3")) // naming clone3
		is.True(strings.Contains(err.Error(), "7.1"))    // and the release
	}
	is.True(!nnpAtClone(&Attr{NoNewPrivs: true})) // NoNewPrivs is a prctl step
	p := sleeper(t, Clone3, Attr{NoNewPrivs: true})
	is.Equal(procStatus(t, p.Pid(), "NoNewPrivs"), "1") // which works
}

func TestClone3ModeFor(t *testing.T) {
	for _, c := range []struct {
		err      error
		rel      string
		viaClone bool
		want     string // in the reason; "" for clone3 working
	}{
		{nil, "6.18.0", false, ""},
		{unix.ENOSYS, "6.18.0-1-amd64", true, "clone3 filtered (ENOSYS on Linux 6.18.0-1-amd64 ≥ 5.3: a seccomp filter or an emulator)"},
		{unix.ENOSYS, "5.2.21", false, "too old"},
		{unix.EPERM, "6.1.0", true, "filtered (EPERM"},
		{unix.EINVAL, "5.4.0", true, "CLONE_CLEAR_SIGHAND"},
		{unix.EINVAL, "5.3.18", false, "CLONE_CLEAR_SIGHAND"}, // no waitid(P_PIDFD): nothing serves
		{unix.E2BIG, "6.1.0", true, "88 bytes"},
	} {
		t.Run(fmt.Sprint(c.err, " ", c.rel), func(t *testing.T) {
			is := is.New(t)
			m, err := clone3ModeFor(c.err, c.rel)
			is.NoErr(err) // a conclusive answer
			is.Equal(m.viaClone, c.viaClone)
			if c.want == "" {
				is.NoErr(m.why) // clone3 works
				return
			}
			is.True(errors.Is(m.why, ErrNotSupported))       // clone3 is missing
			is.True(errors.Is(m.why, c.err))                 // with clone3's errno
			is.True(strings.Contains(m.why.Error(), c.want)) // and why
		})
	}
	for _, e := range []syscall.Errno{unix.EAGAIN, unix.ENOMEM, unix.EMFILE, unix.ENFILE, unix.EINTR, unix.EFAULT} {
		_, err := clone3ModeFor(e, "6.18.0")
		if !errors.Is(err, e) || conclusive(err) {
			t.Errorf("%v: %v, want the syscall error, inconclusive", e, err)
		}
	}
}

func TestProbeOnceCachesConclusiveOnly(t *testing.T) {
	is := is.New(t)
	answers := []error{unix.EMFILE, unix.ENFILE, unix.EAGAIN, unix.ENOMEM, unix.EINTR, unix.ENOSYS, nil}
	calls := 0
	probe := probeOnce(func() (int, error) {
		err := answers[calls]
		calls++
		return calls, err
	})
	for i, want := range answers[:6] {
		_, err := probe()
		is.Equal(err, want)  // each answer is returned as it is
		is.Equal(calls, i+1) // and a transient one is probed again
	}
	for i := 0; i < 3; i++ {
		v, err := probe()
		is.Equal(err, unix.ENOSYS) // ENOSYS is kept
		is.Equal(v, 6)
	}
	is.Equal(calls, 6) // without probing again
}

func TestClone3Probes(t *testing.T) {
	if why := clone3Why(); why != nil {
		t.Skipf("clone3 is not usable here: %v", why)
	}
	is := is.New(t)
	noLeaks(t)
	is.NoErr(clone3Accepts(unix.CLONE_CLEAR_SIGHAND))                                         // known flags: EBADF from the cgroup, no child
	is.True(errors.Is(clone3Accepts(1<<60), unix.EINVAL))                                     // an unknown flag: EINVAL
	is.NoErr(clone3Child(unix.CLONE_CLEAR_SIGHAND))                                           // the Linux 5.5/5.6 probe: a child without exit signal
	is.True(errors.Is(clone3Child(unix.CLONE_CLEAR_SIGHAND|unix.CLONE_SIGHAND), unix.EINVAL)) // refused combinations
	is.True(noChild())                                                                        // nothing left
}

// Fresh processes: only the first spawn of a process runs the probes.

func init() {
	// probe-sigchld: probe everything without a SIGCHLD arriving; then a
	// real child must deliver one (the watch works).
	registerHelper("probe-sigchld", func([]string) int {
		c := make(chan os.Signal, 8)
		signal.Notify(c, syscall.SIGCHLD)
		Available(Auto)
		Available(Clone3)
		lifecycleSupported(&Attr{AutoReap: true})
		lifecycleSupported(&Attr{AutoKill: true, NoNewPrivs: true})
		nnpAtClone(&Attr{NoNewPrivs: true})
		time.Sleep(300 * time.Millisecond)
		select {
		case <-c:
			fmt.Println("a probe delivered SIGCHLD")
			return 1
		default:
		}
		p, err := Spawn("/bin/true", []string{"true"}, &Attr{Backend: Clone3})
		if err != nil {
			fmt.Println(err)
			return 2
		}
		p.Wait()
		select {
		case <-c:
			return 0
		case <-time.After(30 * time.Second):
			fmt.Println("a real child delivered no SIGCHLD")
			return 2
		}
	})
	// probe-emfile: the first spawn with the descriptor table full fails
	// with EMFILE, and nothing is cached: with descriptors free again
	// spawning works.
	registerHelper("probe-emfile", func([]string) int {
		forceClonePath.Store(false) // the probes, not the path the tests force
		var lim unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
		small := lim
		small.Cur = 64
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &small); err != nil {
			fmt.Println("setrlimit:", err)
			return 2
		}
		var fill []int
		for {
			fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				break
			}
			fill = append(fill, fd)
		}
		_, spawnErr := failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: Clone3}))
		killErr := lifecycleSupported(&Attr{AutoKill: true, NoNewPrivs: true})
		for _, fd := range fill {
			unix.Close(fd)
		}
		unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
		if !errors.Is(spawnErr, unix.EMFILE) || errors.Is(spawnErr, ErrNotSupported) {
			fmt.Println("spawn with a full table:", spawnErr, "(want EMFILE)")
			return 1
		}
		if errors.Is(killErr, ErrNotSupported) && !errors.Is(killErr, unix.EINVAL) && !errors.Is(killErr, unix.ENOSYS) {
			fmt.Println("AutoKill probe with a full table:", killErr)
			return 1
		}
		p, err := Spawn("/bin/true", []string{"true"}, &Attr{Backend: Clone3})
		if err != nil {
			fmt.Println("spawn after the table emptied:", err)
			return 1
		}
		p.Wait()
		p.Release()
		if err := Available(Clone3); err != nil {
			fmt.Println("Available(Clone3) after the table emptied:", err)
			return 1
		}
		if kernelAtLeast(kernelRelease(), 7, 1) && clone3Why() == nil {
			if err := lifecycleSupported(&Attr{AutoKill: true, NoNewPrivs: true}); err != nil {
				fmt.Println("AutoKill after the table emptied:", err)
				return 1
			}
		}
		return 0
	})
	// clone3-lost: a seccomp filter installed after the first spawn makes
	// clone3 fail; the next spawn takes the clone path.
	registerHelper("clone3-lost", func([]string) int {
		forceClonePath.Store(false) // the probes, not the path the tests force
		if why := clone3Why(); why != nil {
			fmt.Println("skip:", why)
			return 3
		}
		p, err := Spawn("/bin/true", []string{"true"}, &Attr{Backend: Clone3})
		if err != nil {
			fmt.Println("first spawn:", err)
			return 2
		}
		p.Wait()
		if err := filterClone3(); err != nil {
			fmt.Println("skip: installing a seccomp filter:", err)
			return 3
		}
		if useClonePath() {
			fmt.Println("the clone path before any clone3 failed")
			return 1
		}
		p, err = Spawn("/bin/sh", []string{"sh", "-c", "exit 5"}, &Attr{Backend: Clone3})
		if err != nil {
			fmt.Println("spawn after the filter:", err)
			return 1
		}
		st, _ := p.Wait()
		if st.ExitCode() != 5 || !useClonePath() || !strings.Contains(fmt.Sprint(clone3Why()), "installed later") {
			fmt.Println("after the filter:", st, useClonePath(), clone3Why())
			return 1
		}
		return 0
	})
}

// filterClone3 installs, on every thread of this process, a seccomp filter
// that makes clone3 fail with ENOSYS.
func filterClone3() error {
	return filterSyscall(unix.SYS_CLONE3, unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS))
}

// filterSyscall installs, on every thread of this process, a seccomp filter
// that answers system call nr with ret (a SECCOMP_RET_* action).
func filterSyscall(nr, ret uint32) error {
	arch := uint32(unix.AUDIT_ARCH_X86_64)
	if unix.SYS_CLONE3 != 435 || unsafe.Sizeof(uintptr(0)) != 8 {
		return errors.New("unexpected architecture")
	}
	if runtime.GOARCH == "arm64" {
		arch = unix.AUDIT_ARCH_AARCH64
	}
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 4}, // seccomp_data.arch
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 3, K: arch},
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: nr},
		{Code: unix.BPF_RET | unix.BPF_K, K: ret},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	if e != 0 {
		return e
	}
	return nil
}

// runFreshHelper runs helper name in a fresh process (os/exec) and fails the test with its
// output unless it exits 0; exit status 3 skips.
func runFreshHelper(t *testing.T, name string) {
	t.Helper()
	path, argv, env := helperArgv(name)
	cmd := exec.Command(path)
	cmd.Args = argv
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 3 {
		t.Skipf("%s", strings.TrimSpace(string(out)))
	}
	if err != nil {
		t.Fatalf("helper %s: %v\n%s", name, err, out)
	}
}

func TestProbesDeliverNoSIGCHLD(t *testing.T) { runFreshHelper(t, "probe-sigchld") }

func TestProbesCacheNoEMFILE(t *testing.T) { runFreshHelper(t, "probe-emfile") }

func TestClone3FilteredAfterFirstSpawn(t *testing.T) { runFreshHelper(t, "clone3-lost") }

// TestAutoUnderFilter runs under ci/no-clone3: Auto spawns into a cgroup
// through the clone(2) path (glibc's pidfd_spawn places a child in a cgroup
// only with clone3, and fails with EOPNOTSUPP where it is filtered), and
// uses glibc's pidfd_spawn otherwise where the glibc has it (it falls back
// to clone by itself).
func TestAutoUnderFilter(t *testing.T) {
	why := clone3Filtered()
	if why == nil {
		t.Skip("clone3 is not filtered here (the CI's container legs run this under ci/no-clone3)")
	}
	is := is.New(t)
	noLeaks(t)
	cg := testCgroup(t)
	p, err := Spawn("/bin/true", []string{"true"}, &Attr{Cgroup: cg})
	is.NoErr(err) // Auto spawns into the cgroup
	endOnCleanup(t, p)
	is.Equal(p.Backend(), Clone3) // on the clone path
	is.True(mustWait(t, p).Success())
	if Available(PidfdSpawn) != nil {
		t.Logf("no pidfd_spawn here: %v", Available(PidfdSpawn))
		return
	}
	p, err = Spawn("/bin/true", []string{"true"}, nil)
	is.NoErr(err) // glibc's pidfd_spawn survives the filter
	endOnCleanup(t, p)
	is.Equal(p.Backend(), PidfdSpawn) // and Auto still prefers it
	is.True(mustWait(t, p).Success())
}

//go:build linux

package spawn

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"
	"golang.org/x/sys/unix"
)

// sleeper starts /bin/sleep 60 with attr on backend b: a program that
// changes nothing about itself, so /proc/PID shows what the spawn set up.
func sleeper(t *testing.T, b Backend, attr Attr) *Process {
	t.Helper()
	attr.Backend = b
	p, err := Spawn("/bin/sleep", []string{"sleep", "60"}, &attr)
	if err != nil {
		t.Fatalf("spawn sleep on %v: %v", b, err)
	}
	t.Cleanup(func() {
		p.Kill()
		p.Wait()
		p.Release()
	})
	waitSleeping(t, p.Pid())
	return p
}

// waitSleeping waits until process pid sleeps in nanosleep: its exec is
// complete (Spawn returns when the new program's memory is in place, before
// the kernel has closed close-on-exec descriptors and reset handlers).
func waitSleeping(t *testing.T, pid int) {
	t.Helper()
	for i := 0; i < 5000; i++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", pid))
		if err != nil {
			t.Fatalf("read /proc/%d/syscall: %v", pid, err)
		}
		nr, _, _ := strings.Cut(string(b), " ")
		if nr == strconv.Itoa(unix.SYS_CLOCK_NANOSLEEP) || nr == strconv.Itoa(unix.SYS_NANOSLEEP) {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("process %d never reached nanosleep", pid)
}

// sleeperFds returns the descriptors of a sleeper with their targets.
func sleeperFds(t *testing.T, p *Process) map[int]string {
	t.Helper()
	fds := map[int]string{}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		n, _ := strconv.Atoi(e.Name())
		fds[n], _ = os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", p.Pid(), e.Name()))
	}
	return fds
}

// procStatus reads a field of /proc/PID/status.
func procStatus(t *testing.T, pid int, field string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return ""
}

// report is what the "report" helper finds about itself after exec.
type report struct {
	Cwd  string
	Pid  int
	Sid  int
	Pgid int
}

func init() {
	// report FILE: write a JSON report about this process to FILE.
	registerHelper("report", func(args []string) int {
		var r report
		r.Cwd, _ = os.Getwd()
		r.Pid = os.Getpid()
		r.Sid, _ = unix.Getsid(0)
		r.Pgid = unix.Getpgrp()
		b, _ := json.Marshal(r)
		if err := os.WriteFile(args[0], b, 0o644); err != nil {
			return 1
		}
		return 0
	})
}

// runReport spawns the report helper with attr on backend b, waits for it
// and returns its report. attr.Env gets SPAWN_HELPER=report added.
func runReport(t *testing.T, b Backend, attr Attr) report {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	path, argv, env := helperArgv("report", out)
	attr.Backend = b
	if attr.Env == nil {
		attr.Env = env
	} else {
		attr.Env = append(slices.Clip(attr.Env), "SPAWN_HELPER=report")
	}
	p, err := Spawn(path, argv, &attr)
	if err != nil {
		t.Fatalf("spawn report helper on %v: %v", b, err)
	}
	if st := mustWait(t, p); !st.Success() {
		t.Fatalf("report helper: %v", st)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// selfStatus runs cat /proc/self/status in a child made with attr: the
// child's view of its signal state and flags once exec has completed.
func selfStatus(t *testing.T, b Backend, attr Attr) map[string]string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	attr.Backend = b
	attr.Files = []*os.File{nil, w, os.Stderr}
	p, err := Spawn("/bin/cat", []string{"cat", "/proc/self/status"}, &attr)
	w.Close()
	if err != nil {
		t.Fatalf("spawn cat on %v: %v", b, err)
	}
	fields := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		fields[k] = strings.TrimSpace(v)
	}
	if st := mustWait(t, p); !st.Success() {
		t.Fatalf("cat: %v", st)
	}
	return fields
}

func fdKeys(m map[int]string) []int {
	keys := slices.Collect(maps.Keys(m))
	slices.Sort(keys)
	return keys
}

func TestSpawnExitStatus(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		p, err := Spawn("/bin/sh", []string{"sh", "-c", "exit 3"}, &Attr{Backend: b})
		is.NoErr(err) // sh starts
		endOnCleanup(t, p)
		is.Equal(p.Backend(), b) // the forced backend made it
		st := mustWait(t, p)
		is.Equal(st.ExitCode(), 3) // its status
	})
}

func TestSpawnNotFound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		p, err := failed(Spawn("/nonexistent/prog", []string{"prog"}, &Attr{Backend: b}))
		is.True(p == nil)                       // no process
		is.True(errors.Is(err, fs.ErrNotExist)) // ENOENT
		var pe *os.PathError
		is.True(errors.As(err, &pe))           // a *os.PathError
		is.Equal(pe.Path, "/nonexistent/prog") // naming the program
	})
}

func TestSpawnENOEXEC(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		script := filepath.Join(t.TempDir(), "script")
		is.NoErr(os.WriteFile(script, []byte("exit 0\n"), 0o755))
		_, err := failed(Spawn(script, []string{"script"}, &Attr{Backend: b}))
		is.True(errors.Is(err, syscall.ENOEXEC)) // no #!: no /bin/sh retry
	})
}

func TestSpawnEACCES(t *testing.T) {
	if os.Getuid() == 0 {
		// Root passes the permission check for files with any x bit, not
		// for files with none, nor for directories.
	}
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		dir := t.TempDir()
		file := filepath.Join(dir, "noexec")
		is.NoErr(os.WriteFile(file, []byte("#!/bin/sh\n"), 0o644))
		_, err := failed(Spawn(file, []string{"noexec"}, &Attr{Backend: b}))
		is.True(errors.Is(err, syscall.EACCES)) // a file without x bits
		_, err = failed(Spawn(dir, []string{"dir"}, &Attr{Backend: b}))
		is.True(errors.Is(err, syscall.EACCES)) // a directory
	})
}

func TestSpawnPSearchesCallerPath(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		dir := t.TempDir()
		prog := filepath.Join(dir, "spawn-test-prog")
		is.NoErr(os.WriteFile(prog, []byte("#!/bin/sh\nexit 9\n"), 0o755))
		t.Setenv("PATH", dir+":/usr/bin:/bin")
		p, err := SpawnP("spawn-test-prog", []string{"spawn-test-prog"}, &Attr{Backend: b, Env: []string{"PATH=/nowhere"}})
		is.NoErr(err) // found in the caller's PATH, not Env's
		is.Equal(mustWait(t, p).ExitCode(), 9)

		t.Setenv("PATH", "/nowhere")
		_, err = failed(SpawnP("spawn-test-prog", []string{"x"}, &Attr{Backend: b, Env: []string{"PATH=" + dir}}))
		is.True(errors.Is(err, fs.ErrNotExist)) // Env's PATH is not searched

		p, err = SpawnP(prog, []string{"x"}, &Attr{Backend: b})
		is.NoErr(err) // a name with a slash is used as given
		is.Equal(mustWait(t, p).ExitCode(), 9)
	})
}

func TestSpawnDir(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		dir, err := filepath.EvalSymlinks(t.TempDir())
		is.NoErr(err)
		is.Equal(runReport(t, b, Attr{Dir: dir}).Cwd, dir) // Dir applied before exec

		_, err = failed(Spawn("/bin/sleep", []string{"sleep", "0"}, &Attr{Backend: b, Dir: filepath.Join(dir, "missing")}))
		is.True(errors.Is(err, fs.ErrNotExist)) // a missing Dir fails cleanly
	})
}

func TestSpawnEnvExact(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		environ := func(p *Process) []string {
			raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.Pid()))
			is.NoErr(err)
			if len(raw) == 0 {
				return []string{}
			}
			return strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
		}
		env := []string{"A=1", "B=two words", "EMPTY=", "A=2"}
		is.Equal(environ(sleeper(t, b, Attr{Env: env})), env)               // exactly the given environment, duplicates and order kept
		is.Equal(environ(sleeper(t, b, Attr{Env: []string{}})), []string{}) // an empty Env is empty
		is.Equal(environ(sleeper(t, b, Attr{})), os.Environ())              // nil Env: the parent's
	})
}

func TestSpawnFiles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		// A non-close-on-exec descriptor of the parent.
		leak, err := unix.Open("/dev/null", unix.O_RDONLY, 0)
		is.NoErr(err)
		defer unix.Close(leak)

		r, w, err := os.Pipe()
		is.NoErr(err)
		defer r.Close()
		defer w.Close()
		target := func(f *os.File) string {
			s, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
			return s
		}
		// fd 0: nil (closed); 1: w; 2: r; 3: w again.
		fds := sleeperFds(t, sleeper(t, b, Attr{Files: []*os.File{nil, w, r, w}}))
		is.Equal(fds, map[int]string{1: target(w), 2: target(r), 3: target(w)}) // Files laid out, nil closed, nothing else

		fds = sleeperFds(t, sleeper(t, b, Attr{}))
		is.Equal(fdKeys(fds), []int{0, 1, 2}) // default: 0, 1, 2 inherited, the rest closed

		fds = sleeperFds(t, sleeper(t, b, Attr{InheritFDs: true}))
		is.True(fds[leak] != "") // InheritFDs keeps non-CLOEXEC descriptors
	})
}

func TestSpawnFilesCollide(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		// Sources that are each other's targets: a swap.
		r, w, err := os.Pipe()
		is.NoErr(err)
		defer r.Close()
		defer w.Close()
		a, c := int(r.Fd()), int(w.Fd())
		files := make([]*os.File, max(a, c)+1)
		files[a] = w
		files[c] = r
		fds := sleeperFds(t, sleeper(t, b, Attr{Files: files}))
		ta, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", a))
		tc, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", c))
		is.Equal(fds[a], tc) // the swap landed: child fd a is the parent's fd c
		is.Equal(fds[c], ta) // and child fd c the parent's fd a
	})
}

func TestSpawnClosedFile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		f, err := os.Open("/dev/null")
		is.NoErr(err)
		f.Close()
		_, err = failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: b, Files: []*os.File{f}}))
		is.True(errors.Is(err, syscall.EBADF)) // a closed *os.File is EBADF before any child
	})
}

func TestSpawnSession(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		rep := runReport(t, b, Attr{Setsid: true})
		is.Equal(rep.Sid, rep.Pid)  // a session leader
		is.Equal(rep.Pgid, rep.Pid) // and a group leader

		rep = runReport(t, b, Attr{Setpgid: true})
		is.Equal(rep.Pgid, rep.Pid) // a new group led by the child
		is.Equal(rep.Sid, sid())    // in our session

		q := sleeper(t, b, Attr{Setpgid: true})
		rep = runReport(t, b, Attr{Setpgid: true, Pgid: q.Pid()})
		is.Equal(rep.Pgid, q.Pid()) // joined the given group
	})
}

func sid() int {
	s, _ := unix.Getsid(0)
	return s
}

func TestSpawnSignals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		st := selfStatus(t, b, Attr{SigMask: []syscall.Signal{syscall.SIGUSR1, syscall.SIGTERM}})
		mask := uint64(1)<<(syscall.SIGUSR1-1) | 1<<(syscall.SIGTERM-1)
		is.Equal(st["SigBlk"], fmt.Sprintf("%016x", mask)) // SigMask is the child's mask

		st = selfStatus(t, b, Attr{})
		is.Equal(st["SigBlk"], "0000000000000000") // default: nothing blocked
		is.Equal(st["SigCgt"], "0000000000000000") // no handler survives exec

		// An ignored signal stays ignored unless listed in SigDefault.
		ignoreSignal(t, syscall.SIGUSR2)
		ign, _ := strconv.ParseUint(selfStatus(t, b, Attr{})["SigIgn"], 16, 64)
		is.True(ign&(1<<(syscall.SIGUSR2-1)) != 0) // still ignored
		ign, _ = strconv.ParseUint(selfStatus(t, b, Attr{SigDefault: []syscall.Signal{syscall.SIGUSR2}})["SigIgn"], 16, 64)
		is.True(ign&(1<<(syscall.SIGUSR2-1)) == 0) // reset by SigDefault
	})
}

// ignoreSignal sets sig to SIG_IGN for the test's length. signal.Ignore
// would do, but signal.Reset does not restore SIG_IGN's absence for a
// signal the runtime handles, so use the raw call and restore.
func ignoreSignal(t *testing.T, sig syscall.Signal) {
	var old [4]uint64
	ign := [4]uint64{1} // SIG_IGN
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafePointer(&ign)), uintptr(unsafePointer(&old)), 8, 0, 0)
	if e != 0 {
		t.Fatal(e)
	}
	t.Cleanup(func() {
		unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafePointer(&old)), 0, 8, 0, 0)
	})
}

func TestSpawnCgroup(t *testing.T) {
	cg := testCgroup(t)
	forEachBackend(t, func(t *testing.T, b Backend) {
		skipFilteredCgroup(t, b, cg)
		is := is.New(t)
		p := sleeper(t, b, Attr{Cgroup: cg})
		procs, err := cg.Procs()
		is.NoErr(err)
		is.True(slices.Contains(procs, p.Pid())) // the child is in the cgroup
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p.Pid()))
		is.NoErr(err)
		root, _ := Cgroup2Root()
		rel := strings.TrimPrefix(cg.Path(), root)
		is.True(strings.Contains(string(raw), "0::"+rel+"\n")) // its /proc/PID/cgroup says so
		p.Kill()
		p.Wait()
	})
}

func TestSpawnBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		for name, c := range map[string]struct {
			path string
			argv []string
			attr Attr
		}{
			"path":       {"/bin/t\x00rue", []string{"true"}, Attr{}},
			"argv":       {"/bin/true", []string{"tr\x00ue"}, Attr{}},
			"env":        {"/bin/true", []string{"true"}, Attr{Env: []string{"A=\x00"}}},
			"dir":        {"/bin/true", []string{"true"}, Attr{Dir: "/t\x00mp"}},
			"sigmask":    {"/bin/true", []string{"true"}, Attr{SigMask: []syscall.Signal{65}}},
			"sigdefault": {"/bin/true", []string{"true"}, Attr{SigDefault: []syscall.Signal{syscall.SIGKILL}}},
			"pgid":       {"/bin/true", []string{"true"}, Attr{Pgid: 5}},
		} {
			c.attr.Backend = b
			p, err := failed(Spawn(c.path, c.argv, &c.attr))
			is.True(p == nil)                       // no child
			is.True(errors.Is(err, syscall.EINVAL)) // EINVAL
			_ = name
		}
	})
}

func TestSpawnConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		const goroutines, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, goroutines*each)
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < each; i++ {
					code := (g*each + i) % 200
					p, err := Spawn("/bin/sh", []string{"sh", "-c", "exit " + strconv.Itoa(code)}, &Attr{Backend: b})
					if err != nil {
						errs <- err
						continue
					}
					st, err := p.Wait()
					p.Release()
					if err == nil && st.ExitCode() != code {
						err = fmt.Errorf("child %d: got %v, want exit %d", st.Pid(), st, code)
					}
					errs <- err
				}
			}(g)
		}
		wg.Wait()
		close(errs)
		n := 0
		for err := range errs {
			is.NoErr(err) // every spawn and wait is right
			n++
		}
		is.Equal(n, goroutines*each) // all ran
	})
}

func init() {
	// emfile: with RLIMIT_NOFILE at its current use, spawning must fail
	// with EMFILE and leave nothing behind. args[0] is the backend.
	registerHelper("emfile", func(args []string) int {
		b, _ := ParseBackend(args[0])
		// Fill every descriptor slot.
		var lim unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
		lim.Cur = 64
		unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
		var held []int
		for {
			fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				break
			}
			held = append(held, fd)
		}
		_, err := failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: b}))
		if !errors.Is(err, syscall.EMFILE) {
			fmt.Fprintln(os.Stderr, "want EMFILE, got", err)
			return 1
		}
		var si unix.Siginfo
		if unix.Waitid(unix.P_ALL, 0, &si, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil) != unix.ECHILD {
			fmt.Fprintln(os.Stderr, "a child was left behind")
			return 2
		}
		// One slot free: the descriptor count must be as before.
		unix.Close(held[len(held)-1])
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "a descriptor leaked:", err)
			return 3
		}
		unix.Close(fd)
		return 0
	})
}

func TestSpawnEMFILE(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		p := spawnHelper(t, Auto, "emfile", b.String())
		st := mustWait(t, p)
		is.Equal(st.ExitCode(), 0) // EMFILE, no child, no descriptor leaked
	})
}

func TestAutoPicksBackend(t *testing.T) {
	is := is.New(t)
	p, err := Spawn("/bin/true", []string{"true"}, nil)
	is.NoErr(err) // a nil Attr works
	endOnCleanup(t, p)
	want := Clone3
	if Available(PidfdSpawn) == nil {
		want = PidfdSpawn
	}
	is.Equal(p.Backend(), want) // Auto prefers pidfd_spawn when the glibc has it
	mustWait(t, p)

	q, err := Spawn("/bin/true", []string{"true"}, &Attr{Rlimits: []Rlimit{{unix.RLIMIT_CORE, 0, 0}}})
	is.NoErr(err)
	endOnCleanup(t, q)
	is.Equal(q.Backend(), Clone3) // what posix_spawn cannot express goes to Clone3
	mustWait(t, q)
}

func TestPidfdSpawnRejectsClone3Fields(t *testing.T) {
	is := is.New(t)
	for _, attr := range []Attr{
		{Rlimits: []Rlimit{{unix.RLIMIT_CORE, 0, 0}}},
		{Pdeathsig: syscall.SIGTERM},
		{NoNewPrivs: true},
	} {
		attr.Backend = PidfdSpawn
		_, err := failed(Spawn("/bin/true", []string{"true"}, &attr))
		is.True(errors.Is(err, ErrNotSupported)) // a field pidfd_spawn cannot carry
	}
}

func TestSpawnRlimits(t *testing.T) {
	for _, b := range backends(t) {
		if b == PidfdSpawn {
			continue
		}
		t.Run(b.String(), func(t *testing.T) {
			is := is.New(t)
			p := sleeper(t, b, Attr{Rlimits: []Rlimit{{unix.RLIMIT_NOFILE, 123, 456}, {unix.RLIMIT_CORE, 0, 0}}})
			var lim unix.Rlimit
			is.NoErr(unix.Prlimit(p.Pid(), unix.RLIMIT_NOFILE, nil, &lim))
			is.Equal(lim, unix.Rlimit{Cur: 123, Max: 456}) // the limit was applied in the child

			r, w, err := os.Pipe()
			is.NoErr(err)
			defer r.Close()
			q, err := Spawn("/bin/sh", []string{"sh", "-c", "ulimit -n"}, &Attr{Backend: b, Files: []*os.File{nil, w, os.Stderr},
				Rlimits: []Rlimit{{unix.RLIMIT_NOFILE, 77, 456}}})
			w.Close()
			is.NoErr(err)
			endOnCleanup(t, q)
			out := make([]byte, 16)
			n, _ := r.Read(out)
			is.Equal(strings.TrimSpace(string(out[:n])), "77") // ulimit -n in the child prints it
			mustWait(t, q)
		})
	}
}

func TestSpawnNoNewPrivs(t *testing.T) {
	for _, b := range backends(t) {
		if b == PidfdSpawn {
			continue
		}
		t.Run(b.String(), func(t *testing.T) {
			is := is.New(t)
			p := sleeper(t, b, Attr{NoNewPrivs: true})
			is.Equal(procStatus(t, p.Pid(), "NoNewPrivs"), "1")     // set in the child
			is.Equal(procStatus(t, os.Getpid(), "NoNewPrivs"), "0") // not in the parent
			q := sleeper(t, b, Attr{})
			is.Equal(procStatus(t, q.Pid(), "NoNewPrivs"), "0") // plain spawn: not set
		})
	}
}

func init() {
	// pdeathsig BACKEND: from a goroutine locked to a thread of its own,
	// spawn a sleeper with Pdeathsig SIGUSR1 and let the goroutine end
	// without unlocking, which ends the thread; the child must die of
	// SIGUSR1. The main goroutine holds the main thread, which the runtime
	// never ends.
	registerHelper("pdeathsig", func(args []string) int {
		runtime.LockOSThread()
		b, _ := ParseBackend(args[0])
		got := make(chan *Process)
		go func() {
			runtime.LockOSThread()
			p, err := Spawn("/bin/sleep", []string{"sleep", "60"}, &Attr{Backend: b, Pdeathsig: syscall.SIGUSR1})
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
			got <- p
		}()
		p := <-got
		if p == nil {
			return 1
		}
		st, err := p.Wait()
		if err != nil || st.Signal() != syscall.SIGUSR1 {
			fmt.Fprintln(os.Stderr, "want death by SIGUSR1, got", st, err)
			return 2
		}
		return 0
	})
}

func TestSpawnPdeathsig(t *testing.T) {
	for _, b := range backends(t) {
		if b == PidfdSpawn {
			continue
		}
		t.Run(b.String(), func(t *testing.T) {
			is := is.New(t)
			st := mustWait(t, spawnHelper(t, Auto, "pdeathsig", b.String()))
			is.Equal(st.ExitCode(), 0) // the spawning thread's exit signalled the child
		})
	}
}

func TestSpawnStress(t *testing.T) {
	// 4 goroutines × 500 spawns per backend while another goroutine floods
	// the process with SIGUSR1 (caught through signal.Notify) and forces
	// collections: no failure, no crash, nothing left behind.
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		n := 500
		if testing.Short() {
			n = 50
		}
		sigs := make(chan os.Signal, 64)
		signal.Notify(sigs, syscall.SIGUSR1)
		defer signal.Stop(sigs)
		stop := make(chan struct{})
		var flood sync.WaitGroup
		flood.Add(2)
		go func() {
			defer flood.Done()
			for {
				select {
				case <-stop:
					return
				case <-sigs:
				}
			}
		}()
		go func() {
			defer flood.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				unix.Kill(os.Getpid(), unix.SIGUSR1)
				if i%50 == 0 {
					runtime.GC()
				}
				time.Sleep(50 * time.Microsecond)
			}
		}()
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < n; i++ {
					p, err := Spawn("/bin/true", []string{"true"}, &Attr{Backend: b})
					if err != nil {
						errs <- fmt.Errorf("spawn %d: %w", i, err)
						return
					}
					st, err := p.Wait()
					p.Release()
					if err != nil || !st.Success() {
						errs <- fmt.Errorf("wait %d: %v %v", i, st, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		flood.Wait()
		close(errs)
		for err := range errs {
			is.NoErr(err) // every spawn and wait under the signal flood succeeds
		}
	})
}

// nolibcSleeperSrc is a static program without a C library that sleeps
// until killed: after its exec, its signal mask is the one the spawn gave
// it (a C library or the Go runtime would unblock their own signals).
const nolibcSleeperSrc = `
void _start(void) {
	static const long ts[2] = {60, 0};
	for (;;) {
#if defined(__x86_64__)
		register long nr __asm__("rax") = 35; /* nanosleep */
		register const long *req __asm__("rdi") = ts;
		register long rem __asm__("rsi") = 0;
		__asm__ volatile("syscall" : "+r"(nr) : "r"(req), "r"(rem) : "rcx", "r11", "memory");
#elif defined(__aarch64__)
		register long nr __asm__("x8") = 101; /* nanosleep */
		register const long *req __asm__("x0") = ts;
		register long rem __asm__("x1") = 0;
		__asm__ volatile("svc #0" : "+r"(req) : "r"(nr), "r"(rem) : "memory");
#else
#error "add nanosleep for this architecture"
#endif
	}
}
`

// buildNolibc compiles src with gcc -static -nostdlib, or skips the test.
func buildNolibc(t *testing.T, src string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("needs gcc to build a program without a C library:", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prog.c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "prog")
	if out, err := exec.Command(gcc, "-static", "-nostdlib", "-O2", "-o", bin, filepath.Join(dir, "prog.c")).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

// TestSpawnSigMaskLibcSignals: signals 32 and 33 in SigMask are blocked in
// the child by every backend that runs; PidfdSpawn, whose glibc drops them,
// refuses such a mask, and Auto picks a backend that carries it.
func TestSpawnSigMaskLibcSignals(t *testing.T) {
	prog := buildNolibc(t, nolibcSleeperSrc)
	mask := []syscall.Signal{syscall.SIGUSR1, 32, 33}
	want := fmt.Sprintf("%016x", uint64(1)<<(syscall.SIGUSR1-1)|1<<31|1<<32)
	for _, b := range append(backends(t), Auto) {
		t.Run(b.String(), func(t *testing.T) {
			is := is.New(t)
			p, err := Spawn(prog, []string{"sleeper"}, &Attr{Backend: b, SigMask: mask})
			if p != nil {
				defer func() { p.Kill(); p.Wait(); p.Release() }()
			}
			if b == PidfdSpawn {
				is.True(errors.Is(err, ErrNotSupported)) // pidfd_spawn cannot block 32 and 33
				return
			}
			is.NoErr(err)
			is.True(p.Backend() != PidfdSpawn) // Auto picks a backend that can
			waitSleeping(t, p.Pid())
			is.Equal(procStatus(t, p.Pid(), "SigBlk"), want) // the whole mask, 32 and 33 included
		})
	}
}

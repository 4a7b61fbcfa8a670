//go:build linux

package spawn

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"
	"golang.org/x/sys/unix"
)

// Cmd under pressure: full and empty pipes, odd environments, error texts,
// all compared with os/exec.

func init() {
	// cmd-fdflags prints "FD FLAGS" (octal, from /proc/self/fdinfo) for
	// descriptors 0, 1 and 2, or for those named in args.
	registerHelper("cmd-fdflags", func(args []string) int {
		if len(args) == 0 {
			args = []string{"0", "1", "2"}
		}
		var b strings.Builder
		for _, fd := range args {
			flags, err := fdinfoFlags("/proc/self/fdinfo/" + fd)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Fprintf(&b, "%s %o\n", fd, flags)
		}
		// One write to descriptor 1, whatever its mode.
		if _, err := unix.Write(1, []byte(b.String())); err != nil {
			return 2
		}
		return 0
	})
}

// fdinfoFlags reads the "flags:" line of a /proc/PID/fdinfo/FD file.
func fdinfoFlags(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "flags:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 8, 64)
			return int(n), err
		}
	}
	return 0, fmt.Errorf("%s: no flags line", path)
}

// parseFdFlags reads cmd-fdflags' report.
func parseFdFlags(t *testing.T, out string) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		fd, v, ok := strings.Cut(line, " ")
		n, err := strconv.ParseInt(v, 8, 64)
		if !ok || err != nil {
			t.Fatalf("cmd-fdflags said %q", out)
		}
		m[fd] = int(n)
	}
	return m
}

func nonblocking(t *testing.T, f *os.File) bool {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	var ferr error
	rc.Control(func(fd uintptr) { flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0) })
	if ferr != nil {
		t.Fatal(ferr)
	}
	return flags&unix.O_NONBLOCK != 0
}

// The child's ends of the pipes a Cmd makes are blocking, as under os/exec;
// only the parent's end is non-blocking, in the poller.
func TestCmdPipesBlockInChild(t *testing.T) {
	forEachCmdBackend(t, func(t *testing.T, b Backend) {
		t.Run("copied", func(t *testing.T) {
			is := is.New(t)
			c := helperCmd(b, "cmd-fdflags")
			c.Stdin = strings.NewReader("")
			var out, errb bytes.Buffer
			c.Stdout, c.Stderr = &out, &errb
			is.NoErr(c.Run()) // the helper reads its fdinfo
			for fd, flags := range parseFdFlags(t, out.String()) {
				if flags&unix.O_NONBLOCK != 0 {
					t.Errorf("the child's descriptor %s is non-blocking (flags %o)", fd, flags)
				}
			}
		})
		t.Run("Pipe methods", func(t *testing.T) {
			is := is.New(t)
			c := helperCmd(b, "cmd-fdflags")
			stdin, err := c.StdinPipe()
			is.NoErr(err) // a stdin pipe
			stdout, err := c.StdoutPipe()
			is.NoErr(err) // a stdout pipe
			stderr, err := c.StderrPipe()
			is.NoErr(err) // a stderr pipe
			for _, f := range []any{stdin.(*onceCloser).File, stdout, stderr} {
				is.True(nonblocking(t, f.(*os.File))) // the parent's ends are in the poller
			}
			is.NoErr(c.Start()) // the helper starts
			endCmdOnCleanup(t, c)
			out, err := io.ReadAll(stdout)
			is.NoErr(err)      // its report
			is.NoErr(c.Wait()) // and it exits 0
			for fd, flags := range parseFdFlags(t, string(out)) {
				if flags&unix.O_NONBLOCK != 0 {
					t.Errorf("the child's descriptor %s is non-blocking (flags %o)", fd, flags)
				}
			}
		})
	})
}

// A program that writes more than a pipe holds gets every byte to Output.
func TestCmdOutputLarge(t *testing.T) {
	if _, err := exec.LookPath("head"); err != nil {
		t.Skipf("needs head in PATH: %v", err)
	}
	const n = 20000000
	forEachCmdBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		c := Command("sh", "-c", "head -c 20000000 /dev/zero")
		c.Attr = &Attr{Backend: b}
		out, err := c.Output()
		is.NoErr(err)         // head never sees EAGAIN
		is.Equal(len(out), n) // and Output has all of it, as os/exec
	})
}

// A program that reads a pipe that is empty for a while waits for data.
func TestCmdSlowStdin(t *testing.T) {
	if _, err := exec.LookPath("cat"); err != nil {
		t.Skipf("needs cat in PATH: %v", err)
	}
	forEachCmdBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		pr, pw := io.Pipe()
		go func() {
			time.Sleep(200 * time.Millisecond) // cat finds the pipe empty first
			pw.Write([]byte("late\n"))
			pw.Close()
		}()
		c := Command("cat")
		c.Attr = &Attr{Backend: b}
		c.Stdin = pr
		out, err := c.Output()
		is.NoErr(err)                   // cat blocked in read instead of failing with EAGAIN
		is.Equal(string(out), "late\n") // and copied what came
	})
}

// A non-blocking *os.File of the caller's (an os.Pipe end) reaches the
// child blocking, as under os/exec: both switch the File to blocking mode.
func TestFilesNonblockingBecomeBlocking(t *testing.T) {
	check := func(t *testing.T, run func(w *os.File) error) {
		is := is.New(t)
		r, w, err := os.Pipe()
		is.NoErr(err) // a pipe
		defer r.Close()
		is.True(nonblocking(t, w)) // os.Pipe's ends are non-blocking
		err = run(w)
		w.Close()
		is.NoErr(err) // the helper ran
		out, err := io.ReadAll(r)
		is.NoErr(err) // its report
		flags := parseFdFlags(t, string(out))
		is.Equal(flags["1"]&unix.O_NONBLOCK, 0) // the child's descriptor 1 blocks
	}
	t.Run("os/exec", func(t *testing.T) {
		check(t, func(w *os.File) error {
			path, argv, env := helperArgv("cmd-fdflags", "1")
			c := &exec.Cmd{Path: path, Args: argv, Env: env, Stdout: w}
			err := c.Run()
			if nonblocking(t, w) {
				t.Error("os/exec left the File non-blocking: the comparison no longer holds")
			}
			return err
		})
	})
	forEachBackend(t, func(t *testing.T, b Backend) {
		t.Run("Spawn", func(t *testing.T) {
			check(t, func(w *os.File) error {
				path, argv, env := helperArgv("cmd-fdflags", "1")
				p, err := Spawn(path, argv, &Attr{Backend: b, Env: env, Files: []*os.File{nil, w, os.Stderr}})
				if err != nil {
					return err
				}
				st := mustWait(t, p)
				if !st.Success() {
					return errors.New(st.String())
				}
				return nil
			})
		})
		t.Run("Cmd", func(t *testing.T) {
			check(t, func(w *os.File) error {
				c := helperCmd(b, "cmd-fdflags", "1")
				c.Stdout = w
				return c.Run()
			})
		})
	})
}

// Cmd's errors that os/exec also returns say what os/exec says.
func TestCmdErrorTextMatchesExec(t *testing.T) {
	is := is.New(t)
	path, argv, env := helperArgv("exit", "0")
	type both struct {
		name string
		ours func() error
		exec func() error
	}
	eCmd := func() *exec.Cmd { return &exec.Cmd{Path: path, Args: argv, Env: env} }
	sCmd := func() *Cmd { return &Cmd{Path: path, Args: argv, Env: env} }
	cases := []both{
		{"no command", func() error { return (&Cmd{}).Run() }, func() error { return (&exec.Cmd{}).Run() }},
		{"already started",
			func() error { c := sCmd(); c.Start(); defer c.Wait(); return c.Start() },
			func() error { c := eCmd(); c.Start(); defer c.Wait(); return c.Start() }},
		{"Start after a failed Start",
			func() error { c := &Cmd{Path: "/nonexistent/spawn-test"}; c.Start(); return c.Start() },
			func() error { c := &exec.Cmd{Path: "/nonexistent/spawn-test"}; c.Start(); return c.Start() }},
		{"not started", func() error { return sCmd().Wait() }, func() error { return eCmd().Wait() }},
		{"Wait twice",
			func() error { c := sCmd(); c.Run(); return c.Wait() },
			func() error { c := eCmd(); c.Run(); return c.Wait() }},
		{"Output with Stdout",
			func() error { c := sCmd(); c.Stdout = io.Discard; return errOf(c.Output()) },
			func() error { c := eCmd(); c.Stdout = io.Discard; return errOf(c.Output()) }},
		{"CombinedOutput with Stdout",
			func() error { c := sCmd(); c.Stdout = io.Discard; return errOf(c.CombinedOutput()) },
			func() error { c := eCmd(); c.Stdout = io.Discard; return errOf(c.CombinedOutput()) }},
		{"CombinedOutput with Stderr",
			func() error { c := sCmd(); c.Stderr = io.Discard; return errOf(c.CombinedOutput()) },
			func() error { c := eCmd(); c.Stderr = io.Discard; return errOf(c.CombinedOutput()) }},
		{"StdinPipe with Stdin",
			func() error { c := sCmd(); c.Stdin = strings.NewReader(""); return errOf(c.StdinPipe()) },
			func() error { c := eCmd(); c.Stdin = strings.NewReader(""); return errOf(c.StdinPipe()) }},
		{"StdoutPipe with Stdout",
			func() error { c := sCmd(); c.Stdout = io.Discard; return errOf(c.StdoutPipe()) },
			func() error { c := eCmd(); c.Stdout = io.Discard; return errOf(c.StdoutPipe()) }},
		{"StderrPipe with Stderr",
			func() error { c := sCmd(); c.Stderr = io.Discard; return errOf(c.StderrPipe()) },
			func() error { c := eCmd(); c.Stderr = io.Discard; return errOf(c.StderrPipe()) }},
		{"StdinPipe after Start",
			func() error { c := sCmd(); c.Start(); defer c.Wait(); return errOf(c.StdinPipe()) },
			func() error { c := eCmd(); c.Start(); defer c.Wait(); return errOf(c.StdinPipe()) }},
		{"StdoutPipe after Start",
			func() error { c := sCmd(); c.Start(); defer c.Wait(); return errOf(c.StdoutPipe()) },
			func() error { c := eCmd(); c.Start(); defer c.Wait(); return errOf(c.StdoutPipe()) }},
		{"StderrPipe after Start",
			func() error { c := sCmd(); c.Start(); defer c.Wait(); return errOf(c.StderrPipe()) },
			func() error { c := eCmd(); c.Start(); defer c.Wait(); return errOf(c.StderrPipe()) }},
		{"Cancel without CommandContext",
			func() error { c := sCmd(); c.Cancel = func() error { return nil }; return failedStart(c) },
			func() error { c := eCmd(); c.Cancel = func() error { return nil }; return c.Start() }},
		{"environment with NUL",
			func() error { c := sCmd(); c.Env = []string{"A=b\x00c"}; return failedStart(c) },
			func() error { c := eCmd(); c.Env = []string{"A=b\x00c"}; return c.Start() }},
		{"Cancel fails",
			func() error { return cancelFails(t, true) },
			func() error { return cancelFails(t, false) }},
	}
	for _, c := range cases {
		ours, theirs := c.ours(), c.exec()
		if theirs == nil || ours == nil {
			t.Errorf("%s: os/exec says %v, Cmd says %v: both should fail", c.name, theirs, ours)
			continue
		}
		if c.name == "Start after a failed Start" && theirs.Error() != "exec: already started" {
			// os/exec before Go 1.26 tries again after a failed Start; Cmd
			// refuses, as os/exec does from Go 1.26 on.
			is.Equal(ours.Error(), "exec: already started") // Cmd refuses a second Start on every Go
			continue
		}
		if ours.Error() != theirs.Error() {
			t.Errorf("%s: Cmd says %q, os/exec says %q", c.name, ours, theirs)
		}
	}
	is.True(len(cases) > 0) // something was compared
}

// errOf returns the error of a two-valued call.
func errOf[T any](_ T, err error) error { return err }

// cancelFails runs a child that exits 0 once its Cancel (which fails) has
// been called, through Cmd or os/exec, and returns Wait's error.
func cancelFails(t *testing.T, ours bool) error {
	path, argv, env := helperArgv("cmd-cat")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	boom := errors.New("boom")
	if ours {
		c := CommandContext(ctx, path)
		c.Args, c.Env = argv, env
		in, err := c.StdinPipe()
		if err != nil {
			return err
		}
		c.Cancel = func() error { in.Close(); return boom } // the child exits 0 at end of file
		if err := c.Start(); err != nil {
			return err
		}
		cancel()
		return c.Wait()
	}
	c := exec.CommandContext(ctx, path)
	c.Args, c.Env = argv, env
	in, err := c.StdinPipe()
	if err != nil {
		return err
	}
	c.Cancel = func() error { in.Close(); return boom }
	if err := c.Start(); err != nil {
		return err
	}
	cancel()
	return c.Wait()
}

// The environment: odd entries are kept or dropped as os/exec does.
func TestCmdEnvironMatchesExec(t *testing.T) {
	is := is.New(t)
	for _, env := range [][]string{
		{"B", "B=3"},               // an entry without '=' is kept
		{"A=1", "B", "A=2", ""},    // an empty one dropped
		{"=C:=x", "=C:=y", "D=1"},  // a leading '=' belongs to the key
		{"A=1", "A=b\x00c", "E=5"}, // NUL: dropped, and A=1 stays
		{"A=b\x00c"},
	} {
		c := &Cmd{Path: "/bin/true", Env: env}
		e := &exec.Cmd{Path: "/bin/true", Env: env}
		is.Equal(c.Environ(), e.Environ()) // Environ as os/exec's
	}
}

// An entry without '=' reaches the child as it is, next to the key it
// resembles.
func TestCmdEnvNoEquals(t *testing.T) {
	forEachCmdBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		c := helperCmd(b, "cmd-environ")
		c.Env = append(c.Env, "SPAWN_B", "SPAWN_B=3")
		out, err := c.Output()
		is.NoErr(err) // the helper ran
		lines := strings.Split(string(out), "\n")
		is.True(slicesContains(lines, "SPAWN_B"))   // the bare entry is there
		is.True(slicesContains(lines, "SPAWN_B=3")) // and so is the variable
	})
}

func init() {
	// cmd-environ prints its environment block, one entry a line (including
	// entries without '=', which os.Environ keeps).
	registerHelper("cmd-environ", func(args []string) int {
		b, err := os.ReadFile("/proc/self/environ")
		if err != nil {
			return 1
		}
		os.Stdout.Write(bytes.ReplaceAll(b, []byte{0}, []byte{'\n'}))
		return 0
	})
}

// Validation errors are *os.PathError named after the backend that was
// forced; an unknown Backend too.
func TestSpawnValidationNames(t *testing.T) {
	is := is.New(t)
	for b, op := range map[Backend]string{Auto: "pidfd_spawn", PidfdSpawn: "pidfd_spawn", Clone3: "clone3", ForkNP: "fork_np", 99: "pidfd_spawn"} {
		_, err := failed(Spawn("/bin/true", []string{"true", "a\x00b"}, &Attr{Backend: b}))
		var pe *os.PathError
		is.True(errors.As(err, &pe))            // a *os.PathError
		is.Equal(pe.Op, op)                     // named after the backend
		is.True(errors.Is(err, syscall.EINVAL)) // wrapping EINVAL
	}
	_, err := failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: 99}))
	var pe *os.PathError
	is.True(errors.As(err, &pe))            // an unknown backend is a *os.PathError
	is.True(errors.Is(err, syscall.EINVAL)) // wrapping EINVAL
	_, err = failed(SpawnP("true", []string{"true"}, &Attr{Backend: -1}))
	is.True(errors.As(err, &pe)) // from SpawnP too
	is.Equal(pe.Op, "pidfd_spawnp")
}

// SpawnP with a relative PATH entry searches from Attr.Dir, the child's
// working directory, on every backend (as glibc's pidfd_spawnp does).
func TestSpawnPRelativePath(t *testing.T) {
	is := is.New(t)
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skipf("needs sh: %v", err)
	}
	top := t.TempDir()
	dir := filepath.Join(top, "work")
	is.NoErr(os.MkdirAll(filepath.Join(dir, "bin"), 0o755)) // Dir/bin
	is.NoErr(os.MkdirAll(filepath.Join(top, "bin"), 0o755)) // and bin beside it, where a search from here would look
	script := func(p, word string) {
		is.NoErr(os.WriteFile(p, []byte("#!"+sh+"\necho "+word+"\n"), 0o755)) // a script
	}
	script(filepath.Join(dir, "bin", "spawn-rel-prog"), "from-dir")     // only in Dir/bin
	script(filepath.Join(top, "bin", "spawn-rel-other"), "from-parent") // only in the parent's bin
	wd, err := os.Getwd()
	is.NoErr(err)
	is.NoErr(os.Chdir(top)) // relative entries now name top/bin for this process
	defer os.Chdir(wd)
	t.Setenv("PATH", "bin:"+os.Getenv("PATH"))
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		r, w, err := os.Pipe()
		is.NoErr(err)
		defer r.Close()
		p, err := SpawnP("spawn-rel-prog", []string{"spawn-rel-prog"}, &Attr{Backend: b, Dir: dir, Files: []*os.File{nil, w, os.Stderr}})
		w.Close()
		is.NoErr(err) // found relative to Dir
		out, _ := io.ReadAll(r)
		is.True(mustWait(t, p).Success())
		is.Equal(string(out), "from-dir\n") // the program in Dir/bin, as execvp after the chdir finds it

		_, err = failed(SpawnP("spawn-rel-other", []string{"spawn-rel-other"}, &Attr{Backend: b, Dir: dir}))
		is.True(errors.Is(err, os.ErrNotExist)) // what only the parent's bin holds is not found from Dir
	})
}

// A closed Cgroup refuses everything: Remove removes nothing.
func TestCgroupClosedRefuses(t *testing.T) {
	is := is.New(t)
	root, err := Cgroup2Root()
	if err != nil {
		t.Skipf("cgroup v2 needed: %v", err)
	}
	parent, err := OpenCgroup(root)
	if err != nil {
		t.Skipf("cgroup v2 root not usable: %v", err)
	}
	defer parent.Close()
	cg, err := parent.Mkdir(fmt.Sprintf("spawn-test-%d-closed", os.Getpid()))
	if err != nil {
		t.Skipf("cannot create a cgroup under %s (needs write access, e.g. root): %v", root, err)
	}
	path := cg.Path()
	defer os.Remove(path)
	is.NoErr(cg.Close()) // closed

	err = cg.Remove()
	is.True(errors.Is(err, os.ErrClosed)) // Remove refuses
	_, serr := os.Stat(path)
	is.NoErr(serr) // and the directory is still there
	_, err = cg.Mkdir("sub")
	is.True(errors.Is(err, os.ErrClosed)) // so does Mkdir
	_, err = cg.Procs()
	is.True(errors.Is(err, os.ErrClosed))       // and Procs
	is.True(errors.Is(cg.Kill(), os.ErrClosed)) // and Kill
	is.Equal(cg.Fd(), -1)                       // no descriptor
	_, err = failed(Spawn("/bin/true", []string{"true"}, &Attr{Cgroup: cg}))
	is.True(errors.Is(err, syscall.EBADF)) // and no child goes into it
	is.True(cg.Close() != nil)             // a second Close fails as os.File's does
	is.NoErr(os.Remove(path))              // what the caller removes itself
}

// A cgroup v1 directory is reported as what it is.
func TestOpenCgroupV1(t *testing.T) {
	is := is.New(t)
	b, err := os.ReadFile("/proc/self/mountinfo")
	is.NoErr(err) // the mount table
	var v1 string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if f := strings.Fields(pre); ok && strings.HasPrefix(post, "cgroup ") && len(f) >= 5 {
			v1 = unescapeMount(f[4])
			break
		}
	}
	if v1 == "" {
		t.Skip("needs a cgroup v1 hierarchy mounted (a hybrid host)")
	}
	_, err = OpenCgroup(v1)
	is.True(err != nil) // refused
	t.Log(err)
	is.True(strings.Contains(err.Error(), "cgroup v1"))        // saying it is cgroup v1
	is.True(!strings.Contains(err.Error(), "not a directory")) // without a misleading tail
	is.True(errors.Is(err, syscall.ENOTDIR))                   // still matching ENOTDIR
}

func init() { registerHelper("cmd-nofile-emfile", nofileEmfileHelper) }

// nofileEmfileHelper runs in a fresh process whose soft RLIMIT_NOFILE the
// Go runtime raised (soft = hard-1). Its first Cmd starts while the
// descriptor table has a single free slot: the probe that learns the
// original limit fails with EMFILE, the child still starts. Its second Cmd
// starts after the table has emptied. It prints the soft limit each child
// saw, one a line.
func nofileEmfileHelper(args []string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	sh, err := exec.LookPath("sh")
	if err != nil {
		return fail(err)
	}
	// Whatever a first spawn and a first parked Wait set up, before the
	// table fills (no Cmd: the NOFILE probe must not run yet).
	p, err := Spawn(sh, []string{"sh", "-c", "sleep 0.05"}, &Attr{Backend: Clone3})
	if err != nil {
		return fail(err)
	}
	p.Wait()
	p.Release()
	r, w, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	run := func() error {
		c := Command(sh, "-c", "ulimit -Sn")
		c.Stdin, c.Stdout, c.Stderr = os.Stdin, w, os.Stderr
		c.Attr = &Attr{Backend: Clone3}
		return c.Run()
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return fail(err)
	}
	defer null.Close()
	var fill []int
	for {
		fd, err := unix.Dup(int(null.Fd()))
		if err != nil {
			if err != unix.EMFILE {
				return fail(err)
			}
			break
		}
		fill = append(fill, fd)
	}
	unix.Close(fill[len(fill)-1]) // one slot: the pidfd's, not the probe's pipe
	fill = fill[:len(fill)-1]
	err1 := run()
	for _, fd := range fill {
		unix.Close(fd)
	}
	if err1 != nil {
		return fail(fmt.Errorf("first Start, with a full table: %w", err1))
	}
	if err := run(); err != nil {
		return fail(fmt.Errorf("second Start: %w", err))
	}
	w.Close()
	out, _ := io.ReadAll(r)
	os.Stdout.Write(out)
	return 0
}

// The NOFILE probe caches no transient failure: a Cmd started under
// descriptor pressure inherits the raised limit (and starts), the next one
// gets the original limit back.
func TestCmdNofileProbeRetries(t *testing.T) {
	is := is.New(t)
	hard := nofileTestHard(t)
	path, argv, env := helperArgv("cmd-nofile-emfile")
	r, w, err := os.Pipe()
	is.NoErr(err) // a pipe for the report
	defer r.Close()
	var stderr bytes.Buffer
	er, ew, err := os.Pipe()
	is.NoErr(err) // and one for its complaints
	defer er.Close()
	p, err := Spawn(path, argv, &Attr{
		Env:     env,
		Files:   []*os.File{nil, w, ew},
		Rlimits: []Rlimit{{Resource: unix.RLIMIT_NOFILE, Cur: 256, Max: hard}},
	})
	w.Close()
	ew.Close()
	is.NoErr(err) // a fresh process, soft 256 raised by its runtime to hard-1
	out, _ := io.ReadAll(r)
	stderr.ReadFrom(er)
	st := mustWait(t, p)
	if !st.Success() {
		t.Fatalf("helper: %v: %s", st, stderr.String())
	}
	lines := strings.Fields(string(out))
	is.Equal(len(lines), 2)                       // two children reported
	is.Equal(lines[0], strconv.Itoa(int(hard-1))) // under pressure: the raised limit, and Start succeeded
	is.Equal(lines[1], "256")                     // afterwards: the original, the probe ran again
}

//go:build linux

package spawn

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"
	"golang.org/x/sys/unix"
)

// Ports of the os/exec behaviours that programs rely on, run over every
// backend (and Auto), plus the RLIMIT_NOFILE restore and the probes.

func init() {
	// cmd-print OUT ERR CODE: writes OUT to stdout, then ERR to stderr,
	// exits CODE.
	registerHelper("cmd-print", func(args []string) int {
		os.Stdout.WriteString(args[0])
		os.Stderr.WriteString(args[1])
		n, _ := strconv.Atoi(args[2])
		return n
	})
	// cmd-cat copies stdin to stdout.
	registerHelper("cmd-cat", func(args []string) int {
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			return 1
		}
		return 0
	})
	// cmd-fd3 writes its argument to descriptor 3.
	registerHelper("cmd-fd3", func(args []string) int {
		if _, err := os.NewFile(3, "fd3").WriteString(args[0]); err != nil {
			return 1
		}
		return 0
	})
	// cmd-where prints its working directory, then the values of the
	// variables named in args, one a line.
	registerHelper("cmd-where", func(args []string) int {
		wd, _ := os.Getwd()
		fmt.Println(wd)
		for _, k := range args {
			fmt.Println(os.Getenv(k))
		}
		return 0
	})
	// cmd-sid prints whether it leads its own session.
	registerHelper("cmd-sid", func(args []string) int {
		sid, _ := unix.Getsid(0)
		fmt.Println(sid == os.Getpid())
		return 0
	})
	// cmd-orphan starts a grandchild that sleeps ARG with this helper's
	// stdout, prints the grandchild's pid and exits at once, leaving the
	// grandchild holding the pipe.
	registerHelper("cmd-orphan", func(args []string) int {
		path, argv, env := helperArgv("sleep", args[0])
		// Inside a helper, os.Environ already holds SPAWN_HELPER, and the
		// first of duplicates wins for getenv: keep only the last.
		env, _ = dedupEnv(env)
		p, err := Spawn(path, argv, &Attr{Env: env})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(p.Pid())
		p.Release()
		return 0
	})
	registerHelper("cmd-nofile", nofileHelper)
}

// helperCmd returns a Cmd that runs helper name on backend b.
func helperCmd(b Backend, name string, args ...string) *Cmd {
	path, argv, env := helperArgv(name, args...)
	return &Cmd{Path: path, Args: argv, Env: env, Attr: &Attr{Backend: b}}
}

// helperCmdContext is helperCmd through CommandContext.
func helperCmdContext(ctx context.Context, b Backend, name string, args ...string) *Cmd {
	path, argv, env := helperArgv(name, args...)
	c := CommandContext(ctx, path)
	c.Args, c.Env, c.Attr = argv, env, &Attr{Backend: b}
	return c
}

// forEachCmdBackend runs fn for Auto and for every available backend.
func forEachCmdBackend(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Run(Auto.String(), func(t *testing.T) { fn(t, Auto) })
	forEachBackend(t, fn)
}

// slow is a bound no correct run comes near: it catches a hang, never
// measures speed.
const slow = 30 * time.Second

func TestCmdOutput(t *testing.T) {
	forEachCmdBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		out, err := helperCmd(b, "cmd-print", "hello\n", "", "0").Output()
		is.NoErr(err)                    // the helper exits 0
		is.Equal(string(out), "hello\n") // Output returns stdout
	})
}

func TestCmdExitError(t *testing.T) {
	forEachCmdBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		out, err := helperCmd(b, "cmd-print", "partial", "boom", "3").Output()
		is.Equal(string(out), "partial") // stdout is returned with the error
		var ee *ExitError
		is.True(errors.As(err, &ee))                            // a non-zero exit is an *ExitError
		is.Equal(ee.ExitCode(), 3)                              // with the exit code
		is.Equal(string(ee.Stderr), "boom")                     // and stderr captured by Output
		is.Equal(ee.Error(), "exit status 3")                   // worded as os/exec words it
		is.True(ee.SysUsage().(*syscall.Rusage) != nil)         // with resource usage
		is.True(!ee.Exited() || !ee.Success())                  // State methods are promoted
		is.Equal(ee.Sys().(syscall.WaitStatus).ExitStatus(), 3) // down to the raw status
		is.True(ee.Pid() > 0)                                   // and the pid
		is.True(errors.As(err, new(*ExitError)))                // errors.As finds it
	})
}

func TestCmdStderrNotCapturedWhenSet(t *testing.T) {
	is := is.New(t)
	var stderr bytes.Buffer
	c := helperCmd(Auto, "cmd-print", "", "to the writer", "1")
	c.Stderr = &stderr
	_, err := c.Output()
	var ee *ExitError
	is.True(errors.As(err, &ee))                   // exit 1
	is.Equal(len(ee.Stderr), 0)                    // Output leaves a caller's Stderr alone
	is.Equal(stderr.String(), "to the writer")     // which got everything
	is.Equal(c.ProcessState.ExitCode(), 1)         // ProcessState is set
	is.Equal(c.ProcessState.String(), ee.Error())  // and is the same status
	is.True(c.ProcessState.Pid() == c.Process.Pid) // of the same process
}

func TestCmdCombinedOutput(t *testing.T) {
	forEachCmdBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		out, err := helperCmd(b, "cmd-print", "out\n", "err\n", "0").CombinedOutput()
		is.NoErr(err)                       // the helper exits 0
		is.Equal(string(out), "out\nerr\n") // one pipe, in the order written
		c := helperCmd(b, "cmd-print", "", "", "0")
		c.Stdout = io.Discard
		_, err = c.CombinedOutput()
		is.True(err != nil) // Stdout must be nil
	})
}

func TestCmdStdinReader(t *testing.T) {
	forEachCmdBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		c := helperCmd(b, "cmd-cat")
		input := strings.Repeat("some input\n", 20000) // more than a pipe holds
		c.Stdin = strings.NewReader(input)
		out, err := c.Output()
		is.NoErr(err)                // cat exits 0
		is.Equal(string(out), input) // and echoes all of stdin
	})
}

func TestCmdStdinFile(t *testing.T) {
	is := is.New(t)
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	is.NoErr(err) // a temporary file
	defer f.Close()
	_, err = f.WriteString("from a file")
	is.NoErr(err) // written
	_, err = f.Seek(0, io.SeekStart)
	is.NoErr(err) // rewound
	c := helperCmd(Auto, "cmd-cat")
	c.Stdin = f
	out, err := c.Output()
	is.NoErr(err)                        // cat exits 0
	is.Equal(string(out), "from a file") // an *os.File is the child's stdin itself
}

func TestCmdPipes(t *testing.T) {
	forEachCmdBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		c := helperCmd(b, "cmd-cat")
		in, err := c.StdinPipe()
		is.NoErr(err) // StdinPipe before Start
		out, err := c.StdoutPipe()
		is.NoErr(err) // StdoutPipe before Start
		_, err = c.StdoutPipe()
		is.True(err != nil) // Stdout is taken now
		is.NoErr(c.Start()) // the child starts
		endCmdOnCleanup(t, c)
		_, err = c.StdinPipe()
		is.True(err != nil) // not after Start

		r := bufio.NewReader(out)
		for i := range 3 {
			line := fmt.Sprintf("ping %d\n", i)
			_, err := io.WriteString(in, line)
			is.NoErr(err) // the child reads its stdin
			got, err := r.ReadString('\n')
			is.NoErr(err)       // and answers on stdout
			is.Equal(got, line) // in lockstep
		}
		is.NoErr(in.Close()) // end of input
		is.NoErr(in.Close()) // closing twice is harmless
		rest, err := io.ReadAll(r)
		is.NoErr(err)          // stdout reaches end of file
		is.Equal(len(rest), 0) // with nothing more
		is.NoErr(c.Wait())     // cat exits 0
	})
}

func TestCmdStderrPipe(t *testing.T) {
	is := is.New(t)
	c := helperCmd(Auto, "cmd-print", "", "on stderr", "0")
	errPipe, err := c.StderrPipe()
	is.NoErr(err)       // StderrPipe before Start
	is.NoErr(c.Start()) // the child starts
	endCmdOnCleanup(t, c)
	got, err := io.ReadAll(errPipe)
	is.NoErr(err)                      // read to end of file
	is.Equal(string(got), "on stderr") // what the child wrote
	is.NoErr(c.Wait())                 // the helper exits 0
}

func TestCmdExtraFiles(t *testing.T) {
	forEachCmdBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		r, w, err := os.Pipe()
		is.NoErr(err) // a pipe
		defer r.Close()
		c := helperCmd(b, "cmd-fd3", "via fd 3")
		c.ExtraFiles = []*os.File{w}
		err = c.Run()
		w.Close()
		is.NoErr(err) // the helper wrote to descriptor 3
		got, err := io.ReadAll(r)
		is.NoErr(err)                     // the pipe reaches end of file
		is.Equal(string(got), "via fd 3") // ExtraFiles[0] is descriptor 3
	})
}

func TestCmdDirEnv(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	path, argv, env := helperArgv("cmd-where", "PWD", "SPAWN_DUP")
	c := &Cmd{Path: path, Args: argv, Dir: dir}
	// Env nil: the parent's environment, plus PWD for Dir.
	t.Setenv("SPAWN_HELPER", "cmd-where")
	t.Setenv("SPAWN_DUP", "parent")
	is.True(slicesContains(c.Environ(), "PWD="+dir)) // Environ shows PWD
	out, err := c.Output()
	is.NoErr(err)                                    // the helper exits 0
	is.Equal(string(out), dir+"\n"+dir+"\nparent\n") // cwd, PWD, the inherited variable

	// An explicit Env is used as given; the last of duplicates wins.
	c = &Cmd{Path: path, Args: argv, Dir: dir, Env: append(env, "SPAWN_DUP=1", "PWD=/elsewhere", "SPAWN_DUP=2")}
	is.Equal(countPrefix(c.Environ(), "SPAWN_DUP="), 1) // deduplicated
	out, err = c.Output()
	is.NoErr(err)                                  // the helper exits 0
	is.Equal(string(out), dir+"\n/elsewhere\n2\n") // PWD untouched, last value wins
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func countPrefix(s []string, prefix string) int {
	n := 0
	for _, x := range s {
		if strings.HasPrefix(x, prefix) {
			n++
		}
	}
	return n
}

func TestCmdAttr(t *testing.T) {
	forEachCmdBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		c := helperCmd(b, "cmd-sid")
		c.Attr.Setsid = true
		c.Attr.Env = []string{"IGNORED=1"} // Cmd's own fields win
		out, err := c.Output()
		is.NoErr(err)                   // the helper ran: Attr.Env was replaced by Cmd.Env
		is.Equal(string(out), "true\n") // Attr.Setsid reached the child
		if b != Auto {
			is.Equal(c.Handle().Backend(), b) // Attr.Backend chose the backend
		}
	})
}

func TestCmdContextKill(t *testing.T) {
	forEachCmdBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		c := helperCmdContext(ctx, b, "sleep", "1m")
		start := time.Now()
		err := c.Run()
		is.True(time.Since(start) < slow) // returns once the context expires, not after a minute
		var ee *ExitError
		is.True(errors.As(err, &ee))                                      // the killed child's status is the error
		is.Equal(ee.Sys().(syscall.WaitStatus).Signal(), syscall.SIGKILL) // killed by the default Cancel
		is.Equal(ee.Error(), "signal: killed")                            // worded as os/exec words it
		is.True(errors.Is(ctx.Err(), context.DeadlineExceeded))           // because the context expired
	})
}

func TestCmdContextDoneBeforeStart(t *testing.T) {
	is := is.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := helperCmdContext(ctx, Auto, "exit", "0")
	is.True(errors.Is(failedStart(c), context.Canceled)) // no child for a done context
	is.True(c.Process == nil)                            // none at all
}

func TestCmdCancelOverride(t *testing.T) {
	forEachCmdBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		ctx, cancel := context.WithCancel(context.Background())
		c := helperCmdContext(ctx, b, "sleep", "1m")
		called := make(chan struct{})
		c.Cancel = func() error {
			close(called)
			return c.Process.Signal(syscall.SIGTERM)
		}
		is.NoErr(c.Start()) // the child starts
		cancel()
		err := c.Wait()
		<-called
		var ee *ExitError
		is.True(errors.As(err, &ee))                                      // the child's status
		is.Equal(ee.Sys().(syscall.WaitStatus).Signal(), syscall.SIGTERM) // is the custom Cancel's signal
	})
}

func TestCmdCancelThenSuccess(t *testing.T) {
	is := is.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	c := helperCmdContext(ctx, Auto, "cmd-cat")
	in, err := c.StdinPipe()
	is.NoErr(err) // a stdin pipe
	// Cancel asks politely: cat sees end of file and exits 0.
	c.Cancel = in.Close
	is.NoErr(c.Start()) // the child starts
	cancel()
	err = c.Wait()
	is.True(errors.Is(err, context.Canceled)) // a success after Cancel still reports the context
	is.True(c.ProcessState.Success())         // while the child did exit 0
}

func TestCmdCancelError(t *testing.T) {
	is := is.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	c := helperCmdContext(ctx, Auto, "cmd-cat")
	in, err := c.StdinPipe()
	is.NoErr(err) // a stdin pipe
	boom := errors.New("cancel failed")
	c.Cancel = func() error { in.Close(); return boom }
	is.NoErr(c.Start()) // the child starts
	cancel()
	err = c.Wait()
	is.True(errors.Is(err, boom)) // Cancel's error is wrapped into Wait's
}

func TestCmdCancelWithoutContext(t *testing.T) {
	is := is.New(t)
	c := helperCmd(Auto, "exit", "0")
	c.Cancel = func() error { return nil }
	is.True(failedStart(c) != nil) // Cancel needs CommandContext
	is.True(c.Process == nil)      // and nothing started
}

func TestCmdWaitDelayKills(t *testing.T) {
	is := is.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	c := helperCmdContext(ctx, Auto, "sleep", "1m")
	c.Cancel = func() error { return nil } // a Cancel the child ignores
	c.WaitDelay = 100 * time.Millisecond
	is.NoErr(c.Start()) // the child starts
	start := time.Now()
	cancel()
	err := c.Wait()
	is.True(time.Since(start) < slow) // WaitDelay bounds the wait
	var ee *ExitError
	is.True(errors.As(err, &ee))                                      // the child's status
	is.Equal(ee.Sys().(syscall.WaitStatus).Signal(), syscall.SIGKILL) // killed once WaitDelay passed
}

func TestCmdWaitDelayClosesPipes(t *testing.T) {
	forEachCmdBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		var out bytes.Buffer
		c := helperCmd(b, "cmd-orphan", "1m")
		c.Stdout = &out
		c.WaitDelay = 200 * time.Millisecond
		start := time.Now()
		err := c.Run()
		is.True(time.Since(start) < slow)          // the grandchild does not hold Wait for a minute
		is.True(errors.Is(err, exec.ErrWaitDelay)) // Wait says the pipes were cut
		is.True(c.ProcessState.Success())          // the child itself exited 0
		pid, perr := strconv.Atoi(strings.TrimSpace(out.String()))
		is.NoErr(perr) // the child printed the grandchild's pid before exiting
		if g, err := OpenProcess(pid); err == nil {
			g.Kill()
			g.Release()
		}
	})
}

func TestCmdWaitDelayUnused(t *testing.T) {
	is := is.New(t)
	c := helperCmd(Auto, "cmd-print", "quick", "", "0")
	var out bytes.Buffer
	c.Stdout = &out
	c.WaitDelay = time.Minute
	is.NoErr(c.Run())               // no ErrWaitDelay when the pipes close by themselves
	is.Equal(out.String(), "quick") // and everything was copied
}

func TestCmdStartTwice(t *testing.T) {
	forEachCmdBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		c := helperCmd(b, "exit", "0")
		is.NoErr(c.Start()) // the first Start starts
		endCmdOnCleanup(t, c)
		is.True(c.Start() != nil)                               // a second one fails
		is.NoErr(c.Wait())                                      // the first child is waited for
		is.True(errors.Is(c.Process.Kill(), os.ErrProcessDone)) // a reaped child is done, as with os/exec
		is.True(c.Wait() != nil)                                // Wait twice fails
		is.True(c.Run() != nil)                                 // and a used Cmd does not run again
	})
}

func TestCmdWaitNotStarted(t *testing.T) {
	is := is.New(t)
	c := helperCmd(Auto, "exit", "0")
	is.True(c.Wait() != nil) // Wait before Start fails
}

func TestCmdNotFound(t *testing.T) {
	forEachCmdBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		c := Command("spawn-test-no-such-program", "arg")
		c.Attr = &Attr{Backend: b}
		is.True(errors.Is(c.Err, exec.ErrNotFound))            // the lookup failure is in Err
		is.Equal(c.String(), "spawn-test-no-such-program arg") // String shows the arguments
		err := c.Run()
		is.True(errors.Is(err, exec.ErrNotFound)) // Run reports it
		is.True(c.Process == nil)                 // and starts nothing

		c = CommandContext(context.Background(), "spawn-test-no-such-program")
		is.True(errors.Is(failedStart(c), exec.ErrNotFound)) // CommandContext too
	})
}

func TestCmdNoSuchPath(t *testing.T) {
	forEachCmdBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		c := Command("/nonexistent/spawn-test")
		c.Attr = &Attr{Backend: b}
		is.NoErr(c.Err) // a path is not looked up
		err := c.Run()
		is.True(errors.Is(err, fs.ErrNotExist)) // the spawn fails with ENOENT
		is.True(c.Process == nil)               // and starts nothing
	})
}

func TestCmdNoCommand(t *testing.T) {
	is := is.New(t)
	is.True((&Cmd{}).Run() != nil)    // an empty Cmd fails
	is.True(Command("").Run() != nil) // so does an empty name
}

func TestCmdLookPath(t *testing.T) {
	is := is.New(t)
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skipf("needs sh in PATH: %v", err)
	}
	c := Command("sh", "-c", "exit 0")
	is.NoErr(c.Err)                       // found
	is.Equal(c.Path, sh)                  // where exec.LookPath finds it
	is.Equal(c.String(), sh+" -c exit 0") // String shows the resolved path
	is.Equal(c.Args[0], "sh")             // argv[0] stays the name
	is.NoErr(c.Run())                     // and it runs
}

func TestHeadTail(t *testing.T) {
	is := is.New(t)
	h := &headTail{max: 4}
	h.Write([]byte("ab"))
	is.Equal(string(h.Bytes()), "ab") // short: all kept
	h.Write([]byte("cdef"))
	h.Write([]byte("gh"))
	is.Equal(string(h.Bytes()), "abcdefgh") // exactly head and tail: nothing dropped
	h.Write([]byte("ij"))
	is.Equal(string(h.Bytes()), "abcd\n... omitting 2 bytes ...\nghij") // the middle goes
	h.Write([]byte("0123456789"))
	is.Equal(string(h.Bytes()), "abcd\n... omitting 12 bytes ...\n6789") // a long write keeps its end
}

func TestCmdOutputLongStderr(t *testing.T) {
	is := is.New(t)
	big := strings.Repeat("x", 100<<10)
	_, err := helperCmd(Auto, "cmd-print", "", big, "1").Output()
	var ee *ExitError
	is.True(errors.As(err, &ee))                                       // exit 1
	is.True(len(ee.Stderr) < 70<<10)                                   // bounded
	is.True(bytes.Contains(ee.Stderr, []byte("omitting 36864 bytes"))) // saying what was left out
}

// The RLIMIT_NOFILE a Cmd child gets.

// shNofile returns the soft RLIMIT_NOFILE that sh reports in a child started
// by run. sh is used because a Go child would raise its own limit before it
// could report it.
func shNofile(run func(name string, arg ...string) ([]byte, error)) (string, error) {
	out, err := run("sh", "-c", "echo $(ulimit -Sn) $(ulimit -Hn)")
	return strings.TrimSpace(string(out)), err
}

func cmdOutput(attr *Attr) func(string, ...string) ([]byte, error) {
	return func(name string, arg ...string) ([]byte, error) {
		c := Command(name, arg...)
		c.Attr = attr
		return c.Output()
	}
}

func execOutput(name string, arg ...string) ([]byte, error) {
	return exec.Command(name, arg...).Output()
}

// nofileHelper runs in a child started with a low soft RLIMIT_NOFILE, which
// its Go runtime raised at start-up. It reports, one a line: its own limit,
// what sh sees under Cmd, under os/exec, under Spawn, under a Cmd whose Attr
// sets the limit, and the backend the Cmd used.
func nofileHelper(args []string) int {
	var lim unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
	fmt.Printf("%d %d\n", lim.Cur, lim.Max)
	cmdLim, err1 := shNofile(cmdOutput(nil))
	execLim, err2 := shNofile(execOutput)
	spawnLim, err3 := shNofile(func(name string, arg ...string) ([]byte, error) {
		sh, err := exec.LookPath(name)
		if err != nil {
			return nil, err
		}
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		p, err := Spawn(sh, append([]string{name}, arg...), &Attr{Files: []*os.File{os.Stdin, w, os.Stderr}})
		w.Close()
		if err != nil {
			return nil, err
		}
		defer p.Release()
		out, _ := io.ReadAll(r)
		_, err = p.Wait()
		return out, err
	})
	attrLim, err4 := shNofile(cmdOutput(&Attr{Rlimits: []Rlimit{{Resource: unix.RLIMIT_NOFILE, Cur: 300, Max: lim.Max}}}))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c := Command("sh", "-c", "true")
	if err := c.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// A forced PidfdSpawn cannot set limits: its child inherits.
	pidfdLim := "-"
	if Available(PidfdSpawn) == nil {
		var err error
		if pidfdLim, err = shNofile(cmdOutput(&Attr{Backend: PidfdSpawn})); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Printf("%s\n%s\n%s\n%s\n%s\n%s\n", cmdLim, execLim, spawnLim, attrLim, c.Handle().Backend(), pidfdLim)
	return 0
}

// nofileTestHard skips where the RLIMIT_NOFILE tests cannot run (no sh to
// report a child's limit, no Clone3 to set the helper's, a hard limit below
// 400) and returns the hard limit the helper is started with.
func nofileTestHard(t *testing.T) uint64 {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skipf("needs sh in PATH to report a child's limit: %v", err)
	}
	if err := Available(Clone3); err != nil {
		t.Skipf("setting the helper's RLIMIT_NOFILE needs the Clone3 backend: %v", err)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if lim.Max < 400 {
		t.Skipf("needs a hard RLIMIT_NOFILE of at least 400, have %d", lim.Max)
	}
	return min(lim.Max, 4096)
}

func TestCmdNofileRestored(t *testing.T) {
	is := is.New(t)
	hard := nofileTestHard(t)
	path, argv, env := helperArgv("cmd-nofile")
	r, w, err := os.Pipe()
	is.NoErr(err) // a pipe for the report
	defer r.Close()
	p, err := Spawn(path, argv, &Attr{
		Env:     env,
		Files:   []*os.File{os.Stdin, w, os.Stderr},
		Rlimits: []Rlimit{{Resource: unix.RLIMIT_NOFILE, Cur: 256, Max: hard}},
	})
	w.Close()
	is.NoErr(err) // the helper starts with soft 256
	out, _ := io.ReadAll(r)
	st := mustWait(t, p)
	is.True(st.Success()) // the helper ran its children
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	is.Equal(len(lines), 7) // the report is complete
	want := fmt.Sprintf("256 %d", hard)
	is.Equal(lines[0], fmt.Sprintf("%d %d", hard-1, hard)) // Go raised the helper's own soft limit to hard-1
	is.Equal(lines[2], want)                               // os/exec gives the original back
	is.Equal(lines[1], want)                               // and so does Cmd
	is.Equal(lines[3], fmt.Sprintf("%d %d", hard-1, hard)) // Spawn's child inherits the raised limit, as documented
	is.Equal(lines[4], fmt.Sprintf("300 %d", hard))        // an Attr that sets RLIMIT_NOFILE wins
	is.Equal(lines[5], Clone3.String())                    // the restore routes the child to Clone3
	if lines[6] != "-" {
		is.Equal(lines[6], fmt.Sprintf("%d %d", hard-1, hard)) // a forced PidfdSpawn child inherits the raised limit
	}
}

func TestCmdNofileMatchesExec(t *testing.T) {
	is := is.New(t)
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skipf("needs sh in PATH to report a child's limit: %v", err)
	}
	ours, err := shNofile(cmdOutput(nil))
	is.NoErr(err) // sh runs under Cmd
	theirs, err := shNofile(execOutput)
	is.NoErr(err)          // and under os/exec
	is.Equal(ours, theirs) // with the same RLIMIT_NOFILE, whatever this process's limits are
}

// The probes.

func TestProbe(t *testing.T) {
	is := is.New(t)
	rel := kernelRelease()
	byName := map[string]Feature{}
	for _, f := range Probe() {
		byName[f.Name] = f
		t.Log(f)
	}
	for _, name := range []string{"kernel", "glibc", "backend pidfd_spawn", "backend clone3", "backend fork_np",
		"backend auto", "pidfd_open", "pidfd_send_signal", "waitid P_PIDFD", "PIDFD_GET_INFO", "clone3",
		"CLONE_INTO_CGROUP", "CLONE_AUTOREAP", "CLONE_NNP", "CLONE_PIDFD_AUTOKILL", "cgroup2", "RLIMIT_NOFILE"} {
		_, ok := byName[name]
		is.True(ok) // every feature is reported
	}
	is.Equal(byName["kernel"].Value, "Linux "+rel) // the running kernel
	for _, b := range []Backend{PidfdSpawn, Clone3, ForkNP} {
		is.Equal(byName["backend "+b.String()].Err == nil, Available(b) == nil) // backends as Available says
	}
	if glibcVersion() != "" {
		is.Equal(byName["glibc"].Value, glibcVersion()) // the running glibc
	}
	// A feature the kernel is new enough for must work; a missing one says
	// so with ErrNotSupported.
	need := map[string][2]int{
		"pidfd_open": {5, 3}, "pidfd_send_signal": {5, 1}, "waitid P_PIDFD": {5, 4}, "PIDFD_GET_INFO": {6, 13},
		"CLONE_AUTOREAP": {7, 1}, "CLONE_NNP": {7, 1}, "CLONE_PIDFD_AUTOKILL": {7, 1},
	}
	if Available(Clone3) == nil && clone3Why() == nil {
		need["clone3"] = [2]int{5, 5}
		if _, err := selfCgroup(); err == nil && os.Geteuid() == 0 {
			need["CLONE_INTO_CGROUP"] = [2]int{5, 7}
		}
	}
	for name, v := range need {
		f := byName[name]
		if kernelAtLeast(rel, v[0], v[1]) {
			if f.Err != nil {
				t.Errorf("%s: Linux %s is at least %d.%d, yet the probe says: %v", name, rel, v[0], v[1], f.Err)
			}
		} else if f.Err != nil {
			is.True(errors.Is(f.Err, ErrNotSupported)) // a missing feature says it is missing
		}
	}
	is.True(strings.HasPrefix(byName["RLIMIT_NOFILE"].Value, "soft ")) // the limits are shown
}

func TestFeatureString(t *testing.T) {
	is := is.New(t)
	is.Equal(Feature{Name: "clone3"}.String(), "clone3: yes")                           // available
	is.Equal(Feature{Name: "kernel", Value: "Linux 6.1"}.String(), "kernel: Linux 6.1") // a value
	f := Feature{Name: "CLONE_NNP", Requires: "Linux 7.1", Err: errors.New("EINVAL")}
	is.Equal(f.String(), "CLONE_NNP: no (needs Linux 7.1): EINVAL") // missing, with the requirement
}

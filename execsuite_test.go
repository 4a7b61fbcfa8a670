//go:build linux

package spawn_test

// The Go toolchain's os/exec test suite, written anew for Cmd. Each test has
// the name of the toolchain test whose behaviour it asserts (os/exec's
// exec_test.go, exec_posix_test.go and exec_unix_test.go). The file uses
// nothing but the standard library and the one import below: replacing that
// line with "os/exec" gives the same tests for os/exec, which ci/execsuite.sh
// runs. The helper program is the test binary itself, run with
// GO_EXECSUITE_HELPER=1 and -test.run=^TestHelperProcess$.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	exec "github.com/pidfd/spawn"
)

// suiteExe is the test binary, absolute, so that a Cmd with Dir set finds it.
var suiteExe = func() string {
	p, err := filepath.Abs(os.Args[0])
	if err != nil {
		return os.Args[0]
	}
	return p
}()

// suiteEnv is the environment of a helper: the parent's, without the
// variables that would make the binary act as another kind of helper.
func suiteEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SPAWN_HELPER=") || strings.HasPrefix(kv, "GO_EXECSUITE_HELPER=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GO_EXECSUITE_HELPER=1")
}

// helper returns a Cmd that runs the helper command verb with args.
func helper(verb string, args ...string) *exec.Cmd {
	argv := append([]string{"-test.run=^TestHelperProcess$", "--", verb}, args...)
	c := exec.Command(suiteExe, argv...)
	c.Env = suiteEnv()
	return c
}

func helperContext(ctx context.Context, verb string, args ...string) *exec.Cmd {
	argv := append([]string{"-test.run=^TestHelperProcess$", "--", verb}, args...)
	c := exec.CommandContext(ctx, suiteExe, argv...)
	c.Env = suiteEnv()
	return c
}

// endCmdOnCleanup kills c's child and waits for c when t ends, if the test
// has not: one that fails half-way leaves no child behind, running or
// unreaped, for the tests after it. After the test's own Wait, Kill returns
// os.ErrProcessDone and Wait its "already called" error.
func endCmdOnCleanup(t *testing.T, c *exec.Cmd) {
	t.Cleanup(func() {
		if c.Process != nil {
			c.Process.Kill()
		}
		c.Wait()
	})
}

// TestHelperProcess is the helper program, not a test: it does what its
// arguments after "--" say and exits, before the other tests would run.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("GO_EXECSUITE_HELPER") != "1" {
		return
	}
	args := os.Args
	for len(args) > 0 && args[0] != "--" {
		args = args[1:]
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "helper: no command")
		os.Exit(2)
	}
	os.Exit(runHelper(args[1], args[2:]))
}

func runHelper(verb string, args []string) int {
	switch verb {
	case "echo":
		fmt.Println(strings.Join(args, " "))
	case "echoenv":
		for _, k := range args {
			fmt.Println(os.Getenv(k))
		}
	case "cat":
		if len(args) == 0 {
			if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
				return 2
			}
			return 0
		}
		code := 0
		for _, name := range args {
			f, err := os.Open(name)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				code = 2
				continue
			}
			_, err = io.Copy(os.Stdout, f)
			f.Close()
			if err != nil {
				code = 2
			}
		}
		return code
	case "exit":
		n, _ := strconv.Atoi(args[0])
		return n
	case "pipetest":
		// Reads lines from stdin, answering each with "O:" on stdout.
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			fmt.Printf("O:%s\n", sc.Text())
		}
	case "stderrfail":
		fmt.Fprint(os.Stderr, "some stderr text\n")
		return 1
	case "read3":
		// Prints what descriptor 3 holds and fails if a higher descriptor
		// is one of the files named in args (as /proc/self/fd shows them).
		f := os.NewFile(3, "fd3")
		b, err := io.ReadAll(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "read fd 3:", err)
			return 1
		}
		os.Stdout.Write(b)
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for _, e := range ents {
			n, _ := strconv.Atoi(e.Name())
			if n <= 3 {
				continue
			}
			if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && contains(args, target) {
				fmt.Fprintf(os.Stderr, "leaked descriptor %d: %s\n", n, target)
				return 1
			}
		}
	case "yes":
		line := "y"
		if len(args) > 0 {
			line = args[0]
		}
		for {
			if _, err := fmt.Println(line); err != nil {
				return 1
			}
		}
	case "sigchld":
		// Starts one child and counts the SIGCHLDs it brings: exactly one.
		// A child is started first, uncounted: spawn's first start in a
		// process may probe the kernel (RLIMIT_NOFILE) with a traced child
		// of its own, whose stop and exit signal too (documented on Cmd).
		// Its signals are drained until none has come for 100 ms: on a
		// loaded machine one may reach a thread only after Run returned.
		sig := make(chan os.Signal, 4)
		signal.Notify(sig, syscall.SIGCHLD)
		if err := exec.Command("true").Run(); err != nil {
			fmt.Println(err)
			return 1
		}
		for quiet := false; !quiet; {
			select {
			case <-sig:
			case <-time.After(100 * time.Millisecond):
				quiet = true
			}
		}
		if err := exec.Command("true").Run(); err != nil {
			fmt.Println(err)
			return 1
		}
		deadline := time.After(100 * time.Millisecond)
		n := 0
		for {
			select {
			case <-sig:
				n++
				continue
			case <-deadline:
			}
			break
		}
		fmt.Println("SIGCHLD", n)
		if n != 1 {
			return 1
		}
	case "sleep":
		d, _ := time.ParseDuration(args[0])
		time.Sleep(d)
	case "interrupt":
		// Reports on stdout once it handles SIGINT, then waits for one.
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt)
		fmt.Println("ready")
		<-c
		return 0
	default:
		fmt.Fprintf(os.Stderr, "helper: unknown command %q\n", verb)
		return 2
	}
	return 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func openFDs(t *testing.T) map[string]string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		m[e.Name()] = target
	}
	return m
}

func TestEcho(t *testing.T) {
	out, err := helper("echo", "foo bar", "baz").Output()
	if err != nil {
		t.Fatalf("echo: %v", err)
	}
	if got, want := string(out), "foo bar baz\n"; got != want {
		t.Fatalf("echo printed %q, want %q", got, want)
	}
}

func TestCommandRelativeName(t *testing.T) {
	// A name with a slash is resolved against Dir, not searched in PATH.
	dir := filepath.Dir(suiteExe)
	rel := filepath.Join(filepath.Base(dir), filepath.Base(suiteExe))
	c := exec.Command(rel, "-test.run=^TestHelperProcess$", "--", "echo", "relative")
	c.Dir = filepath.Dir(dir)
	c.Env = suiteEnv()
	out, err := c.Output()
	if err != nil {
		t.Fatalf("%s in %s: %v", rel, c.Dir, err)
	}
	if string(out) != "relative\n" {
		t.Fatalf("got %q", out)
	}
}

func TestCatStdin(t *testing.T) {
	in := "one line\nand another\n"
	c := helper("cat")
	c.Stdin = strings.NewReader(in)
	out, err := c.Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Fatalf("cat gave %q, want %q", out, in)
	}
}

func TestEchoFileRace(t *testing.T) {
	c := helper("echo")
	w, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := fmt.Fprint(w, "data the child never reads")
		w.Close()
		done <- err
	}()
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	<-done // a write error (EPIPE) is fine: the point is no race
}

func TestCatGoodAndBadFile(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good")
	if err := os.WriteFile(good, []byte("good content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := helper("cat", "/no/such/file/anywhere", good).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("want an *ExitError, got %T %v", err, err)
	}
	s := string(out)
	if !strings.Contains(s, "/no/such/file/anywhere") {
		t.Errorf("output lacks the bad file's error: %q", s)
	}
	if !strings.HasSuffix(s, "good content\n") {
		t.Errorf("output lacks the good file: %q", s)
	}
}

func TestNoExistExecutable(t *testing.T) {
	if err := exec.Command("/no-exist-executable").Run(); err == nil {
		t.Fatal("running a missing program succeeded")
	}
}

func TestExitStatus(t *testing.T) {
	err := helper("exit", "42").Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("want an *ExitError, got %T %v", err, err)
	}
	if got, want := ee.Error(), "exit status 42"; got != want {
		t.Fatalf("error %q, want %q", got, want)
	}
}

func TestExitCode(t *testing.T) {
	c := helper("exit", "42")
	c.Run()
	if c.ProcessState == nil {
		t.Fatal("ProcessState not set after Run")
	}
	if got := c.ProcessState.ExitCode(); got != 42 {
		t.Errorf("exit code %d, want 42", got)
	}

	c = exec.Command("/no-exist-executable")
	c.Run()
	if c.ProcessState != nil {
		if got := c.ProcessState.ExitCode(); got != -1 {
			t.Errorf("exit code of a failed start %d, want -1", got)
		}
	}

	c = helper("exit", "0")
	c.Run()
	if got := c.ProcessState.ExitCode(); got != 0 {
		t.Errorf("exit code %d, want 0", got)
	}

	c = helper("exit", "0")
	if got := c.ProcessState.ExitCode(); got != -1 {
		t.Errorf("exit code before start %d, want -1", got)
	}
}

func TestPipes(t *testing.T) {
	c := helper("pipetest")
	in, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errp, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	endCmdOnCleanup(t, c)
	r := bufio.NewReader(out)
	for _, line := range []string{"first", "second"} {
		if _, err := fmt.Fprintln(in, line); err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if want := "O:" + line + "\n"; got != want {
			t.Fatalf("read %q, want %q", got, want)
		}
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(r); len(rest) != 0 {
		t.Errorf("more on stdout: %q", rest)
	}
	if e, _ := io.ReadAll(errp); len(e) != 0 {
		t.Errorf("stderr: %q", e)
	}
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestStdinClose(t *testing.T) {
	c := helper("cat")
	w, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.(interface{ Close() error }); !ok {
		t.Fatal("StdinPipe's result cannot be closed")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		io.Copy(w, strings.NewReader("some input"))
		if err := w.Close(); err != nil {
			t.Errorf("first Close: %v", err)
		}
	}()
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	// Wait closed the pipe too; closing again is harmless.
	w.Close()
}

func TestStdinCloseRace(t *testing.T) {
	c := helper("sleep", "10ms")
	w, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		c.Process.Kill()
	}()
	go func() {
		defer wg.Done()
		io.Copy(w, strings.NewReader("x"))
		if err := w.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			t.Errorf("closing stdin: %v", err)
		}
	}()
	wg.Wait()
	c.Wait() // killed or not, no race and no hang
}

func TestPipeLookPathLeak(t *testing.T) {
	before := openFDs(t)
	for i := 0; i < 6; i++ {
		c := exec.Command("no-such-program-anywhere-in-path", "arg")
		for _, f := range []func() (io.ReadCloser, error){c.StdoutPipe, c.StderrPipe} {
			if _, err := f(); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err == nil {
			c.Process.Kill() // the unexpected child is reaped, not left to the later leak checks
			c.Wait()
			t.Fatal("Start of a program not in PATH succeeded")
		}
	}
	after := openFDs(t)
	for fd, target := range after {
		if _, ok := before[fd]; !ok {
			t.Errorf("descriptor %s (%s) leaked", fd, target)
		}
	}
}

func TestExtraFiles(t *testing.T) {
	name := filepath.Join(t.TempDir(), "extra")
	if err := os.WriteFile(name, []byte("extra file content"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Descriptors of the parent that are not in ExtraFiles stay out of the
	// child, close-on-exec or not by the parent's choice.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	pipeName, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", w.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	c := helper("read3", pipeName)
	c.ExtraFiles = []*os.File{f}
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("%v; stderr: %s", err, stderr.String())
	}
	if string(out) != "extra file content" {
		t.Fatalf("child read %q from descriptor 3", out)
	}
}

func TestExtraFilesRace(t *testing.T) {
	run := func(content string) (string, error) {
		r, w, err := os.Pipe()
		if err != nil {
			return "", err
		}
		defer r.Close()
		go func() {
			io.WriteString(w, content)
			w.Close()
		}()
		c := helper("read3")
		c.ExtraFiles = []*os.File{r}
		out, err := c.Output()
		return string(out), err
	}
	const n = 10
	errs := make(chan error, 2*n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		for _, s := range []string{"a", "b"} {
			wg.Add(1)
			go func(s string) {
				defer wg.Done()
				got, err := run(s)
				if err == nil && got != s {
					err = fmt.Errorf("child read %q, want %q", got, s)
				}
				errs <- err
			}(s + strconv.Itoa(i))
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestIgnorePipeErrorOnSuccess(t *testing.T) {
	// The child exits 0 without reading: the copy's EPIPE is not an error.
	c := helper("exit", "0")
	c.Stdin = strings.NewReader(strings.Repeat("x", 10<<20))
	var out bytes.Buffer
	c.Stdout = &out
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
}

type failingWriter struct{}

var errWriterFailed = errors.New("writer failed on purpose")

func (failingWriter) Write([]byte) (int, error) { return 0, errWriterFailed }

func TestClosePipeOnCopyError(t *testing.T) {
	// The Stdout copy fails: the pipe is closed, the child (which writes
	// forever) dies of it, and Run returns.
	c := helper("yes")
	c.Stdout = failingWriter{}
	if err := c.Run(); err == nil {
		t.Fatal("Run succeeded although its Stdout failed")
	}
}

func TestOutputStderrCapture(t *testing.T) {
	_, err := helper("stderrfail").Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("want an *ExitError, got %T %v", err, err)
	}
	if got, want := string(ee.Stderr), "some stderr text\n"; got != want {
		t.Fatalf("ExitError.Stderr %q, want %q", got, want)
	}
}

func TestContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := helperContext(ctx, "pipetest")
	in, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	endCmdOnCleanup(t, c)
	if _, err := in.Write([]byte("hi\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "O:hi\n" {
		t.Fatalf("read %q, %v", buf, err)
	}
	cancel()
	err = c.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Wait after cancel: want an *ExitError, got %T %v", err, err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child not killed by SIGKILL: %v", ee)
	}
}

func TestContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := helperContext(ctx, "yes", "cancel")
	r, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	endCmdOnCleanup(t, c)
	buf := make([]byte, 7)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	// The child is killed: the pipe reaches EOF.
	io.Copy(io.Discard, r)
	if err := c.Wait(); err == nil {
		t.Fatal("Wait returned nil for a canceled child")
	}
}

func TestDedupEnvEcho(t *testing.T) {
	c := helper("echoenv", "FOO")
	c.Env = append(c.Env, "FOO=bad", "FOO=good")
	out, err := c.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "good" {
		t.Fatalf("FOO=%q, want the last value %q", got, "good")
	}
}

func TestEnvNULCharacter(t *testing.T) {
	c := helper("echoenv", "FOO")
	c.Env = append(c.Env, "FOO=a\x00b")
	out, err := c.CombinedOutput()
	if err == nil {
		t.Fatalf("Run with a NUL in Env succeeded: %q", out)
	}
	if c.Process != nil {
		t.Fatal("a child was started although Env holds a NUL")
	}
}

func TestString(t *testing.T) {
	echo, err := exec.LookPath("echo")
	if err != nil {
		t.Skip(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"echo", nil, echo},
		{"echo", []string{"a"}, echo + " a"},
		{"echo", []string{"a", "b"}, echo + " a b"},
	}
	for _, tc := range cases {
		if got := exec.Command(tc.name, tc.args...).String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

func TestStringPathNotResolved(t *testing.T) {
	c := exec.Command("not-a-program-in-path", "x", "y")
	if got, want := c.String(), "not-a-program-in-path x y"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}

func TestNoPath(t *testing.T) {
	err := new(exec.Cmd).Start()
	if want := "exec: no command"; err == nil || err.Error() != want {
		t.Fatalf("Start of an empty Cmd: %v, want %q", err, want)
	}
}

func TestDoubleStartLeavesPipesOpen(t *testing.T) {
	c := helper("pipetest")
	in, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	endCmdOnCleanup(t, c)
	if err := c.Start(); err == nil || !strings.Contains(err.Error(), "already started") {
		t.Fatalf("second Start: %v", err)
	}
	// The failed second Start left the pipes usable.
	if _, err := io.WriteString(in, "still\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "O:still\n" {
		t.Fatalf("read %q, %v", line, err)
	}
	in.Close()
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestCancelErrors(t *testing.T) {
	t.Run("success after error", func(t *testing.T) {
		// Cancel fails but the child exits 0 on its own: Wait reports the
		// Cancel error wrapped.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := helperContext(ctx, "pipetest")
		in, err := c.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		errCancel := errors.New("cancel failed on purpose")
		c.Cancel = func() error {
			in.Close()
			return errCancel
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := c.Wait(); !errors.Is(err, errCancel) {
			t.Fatalf("Wait: %v, want the Cancel error", err)
		}
	})
	t.Run("success after ErrProcessDone", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := helperContext(ctx, "pipetest")
		in, err := c.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		c.Cancel = func() error {
			in.Close()
			return os.ErrProcessDone
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := c.Wait(); err != nil {
			t.Fatalf("Wait: %v, want nil (ErrProcessDone is not an error)", err)
		}
	})
	t.Run("killed after error", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := helperContext(ctx, "pipetest")
		in, err := c.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		errCancel := errors.New("cancel failed on purpose")
		c.Cancel = func() error {
			c.Process.Kill()
			return errCancel
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cancel()
		err = c.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("Wait: %v, want the *ExitError of the killed child", err)
		}
	})
	t.Run("wait delay", func(t *testing.T) {
		// Cancel does nothing; WaitDelay ends the wait with a kill.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := helperContext(ctx, "pipetest")
		in, err := c.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		c.Cancel = func() error { return nil }
		c.WaitDelay = 50 * time.Millisecond
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cancel()
		err = c.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("Wait: %v, want the *ExitError of the killed child", err)
		}
	})
}

func TestConcurrentExec(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var cmds []*exec.Cmd
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := helperContext(ctx, "sleep", "1m")
			if err := c.Start(); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			cmds = append(cmds, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	cancel()
	for _, c := range cmds {
		if err := c.Wait(); err == nil {
			t.Error("Wait of a canceled child returned nil")
		}
	}
}

func TestPathRace(t *testing.T) {
	c := helper("echo", "race")
	done := make(chan string, 1)
	go func() { done <- c.String() }()
	out, err := c.Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "race\n" {
		t.Fatalf("got %q", out)
	}
	<-done
}

func TestAbsPathExec(t *testing.T) {
	echo, err := exec.LookPath("echo")
	if err != nil {
		t.Skip(err)
	}
	c := exec.Command(echo, "abs")
	c.Dir = t.TempDir()
	out, err := c.Output()
	if err != nil || string(out) != "abs\n" {
		t.Fatalf("%s: %q, %v", echo, out, err)
	}
}

func TestWaitInterrupt(t *testing.T) {
	t.Run("interrupt ends the child", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := helperContext(ctx, "interrupt")
		c.Cancel = func() error { return c.Process.Signal(os.Interrupt) }
		out, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		endCmdOnCleanup(t, c)
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "ready\n" {
			t.Fatalf("read %q, %v", line, err)
		}
		cancel()
		// The child exits 0 on SIGINT, after the context ended: Wait reports
		// the context's error.
		if err := c.Wait(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait: %v, want context.Canceled", err)
		}
	})
	t.Run("WaitDelay kills a child that ignores Cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := helperContext(ctx, "sleep", "1m")
		c.Cancel = func() error { return nil }
		c.WaitDelay = 20 * time.Millisecond
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cancel()
		err := c.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("Wait: %v, want an *ExitError", err)
		}
	})
	t.Run("WaitDelay with a pipe held open", func(t *testing.T) {
		// A grandchild keeps stdout open; WaitDelay ends the copy and Wait
		// returns ErrWaitDelay.
		sh, err := exec.LookPath("sh")
		if err != nil {
			t.Skip(err)
		}
		c := exec.Command(sh, "-c", "sleep 10 & echo started")
		var out bytes.Buffer
		c.Stdout = &out
		c.WaitDelay = 50 * time.Millisecond
		if err := c.Run(); !errors.Is(err, exec.ErrWaitDelay) {
			t.Fatalf("Run: %v, want ErrWaitDelay", err)
		}
	})
}

func TestCredentialNoSetGroups(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root")
	}
	u, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	c := exec.Command("true")
	c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
		Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true,
	}}
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
}

func TestWaitid(t *testing.T) {
	// Stopping and continuing the child does not end Wait early.
	c := helper("sleep", "1m")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	endCmdOnCleanup(t, c)
	if err := c.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("Wait returned for a stopped child: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	c.Process.Signal(syscall.SIGCONT)
	c.Process.Kill()
	var ee *exec.ExitError
	if err := <-done; !errors.As(err, &ee) {
		t.Fatalf("Wait: %v, want an *ExitError", err)
	}
}

func TestSIGCHLD(t *testing.T) {
	// In a fresh process (the first child started is the one that matters)
	// starting a child raises SIGCHLD once.
	out, err := helper("sigchld").CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatal(err)
	}
}

func TestStart_twice(t *testing.T) {
	c := exec.Command("/bin/nonesuch")
	if err := c.Start(); err == nil {
		c.Process.Kill() // the unexpected child is reaped, not left to the later leak checks
		c.Wait()
		t.Fatal("Start of a missing program succeeded")
	}
	if err := c.Start(); fmt.Sprint(err) != "exec: already started" {
		t.Fatalf("second Start: %v, want %q", err, "exec: already started")
	}
}

func TestLookPathUnixEmptyPath(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile("exec_me", nil, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", "")
	path, err := exec.LookPath("exec_me")
	if err == nil {
		t.Fatal("LookPath found exec_me with PATH empty")
	}
	if path != "" {
		t.Fatalf("LookPath failed but returned %q", path)
	}
}

// pwdCmd prints the child's $PWD; it leaves Env nil.
func pwdCmd(t *testing.T) *exec.Cmd {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip(err)
	}
	return exec.Command(sh, "-c", `printf %s "$PWD"`)
}

func TestImplicitPWD(t *testing.T) {
	// With Env nil, Dir sets PWD (absolute) in Environ and in the child.
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, dir, want string }{
		{"empty", "", cwd},
		{"dot", ".", cwd},
		{"dotdot", "..", filepath.Dir(cwd)},
		{"PWD", cwd, cwd},
		{"PWDdotdot", cwd + "/..", filepath.Dir(cwd)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := pwdCmd(t)
			c.Dir = tc.dir
			var pwds []string
			for _, kv := range c.Environ() {
				if v, ok := strings.CutPrefix(kv, "PWD="); ok {
					pwds = append(pwds, v)
				}
			}
			_, inherited := os.LookupEnv("PWD")
			if tc.dir == "" && !inherited {
				if len(pwds) != 0 {
					t.Fatalf("Environ has PWD %q with Dir and PWD unset", pwds)
				}
				return
			}
			if len(pwds) != 1 || filepath.Clean(pwds[0]) != tc.want {
				t.Fatalf("Environ's PWD %q, want one entry for %q", pwds, tc.want)
			}
			out, err := c.Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := filepath.Clean(string(out)); got != tc.want {
				t.Fatalf("child's PWD %q, want %q", out, tc.want)
			}
		})
	}
}

func TestExplicitPWD(t *testing.T) {
	// With Env set, PWD is what Env says, whatever Dir is.
	dir := t.TempDir()
	for _, pwd := range []string{"/an/explicit/pwd", dir, ""} {
		c := pwdCmd(t)
		c.Dir = dir
		c.Env = append(os.Environ(), "PWD="+pwd)
		var last string
		for _, kv := range c.Environ() {
			if v, ok := strings.CutPrefix(kv, "PWD="); ok {
				last = v
			}
		}
		if last != pwd {
			t.Errorf("Environ's PWD %q, want %q", last, pwd)
		}
		out, err := c.Output()
		if err != nil {
			t.Fatal(err)
		}
		// A shell may set an empty or wrong PWD itself; a real one is kept.
		if pwd != "" && pwd != "/an/explicit/pwd" && string(out) != pwd {
			t.Errorf("child's PWD %q, want %q", out, pwd)
		}
	}
}

//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
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
	"github.com/pidfd/spawn"
	"golang.org/x/sys/unix"
)

// The tests run the real binary, built once by TestMain.
var spawnBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "spawn-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	spawnBin = filepath.Join(dir, "spawn")
	build := exec.Command(goTool(), "build", "-o", spawnBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building spawn:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	// The package's first Wait that parks makes its wait set (two
	// descriptors kept for the life of the program): before the baseline.
	if p, err := spawn.SpawnP("sleep", []string{"sleep", "0.1"}, nil); err == nil {
		p.Wait()
		p.Release()
	}
	before := openFds()
	code := m.Run()
	if code == 0 {
		if err := checkLeaks(before); err != nil {
			fmt.Fprintln(os.Stderr, "leak guard:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// goTool is the go command of the toolchain running the tests: go test
// puts that toolchain's bin directory first in the test's PATH, also when
// GOTOOLCHAIN selected a downloaded one.
func goTool() string { return "go" }

func openFds() map[string]bool {
	ents, _ := os.ReadDir("/proc/self/fd")
	fds := map[string]bool{}
	for _, e := range ents {
		fds[e.Name()] = true
	}
	return fds
}

// checkLeaks reports descriptors opened since before (other than the one
// reading /proc/self/fd) and children left unreaped.
func checkLeaks(before map[string]bool) error {
	var errs []error
	for try := 0; try < 50; try++ {
		errs = errs[:0]
		var leaked []string
		for fd := range openFds() {
			if target, _ := os.Readlink("/proc/self/fd/" + fd); !before[fd] && !strings.HasPrefix(target, "/proc/") {
				leaked = append(leaked, fd+" -> "+target)
			}
		}
		if len(leaked) > 0 {
			errs = append(errs, fmt.Errorf("descriptors left open: %s", strings.Join(leaked, ", ")))
		}
		var si unix.Siginfo
		if err := unix.Waitid(unix.P_ALL, 0, &si, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err == nil {
			errs = append(errs, errors.New("a child process is left unreaped or still running"))
		}
		if len(errs) == 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.Join(errs...)
}

// slow is a bound no correct run comes near: it catches a hang, never
// measures speed.
const slow = 30 * time.Second

// spawnRun runs the binary with args and returns its exit status, stdout
// and stderr.
func spawnRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(spawnBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running spawn %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

func needSh(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skipf("needs sh in PATH: %v", err)
	}
}

func TestExitCode(t *testing.T) {
	needSh(t)
	is := is.New(t)
	code, _, _ := spawnRun(t, "--", "sh", "-c", "exit 4")
	is.Equal(code, 4) // the child's exit code is spawn's
	code, out, _ := spawnRun(t, "sh", "-c", "echo hi")
	is.Equal(code, 0)     // "--" is optional before a program that is no flag
	is.Equal(out, "hi\n") // the child writes to spawn's stdout
}

func TestSignalStatus(t *testing.T) {
	needSh(t)
	is := is.New(t)
	code, _, _ := spawnRun(t, "--", "sh", "-c", "kill -KILL $$")
	is.Equal(code, 128+int(syscall.SIGKILL)) // a signal death is 128+N, as a shell says
}

func TestTimeout(t *testing.T) {
	is := is.New(t)
	if _, err := exec.LookPath("sleep"); err != nil {
		t.Skipf("needs sleep in PATH: %v", err)
	}
	start := time.Now()
	code, _, stderr := spawnRun(t, "-json", "-timeout", "200ms", "--", "sleep", "60")
	is.True(time.Since(start) < slow) // ended by the timeout, not after 60 s
	is.Equal(code, 124)               // a timed-out run exits 124, as timeout(1)
	var rep report
	is.NoErr(json.Unmarshal([]byte(stderr), &rep))              // the -json report
	is.True(rep.TimedOut)                                       // says the timeout expired
	is.Equal(rep.Status, 124)                                   // with spawn's status
	is.True(rep.Signal == "SIGTERM" || rep.Signal == "SIGKILL") // and the child's own end
}

// A child that exits 0 on SIGTERM still makes a timed-out run fail: scripts
// tell it from success by 124, and the report keeps the child's status.
func TestTimeoutChildExitsZero(t *testing.T) {
	needSh(t)
	is := is.New(t)
	code, _, stderr := spawnRun(t, "-json", "-timeout", "3s", "--",
		"sh", "-c", `trap 'kill $!; exit 0' TERM; sleep 60 & wait`)
	is.Equal(code, 124) // not 0
	var rep report
	is.NoErr(json.Unmarshal([]byte(stderr), &rep))     // the -json report
	is.True(rep.TimedOut)                              // says the timeout expired
	is.True(rep.ExitCode != nil && *rep.ExitCode == 0) // and that the child exited 0
}

func TestTimeoutGrace(t *testing.T) {
	needSh(t)
	is := is.New(t)
	start := time.Now()
	// The program ignores SIGTERM (and keeps ignoring it across exec). The
	// timeout leaves sh time to set its trap even on a loaded machine: a
	// SIGTERM before the trap would kill it.
	code, _, stderr := spawnRun(t, "-json", "-timeout", "3s", "-grace", "200ms", "--",
		"sh", "-c", `trap "" TERM; exec sleep 60`)
	is.True(time.Since(start) < slow) // SIGKILL after the grace period
	is.Equal(code, 124)               // a timed-out run
	var rep report
	is.NoErr(json.Unmarshal([]byte(stderr), &rep)) // the -json report
	is.True(rep.TimedOut)                          // says the timeout expired
	is.Equal(rep.Signal, "SIGKILL")                // and how the child ended
}

func TestJSON(t *testing.T) {
	needSh(t)
	is := is.New(t)
	code, _, stderr := spawnRun(t, "-json", "--", "sh", "-c", "exit 3")
	is.Equal(code, 3) // the child's status
	var rep report
	is.NoErr(json.Unmarshal([]byte(stderr), &rep))                                // one JSON object on stderr
	is.Equal(rep.Status, 3)                                                       // with spawn's status
	is.True(rep.ExitCode != nil && *rep.ExitCode == 3)                            // and the exit code
	is.True(rep.Pid > 0)                                                          // the child's pid
	_, err := spawn.ParseBackend(rep.Backend)                                     // a backend name
	is.NoErr(err)                                                                 // that ParseBackend knows
	is.True(rep.Backend != "auto")                                                // the one that ran, not "auto"
	is.True(rep.MaxRSSKiB > 0)                                                    // resource usage from the wait
	is.Equal(rep.Command, []string{"sh", "-c", "exit 3"})                         // and the command
	is.True(!strings.Contains(stderr, "signal"))                                  // no signal for an exit
	is.True(strings.HasSuffix(stderr, "}\n") && strings.Count(stderr, "\n") == 1) // one line

	out := filepath.Join(t.TempDir(), "report.json")
	code, _, stderr = spawnRun(t, "-json", "-o", out, "--", "sh", "-c", "kill -TERM $$")
	is.Equal(code, 143)  // killed by SIGTERM
	is.Equal(stderr, "") // the report went to the file
	b, err := os.ReadFile(out)
	is.NoErr(err) // the -o file exists
	rep = report{}
	is.NoErr(json.Unmarshal(b, &rep)) // and holds the report
	is.Equal(rep.Signal, "SIGTERM")   // naming the signal
	is.Equal(rep.SignalNum, 15)       // and its number
	is.True(rep.ExitCode == nil)      // with no exit code
}

func TestForwardSIGTERM(t *testing.T) {
	needSh(t)
	is := is.New(t)
	cmd := exec.Command(spawnBin, "--", "sh", "-c", `trap 'kill $!; exit 7' TERM; sleep 60 & echo ready; wait`)
	out, err := cmd.StdoutPipe()
	is.NoErr(err) // a pipe from the child
	start := time.Now()
	is.NoErr(cmd.Start()) // spawn starts
	line, err := bufio.NewReader(out).ReadString('\n')
	is.NoErr(err)                                 // the child got as far as its trap
	is.Equal(line, "ready\n")                     // and said so
	is.NoErr(cmd.Process.Signal(syscall.SIGTERM)) // SIGTERM reaches spawn
	err = cmd.Wait()
	var ee *exec.ExitError
	is.True(errors.As(err, &ee))      // spawn exits non-zero
	is.True(time.Since(start) < slow) // promptly, not after the child's 60 s
	code := ee.ExitCode()
	is.True(code == 7 || code == 143) // the child's trap ran (7), or SIGTERM killed it (143)
	if code != 7 {
		t.Logf("the child died of SIGTERM before its trap ran (status %d)", code)
	}
}

func TestNotFound(t *testing.T) {
	is := is.New(t)
	code, _, stderr := spawnRun(t, "--", "spawn-test-no-such-program")
	is.Equal(code, 127)                            // not found, as a shell says
	is.True(strings.Contains(stderr, "not found")) // with a message
	code, _, _ = spawnRun(t, "--", "/nonexistent/spawn-test")
	is.Equal(code, 127) // a path that does not exist too
}

func TestNotExecutable(t *testing.T) {
	is := is.New(t)
	// execve needs an x bit even for root: this holds as root too.
	p := filepath.Join(t.TempDir(), "not-executable")
	is.NoErr(os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o644)) // a file without x bits
	code, _, stderr := spawnRun(t, "--", p)
	is.Equal(code, 126)                                    // found but not executable
	is.True(strings.Contains(stderr, "permission denied")) // saying why
}

func TestUsage(t *testing.T) {
	is := is.New(t)
	code, out, _ := spawnRun(t, "-h")
	is.Equal(code, 0)                                       // -h is no error
	is.True(strings.HasPrefix(out, "usage: spawn [flags]")) // it prints the usage
	for _, flag := range []string{"-timeout", "-grace", "-cgroup", "-setsid", "-no-new-privs", "-autokill", "-backend", "-json", "-probe"} {
		is.True(strings.Contains(out, flag)) // every flag is explained
	}
	code, _, stderr := spawnRun(t)
	is.Equal(code, 2)                               // no program is a usage error
	is.True(strings.Contains(stderr, "no program")) // that says so
	code, _, _ = spawnRun(t, "-no-such-flag", "--", "true")
	is.Equal(code, 2) // an unknown flag too
	code, _, stderr = spawnRun(t, "-backend", "bogus", "--", "true")
	is.Equal(code, 2)                          // an unknown backend too
	is.True(strings.Contains(stderr, "bogus")) // naming it
}

func TestProbe(t *testing.T) {
	is := is.New(t)
	code, out, _ := spawnRun(t, "-probe")
	is.Equal(code, 0) // -probe succeeds whatever the machine lacks
	for _, name := range []string{"kernel", "glibc", "backend clone3", "clone3", "CLONE_INTO_CGROUP", "CLONE_AUTOREAP", "RLIMIT_NOFILE"} {
		is.True(strings.Contains(out, name)) // each feature has a line
	}
	code, out, _ = spawnRun(t, "-probe", "-json")
	is.Equal(code, 0) // -probe -json succeeds
	var lines []probeLine
	is.NoErr(json.Unmarshal([]byte(out), &lines))        // a JSON array
	is.True(len(lines) > 10)                             // of the features
	is.Equal(lines[0].Name, "kernel")                    // the kernel first
	is.True(strings.HasPrefix(lines[0].Value, "Linux ")) // with its release
}

func TestBackendFlag(t *testing.T) {
	is := is.New(t)
	if err := spawn.Available(spawn.Clone3); err != nil {
		t.Skipf("needs the Clone3 backend: %v", err)
	}
	code, _, stderr := spawnRun(t, "-json", "-backend", "clone3", "--", "true")
	is.Equal(code, 0) // true exits 0
	var rep report
	is.NoErr(json.Unmarshal([]byte(stderr), &rep)) // the report
	is.Equal(rep.Backend, "clone3")                // names the forced backend
}

func TestSetsid(t *testing.T) {
	needSh(t)
	is := is.New(t)
	// Field 6 of /proc/PID/stat is the session; comm "(sh)" has no space.
	code, _, _ := spawnRun(t, "-setsid", "--", "sh", "-c", `set -- $(cat /proc/$$/stat); [ "$6" = "$$" ]`)
	is.Equal(code, 0) // the child leads its own session
}

func TestNoNewPrivs(t *testing.T) {
	needSh(t)
	is := is.New(t)
	script := `while read k v; do [ "$k" = NoNewPrivs: ] && exit $v; done < /proc/$$/status; exit 9`
	code, _, _ := spawnRun(t, "-no-new-privs", "--", "sh", "-c", script)
	is.Equal(code, 1) // no_new_privs is set in the child
	code, _, _ = spawnRun(t, "--", "sh", "-c", script)
	is.Equal(code, 0) // and not without the flag
}

func TestCgroup(t *testing.T) {
	needSh(t)
	is := is.New(t)
	root, err := spawn.Cgroup2Root()
	if err != nil {
		t.Skipf("needs cgroup v2: %v", err)
	}
	dir := filepath.Join(root, fmt.Sprintf("spawn-cli-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("needs write access to %s (e.g. root): %v", root, err)
	}
	defer os.Remove(dir)
	// The program runs in the cgroup: cgroup.procs of dir lists it.
	code, out, _ := spawnRun(t, "-cgroup", dir, "--", "sh", "-c", "cat "+filepath.Join(dir, "cgroup.procs"))
	is.Equal(code, 0)                      // the child read its cgroup's process list
	is.True(len(strings.Fields(out)) >= 1) // which holds it (sh, or cat in its place)
	code, _, _ = spawnRun(t, "-cgroup", filepath.Join(t.TempDir()), "--", "true")
	is.Equal(code, 125) // a directory that is no cgroup is spawn's own failure
}

func TestRlimitNofileRestored(t *testing.T) {
	needSh(t)
	is := is.New(t)
	if err := spawn.Available(spawn.Clone3); err != nil {
		t.Skipf("setting spawn's RLIMIT_NOFILE needs the Clone3 backend: %v", err)
	}
	var lim unix.Rlimit
	is.NoErr(unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)) // our limit
	hard := min(lim.Max, 4096)
	if hard < 400 {
		t.Skipf("needs a hard RLIMIT_NOFILE of at least 400, have %d", lim.Max)
	}
	r, w, err := os.Pipe()
	is.NoErr(err) // a pipe for the child's answer
	defer r.Close()
	// spawn starts with soft 256; its Go runtime raises that to hard-1.
	p, err := spawn.Spawn(spawnBin, []string{"spawn", "--", "sh", "-c", "echo $(ulimit -Sn) $(ulimit -Hn)"}, &spawn.Attr{
		Files:   []*os.File{os.Stdin, w, os.Stderr},
		Rlimits: []spawn.Rlimit{{Resource: unix.RLIMIT_NOFILE, Cur: 256, Max: hard}},
	})
	w.Close()
	is.NoErr(err) // spawn starts
	out, _ := io.ReadAll(r)
	st, err := p.Wait()
	p.Release()
	is.NoErr(err)                                                                 // and is reaped
	is.True(st.Success())                                                         // sh exits 0
	is.Equal(strings.TrimSpace(string(out)), "256 "+strconv.FormatUint(hard, 10)) // the child gets the original soft limit back
}

// -o is opened before the program starts: an unwritable path fails before
// anything has run.
func TestOutputFileOpenedFirst(t *testing.T) {
	needSh(t)
	is := is.New(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	code, _, stderr := spawnRun(t, "-json", "-o", filepath.Join(dir, "missing", "report.json"), "--",
		"sh", "-c", "touch "+marker)
	is.Equal(code, 125)                              // spawn failed
	is.True(strings.Contains(stderr, "report.json")) // naming the file
	_, err := os.Stat(marker)
	is.True(errors.Is(err, os.ErrNotExist)) // and the program never ran
}

func TestOutputNeedsJSON(t *testing.T) {
	is := is.New(t)
	out := filepath.Join(t.TempDir(), "report.json")
	code, _, stderr := spawnRun(t, "-o", out, "--", "true")
	is.Equal(code, 2)                                   // a usage error
	is.True(strings.Contains(stderr, "-o needs -json")) // saying why
	_, err := os.Stat(out)
	is.True(errors.Is(err, os.ErrNotExist)) // and nothing written
	code, _, _ = spawnRun(t, "-probe", "-json", "-o", out)
	is.Equal(code, 2) // -probe has no report file either
}

func TestOnePrefix(t *testing.T) {
	is := is.New(t)
	code, _, stderr := spawnRun(t, "-backend", "nope", "--", "true")
	is.Equal(code, 2)                                            // a usage error
	is.True(strings.HasPrefix(stderr, "spawn: unknown backend")) // said once
	is.True(!strings.Contains(stderr, "spawn: spawn:"))          // not twice
	code, _, stderr = spawnRun(t, "-cgroup", t.TempDir(), "--", "true")
	is.Equal(code, 125)                                 // a plain directory is no cgroup
	is.True(!strings.Contains(stderr, "spawn: spawn:")) // one prefix on a library error too
}

func TestForwardSIGQUIT(t *testing.T) {
	needSh(t)
	is := is.New(t)
	cmd := exec.Command(spawnBin, "--", "sh", "-c", `trap 'kill $!; exit 9' QUIT; sleep 60 & echo ready; wait`)
	out, err := cmd.StdoutPipe()
	is.NoErr(err) // a pipe from the child
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	is.NoErr(cmd.Start()) // spawn starts
	line, err := bufio.NewReader(out).ReadString('\n')
	is.NoErr(err)                                 // the child got as far as its trap
	is.Equal(line, "ready\n")                     // and said so
	is.NoErr(cmd.Process.Signal(syscall.SIGQUIT)) // SIGQUIT reaches spawn
	err = cmd.Wait()
	var ee *exec.ExitError
	is.True(errors.As(err, &ee))                             // spawn exits non-zero
	is.Equal(ee.ExitCode(), 9)                               // with the status of the child's trap: it got the signal
	is.True(!strings.Contains(stderr.String(), "goroutine")) // spawn did not dump its goroutines and die
}

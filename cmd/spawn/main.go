// Command spawn runs a program as a child created through a pidfd, with the
// attributes of package github.com/pidfd/spawn, or reports what this machine
// supports.
//
//	spawn [flags] -- PROG [ARG...]
//	spawn -probe [-json]
//
// Run "spawn -h" for the flags and the exit statuses.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/pidfd/spawn"
	"golang.org/x/sys/unix"
)

const usage = `usage: spawn [flags] -- PROG [ARG...]
       spawn -tree [-memory-max SIZE] [-pids-max N] [-cpu-max CPUS] [-cgroup-parent DIR] [flags] -- PROG [ARG...]
       spawn -probe [-json]

spawn runs PROG (looked up in PATH when the name has no slash) as a child
created through a pidfd by package github.com/pidfd/spawn, with this
terminal's standard input, output and error. It forwards SIGINT, SIGTERM,
SIGHUP and SIGQUIT to the child through the pidfd and exits with the child's
status.
A child started from an interactive shell is in the terminal's process group
and may get a Ctrl-C twice: once from the terminal, once forwarded.

spawn -probe reports what this machine and this build support: the kernel,
the glibc, each backend and each kernel feature, and why not where not.

Flags:
  -autokill        kill the child when spawn dies (CLONE_PIDFD_AUTOKILL, Linux 7.1;
                   without -no-new-privs it needs CAP_SYS_ADMIN)
  -backend NAME    auto, pidfd_spawn, clone3 or fork_np (default auto)
  -cgroup DIR      create the child inside this cgroup v2 directory
                   (CLONE_INTO_CGROUP, Linux 5.7)
  -grace D         after -timeout, wait D for the child to end before SIGKILL
                   (default 2s)
  -json            report the child's pid, backend, status and resource usage
                   as one JSON object on standard error (or in the -o file);
                   with -probe, print the report as JSON on standard output
  -no-new-privs    set no_new_privs in the child (CLONE_NNP on Linux 7.1,
                   prctl before)
  -o FILE          write the -json report to FILE instead of standard error;
                   needs -json. FILE is created (truncated) before PROG starts,
                   so an unwritable FILE fails with 125 before anything runs
  -probe           report what this machine supports, and exit
  -setsid          run the child in a new session (no controlling terminal)
  -timeout D       send SIGTERM after D (e.g. 30s, 5m), SIGKILL after -grace more;
                   a run the timeout ended exits 124, as timeout(1) does

Exit status:
  the child's exit code, or 128+N when signal N killed it (as a shell reports)
  124  -timeout expired and the child was sent SIGTERM, whatever it then
       exited with (the -json report has the child's own status)
  125  spawn itself failed (the child could not be set up or waited for)
  126  PROG was found but could not be executed
  127  PROG was not found
  2    bad usage
`

// Exit statuses of spawn's own failures, as shells and env(1) use them.
const (
	exitUsage      = 2
	exitTimedOut   = 124
	exitFailed     = 125
	exitCannotExec = 126
	exitNotFound   = 127
	exitSignalBase = 128
	defaultGrace   = 2 * time.Second
)

func main() {
	os.Exit(run(os.Args[1:]))
}

type options struct {
	autokill, json, nnp, probe, setsid bool
	backend, cgroup, out               string
	grace, timeout                     time.Duration
}

func run(args []string) int {
	var o options
	fs := flag.NewFlagSet("spawn", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&o.autokill, "autokill", false, "")
	fs.StringVar(&o.backend, "backend", "auto", "")
	fs.StringVar(&o.cgroup, "cgroup", "", "")
	fs.DurationVar(&o.grace, "grace", defaultGrace, "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.BoolVar(&o.nnp, "no-new-privs", false, "")
	fs.StringVar(&o.out, "o", "", "")
	fs.BoolVar(&o.probe, "probe", false, "")
	fs.BoolVar(&o.setsid, "setsid", false, "")
	fs.DurationVar(&o.timeout, "timeout", 0, "")
	var tree treeOptions
	treeFlags(fs, &tree)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Print(usage + treeUsage)
			return 0
		}
		return usageError(err.Error())
	}
	if o.probe {
		if fs.NArg() > 0 {
			return usageError("-probe takes no program")
		}
		if o.out != "" {
			return usageError("-o is for a run's -json report; -probe prints on standard output")
		}
		return probe(o.json)
	}
	if fs.NArg() == 0 {
		return usageError("no program given")
	}
	if o.timeout < 0 || o.grace < 0 {
		return usageError("-timeout and -grace must not be negative")
	}
	if o.out != "" && !o.json {
		return usageError("-o needs -json (it names the file for the -json report)")
	}
	if name := treeFlagsWithoutTree(fs, &tree); name != "" {
		return usageError("-" + name + " needs -tree")
	}
	if tree.on {
		return runTree(o, tree, fs.Args())
	}
	return runChild(o, fs.Args())
}

func usageError(msg string) int {
	fmt.Fprintf(os.Stderr, "spawn: %s\n%s", strings.TrimPrefix(msg, "spawn: "), usage)
	return exitUsage
}

// complain prints err on standard error with one "spawn: " in front (the
// package's errors already begin with it).
func complain(err error) {
	fmt.Fprintf(os.Stderr, "spawn: %s\n", strings.TrimPrefix(err.Error(), "spawn: "))
}

// report is the -json object of a run.
type report struct {
	Command    []string `json:"command"`
	Pid        int      `json:"pid,omitempty"`
	Backend    string   `json:"backend,omitempty"`
	ExitCode   *int     `json:"exit_code"`               // null when a signal ended the child
	Signal     string   `json:"signal,omitempty"`        // "SIGTERM"
	SignalNum  int      `json:"signal_number,omitempty"` // 15
	CoreDumped bool     `json:"core_dumped,omitempty"`
	TimedOut   bool     `json:"timed_out,omitempty"` // -timeout expired and SIGTERM was sent
	Status     int      `json:"status"`              // spawn's own exit status (124 after a timeout)
	Wall       float64  `json:"wall_seconds"`
	User       float64  `json:"user_seconds"`
	System     float64  `json:"system_seconds"`
	MaxRSSKiB  int64    `json:"max_rss_kib"`
	Error      string   `json:"error,omitempty"`
}

func runChild(o options, argv []string) int {
	backend, err := spawn.ParseBackend(o.backend)
	if err != nil {
		return usageError(err.Error())
	}
	// The report's file is opened before anything runs: a path that cannot
	// be written is found while nothing has happened yet.
	out, err := reportFile(o.out)
	if err != nil {
		complain(err)
		return exitFailed
	}
	if out != os.Stderr {
		defer out.Close()
	}
	rep := report{Command: argv}
	finish := finisher(o.json, out, &rep, &rep)

	attr := &spawn.Attr{Setsid: o.setsid, NoNewPrivs: o.nnp, AutoKill: o.autokill, Backend: backend}
	if o.cgroup != "" {
		cg, err := spawn.OpenCgroup(o.cgroup)
		if err != nil {
			return finish(exitFailed, err)
		}
		defer cg.Close()
		attr.Cgroup = cg
	}

	// Catch the signals to forward before the child exists: one that
	// arrives meanwhile is delivered once it does.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)

	var cmd *spawn.Cmd
	var timedOut atomic.Bool
	if o.timeout > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
		defer cancel()
		cmd = spawn.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Cancel = func() error {
			timedOut.Store(true)
			return cmd.Process.Signal(syscall.SIGTERM)
		}
		cmd.WaitDelay = max(o.grace, time.Nanosecond) // then SIGKILL
	} else {
		cmd = spawn.Command(argv[0], argv[1:]...)
	}
	if errors.Is(cmd.Err, exec.ErrDot) {
		cmd.Err = nil // PATH names the current directory: run it, as a shell would
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Attr = attr

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return finish(startStatus(err), err)
	}
	rep.Pid = cmd.Process.Pid
	rep.Backend = cmd.Handle().Backend().String()

	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s) // ErrProcessDone once it has exited: nothing to do
			case <-done:
				return
			}
		}
	}()
	werr := cmd.Wait()
	close(done)
	rep.Wall = time.Since(start).Seconds()
	rep.TimedOut = timedOut.Load()

	st := cmd.State() // also for -autokill's autoreaped child, which has no ProcessState
	if st == nil {
		return finish(exitFailed, fmt.Errorf("waiting for %s: %w", argv[0], werr))
	}
	status, ok := rep.setStatus(st)
	if !ok {
		return finish(exitFailed, fmt.Errorf("%s ended with a status the kernel did not report", argv[0]))
	}
	if rep.TimedOut {
		status = exitTimedOut // as timeout(1); the child's own status is in the report
	}
	return finish(status, nil)
}

// setStatus records st's resource usage and how the child ended in rep, and
// returns the exit status spawn takes from it (128+N for signal N, as a
// shell does); false when the kernel reported no status.
func (rep *report) setStatus(st *spawn.State) (int, bool) {
	if ru := st.Rusage(); ru != nil {
		rep.User = st.UserTime().Seconds()
		rep.System = st.SystemTime().Seconds()
		rep.MaxRSSKiB = int64(ru.Maxrss)
	}
	switch {
	case st.Signal() != 0:
		rep.Signal = unix.SignalName(st.Signal())
		rep.SignalNum = int(st.Signal())
		rep.CoreDumped = st.CoreDumped()
		return exitSignalBase + int(st.Signal()), true
	case st.ExitCode() >= 0:
		code := st.ExitCode()
		rep.ExitCode = &code
		return code, true
	}
	return 0, false
}

// startStatus maps a failed start to a shell's exit status.
func startStatus(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, syscall.ENOENT) {
		return exitNotFound
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		switch pe.Op {
		case "execve", "pidfd_spawn", "pidfd_spawnp", "fork_np", "clone3":
			switch pe.Err {
			case syscall.EACCES, syscall.ENOEXEC, syscall.EISDIR, syscall.ETXTBSY, syscall.ELOOP, syscall.ENOTDIR:
				return exitCannotExec
			}
		}
	}
	return exitFailed
}

// reportFile opens the -o file, before anything runs, so that a path that
// cannot be written is found while nothing has happened yet; stderr without -o.
func reportFile(path string) (*os.File, error) {
	if path == "" {
		return os.Stderr, nil
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
}

// finisher returns how a run ends, in both modes: it records status and err
// in base (the report inside v), complains about err, writes v as JSON with
// -json (a failed write turns status 0 into exitFailed), and returns status.
func finisher(asJSON bool, out *os.File, base *report, v any) func(int, error) int {
	return func(status int, err error) int {
		base.Status = status
		if err != nil {
			base.Error = err.Error()
			complain(err)
		}
		if asJSON {
			if werr := writeReport(out, v); werr != nil {
				complain(werr)
				if status == 0 {
					status = exitFailed
				}
			}
		}
		return status
	}
}

// writeReport writes v as one line of JSON.
func writeReport(w *os.File, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// probeLine is one feature in -probe -json.
type probeLine struct {
	Name     string `json:"name"`
	OK       bool   `json:"ok"`
	Value    string `json:"value,omitempty"`
	Requires string `json:"requires,omitempty"`
	Error    string `json:"error,omitempty"`
}

func probe(asJSON bool) int {
	features := spawn.Probe()
	if asJSON {
		lines := make([]probeLine, 0, len(features))
		for _, f := range features {
			l := probeLine{Name: f.Name, OK: f.Err == nil, Value: f.Value, Requires: f.Requires}
			if f.Err != nil {
				l.Error = f.Err.Error()
			}
			lines = append(lines, l)
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(lines); err != nil {
			complain(err)
			return exitFailed
		}
		return 0
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	for _, f := range features {
		switch {
		case f.Err != nil:
			fmt.Fprintf(tw, "%s\tno\tneeds %s: %v\n", f.Name, f.Requires, f.Err)
		default:
			fmt.Fprintf(tw, "%s\tyes\t%s\n", f.Name, f.Value)
		}
	}
	if err := tw.Flush(); err != nil {
		return exitFailed
	}
	return 0
}

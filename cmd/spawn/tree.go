package main

// spawn -tree: PROG's whole process tree in a fresh spawn.Group.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pidfd/spawn"
)

const treeUsage = `
Process trees (spawn -tree [flags] -- PROG [ARG...]):
  -tree            run PROG and everything it starts in a fresh cgroup v2
                   group (below spawn's own cgroup, or -cgroup-parent): when
                   PROG exits, on -timeout or after a forwarded signal, every
                   process left in the tree is killed and the group removed;
                   with -json the report gains the tree's figures. A tree
                   OOM-killed (-memory-max) exits 137 and says so.
  -cgroup-parent DIR  create the group below this cgroup v2 directory
  -cpu-max CPUS    CPU bandwidth of the tree, in CPUs (0.5, 2) (cpu.max)
  -memory-max SIZE memory limit of the tree: bytes, or with K, M, G, T
                   (powers of 1024) (memory.max)
  -pids-max N      most tasks (processes and threads) in the tree (pids.max)
  Limits need their controllers delegated to the parent cgroup.
`

// treeOptions are the flags of -tree.
type treeOptions struct {
	on                bool
	parent, memoryMax string
	pidsMax           int
	cpuMax            float64
}

// treeFlags registers the flags of -tree on fs.
func treeFlags(fs *flag.FlagSet, t *treeOptions) {
	fs.BoolVar(&t.on, "tree", false, "")
	fs.StringVar(&t.parent, "cgroup-parent", "", "")
	fs.StringVar(&t.memoryMax, "memory-max", "", "")
	fs.IntVar(&t.pidsMax, "pids-max", 0, "")
	fs.Float64Var(&t.cpuMax, "cpu-max", 0, "")
}

// treeFlagsWithoutTree reports the first -tree flag given without -tree.
func treeFlagsWithoutTree(fs *flag.FlagSet, t *treeOptions) string {
	if t.on {
		return ""
	}
	var name string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "cgroup-parent", "memory-max", "pids-max", "cpu-max":
			if name == "" {
				name = f.Name
			}
		}
	})
	return name
}

// parseSize reads "64M", "1G", "4096": bytes, with K, M, G or T (KiB, MiB,
// GiB, TiB; a trailing "B" or "iB" is allowed).
func parseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	u = strings.TrimSuffix(strings.TrimSuffix(u, "IB"), "B")
	mult := int64(1)
	if n := len(u); n > 0 {
		switch u[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			u = u[:n-1]
		}
	}
	v, err := strconv.ParseFloat(u, 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) || v*float64(mult) > math.MaxInt64/2 {
		return 0, fmt.Errorf("-memory-max %q: want a size such as 512M or 2G", s)
	}
	return int64(v * float64(mult)), nil
}

// treeReport is the "tree" object of the -json report.
type treeReport struct {
	Cgroup          string  `json:"cgroup"`
	CPUSeconds      float64 `json:"cpu_seconds"`
	UserSeconds     float64 `json:"user_seconds"`
	SystemSeconds   float64 `json:"system_seconds"`
	PeakMemory      int64   `json:"peak_memory_bytes"` // 0 without the memory controller (or before Linux 5.19)
	PeakPids        int64   `json:"peak_pids"`         // 0 without the pids controller (or before Linux 6.1)
	OOMKills        int64   `json:"oom_kills"`
	LeftoversKilled int     `json:"leftovers_killed"` // processes still running when PROG exited
}

// treeJSON is the -json report of -tree: the usual one plus the tree.
type treeJSON struct {
	report
	Tree *treeReport `json:"tree,omitempty"`
}

// runTree runs argv in a fresh group, as runChild runs it alone.
func runTree(o options, t treeOptions, argv []string) int {
	// The report's file is opened before anything runs, as runChild does.
	out, err := reportFile(o.out)
	if err != nil {
		complain(err)
		return exitFailed
	}
	if out != os.Stderr {
		defer out.Close()
	}
	rep := treeJSON{report: report{Command: argv}}
	finish := finisher(o.json, out, &rep.report, &rep)

	lim := &spawn.Limits{PidsMax: t.pidsMax, CPUMax: t.cpuMax}
	if t.memoryMax != "" {
		n, err := parseSize(t.memoryMax)
		if err != nil {
			return usageError(err.Error())
		}
		lim.MemoryMax = n
	}
	if t.pidsMax < 0 || t.cpuMax < 0 {
		return usageError("-pids-max and -cpu-max must not be negative")
	}
	backend, err := spawn.ParseBackend(o.backend)
	if err != nil {
		return usageError(err.Error())
	}
	if o.cgroup != "" {
		return usageError("-cgroup and -tree exclude each other (use -cgroup-parent)")
	}
	var parent *spawn.Cgroup
	if t.parent != "" {
		if parent, err = spawn.OpenCgroup(t.parent); err != nil {
			return finish(exitFailed, err)
		}
		defer parent.Close()
	}
	g, err := spawn.NewGroup(parent, "", lim)
	if err != nil {
		return finish(exitFailed, err)
	}
	closed := false
	defer func() {
		if !closed {
			g.Close()
		}
	}()

	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)

	var cmd *spawn.Cmd
	var timedOut atomic.Bool
	if o.timeout > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
		defer cancel()
		cmd = g.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Cancel = func() error {
			timedOut.Store(true)
			return g.Signal(syscall.SIGTERM) // the whole tree; SIGKILL after -grace
		}
		cmd.WaitDelay = max(o.grace, time.Nanosecond)
	} else {
		cmd = g.Command(argv[0], argv[1:]...)
	}
	if errors.Is(cmd.Err, exec.ErrDot) {
		cmd.Err = nil
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Attr = &spawn.Attr{Setsid: o.setsid, NoNewPrivs: o.nnp, AutoKill: o.autokill, Backend: backend}

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return finish(startStatus(err), err)
	}
	rep.Pid = cmd.Handle().Pid()
	rep.Backend = cmd.Handle().Backend().String()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Handle().Signal(s)
			case <-done:
				return
			}
		}
	}()
	werr := cmd.Wait()
	close(done)

	// PROG is gone: whatever it left goes too.
	tr := &treeReport{Cgroup: g.Cgroup().Path()}
	rep.Tree = tr
	if left, err := g.Pids(); err == nil {
		tr.LeftoversKilled = len(left)
	}
	kerr := g.Kill()
	if kerr == nil {
		kerr = g.Wait(context.Background())
	}
	rep.Wall = time.Since(start).Seconds()
	rep.TimedOut = timedOut.Load()
	stats, serr := g.Stats()
	if stats != nil {
		tr.CPUSeconds = stats.CPUUsage.Seconds()
		tr.UserSeconds = stats.CPUUser.Seconds()
		tr.SystemSeconds = stats.CPUSystem.Seconds()
		tr.PeakMemory = stats.MemoryPeak
		tr.PeakPids = stats.PidsPeak
		tr.OOMKills = stats.OOMKills
	}
	closed = true
	cerr := g.Close()
	if err := errors.Join(kerr, serr, cerr); err != nil {
		complain(fmt.Errorf("cleaning up the tree: %w", err))
	}
	if tr.LeftoversKilled > 0 && !o.json {
		fmt.Fprintf(os.Stderr, "spawn: killed %d process(es) left in the tree of %s\n", tr.LeftoversKilled, argv[0])
	}

	st := cmd.State()
	if st == nil {
		return finish(exitFailed, fmt.Errorf("waiting for %s: %w", argv[0], werr))
	}
	status, ok := rep.setStatus(st)
	if !ok {
		return finish(exitFailed, fmt.Errorf("%s ended with a status the kernel did not report", argv[0]))
	}
	if tr.OOMKills > 0 && status != 0 {
		fmt.Fprintf(os.Stderr, "spawn: the tree of %s was OOM-killed (-memory-max %s): %d process(es) killed\n",
			argv[0], t.memoryMax, tr.OOMKills)
		status = exitSignalBase + int(syscall.SIGKILL)
	}
	if rep.TimedOut {
		status = exitTimedOut // as runChild; PROG's own status is in the report
	}
	return finish(status, nil)
}

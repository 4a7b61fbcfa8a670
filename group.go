//go:build linux

// Process trees in a cgroup v2 directory of their own. Kernel history of
// what a Group uses:
//
//	v4.5: cgroup2; cgroup.events "populated", notified through poll
//	v4.15: cpu.stat usage_usec/user_usec/system_usec without the cpu controller
//	v5.2: cgroup.freeze, cgroup.events "frozen"
//	v5.7: CLONE_INTO_CGROUP (every process is created inside)
//	v5.14: cgroup.kill
//	v5.19: memory.peak
//	v6.1: pids.peak

package spawn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Limits bounds the resources of a [Group]'s tree. A zero field sets no
// limit. Each limit needs its controller (memory, pids, cpu) available in the
// parent cgroup: NewGroup enables in the parent's cgroup.subtree_control the
// controllers the Limits asks for, and only those.
type Limits struct {
	// MemoryMax is the hard memory limit in bytes (memory.max): above it
	// the kernel reclaims, then OOM-kills inside the tree.
	MemoryMax int64
	// MemoryHigh is the memory throttling threshold in bytes (memory.high).
	MemoryHigh int64
	// PidsMax is the largest number of tasks (processes and threads) in the
	// tree (pids.max): a fork beyond it fails with EAGAIN. Where clone3 is
	// filtered, Group.Spawn's child joins the group by migration (the
	// Clone3 backend's clone(2) path), which the kernel does not bound by
	// pids.max; the forks of the tree itself stay bounded.
	PidsMax int
	// CPUMax is the CPU bandwidth in CPUs (cpu.max with a 100 ms period):
	// 0.5 is 50 ms per 100 ms, 1.5 is 150 ms per 100 ms. At least 0.01.
	CPUMax float64
	// CPUWeight is the relative CPU share, 1..10000 (cpu.weight; the
	// kernel's default is 100).
	CPUWeight int
}

// cpuMaxPeriod is the cpu.max period NewGroup writes, in microseconds.
const cpuMaxPeriod = 100000

// check rejects limits out of range, before anything is created.
func (l *Limits) check() error {
	if l == nil {
		return nil
	}
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("spawn: NewGroup: Limits.%s = %v: %s: %w", field, v, want, unix.EINVAL)
	}
	switch {
	case l.MemoryMax < 0:
		return bad("MemoryMax", l.MemoryMax, "want bytes > 0, or 0 for no limit")
	case l.MemoryHigh < 0:
		return bad("MemoryHigh", l.MemoryHigh, "want bytes > 0, or 0 for no limit")
	case l.PidsMax < 0:
		return bad("PidsMax", l.PidsMax, "want a count > 0, or 0 for no limit")
	case math.IsNaN(l.CPUMax) || l.CPUMax < 0 || (l.CPUMax > 0 && l.CPUMax < 0.01) || l.CPUMax > 1e6:
		return bad("CPUMax", l.CPUMax, "want CPUs in [0.01, 1e6], or 0 for no limit (the kernel's smallest quota is 1 ms per 100 ms)")
	case l.CPUWeight < 0 || l.CPUWeight > 10000:
		return bad("CPUWeight", l.CPUWeight, "want 1..10000, or 0 for the default")
	}
	return nil
}

// controllers lists the controllers the limits need, in the order the
// kernel lists them.
func (l *Limits) controllers() []string {
	if l == nil {
		return nil
	}
	var cs []string
	if l.CPUMax > 0 || l.CPUWeight > 0 {
		cs = append(cs, "cpu")
	}
	if l.MemoryMax > 0 || l.MemoryHigh > 0 {
		cs = append(cs, "memory")
	}
	if l.PidsMax > 0 {
		cs = append(cs, "pids")
	}
	return cs
}

// files lists the interface files and values that set the limits.
func (l *Limits) files() [][2]string {
	if l == nil {
		return nil
	}
	var fs [][2]string
	if l.MemoryHigh > 0 {
		fs = append(fs, [2]string{"memory.high", strconv.FormatInt(l.MemoryHigh, 10)})
	}
	if l.MemoryMax > 0 {
		fs = append(fs, [2]string{"memory.max", strconv.FormatInt(l.MemoryMax, 10)})
	}
	if l.PidsMax > 0 {
		fs = append(fs, [2]string{"pids.max", strconv.Itoa(l.PidsMax)})
	}
	if l.CPUMax > 0 {
		quota := int64(math.Round(l.CPUMax * cpuMaxPeriod))
		fs = append(fs, [2]string{"cpu.max", fmt.Sprintf("%d %d", quota, cpuMaxPeriod)})
	}
	if l.CPUWeight > 0 {
		fs = append(fs, [2]string{"cpu.weight", strconv.Itoa(l.CPUWeight)})
	}
	return fs
}

// Group is a process tree in a fresh cgroup v2 directory: every process it
// starts is created inside (CLONE_INTO_CGROUP), and so is everything those
// processes start, whatever they do with sessions and process groups
// (setsid, double forks, setpgid). The tree is then one unit: [Group.Kill]
// kills all of it at once, [Group.Freeze] stops all of it, [Group.Wait]
// waits until the last process of it is gone, [Group.Stats] measures it,
// and [Group.Close] leaves nothing of it behind.
//
// Requirements: cgroup2 mounted, write access to the parent cgroup (root, or
// a delegated subtree such as a systemd user service's), Linux 5.7 for
// spawning inside; Kill needs Linux 5.14 (cgroup.kill) or falls back to
// freezing and killing each process (Linux 5.2); Freeze needs Linux 5.2.
//
// A Group must be closed: the garbage collector does not kill its processes
// or remove its directory (a Group forgotten without Close leaves both), so
// call Close, typically deferred, once the tree is done with.
//
// A Group's methods may be called from several goroutines at once.
type Group struct {
	cg     *Cgroup
	parent string // the parent's path, for errors

	mu     sync.RWMutex // held for reading across a spawn, for writing by Close and newLeaf
	closed bool
	into   *Cgroup // where Spawn creates processes: cg, or a leaf below it made after a cgroup.kill
	leaves int     // leaves made

	// killed says cgroup.kill was written since into was made. Linux 6.14
	// to 6.18 (seen on 6.18; 7.3 is fixed) kill at once every child that
	// clone3 creates into a cgroup once killed: CLONE_INTO_CGROUP compares
	// the target's kill count with the one of the caller's own cgroup. A
	// new cgroup starts at 0, so spawns after a Kill go into a fresh leaf.
	killed atomic.Bool

	closeOnce sync.Once
	closeErr  error

	// killEach, set by tests, makes Kill take the path of kernels before
	// 5.14 (no cgroup.kill): freeze, SIGKILL each process, thaw.
	killEach bool
}

// groupSeq numbers the unique names of groups created with an empty name.
var groupSeq atomic.Uint64

// controllerNames are the prefixes of interface files that a group's name
// may not take ("memory.max" is a file, not a name).
var controllerNames = []string{"cgroup", "cpu", "cpuset", "cpuacct", "io", "memory", "pids",
	"rdma", "hugetlb", "misc", "perf_event", "freezer", "net_cls", "net_prio", "blkio", "devices", "dmem"}

// checkGroupName rejects a name that is not one safe directory name.
func checkGroupName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("spawn: NewGroup: name %q %s: %w", name, why, unix.EINVAL)
	}
	switch {
	case name == "." || name == "..":
		return bad("is not a directory name")
	case strings.ContainsAny(name, "/\x00\n"):
		return bad("must be one path element (no '/', NUL or newline)")
	case strings.Contains(name, ".."):
		return bad("must not contain '..'")
	case len(name) > 255:
		return bad("is longer than 255 bytes")
	}
	if prefix, _, ok := strings.Cut(name, "."); ok {
		for _, c := range controllerNames {
			if prefix == c {
				return bad("looks like a cgroup interface file (" + c + ".*)")
			}
		}
	}
	return nil
}

// NewGroup creates the cgroup directory name below parent and returns it
// as a Group, with the limits lim (nil: none).
//
// parent nil: below the cgroup this process is in (the "0::" line of
// /proc/self/cgroup), which works as root and unprivileged inside a
// delegated subtree. An empty name picks a unique one ("spawn-PID-N"). A
// name must be one directory name and not look like an interface file
// ("cgroup.procs", "memory.max").
//
// Limits need their controllers: NewGroup enables the ones lim asks for in
// the parent's cgroup.subtree_control (and leaves them enabled there, as
// other groups of the same parent may rely on them). When the kernel
// refuses, the error names the parent, the controller, the rule and the fix:
// the controller is not available in the parent (ENOENT: an ancestor does
// not delegate it), the parent holds processes (EBUSY: the
// no-internal-processes rule of cgroup v2; the root cgroup is exempt), or
// no permission (EACCES).
//
// Bad input (a name, a limit out of range, a closed parent) is an error
// before anything is created; on every error NewGroup leaves no directory
// and no descriptor behind.
func NewGroup(parent *Cgroup, name string, lim *Limits) (*Group, error) {
	if name != "" {
		if err := checkGroupName(name); err != nil {
			return nil, err
		}
	}
	if err := lim.check(); err != nil {
		return nil, err
	}
	if parent == nil {
		dir, err := selfCgroup()
		if err != nil {
			return nil, err
		}
		if parent, err = OpenCgroup(dir); err != nil {
			return nil, err
		}
		defer parent.Close()
	} else if parent.f == nil {
		return nil, fmt.Errorf("spawn: NewGroup: parent is not an open Cgroup (use OpenCgroup): %w", unix.EINVAL)
	}
	if err := enableControllers(parent, lim.controllers()); err != nil {
		return nil, err
	}

	var cg *Cgroup
	var err error
	if name != "" {
		cg, err = parent.Mkdir(name)
	} else {
		for range 100 {
			cg, err = parent.Mkdir(fmt.Sprintf("spawn-%d-%d", os.Getpid(), groupSeq.Add(1)))
			if !errors.Is(err, unix.EEXIST) {
				break
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("spawn: NewGroup: %w", err)
	}
	g := &Group{cg: cg, into: cg, parent: parent.Path()}
	for _, kv := range lim.files() {
		if err := writeLimit(cg, kv[0], kv[1]); err != nil {
			cg.Remove() // empty and new: nothing can keep it
			cg.Close()
			return nil, fmt.Errorf("spawn: NewGroup: setting %s to %s: %w", kv[0], kv[1], err)
		}
	}
	return g, nil
}

// writeLimit writes one limit file; tests replace it to force the error
// path.
var writeLimit = func(cg *Cgroup, name, value string) error { return cg.writeFile(name, value) }

// enableControllers makes sure the controllers cs are enabled for the
// children of parent, and says why and what to do when the kernel refuses.
func enableControllers(parent *Cgroup, cs []string) error {
	if len(cs) == 0 {
		return nil
	}
	enabled, err := parent.readFile("cgroup.subtree_control")
	if err != nil {
		return fmt.Errorf("spawn: NewGroup: %w", err)
	}
	for _, c := range cs {
		if hasWord(enabled, c) {
			continue
		}
		if err := parent.writeFile("cgroup.subtree_control", "+"+c); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				pe.Op = "write +" + c
			}
			return controllerError(parent.Path(), c, err)
		}
	}
	return nil
}

func hasWord(b []byte, w string) bool {
	for _, f := range strings.Fields(string(b)) {
		if f == w {
			return true
		}
	}
	return false
}

// controllerError explains a refused controller: the rule that refused it
// and the way out.
func controllerError(parent, c string, err error) error {
	const delegate = "run the program in a delegated cgroup, e.g. `systemd-run --user --scope -p Delegate=yes PROG`"
	var rule, fix string
	switch {
	case errors.Is(err, unix.ENOENT):
		rule = "the controller is not available there (ENOENT: it is not in the parent's cgroup.controllers, so an ancestor does not enable it in its cgroup.subtree_control)"
		fix = delegate + " with the controller enabled, or pass a parent where " + c + " is in cgroup.controllers"
	case errors.Is(err, unix.EBUSY):
		rule = "the parent holds processes (EBUSY: cgroup v2's no-internal-processes rule: a cgroup other than the root with processes of its own cannot enable a domain controller such as memory for its children)"
		fix = "pass a parent without processes: " + delegate + ", move this process into a leaf child of that cgroup and create groups beside it"
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		rule = "no permission to write the parent's cgroup.subtree_control (EACCES)"
		fix = delegate + ", or run as root"
	default:
		rule = "the kernel refused it"
		fix = delegate
	}
	return fmt.Errorf("spawn: NewGroup: cannot enable the %s controller for the children of %s: %s; fix: %s: %w",
		c, parent, rule, fix, err)
}

// Cgroup returns the group's cgroup directory. It stays owned by the
// Group: do not close or remove it. Processes started after a Kill are in
// a cgroup below it (see [Group.Kill]); [Group.Pids] lists them all.
func (g *Group) Cgroup() *Cgroup { return g.cg }

// errGroupClosed is the error of a spawn into a closed group.
func (g *Group) errClosed() error {
	return fmt.Errorf("spawn: group %s is closed: %w", g.cg.Path(), os.ErrClosed)
}

// Spawn starts path as [Spawn] does, inside the group (attr.Cgroup is set
// to the group's cgroup; an attr.Cgroup naming another cgroup is an error,
// before any child exists). After Close it fails with an error matching
// os.ErrClosed and starts nothing.
func (g *Group) Spawn(path string, argv []string, attr *Attr) (*Process, error) {
	a, err := g.attr(attr)
	if err != nil {
		return nil, err
	}
	if g.killed.Load() {
		if err := g.newLeaf(); err != nil {
			return nil, err
		}
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return nil, g.errClosed()
	}
	a.Cgroup = g.into
	return Spawn(path, argv, a)
}

// newLeaf makes the cgroup that spawns go into after a cgroup.kill.
func (g *Group) newLeaf() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || !g.killed.Load() {
		return nil
	}
	g.leaves++
	leaf, err := g.cg.Mkdir(fmt.Sprintf("after-kill-%d", g.leaves))
	if err != nil {
		return fmt.Errorf("spawn: Group: a cgroup for the processes started after Kill: %w", err)
	}
	if g.into != g.cg {
		g.into.Close() // no spawn uses it: they hold g.mu for reading
	}
	g.into = leaf
	g.killed.Store(false)
	return nil
}

// attr returns a copy of attr that creates the child inside the group.
func (g *Group) attr(attr *Attr) (*Attr, error) {
	var a Attr
	if attr != nil {
		a = *attr
	}
	if a.Cgroup != nil && a.Cgroup != g.cg && !sameCgroup(a.Cgroup, g.cg) {
		return nil, fmt.Errorf("spawn: Attr.Cgroup %s conflicts with the group's cgroup %s (a Group creates its processes inside its own): %w",
			a.Cgroup.Path(), g.cg.Path(), unix.EINVAL)
	}
	a.Cgroup = g.cg
	return &a, nil
}

// sameCgroup reports whether a and b are the same directory.
func sameCgroup(a, b *Cgroup) bool {
	var sa, sb unix.Stat_t
	if a.control(func(fd int) error { return unix.Fstat(fd, &sa) }) != nil {
		return false
	}
	if b.control(func(fd int) error { return unix.Fstat(fd, &sb) }) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// Command returns a [Cmd] that runs name inside the group, as [Command]
// does. An Attr.Cgroup set on it must be the group's own.
func (g *Group) Command(name string, arg ...string) *Cmd {
	c := Command(name, arg...)
	c.group = g
	return c
}

// CommandContext returns a [Cmd] that runs name inside the group, as
// [CommandContext] does, except that Cancel kills the whole group: every
// process of it, including the grandchildren that inherited the Cmd's pipes
// (which would otherwise keep Wait waiting until WaitDelay), and those of
// other Cmds started in the same group.
func (g *Group) CommandContext(ctx context.Context, name string, arg ...string) *Cmd {
	c := CommandContext(ctx, name, arg...)
	c.group = g
	c.Cancel = g.Kill
	return c
}

// Pids returns the pids of the processes in the tree: the group's
// cgroup.procs and those of the cgroups its processes may have created
// below it.
func (g *Group) Pids() ([]int, error) {
	var pids []int
	err := walkCgroups(g.cg.Path(), func(dir string) error {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			if dir != g.cg.Path() && errors.Is(err, os.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("spawn: %s/cgroup.procs: %w", dir, err)
			}
			pids = append(pids, pid)
		}
		return nil
	})
	return pids, err
}

// walkCgroups calls fn for dir and, after it, for every cgroup below it.
func walkCgroups(dir string, fn func(dir string) error) error {
	if err := fn(dir); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := walkCgroups(filepath.Join(dir, e.Name()), fn); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// Signal sends sig to every process of the tree, each through a pidfd
// opened from its pid in cgroup.procs (so a pid reused meanwhile is never
// hit); a process that exits meanwhile is skipped. It is a sweep: a process
// forked while it runs may miss the signal (Freeze first for a snapshot).
func (g *Group) Signal(sig syscall.Signal) error {
	pids, err := g.Pids()
	if err != nil {
		return err
	}
	var errs []error
	for _, pid := range pids {
		if err := signalPid(pid, sig); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// signalPid sends sig to pid through a pidfd; ESRCH (gone) is not an error.
func signalPid(pid int, sig syscall.Signal) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err == unix.ESRCH {
		return nil
	}
	if err != nil {
		return os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && err != unix.ESRCH {
		return os.NewSyscallError("pidfd_send_signal", err)
	}
	return nil
}

// Kill sends SIGKILL to every process of the tree at once, through
// cgroup.kill (Linux ≥ 5.14), which also catches processes being forked. It
// does not wait for them to be gone: [Group.Wait] does.
//
// Before 5.14 it freezes the group (cgroup.freeze, Linux 5.2), sends SIGKILL
// to each process in cgroup.procs through a pidfd, repeats until the group
// is empty, and thaws it again unless it was frozen before.
//
// The group stays usable: processes started after a Kill are created in a
// new cgroup below the group's directory, because Linux 6.14 to 6.18 kill
// every process created into a cgroup after its cgroup.kill.
func (g *Group) Kill() error {
	if !g.killEach {
		err := g.cg.writeFile("cgroup.kill", "1")
		if err == nil {
			g.killed.Store(true)
			return nil
		}
		if !errors.Is(err, unix.ENOENT) || errors.Is(err, os.ErrClosed) {
			return err
		}
	}
	return g.killOneByOne()
}

// killOneByOne is Kill without cgroup.kill.
func (g *Group) killOneByOne() error {
	wasFrozen := false
	if ev, err := g.events(); err == nil {
		wasFrozen = ev.frozen
	}
	// Frozen, the tree cannot fork: each sweep sees all of it. Without
	// cgroup.freeze (before 5.2) the sweeps repeat until none is left.
	ferr := g.Freeze()
	if ferr != nil && !errors.Is(ferr, ErrNotSupported) {
		return ferr
	}
	var kerr error
	for {
		pids, err := g.Pids()
		if err != nil {
			kerr = err
			break
		}
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			if err := signalPid(pid, unix.SIGKILL); err != nil {
				kerr = err
			}
		}
		if kerr != nil {
			break
		}
		// The killed leave the group as they exit; look again after they
		// have, or after a moment.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		g.awaitEvents(ctx, func(ev groupEvents) bool { return !ev.populated })
		cancel()
	}
	if ferr == nil && !wasFrozen {
		if err := g.Thaw(); kerr == nil {
			kerr = err
		}
	}
	return kerr
}

// Freeze stops every process of the tree (cgroup.freeze, Linux ≥ 5.2) and
// returns once the kernel reports the group frozen (cgroup.events
// "frozen 1"). Frozen processes can still be killed.
func (g *Group) Freeze() error {
	if err := g.cg.writeFile("cgroup.freeze", "1"); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return unsupported(err, "Group.Freeze needs Linux 5.2 (cgroup.freeze)")
		}
		return err
	}
	return g.awaitEvents(context.Background(), func(ev groupEvents) bool { return ev.frozen })
}

// Thaw lets the processes of a frozen tree run again (cgroup.freeze,
// Linux ≥ 5.2).
func (g *Group) Thaw() error {
	err := g.cg.writeFile("cgroup.freeze", "0")
	if errors.Is(err, unix.ENOENT) {
		return unsupported(err, "Group.Thaw needs Linux 5.2 (cgroup.freeze)")
	}
	return err
}

// Wait waits until the tree is empty (cgroup.events "populated 0"): every
// process of it has exited, however it was started. It parks in the
// runtime poller on a descriptor of cgroup.events, which the kernel
// notifies on each change, so waiting goroutines hold no OS thread. When ctx
// is done first, Wait returns ctx.Err(). Exited children of this process
// that were not waited for (zombies) do not count: they are no longer in
// the group.
func (g *Group) Wait(ctx context.Context) error {
	return g.awaitEvents(ctx, func(ev groupEvents) bool { return !ev.populated })
}

// groupEvents is what cgroup.events says.
type groupEvents struct {
	populated, frozen bool
}

func parseEvents(b []byte) groupEvents {
	var ev groupEvents
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		k, v, _ := bytes.Cut(line, []byte{' '})
		switch string(k) {
		case "populated":
			ev.populated = string(v) == "1"
		case "frozen":
			ev.frozen = string(v) == "1"
		}
	}
	return ev
}

// events reads cgroup.events once.
func (g *Group) events() (groupEvents, error) {
	b, err := g.cg.readFile("cgroup.events")
	return parseEvents(b), err
}

// aLongTimeAgo is a read deadline that has passed.
var aLongTimeAgo = time.Unix(1, 0)

// awaitEvents returns once cgroup.events satisfies done, or ctx.Err() when
// ctx ends first. The kernel notifies pollers of cgroup.events on each
// change of it (kernfs_notify), so the descriptor goes into the runtime
// poller and the goroutine parks there; each wake-up rereads the file from
// its start.
func (g *Group) awaitEvents(ctx context.Context, done func(groupEvents) bool) error {
	path := filepath.Join(g.cg.Path(), "cgroup.events")
	var f *os.File
	err := g.cg.control(func(dfd int) error {
		fd, err := unix.Openat(dfd, "cgroup.events", unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return err
		}
		f = os.NewFile(uintptr(fd), path)
		return nil
	})
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: unwrapPath(err)}
	}
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(aLongTimeAgo) })
		defer stop()
	}
	var buf [128]byte
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, err := unix.Pread(int(fd), buf[:], 0)
		if err != nil {
			if err == unix.EINTR {
				return false
			}
			rerr = err
			return true
		}
		return done(parseEvents(buf[:n]))
	})
	switch {
	case rerr != nil:
		return &os.PathError{Op: "read", Path: path, Err: rerr}
	case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return &os.PathError{Op: "wait", Path: path, Err: err}
	}
	return nil
}

// GroupStats is what the kernel counts for a Group's tree. A figure the
// kernel does not give (its controller is not enabled, or the kernel is too
// old) is zero.
type GroupStats struct {
	// CPU time of the tree (cpu.stat usage_usec, user_usec, system_usec;
	// Linux 4.15, no controller needed), including processes that exited.
	CPUUsage, CPUUser, CPUSystem time.Duration
	// CPUThrottled is the time the tree was held back by CPUMax
	// (cpu.stat throttled_usec; cpu controller).
	CPUThrottled time.Duration
	// MemoryCurrent and MemoryPeak are the tree's memory use now and at its
	// highest, in bytes (memory.current; memory.peak, Linux 5.19; memory
	// controller).
	MemoryCurrent, MemoryPeak int64
	// PidsCurrent and PidsPeak count the tree's tasks now and at the most
	// (pids.current; pids.peak, Linux 6.1; pids controller).
	PidsCurrent, PidsPeak int64
	// OOMEvents counts the times the tree hit MemoryMax and the OOM killer
	// ran; OOMKills the processes it killed (memory.events oom, oom_kill).
	OOMEvents, OOMKills int64
	// Frozen and Populated are cgroup.events: the tree is frozen; it holds
	// a process.
	Frozen, Populated bool
}

// Stats reads the tree's figures from the group's interface files.
func (g *Group) Stats() (*GroupStats, error) {
	var s GroupStats
	ev, err := g.events()
	if err != nil {
		return nil, err
	}
	s.Frozen, s.Populated = ev.frozen, ev.populated

	var errs []error
	keyed := func(name string, fn func(k string, v int64)) {
		b, err := g.cg.readFile(name)
		if err != nil {
			if !errors.Is(err, unix.ENOENT) {
				errs = append(errs, err)
			}
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, " ")
			if n, err := strconv.ParseInt(v, 10, 64); ok && err == nil {
				fn(k, n)
			}
		}
	}
	single := func(name string) int64 {
		b, err := g.cg.readFile(name)
		if err != nil {
			if !errors.Is(err, unix.ENOENT) {
				errs = append(errs, err)
			}
			return 0
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64) // "max" is no figure
		return n
	}
	keyed("cpu.stat", func(k string, v int64) {
		d := time.Duration(v) * time.Microsecond
		switch k {
		case "usage_usec":
			s.CPUUsage = d
		case "user_usec":
			s.CPUUser = d
		case "system_usec":
			s.CPUSystem = d
		case "throttled_usec":
			s.CPUThrottled = d
		}
	})
	keyed("memory.events", func(k string, v int64) {
		switch k {
		case "oom":
			s.OOMEvents = v
		case "oom_kill":
			s.OOMKills = v
		}
	})
	s.MemoryCurrent = single("memory.current")
	s.MemoryPeak = single("memory.peak")
	s.PidsCurrent = single("pids.current")
	s.PidsPeak = single("pids.peak")
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &s, nil
}

// Close kills what is left of the tree, waits until it is empty, removes
// the group's directory (and any cgroup its processes created below it) and
// closes its descriptor. Spawns after Close fail with os.ErrClosed; a spawn
// running when Close is called finishes first, and its process is killed.
// Close may be called more than once: later calls return what the first
// returned.
func (g *Group) Close() error {
	g.closeOnce.Do(func() {
		g.mu.Lock()
		g.closed = true
		g.mu.Unlock()
		g.closeErr = g.close()
	})
	return g.closeErr
}

func (g *Group) close() error {
	err := g.Kill()
	if err == nil {
		err = g.Wait(context.Background())
	}
	if err == nil {
		err = removeCgroupTree(g.cg.Path())
	}
	if g.into != g.cg {
		g.into.Close()
	}
	if cerr := g.cg.Close(); err == nil {
		err = cerr
	}
	return err
}

// removeCgroupTree removes dir and the cgroups below it, deepest first. A
// cgroup just emptied may refuse for a moment (EBUSY) while its last tasks
// finish exiting: that is retried for a while.
func removeCgroupTree(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := removeCgroupTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	for wait := time.Millisecond; ; wait *= 2 {
		err := unix.Rmdir(dir)
		if err == nil || err == unix.ENOENT {
			return nil
		}
		if err != unix.EBUSY || wait > time.Second {
			return &os.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		time.Sleep(wait)
	}
}

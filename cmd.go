package spawn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Cmd is an external command being prepared or run: the os/exec.Cmd of this
// package, with the same fields and the same contracts for Start, Wait, Run,
// Output, CombinedOutput and the pipes, so that code written for os/exec
// moves over by changing the import. What differs:
//
//   - The child is created by [Spawn] (pidfd_spawn or clone3, see [Backend])
//     with a pidfd: Wait parks on it in the runtime poller and holds no OS
//     thread. Process, ProcessState and [*ExitError] are os/exec's own
//     types; [Cmd.Handle] gives spawn's [*Process] for what os lacks.
//   - SysProcAttr is moved onto Attr at Start; Attr carries what os/exec
//     has no field for: Cgroup, AutoKill, NoNewPrivs, Rlimits, Backend, …
//   - Every descriptor other than Stdin, Stdout, Stderr and ExtraFiles is
//     closed in the child, close-on-exec or not (unless Attr.InheritFDs).
//   - [Cmd.Wait] releases the pidfd once it has reaped the child.
//
// What is the same, down to the details: the pipes Cmd makes block in the
// child (only the parent's end is non-blocking, in the runtime poller); an
// *os.File given as Stdin, Stdout, Stderr or in ExtraFiles is switched to
// blocking mode, as os/exec does through File.Fd; the environment is
// deduplicated as os/exec does it; and every error os/exec also returns
// has os/exec's text ("exec: already started", "exec: Stdout already set",
// …), since code matches on it.
//
// RLIMIT_NOFILE: Go raises its own soft limit at start-up (to hard-1) and
// os/exec gives its children the original back. Cmd does the same: unless
// Attr already sets RLIMIT_NOFILE or forces the PidfdSpawn backend
// (posix_spawn cannot set limits), a Cmd child gets the limit an os/exec
// child would get, which routes it to the Clone3 backend when that limit
// differs from this process's. The runtime keeps the original privately, so
// when the limit shows the runtime's mark (soft = hard-1), Cmd learns it once
// from the runtime itself: it starts a child as os/exec does, traced, so that
// it stops before the program runs, reads that child's limit and kills it.
// Where ptrace is denied, Cmd children inherit the raised limit; the
// RLIMIT_NOFILE line of [Probe] says which case holds. Where the probe fails
// for want of resources (EMFILE, EAGAIN, ENOMEM), that child inherits the
// raised limit, Start succeeds, and the next Start probes again. The probe's
// child delivers a SIGCHLD to this process; setting RLIMIT_NOFILE in
// Attr.Rlimits avoids the probe.
//
// A Cmd cannot be reused after Start, Run, Output or CombinedOutput.
type Cmd struct {
	// Path is the program to run. It is used as given (as by Spawn, not
	// SpawnP): a relative path is taken relative to Dir. Command fills it
	// in with exec.LookPath's result.
	Path string

	// Args holds the command-line arguments, the program's name first
	// (Args[0]). Empty: Path alone.
	Args []string

	// Env is the child's environment, "KEY=value" entries. nil: the
	// parent's environment, with PWD set to Dir when Dir is set. Where a
	// key appears more than once the last value wins; an entry without '='
	// is passed as it is, an empty one dropped; an entry holding a NUL byte
	// makes Start fail (all as os/exec).
	Env []string

	// Dir is the child's working directory; empty: the parent's.
	Dir string

	// Stdin is the child's standard input. nil reads from the null device
	// (which the package opens once, close-on-exec, and keeps open: one
	// descriptor for reading and one for writing, shared by every Cmd);
	// an *os.File is given to the child as it is (switched to blocking mode
	// if it was not, as os/exec does); any other Reader is copied into a
	// pipe by a goroutine that Wait waits for (see WaitDelay). The child's
	// end of such a pipe blocks, as under os/exec.
	Stdin io.Reader

	// Stdout and Stderr are the child's standard output and error. nil
	// writes to the null device; an *os.File is given to the child as it
	// is; any other Writer is fed from a pipe by a goroutine. When both
	// are the same Writer (==), the child gets one pipe for both, and at
	// most one goroutine writes to it.
	Stdout io.Writer
	Stderr io.Writer

	// ExtraFiles are given to the child as descriptors 3, 4, …; a nil entry
	// leaves that descriptor closed.
	ExtraFiles []*os.File

	// Attr holds the rest of the child's attributes. Cmd copies it and
	// sets Env, Dir and Files from its own fields (so Attr.Env, Attr.Dir
	// and Attr.Files are ignored). nil: the defaults of Spawn.
	Attr *Attr

	// SysProcAttr holds os/exec's system attributes; Start moves each of
	// its fields onto the Attr (every field has a counterpart there, see
	// the README's migration table): UseCgroupFD and CgroupFD become
	// Attr.Cgroup, and PidFD receives a duplicate of the child's pidfd,
	// which the caller closes. A field that Attr also sets, to another
	// value, makes Start fail (EINVAL) naming it.
	SysProcAttr *syscall.SysProcAttr

	// Cancel, for a Cmd from CommandContext, is called when the context is
	// done before the child has exited; CommandContext sets it to kill the
	// child. If it returns nil (or any error other than one matching
	// os.ErrProcessDone) and the child then exits with status 0, Wait
	// returns the context's error (or the wrapped error of Cancel) instead
	// of nil. Setting Cancel on a Cmd not made by CommandContext makes Start
	// fail.
	Cancel func() error

	// WaitDelay bounds the time Wait spends after the child has exited (or,
	// with a context, after the context is done and Cancel was called): when
	// it has passed, a child still running is killed, and the parent's ends
	// of the pipes are closed, so that a grandchild that inherited them
	// cannot keep Wait from returning. Wait then reports exec.ErrWaitDelay
	// if nothing worse happened. Zero: no bound, Wait waits for the pipes
	// to reach end of file.
	WaitDelay time.Duration

	// Process is the child, once started: an *os.Process, as in os/exec,
	// found with os.FindProcess while the child cannot have been reaped
	// (a pidfd_open of it: race-free). [Cmd.Handle] gives spawn's own
	// handle on the same child.
	Process *os.Process

	// ProcessState is the child's exit status, once Wait has reaped it. It
	// stays nil for a child created with Attr.AutoReap or Attr.AutoKill:
	// the kernel reaps those, and leaves nothing for os.Process.Wait to
	// collect; [Cmd.State] has their status.
	ProcessState *os.ProcessState

	// Err is an error found while the Cmd was built, such as a failed PATH
	// lookup in Command (it matches exec.ErrNotFound then). Start returns it
	// and starts nothing.
	Err error

	ctx     context.Context
	group   *Group   // from Group.Command: the child is created inside the group
	handle  *Process // spawn's handle on the child
	state   *State   // the status in spawn's terms, once waited
	started bool
	waited  bool

	childFiles  []*os.File  // descriptors only the child needs: closed once it has them
	parentFiles []io.Closer // this side of the pipes: closed by Wait, or by WaitDelay
	copiers     []func() error

	copyDone chan struct{} // closed when every copier has returned
	copyErr  error         // the first copier error, set before copyDone closes
	watch    chan watchResult
}

// watchResult is what the context watcher hands to Wait.
type watchResult struct {
	err     error     // from Cancel or Kill, or exec.ErrWaitDelay
	closeAt time.Time // when WaitDelay expires for the pipes; zero: counted from the exit
	forced  bool      // the watcher closed the pipes already
}

// Command returns a Cmd that runs the program name with the arguments arg.
// It sets only Path, Args and, on a failed lookup, Err.
//
// A name without a slash is looked up in PATH with exec.LookPath, as
// os/exec does; a failure is stored in Err (it matches exec.ErrNotFound, or
// exec.ErrDot for a program found relative to the current directory) and
// returned by Start.
func Command(name string, arg ...string) *Cmd {
	c := &Cmd{Path: name, Args: append([]string{name}, arg...)}
	if name != "" && !strings.Contains(name, "/") {
		lp, err := exec.LookPath(name)
		if lp != "" {
			c.Path = lp
		}
		if err != nil {
			c.Err = err
		}
	}
	return c
}

// CommandContext is Command with a context: when ctx is done before the
// child exits, Cancel is called (by default it kills the child) and WaitDelay
// starts to run. A ctx already done makes Start fail with ctx.Err(). It
// panics if ctx is nil.
func CommandContext(ctx context.Context, name string, arg ...string) *Cmd {
	if ctx == nil {
		panic("spawn: CommandContext with a nil Context")
	}
	c := Command(name, arg...)
	c.ctx = ctx
	c.Cancel = func() error { return c.Process.Kill() }
	return c
}

// String returns a human-readable description of c: Path and the arguments
// after Args[0], or Args alone when the lookup of the program failed. It is
// for logs, not for a shell.
func (c *Cmd) String() string {
	if c.Err != nil || c.Path == "" {
		return strings.Join(c.Args, " ")
	}
	var b strings.Builder
	b.WriteString(c.Path)
	if len(c.Args) > 1 {
		for _, a := range c.Args[1:] {
			b.WriteByte(' ')
			b.WriteString(a)
		}
	}
	return b.String()
}

// Environ returns a copy of the environment the child would get as c is
// now configured: Env, or the parent's environment plus PWD=Dir, with
// repeated keys reduced to their last value. Entries holding a NUL byte are
// left out (Start refuses to run with them, as os/exec does).
func (c *Cmd) Environ() []string {
	env, _ := c.environ()
	return env
}

func (c *Cmd) environ() ([]string, error) {
	env := c.Env
	var err error
	if env == nil {
		env = os.Environ()
		if c.Dir != "" {
			// PWD is the shell's idea of the working directory: keep it
			// true for the child. Only when Env is nil, as os/exec does,
			// so that an explicit PWD is never overridden.
			var dir string
			if dir, err = filepath.Abs(c.Dir); err == nil {
				env = append(env, "PWD="+dir)
			}
		}
	}
	env, nulErr := dedupEnv(env)
	if err == nil {
		err = nulErr
	}
	return env, err
}

// errEnvNUL is os/exec's error for an environment entry holding a NUL byte,
// word for word: code that moves over from os/exec may match on it.
var errEnvNUL = errors.New("exec: environment variable contains NUL")

// dedupEnv returns env with each key once, holding its last value at the
// place of that last occurrence, and the rules of os/exec for the odd
// entries: one without '=' names no key and is kept as it is, an empty one
// is dropped, a leading '=' belongs to the key ("=C:=..."), and one holding
// NUL is dropped and reported as errEnvNUL.
func dedupEnv(env []string) ([]string, error) {
	var err error
	last := make(map[string]int, len(env))
	for i, kv := range env {
		if k, ok := envKey(kv); ok && strings.IndexByte(kv, 0) < 0 {
			last[k] = i
		}
	}
	out := make([]string, 0, len(env))
	for i, kv := range env {
		if strings.IndexByte(kv, 0) >= 0 {
			err = errEnvNUL
			continue
		}
		k, ok := envKey(kv)
		switch {
		case ok && last[k] != i: // a later entry sets k
		case !ok && kv == "":
		default:
			out = append(out, kv)
		}
	}
	return out, err
}

// envKey returns the key of a "key=value" entry; false for an entry
// without '='. A '=' in first place is part of the key.
func envKey(kv string) (string, bool) {
	i := strings.IndexByte(kv, '=')
	if i == 0 {
		i = strings.IndexByte(kv[1:], '=') + 1
	}
	if i < 0 {
		return "", false
	}
	return kv[:i], true
}

// Run starts the command and waits for it: Start, then Wait. A child that
// exits with a status other than 0 is an [*ExitError].
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Start starts the command without waiting for it. After a successful
// Start, [Cmd.Wait] must be called: it reaps the child, finishes the
// copying goroutines and releases the descriptors. Start may be called once;
// a second call fails, whether or not the first succeeded.
func (c *Cmd) Start() error {
	if c.started {
		return errors.New("exec: already started")
	}
	c.started = true
	if err := c.start(); err != nil {
		closeAll(c.childFiles)
		c.childFiles = nil
		c.closeParent()
		return err
	}
	return nil
}

func (c *Cmd) start() error {
	if c.Path == "" && c.Err == nil {
		c.Err = errors.New("exec: no command")
	}
	if c.Err != nil {
		return c.Err
	}
	if c.Cancel != nil && c.ctx == nil {
		return errors.New("exec: command with a non-nil Cancel was not created with CommandContext")
	}
	if c.ctx != nil {
		if err := c.ctx.Err(); err != nil {
			return err
		}
	}
	env, err := c.environ()
	if err != nil {
		return err
	}

	stdin, err := c.stdin()
	if err != nil {
		return err
	}
	stdout, err := c.output(c.Stdout)
	if err != nil {
		return err
	}
	stderr := stdout
	if !sameWriter(c.Stderr, c.Stdout) {
		if stderr, err = c.output(c.Stderr); err != nil {
			return err
		}
	}

	var attr Attr
	if c.Attr != nil {
		attr = *c.Attr
	}
	attr.Env = env
	attr.Dir = c.Dir
	attr.Files = append([]*os.File{stdin, stdout, stderr}, c.ExtraFiles...)
	sys, err := applySysProcAttr(&attr, c.SysProcAttr)
	if err != nil {
		return err
	}
	defer sys.done()
	if rl, ok := nofileForCmd(&attr); ok {
		attr.Rlimits = append(attr.Rlimits[:len(attr.Rlimits):len(attr.Rlimits)], rl)
	}
	argv := c.Args
	if len(argv) == 0 {
		argv = []string{c.Path}
	}
	spawnChild := Spawn
	if c.group != nil {
		spawnChild = c.group.Spawn // an Attr.Cgroup elsewhere fails before any child exists
	}
	p, err := spawnChild(c.Path, argv, &attr)
	if err != nil {
		return err
	}
	if err := sys.started(p); err != nil {
		p.Kill()
		p.Wait()
		return err
	}
	c.handle = p
	// The child is ours and unreaped (or, autoreaped, still has its
	// pidfd): the pid names it until it is waited for.
	c.Process, err = os.FindProcess(p.Pid())
	if err != nil {
		p.Kill()
		p.Wait()
		c.handle = nil
		return err
	}
	closeAll(c.childFiles)
	c.childFiles = nil

	if len(c.copiers) > 0 {
		c.copyDone = make(chan struct{})
		errs := make([]error, len(c.copiers))
		var wg sync.WaitGroup
		wg.Add(len(c.copiers))
		for i, copier := range c.copiers {
			go func() {
				defer wg.Done()
				errs[i] = copier()
			}()
		}
		go func() {
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					c.copyErr = err
					break
				}
			}
			close(c.copyDone)
		}()
	}
	if c.ctx != nil && c.ctx.Done() != nil && (c.Cancel != nil || c.WaitDelay > 0) {
		c.watch = make(chan watchResult)
		go c.watchContext()
	}
	return nil
}

// nullFiles is the null device, opened once for reading and once for
// writing, close-on-exec, and kept for the life of the program: a nil
// Stdin, Stdout or Stderr is one of them, as os/exec's is a fresh open of
// os.DevNull. The child cannot tell the difference (the null device has
// no offset to share); the parent saves two opens and two closes per Cmd.
var nullFiles struct {
	mu   sync.Mutex
	r, w *os.File
}

// nullDevice returns the null device for reading or for writing, opening it
// the first time (a failure is returned and tried again the next time).
func nullDevice(write bool) (*os.File, error) {
	n := &nullFiles
	n.mu.Lock()
	defer n.mu.Unlock()
	f, flag := &n.r, os.O_RDONLY
	if write {
		f, flag = &n.w, os.O_WRONLY
	}
	if *f == nil {
		g, err := os.OpenFile(os.DevNull, flag, 0)
		if err != nil {
			return nil, err
		}
		*f = g
	}
	return *f, nil
}

// stdin returns the child's descriptor 0.
func (c *Cmd) stdin() (*os.File, error) {
	switch r := c.Stdin.(type) {
	case nil:
		return nullDevice(false)
	case *os.File:
		return r, nil
	}
	pw, pr, err := cmdPipe(false)
	if err != nil {
		return nil, err
	}
	c.childFiles = append(c.childFiles, pr)
	c.parentFiles = append(c.parentFiles, pw)
	src := c.Stdin
	c.copiers = append(c.copiers, func() error {
		_, err := io.Copy(pw, src)
		if isWriteEPIPE(err) {
			err = nil // the child stopped reading: its business, as with os/exec
		}
		if cerr := pw.Close(); err == nil && !errors.Is(cerr, os.ErrClosed) {
			err = cerr
		}
		return err
	})
	return pr, nil
}

// isWriteEPIPE reports a write into a pipe whose reader has gone.
func isWriteEPIPE(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe) && pe.Op == "write" && errors.Is(pe.Err, syscall.EPIPE)
}

// output returns the child's descriptor for w (Stdout or Stderr).
func (c *Cmd) output(w io.Writer) (*os.File, error) {
	switch w := w.(type) {
	case nil:
		return nullDevice(true)
	case *os.File:
		return w, nil
	}
	pr, pw, err := cmdPipe(true)
	if err != nil {
		return nil, err
	}
	c.childFiles = append(c.childFiles, pw)
	c.parentFiles = append(c.parentFiles, pr)
	c.copiers = append(c.copiers, func() error {
		_, err := io.Copy(w, pr)
		pr.Close()
		return err
	})
	return pw, nil
}

// sameWriter reports a == b; interfaces holding uncomparable values are
// different.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// closeParent closes this side of the pipes; the copiers then return.
func (c *Cmd) closeParent() {
	for _, f := range c.parentFiles {
		f.Close()
	}
}

// watchContext runs while the child does, for a Cmd with a context: when the
// context is done first it calls Cancel and, after WaitDelay, kills the
// child and closes the pipes. It hands its result to Wait.
func (c *Cmd) watchContext() {
	select {
	case c.watch <- watchResult{}: // Wait got there first: the child exited
		return
	case <-c.ctx.Done():
	}
	var err error
	if c.Cancel != nil {
		switch cerr := c.Cancel(); {
		case cerr == nil:
			err = c.ctx.Err()
		case errors.Is(cerr, os.ErrProcessDone):
			// It had exited already; Wait has not seen it yet.
		default:
			err = fmt.Errorf("exec: canceling Cmd: %w", cerr)
		}
	}
	if c.WaitDelay <= 0 {
		c.watch <- watchResult{err: err}
		return
	}
	closeAt := time.Now().Add(c.WaitDelay)
	timer := time.NewTimer(c.WaitDelay)
	defer timer.Stop()
	select {
	case c.watch <- watchResult{err: err, closeAt: closeAt}:
		return
	case <-timer.C:
	}
	// WaitDelay has passed and the child still runs.
	if kerr := c.handle.Kill(); kerr != nil && !errors.Is(kerr, os.ErrProcessDone) && err == nil {
		err = fmt.Errorf("exec: killing Cmd: %w", kerr)
	}
	forced := false
	if c.copyDone != nil {
		select {
		case <-c.copyDone:
		default:
			// A grandchild may hold the pipes: close our ends now, after the
			// kill, so that the child dies of SIGKILL and not of SIGPIPE.
			c.closeParent()
			<-c.copyDone
			forced = true
			if err == nil {
				err = exec.ErrWaitDelay
			}
		}
	}
	c.watch <- watchResult{err: err, forced: forced}
}

// Wait waits for the command started by Start to exit, then for the copying
// of Stdin, Stdout and Stderr to finish (bounded by WaitDelay), closes the
// pipes and releases the pidfd. It waits on the pidfd in the runtime poller.
//
// A child that exits with a status other than 0 is an [*ExitError]. Other
// errors, in order of precedence: the wait itself, the context (see Cancel),
// exec.ErrWaitDelay, and a failed copy. Wait may be called once.
func (c *Cmd) Wait() error {
	if c.handle == nil {
		return errors.New("exec: not started")
	}
	if c.waited {
		return errors.New("exec: Wait was already called")
	}
	c.waited = true

	err := c.waitChild()

	var w watchResult
	if c.watch != nil {
		w = <-c.watch
		if err == nil {
			err = w.err
		}
	}
	if cerr := c.awaitCopies(w); err == nil {
		err = cerr
	}
	c.closeParent()
	c.handle.Release() // a failed Wait leaves the pidfd open; after a reap it is closed already (nil)
	return err
}

// waitChild waits for the child: parked on spawn's pidfd in the runtime
// poller until it has exited, then reaped by os.Process.Wait, which has
// nothing left to wait for and returns a real *os.ProcessState. An
// autoreaped child's status comes from spawn's Wait (PIDFD_GET_INFO); it
// has no ProcessState, and a non-zero status is then an error that is not
// an *ExitError (which needs one).
func (c *Cmd) waitChild() error {
	if c.handle.flags&procAutoReap != 0 {
		st, err := c.handle.Wait()
		if err != nil {
			return err
		}
		c.state = st
		c.Process.Release()
		if !st.Success() {
			return fmt.Errorf("spawn: autoreaped child: %s", st)
		}
		return nil
	}
	if err := c.handle.waitExited(); err != nil {
		return err
	}
	ps, err := c.Process.Wait()
	if err != nil {
		return err
	}
	c.ProcessState = ps
	ru, _ := ps.SysUsage().(*syscall.Rusage)
	c.state = &State{pid: ps.Pid(), status: ps.Sys().(syscall.WaitStatus), rusage: ru}
	if !ps.Success() {
		return &ExitError{ProcessState: ps}
	}
	return nil
}

// Handle returns spawn's handle on the child, for what os.Process lacks
// (Info, Getfd, WaitContext, the pidfd itself), or nil before Start. Cmd.Wait
// reaps the child through Process and releases the handle: use it before.
func (c *Cmd) Handle() *Process { return c.handle }

// State returns the child's exit status in spawn's terms once Wait has
// returned, or nil: the same as ProcessState for most children, and the
// only status of an autoreaped one (Attr.AutoReap, Attr.AutoKill).
func (c *Cmd) State() *State { return c.state }

// awaitCopies waits for the copiers, at most until WaitDelay has passed.
func (c *Cmd) awaitCopies(w watchResult) error {
	if c.copyDone == nil {
		return nil
	}
	if w.forced {
		<-c.copyDone
		return nil // reported by the watcher
	}
	select {
	case <-c.copyDone:
		return c.copyErr
	default:
	}
	if c.WaitDelay <= 0 {
		<-c.copyDone
		return c.copyErr
	}
	closeAt := w.closeAt
	if closeAt.IsZero() {
		closeAt = time.Now().Add(c.WaitDelay)
	}
	timer := time.NewTimer(time.Until(closeAt))
	defer timer.Stop()
	select {
	case <-c.copyDone:
		return c.copyErr
	case <-timer.C:
		c.closeParent()
		<-c.copyDone
		return exec.ErrWaitDelay // whatever the copiers said came from the closing
	}
}

// Output runs the command and returns its standard output. Stdout must be
// nil. When Stderr is nil too, the child's standard error is kept (its first
// and last 32 KiB) in the Stderr field of the [*ExitError] Output returns for
// a failed run.
func (c *Cmd) Output() ([]byte, error) {
	if c.Stdout != nil {
		return nil, errors.New("exec: Stdout already set")
	}
	var stdout bytes.Buffer
	c.Stdout = &stdout
	var stderr *headTail
	if c.Stderr == nil {
		stderr = &headTail{max: 32 << 10}
		c.Stderr = stderr
	}
	err := c.Run()
	var ee *ExitError
	if stderr != nil && errors.As(err, &ee) {
		ee.Stderr = stderr.Bytes()
	}
	return stdout.Bytes(), err
}

// CombinedOutput runs the command and returns its standard output and
// standard error together, as one pipe received them. Stdout and Stderr
// must be nil.
func (c *Cmd) CombinedOutput() ([]byte, error) {
	if c.Stdout != nil {
		return nil, errors.New("exec: Stdout already set")
	}
	if c.Stderr != nil {
		return nil, errors.New("exec: Stderr already set")
	}
	var b bytes.Buffer
	c.Stdout = &b
	c.Stderr = &b
	err := c.Run()
	return b.Bytes(), err
}

// StdinPipe returns a pipe connected to the child's standard input. Wait
// closes it once the child has exited; closing it earlier (Close may be
// called more than once) gives the child end of file, which many programs
// need before they exit.
func (c *Cmd) StdinPipe() (io.WriteCloser, error) {
	if c.Stdin != nil {
		return nil, errors.New("exec: Stdin already set")
	}
	if c.started {
		return nil, errors.New("exec: StdinPipe after process started")
	}
	pw, pr, err := cmdPipe(false)
	if err != nil {
		return nil, err
	}
	c.Stdin = pr
	c.childFiles = append(c.childFiles, pr)
	w := &onceCloser{File: pw}
	c.parentFiles = append(c.parentFiles, w)
	return w, nil
}

// StdoutPipe returns a pipe connected to the child's standard output. Wait
// closes it once the child has exited, so read everything before calling
// Wait (and do not use Run together with it).
func (c *Cmd) StdoutPipe() (io.ReadCloser, error) {
	if c.Stdout != nil {
		return nil, errors.New("exec: Stdout already set")
	}
	if c.started {
		return nil, errors.New("exec: StdoutPipe after process started")
	}
	pr, pw, err := cmdPipe(true)
	if err != nil {
		return nil, err
	}
	c.Stdout = pw
	c.childFiles = append(c.childFiles, pw)
	c.parentFiles = append(c.parentFiles, pr)
	return pr, nil
}

// StderrPipe returns a pipe connected to the child's standard error, with
// the rules of [Cmd.StdoutPipe].
func (c *Cmd) StderrPipe() (io.ReadCloser, error) {
	if c.Stderr != nil {
		return nil, errors.New("exec: Stderr already set")
	}
	if c.started {
		return nil, errors.New("exec: StderrPipe after process started")
	}
	pr, pw, err := cmdPipe(true)
	if err != nil {
		return nil, err
	}
	c.Stderr = pw
	c.childFiles = append(c.childFiles, pw)
	c.parentFiles = append(c.parentFiles, pr)
	return pr, nil
}

// onceCloser is a pipe end that may be closed more than once: the first
// Close closes it, later ones return the first one's result.
type onceCloser struct {
	*os.File
	once sync.Once
	err  error
}

func (w *onceCloser) Close() error {
	w.once.Do(func() { w.err = w.File.Close() })
	return w.err
}

// ExitError reports a child that ran and did not exit with status 0
// (including one killed by a signal). It is os/exec's own type, so that
// errors.As(err, &ee) with an *exec.ExitError matches; its embedded
// *os.ProcessState gives the details, and its Stderr holds the child's
// standard error when Cmd.Output captured it (Cmd.Stderr was nil): the first
// and last 32 KiB, with a note of how much was left out between them.
type ExitError = exec.ExitError

// The names below are os/exec's own, so that code written for os/exec that
// uses them compiles after changing the import; they need nothing of the
// kernel beyond what os/exec does.
var (
	// ErrNotFound is exec.ErrNotFound: no executable file was found.
	ErrNotFound = exec.ErrNotFound
	// ErrDot is exec.ErrDot: a path lookup resolved to a file in the
	// current directory.
	ErrDot = exec.ErrDot
	// ErrWaitDelay is exec.ErrWaitDelay: Wait's I/O did not end within
	// WaitDelay after the process exited.
	ErrWaitDelay = exec.ErrWaitDelay
)

// Error is exec.Error: the name of a program that could not be found, with
// the reason.
type Error = exec.Error

// LookPath is exec.LookPath: it searches PATH for an executable named file
// (a name with a slash is tried directly).
func LookPath(file string) (string, error) { return exec.LookPath(file) }

// headTail keeps the first and the last max bytes written to it.
type headTail struct {
	max     int
	head    []byte
	tail    []byte
	dropped int64
}

func (h *headTail) Write(p []byte) (int, error) {
	n := len(p)
	if room := h.max - len(h.head); room > 0 {
		k := min(room, len(p))
		h.head = append(h.head, p[:k]...)
		p = p[k:]
	}
	if len(p) >= h.max {
		h.dropped += int64(len(h.tail) + len(p) - h.max)
		h.tail = append(h.tail[:0], p[len(p)-h.max:]...)
		return n, nil
	}
	h.tail = append(h.tail, p...)
	if over := len(h.tail) - h.max; over > 0 {
		h.dropped += int64(over)
		h.tail = h.tail[:copy(h.tail, h.tail[over:])]
	}
	return n, nil
}

// Bytes returns what was kept, with a note of what was not.
func (h *headTail) Bytes() []byte {
	out := append([]byte{}, h.head...)
	if h.dropped > 0 {
		out = fmt.Appendf(out, "\n... omitting %d bytes ...\n", h.dropped)
	}
	return append(out, h.tail...)
}

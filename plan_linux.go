//go:build linux

package spawn

import (
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The child plan: Attr is validated and lowered once into an ordered list of
// steps the child runs between its creation and exec. PidfdSpawn turns the
// steps into posix_spawn attributes and file actions; Clone3 and ForkNP turn
// them into raw system calls (see rawPlan) that the assembly trampoline or the
// C shim execute one after the other.

type opKind int32

// Step kinds. The numbers are shared with internal/shim/shim.h (SPAWN_OP_*).
const (
	opSetsid     opKind = iota + 1 // setsid()
	opSetpgid                      // setpgid(0, a)
	opResetIDs                     // setresgid(-1, a, -1); setresuid(-1, b, -1)
	opDup                          // dup3(a, b, 0); a == b: clear FD_CLOEXEC
	opClose                        // close(a), EBADF ignored
	opCloseFrom                    // close_range(a, ~0U, 0)
	opChdir                        // chdir(plan.dir)
	opRlimit                       // prlimit64(0, a, &{b, c}, NULL)
	opPdeathsig                    // prctl(PR_SET_PDEATHSIG, a); getppid() == b
	opNoNewPrivs                   // prctl(PR_SET_NO_NEW_PRIVS, 1)
	opSigDefault                   // rt_sigaction(a, SIG_DFL)
	opSigMask                      // rt_sigprocmask(SIG_SETMASK, plan.mask)
	opExec                         // execve(path, argv, envp)
)

// op is one step; its layout is struct spawn_op in internal/shim/shim.h.
type op struct {
	kind opKind
	a    int32
	b    int64
	c    int64
}

// opNames name the steps in errors (*os.PathError.Op).
var opNames = [...]string{
	opSetsid: "setsid", opSetpgid: "setpgid", opResetIDs: "setresuid", opDup: "dup3",
	opClose: "close", opCloseFrom: "close_range", opChdir: "chdir", opRlimit: "prlimit64",
	opPdeathsig: "prctl(PR_SET_PDEATHSIG)", opNoNewPrivs: "prctl(PR_SET_NO_NEW_PRIVS)",
	opSigDefault: "rt_sigaction", opSigMask: "rt_sigprocmask", opExec: "execve",
}

// plan is an Attr lowered for one spawn.
type plan struct {
	path   string
	search bool
	argv   []string
	env    []string
	dir    string
	ops    []op
	mask   uint64 // SigMask as a kernel sigset
	cgroup int    // cgroup directory fd, or -1
	attr   *Attr
	sys    *sysPlan // the SysProcAttr steps' data, or nil

	temps []int      // parent-side duplicates, closed after the spawn
	keep  []*os.File // Files, kept open until the spawn is over

	// Plans are pooled (planPool) so that a spawn allocates none of this:
	// opBuf backs ops for the usual Attr, raw is what lowerPlan makes,
	// and buf backs raw's steps, data and C strings.
	opBuf [8]op
	raw   rawPlan
	buf   []uint64
}

var planPool = sync.Pool{New: func() any { return new(plan) }}

// maxPooledBuf is the largest plan buffer kept for reuse, in words: an
// environment of tens of kilobytes is common, one of megabytes is not.
const maxPooledBuf = 64 << 10

func sigbit(s syscall.Signal) uint64 { return 1 << (uint(s) - 1) }

// buildPlan lowers attr. It resolves Files to descriptors (a closed *os.File is
// EBADF, before any child exists) and, where a source descriptor would be
// overwritten by an earlier target, duplicates it in the parent above every
// target. The caller must call done.
func buildPlan(path string, argv []string, attr *Attr, search bool) (*plan, error) {
	pl := planPool.Get().(*plan)
	*pl = plan{path: path, search: search, argv: argv, env: attr.Env, dir: attr.Dir, cgroup: -1, attr: attr, buf: pl.buf}
	if pl.env == nil {
		pl.env = os.Environ()
	}
	if attr.Cgroup != nil {
		pl.cgroup = attr.Cgroup.Fd()
		if pl.cgroup < 0 {
			return nil, syscall.EBADF
		}
		pl.keep = append(pl.keep, attr.Cgroup.f)
	}
	pl.ops = pl.opBuf[:0]
	pl.addSysFirst(attr)
	if attr.Setsid {
		pl.ops = append(pl.ops, op{kind: opSetsid})
	}
	if attr.Setpgid || attr.Foreground {
		pl.ops = append(pl.ops, op{kind: opSetpgid, a: int32(attr.Pgid)})
	}
	if attr.ResetIDs {
		pl.ops = append(pl.ops, op{kind: opResetIDs, a: int32(os.Getgid()), b: int64(os.Getuid())})
	}
	if err := pl.addSysIDs(attr); err != nil {
		pl.done()
		return nil, err
	}
	first := 3
	if attr.Files != nil {
		first = len(attr.Files)
		if err := pl.layFiles(attr.Files); err != nil {
			pl.done()
			return nil, err
		}
	}
	if !attr.InheritFDs {
		pl.ops = append(pl.ops, op{kind: opCloseFrom, a: int32(first)})
	}
	if attr.Dir != "" {
		pl.ops = append(pl.ops, op{kind: opChdir})
	}
	pl.addSysTerminal(attr)
	for _, rl := range attr.Rlimits {
		pl.ops = append(pl.ops, op{kind: opRlimit, a: int32(rl.Resource), b: int64(rl.Cur), c: int64(rl.Max)})
	}
	if attr.Pdeathsig != 0 {
		pl.ops = append(pl.ops, op{kind: opPdeathsig, a: int32(attr.Pdeathsig), b: int64(os.Getpid())})
	}
	if attr.NoNewPrivs && !nnpAtClone(attr) {
		pl.ops = append(pl.ops, op{kind: opNoNewPrivs})
	}
	for _, s := range attr.SigDefault {
		pl.ops = append(pl.ops, op{kind: opSigDefault, a: int32(s)})
	}
	for _, s := range attr.SigMask {
		pl.mask |= sigbit(s)
	}
	pl.addSysLast(attr)
	pl.ops = append(pl.ops, op{kind: opSigMask}, op{kind: opExec})
	return pl, nil
}

// layFiles adds the steps that put Files[i] on descriptor i. Targets are
// written in order 0, 1, …; a source j < i would already have been
// overwritten by target j when Files[i] is placed, so such sources are first
// duplicated in the parent to a descriptor above every target.
func (pl *plan) layFiles(files []*os.File) error {
	for i, f := range files {
		if f == nil {
			pl.ops = append(pl.ops, op{kind: opClose, a: int32(i)})
			continue
		}
		src, err := fileFd(f)
		if err != nil {
			return err
		}
		pl.keep = append(pl.keep, f)
		if src < i {
			tmp, err := unix.FcntlInt(uintptr(src), unix.F_DUPFD_CLOEXEC, len(files))
			if err != nil {
				return os.NewSyscallError("fcntl", err)
			}
			pl.temps = append(pl.temps, tmp)
			src = tmp
		}
		pl.ops = append(pl.ops, op{kind: opDup, a: int32(src), b: int64(i)})
	}
	return nil
}

// fileFd returns f's descriptor, switched to blocking mode as f.Fd does:
// the child shares the open file description, and programs expect blocking
// descriptors (a non-blocking one fails their reads and writes with EAGAIN).
// os.StartProcess, and so os/exec, do the same with every *os.File they
// pass; the parent's File keeps working, its blocking calls then holding a
// thread. A closed file is EBADF.
func fileFd(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, syscall.EBADF
	}
	open := false
	if rc.Control(func(uintptr) { open = true }) != nil || !open {
		return -1, syscall.EBADF
	}
	fd := f.Fd()
	if int(fd) < 0 {
		return -1, syscall.EBADF
	}
	return int(fd), nil
}

// done releases what the plan holds in the parent and returns it to the
// pool: nothing may use pl, or what lowerPlan made of it, afterwards.
func (pl *plan) done() {
	for _, fd := range pl.temps {
		unix.Close(fd)
	}
	runtime.KeepAlive(pl.keep)
	buf := pl.buf
	if cap(buf) > maxPooledBuf {
		buf = nil
	}
	*pl = plan{buf: buf}
	planPool.Put(pl)
}

// stepErr turns a failed step into the error Spawn returns.
func (pl *plan) stepErr(k opKind, errno syscall.Errno) error {
	if err := pl.sysStepErr(k, errno); err != nil {
		return err
	}
	name := "spawn"
	if int(k) > 0 && int(k) < len(opNames) {
		name = opNames[k]
	}
	switch k {
	case opExec:
		return &os.PathError{Op: name, Path: pl.path, Err: errno}
	case opChdir:
		return &os.PathError{Op: name, Path: pl.dir, Err: errno}
	}
	return &os.PathError{Op: name, Path: pl.path, Err: errno}
}

// marshal lays out the plan's path, dir, argv and env as C data at the start
// of pl.buf: argv..., NULL, env..., NULL, then the strings, followed by extra
// zeroed words for the caller, returned as rest. The block is words (which
// the collector does not scan: the pointers are uintptrs into the same block,
// and Go heap objects never move), pooled with the plan; the pointers stay
// valid until pl.done.
func (pl *plan) marshal(extra int) (rest []uint64, pathp, dirp, argvp, envp uintptr) {
	n := cstringsWords(pl.path, pl.dir, pl.argv, pl.env)
	if cap(pl.buf) < n+extra {
		pl.buf = make([]uint64, n+extra)
	}
	buf := pl.buf[:n+extra]
	rest = buf[n:]
	clear(rest)
	pathp, dirp, argvp, envp = marshalInto(buf[:n], pl.path, pl.dir, pl.argv, pl.env)
	return rest, pathp, dirp, argvp, envp
}

// cstringsWords is the size in words of (*plan).marshal's layout.
func cstringsWords(path, dir string, argv, env []string) int {
	size := len(path) + 1 + len(dir) + 1
	for _, s := range argv {
		size += len(s) + 1
	}
	for _, s := range env {
		size += len(s) + 1
	}
	return len(argv) + 1 + len(env) + 1 + (size+7)/8
}

// marshalInto writes (*plan).marshal's layout into buf, which has
// cstringsWords(...) words and stays where it is (a heap block).
func marshalInto(buf []uint64, path, dir string, argv, env []string) (pathp, dirp, argvp, envp uintptr) {
	nptrs := len(argv) + 1 + len(env) + 1
	ptrs := unsafe.Slice((*uintptr)(unsafe.Pointer(unsafe.SliceData(buf))), nptrs)
	arena := unsafe.Slice((*byte)(unsafe.Pointer(&buf[nptrs])), (len(buf)-nptrs)*8)
	off := 0
	put := func(s string) uintptr {
		p := uintptr(unsafe.Pointer(&arena[off]))
		off += copy(arena[off:], s)
		arena[off] = 0
		off++
		return p
	}
	pathp = put(path)
	dirp = put(dir)
	for i, s := range argv {
		ptrs[i] = put(s)
	}
	ptrs[len(argv)] = 0
	envs := ptrs[len(argv)+1:]
	for i, s := range env {
		envs[i] = put(s)
	}
	envs[len(env)] = 0
	argvp = uintptr(unsafe.Pointer(&ptrs[0]))
	envp = uintptr(unsafe.Pointer(&envs[0]))
	return pathp, dirp, argvp, envp
}

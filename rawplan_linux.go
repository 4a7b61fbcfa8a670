//go:build linux

package spawn

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawStep is one system call of the child, as the assembly trampoline and the
// C shim read it (struct spawn_step in internal/shim/shim.h; offsets fixed in the
// trampolines): nr(a0..a5); a result r with -4096 < r < 0 is an error unless
// r == -ignore or ignore == ignoreAll; with checkEq set, a result other than
// expect fails with ESRCH. op is the plan step the call belongs to.
type rawStep struct {
	nr     uint64
	a      [6]uint64
	ignore int64
	expect int64
	op     int64 // opKind | checkEq
}

const (
	ignoreAll = -1
	checkEq   = 1 << 16
)

// rawResult is where a failed child reports: memory shared with the parent
// (CLONE_VM) or written to the parent through a pipe (fork).
type rawResult struct {
	errno int32 // 0: the child reached execve and it succeeded
	step  int32 // index into the steps
}

// rawPlan is a plan lowered to system calls, with everything the calls point
// to. It lives in its plan and all its slices share the plan's buffer.
type rawPlan struct {
	steps []rawStep
	data  []uint64 // rlimits, the signal mask, a zeroed sigaction
}

// sigactionWords is the size of the kernel's struct sigaction in words, with
// room to spare on every architecture.
const sigactionWords = 4

// stepWords is the size of a rawStep in words.
const stepWords = int(unsafe.Sizeof(rawStep{}) / 8)

// lowerPlan lowers pl into pl.raw, in pl's buffer: the C strings, then the
// steps and the data. The buffer is a block of words in the Go heap, which
// the collector neither scans nor moves; pl keeps it alive until pl.done.
func lowerPlan(pl *plan) *rawPlan {
	rp := &pl.raw
	// data: [0] mask, [1:1+sigactionWords] SIG_DFL sigaction, then rlimit pairs.
	nrl := 0
	for _, o := range pl.ops {
		if o.kind == opRlimit {
			nrl++
		}
	}
	// Each op is one step but opResetIDs and opPdeathsig, which are two.
	nsteps := len(pl.ops) + 2
	ndata := 1 + sigactionWords + 2*nrl
	rest, pathp, dirp, argvp, envp := pl.marshal(nsteps*stepWords + ndata)
	rp.steps = unsafe.Slice((*rawStep)(unsafe.Pointer(&rest[0])), nsteps)[:0]
	rp.data = rest[nsteps*stepWords:]
	rp.data[0] = pl.mask
	dataAt := func(i int) uint64 { return uint64(uintptr(unsafe.Pointer(&rp.data[i]))) }
	rl := 1 + sigactionWords
	add := func(k opKind, nr uintptr, args ...uint64) *rawStep {
		s := rawStep{nr: uint64(nr), op: int64(k)}
		copy(s.a[:], args)
		rp.steps = append(rp.steps, s)
		return &rp.steps[len(rp.steps)-1]
	}
	for _, o := range pl.ops {
		switch o.kind {
		case opSetsid:
			add(o.kind, unix.SYS_SETSID)
		case opSetpgid:
			add(o.kind, unix.SYS_SETPGID, 0, uint64(o.a))
		case opResetIDs:
			add(o.kind, sysSetresgid, ^uint64(0), uint64(uint32(o.a)), ^uint64(0))
			add(o.kind, sysSetresuid, ^uint64(0), uint64(uint32(o.b)), ^uint64(0))
		case opDup:
			if int64(o.a) == o.b {
				add(o.kind, unix.SYS_FCNTL, uint64(o.a), unix.F_SETFD, 0)
			} else {
				add(o.kind, unix.SYS_DUP3, uint64(o.a), uint64(o.b), 0)
			}
		case opClose:
			add(o.kind, unix.SYS_CLOSE, uint64(o.a)).ignore = ignoreAll
		case opCloseFrom:
			// Before Linux 5.9 there is no close_range: only close-on-exec
			// descriptors are closed then (all of Go's own are).
			add(o.kind, unix.SYS_CLOSE_RANGE, uint64(o.a), uint64(^uint32(0)), 0).ignore = int64(unix.ENOSYS)
		case opChdir:
			add(o.kind, unix.SYS_CHDIR, uint64(dirp))
		case opRlimit:
			rp.data[rl], rp.data[rl+1] = uint64(o.b), uint64(o.c)
			add(o.kind, unix.SYS_PRLIMIT64, 0, uint64(o.a), dataAt(rl), 0)
			rl += 2
		case opPdeathsig:
			add(o.kind, unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uint64(o.a))
			// The parent may have died before the prctl took: then the
			// child was reparented and must not run on.
			s := add(o.kind, unix.SYS_GETPPID)
			s.op |= checkEq
			s.expect = o.b
		case opNoNewPrivs:
			add(o.kind, unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
		case opSigDefault:
			add(o.kind, unix.SYS_RT_SIGACTION, uint64(o.a), dataAt(1), 0, 8)
		case opSigMask:
			add(o.kind, unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, dataAt(0), 0, 8)
		case opExec:
			add(o.kind, unix.SYS_EXECVE, uint64(pathp), uint64(argvp), uint64(envp))
		default:
			pl.lowerSys(o, add)
		}
	}
	return rp
}

// opOf returns the plan step kind of raw step i.
func (rp *rawPlan) opOf(i int32) opKind {
	if i < 0 || int(i) >= len(rp.steps) {
		return 0
	}
	return opKind(rp.steps[i].op & stepOpMask)
}

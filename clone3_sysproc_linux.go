//go:build linux && (amd64 || arm64)

package spawn

import (
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A Clone3 child with the SysProcAttr steps. Two things differ from the
// plain vfork path (and the clone(2) path, spawnClone, does both the same
// way through clone's child_tid):
//
//   - Foreground with Pgid 0 needs the child's own pid (in its own PID
//     namespace) for TIOCSPGRP: the kernel writes it into the plan's tid
//     word before the child runs (CLONE_CHILD_SETTID).
//   - A user namespace with maps needs the parent to write uid_map and
//     gid_map after the child exists and before it goes on, which a vfork
//     parent cannot: it is suspended until the exec. Such a child is created
//     without CLONE_VFORK (still CLONE_VM, on its own stack); its first step
//     reads one byte from a pipe, which the parent writes once the maps are
//     in place. The parent then waits for the exec on the tid word, which
//     the kernel clears and wakes when the child's memory is released at its
//     exec or exit (CLONE_CHILD_CLEARTID), so the plan memory the child
//     reads stays the parent's until then, as on the vfork path.
func spawnClone3Sys(pl *plan, flags uint64, pflags procFlags, rp *rawPlan) (*Process, error) {
	sp := pl.sys
	c := clone3Pool.Get().(*clone3Call)
	defer clone3Pool.Put(c)
	c.args = cloneArgs{flags: flags | unix.CLONE_PIDFD | unix.CLONE_VM | unix.CLONE_CLEAR_SIGHAND}
	if !sp.userns {
		c.args.flags |= unix.CLONE_VFORK
	}
	if sp.userns || sp.selfPgrp {
		c.args.flags |= unix.CLONE_CHILD_SETTID
		c.args.childTID = uint64(uintptr(unsafe.Pointer(&sp.tid)))
	}
	if sp.userns {
		c.args.flags |= unix.CLONE_CHILD_CLEARTID
	}
	c.args.pidfd = uint64(uintptr(unsafe.Pointer(&c.pidfd)))
	if flags&_CLONE_AUTOREAP == 0 {
		c.args.exitSignal = uint64(syscall.SIGCHLD)
	}
	if pl.cgroup >= 0 {
		c.args.flags |= unix.CLONE_INTO_CGROUP
		c.args.cgroup = uint64(pl.cgroup)
	}
	base := uintptr(unsafe.Pointer(&c.stack[0]))
	top := (base + uintptr(len(c.stack))) &^ 15
	c.args.stack = uint64(base)
	c.args.stackSize = uint64(top - base)
	c.pidfd = -1
	c.res = rawResult{}

	var sync [2]int
	if sp.userns {
		var err error
		if sync, err = usernsPipe(rp.steps); err != nil {
			return nil, err
		}
	}
	r, errno := rawClone(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&c.args)), unsafe.Sizeof(c.args), 0, 0, &rp.steps[0], uintptr(len(rp.steps)), &c.res)
	if sp.userns {
		unix.Close(sync[0])
	}
	if errno != 0 {
		if sp.userns {
			unix.Close(sync[1])
		}
		return nil, clone3Err(syscall.Errno(errno), pl, flags)
	}
	pidfd, pid := int(c.pidfd), int(r)
	autoreap := pflags&procAutoReap != 0
	if sp.userns {
		err := mapAndRelease(pid, pl.attr, sync[1])
		if err != nil {
			unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
		}
		waitReleased(&sp.tid)
		if err != nil {
			reapAndClose(pidfd, autoreap)
			return nil, err
		}
	}
	runtime.KeepAlive(rp)
	runtime.KeepAlive(sp)
	if c.res.errno != 0 {
		reapAndClose(pidfd, autoreap)
		return nil, pl.stepErr(rp.opOf(c.res.step), syscall.Errno(c.res.errno))
	}
	return newProcess(pidfd, pid, Clone3, pflags), nil
}

// waitReleased waits until the kernel has cleared *tid: the child executed
// its program or exited (CLONE_CHILD_CLEARTID). The wake is a shared futex
// wake, so the wait is not FUTEX_PRIVATE.
func waitReleased(tid *int32) {
	for {
		v := atomic.LoadInt32(tid)
		if v == 0 {
			return
		}
		unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(tid)), futexWait, uintptr(uint32(v)), 0, 0, 0)
	}
}

// futexWait is FUTEX_WAIT (linux/futex.h).
const futexWait = 0

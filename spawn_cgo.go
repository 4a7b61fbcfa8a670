//go:build linux && cgo

// The PidfdSpawn backend: glibc's pidfd_spawn and pidfd_spawnp. glibc
// history:
//
//	2.29: posix_spawn_file_actions_addchdir_np; adddup2(fd, fd) clears FD_CLOEXEC
//	2.34: posix_spawn_file_actions_addclosefrom_np; dl* functions in libc proper
//	2.39: pidfd_spawn, pidfd_spawnp, pidfd_getpid, POSIX_SPAWN_SETCGROUP
//	      (posix_spawnattr_setcgroup_np)
//
// The C shim (internal/shim: a package of its own, since a cgo package cannot
// hold the Go assembly of the Clone3 trampoline) is compiled against whatever
// headers the build machine has and looks every function newer than glibc
// 2.28 up with dlvsym at first use: the same binary falls back to Clone3 on
// glibc 2.36 and binds pidfd_spawn on 2.39 and later. The plan goes to C in
// one call, which builds the attributes and file actions on its stack,
// spawns, reads the pid from the new pidfd (PIDFD_GET_INFO, else glibc's
// pidfd_getpid) and frees what glibc allocated.

package spawn

import (
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"github.com/pidfd/spawn/internal/shim"
	"golang.org/x/sys/unix"
)

// The plan's layouts are the shim's (struct spawn_op, struct spawn_step):
// these fail to compile if a size differs.
var (
	_ [unsafe.Sizeof(op{}) - shim.OpSize]struct{}
	_ [shim.OpSize - unsafe.Sizeof(op{})]struct{}
	_ [unsafe.Sizeof(rawStep{}) - shim.StepSize]struct{}
	_ [shim.StepSize - unsafe.Sizeof(rawStep{})]struct{}
)

// libcHave is what the running C library has (shim.Have* bits), looked up
// once.
var libcHave = sync.OnceValue(shim.Have)

// glibcVersion returns the running glibc's version, e.g. "2.36".
func glibcVersion() string { return shim.LibcVersion() }

var pidfdSpawnProbe = sync.OnceValue(func() error {
	if libcHave()&shim.HavePidfdSpawn != 0 {
		return nil
	}
	return unsupported(nil, "glibc %s has no pidfd_spawn (needs 2.39)", glibcVersion())
})

func availablePidfdSpawn() error { return pidfdSpawnProbe() }

func init() {
	libcGetpid = func() func(int) (int, error) {
		if libcHave()&shim.HavePidfdGetpid == 0 {
			return nil
		}
		return func(pidfd int) (int, error) {
			pid, errno := shim.PidfdGetpid(pidfd)
			if errno != 0 {
				return -1, os.NewSyscallError("pidfd_getpid", errno)
			}
			return pid, nil
		}
	}
}

// pidfdCall is the shim's struct spawn_pidfd_call: the arguments and the
// result of one spawn.
type pidfdCall struct {
	path, dir, argv, envp, ops uintptr
	nops, mask                 uint64
	cgroup, search             int32
	res                        pidfdResult
}

// pidfdResult is the shim's struct spawn_result.
type pidfdResult struct {
	err, where, pid, pidfd int32
}

var (
	_ [unsafe.Sizeof(pidfdCall{}) - shim.CallSize]struct{}
	_ [shim.CallSize - unsafe.Sizeof(pidfdCall{})]struct{}
)

func spawnPidfd(pl *plan) (*Process, error) {
	_, pathp, dirp, argvp, envp := pl.marshal(0) // in the plan's pooled buffer
	c := pidfdCall{
		path: pathp, dir: dirp, argv: argvp, envp: envp,
		ops:  uintptr(unsafe.Pointer(unsafe.SliceData(pl.ops))),
		nops: uint64(len(pl.ops)), mask: pl.mask, cgroup: int32(pl.cgroup),
	}
	if pl.search {
		c.search = 1
	}
	pidfdSpawnCall(&c)
	runtime.KeepAlive(pl.buf)
	runtime.KeepAlive(pl.ops)
	if c.res.err != 0 {
		op := "pidfd_spawn"
		if pl.search {
			op = "pidfd_spawnp"
		}
		return nil, &os.PathError{Op: op, Path: pl.path, Err: syscall.Errno(c.res.err)}
	}
	pidfd, pid := int(c.res.pidfd), int(c.res.pid)
	if pid < 0 {
		// Neither the kernel (PIDFD_GET_INFO, Linux 6.13) nor glibc (which
		// reads /proc) could say: no Process without its pid.
		unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
		reapAndClose(pidfd, false)
		return nil, os.NewSyscallError("pidfd_getpid", syscall.Errno(-pid))
	}
	return newProcess(pidfd, pid, PidfdSpawn, 0), nil
}

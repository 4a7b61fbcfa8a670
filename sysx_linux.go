//go:build linux

package spawn

// Kernel interfaces that golang.org/x/sys has only in releases this module
// cannot require. PidfdInfo, IoctlPidfdInfo and PIDFD_INFO_* appeared in
// x/sys v0.48.0; CLONE_AUTOREAP, CLONE_NNP, CLONE_PIDFD_AUTOKILL and the
// pidfd_info fields up to supported_mask in v0.49.0. Both releases declare
// go 1.26, and the newest x/sys that builds with Go 1.24 (v0.41.0) has none
// of them, so they are written out here once, with the values of the Linux
// uapi headers (linux/sched.h, linux/pidfd.h of Linux 7.1). When the module
// moves to Go 1.26 this file goes away: every name maps one to one onto
// x/sys (_CLONE_NNP → unix.CLONE_NNP, pidfdInfoArg → unix.PidfdInfo, with
// the same field names).

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// clone3 flags, Linux 7.1.
const (
	_CLONE_AUTOREAP       = 1 << 34 // the child is reaped by the kernel when it exits
	_CLONE_NNP            = 1 << 35 // the child starts with no_new_privs set
	_CLONE_PIDFD_AUTOKILL = 1 << 36 // closing the last pidfd kills the child
)

// PIDFD_GET_INFO request bits, Linux 6.13 (EXIT: 6.15).
const (
	_PIDFD_INFO_PID      = 1 << 0
	_PIDFD_INFO_CREDS    = 1 << 1
	_PIDFD_INFO_CGROUPID = 1 << 2
	_PIDFD_INFO_EXIT     = 1 << 3
)

// pidfdInfoArg is struct pidfd_info as of Linux 7.1 (88 bytes). The kernel
// copies out no more than the size in the request number, so an older
// kernel leaves the tail zero.
type pidfdInfoArg struct {
	Mask            uint64 // in: what to fill; out: what was filled
	Cgroupid        uint64
	Pid             uint32
	Tgid            uint32
	Ppid            uint32
	Ruid            uint32
	Rgid            uint32
	Euid            uint32
	Egid            uint32
	Suid            uint32
	Sgid            uint32
	Fsuid           uint32
	Fsgid           uint32
	Exit_code       int32 // a wait(2) status, with PIDFD_INFO_EXIT
	Coredump_mask   uint32
	Coredump_signal uint32
	Coredump_code   uint32
	Coredump_pad    uint32
	Supported_mask  uint64 // the bits this kernel knows; 0 where it predates the field
}

// _PIDFD_GET_INFO is _IOWR(0xFF, 11, struct pidfd_info) for the 88-byte
// struct above (0xc058ff0b): the size is part of the request number, and
// the kernel accepts any size from the 64 bytes of Linux 6.13 on. The value
// is the same on every architecture: where the direction field has three
// bits (mips, powerpc, sparc) read|write is 6<<29, which is 3<<30.
const _PIDFD_GET_INFO = 3<<30 | unsafe.Sizeof(pidfdInfoArg{})<<16 | 0xFF<<8 | 11

// ioctlPidfdInfo is ioctl(fd, PIDFD_GET_INFO, info), Linux 6.13.
func ioctlPidfdInfo(fd int, info *pidfdInfoArg) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), _PIDFD_GET_INFO, uintptr(unsafe.Pointer(info)))
	if errno != 0 {
		return errno
	}
	return nil
}

//go:build linux

package spawn

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// PidfdGetpid returns the pid of the process that pidfd refers to, as seen
// in the caller's pid namespace, with glibc's errors: EBADF when pidfd is
// negative or not a pidfd, ESRCH when the process has been reaped, EREMOTE
// when it lives in a pid namespace the caller cannot see.
//
// It asks the kernel (PIDFD_GET_INFO, Linux ≥ 6.13), and where that gives
// no answer, glibc's pidfd_getpid (glibc ≥ 2.39, looked up at run time in
// cgo builds) or the Pid line of /proc/self/fdinfo (Linux ≥ 5.3), which
// speak for the pid namespace /proc belongs to.
func PidfdGetpid(pidfd int) (int, error) {
	if pidfd < 0 {
		return -1, os.NewSyscallError("pidfd_getpid", unix.EBADF)
	}
	// The kernel's answer first: glibc reads /proc/self/fdinfo, which
	// speaks for the pid namespace /proc was mounted in, not necessarily
	// the caller's.
	pid, err := getpidIoctl(pidfd)
	switch err {
	case nil:
		return pid, nil
	case unix.EREMOTE, unix.EBADF:
		return -1, wrapGetpid(err)
	}
	// ENOTTY/EINVAL: not a pidfd, or a kernel before 6.13; ESRCH: reaped,
	// or (some kernels) in another pid namespace. fdinfo tells them apart.
	if f := libcPidfdGetpid(); f != nil {
		return f(pidfd)
	}
	return getpidFdinfo(pidfd)
}

func wrapGetpid(err error) error {
	if err == nil {
		return nil
	}
	return os.NewSyscallError("pidfd_getpid", err)
}

// getpidIoctl reads the pid through PIDFD_GET_INFO (Linux ≥ 6.13).
func getpidIoctl(pidfd int) (int, error) {
	info := pidfdInfoArg{Mask: _PIDFD_INFO_PID}
	if err := ioctlPidfdInfo(pidfd, &info); err != nil {
		return -1, err
	}
	if info.Pid == 0 {
		return -1, unix.EREMOTE
	}
	return int(info.Pid), nil
}

// getpidFdinfo reads the Pid line of /proc/self/fdinfo/N: -1 once the
// process is reaped, 0 outside the caller's pid namespace.
func getpidFdinfo(pidfd int) (int, error) {
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(pidfd))
	if err != nil {
		if os.IsNotExist(err) {
			return -1, wrapGetpid(unix.EBADF)
		}
		return -1, err
	}
	var pid int
	found := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		v, ok := bytes.CutPrefix(sc.Bytes(), []byte("Pid:"))
		if !ok {
			continue
		}
		pid, err = strconv.Atoi(string(bytes.TrimSpace(v)))
		found = err == nil
		break
	}
	switch {
	case !found:
		return -1, wrapGetpid(unix.EBADF) // not a pidfd
	case pid == -1:
		return -1, wrapGetpid(unix.ESRCH)
	case pid == 0:
		return -1, wrapGetpid(unix.EREMOTE)
	}
	return pid, nil
}

// libcGetpid is set by the cgo build to a lookup of glibc's pidfd_getpid.
var libcGetpid func() func(int) (int, error)

var libcPidfdGetpid = sync.OnceValue(func() func(int) (int, error) {
	if libcGetpid == nil {
		return nil
	}
	return libcGetpid()
})

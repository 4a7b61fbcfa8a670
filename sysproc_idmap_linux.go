//go:build linux

package spawn

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysProcIDMap is syscall.SysProcIDMap: Attr's UidMappings and GidMappings
// take os/exec's values as they are.
type sysProcIDMap = syscall.SysProcIDMap

// The user namespace handshake, the same on every raw path (Clone3's
// clone3 and clone(2) children, ForkNP's forked one): the child, once in
// its new user namespace, blocks in a read of one byte from a close-on-exec
// pipe (its opUsernsWait step); the parent writes the maps for it and then
// that byte. If a write fails, the parent kills the child instead: a
// SIGKILL ends the read.

// usernsPipe makes the handshake's pipe and points every opUsernsWait step
// of steps at its read end. The caller closes both ends: the read end once
// the child exists (the child has its own), the write end through
// mapAndRelease.
func usernsPipe(steps []rawStep) (sync [2]int, err error) {
	if err := unix.Pipe2(sync[:], unix.O_CLOEXEC); err != nil {
		return sync, os.NewSyscallError("pipe2", err)
	}
	for i := range steps {
		if opKind(steps[i].op&stepOpMask) == opUsernsWait {
			steps[i].a[0] = uint64(sync[0])
		}
	}
	return sync, nil
}

// mapAndRelease writes attr's maps for the child pid, then the byte on
// syncW that lets the child go on, and closes syncW. On an error the child
// is still waiting: the caller kills it.
func mapAndRelease(pid int, attr *Attr, syncW int) error {
	err := writeIDMaps(pid, attr)
	if err == nil {
		if _, err = unix.Write(syncW, []byte{1}); err != nil {
			err = os.NewSyscallError("write", err)
		}
	}
	unix.Close(syncW)
	return err
}

// writeIDMaps writes attr's maps for the child pid, whose user namespace is
// new: uid_map, then "deny" to setgroups unless GidMappingsEnableSetgroups,
// then gid_map.
func writeIDMaps(pid int, attr *Attr) error {
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	if attr.UidMappings != nil {
		if err := writeProc(dir+"uid_map", idMap(attr.UidMappings)); err != nil {
			return err
		}
	}
	if attr.GidMappings != nil {
		if !attr.GidMappingsEnableSetgroups {
			if err := writeProc(dir+"setgroups", "deny"); err != nil {
				return err
			}
		}
		if err := writeProc(dir+"gid_map", idMap(attr.GidMappings)); err != nil {
			return err
		}
	}
	return nil
}

func idMap(m []syscall.SysProcIDMap) string {
	var b strings.Builder
	for _, e := range m {
		fmt.Fprintf(&b, "%d %d %d\n", e.ContainerID, e.HostID, e.Size)
	}
	return b.String()
}

// writeProc writes s to the file at path in one write, as the id map
// files demand.
func writeProc(path, s string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte(s)); err != nil {
		return &os.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}

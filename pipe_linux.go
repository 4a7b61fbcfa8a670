//go:build linux

package spawn

import (
	"os"

	"golang.org/x/sys/unix"
)

// cmdPipe returns a pipe for a Cmd: the parent's end non-blocking and in the
// runtime poller, the child's end blocking, so that the child sees an
// ordinary pipe (os.Pipe makes both ends non-blocking, and the child would
// share that open file description: EAGAIN where a program expects to
// block). parentReads says which end is the parent's.
func cmdPipe(parentReads bool) (parent, child *os.File, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, os.NewSyscallError("pipe2", err)
	}
	pi, ci := 1, 0
	if parentReads {
		pi, ci = 0, 1
	}
	if err := unix.SetNonblock(p[pi], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, nil, os.NewSyscallError("fcntl", err)
	}
	// os.NewFile sees O_NONBLOCK on the parent's end and registers it with
	// the poller; the child's end stays a plain blocking descriptor.
	return os.NewFile(uintptr(p[pi]), "|"+pipeName(parentReads)), os.NewFile(uintptr(p[ci]), "|"+pipeName(!parentReads)), nil
}

func pipeName(read bool) string {
	if read {
		return "0"
	}
	return "1"
}

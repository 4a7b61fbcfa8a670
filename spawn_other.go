//go:build !linux

package spawn

import (
	"context"
	"os"
	"syscall"
)

// On systems other than Linux the package compiles and every call fails with
// an error matching ErrNotSupported (and errors.ErrUnsupported).

func errOS() error { return unsupported(nil, "spawn needs Linux (pidfds)") }

func available(b Backend) error { return errOS() }

func spawn(path string, argv []string, attr *Attr, search bool) (*Process, error) {
	return nil, errOS()
}

type pidfdHandle struct{ fd int32 }

func (h *pidfdHandle) closed() bool { return true }
func (h *pidfdHandle) close() error { return errOS() }

func (p *Process) signal(sig syscall.Signal) error          { return errOS() }
func (p *Process) wait(ctx context.Context) (*State, error) { return nil, errOS() }
func (p *Process) getfd(fd int) (*os.File, error)           { return nil, errOS() }
func (p *Process) info() (*Info, error)                     { return nil, errOS() }

// OpenProcess returns a handle on process pid. It needs Linux ≥ 5.3.
func OpenProcess(pid int) (*Process, error) { return nil, errOS() }

// FromPidfd adopts a pidfd. It needs Linux ≥ 5.3.
func FromPidfd(fd int) (*Process, error) { return nil, errOS() }

// PidfdGetpid returns the pid a pidfd refers to. It needs Linux ≥ 5.3.
func PidfdGetpid(pidfd int) (int, error) { return -1, errOS() }

// Cgroup is a cgroup v2 directory. It needs Linux.
type Cgroup struct{}

// Cgroup2Root returns where cgroup2 is mounted. It needs Linux.
func Cgroup2Root() (string, error) { return "", errOS() }

// OpenCgroup opens a cgroup v2 directory. It needs Linux.
func OpenCgroup(path string) (*Cgroup, error) { return nil, errOS() }

// Path returns the cgroup's path.
func (c *Cgroup) Path() string { return "" }

// Fd returns -1.
func (c *Cgroup) Fd() int { return -1 }

// Mkdir creates a child cgroup. It needs Linux.
func (c *Cgroup) Mkdir(name string) (*Cgroup, error) { return nil, errOS() }

// Procs lists the cgroup's processes. It needs Linux.
func (c *Cgroup) Procs() ([]int, error) { return nil, errOS() }

// Kill kills the cgroup's processes. It needs Linux ≥ 5.14.
func (c *Cgroup) Kill() error { return errOS() }

// Remove removes the cgroup. It needs Linux.
func (c *Cgroup) Remove() error { return errOS() }

// Close closes the cgroup.
func (c *Cgroup) Close() error { return errOS() }

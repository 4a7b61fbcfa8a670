//go:build linux

// cgroup v2 directories. Kernel history:
//
//	v4.5: cgroup2
//	v5.7: CLONE_INTO_CGROUP
//	v5.14: cgroup.kill

package spawn

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Cgroup is an open cgroup v2 directory. Attr.Cgroup creates a child inside
// it from its first instant, so no process ever escapes a limit or a
// cgroup.kill by forking early.
type Cgroup struct {
	path string
	f    *os.File
}

// Cgroup2Root returns where the cgroup v2 hierarchy is mounted, read from
// /proc/self/mountinfo: /sys/fs/cgroup on unified hosts,
// /sys/fs/cgroup/unified on hybrid ones.
func Cgroup2Root() (string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	if root, ok := cgroup2Mount(b); ok {
		return root, nil
	}
	return "", unsupported(nil, "no cgroup2 file system is mounted (cgroup v2 needs Linux 4.5)")
}

// cgroup2Mount finds the first cgroup2 mount point in mountinfo text.
func cgroup2Mount(mountinfo []byte) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	for sc.Scan() {
		// id parent maj:min root mountpoint options [optional...] - fstype source superopts
		line := sc.Text()
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		if fstype, _, _ := strings.Cut(post, " "); fstype != "cgroup2" {
			continue
		}
		fields := strings.Fields(pre)
		if len(fields) < 5 {
			continue
		}
		return unescapeMount(fields[4]), true
	}
	return "", false
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// OpenCgroup opens the cgroup v2 directory at path. Anything else (a plain
// directory, a cgroup v1 hierarchy, a file) is an error that says so.
func OpenCgroup(path string) (*Cgroup, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	magic, err := fsMagic(fd)
	if err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "fstatfs", Path: path, Err: err}
	}
	if magic != unix.CGROUP2_SUPER_MAGIC {
		unix.Close(fd)
		return nil, &os.PathError{Op: "open cgroup", Path: path, Err: notCgroup2{magic}}
	}
	return &Cgroup{path: path, f: os.NewFile(uintptr(fd), path)}, nil
}

// notCgroup2 is a directory that is not in a cgroup v2 hierarchy. It
// matches ENOTDIR (not a directory of the kind asked for) without saying
// so: the text names what the directory is instead.
type notCgroup2 struct{ magic int64 }

func (e notCgroup2) Error() string {
	switch e.magic {
	case unix.CGROUP_SUPER_MAGIC:
		return "not a cgroup v2 directory: a cgroup v1 hierarchy (Cgroup needs cgroup v2, Linux 4.5; see Cgroup2Root)"
	}
	return fmt.Sprintf("not a cgroup v2 directory (file system magic %#x)", e.magic)
}

func (notCgroup2) Is(target error) bool { return target == unix.ENOTDIR }

// fsMagic returns the magic number of the file system fd is on
// (unix.CGROUP2_SUPER_MAGIC for a cgroup v2 directory).
func fsMagic(fd int) (int64, error) {
	var sfs unix.Statfs_t
	err := unix.Fstatfs(fd, &sfs)
	return int64(sfs.Type), err
}

// Path returns the directory's path as given to OpenCgroup or Mkdir.
func (c *Cgroup) Path() string { return c.path }

// Fd returns the directory's descriptor (close-on-exec), the one given to
// CLONE_INTO_CGROUP; -1 once closed.
func (c *Cgroup) Fd() int {
	fd := -1
	if rc, err := c.f.SyscallConn(); err == nil {
		if rc.Control(func(u uintptr) { fd = int(u) }) != nil {
			fd = -1
		}
	}
	return fd
}

// control runs fn on the directory's descriptor while holding it open.
func (c *Cgroup) control(fn func(fd int) error) error {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(u uintptr) { ferr = fn(int(u)) }); err != nil {
		return &os.PathError{Op: "cgroup", Path: c.path, Err: os.ErrClosed}
	}
	return ferr
}

// Mkdir creates the child cgroup name and opens it. name is one path
// element.
func (c *Cgroup) Mkdir(name string) (*Cgroup, error) {
	path := filepath.Join(c.path, name)
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return nil, &os.PathError{Op: "mkdir", Path: path, Err: unix.EINVAL}
	}
	err := c.control(func(fd int) error { return unix.Mkdirat(fd, name, 0o755) })
	if err != nil {
		return nil, &os.PathError{Op: "mkdir", Path: path, Err: unwrapPath(err)}
	}
	return OpenCgroup(path)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readFile reads one of the cgroup's interface files.
func (c *Cgroup) readFile(name string) ([]byte, error) {
	var b []byte
	err := c.control(func(dfd int) error {
		fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), name)
		defer f.Close()
		b, err = readAll(f)
		return err
	})
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: filepath.Join(c.path, name), Err: unwrapPath(err)}
	}
	return b, nil
}

func readAll(f *os.File) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(f)
	return buf.Bytes(), err
}

// writeFile writes to one of the cgroup's interface files.
func (c *Cgroup) writeFile(name, value string) error {
	err := c.control(func(dfd int) error {
		fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		_, err = unix.Write(fd, []byte(value))
		return err
	})
	if err != nil {
		return &os.PathError{Op: "write", Path: filepath.Join(c.path, name), Err: unwrapPath(err)}
	}
	return nil
}

// Procs returns the pids of the processes in the cgroup (cgroup.procs).
func (c *Cgroup) Procs() ([]int, error) {
	b, err := c.readFile("cgroup.procs")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("spawn: %s/cgroup.procs: %w", c.path, err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// Kill SIGKILLs every process in the cgroup and its descendants
// (cgroup.kill, Linux ≥ 5.14).
func (c *Cgroup) Kill() error {
	err := c.writeFile("cgroup.kill", "1")
	if errors.Is(err, unix.ENOENT) {
		return unsupported(err, "Cgroup.Kill needs Linux 5.14 (cgroup.kill)")
	}
	return err
}

// Remove removes the cgroup directory, which must hold no process and no
// child cgroup, and closes c. On a closed c it removes nothing and returns
// an error matching os.ErrClosed, as every other method does.
func (c *Cgroup) Remove() error {
	// Holding the descriptor open during the rmdir: a Close racing with
	// Remove leaves either a removed directory or a refusal, never both.
	err := c.control(func(int) error { return unix.Rmdir(c.path) })
	if err != nil {
		return &os.PathError{Op: "rmdir", Path: c.path, Err: unwrapPath(err)}
	}
	return c.Close()
}

// Close closes the directory's descriptor.
func (c *Cgroup) Close() error { return c.f.Close() }

//go:build linux

package spawn

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysProcAttr is Cmd.SysProcAttr lowered onto an Attr, with what Start must
// do around the spawn.
type sysProcAttr struct {
	cgroup *Cgroup // UseCgroupFD's directory, on a duplicate of CgroupFD: closed after the spawn
	pidFD  *int    // PidFD: filled with a duplicate of the pidfd
}

// applySysProcAttr moves every field of s onto attr (every field of
// syscall.SysProcAttr on Linux has a counterpart in Attr). A field that attr
// already sets to a different value is an error naming both. The caller
// calls done after the spawn.
func applySysProcAttr(attr *Attr, s *syscall.SysProcAttr) (*sysProcAttr, error) {
	if s == nil {
		return nil, nil
	}
	var errs []string
	set := func(name string, dst any, src any) {
		d := reflect.ValueOf(dst).Elem()
		v := reflect.ValueOf(src)
		if v.IsZero() {
			return
		}
		if !d.IsZero() && !reflect.DeepEqual(d.Interface(), src) {
			errs = append(errs, name)
			return
		}
		d.Set(v)
	}
	set("Chroot", &attr.Chroot, s.Chroot)
	set("Credential", &attr.Credential, s.Credential)
	set("Ptrace", &attr.Ptrace, s.Ptrace)
	set("Setsid", &attr.Setsid, s.Setsid)
	set("Setpgid", &attr.Setpgid, s.Setpgid)
	set("Setctty", &attr.Setctty, s.Setctty)
	set("Noctty", &attr.Noctty, s.Noctty)
	set("Ctty", &attr.Ctty, s.Ctty)
	set("Foreground", &attr.Foreground, s.Foreground)
	set("Pgid", &attr.Pgid, s.Pgid)
	set("Pdeathsig", &attr.Pdeathsig, s.Pdeathsig)
	set("Cloneflags", &attr.Cloneflags, s.Cloneflags)
	set("Unshareflags", &attr.Unshareflags, s.Unshareflags)
	set("UidMappings", &attr.UidMappings, s.UidMappings)
	set("GidMappings", &attr.GidMappings, s.GidMappings)
	set("GidMappingsEnableSetgroups", &attr.GidMappingsEnableSetgroups, s.GidMappingsEnableSetgroups)
	set("AmbientCaps", &attr.AmbientCaps, s.AmbientCaps)
	if s.UseCgroupFD && attr.Cgroup != nil {
		errs = append(errs, "UseCgroupFD (Attr.Cgroup)")
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("spawn: Cmd.SysProcAttr and Cmd.Attr set %v differently: %w", errs, syscall.EINVAL)
	}
	out := &sysProcAttr{pidFD: s.PidFD}
	if s.UseCgroupFD {
		fd, err := unix.FcntlInt(uintptr(s.CgroupFD), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("spawn: SysProcAttr.CgroupFD %d: %w", s.CgroupFD, os.NewSyscallError("fcntl", err))
		}
		path, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		out.cgroup = &Cgroup{path: path, f: os.NewFile(uintptr(fd), path)}
		attr.Cgroup = out.cgroup
	}
	// The slices are the caller's: the plan copies what it keeps.
	attr.AmbientCaps = slices.Clip(attr.AmbientCaps)
	return out, nil
}

// started fills PidFD with a duplicate of p's pidfd, as os/exec does; the
// caller owns and closes it.
func (s *sysProcAttr) started(p *Process) error {
	if s == nil || s.pidFD == nil {
		return nil
	}
	return p.control(func(fd int) error {
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return os.NewSyscallError("fcntl", err)
		}
		*s.pidFD = dup
		return nil
	})
}

// done closes what applySysProcAttr opened.
func (s *sysProcAttr) done() {
	if s != nil && s.cgroup != nil {
		s.cgroup.Close()
	}
}

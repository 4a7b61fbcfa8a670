package spawn

import "syscall"

// The namespace bits of clone(2) and unshare(2) (linux/sched.h), the only
// bits Attr.Cloneflags and Attr.Unshareflags accept.
const (
	cloneNewTime   = 0x00000080
	cloneNewNS     = 0x00020000
	cloneNewCgroup = 0x02000000
	cloneNewUTS    = 0x04000000
	cloneNewIPC    = 0x08000000
	cloneNewUser   = 0x10000000
	cloneNewPID    = 0x20000000
	cloneNewNet    = 0x40000000

	cloneNewAll = cloneNewTime | cloneNewNS | cloneNewCgroup | cloneNewUTS | cloneNewIPC | cloneNewUser |
		cloneNewPID | cloneNewNet
)

// validateSysProc checks the os/exec SysProcAttr fields of attr.
func validateSysProc(attr *Attr) error {
	if attr.Cloneflags&^cloneNewAll != 0 || attr.Unshareflags&^cloneNewAll != 0 {
		return syscall.EINVAL
	}
	if hasNUL(attr.Chroot) {
		return syscall.EINVAL
	}
	if (attr.Setctty || attr.Foreground) && attr.Ctty < 0 {
		return syscall.EBADF
	}
	for _, c := range attr.AmbientCaps {
		if c > 63 {
			return syscall.EINVAL
		}
	}
	if (attr.UidMappings != nil || attr.GidMappings != nil) && !attr.newUser() {
		// Nothing to write the maps to.
		return syscall.EINVAL
	}
	for _, m := range append(attr.UidMappings[:len(attr.UidMappings):len(attr.UidMappings)], attr.GidMappings...) {
		if m.ContainerID < 0 || m.HostID < 0 || m.Size <= 0 {
			return syscall.EINVAL
		}
	}
	return nil
}

// newUser reports whether attr asks for a user namespace.
func (attr *Attr) newUser() bool {
	return (attr.Cloneflags|attr.Unshareflags)&cloneNewUser != 0
}

// sysProcField names the first os/exec SysProcAttr field attr sets, or "".
func sysProcField(attr *Attr) string {
	switch {
	case attr.Credential != nil:
		return "Credential"
	case attr.Chroot != "":
		return "Chroot"
	case attr.Setctty:
		return "Setctty"
	case attr.Noctty:
		return "Noctty"
	case attr.Foreground:
		return "Foreground"
	case len(attr.AmbientCaps) > 0:
		return "AmbientCaps"
	case attr.Cloneflags != 0:
		return "Cloneflags"
	case attr.Unshareflags != 0:
		return "Unshareflags"
	case attr.UidMappings != nil:
		return "UidMappings"
	case attr.GidMappings != nil:
		return "GidMappings"
	case attr.Ptrace:
		return "Ptrace"
	}
	return ""
}

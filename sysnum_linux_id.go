//go:build linux && !(386 || arm)

package spawn

import "golang.org/x/sys/unix"

// The id system calls (32-bit ids: the only ones on 64-bit architectures).
const (
	sysSetgroups = unix.SYS_SETGROUPS
	sysSetresuid = unix.SYS_SETRESUID
	sysSetresgid = unix.SYS_SETRESGID
)

//go:build linux && (386 || arm)

package spawn

import "golang.org/x/sys/unix"

// On 386 and 32-bit arm, setgroups, setresuid and setresgid take 16-bit ids;
// the calls with 32-bit ids are the ones suffixed 32.
const (
	sysSetgroups = unix.SYS_SETGROUPS32
	sysSetresuid = unix.SYS_SETRESUID32
	sysSetresgid = unix.SYS_SETRESGID32
)

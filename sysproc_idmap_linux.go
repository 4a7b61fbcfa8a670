//go:build linux

package spawn

import "syscall"

// sysProcIDMap is syscall.SysProcIDMap: Attr's UidMappings and GidMappings
// take os/exec's values as they are.
type sysProcIDMap = syscall.SysProcIDMap

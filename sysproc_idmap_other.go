//go:build !linux

package spawn

// sysProcIDMap stands for Linux's syscall.SysProcIDMap where syscall has
// none; no other system carries user namespaces.
type sysProcIDMap struct {
	ContainerID, HostID, Size int
}

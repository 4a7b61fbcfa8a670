//go:build linux

package spawn

import (
	"fmt"
	"os/exec"
	"syscall"
	"testing"
)

// BenchmarkUserNamespace: Spawn+Wait of /bin/true in a new user namespace
// with uid and gid maps (the non-vfork Clone3 path: the parent writes the
// maps while the child waits), beside os/exec with the same SysProcAttr and
// both without a namespace, in the same run. Needs root (or unprivileged
// user namespaces with a map of one's own ids).
//
//	go test -run '^$' -bench UserNamespace
func BenchmarkUserNamespace(b *testing.B) {
	uid, gid := syscall.Getuid(), syscall.Getgid()
	ns := func() *syscall.SysProcAttr {
		return &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}},
		}
	}
	for _, m := range []struct {
		name string
		sys  func() *syscall.SysProcAttr
	}{{"none", func() *syscall.SysProcAttr { return nil }}, {"userns", ns}} {
		b.Run("clone3/"+m.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c := Command("/bin/true")
				c.Attr = &Attr{Backend: Clone3}
				c.SysProcAttr = m.sys()
				if err := c.Run(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("os_exec/"+m.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c := exec.Command("/bin/true")
				c.SysProcAttr = m.sys()
				if err := c.Run(); err != nil {
					b.Fatal(fmt.Errorf("os/exec: %w", err))
				}
			}
		})
	}
}

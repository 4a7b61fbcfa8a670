//go:build linux

package spawn

import (
	"fmt"
	"os"
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

// BenchmarkCmdTypes: the cost of os/exec's types in Cmd. cmd is Cmd.Run
// (the child found as an *os.Process, parked on spawn's pidfd, reaped by
// os.Process.Wait into an *os.ProcessState); spawn_wait is what Cmd did
// before, Spawn with the same descriptors and Process.Wait; os_exec is
// os/exec's Cmd.Run. All on the tiny program (or /bin/true), in one run.
//
//	go test -run '^$' -bench CmdTypes -count 5
func BenchmarkCmdTypes(b *testing.B) {
	path := "/bin/true"
	if tiny, err := benchTiny(); err == nil {
		path = tiny
	}
	b.Run("cmd", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := Command(path).Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("spawn_wait", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			in, err := os.Open(os.DevNull)
			if err != nil {
				b.Fatal(err)
			}
			out, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			p, err := Spawn(path, []string{path}, &Attr{Files: []*os.File{in, out, out}})
			in.Close()
			out.Close()
			if err != nil {
				b.Fatal(err)
			}
			st, err := p.Wait()
			if err != nil || !st.Success() {
				b.Fatal(st, err)
			}
		}
	})
	b.Run("os_exec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := exec.Command(path).Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

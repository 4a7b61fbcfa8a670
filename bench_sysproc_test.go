//go:build linux

package spawn

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// BenchmarkUserNamespace: Spawn+Wait of /bin/true in a new user namespace
// with uid and gid maps (the non-vfork Clone3 path, and ForkNP's fork with
// the handshake after its unshare: the parent writes the maps while the
// child waits), beside os/exec with the same SysProcAttr and each without a
// namespace, in the same run. Needs root (or unprivileged user namespaces
// with a map of one's own ids); ForkNP needs cgo.
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
		if Available(ForkNP) == nil {
			b.Run("fork_np/"+m.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					c := Command("/bin/true")
					c.Attr = &Attr{Backend: ForkNP}
					c.SysProcAttr = m.sys()
					if err := c.Run(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
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
// os/exec's Cmd.Run. All on the tiny program (or /bin/true). Each iteration
// runs the three in turn, so that a shared machine's drift hits them alike;
// the metrics are each one's time and the ratios cmd/os_exec,
// cmd/spawn_wait and oswait/wait (the os types' cost on a bare Spawn).
//
//	go test -run '^$' -bench CmdTypes -count 5
func BenchmarkCmdTypes(b *testing.B) {
	path := "/bin/true"
	if tiny, err := benchTiny(); err == nil {
		path = tiny
	}
	methods := []struct {
		name string
		run  func() error
	}{
		{"cmd", func() error { return Command(path).Run() }},
		{"spawn_wait", func() error {
			in, err := os.Open(os.DevNull)
			if err != nil {
				return err
			}
			out, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				in.Close()
				return err
			}
			p, err := Spawn(path, []string{path}, &Attr{Files: []*os.File{in, out, out}})
			in.Close()
			out.Close()
			if err != nil {
				return err
			}
			st, err := p.Wait()
			if err == nil && !st.Success() {
				err = fmt.Errorf("%s: %v", path, st)
			}
			return err
		}},
		{"os_exec", func() error { return exec.Command(path).Run() }},
		// What the os types add to spawn_wait, alone: the *os.Process
		// from os.FindProcess, the park on spawn's pidfd until exit, and
		// os.Process.Wait's reap into an *os.ProcessState.
		{"spawn_oswait", func() error {
			p, err := Spawn(path, []string{path}, nil)
			if err != nil {
				return err
			}
			op, err := os.FindProcess(p.Pid())
			if err != nil {
				return err
			}
			if err := p.waitExited(); err != nil {
				return err
			}
			ps, err := op.Wait()
			p.Release()
			if err == nil && !ps.Success() {
				err = fmt.Errorf("%s: %v", path, ps)
			}
			return err
		}},
		{"spawn_wait_nil", func() error {
			p, err := Spawn(path, []string{path}, nil)
			if err != nil {
				return err
			}
			st, err := p.Wait()
			if err == nil && !st.Success() {
				err = fmt.Errorf("%s: %v", path, st)
			}
			return err
		}},
	}
	total := make([]time.Duration, len(methods))
	n := 0
	for b.Loop() {
		for i, m := range methods {
			t0 := time.Now()
			if err := m.run(); err != nil {
				b.Fatalf("%s: %v", m.name, err)
			}
			total[i] += time.Since(t0)
		}
		n++
	}
	for i, m := range methods {
		b.ReportMetric(float64(total[i].Nanoseconds())/float64(n), m.name+"-ns/op")
	}
	b.ReportMetric(float64(total[0])/float64(total[2]), "cmd/os_exec")
	b.ReportMetric(float64(total[0])/float64(total[1]), "cmd/spawn_wait")
	b.ReportMetric(float64(total[3])/float64(total[4]), "oswait/wait")
}

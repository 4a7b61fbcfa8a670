//go:build linux

package spawn

// The guest side of ci/kernel.sh: when the static test binary boots as the
// initramfs's /init under qemu, TestMain hands control to runGuest.
//
// runGuest stays a plain init (PID 1): it mounts the pseudo filesystems,
// starts this same binary again as an ordinary child process that runs the
// tests, reaps every process that gets reparented to it, and, once the test
// process is gone, reports the verdict and powers the machine off. The tests
// therefore never run as PID 1 (where signals, reparenting and wait(2) all
// behave unlike anywhere else), and the reaper cannot steal the exit status
// of a process a test is waiting for.
//
// Channels (set up by ci/kernel.sh):
//
//	/dev/hvc0   virtio console: test output, streamed to the host's stdout
//	            (falls back to the kernel console's serial port, /dev/ttyS0
//	            or on arm64 /dev/ttyAMA0, if absent)
//	verdict     exactly one line "EXIT <code>": on the virtio serial port
//	            named spawn.verdict when there is one (arm64: qemu's virt
//	            machine has a single UART), else on /dev/ttyS1, the second
//	            serial port (amd64)
//
// Files the host puts into the initramfs:
//
//	/args  the test arguments (e.g. -test.v -test.run X), NUL-separated;
//	       its presence tells runGuest that it is in ci/kernel.sh's VM
//	/env   extra KEY=VALUE environment entries, NUL-separated

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func runGuest(m *testing.M) int {
	// PID 1 without ci/kernel.sh's /args: not our VM but, say, a container
	// running the binary as its entry point. Just run the tests.
	if _, err := os.Stat("/args"); err != nil {
		return m.Run()
	}

	// Until the output channel is open, complaints go to the kernel
	// console the kernel gave init as stdin, stdout and stderr.
	guestMounts(func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "guest: "+format+"\n", args...)
	})
	out := guestOutput()
	logf := func(format string, args ...any) {
		fmt.Fprintf(out, "guest: "+format+"\n", args...)
	}

	env := guestEnv()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	args := guestArgs()

	var uts unix.Utsname
	unix.Uname(&uts)
	logf("linux %s, running %s %s", unix.ByteSliceToString(uts.Release[:]),
		args[0], strings.Join(args[1:], " "))

	code := guestRunTests(m, args, env, out, logf)

	// Whatever the tests left behind goes now, then the output is drained
	// before the verdict is sent.
	unix.Kill(-1, unix.SIGKILL)
	guestReapAll(2 * time.Second)
	drainTTY(out)

	guestVerdict(code, logf)
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	// Still here: try the other way out (qemu runs with -no-reboot).
	unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	return code
}

// guestOutput opens the test output channel and makes it this process's
// stdout and stderr too, so a panic of PID 1 lands in the same stream.
func guestOutput() *os.File {
	// The virtio console's ports are added asynchronously after its driver
	// probed: give /dev/hvc0 a moment to appear when the device is there.
	if guestHasVirtioConsole() {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			if _, err := os.Stat("/dev/hvc0"); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	serial := "/dev/ttyS0"
	if runtime.GOARCH == "arm64" {
		serial = "/dev/ttyAMA0" // the PL011 of qemu's virt machine
	}
	for _, name := range []string{"/dev/hvc0", serial, "/dev/console"} {
		f, err := os.OpenFile(name, os.O_WRONLY|unix.O_NOCTTY, 0)
		if err != nil {
			continue
		}
		rawTTY(int(f.Fd()))
		unix.Dup3(int(f.Fd()), 1, 0)
		unix.Dup3(int(f.Fd()), 2, 0)
		return f
	}
	return os.Stdout
}

// guestHasVirtioConsole reports whether a virtio console device (virtio
// device ID 3) is present.
func guestHasVirtioConsole() bool {
	devs, _ := filepath.Glob("/sys/bus/virtio/devices/*/device")
	for _, d := range devs {
		if b, err := os.ReadFile(d); err == nil && strings.TrimSpace(string(b)) == "0x0003" {
			return true
		}
	}
	return false
}

// rawTTY turns off output post-processing (\n -> \r\n) and echo.
func rawTTY(fd int) {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return
	}
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// drainTTY waits until the terminal has sent what was written to it
// (tcdrain).
func drainTTY(f *os.File) {
	unix.IoctlSetInt(int(f.Fd()), unix.TCSBRK, 1)
}

func guestMounts(logf func(string, ...any)) {
	type mnt struct {
		src, dir, fstype string
		flags            uintptr
		data             string
		required         bool
	}
	const nsd = unix.MS_NOSUID | unix.MS_NODEV
	for _, m := range []mnt{
		{"proc", "/proc", "proc", nsd | unix.MS_NOEXEC, "", true},
		{"sysfs", "/sys", "sysfs", nsd | unix.MS_NOEXEC, "", true},
		{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755", true},
		{"cgroup2", "/sys/fs/cgroup", "cgroup2", nsd | unix.MS_NOEXEC, "", true},
		{"tmpfs", "/tmp", "tmpfs", nsd, "mode=1777", true},
		{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "mode=0620,ptmxmode=0666", false},
		{"tmpfs", "/dev/shm", "tmpfs", nsd, "mode=1777", false},
		{"tmpfs", "/run", "tmpfs", nsd, "mode=0755", false},
	} {
		os.MkdirAll(m.dir, 0o755)
		err := unix.Mount(m.src, m.dir, m.fstype, m.flags, m.data)
		if err != nil && m.required {
			logf("mount %s on %s: %v", m.fstype, m.dir, err)
		}
	}
	os.Symlink("/proc/self/fd", "/dev/fd")
	os.Symlink("/proc/self/fd/0", "/dev/stdin")
	os.Symlink("/proc/self/fd/1", "/dev/stdout")
	os.Symlink("/proc/self/fd/2", "/dev/stderr")
	os.Symlink("pts/ptmx", "/dev/ptmx")

	// Enable every controller for child cgroups, as systemd does on a host.
	if b, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		for _, c := range strings.Fields(string(b)) {
			os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte("+"+c), 0)
		}
	}
	unix.Sethostname([]byte("spawn-guest"))
}

// guestEnv is the test process's environment: a clean one (the kernel
// hands init a few stray variables from its command line) plus /env.
func guestEnv() []string {
	env := []string{
		"PATH=/bin:/sbin:/usr/bin:/usr/sbin",
		"HOME=/root",
		"TMPDIR=/tmp",
		"TERM=dumb",
		"SPAWN_GUEST=1",
	}
	if b, err := os.ReadFile("/env"); err == nil {
		for _, kv := range splitNUL(b) {
			if strings.Contains(kv, "=") {
				env = append(env, kv)
			}
		}
	}
	os.Clearenv()
	return env
}

// guestArgs is the test process's argv: /init (this binary) followed by
// the arguments in /args.
func guestArgs() []string {
	args := []string{os.Args[0]}
	b, _ := os.ReadFile("/args")
	return append(args, splitNUL(b)...)
}

func splitNUL(b []byte) []string {
	var s []string
	for _, f := range bytes.Split(b, []byte{0}) {
		if len(f) > 0 {
			s = append(s, string(f))
		}
	}
	return s
}

// guestRunTests runs the tests in a child process and reaps orphans until
// that child exits; it returns the child's exit code (128+signal if it was
// killed). If the child cannot be started, the tests run in PID 1 itself.
func guestRunTests(m *testing.M, args, env []string, out *os.File, logf func(string, ...any)) int {
	devnull, err := os.Open("/dev/null")
	if err != nil {
		devnull = out
	}
	exe := "/proc/self/exe"
	if _, err := os.Stat(exe); err != nil {
		exe = args[0]
	}
	pid, err := syscall.ForkExec(exe, args, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{devnull.Fd(), out.Fd(), out.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		logf("cannot start the test process (%v); running the tests in PID 1", err)
		os.Args = args
		return m.Run()
	}
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			logf("wait: %v", err)
			return 125
		}
		if wpid != pid {
			continue // an orphan
		}
		switch {
		case ws.Exited():
			return ws.ExitStatus()
		case ws.Signaled():
			logf("test process killed by signal %v", ws.Signal())
			return 128 + int(ws.Signal())
		}
	}
}

// guestReapAll reaps the remaining processes, giving up after d.
func guestReapAll(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		switch {
		case err == unix.ECHILD:
			return
		case err == nil && pid > 0:
			continue
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// guestVerdictPort is the virtio serial port that carries the verdict where
// there is no second serial port (ci/kernel.sh names it on qemu's command
// line); without udev there is no /dev/virtio-ports/NAME link, so the port
// is found by its name in sysfs.
const guestVerdictPort = "spawn.verdict"

// guestVerdictDevice returns the device to send the verdict to: the virtio
// port named guestVerdictPort if present, else the second serial port.
func guestVerdictDevice() string {
	names, _ := filepath.Glob("/sys/class/virtio-ports/*/name")
	for _, n := range names {
		if b, err := os.ReadFile(n); err == nil && strings.TrimSpace(string(b)) == guestVerdictPort {
			return "/dev/" + filepath.Base(filepath.Dir(n))
		}
	}
	return "/dev/ttyS1"
}

// guestVerdict sends "EXIT <code>" on the verdict channel.
func guestVerdict(code int, logf func(string, ...any)) {
	dev := guestVerdictDevice()
	f, err := os.OpenFile(dev, os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		logf("cannot open the verdict port %s: %v", dev, err)
		return
	}
	rawTTY(int(f.Fd()))
	if _, err := fmt.Fprintf(f, "EXIT %d\n", code); err != nil {
		logf("cannot send the verdict: %v", err)
	}
	drainTTY(f)
	f.Close()
}

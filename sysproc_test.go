//go:build linux

package spawn

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/matryer/is"
	"golang.org/x/sys/unix"
)

// rawBackends are the backends that run the SysProcAttr steps.
func rawBackends(t *testing.T) []Backend {
	var bs []Backend
	for _, b := range backends(t) {
		if b != PidfdSpawn {
			bs = append(bs, b)
		}
	}
	return bs
}

func forEachRawBackend(t *testing.T, fn func(t *testing.T, b Backend)) {
	for _, b := range rawBackends(t) {
		t.Run(b.String(), func(t *testing.T) { fn(t, b) })
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root (CAP_SETUID, CAP_SYS_CHROOT, CAP_SYS_ADMIN): euid %d", os.Geteuid())
	}
}

func TestAttrCredential(t *testing.T) {
	needRoot(t)
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		p := sleeper(t, b, Attr{Credential: &syscall.Credential{Uid: 65534, Gid: 65533, Groups: []uint32{100, 200}}})
		is.Equal(procStatus(t, p.Pid(), "Uid"), "65534\t65534\t65534\t65534") // setresuid: real, effective, saved
		is.Equal(procStatus(t, p.Pid(), "Gid"), "65533\t65533\t65533\t65533") // setresgid
		is.Equal(procStatus(t, p.Pid(), "Groups"), "100 200")                 // setgroups

		q := sleeper(t, b, Attr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, NoSetGroups: true}})
		is.Equal(procStatus(t, q.Pid(), "Groups"), procStatus(t, os.Getpid(), "Groups")) // NoSetGroups keeps the parent's
		r := sleeper(t, b, Attr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}})
		is.Equal(procStatus(t, r.Pid(), "Groups"), "") // an empty list clears them
	})
}

func TestAttrCredentialError(t *testing.T) {
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		// As nobody: setgroups fails with EPERM, named.
		st := mustWait(t, spawnHelper(t, Auto, "cred-eperm", b.String()))
		is.Equal(st.ExitCode(), 0) // the helper saw *os.PathError{Op: "setgroups"} wrapping EPERM
	})
}

func init() {
	registerHelper("cred-eperm", func(args []string) int {
		b, _ := ParseBackend(args[0])
		if err := becomeNobody(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		_, err := failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: b, Credential: &syscall.Credential{Uid: 0, Gid: 0}}))
		var pe *os.PathError
		if !errors.As(err, &pe) || pe.Op != "setgroups" || !errors.Is(err, syscall.EPERM) {
			fmt.Fprintln(os.Stderr, "want setgroups EPERM, got", err)
			return 2
		}
		return 0
	})
}

func TestAttrChroot(t *testing.T) {
	needRoot(t)
	// /usr as the new root: /bin/sleep there is /usr/bin/sleep, and its
	// loader and libraries resolve below /usr on a merged-/usr system.
	if fi, err := os.Lstat("/usr/bin"); err != nil || !fi.IsDir() {
		t.Skipf("the chroot test runs /usr/bin/sleep inside /usr: needs a merged /usr whose /usr/bin is a directory (%v)", err)
	}
	if _, err := os.Stat("/usr/bin/sleep"); err != nil {
		t.Skipf("the chroot test runs /usr/bin/sleep inside /usr: %v", err)
	}
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		p := sleeper(t, b, Attr{Chroot: "/usr", Dir: "/bin"})
		root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", p.Pid()))
		is.NoErr(err)
		is.Equal(root, "/usr") // the child's root
		cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", p.Pid()))
		is.NoErr(err)
		is.Equal(cwd, "/usr/bin") // Dir is below the new root

		_, err = failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: b, Chroot: "/nonexistent"}))
		var pe *os.PathError
		is.True(errors.As(err, &pe))            // a step error
		is.Equal(pe.Op, "chroot")               // named
		is.Equal(pe.Path, "/nonexistent")       // with the directory
		is.True(errors.Is(err, syscall.ENOENT)) // and its errno
	})
}

// capBit is the bit of capability c in a /proc/PID/status Cap* mask.
func capMask(t *testing.T, pid int, field string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(procStatus(t, pid, field), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAttrAmbientCaps(t *testing.T) {
	needRoot(t)
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		const c = unix.CAP_NET_BIND_SERVICE
		p := sleeper(t, b, Attr{
			Credential:  &syscall.Credential{Uid: 65534, Gid: 65534},
			AmbientCaps: []uintptr{c, unix.CAP_SYS_TIME},
		})
		want := uint64(1)<<c | 1<<unix.CAP_SYS_TIME
		is.Equal(capMask(t, p.Pid(), "CapAmb"), want) // raised into the ambient set
		is.Equal(capMask(t, p.Pid(), "CapEff"), want) // and effective after exec as uid 65534
		is.Equal(procStatus(t, p.Pid(), "Uid"), "65534\t65534\t65534\t65534")
	})
}

func readNS(t *testing.T, pid int, ns string) string {
	t.Helper()
	s, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAttrCloneflags(t *testing.T) {
	needRoot(t)
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		flags := uintptr(syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWNET)
		if b == Clone3 {
			flags |= syscall.CLONE_NEWPID
		}
		p := sleeper(t, b, Attr{Cloneflags: flags})
		for _, ns := range []string{"uts", "ipc", "net"} {
			is.True(readNS(t, p.Pid(), ns) != readNS(t, os.Getpid(), ns)) // a new namespace
		}
		if b == Clone3 {
			is.Equal(procStatus(t, p.Pid(), "NSpid"), strconv.Itoa(p.Pid())+"\t1") // pid 1 of a new PID namespace
		}

		_, err := failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: b, Cloneflags: syscall.CLONE_VM}))
		is.True(errors.Is(err, syscall.EINVAL)) // only CLONE_NEW* bits
		_, err = failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: b, Unshareflags: syscall.CLONE_FILES}))
		is.True(errors.Is(err, syscall.EINVAL)) // only CLONE_NEW* bits
	})
}

func TestAttrForkNPLimits(t *testing.T) {
	is := is.New(t)
	if why := Available(ForkNP); why != nil {
		// No ForkNP in this build (CGO_ENABLED=0): maps on it are refused
		// as the backend is.
		_, err := failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: ForkNP, Cloneflags: syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}}))
		is.True(errors.Is(err, ErrNotSupported)) // ForkNP is not here
		t.Skipf("ForkNP: %v", why)
	}
	before := openFds()
	for _, attr := range []Attr{
		{Cloneflags: syscall.CLONE_NEWPID},
		{Cloneflags: unix.CLONE_NEWTIME},
		{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWUSER, UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}},
	} {
		attr.Backend = ForkNP
		_, err := failed(Spawn("/bin/true", []string{"true"}, &attr))
		is.True(errors.Is(err, ErrNotSupported))             // ForkNP cannot carry it (unshare moves no child of its own)
		is.True(strings.Contains(err.Error(), "Cloneflags")) // naming the field
	}
	is.NoErr(checkLeaks(before)) // refused before any child
}

func TestAttrUnshareflags(t *testing.T) {
	needRoot(t)
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		p := sleeper(t, b, Attr{Unshareflags: syscall.CLONE_NEWUTS | syscall.CLONE_NEWNS})
		is.True(readNS(t, p.Pid(), "uts") != readNS(t, os.Getpid(), "uts")) // unshared
		is.True(readNS(t, p.Pid(), "mnt") != readNS(t, os.Getpid(), "mnt")) // unshared
		mi, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", p.Pid()))
		is.NoErr(err)
		for _, line := range strings.Split(strings.TrimSpace(string(mi)), "\n") {
			f := strings.Fields(line)
			if len(f) > 6 && f[4] == "/" {
				is.True(!strings.Contains(line, "shared:")) // the root is private in the child's namespace
			}
		}
	})
}

// TestAttrUserNamespace: a user namespace with the child (Clone3: created
// with it; ForkNP: unshared by it), its maps written by the parent while the
// child waits, the credentials set under them.
func TestAttrUserNamespace(t *testing.T) {
	needRoot(t)
	for _, flags := range []struct {
		name           string
		clone, unshare uintptr
	}{
		{"Cloneflags", syscall.CLONE_NEWUSER, 0},
		{"Unshareflags", 0, syscall.CLONE_NEWUSER},
		{"Cloneflags+NEWNS+NEWUTS", syscall.CLONE_NEWUSER | syscall.CLONE_NEWUTS, syscall.CLONE_NEWNS},
	} {
		t.Run(flags.name, func(t *testing.T) {
			forEachRawBackend(t, func(t *testing.T, b Backend) { testUserNamespace(t, b, flags.clone, flags.unshare) })
		})
	}
}

func testUserNamespace(t *testing.T, b Backend, clone, unshare uintptr) {
	is := is.New(t)
	p := sleeper(t, b, Attr{
		Cloneflags:   clone,
		Unshareflags: unshare,
		UidMappings:  []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}},
		GidMappings:  []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1001, Size: 1}},
		// uid and gid 0 inside (setgroups is denied there).
		Credential: &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true},
	})
	um, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", p.Pid()))
	is.NoErr(err)
	is.Equal(strings.Fields(string(um)), []string{"0", "1000", "1", "1", "100000", "65536"}) // uid_map as asked
	gm, err := os.ReadFile(fmt.Sprintf("/proc/%d/gid_map", p.Pid()))
	is.NoErr(err)
	is.Equal(strings.Fields(string(gm)), []string{"0", "1001", "1"}) // gid_map as asked
	sg, err := os.ReadFile(fmt.Sprintf("/proc/%d/setgroups", p.Pid()))
	is.NoErr(err)
	is.Equal(strings.TrimSpace(string(sg)), "deny")                   // setgroups denied by default
	is.Equal(procStatus(t, p.Pid(), "Uid"), "1000\t1000\t1000\t1000") // the child is uid 0 inside, 1000 outside
	is.Equal(procStatus(t, p.Pid(), "Gid"), "1001\t1001\t1001\t1001") // gid 0 inside, 1001 outside
	is.True(readNS(t, p.Pid(), "user") != readNS(t, os.Getpid(), "user"))
	if (clone|unshare)&syscall.CLONE_NEWUTS != 0 {
		is.True(readNS(t, p.Pid(), "uts") != readNS(t, os.Getpid(), "uts"))  // a new UTS namespace too
		is.Equal(userNSOwner(t, p.Pid(), "uts"), readNS(t, p.Pid(), "user")) // owned by the new user namespace
	}
	if (clone|unshare)&syscall.CLONE_NEWNS != 0 {
		is.True(readNS(t, p.Pid(), "mnt") != readNS(t, os.Getpid(), "mnt")) // a new mount namespace
	}

	q := sleeper(t, b, Attr{
		Cloneflags: clone, Unshareflags: unshare,
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}, GidMappingsEnableSetgroups: true,
	})
	sg, err = os.ReadFile(fmt.Sprintf("/proc/%d/setgroups", q.Pid()))
	is.NoErr(err)
	is.Equal(strings.TrimSpace(string(sg)), "allow") // GidMappingsEnableSetgroups
	um, err = os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", q.Pid()))
	is.NoErr(err)
	is.Equal(strings.TrimSpace(string(um)), "") // no UidMappings: no uid_map written
}

// userNSOwner is the user namespace that owns process pid's namespace ns
// (NS_GET_USERNS), as /proc/PID/ns/user names it.
func userNSOwner(t *testing.T, pid int, ns string) string {
	t.Helper()
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	const nsGetUserns = 0xb701 // _IO(0xb7, 0x1), linux/nsfs.h
	owner, err := unix.IoctlRetInt(fd, nsGetUserns)
	if err != nil {
		t.Fatalf("ioctl(NS_GET_USERNS): %v", err)
	}
	defer unix.Close(owner)
	s, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", owner))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAttrUnshareUserNoMaps: a user namespace without maps, unshared in
// the child (the vfork path), on both backends.
func TestAttrUnshareUserNoMaps(t *testing.T) {
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		p := sleeper(t, b, Attr{Unshareflags: syscall.CLONE_NEWUSER})
		is.True(readNS(t, p.Pid(), "user") != readNS(t, os.Getpid(), "user")) // a new user namespace
		um, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", p.Pid()))
		is.NoErr(err)
		is.Equal(strings.TrimSpace(string(um)), "") // with no map
	})
}

// TestAttrUserNamespaceMapError: a map the kernel refuses fails the
// parent's write, which is the error returned, named with its file; the
// waiting child is killed and reaped, and no descriptor is left.
func TestAttrUserNamespaceMapError(t *testing.T) {
	needRoot(t)
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		for _, c := range []struct {
			name string
			attr Attr
			file string
		}{
			// Two overlapping ranges: the kernel refuses the map.
			{"uid_map", Attr{Cloneflags: syscall.CLONE_NEWUSER,
				UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1000, Size: 10}, {ContainerID: 5, HostID: 2000, Size: 1}}}, "/uid_map"},
			// The uid map is written; the gid map is refused after it.
			{"gid_map", Attr{Unshareflags: syscall.CLONE_NEWUSER,
				UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1000, Size: 1}},
				GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1000, Size: 2}, {ContainerID: 1, HostID: 3000, Size: 1}}}, "/gid_map"},
		} {
			t.Run(c.name, func(t *testing.T) {
				is := is.New(t)
				before := openFds()
				c.attr.Backend = b
				p, err := Spawn("/bin/sleep", []string{"sleep", "60"}, &c.attr)
				if p != nil {
					endOnCleanup(t, p) // a spawn that wrongly succeeded leaves no sleeper behind
				}
				is.True(p == nil) // no process
				var pe *os.PathError
				is.True(errors.As(err, &pe))                // the parent's write failed
				is.Equal(pe.Op, "write")                    // the write
				is.True(strings.HasSuffix(pe.Path, c.file)) // named with its file
				is.True(errors.Is(err, syscall.EINVAL))     // the kernel's errno
				is.True(noChild())                          // the child is killed and reaped
				is.NoErr(checkLeaks(before))                // no child, no descriptor left
			})
		}
	})
}

func init() {
	// userns-killed: a seccomp filter kills any process that calls
	// unshare; a ForkNP child asked for a user namespace with maps dies
	// there, before its handshake, without a word. Exit 0 if the spawn
	// failed with the handshake's step named, the child reaped.
	registerHelper("userns-killed", func([]string) int {
		if err := filterSyscall(unix.SYS_UNSHARE, unix.SECCOMP_RET_KILL_PROCESS); err != nil {
			fmt.Println("skip: installing a seccomp filter:", err)
			return 3
		}
		_, err := failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: ForkNP, Cloneflags: syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1000, Size: 1}}}))
		var pe *os.PathError
		if !errors.As(err, &pe) || pe.Op != "read(user namespace maps)" || !errors.Is(err, syscall.ESRCH) {
			fmt.Println("want read(user namespace maps) ESRCH, got", err)
			return 1
		}
		if !noChild() {
			fmt.Println("the killed child is left unreaped")
			return 1
		}
		return 0
	})
}

// TestAttrUserNamespaceChildKilled: a ForkNP child that dies before it
// reaches its user namespace handshake (killed in its unshare) fails the
// spawn, naming the handshake, with the child reaped.
func TestAttrUserNamespaceChildKilled(t *testing.T) {
	if Available(ForkNP) != nil {
		t.Skipf("ForkNP: %v", Available(ForkNP))
	}
	runFreshHelper(t, "userns-killed")
}

// TestAttrUserNamespaceStepBefore: a ForkNP child whose step fails before
// its user namespace handshake reports that step, as any other failed
// step, and is reaped; so does one that fails in its unshare.
func TestAttrUserNamespaceStepBefore(t *testing.T) {
	needRoot(t)
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		before := openFds()
		maps := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1000, Size: 1}}
		// setpgid into a group that does not exist: EPERM, before the
		// namespace and its maps.
		_, err := failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: b, Setpgid: true, Pgid: 1 << 22,
			Cloneflags: syscall.CLONE_NEWUSER, UidMappings: maps}))
		var pe *os.PathError
		is.True(errors.As(err, &pe)) // a step error
		is.Equal(pe.Op, "setpgid")   // named
		is.True(errors.Is(err, syscall.EPERM))
		// A user and a network namespace unshared together: the network
		// namespace is made in (owned by) the new user namespace, before
		// the maps, as with clone.
		p := sleeper(t, b, Attr{Unshareflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET, UidMappings: maps})
		is.True(readNS(t, p.Pid(), "net") != readNS(t, os.Getpid(), "net"))  // unshared with the user namespace
		is.Equal(userNSOwner(t, p.Pid(), "net"), readNS(t, p.Pid(), "user")) // and owned by it
		p.Kill()
		mustWait(t, p)
		p.Release()
		is.NoErr(checkLeaks(before)) // nothing left
	})
}

func TestAttrPtrace(t *testing.T) {
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		p, err := Spawn("/bin/true", []string{"true"}, &Attr{Backend: b, Ptrace: true})
		is.NoErr(err)      // spawn a tracee
		endOnCleanup(t, p) // if t ends before the detach: SIGKILL ends the stopped tracee too
		var ws unix.WaitStatus
		_, err = unix.Wait4(p.Pid(), &ws, unix.WALL, nil)
		is.NoErr(err)
		is.True(ws.Stopped())                                                      // stopped at its exec
		is.Equal(ws.StopSignal(), syscall.SIGTRAP)                                 // by the exec's SIGTRAP
		is.Equal(procStatus(t, p.Pid(), "TracerPid"), strconv.Itoa(unix.Gettid())) // traced by this thread
		is.NoErr(unix.PtraceDetach(p.Pid()))
		st := mustWait(t, p)
		is.True(st.Success()) // true ran on after the detach
	})
}

func TestPidfdSpawnRejectsSysProcFields(t *testing.T) {
	if Available(PidfdSpawn) != nil {
		t.Skipf("PidfdSpawn: %v", Available(PidfdSpawn))
	}
	is := is.New(t)
	for field, attr := range map[string]Attr{
		"Credential": {Credential: &syscall.Credential{}}, "Chroot": {Chroot: "/"}, "Setctty": {Setctty: true},
		"Noctty": {Noctty: true}, "Foreground": {Foreground: true}, "AmbientCaps": {AmbientCaps: []uintptr{1}},
		"Cloneflags": {Cloneflags: syscall.CLONE_NEWUTS}, "Unshareflags": {Unshareflags: syscall.CLONE_NEWUTS},
		"Ptrace": {Ptrace: true},
	} {
		attr.Backend = PidfdSpawn
		_, err := failed(Spawn("/bin/true", []string{"true"}, &attr))
		is.True(errors.Is(err, ErrNotSupported))      // a forced PidfdSpawn refuses
		is.True(strings.Contains(err.Error(), field)) // naming the field
		attr.Backend = Auto
		p, err := Spawn("/bin/true", []string{"true"}, &attr)
		if err == nil { // (Setctty, Foreground without a terminal fail in the child)
			endOnCleanup(t, p)
			is.Equal(p.Backend(), Clone3) // Auto routes to Clone3
			p.Kill()                      // a Ptrace child stops at its exec
			mustWait(t, p)
		}
	}
}

// checkClonePathRefuses checks that the Clone3 backend, on its clone(2)
// path, refuses attr before any child: ErrNotSupported naming field, clone3
// and why the clone path is taken.
func checkClonePathRefuses(t *testing.T, attr Attr, field string) {
	t.Helper()
	is := is.NewRelaxed(t)
	before := openFds()
	attr.Backend = Clone3
	p, err := failed(Spawn("/bin/true", []string{"true"}, &attr))
	is.True(p == nil)                                    // no child
	is.True(errors.Is(err, ErrNotSupported))             // refused as unsupported, never dropped
	is.True(strings.Contains(fmt.Sprint(err), field))    // naming the field
	is.True(strings.Contains(fmt.Sprint(err), "clone3")) // and clone3
	why, _ := clonePathReason()
	is.True(strings.Contains(fmt.Sprint(err), why)) // and why clone3 is not used
	is.NoErr(checkLeaks(before))                    // no descriptor, no child
	if t.Failed() {
		t.FailNow()
	}
}

func TestAttrSysProcBadInput(t *testing.T) {
	is := is.New(t)
	before := openFds()
	for _, c := range []struct {
		attr Attr
		want error
	}{
		{Attr{UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}}, syscall.EINVAL}, // maps without CLONE_NEWUSER
		{Attr{Cloneflags: syscall.CLONE_NEWUSER, GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 0}}}, syscall.EINVAL},
		{Attr{AmbientCaps: []uintptr{64}}, syscall.EINVAL},
		{Attr{Setsid: true, Setctty: true, Ctty: -1}, syscall.EBADF},
		{Attr{Chroot: "/tmp\x00x"}, syscall.EINVAL},
		{Attr{Cloneflags: syscall.CLONE_NEWUTS | syscall.CLONE_THREAD}, syscall.EINVAL},
	} {
		for _, b := range rawBackends(t) {
			c.attr.Backend = b
			_, err := failed(Spawn("/bin/true", []string{"true"}, &c.attr))
			is.True(errors.Is(err, c.want)) // rejected before any child
		}
	}
	is.NoErr(checkLeaks(before)) // no child, no descriptor
}

// TestAttrClonePath: on the Clone3 backend's clone(2) path (forced here;
// clone3 filtered in the container legs, where the SysProcAttr tests run on
// it too) the SysProcAttr steps run, Cloneflags go into clone's flags, a
// user namespace gets its maps, and CLONE_NEWTIME, which clone(2) cannot
// carry, is refused with ErrNotSupported before any child.
func TestAttrClonePath(t *testing.T) {
	needRoot(t)
	withClonePath(t)
	is := is.New(t)
	checkClonePathRefuses(t, Attr{Cloneflags: unix.CLONE_NEWTIME}, "CLONE_NEWTIME")

	p := sleeper(t, Clone3, Attr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}, Unshareflags: syscall.CLONE_NEWUTS})
	is.Equal(procStatus(t, p.Pid(), "Uid"), "65534\t65534\t65534\t65534") // Credential on the clone path
	is.True(readNS(t, p.Pid(), "uts") != readNS(t, os.Getpid(), "uts"))   // and Unshareflags

	p = sleeper(t, Clone3, Attr{Cloneflags: syscall.CLONE_NEWUTS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUSER})
	for _, ns := range []string{"uts", "pid", "user"} {
		is.True(readNS(t, p.Pid(), ns) != readNS(t, os.Getpid(), ns)) // Cloneflags carried by clone(2)
	}
	is.Equal(procStatus(t, p.Pid(), "NSpid"), strconv.Itoa(p.Pid())+"\t1") // pid 1 of its PID namespace

	p = sleeper(t, Clone3, Attr{Cloneflags: syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1000, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1001, Size: 1}},
		Credential:  &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}})
	um, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", p.Pid()))
	is.NoErr(err)
	is.Equal(strings.Fields(string(um)), []string{"0", "1000", "1"})  // the maps written on the clone path
	is.Equal(procStatus(t, p.Pid(), "Uid"), "1000\t1000\t1000\t1000") // uid 0 inside is 1000 outside
}

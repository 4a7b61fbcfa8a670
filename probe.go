package spawn

import "fmt"

// Feature is one line of a [Probe] report: something this package can use,
// what it needs, and whether this machine and this build have it.
type Feature struct {
	// Name names the feature: "kernel", "glibc", "backend clone3",
	// "clone3", "CLONE_INTO_CGROUP", "CLONE_AUTOREAP", …
	Name string
	// Value is what was found, where the feature has a value: the kernel
	// release, the glibc version, the cgroup2 mount point, the backend
	// Auto picks, the RLIMIT_NOFILE a Cmd child gets.
	Value string
	// Requires names the first kernel or glibc release that has the
	// feature ("Linux 5.7"), or what else it needs.
	Requires string
	// Err is nil when the feature is there and works; otherwise it says
	// why not, and matches ErrNotSupported when the machine or the build
	// lacks it (rather than, say, lacking a permission to try it).
	Err error
}

// String returns "Name: yes", "Name: Value" or "Name: no (needs Requires): Err".
func (f Feature) String() string {
	switch {
	case f.Err != nil && f.Requires != "":
		return fmt.Sprintf("%s: no (needs %s): %v", f.Name, f.Requires, f.Err)
	case f.Err != nil:
		return fmt.Sprintf("%s: no: %v", f.Name, f.Err)
	case f.Value != "":
		return f.Name + ": " + f.Value
	}
	return f.Name + ": yes"
}

// Probe reports what this machine and this build support: the kernel
// release, the running glibc, each Backend, and each kernel feature the
// package uses (pidfd_open and pidfd_send_signal, waitid P_PIDFD, clone3,
// CLONE_INTO_CGROUP, PIDFD_GET_INFO, the Linux 7.1 clone3 flags, cgroup2),
// with the reason for each that is missing, and the RLIMIT_NOFILE a [Cmd]
// child gets. Every probe makes the real call (a clone3 whose flags the
// kernel checks before it refuses a cgroup descriptor that cannot be open,
// so that no child is created; an ioctl on a pidfd of this process) rather
// than trusting version numbers, which seccomp filters and emulators
// misreport: a clone3 filtered to ENOSYS on a kernel that has it is reported
// as filtered, not as an old kernel. The backend and
// clone3 flag probes are the package's own, run once and cached; the rest
// are cheap and run on each call.
func Probe() []Feature { return probe() }

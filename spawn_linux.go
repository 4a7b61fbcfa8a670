//go:build linux

package spawn

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func available(b Backend) error {
	switch b {
	case PidfdSpawn:
		return availablePidfdSpawn()
	case Clone3:
		return availableClone3()
	case ForkNP:
		return availableForkNP()
	}
	return syscall.EINVAL
}

// clone3Only names the first Attr field that only the raw clone3 path can
// carry (the Linux 7.1 lifecycle flags).
func clone3Only(attr *Attr) string {
	switch {
	case attr.AutoKill:
		return "AutoKill"
	case attr.AutoReap:
		return "AutoReap"
	}
	return ""
}

// noPosixSpawn names the first Attr field posix_spawn cannot express.
func noPosixSpawn(attr *Attr) string {
	if f := clone3Only(attr); f != "" {
		return f
	}
	if f := sysProcField(attr); f != "" {
		return f
	}
	switch {
	case len(attr.Rlimits) > 0:
		return "Rlimits"
	case attr.Pdeathsig != 0:
		return "Pdeathsig"
	case attr.NoNewPrivs:
		return "NoNewPrivs"
	case blocksLibcSignal(attr.SigMask):
		return "SigMask with signal 32 or 33"
	case attr.Cgroup != nil && clone3Filtered() != nil:
		// glibc's pidfd_spawn falls back to clone where clone3 is
		// filtered, but not for POSIX_SPAWN_SETCGROUP (EOPNOTSUPP).
		why, _ := clonePathReason()
		return "Cgroup (glibc places a child in a cgroup only with clone3: " + why + ")"
	}
	return ""
}

// blocksLibcSignal reports whether mask holds signal 32 or 33, which glibc
// keeps for itself: its posix_spawn drops them from the child's mask, so a
// pidfd_spawn child would run with them unblocked.
func blocksLibcSignal(mask []syscall.Signal) bool {
	return slices.Contains(mask, 32) || slices.Contains(mask, 33)
}

// choose picks the backend for attr, or says why none can serve it.
func choose(attr *Attr) (Backend, error) {
	b := attr.Backend
	switch b {
	case Auto:
		if noPosixSpawn(attr) == "" && availablePidfdSpawn() == nil {
			b = PidfdSpawn
		} else {
			b = Clone3
		}
	case PidfdSpawn:
		if f := noPosixSpawn(attr); f != "" {
			return b, unsupported(nil, "Attr.%s cannot be expressed by pidfd_spawn; the Clone3 backend carries it", f)
		}
	case ForkNP:
		if f := clone3Only(attr); f != "" {
			return b, unsupported(nil, "Attr.%s needs the Clone3 backend (a clone3 flag of Linux 7.1)", f)
		}
	case Clone3:
	default:
		return b, fmt.Errorf("spawn: unknown backend %d: %w", int(b), syscall.EINVAL)
	}
	if err := available(b); err != nil {
		return b, err
	}
	if b == Clone3 {
		if err := lifecycleSupported(attr); err != nil {
			return b, err
		}
	}
	return b, nil
}

func spawn(path string, argv []string, attr *Attr, search bool) (*Process, error) {
	b, err := choose(attr)
	if err != nil {
		return nil, err
	}
	if search && b != PidfdSpawn {
		// pidfd_spawnp searches in the child, after its chdir; the other
		// backends search here, relative to the same directory.
		file := path
		if path, err = lookPathIn(file, attr.Dir); err != nil {
			return nil, &os.PathError{Op: spawnOp(attr.Backend, true), Path: file, Err: err}
		}
		search = false
	}
	pl, err := buildPlan(path, argv, attr, search)
	if err != nil {
		return nil, &os.PathError{Op: spawnOp(attr.Backend, search), Path: path, Err: err}
	}
	defer pl.done()
	if attr.InheritFDs {
		// Descriptors that other goroutines are creating without
		// O_CLOEXEC (under ForkLock.RLock) must not leak into the child
		// halfway; with InheritFDs=false the child closes them all.
		syscall.ForkLock.Lock()
		defer syscall.ForkLock.Unlock()
	}
	switch b {
	case PidfdSpawn:
		return spawnPidfd(pl)
	case ForkNP:
		return spawnForkNP(pl, nil)
	}
	return spawnClone3(pl)
}

// lookPath finds file in the caller's PATH as execvp does, from this
// process's working directory.
func lookPath(file string) (string, error) { return lookPathIn(file, "") }

// lookPathIn finds file in the caller's PATH as execvp does in a child whose
// working directory is dir (empty: this process's): the first candidate
// that is an executable regular file; EACCES if only non-executable
// candidates exist, ENOENT if none. A relative PATH entry (empty means ".")
// is looked at relative to dir and returned as it is, for an execve made
// after the chdir to dir.
func lookPathIn(file, dir string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	path, ok := os.LookupEnv("PATH")
	if !ok {
		path = "/bin:/usr/bin"
	}
	var err error = syscall.ENOENT
	for _, d := range strings.Split(path, ":") {
		if d == "" {
			d = "."
		}
		cand := d + "/" + file
		check := cand
		if dir != "" && !strings.HasPrefix(d, "/") {
			check = dir + "/" + cand
		}
		var st unix.Stat_t
		if unix.Stat(check, &st) != nil {
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			err = syscall.EACCES
			continue
		}
		if unix.Faccessat(unix.AT_FDCWD, check, unix.X_OK, unix.AT_EACCESS) != nil {
			err = syscall.EACCES
			continue
		}
		return cand, nil
	}
	return "", err
}

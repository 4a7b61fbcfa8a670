//go:build !linux

package spawn

import "os"

func probe() []Feature {
	fs := []Feature{{Name: "kernel", Requires: "Linux 5.4", Err: errOS()}}
	for _, b := range []Backend{PidfdSpawn, Clone3, ForkNP} {
		fs = append(fs, Feature{Name: "backend " + b.String(), Requires: "Linux", Err: Available(b)})
	}
	return fs
}

// nofileForCmd: without Linux no child starts; nothing to restore.
func nofileForCmd(attr *Attr) (Rlimit, bool) { return Rlimit{}, false }

// cmdPipe: os.Pipe where no child starts anyway.
func cmdPipe(parentReads bool) (parent, child *os.File, err error) {
	r, w, err := os.Pipe()
	if parentReads {
		return r, w, err
	}
	return w, r, err
}

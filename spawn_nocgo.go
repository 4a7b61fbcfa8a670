//go:build linux && !cgo

package spawn

func availablePidfdSpawn() error {
	return unsupported(nil, "PidfdSpawn needs cgo and glibc 2.39 (this build has CGO_ENABLED=0)")
}

func availableForkNP() error {
	return unsupported(nil, "ForkNP needs cgo (this build has CGO_ENABLED=0)")
}

func spawnPidfd(pl *plan) (*Process, error) { return nil, availablePidfdSpawn() }

func spawnForkNP(pl *plan, args *ForkArgs) (*Process, error) { return nil, availableForkNP() }

// glibcVersion is the running C library's version; a CGO_ENABLED=0 build
// links none.
func glibcVersion() string { return "" }

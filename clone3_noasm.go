//go:build linux && !amd64 && !arm64

package spawn

import "sync/atomic"

// forceClonePath is the tests' switch to the clone(2) path of the Clone3
// backend, which this architecture does not have.
var forceClonePath atomic.Bool

// The Clone3 trampoline exists for amd64 and arm64 only.

func availableClone3() error {
	return unsupported(nil, "Clone3 has no trampoline for this architecture (amd64 and arm64 only)")
}

func spawnClone3(pl *plan) (*Process, error) { return nil, availableClone3() }

func nnpAtClone(attr *Attr) bool { return false }

func lifecycleSupported(attr *Attr) error {
	if attr.AutoReap || attr.AutoKill {
		return availableClone3()
	}
	return nil
}

func probeAutoReap() error { return availableClone3() }
func probeNNP() error      { return availableClone3() }
func probeAutoKill() error { return availableClone3() }

func useClonePath() bool { return false }

func clone3Report() (string, error) { return "", availableClone3() }

func clone3Why() error { return availableClone3() }

func clonePathReason() (string, error) { return "no clone(2) path on this architecture", nil }

// clone3Filtered is nil: without the trampoline the package cannot probe
// clone3 without creating a child.
func clone3Filtered() error { return nil }

func lifecycleKernel(attr *Attr) error { return lifecycleSupported(attr) }

func conclusive(err error) bool { return true }

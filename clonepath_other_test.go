//go:build linux && !(amd64 || arm64)

package spawn

import (
	"errors"
	"testing"
)

// withClonePath skips: the clone(2) path belongs to the Clone3 trampoline,
// which exists on amd64 and arm64 only.
func withClonePath(t *testing.T) {
	t.Skip("the clone(2) path is the Clone3 trampoline's (amd64, arm64)")
}

// filterSyscall: the seccomp filter program is written for amd64 and arm64.
func filterSyscall(nr, ret uint32) error {
	return errors.New("the test's seccomp filter is for amd64 and arm64")
}

// runFreshHelper skips, as its helpers use filterSyscall.
func runFreshHelper(t *testing.T, name string) {
	t.Skipf("helper %s needs the test's seccomp filter (amd64, arm64)", name)
}

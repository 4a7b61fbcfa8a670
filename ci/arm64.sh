#!/usr/bin/env bash
# ci/arm64.sh [TEST ARGS...]
#
# The linux/arm64 check of the package (the Clone3 trampoline
# clone3_linux_arm64.s above all):
#
#   1. GOARCH=arm64 CGO_ENABLED=0 go vet ./...   (asmdecl checks the trampoline)
#   2. GOARCH=arm64 CGO_ENABLED=0 go test -c     (the root package's tests)
#   3. on an arm64 host: runs the test binary natively;
#      elsewhere: runs it under qemu-aarch64 (user mode) when a probe finds
#      that the Clone3 backend works there, else (Debian 12's qemu-user 7.2
#      has no clone3, refuses clone's CLONE_PIDFD and runs a vfork child as
#      a fork) boots it as the init of an arm64 Debian kernel under
#      qemu-system-aarch64 with ci/kernel.sh, which picks the guest's
#      architecture from the binary: -machine virt -cpu max, the newest
#      cloud-arm64 kernel >= 7.1 of the kernel suite, busybox-static:arm64,
#      software emulation (see ci/kernel.sh). The whole suite takes about a
#      minute there.
#
# TEST ARGS go to the test binary (default: -test.v). In the guest, with
# -test.v, the run must also show that the Clone3 backend was there and ran:
# a "backend clone3 not available" line, or no passed clone3 subtest, is a
# failure (exit 1), so TEST ARGS that select no backend subtest need
# SPAWN_ARM64_CLONE3_CHECK=0.
#
# qemu-user-static (qemu-user as a fallback) is installed with apt-get,
# without recommends, when no qemu-aarch64 is found, and ci/kernel.sh installs
# qemu-system-arm when qemu-system-aarch64 is missing: run as root on a fresh
# Debian machine. Nothing else on the system is changed (ci/kernel.sh
# downloads with a private apt state in its cache), and nothing is
# written to the repository: build output goes to a temporary directory
# that is removed on exit, so the script can be run again and again.
#
# The probe is a small program, built against this checkout through a
# temporary go.work, that uses the package's own Clone3 backend:
#   - Available(Clone3): the Clone3 backend must be usable, through clone3
#     or, where clone3 answers ENOSYS (qemu-user 7.2, Debian 12's: "Unknown
#     syscall 435"), through its clone(2) path;
#   - a Spawn of a missing file must fail with "execve ...: ENOENT": the
#     child's report in memory shared through CLONE_VM|CLONE_VFORK must reach
#     the parent. qemu-user fails here: it emulates CLONE_VFORK|CLONE_VM as a
#     plain fork, and 7.2 refuses clone's CLONE_PIDFD outright (EINVAL; 8.0
#     has it), so the clone(2) path cannot run under it either;
#   - the child must be able to execute an arm64 program (the probe itself):
#     under emulation that takes a binfmt_misc handler for aarch64 ELF files,
#     and the tests re-execute their own binary as helper programs.
#
# Exit status: 0 when the tests passed, or when they could not run because
# no emulator could be set up (see the message); the test binary's status
# when they failed; 124 when they timed out; 125 when the guest gave no
# verdict (kernel panic, crash, qemu failure); 1 when vet, the build or the
# probe failed (a probe crash is a failure: it runs the trampoline), or the
# guest's run did not show the Clone3 backend at work; 2 on bad setup.
#
# Environment:
#   SPAWN_ARM64_REQUIRE=1   make "the tests cannot run here" a failure (exit 3)
#   SPAWN_ARM64_TIMEOUT     test run time limit, timeout(1) syntax (600)
#   SPAWN_ARM64_CLONE3_CHECK=0  skip the guest's Clone3 check (see above)
#   SPAWN_KERNEL_*          passed on to ci/kernel.sh (the kernel, the cache,
#                           the mirror, the number of guest CPUs, ...)

set -uo pipefail

prog=ci/arm64.sh
log() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { log "$1"; exit "${2:-2}"; }

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd) || exit 2
root=$(dirname -- "$here")
cd -- "$root" || exit 2
command -v go >/dev/null || die "go is not installed"

timeout_spec=${SPAWN_ARM64_TIMEOUT:-600}
[[ $timeout_spec =~ ^[0-9]+(\.[0-9]+)?[smhd]?$ ]] && [[ ! $timeout_spec =~ ^0+(\.0*)?[smhd]?$ ]] ||
	die "SPAWN_ARM64_TIMEOUT=$timeout_spec: want a positive duration like 600 or 10m"

test_args=("$@")
[[ ${#test_args[@]} -gt 0 ]] || test_args=(-test.v)

work=$(mktemp -d "${TMPDIR:-/tmp}/spawn-arm64.XXXXXX") || die "mktemp failed"
trap 'rm -rf -- "$work"' EXIT

# --- vet and build -----------------------------------------------------------

export GOOS=linux GOARCH=arm64 CGO_ENABLED=0

log "go vet ./... (linux/arm64)"
go vet ./... || die "go vet failed for linux/arm64" 1

bin=$work/spawn-arm64.test
log "go test -c (linux/arm64)"
go test -c -o "$bin" . || die "building the arm64 test binary failed" 1
[[ -x $bin ]] || die "the package has no test files: nothing to run" 1

# The probe: a main package in a throw-away module, beside this checkout in a
# temporary workspace (no go.mod or go.sum of the repository is touched).
goversion=$(go mod edit -json | sed -n 's/^[[:space:]]*"Go": "\(.*\)",\{0,1\}$/\1/p')
[[ -n $goversion ]] || die "cannot read the go version from go.mod"
mkdir -p "$work/probe" || exit 2
printf 'module spawnarm64probe\n\ngo %s\n' "$goversion" >"$work/probe/go.mod"
printf 'go %s\n\nuse (\n\t%s\n\t%s\n)\n' "$goversion" "$root" "$work/probe" >"$work/go.work"
cat >"$work/probe/main.go" <<'EOF'
// The probe of ci/arm64.sh. Exit status: 0 clone3 works; 3 clone3
// unavailable; 4 the child's report does not reach the parent; 5 the child
// cannot execute an arm64 program. Anything else is a failure.
package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/pidfd/spawn"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "probe-child" {
		os.Exit(42)
	}
	if err := spawn.Available(spawn.Clone3); err != nil {
		hint := ""
		if errors.Is(err, syscall.ENOSYS) {
			hint = " (clone3 answered ENOSYS and clone(2) does not serve: an old kernel, or an emulator;" +
				" or an old kernel, or a seccomp filter)"
		}
		fmt.Printf("the Clone3 backend is unavailable: %v%s\n", err, hint)
		os.Exit(3)
	}
	const missing = "/nonexistent/spawn-arm64-probe"
	p, err := spawn.Spawn(missing, []string{"probe"}, &spawn.Attr{Backend: spawn.Clone3})
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Op != "execve" || !errors.Is(err, syscall.ENOENT) {
		// p, if any, is left alone: its child is gone or will be when
		// the probe exits, and its handle may be bogus.
		_ = p
		fmt.Printf("the Clone3 backend is available, but a failed execve came back as %v, not as execve %s: ENOENT: "+
			"the child's report does not reach the parent (qemu-user runs a CLONE_VM|CLONE_VFORK child as a fork, "+
			"and qemu 7.2 refuses clone's CLONE_PIDFD with EINVAL)\n", err, missing)
		os.Exit(4)
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Printf("os.Executable: %v\n", err)
		os.Exit(1)
	}
	p, err = spawn.Spawn(exe, []string{"probe", "probe-child"}, &spawn.Attr{Backend: spawn.Clone3})
	if err != nil {
		fmt.Printf("the child cannot execute an arm64 program (%v): no binfmt_misc handler for aarch64?\n", err)
		os.Exit(5)
	}
	st, err := p.Wait()
	p.Release()
	if err != nil || st.ExitCode() != 42 {
		fmt.Printf("the re-executed probe ended with %v (error %v), want exit status 42\n", st, err)
		os.Exit(5)
	}
	fmt.Println("clone3 works: CLONE_VM|CLONE_VFORK child, step report, execve of an arm64 program")
}
EOF
probe=$work/probe.bin
log "building the clone3 probe (linux/arm64)"
(cd "$work/probe" && GOWORK=$work/go.work go build -o "$probe" .) || die "building the probe failed" 1

# --- native arm64 --------------------------------------------------------------

case $(uname -m) in
aarch64 | arm64)
	log "arm64 host: running the tests natively"
	"$probe" >&2 # informative only: the tests judge for themselves
	timeout -- "$timeout_spec" "$bin" "${test_args[@]}"
	rc=$?
	[[ $rc -eq 124 ]] && log "the tests timed out after $timeout_spec"
	exit "$rc"
	;;
esac

# --- qemu-user -------------------------------------------------------------------

find_qemu() {
	local q
	for q in qemu-aarch64-static qemu-aarch64; do
		command -v -- "$q" && return 0
	done
	return 1
}

apt_install() {
	local cmd=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300
		install -y --no-install-recommends "$@")
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || return 1
		cmd=(sudo -n "${cmd[@]}")
	fi
	"${cmd[@]}" >&2 && return 0
	if [[ $(id -u) -eq 0 ]]; then
		apt-get -o DPkg::Lock::Timeout=300 update >&2
	else
		sudo -n apt-get -o DPkg::Lock::Timeout=300 update >&2
	fi
	"${cmd[@]}" >&2
}

not_here() {
	log "NOT RUNNING the arm64 tests: $1"
	log "the arm64 vet and build passed; run the tests on an arm64 machine"
	if [[ ${SPAWN_ARM64_REQUIRE:-0} == 1 ]]; then
		log "SPAWN_ARM64_REQUIRE=1: failing"
		exit 3
	fi
	exit 0
}

# --- qemu-system-aarch64 -----------------------------------------------------

# run_system boots the test binary as the init of an arm64 kernel
# (ci/kernel.sh) and judges the run; it does not return.
run_system() {
	log "$1: booting linux/arm64 under qemu-system-aarch64 with the tests as its init (ci/kernel.sh)"
	local out=$work/guest.out rc
	# ci/kernel.sh builds its initramfs writer for this host: no GOOS/GOARCH.
	env -u GOOS -u GOARCH -u CGO_ENABLED SPAWN_KERNEL_TIMEOUT="$timeout_spec" \
		"$here/kernel.sh" "$bin" "${test_args[@]}" | tee "$out"
	rc=${PIPESTATUS[0]}
	case $rc in
	0) ;;
	126) not_here "ci/kernel.sh could not set up the arm64 guest (qemu-system-aarch64, the kernel or busybox: see its messages above)" ;;
	124) die "FAIL: the arm64 guest timed out after $timeout_spec" 124 ;;
	125) die "FAIL: no verdict from the arm64 guest (kernel panic, crash or qemu failure: see above)" 125 ;;
	*)
		log "FAIL: the arm64 tests failed in the guest with status $rc:"
		grep -E -- '^[[:space:]]*--- FAIL' "$out" | sed 's/^/  /' >&2
		exit "$rc"
		;;
	esac
	# Passed: make sure that it was the trampoline that passed.
	local verbose=
	for a in "${test_args[@]}"; do [[ $a =~ ^--?test\.v(=true)?$ ]] && verbose=1; done
	local ran
	ran=$(grep -cE -- '^[[:space:]]*--- PASS: Test[^ ]*/clone3 ' "$out")
	if [[ ${SPAWN_ARM64_CLONE3_CHECK:-1} != 0 && -n $verbose ]]; then
		if grep -q 'backend clone3 not available' "$out"; then
			die "FAIL: the Clone3 backend was not available in the arm64 guest: $(grep -m1 'backend clone3 not available' "$out" | sed 's/^[[:space:]]*//')" 1
		fi
		((ran > 0)) || die "FAIL: the tests passed, but no clone3 subtest ran (SPAWN_ARM64_CLONE3_CHECK=0 if that is meant)" 1
	fi
	log "PASS: the arm64 tests passed under qemu-system-aarch64${verbose:+ ($ran clone3 subtests passed)}"
	exit 0
}

if ! qemu=$(find_qemu); then
	if ! command -v apt-get >/dev/null; then
		run_system "no qemu-aarch64, and no apt-get to install qemu-user-static"
	fi
	log "installing qemu-user-static"
	apt_install qemu-user-static || { log "qemu-user-static failed; trying qemu-user"; apt_install qemu-user; }
	qemu=$(find_qemu) || run_system "qemu-aarch64 still missing after installing qemu-user-static/qemu-user"
fi
log "emulator: $("$qemu" --version | head -n 1) ($qemu)"

probe_out=$(timeout 120 "$qemu" "$probe" 2>&1)
probe_rc=$?
case $probe_rc in
0)
	log "probe: $probe_out"
	;;
3 | 4 | 5)
	log "the tests cannot run under $qemu: $probe_out"
	run_system "qemu-user cannot run them"
	;;
*)
	printf '%s\n' "$probe_out" >&2
	die "the clone3 probe failed under $qemu with status $probe_rc (a crash of the trampoline?)" 1
	;;
esac

log "running the arm64 tests under $qemu"
timeout -- "$timeout_spec" "$qemu" "$bin" "${test_args[@]}"
rc=$?
[[ $rc -eq 124 ]] && log "the tests timed out after $timeout_spec"
exit "$rc"

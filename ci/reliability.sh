#!/usr/bin/env bash
# reliability.sh: spawn under load, faults and hostile input.
#
#   ci/reliability.sh            everything below; exits non-zero on any failure
#
# Legs:
#   soak       TestSoak (soak_test.go) on the default build (Clone3, ForkNP, Auto)
#              for $SOAK, and under the glibc matrix ($GLIBC_SUITE: pidfd_spawn
#              bound) for $SOAK_GLIBC; the test itself fails on any unexpected
#              error, hang, descriptor, zombie or thread left, or unbounded RSS
#   faults     fault injection, security defaults, PID reuse and the FuzzAttr
#              seed corpus: default build, CGO_ENABLED=0, glibc matrix, -race;
#              and a 10 s soak under -race
#   fuzz       go test -fuzz FuzzAttr for $FUZZTIME (default build)
#   asan       the cgo paths (ForkNP; pidfd_spawn under the glibc matrix) under
#              go test -asan (gcc's libasan)
#   msan       the same under -msan, with clang and its msan runtime (Debian's
#              clang and libclang-rt-dev, installed if missing unless
#              RELIABILITY_MSAN=0; skipped with the reason if they cannot be had)
#
# Knobs (environment): SOAK (60s), SOAK_GLIBC (30s), FUZZTIME (60s),
# GLIBC_SUITE (trixie), RELIABILITY_MSAN (1).
#
# Runs on a fresh machine as root; Go in /usr/local/go/bin. Needs network
# only for what is missing: gcc (apt), the glibc matrix's libc6 (ci/with-glibc),
# the module's dependencies (the Go module proxy).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

export PATH=/usr/local/go/bin:$PATH:$HOME/go/bin
SOAK=${SOAK:-60s}
SOAK_GLIBC=${SOAK_GLIBC:-30s}
FUZZTIME=${FUZZTIME:-60s}
GLIBC_SUITE=${GLIBC_SUITE:-trixie}
RELIABILITY_MSAN=${RELIABILITY_MSAN:-1}

log() { printf '\n=== %s\n' "$*"; }

# --- tools -----------------------------------------------------------------
# sanitizer_works CC FLAG: CC builds and runs a program with -fsanitize=FLAG.
sanitizer_works() {
	local d rc
	d=$(mktemp -d)
	printf 'int main(void){return 0;}\n' >"$d/t.c"
	"$1" -fsanitize="$2" "$d/t.c" -o "$d/t" >/dev/null 2>&1 && "$d/t"
	rc=$?
	rm -rf "$d"
	return $rc
}
apt_updated=0
apt_install() {
	log "apt-get install $*"
	if [ $apt_updated = 0 ]; then
		apt-get update -qq || return 1
		apt_updated=1
	fi
	apt-get install -y -qq --no-install-recommends "$@"
}
command -v gcc >/dev/null || apt_install gcc libc6-dev
# gcc's AddressSanitizer runtime (libasan) comes with gcc on Debian.
sanitizer_works gcc address || apt_install libasan8
# MemorySanitizer needs clang and compiler-rt's msan runtime (about 20 MB).
if [ "$RELIABILITY_MSAN" = 1 ] && ! sanitizer_works clang memory; then
	apt_install clang libclang-rt-dev || echo "msan: could not install clang and libclang-rt-dev"
fi
if ! go version | grep -Eq 'go1\.(2[4-9]|[3-9][0-9])'; then
	export GOTOOLCHAIN=go1.24.13 # go.mod needs Go 1.24
fi
go version
go mod download

passed=0
failed=0
skipped=0
legs=()
leg() { # leg NAME CMD... : run one leg, count it
	local name=$1
	shift
	log "$name: $*"
	local start=$SECONDS
	if "$@"; then
		passed=$((passed + 1))
		legs+=("ok   $name ($((SECONDS - start))s)")
	else
		failed=$((failed + 1))
		legs+=("FAIL $name ($((SECONDS - start))s)")
	fi
}
skip() { # skip NAME REASON
	skipped=$((skipped + 1))
	legs+=("skip $1: $2")
	log "skip $1: $2"
}

glibc=(-exec "$root/ci/with-glibc $GLIBC_SUITE")
# verbose CMD...: CMD (a go test -v) without the === RUN noise; fails as CMD does.
verbose() { "$@" 2>&1 | grep -vE '^=== (RUN|PAUSE|CONT)|^    --- PASS: FuzzAttr/'; }
# TestGlibcVersion and TestAvailablePidfdSpawn (cgo builds) fail a glibc
# matrix leg whose loader fell back to the system's glibc or did not bind
# pidfd_spawn: without them such a leg would pass and prove nothing.
matrix='TestGlibcVersion|TestAvailablePidfdSpawn'
faults="^(TestFault|TestSecurity|TestPidReuse|TestSpawnEMFILE|TestCgroupRemovedAfterOpen|TestSpawnClosedFile|TestReleaseThenUse|FuzzAttr|$matrix)"
# What the cgo backends run under the sanitizers: every behaviour test over
# every backend, the faults, the seeds, ForkExec/ForkCall.
cgo_paths="^(TestSpawn|TestFork|TestFault|TestSecurity|TestPidReuse|TestState|TestSignal|TestKill|TestWait|TestCgroup|FuzzAttr|$matrix)"

# The glibc matrix: fetched (or cached) by ci/with-glibc.
glibc_ok() {
	local v
	v=$(ci/with-glibc --print-version "$GLIBC_SUITE") || return 1
	echo "glibc matrix: $GLIBC_SUITE has glibc $v"
}

# --- soak ------------------------------------------------------------------
leg "soak $SOAK (default build)" verbose go test -count=1 -v -run '^TestSoak$' -soak="$SOAK" -timeout 30m .
if glibc_ok; then
	leg "soak $SOAK_GLIBC (glibc $GLIBC_SUITE: pidfd_spawn)" verbose go test -count=1 -v -run "^(TestSoak|$matrix)\$" -soak="$SOAK_GLIBC" -timeout 30m "${glibc[@]}" .
else
	failed=$((failed + 1))
	legs+=("FAIL glibc matrix $GLIBC_SUITE unavailable")
fi

# --- faults, security, seeds -----------------------------------------------
leg "faults (default build)" verbose go test -count=1 -v -run "$faults" .
leg "faults (CGO_ENABLED=0)" env CGO_ENABLED=0 go test -count=1 -run "$faults" .
leg "faults (glibc $GLIBC_SUITE)" verbose go test -count=1 -v -run "$faults" "${glibc[@]}" .
leg "faults (-race)" go test -race -count=1 -run "$faults" .
leg "soak 10s (-race)" verbose go test -race -count=1 -v -run '^TestSoak$' -soak=10s -timeout 30m .

# --- fuzz ------------------------------------------------------------------
# The interesting inputs it finds go to the build cache; a failure writes its
# input to testdata/fuzz/FuzzAttr, to be kept as a seed once fixed.
leg "fuzz FuzzAttr $FUZZTIME" go test -count=1 -run '^$' -fuzz '^FuzzAttr$' -fuzztime "$FUZZTIME" .

# --- sanitizers ------------------------------------------------------------
# TestForkNPNative preloads a stand-in fork_np library into a helper; a
# sanitizer runtime refuses to start unless it comes first in the library
# list, so that test cannot run in a sanitized build. -short: the stress
# tests' smaller sizes (a fork copies the sanitizers' shadow page tables;
# under msan 2000 forks take minutes).
san_skip='^TestForkNPNative$'
san=(-count=1 -short -run "$cgo_paths" -skip "$san_skip" -timeout 20m)
# Under the glibc matrix only what reaches pidfd_spawn: the pidfd_spawn
# subtests of the behaviour tests (and seeds), and the PidfdSpawn tests.
# Clone3 and ForkNP ran in the legs before, and each fork of a sanitized
# process is slow.
san_glibc=(-count=1 -short -timeout 20m "${glibc[@]}"
	-run "^(TestSpawn|TestFault|TestSecurity|TestPidReuse|TestState|TestSignal|TestKill|TestWait|TestCgroup|FuzzAttr|TestPidfd|TestAutoPicks|TestLibcPidfdGetpid|TestShimAgreesWithPlan|$matrix)/^pidfd_spawn")
if sanitizer_works gcc address; then
	leg "asan (system glibc: clone3, fork_np)" go test -asan "${san[@]}" .
	leg "asan (glibc $GLIBC_SUITE: pidfd_spawn)" go test -asan "${san_glibc[@]}" .
else
	failed=$((failed + 1))
	legs+=("FAIL asan: gcc -fsanitize=address does not work here (libasan missing)")
fi

if [ "$RELIABILITY_MSAN" != 1 ]; then
	skip msan "RELIABILITY_MSAN=$RELIABILITY_MSAN"
elif sanitizer_works clang memory; then
	leg "msan (system glibc: clone3, fork_np)" env CC=clang CXX=clang++ go test -msan "${san[@]}" .
	leg "msan (glibc $GLIBC_SUITE: pidfd_spawn)" env CC=clang CXX=clang++ go test -msan "${san_glibc[@]}" .
else
	skip msan "needs clang with its msan runtime (Debian: clang, libclang-rt-dev), which could not be installed"
fi

# --- summary ---------------------------------------------------------------
log summary
printf '%s\n' "${legs[@]}"
echo "reliability: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

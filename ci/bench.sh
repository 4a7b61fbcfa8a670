#!/usr/bin/env bash
# ci/bench.sh: spawn+wait benchmarks of this package against C reference loops
# and Go's own ways to start a process, interleaved, with one table of medians
# and ratios.
#
#   ci/bench.sh [-short] [-rt] [-blocks N] [-benchtime SECONDS] [-heap SIZES] [-many NS] [OUT.md]
#
# It builds what it needs on a fresh machine (installing gcc with apt-get if
# missing): the tiny static program (ci/bench/tiny.c), the C loops
# (ci/bench/loops.c: vfork+execve, raw clone3(CLONE_VM|CLONE_VFORK) with its
# own stack, posix_spawn, pidfd_spawn, fork+execve), the test binary and the
# report tool (ci/bench/report, a module of its own). Then it runs blocks; a
# block runs, group by group (tiny program, /bin/true, parent heaps, two
# spawners), the C loops (A) and the Go benchmarks of bench_test.go (B) they
# are compared with, back to back: A B in odd blocks, B A in even ones.
# Ratios are taken within a block and their median over the blocks is
# reported, with the range; numbers from different runs are not compared.
# Each block also runs BenchmarkBackendsPaired (Spawn+Wait on Clone3 and
# PidfdSpawn against os/exec, interleaved round by round inside the
# benchmark), BenchmarkWaitPaired (Wait against a blocking waitid,
# interleaved round by round inside the benchmark), BenchmarkCmdTypes (Cmd
# with os/exec's types against Spawn+Wait and os/exec, call by call) and
# BenchmarkUserNamespace (a user namespace with maps, spawn against os/exec).
# After the blocks, the heavy cases run once: BenchmarkManyChildren (N children of
# ci/bench/hold.c waited from a goroutine each, spawn against os/exec, each
# case in a fresh process; its lines join the last block's).
#
# The C loops and the test binary run under the glibc of Debian
# $SPAWN_BENCH_GLIBC (default trixie: 2.41, which has pidfd_spawn) through
# ci/with-glibc; SPAWN_BENCH_GLIBC=none uses the system's glibc (then
# PidfdSpawn is measured only where it has pidfd_spawn). posix_spawn is also
# run under the system's glibc when that differs.
#
# The table goes to stdout and to OUT.md (default ci/bench-results.md), with
# a chart of µs/spawn against parent heap size beside it (OUT.svg). The Go
# benchmarks' raw output goes to OUT.txt, and benchstat's comparison of
# each backend with os/exec to stdout and the end of OUT.md.
#
#   -short       3 blocks of 0.25 s per measurement, heap 2GiB: under 2 minutes
#                on a 2-vCPU VM, builds included (what .ci/run can afford);
#                also SPAWN_BENCH_SHORT=1
#   -blocks N    blocks (default 5)
#   -benchtime S seconds per measurement (default 1)
#   -heap SIZES  parent heap sizes, comma-separated (default 512MiB,2GiB)
#   -many NS     children counts of the many-children cases (default
#                1000,10000; -short: 1000; 0: none)
#   -rt          run every measured program under SCHED_FIFO (chrt -f 10; root):
#                on a shared machine, other processes then cannot preempt the
#                spawning loops and their children; also SPAWN_BENCH_RT=1
#
# Run it on a quiet machine (the load average is printed with the table), or
# with -rt where that is not to be had.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH=/usr/local/go/bin:$PATH:$HOME/go/bin

short=${SPAWN_BENCH_SHORT:-0} rt=${SPAWN_BENCH_RT:-0}
for a in "$@"; do [ "$a" = -short ] && short=1; done
blocks=5 benchtime=1 heaps=512MiB,2GiB many=1000,10000 out=ci/bench-results.md
[ "$short" = 1 ] && blocks=3 benchtime=0.25 heaps=2GiB many=1000
args=("$@")
while [ $# -gt 0 ]; do
	case $1 in
	-short) ;;
	-rt) rt=1 ;;
	-blocks) blocks=$2; shift ;;
	-benchtime) benchtime=$2; shift ;;
	-heap) heaps=$2; shift ;;
	-many) many=$2; shift ;;
	-h | -help | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
	-*) echo "bench.sh: unknown flag $1" >&2; exit 2 ;;
	*) out=$1 ;;
	esac
	shift
done
svg=${out%.md}.svg
suite=${SPAWN_BENCH_GLIBC:-trixie}
procs=$(nproc)
export GOMAXPROCS=$procs
start=$SECONDS
log() { printf 'bench.sh: %s\n' "$*" >&2; }

# --- tools -------------------------------------------------------------------
if ! command -v gcc >/dev/null; then
	log "apt-get install gcc libc6-dev"
	apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev >&2
fi
# The report's module needs Go 1.26 (benchstat, golang.org/x/perf); the
# package itself, 1.24.
if ! go version 2>/dev/null | grep -Eq 'go1\.(2[6-9]|[3-9][0-9])'; then
	export GOTOOLCHAIN=go1.26.8
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- build ---------------------------------------------------------------------
log "building in $work"
gcc -static -nostdlib -O2 -o "$work/tiny" ci/bench/tiny.c
gcc -static -nostdlib -O2 -o "$work/hold" ci/bench/hold.c
gcc -O2 -Wall -o "$work/loops" ci/bench/loops.c -ldl -lpthread
go test -c -o "$work/spawn.test" .
go -C ci/bench/report build -o "$work/report" .

# prio: the prefix of every measured command.
prio=()
if [ "$rt" = 1 ]; then
	command -v chrt >/dev/null || { echo "bench.sh: -rt needs chrt (util-linux)" >&2; exit 2; }
	prio=(chrt -f 10)
fi
run=()
sysglibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
glibc=$sysglibc
if [ "$suite" != none ]; then
	if glibc=$(ci/with-glibc --print-version "$suite"); then
		run=("$root/ci/with-glibc" "$suite")
	else
		log "no glibc for $suite: running on the system's glibc $sysglibc"
		glibc=$sysglibc suite=none
	fi
fi
if ! "${run[@]}" "$work/loops" pidfd_spawn "$work/tiny" -d 0.01 >/dev/null 2>&1; then
	log "glibc $glibc has no pidfd_spawn: the PidfdSpawn rows stay empty"
fi

# --- the blocks ----------------------------------------------------------------
IFS=, read -r -a sizes <<<"$heaps"
mib() { # 2GiB -> 2048
	case $1 in
	0) echo 0 ;;
	*GiB) echo $((${1%GiB} * 1024)) ;;
	*MiB) echo "${1%MiB}" ;;
	*) echo "bench.sh: heap size $1: use MiB or GiB" >&2; exit 2 ;;
	esac
}
for s in "${sizes[@]}"; do mib "$s" >/dev/null; done
cloop() { # cloop NAME MODE PROG [ARGS...]: one C loop; a missing mode leaves no line
	local name=$1 mode=$2 prog=$3
	shift 3
	"${prio[@]}" "${run[@]}" "$work/loops" "$mode" "$prog" -name "$name" -d "$benchtime" "$@" 2>/dev/null || true
}
c_serial() { # c_serial PROG: the C loops spawning PROG (tiny or true)
	local prog=$1 path=$work/tiny mode
	[ "$prog" = true ] && path=/bin/true
	for mode in vfork clone3 posix_spawn pidfd_spawn fork; do
		cloop "C/$prog/$mode" $mode "$path"
	done
	if [ "$suite" != none ]; then
		"${prio[@]}" "$work/loops" posix_spawn "$path" -name "C/$prog/posix_spawn@system" -d "$benchtime" || true
	fi
}
c_heap() { # the C loops from a parent holding each heap size (0: the small parent)
	local s mode
	for s in 0 "${sizes[@]}"; do
		for mode in vfork clone3 posix_spawn pidfd_spawn fork; do
			cloop "CHeap/$s/tiny/$mode" $mode "$work/tiny" -heap "$(mib "$s")"
		done
	done
}
c_parallel() {
	local mode
	for mode in clone3 pidfd_spawn; do
		cloop "CParallel/tiny/$mode/threads=1" $mode "$work/tiny" -t 1
		cloop "CParallel/tiny/$mode/threads=$procs" $mode "$work/tiny" -t "$procs"
	done
}
gobench() { # gobench PATTERN [ENV...]; $gobenchtime, if set, is -test.benchtime
	local pat=$1
	shift
	env SPAWN_BENCH_TINY="$work/tiny" SPAWN_BENCH_HOLD="$work/hold" "$@" timeout 900 "${prio[@]}" "${run[@]}" \
		"$work/spawn.test" -test.run '^$' -test.bench "$pat" -test.benchtime "${gobenchtime:-${benchtime}s}" |
		tee -a "$work/gobench.txt" /dev/stderr | grep -E '^Benchmark' || log "go benchmarks $pat failed or timed out"
}
group_kill() { # a 1,000-process tree killed by Group.Kill and by a /proc walk
	gobenchtime=3x gobench 'GroupKill$'
}
many_children() { # the many-children cases, one run each
	[ "$many" = 0 ] || gobenchtime=1x gobench 'ManyChildren$' SPAWN_BENCH_MANY="$many"
}

# Each group is a C part and the Go part it is compared with, run back to
# back (C first in odd blocks, Go first in even ones), so that a ratio is
# taken between measurements seconds apart.
groups=(
	"c_serial tiny|gobench SpawnWait\$/tiny"
	"c_serial true|gobench SpawnWait\$/true"
	"c_heap|gobench SpawnWaitHeap/.*/tiny SPAWN_BENCH_HEAP=0,$heaps"
	"c_parallel|gobench SpawnWaitParallel/tiny"
	"true|gobench BackendsPaired\$"
	"true|gobench WaitPaired\$"
	"true|gobench CmdTypes\$"
	"true|gobench UserNamespace\$"
)
# Heavy cases run once, after the blocks; their lines join the last block.
once=(many_children group_kill)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
set -f # the patterns are not file names
for b in $(seq "$blocks"); do
	log "block $b of $blocks"
	for g in "${groups[@]}"; do
		first=${g%%|*} second=${g#*|}
		if [ $((b % 2)) = 0 ]; then
			first=${g#*|} second=${g%%|*}
		fi
		$first
		$second
	done >"$work/block$b.txt" 2> >(grep -E '^(Benchmark|FAIL|panic)' >&2)
done
for o in "${once[@]}"; do
	log "$o"
	$o >>"$work/block$blocks.txt" 2> >(grep -E '^(Benchmark|FAIL|panic)' >&2)
done
set +f
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the table -------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem=$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
{
	printf 'Command: `ci/bench.sh%s` (%d blocks, %s s per measurement, %d s in all).\n\n' \
		"${args[*]:+ ${args[*]}}" "$blocks" "$benchtime" $((SECONDS - start))
	printf 'Machine: %s, %d vCPU, %s RAM; %s; %s; glibc %s' "${cpu:-unknown CPU}" "$procs" "$mem" \
		"$(uname -sr)" "$(go version | cut -d' ' -f3)" "$glibc"
	if [ "$suite" != none ]; then
		printf ' (Debian %s, through ci/with-glibc; the system has %s)' "$suite" "$sysglibc"
	fi
	printf '; load average %s before, %s after' "$load0" "$load1"
	if [ "$rt" = 1 ]; then
		printf '; every measured program under SCHED_FIFO (-rt)'
	fi
	printf '.\n\n'
} >"$work/header.md"
"$work/report" -header "$work/header.md" -o "$out" -svg "$svg" "$work"/block*.txt

# --- benchstat: each backend against os/exec ---------------------------------
# The Go benchmarks' own output, every block's, goes to OUT.txt in the
# standard benchmark format (headers included), for benchstat or any tool
# that reads it. benchstat (golang.org/x/perf, pinned as a tool of the
# report's module, ci/bench/report/go.mod) then compares each backend with
# os/exec, one column per backend, os/exec the baseline: the same benchmark
# of each method lines up once the method's part is taken out of its name
# (BenchmarkSpawnWait/tiny/clone3-2 in clone3's column as SpawnWait/tiny-2).
# Its table is printed and appended to OUT.md; the C loops are not Go
# benchmarks, and their comparisons stay in the report's tables above.
raw=${out%.md}.txt
cp "$work/gobench.txt" "$raw"
bs_cols=()
for m in os_exec:os/exec clone3:Clone3 clone3_via_clone:Clone3-via-clone pidfd_spawn:PidfdSpawn fork_np:ForkNP; do
	awk -v m="${m%%:*}" '
		!/^Benchmark/ { if ($0 ~ /^[a-z]+: /) print; next }
		{
			name = $1; procs = ""
			if (match(name, /-[0-9]+$/)) { procs = substr(name, RSTART); name = substr(name, 1, RSTART - 1) }
			n = split(name, part, "/"); keep = part[1]; hit = 0
			for (i = 2; i <= n; i++) { if (part[i] == m) hit = 1; else keep = keep "/" part[i] }
			if (hit) { $1 = keep procs; print }
		}' "$raw" >"$work/bs-${m%%:*}.txt"
	[ -s "$work/bs-${m%%:*}.txt" ] && grep -q '^Benchmark' "$work/bs-${m%%:*}.txt" && bs_cols+=("${m#*:}=$work/bs-${m%%:*}.txt")
done
if [ ${#bs_cols[@]} -ge 2 ] && go -C ci/bench/report tool benchstat "${bs_cols[@]}" >"$work/benchstat.txt"; then
	cat "$work/benchstat.txt"
	{
		printf '\n#### benchstat: each backend against os/exec\n\n'
		printf 'From %s (raw `go test -bench` output of all blocks):\n' "$(basename "$raw")"
		printf '`go -C ci/bench/report tool benchstat os/exec=… Clone3=… PidfdSpawn=… ForkNP=…`, each file the lines of one method.\n\n```\n'
		cat "$work/benchstat.txt"
		printf '```\n'
	} >>"$out"
else
	log "benchstat failed or had nothing to compare: see $raw"
fi
log "wrote $out, $svg and $raw in $((SECONDS - start)) s"

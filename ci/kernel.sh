#!/usr/bin/env bash
# ci/kernel.sh TESTBINARY [TEST ARGS...]
#
# Runs a static Go test binary (CGO_ENABLED=0 go test -c) as /init of an
# initramfs on a newer Debian kernel (7.1 or later: clone3 CLONE_AUTOREAP,
# CLONE_NNP, CLONE_PIDFD_AUTOKILL) under qemu with software emulation, and
# exits with the guest's verdict, the test binary's exit code.
# The package's TestMain hands PID 1 to runGuest (guest_linux_test.go).
#
# The guest's architecture is the test binary's (its ELF header):
#   amd64  qemu-system-x86_64 -machine pc, Debian's cloud-amd64 kernel,
#          kernel console on ttyS0, verdict on the second serial port ttyS1
#   arm64  qemu-system-aarch64 -machine virt -cpu max (no firmware: the
#          kernel's Image is booted directly), Debian's cloud-arm64 kernel,
#          kernel console on the PL011 ttyAMA0; virt has a single UART, so the
#          verdict travels on a virtio serial port named spawn.verdict
# Both kernels have virtio-pci, the virtio console and the serial drivers
# built in: the initramfs needs no modules.
#
#   stdout  the test output, streamed from the guest's virtio console
#   stderr  progress, and the guest's kernel console when it has anything
#
# Exit status: the test binary's, or non-zero when there is no verdict:
# 124 timeout, 125 no or bad verdict (kernel panic, crash, qemu failure),
# 126 bad usage or setup failure.
#
# Environment:
#   SPAWN_KERNEL_TIMEOUT   guest run time limit, timeout(1) syntax (600)
#   SPAWN_KERNEL_CACHE     download cache (${XDG_CACHE_HOME:-~/.cache}/spawn-kernel)
#   SPAWN_KERNEL_VERSION   kernel to boot, e.g. 7.1.13 (default: newest >= 7.1)
#   SPAWN_KERNEL_SUITE     Debian suite holding the kernels (trixie-backports)
#   SPAWN_KERNEL_MIRROR    Debian mirror URI (default: the one this machine's
#                          apt configuration uses for its own release)
#   SPAWN_KERNEL_REFRESH   seconds before the kernel index is fetched again (86400)
#   SPAWN_KERNEL_SMP       guest CPUs (2); qemu emulates them all on one host
#                          thread (tcg,thread=single). With 1, set GOMAXPROCS=2
#                          (passed on to the tests): some helpers assume that
#                          a second P exists (TestAutoReapThreadGroup's
#                          leader-exits-first ends its main thread with the
#                          only P held, and hangs with GOMAXPROCS=1)
#   SPAWN_KERNEL_CMDLINE   extra kernel command line parameters
#   SPAWN_KERNEL_PASSENV   names of host variables to pass to the tests
#                          (GOTRACEBACK GODEBUG GOMAXPROCS CI always are)
#
# Downloads use apt with a private state under the cache (one per guest
# architecture); the system's apt sources and installed packages are left
# alone, except that qemu-system-x86 (amd64) or qemu-system-arm (arm64) is
# installed, without recommends, when its qemu-system binary is missing.
# busybox-static comes from this machine's own release: for amd64 through
# the system's apt, for arm64 through the private state, which then lists
# that release beside the kernel suite.

set -uo pipefail

prog=ci/kernel.sh
log() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { log "$*"; exit 126; }

[[ $# -ge 1 ]] || die "usage: $prog TESTBINARY [TEST ARGS...]"
bin=$1
shift
[[ -f $bin && -x $bin ]] || die "$bin: not an executable file"
bin=$(realpath -- "$bin")

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd) || exit 126
root=$(dirname -- "$here")

timeout_spec=${SPAWN_KERNEL_TIMEOUT:-600}
[[ $timeout_spec =~ ^[0-9]+(\.[0-9]+)?[smhd]?$ ]] && [[ ! $timeout_spec =~ ^0+(\.0*)?[smhd]?$ ]] ||
	die "SPAWN_KERNEL_TIMEOUT=$timeout_spec: want a positive duration like 600 or 10m"
[[ $timeout_spec =~ [smhd]$ ]] || timeout_spec+=s
cache=${SPAWN_KERNEL_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/spawn-kernel}
suite=${SPAWN_KERNEL_SUITE:-trixie-backports}
refresh=${SPAWN_KERNEL_REFRESH:-86400}
mkdir -p -- "$cache" || die "cannot create $cache"
cache=$(realpath -- "$cache")

work=$(mktemp -d "${TMPDIR:-/tmp}/spawn-kernel.XXXXXX") || die "mktemp failed"
qemu_pid= cat_pid= dl=
cleanup() {
	[[ -n $qemu_pid ]] && kill -- "$qemu_pid" 2>/dev/null
	[[ -n $cat_pid ]] && kill -- "$cat_pid" 2>/dev/null
	rm -rf -- "$work" ${dl:+"$dl"}
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

go_cmd=$(command -v go || echo /usr/local/go/bin/go)

# A dynamically linked binary cannot be /init of a bare initramfs.
if command -v readelf >/dev/null && readelf -lW -- "$bin" 2>/dev/null | grep -q 'INTERP'; then
	die "$bin is dynamically linked: build it with CGO_ENABLED=0 go test -c"
fi

# --- architecture ------------------------------------------------------------

# The guest runs the test binary's architecture: e_machine of its ELF header
# (a 64-bit little-endian executable: EM_X86_64 62, EM_AARCH64 183).
elf_ident=$(od -An -tx1 -N20 -- "$bin" 2>/dev/null | tr -d ' \n')
[[ ${elf_ident:0:12} == 7f454c460201 ]] || die "$bin is not a 64-bit little-endian ELF file"
case ${elf_ident:36:4} in
3e00)
	arch=amd64
	qemu_bin=qemu-system-x86_64 qemu_pkg=qemu-system-x86
	# tsc=reliable no_timer_check: skip TSC and timer checks that cost ~1 s under TCG.
	qemu_machine=(-machine pc -cpu max)
	console=ttyS0 cmdline_arch="8250.nr_uarts=2 tsc=reliable no_timer_check"
	;;
b700)
	arch=arm64
	qemu_bin=qemu-system-aarch64 qemu_pkg=qemu-system-arm
	# pauth-impdef: qemu's implementation-defined pointer authentication
	# algorithm, which its documentation recommends under TCG as much
	# cheaper than the architected QARMA (the kernel signs its own return
	# addresses).
	qemu_machine=(-machine virt -cpu max,pauth-impdef=on)
	console=ttyAMA0 cmdline_arch=
	;;
*) die "$bin: unsupported ELF machine 0x${elf_ident:38:2}${elf_ident:36:2} (want amd64 or arm64)" ;;
esac
smp=${SPAWN_KERNEL_SMP:-2}
[[ $smp =~ ^[1-9][0-9]*$ ]] || die "SPAWN_KERNEL_SMP=$smp: want a number of CPUs"
flavour=cloud-$arch

# --- qemu ------------------------------------------------------------------

if ! command -v "$qemu_bin" >/dev/null; then
	log "installing $qemu_pkg"
	apt_install=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300
		install -y --no-install-recommends "$qemu_pkg")
	if ! "${apt_install[@]}" >&2; then
		apt-get -o DPkg::Lock::Timeout=300 update >&2
		"${apt_install[@]}" >&2 || die "cannot install $qemu_pkg (needed for $qemu_bin)"
	fi
	command -v "$qemu_bin" >/dev/null || die "$qemu_bin still missing after installing $qemu_pkg"
fi

# --- kernel and busybox, cached ---------------------------------------------

exec 9>"$cache/lock" && flock 9 || die "cannot lock $cache/lock"

# amd64 keeps the private apt state it always had; other architectures get
# their own beside it.
aptdir=$cache/apt
[[ $arch == amd64 ]] || aptdir=$cache/apt-$arch
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" \
	"$aptdir/sources.list.d" "$aptdir/preferences.d" || die "cannot create $aptdir"
[[ -e $aptdir/status ]] || : >"$aptdir/status"
papt=(-o "Dir::State=$aptdir" -o "Dir::State::Lists=$aptdir/lists"
	-o "Dir::State::status=$aptdir/status" -o "Dir::Cache=$aptdir/cache"
	-o "Dir::Etc::SourceList=$aptdir/sources.list"
	-o "Dir::Etc::SourceParts=$aptdir/sources.list.d"
	-o "Dir::Etc::PreferencesParts=$aptdir/preferences.d"
	-o "Dir::Etc::Preferences=$aptdir/preferences"
	-o "APT::Architecture=$arch" -o "APT::Architectures::=$arch"
	-o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
	-o Acquire::Languages=none -o APT::Sandbox::User=root)

# This machine's own release (bookworm on Debian 12).
own_codename() {
	(. /etc/os-release && echo "${VERSION_CODENAME:-}")
}

# The mirror this machine's apt uses for its own release.
mirror_uri() {
	if [[ -n ${SPAWN_KERNEL_MIRROR:-} ]]; then
		echo "${SPAWN_KERNEL_MIRROR%/}/"
		return
	fi
	local codename
	codename=$(own_codename)
	apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Identifier: Packages' 2>/dev/null |
		awk -v c="$codename" '$2 == c { print $1; exit }'
}

# sources_line prints the private sources.list: the kernel suite and, for a
# foreign architecture, this machine's own release too (for busybox-static,
# which the system's apt cannot fetch for an architecture it does not have).
sources_line() {
	local mirror codename
	mirror=$(mirror_uri)
	[[ -n $mirror ]] || { log "cannot find the Debian mirror in the apt configuration"; return 1; }
	printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$mirror" "$suite"
	if [[ $arch != amd64 ]]; then
		codename=$(own_codename)
		[[ -n $codename ]] || { log "cannot find this machine's release in /etc/os-release"; return 1; }
		[[ $codename == "$suite" ]] ||
			printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$mirror" "$codename"
	fi
}

refresh_index() {
	local line
	line=$(sources_line) || return 1
	printf '%s\n' "$line" >"$aptdir/sources.list"
	log "fetching the $suite package index ($arch)"
	apt-get "${papt[@]}" -o APT::Update::Error-Mode=any -qq update >&2
}

# newest_kernel prints the binary package of the kernel to boot.
newest_kernel() {
	apt-cache "${papt[@]}" pkgnames linux-binary- 2>/dev/null |
		grep -E "^linux-binary-[0-9]+\\.[0-9]+\\.[0-9]+\\+[^-]*-$flavour\$" |
		sed -E "s/^linux-binary-(.*)-$flavour\$/\\1/" |
		awk -F. -v want="${SPAWN_KERNEL_VERSION:-}" '
			want != "" { if (index($0, want) == 1 && substr($0, length(want) + 1, 1) ~ /^[+.-]?$/) print; next }
			$1 > 7 || ($1 == 7 && $2 + 0 >= 1)' |
		sort -V | tail -n 1 | sed -E "s/.*/linux-binary-&-$flavour/"
}

# Fetch the index when it is missing, older than $refresh seconds, or was
# fetched from another mirror or suite.
index=$(ls -t "$aptdir"/lists/*_Packages* 2>/dev/null | head -n 1)
if [[ -z $index || -n $(find "$index" -mmin +$((refresh / 60)) 2>/dev/null) ]] ||
	[[ "$(sources_line 2>/dev/null)" != "$(cat "$aptdir/sources.list" 2>/dev/null)" ]]; then
	refresh_index || log "index refresh failed; using the cached one, if any"
fi

# unpack_kernel makes FILE something every qemu's -kernel boots: the 7.x
# cloud-arm64 packages hold a plain EFI-stub Image ("vmlinuz"); should a
# package hold a gzip-compressed Image instead, it is unpacked here.
unpack_kernel() {
	[[ $(od -An -tx1 -N2 -- "$1" | tr -d ' \n') == 1f8b ]] || return 0
	gzip -dc -- "$1" >"$1.unpacked" && mv -- "$1.unpacked" "$1"
}

pkg=$(newest_kernel)
kernel=
if [[ -n $pkg ]]; then
	kver=${pkg#linux-binary-}
	kdir=$cache/kernels/$kver
	if [[ ! -s $kdir/vmlinuz ]]; then
		log "downloading $pkg"
		dl=$(mktemp -d "$cache/dl.XXXXXX")
		if (cd "$dl" && apt-get "${papt[@]}" -qq download "$pkg" >&2) ||
			{ refresh_index && (cd "$dl" && apt-get "${papt[@]}" -qq download "$pkg" >&2); }; then
			deb=$(ls "$dl"/*.deb | head -n 1)
			mkdir -p "$dl/x" "$kdir"
			dpkg-deb -x "$deb" "$dl/x" &&
				vmlinuz=$(find "$dl/x" \( -name vmlinuz -o -name 'vmlinuz-*' \) -type f | head -n 1) &&
				[[ -n $vmlinuz ]] &&
				unpack_kernel "$vmlinuz" &&
				dpkg-deb -f "$deb" Package Version >"$kdir/package" &&
				mv -- "$vmlinuz" "$kdir/vmlinuz.new" && mv -- "$kdir/vmlinuz.new" "$kdir/vmlinuz" ||
				log "cannot extract vmlinuz from $deb"
		fi
		rm -rf -- "$dl"
		dl=
	fi
	[[ -s $kdir/vmlinuz ]] && kernel=$kdir/vmlinuz
fi
if [[ -z $kernel ]]; then
	# Offline, or the mirror dropped it: fall back to the newest cached one.
	kver=$(ls "$cache/kernels" 2>/dev/null | grep -E "^${SPAWN_KERNEL_VERSION:-}.*-$flavour\$" | sort -V | tail -n 1)
	[[ -n $kver && -s $cache/kernels/$kver/vmlinuz ]] ||
		die "no $flavour kernel ${SPAWN_KERNEL_VERSION:-">= 7.1"} to boot"
	log "using cached kernel $kver"
	kernel=$cache/kernels/$kver/vmlinuz
fi

if [[ $arch == amd64 ]]; then
	# The host's own busybox-static, through the system's apt.
	busybox=$cache/busybox/busybox
	bbget=(apt-get -o APT::Sandbox::User=root -qq download busybox-static)
	bbupdate=(apt-get -o DPkg::Lock::Timeout=300 update)
else
	# The host release's busybox-static for $arch, through the private apt.
	busybox=$cache/busybox-$arch/busybox
	bbget=(apt-get "${papt[@]}" -qq download busybox-static)
	bbupdate=(refresh_index)
fi
if [[ ! -x $busybox ]]; then
	log "downloading busybox-static ($arch)"
	dl=$(mktemp -d "$cache/dl.XXXXXX")
	if (cd "$dl" && "${bbget[@]}" >&2) ||
		{ "${bbupdate[@]}" >&2 && (cd "$dl" && "${bbget[@]}" >&2); }; then
		mkdir -p "$dl/x" "$(dirname -- "$busybox")"
		dpkg-deb -x "$dl"/busybox-static_*.deb "$dl/x" &&
			cp -- "$dl/x/bin/busybox" "$busybox.new" && mv -- "$busybox.new" "$busybox"
	fi
	rm -rf -- "$dl"
	dl=
	[[ -x $busybox ]] || die "cannot get busybox-static for $arch"
fi

exec 9>&- # unlock the cache

# --- initramfs ---------------------------------------------------------------

# mkinitramfs runs here: build it for the host, whatever GOOS/GOARCH the
# caller exported (ci/arm64.sh exports GOARCH=arm64).
(cd "$root" && env -u GOOS -u GOARCH "$go_cmd" build -o "$work/mkinitramfs" ./ci/mkinitramfs) ||
	die "cannot build ci/mkinitramfs"

# Unless told otherwise, make the test binary time out before qemu is
# killed, so that a hung test shows its goroutines and the test's name.
to_secs() {
	local n=${1%[smhd]} u=${1##*[0-9.]}
	local m=1
	case $u in m) m=60 ;; h) m=3600 ;; d) m=86400 ;; esac
	awk -v n="$n" -v m="$m" 'BEGIN { printf "%d", n * m }'
}
args=("$@")
secs=$(to_secs "$timeout_spec")
has_timeout=
for a in "${args[@]}"; do [[ $a =~ ^--?test\.timeout(=|$) ]] && has_timeout=1; done
if [[ -z $has_timeout ]] && ((secs > 60)); then
	margin=$((secs / 10 > 30 ? secs / 10 : 30))
	args=("-test.timeout=$((secs - margin))s" "${args[@]}")
fi

# Test arguments and environment travel as NUL-separated files.
: >"$work/args"
for a in "${args[@]}"; do printf '%s\0' "$a" >>"$work/args"; done
: >"$work/env"
for v in GOTRACEBACK GODEBUG GOMAXPROCS CI ${SPAWN_KERNEL_PASSENV:-}; do
	[[ $v =~ ^[A-Za-z_][A-Za-z0-9_]*$ && -n ${!v+set} ]] && printf '%s=%s\0' "$v" "${!v}" >>"$work/env"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$work/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$work/group"

entries=(
	"/init=$bin" "/args=$work/args" "/env=$work/env"
	"/bin/busybox=$busybox" link:/sbin=bin link:/usr/bin=../bin link:/usr/sbin=../bin
	"/etc/passwd=$work/passwd" "/etc/group=$work/group"
	dir:/proc dir:/sys dir:/dev dir:/run dir:/tmp=1777 dir:/root=0700
	dev:/dev/console=c,5,1 dev:/dev/null=c,1,3,666
)
# The tests run in /, as go test would run them in the package directory:
# bring the package's testdata along.
[[ -d testdata ]] && entries+=("tree:/testdata=$PWD/testdata")
# The applets busybox has: from busybox --list where it runs here, else (a
# foreign architecture) from its table of applet names, the NUL-separated
# sorted list that starts with "[" and "[[" and ends with an empty name.
applets=$("$busybox" --list 2>/dev/null)
[[ -n $applets ]] || applets=$(tr '\0' '\n' <"$busybox" |
	awk 'on { if ($0 == "") exit; print; next } prev == "[" && $0 == "[[" { print prev; print; on = 1 } { prev = $0 }')
[[ $applets == *$'\n'sh$'\n'* ]] || die "cannot list the applets of $busybox"
applets=" $(tr '\n' ' ' <<<"$applets") "
for a in sh ash true false sleep cat echo env printf test [ kill ps ls id pwd uname \
	mkdir rmdir rm cp mv ln touch chmod head tail wc grep sed awk tr cut sort \
	uniq seq yes stat readlink realpath basename dirname nproc timeout sync \
	mount umount date tee xargs find nice nohup setsid which hostname dd od; do
	[[ $applets == *" $a "* ]] && entries+=("link:/bin/$a=busybox")
done
"$work/mkinitramfs" -o "$work/initrd.cpio" "${entries[@]}" || die "cannot write the initramfs"

# --- boot ----------------------------------------------------------------------

# Test output: virtio console -> fifo -> stdout, as it comes.
# Kernel console: first serial port -> file, shown on stderr afterwards.
# Verdict: a file holding the single line "EXIT <code>", written through the
# second serial port (amd64) or the virtio serial port spawn.verdict (arm64:
# virt has one UART); runGuest writes to that port when it exists.
mkfifo "$work/out.fifo"
cat "$work/out.fifo" &
cat_pid=$!
: >"$work/console.log"
: >"$work/verdict"

if [[ $arch == amd64 ]]; then
	verdict_dev=(-serial chardev:verdict)
else
	verdict_dev=(-device virtserialport,chardev=verdict,name=spawn.verdict)
fi
cmdline="console=$console panic=-1 quiet rdinit=/init init=/init $cmdline_arch ${SPAWN_KERNEL_CMDLINE:-}"
log "booting linux $kver on $qemu_bin -smp $smp (timeout $timeout_spec)"
start=$SECONDS
# --foreground keeps qemu in this script's process group, so that whoever
# kills the group kills qemu too.
timeout --foreground -k 10 "$timeout_spec" "$qemu_bin" \
	-accel tcg,thread=single "${qemu_machine[@]}" -smp "$smp" -m 1G \
	-nodefaults -no-user-config -no-reboot -nographic \
	-kernel "$kernel" -initrd "$work/initrd.cpio" -append "$cmdline" \
	-chardev "file,id=con,path=$work/console.log" -serial chardev:con \
	-chardev "file,id=verdict,path=$work/verdict" \
	-device virtio-serial-pci \
	-chardev "file,id=out,path=$work/out.fifo" -device virtconsole,chardev=out \
	"${verdict_dev[@]}" \
	</dev/null &
qemu_pid=$!
wait "$qemu_pid"
qemu_rc=$?
qemu_pid=
elapsed=$((SECONDS - start))

# Let the reader finish. If qemu never opened the fifo, cat is still blocked
# in open(2): opening the fifo ourselves releases it, and closing gives EOF.
for _ in $(seq 100); do
	kill -0 "$cat_pid" 2>/dev/null || break
	exec 8<>"$work/out.fifo" && exec 8>&-
	sleep 0.05
done
kill "$cat_pid" 2>/dev/null
wait "$cat_pid" 2>/dev/null
cat_pid=

verdict=$(tr -d '\r' <"$work/verdict" | grep -E '^EXIT [0-9]+$')

# The kernel console (firmware noise and terminal escapes removed) when the
# run failed or the kernel complained.
sed -E 's/\x1b(\[[0-9;?]*[A-Za-z]|c)//g; s/\r//g' "$work/console.log" |
	grep -vE '^(SeaBIOS|Booting from ROM|iPXE)' | grep -vE '^$|reboot: Power down' >"$work/console.txt"
if [[ -s $work/console.txt ]] &&
	{ [[ $qemu_rc -ne 0 || $verdict != "EXIT 0" ]] || grep -qE 'WARNING|BUG|Oops|panic|Call Trace' "$work/console.txt"; }; then
	log "kernel console:"
	sed 's/^/  | /' "$work/console.txt" >&2
fi

if [[ $qemu_rc -eq 124 || $qemu_rc -eq 137 ]]; then
	log "FAIL: timeout after $timeout_spec (linux $kver)${verdict:+, guest said $verdict}"
	exit 124
fi
if [[ $qemu_rc -ne 0 ]]; then
	log "FAIL: qemu exited with status $qemu_rc (linux $kver)"
	exit 125
fi
if [[ $(printf '%s\n' "$verdict" | grep -c .) -ne 1 ]]; then
	log "FAIL: no verdict from the guest (kernel panic or crash?) after ${elapsed}s (linux $kver)"
	exit 125
fi
code=${verdict#EXIT }
code=$((10#$code))
((code <= 255)) || code=125
log "guest verdict: exit $code after ${elapsed}s (linux $kver)"
exit "$code"

#!/bin/sh
# Runs execsuite_test.go against os/exec: the same file with its one import
# line changed, in a temporary module. Proof that the suite needs nothing but
# the import to move between os/exec and spawn.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
line='	exec "github.com/pidfd/spawn"'
n=$(grep -c -x -F "$line" "$here/execsuite_test.go")
[ "$n" = 1 ] || { echo "execsuite.sh: want one import line $line, found $n" >&2; exit 1; }
sed 's|^	exec "github.com/pidfd/spawn"$|	"os/exec"|' "$here/execsuite_test.go" >"$tmp/execsuite_test.go"
# Nothing else may differ from the original.
diff "$here/execsuite_test.go" "$tmp/execsuite_test.go" | grep '^[<>]' | sort >"$tmp/diff"
printf '%s\n' "< $line" '> 	"os/exec"' | sort | cmp -s - "$tmp/diff" || { echo "execsuite.sh: unexpected change" >&2; cat "$tmp/diff" >&2; exit 1; }
printf 'module execsuite\n\ngo 1.24\n' >"$tmp/go.mod"
cd "$tmp"
go vet .
go test -count=1 "$@" .

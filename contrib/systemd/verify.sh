#!/bin/sh
# systemd-analyze verify on herod.service as this build configured it,
# its ExecStart pointed at the herod just built (the installed path
# need not exist yet).  Exit 77 (skipped) without systemd-analyze.
unit=$1
herod=$2
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP unit_verify: systemd-analyze not found"
	exit 77
fi
case $herod in /*) ;; *) herod=$PWD/$herod ;; esac
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
sed "s|^ExecStart=[^ ]*|ExecStart=$herod|" "$unit" > "$tmp/herod.service"
grep -q "^ExecStart=$herod -d\$" "$tmp/herod.service" || {
	echo "FAIL: no ExecStart=... -d in $unit"
	exit 1
}
out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
    "$tmp/herod.service" 2>&1)
rc=$?
echo "$out"
if [ $rc -ne 0 ] || echo "$out" | grep -q 'herod.service'; then
	echo "FAIL: systemd-analyze verify"
	exit 1
fi
echo "systemd-analyze verify: ok"

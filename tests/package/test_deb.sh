#!/bin/sh
# The Debian package, end to end, on this machine (as root): build it
# with dpkg-buildpackage from a copy of the tree, install it with dpkg,
# start herod as the rc script does (systemd need not be the init), run
# a service from /etc/herod/services, "heroctl list" as root without -s,
# then remove (no herod process, no service left) and purge (no user
# _herod, no file of the package, no directory herod made).
#
# Refuses to run on a machine where herod is installed or its paths or
# user exist: it would not know what to leave.  Prints PASS or FAIL;
# exit 77 (skipped) without root or debhelper.
set -u

fail() {
	echo "FAIL: $*"
	exit 1
}

[ "$(id -u)" -eq 0 ] || { echo "SKIP test_deb (needs root)"; exit 77; }
for c in dpkg-buildpackage dh dpkg python3; do
	command -v "$c" >/dev/null 2>&1 ||
	    { echo "SKIP test_deb (no $c: apt-get install debhelper)"; exit 77; }
done
dpkg -s herod >/dev/null 2>&1 && fail "the herod package is installed"
for p in /etc/herod /var/lib/herod /run/herod /usr/sbin/herod; do
	[ -e "$p" ] && fail "$p exists already"
done
getent passwd _herod >/dev/null && fail "user _herod exists already"
getent group _herod >/dev/null && fail "group _herod exists already"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/herod-deb.XXXXXX) || exit 1
HEROD_PID=""
SVC_PID=""

cleanup() {
	for pid in $SVC_PID $HEROD_PID; do
		if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" \
		    = "/usr/sbin/herod" ]; then
			kill -KILL "$pid" 2>/dev/null
		fi
	done
	[ -n "$SVC_PID" ] && kill -KILL "$SVC_PID" 2>/dev/null
	if dpkg -s herod >/dev/null 2>&1; then
		rm -f /etc/herod/services/pkgtest.json
		dpkg --purge herod >/dev/null 2>&1
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# wait_until SECONDS WHAT COMMAND...: poll COMMAND until it succeeds
wait_until() {
	secs=$1 what=$2
	shift 2
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -gt $((secs * 20)) ] && fail "timed out after ${secs}s: $what"
		sleep 0.05
	done
}

alive() {
	[ -d "/proc/$1" ] && ! grep -q '^State:.*[ZX]' "/proc/$1/status"
}

dead() {
	! alive "$1"
}

echo "building in $T"
t0=$(date +%s)
mkdir "$T/src"
tar -C "$SRC" --exclude='./build*' --exclude='./obj-*' --exclude=./.git \
    --exclude=./debian/herod --exclude=./debian/.debhelper -cf - . |
    tar -C "$T/src" -xf - || fail "copy of the tree"
(cd "$T/src" && dpkg-buildpackage -us -uc -b) > "$T/build.log" 2>&1 ||
    { tail -40 "$T/build.log"; fail "dpkg-buildpackage"; }
deb=$(ls "$T"/herod_*.deb) || fail "no package built"
echo "built $(basename "$deb") in $(($(date +%s) - t0))s"

dpkg -i "$deb" > "$T/install.log" 2>&1 ||
    { cat "$T/install.log"; fail "dpkg -i"; }
files=$(dpkg -L herod | grep -v '^/\.$')

getent passwd _herod | grep -q ':/nonexistent:/usr/sbin/nologin$' ||
    fail "user _herod: $(getent passwd _herod)"
/usr/sbin/herod -V | grep -qx 'services: /etc/herod/services' ||
    fail "herod -V: $(/usr/sbin/herod -V)"
for f in /usr/sbin/herod /usr/bin/heroctl /etc/init.d/herod \
    /lib/systemd/system/herod.service /usr/lib/sysusers.d/herod.conf \
    /usr/lib/tmpfiles.d/herod.conf /usr/share/man/man8/herod.8.gz; do
	[ -e "$f" ] || fail "$f not installed"
done

# started at install where invoke-rc.d could; else as the rc script does
/etc/init.d/herod start > "$T/start.log" 2>&1 ||
    { cat "$T/start.log"; fail "/etc/init.d/herod start"; }
HEROD_PID=$(cat /run/herod/herod.pid) || fail "no /run/herod/herod.pid"
alive "$HEROD_PID" || fail "herod $HEROD_PID is not running"
/etc/init.d/herod status | grep -q "running (pid $HEROD_PID)" ||
    fail "rc status: $(/etc/init.d/herod status)"
/etc/init.d/herod start | grep -q "already running" ||
    fail "a second start did not see the first"

cat > /etc/herod/services/pkgtest.json <<'JSON'
{"name": "pkgtest", "actions": [{"name": "main",
 "exec": ["/bin/sleep", "1000"], "user": "nobody"}]}
JSON
heroctl reload > "$T/reload.log" 2>&1 ||
    { cat "$T/reload.log"; fail "heroctl reload"; }
running() {
	heroctl -j list | python3 -c 'import json,sys
d = json.load(sys.stdin)
s = [x for x in d["services"] if x["name"] == "pkgtest"]
sys.exit(0 if s and s[0]["state"] == "running" else 1)'
}
wait_until 20 "pkgtest running (heroctl list)" running
SVC_PID=$(heroctl -j list | python3 -c 'import json,sys
d = json.load(sys.stdin)
print([x for x in d["services"] if x["name"] == "pkgtest"][0]
      ["actions"][0]["pid"])')
alive "$SVC_PID" || fail "service pid $SVC_PID"
heroctl list | grep -q '^pkgtest *running' ||
    fail "heroctl list: $(heroctl list)"
workers=$(pgrep -d ' ' -P "$HEROD_PID")

# remove: herod stops its services and exits
dpkg -r herod > "$T/remove.log" 2>&1 || { cat "$T/remove.log"; fail "dpkg -r"; }
wait_until 30 "herod $HEROD_PID gone" dead "$HEROD_PID"
for pid in $SVC_PID $workers; do
	dead "$pid" || fail "pid $pid ($(cat /proc/$pid/cmdline)) outlived herod"
done
# any process of the package's binary (others' herods run from elsewhere)
for d in /proc/[0-9]*; do
	case $(readlink "$d/exe" 2>/dev/null) in
	/usr/sbin/herod*) fail "a herod process left: ${d#/proc/}" ;;
	esac
done
[ -e /usr/sbin/herod ] && fail "/usr/sbin/herod after remove"

# purge: the administrator's file goes first, then the package's all
rm -f /etc/herod/services/pkgtest.json
dpkg --purge herod > "$T/purge.log" 2>&1 || { cat "$T/purge.log"; fail "purge"; }
getent passwd _herod >/dev/null && fail "user _herod left"
getent group _herod >/dev/null && fail "group _herod left"
for f in $files /etc/herod /var/lib/herod /run/herod; do
	case $f in
	/usr|/usr/*bin|/usr/lib|/usr/lib/sysusers.d|/usr/lib/tmpfiles.d|\
	/usr/share|/usr/share/doc|/usr/share/man|/usr/share/man/man[58]|\
	/lib|/lib/systemd|/lib/systemd/system|/etc|/etc/init.d)
		continue ;;
	esac
	[ -e "$f" ] && fail "$f left after purge"
done
left=$(ls /etc/rc?.d/*herod /etc/systemd/system/*/herod.service \
    /var/lib/systemd/deb-systemd-helper-enabled/herod.service* \
    /var/lib/systemd/deb-systemd-helper-enabled/*/herod.service \
    2>/dev/null)
[ -n "$left" ] && fail "left after purge: $left"
dpkg -s herod >/dev/null 2>&1 && fail "dpkg still knows herod"
# no error or warning for the operator to puzzle over
for l in install remove purge; do
	grep -Ei 'error|warning|fail' "$T/$l.log" && fail "in dpkg's $l output"
done
echo "PASS test_deb ($(($(date +%s) - t0))s)"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# fresh-root.sh - README's two commands, run as a new user would, in a pristine
# minimal Debian 12 root (debootstrap --variant=minbase bookworm + chroot).
#
#   scripts/fresh-root.sh [-k] [-s run|check|both] [REV]
#
# What a run does:
#  1. The minbase root is built once with debootstrap from this machine's own
#     Debian source and kept, untouched, in $KTLSD_FRESH_CACHE/minbase (default
#     /var/cache/ktlsd-fresh, outside the tree). Each run works on a new copy.
#  2. Nothing is added to the copy but this machine's resolv.conf (so apt reaches
#     the archive): no /etc/hosts, no package beyond minbase. /proc, /sys and
#     /dev are bound in; REV (default HEAD) of this repository is cloned into
#     /root/ktlsd.
#  3. Inside, as root with a clean environment, README's prerequisite step
#     (apt-get update && apt-get install make), then README's first command,
#     `make run`, in the background. From outside, this machine's curl fetches
#     https://127.0.0.1:PORT/ (README's command) through ktlsd and must get the demo page; the
#     backend's request line must appear in make run's output; SIGINT to make
#     run's process group (what Ctrl-C does) must stop ktlsd and the backend and
#     free both ports.
#  4. README's second command, `make check`, inside; its result lines are shown.
#
# Output: progress lines "[fresh] ...", PASS/FAIL lines, and as the last line
#     N passed, N failed, N skipped
# where the demo counts as one test ("fresh:make_run") and make check's lines
# count as they are. Exit status 0 if nothing failed, 1 otherwise, 77 if no
# root could be made here (no debootstrap, not root), 2 for bad usage.
#
# Options:
#   -k        keep the root afterwards (its path is printed) for debugging
#   -s STEP   run (make run only), check (make check only) or both (default)
# Environment: KTLSD_FRESH_CACHE, FRESH_DEMO_TIMEOUT (seconds for make run to
# answer, default 1200), FRESH_CHECK_TIMEOUT (seconds for make check, default
# 3600); KTLSD_SKIP_VM and VM_TIMEOUT are passed on to make check.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${KTLSD_FRESH_CACHE:-/var/cache/ktlsd-fresh}
DEMO_TIMEOUT=${FRESH_DEMO_TIMEOUT:-1200}
CHECK_TIMEOUT=${FRESH_CHECK_TIMEOUT:-3600}
KEEP=0 STEP=both
PORT=8443 BPORT=8080 # the demo's defaults, as README gives them

usage() { sed -n '/^#   scripts\/fresh-root/,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
while getopts "ks:h" opt; do
	case $opt in
	k) KEEP=1 ;;
	s) STEP=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
REV=${1:-HEAD}
case $STEP in run | check | both) ;; *) usage >&2; exit 2 ;; esac

log() { echo "[fresh] $*"; }
skip() {
	log "SKIP: $*"
	echo "0 passed, 0 failed, 1 skipped"
	exit 77
}

((EUID == 0)) || skip "needs root (debootstrap, chroot, mounts)"
command -v git >/dev/null || skip "needs git on this machine"
COMMIT=$(git -C "$REPO" rev-parse --verify "$REV^{commit}") || {
	echo "fresh-root.sh: no such revision: $REV" >&2
	exit 2
}

# ------------------------------------------------------------ the base root
# debian_uri SUITE: this machine's Debian archive URI for SUITE (never a hard-coded host).
debian_uri() {
	# shellcheck disable=SC2016 # apt's format fields, not shell expansions
	apt-get indextargets --format '$(REPO_URI) $(CODENAME)' 2>/dev/null |
		awk -v s="$1" '$2 == s { print $1; exit }'
}

build_base() {
	local uri tmp
	command -v debootstrap >/dev/null || {
		log "installing debootstrap"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap \
			>/dev/null </dev/null || skip "debootstrap is not installed and could not be"
	}
	uri=$(debian_uri bookworm)
	[[ -n $uri ]] || skip "no bookworm source in this machine's apt configuration (apt-get update?)"
	mkdir -p "$CACHE"
	tmp=$CACHE/minbase.new
	rm -rf "$tmp"
	log "debootstrap --variant=minbase bookworm from $uri (once; kept in $CACHE/minbase)"
	if ! debootstrap --variant=minbase bookworm "$tmp" "$uri" >"$CACHE/debootstrap.log" 2>&1; then
		tail -n 20 "$CACHE/debootstrap.log" >&2
		rm -rf "$tmp"
		skip "debootstrap failed (log: $CACHE/debootstrap.log)"
	fi
	# apt's downloaded .debs are not part of a fresh machine
	rm -f "$tmp"/var/cache/apt/archives/*.deb
	mv "$tmp" "$CACHE/minbase"
}

[[ -x $CACHE/minbase/bin/bash ]] || build_base

ROOTFS=$(mktemp -d "$CACHE/run.XXXXXX")
chmod 755 "$ROOTFS"
DEMO_PID=""

# unmounted: true when nothing is mounted at or under $ROOTFS any more.
unmounted() { ! awk -v r="$ROOTFS" '$5 == r || index($5, r "/") == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; }

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	local p
	# whatever still runs inside the root (a test that hung, the demo) goes first
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/root" 2>/dev/null) == "$ROOTFS" ]] && kill -KILL "${p#/proc/}" 2>/dev/null
	done
	sleep 0.2
	umount -R "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/dev" 2>/dev/null ||
		umount -R -l "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/dev" 2>/dev/null || true
	if ((KEEP)); then
		log "kept: $ROOTFS"
	elif unmounted; then
		rm -rf --one-file-system "$ROOTFS"
	else
		log "not removing $ROOTFS: something is still mounted under it"
	fi
}
trap cleanup EXIT

log "copying the minbase root to $ROOTFS"
cp -a "$CACHE/minbase/." "$ROOTFS/"

# Nothing is added to the root but this machine's resolver configuration (apt must
# reach the archive): no /etc/hosts (minbase has none, so nothing resolves
# "localhost" until make check installs libnss-myhostname), the sources.list
# debootstrap wrote, no package beyond minbase.
cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null || true

mount -t proc proc "$ROOTFS/proc"
mount --rbind /sys "$ROOTFS/sys"
mount --make-rslave "$ROOTFS/sys"
mount --rbind /dev "$ROOTFS/dev"
mount --make-rslave "$ROOTFS/dev"

log "cloning $COMMIT into /root/ktlsd"
git clone -q --no-local "$REPO" "$ROOTFS/root/ktlsd"
git -C "$ROOTFS/root/ktlsd" checkout -q "$COMMIT"

# in_root CMD: runs CMD with bash inside the root, as a login shell of root would.
in_root() {
	env -i HOME=/root TERM=dumb USER=root LOGNAME=root SHELL=/bin/bash \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		${KTLSD_SKIP_VM:+KTLSD_SKIP_VM=$KTLSD_SKIP_VM} ${VM_TIMEOUT:+VM_TIMEOUT=$VM_TIMEOUT} \
		chroot "$ROOTFS" /bin/bash -c "cd /root/ktlsd && $1"
}

passed=0 failed=0 skipped=0
pass() {
	echo "PASS fresh:$1"
	passed=$((passed + 1))
}
fail() {
	echo "FAIL fresh:$1: $2"
	failed=$((failed + 1))
}

log "README prerequisite: apt-get update && apt-get install -y make"
if ! in_root 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq make' \
	>"$ROOTFS/root/prereq.log" 2>&1 </dev/null; then
	tail -n 20 "$ROOTFS/root/prereq.log"
	fail prerequisite "apt-get install make failed"
	echo "$passed passed, $failed failed, $skipped skipped"
	exit 1
fi

port_busy() { [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }

# demo_test: README's first command, a request through it, Ctrl-C.
demo_test() {
	local out=$ROOTFS/root/make-run.log page t0 i
	if port_busy "$PORT" || port_busy "$BPORT"; then
		fail make_run "port $PORT or $BPORT is already in use on this machine"
		return
	fi
	log "make run (README's first command)"
	t0=$SECONDS
	# setsid: its own process group, so SIGINT below reaches it as Ctrl-C would
	setsid bash -c "$(declare -f in_root); ROOTFS='$ROOTFS'; in_root 'exec make run'" \
		>"$out" 2>&1 </dev/null &
	DEMO_PID=$!
	page=""
	while ((SECONDS - t0 < DEMO_TIMEOUT)); do
		kill -0 "$DEMO_PID" 2>/dev/null || break
		if [[ -s $ROOTFS/root/ktlsd/build/demo/ca.crt ]] && port_busy "$PORT"; then
			page=$(curl -sS --max-time 10 --cacert "$ROOTFS/root/ktlsd/build/demo/ca.crt" \
				"https://127.0.0.1:$PORT/" 2>&1) && break
		fi
		sleep 2
	done
	if [[ $page != *"Hello through ktlsd"* ]]; then
		tail -n 40 "$out"
		if kill -0 "$DEMO_PID" 2>/dev/null; then
			fail make_run "no page through ktlsd within ${DEMO_TIMEOUT}s (curl said: ${page:0:200})"
		else
			fail make_run "make run exited after $((SECONDS - t0)) s without serving the page"
		fi
		kill -INT -- "-$DEMO_PID" 2>/dev/null || true
		return
	fi
	log "the page came through ktlsd $((SECONDS - t0)) s after make run started"
	# the backend's line for that request, printed by make run
	for ((i = 0; i < 50; i++)); do
		grep -q '^backend: .*"GET / HTTP/1.1" 200' "$out" && break
		sleep 0.1
	done
	if ! grep -q '^backend: .*"GET / HTTP/1.1" 200' "$out"; then
		tail -n 40 "$out"
		fail make_run "make run printed no line for the request that reached the backend"
		kill -INT -- "-$DEMO_PID" 2>/dev/null || true
		return
	fi
	# Ctrl-C: SIGINT to the whole foreground process group
	kill -INT -- "-$DEMO_PID"
	for ((i = 0; i < 150; i++)); do
		kill -0 "$DEMO_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$DEMO_PID" 2>/dev/null; then
		tail -n 20 "$out"
		fail make_run "make run still running 15 s after SIGINT"
		return
	fi
	if pgrep -f "$ROOTFS/root/ktlsd/build/ktlsd|/root/ktlsd/build/ktlsd" >/dev/null ||
		port_busy "$PORT" || port_busy "$BPORT"; then
		tail -n 20 "$out"
		fail make_run "after SIGINT ktlsd or the backend is still there (ports $PORT/$BPORT)"
		return
	fi
	sed -n '/ktlsd demo:/,$p' "$out" | head -n 40 | sed 's/^/    | /'
	pass make_run
}

check_test() {
	local out=$ROOTFS/root/make-check.log rc=0 line p f s
	log "make check (README's second command)"
	timeout -k 30 "$CHECK_TIMEOUT" bash -c "$(declare -f in_root); ROOTFS='$ROOTFS'; in_root 'make check'" \
		</dev/null 2>&1 | tee "$out" | grep --line-buffered -E '^(vm: )?(PASS|FAIL|SKIP) |^    \||^failed:' || true
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out" | tail -n1 || true)
	if [[ -z $line ]]; then
		tail -n 40 "$out"
		fail make_check "no summary line (make check exit status $rc)"
		return
	fi
	read -r p _ f _ s _ <<<"${line//,/}"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	if ((rc != 0 && f == 0)); then
		fail make_check "make check exit status $rc"
	fi
}

[[ $STEP == check ]] || demo_test
[[ $STEP == run ]] || check_test

echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))

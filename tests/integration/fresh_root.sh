#!/usr/bin/env bash
# The README's first command on a fresh Debian 12 machine:
#   fresh_root.sh ROOT SOURCE PORT
# makes a minimal Debian 12 root in the empty directory ROOT with mmdebstrap
# (from the archive this machine's apt uses), copies the source tree SOURCE
# into it (what git tracks and untracked files it does not ignore: never
# build directories), and runs `nginx/demo --once` there as root in a chroot,
# the demo's nginx on 127.0.0.1:PORT. Then checks, with apt-get --simulate,
# that every package of `packaging/install-deps test` (the README's second
# command) exists and installs in that root.
#
# REQUIRES: root, and to be run in mount and PID namespaces of its own
# (test_fresh_root.py runs it under `unshare --mount --pid --fork
# --kill-child`): the /proc, /dev and /sys mounts made here then vanish with
# the namespace whatever happens, and so does every process the demo
# started.
set -euo pipefail
root=$1 source=$2 port=$3

step() { printf '\nfresh-root: %s (%s s)\n' "$*" "$SECONDS"; }

# This namespace's mounts must not reach the machine's.
mount --make-rprivate /

step "mmdebstrap --variant=minbase bookworm"
mirror=()
[ -f /etc/apt/sources.list.d/debian.sources ] && mirror=(/etc/apt/sources.list.d/debian.sources)
mmdebstrap --variant=minbase --quiet bookworm "$root" "${mirror[@]}"

# No init system runs here, and the network is the machine's: the nginx
# package must not start a service on port 80 (on a real machine it does,
# and the demo does not mind).
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

step "copy the source tree"
mkdir "$root/root/replug"
if git -C "$source" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$source" ls-files -z --cached --others --exclude-standard |
        tar -C "$source" --null -T - --ignore-failed-read -cf - | tar -C "$root/root/replug" -xf -
else
    tar -C "$source" --exclude=./.git --exclude='./build*' -cf - . | tar -C "$root/root/replug" -xf -
fi

mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t sysfs sysfs "$root/sys"

in_root() {
    chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

step "nginx/demo --once"
in_root bash -c "cd /root/replug && REPLUG_DEMO_PORT=$port nginx/demo --once < /dev/null"

step "apt-get install --simulate: packaging/install-deps test"
in_root bash -c 'cd /root/replug && apt-get install --simulate --no-install-recommends $(packaging/install-deps --list test)' |
    grep -c '^Inst ' | sed 's/^/fresh-root: packages the test tier would install: /'

step "done"

#!/bin/sh
# install.sh BUILDDIR ROOT [PREFIX]: installs the built programs, man pages
# and the empty directory tree under ROOT. PREFIX, where the tree will run,
# defaults to ROOT (they differ when make install is given a DESTDIR).
# Safe to run again over an existing tree: control files and queue
# contents are never overwritten.
set -e
build=$1
root=$2
prefix=${3:-$2}
[ -n "$build" ] && [ -n "$root" ] || { echo "usage: install.sh BUILDDIR ROOT" >&2; exit 100; }
umask 022
for d in bin control man man/man1 man/man5 man/man8 users alias boot doc; do
	mkdir -p "$root/$d"
done
for f in "$build"/bin/*; do
	[ -f "$f" ] || continue
	n=$(basename "$f")
	cp "$f" "$root/bin/.$n.new"
	chmod 755 "$root/bin/.$n.new"
	mv -f "$root/bin/.$n.new" "$root/bin/$n"
done
for f in man/*.[158]; do
	[ -f "$f" ] || continue
	s=${f##*.}
	cp "$f" "$root/man/man$s/"
done
[ -f "$root/control/defaultdelivery" ] || echo ./Mailbox > "$root/control/defaultdelivery"
# ---- the queue, qmail's users, etc/ids (issue 3)
# NQ_INSTALL_MODE=system|user. A system install (the default for root)
# creates qmail's users and groups when missing and gives the queue
# qmail's ownerships; a user instance (the default for anyone else, and
# what the tests use) is owned by and runs as the installing user.
mode=${NQ_INSTALL_MODE:-}
if [ -z "$mode" ]; then
	if [ -f "$root/etc/ids" ]; then
		mode=$(sed -n 's/^mode=//p' "$root/etc/ids")
	fi
	[ -n "$mode" ] || { [ "$(id -u)" = 0 ] && mode=system || mode=user; }
fi
case $mode in system|user) ;; *) echo "install.sh: NQ_INSTALL_MODE must be system or user" >&2; exit 100;; esac
if [ "$mode" = system ] && [ "$(id -u)" != 0 ]; then
	echo "install.sh: a system install needs root" >&2; exit 100
fi
mkdir -p "$root/etc"

if [ "$mode" = system ]; then
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/bin/false
	getent group qmail >/dev/null || groupadd -r qmail
	getent group nofiles >/dev/null || groupadd -r nofiles
	adduser_q() { # name group home
		getent passwd "$1" >/dev/null ||
			useradd -r -g "$2" -d "$3" -s "$nologin" -M "$1"
	}
	adduser_q alias nofiles "$prefix/alias"
	adduser_q qmaild nofiles "$prefix"
	adduser_q qmaill nofiles "$prefix"
	adduser_q qmailp nofiles "$prefix"
	adduser_q qmailq qmail "$prefix"
	adduser_q qmailr qmail "$prefix"
	adduser_q qmails qmail "$prefix"
	{
		echo mode=system
		for u in alias qmaild qmaill qmailp qmailq qmailr qmails; do
			echo "$u=$(id -u $u):$(id -g $u)"
		done
		echo "qmail=$(getent group qmail | cut -d: -f3)"
		echo "nofiles=$(getent group nofiles | cut -d: -f3)"
	} > "$root/etc/ids.new"
	own() { chown "$1" "$2"; }
else
	{
		echo mode=user
		for u in alias qmaild qmaill qmailp qmailq qmailr qmails; do
			echo "$u=$(id -u):$(id -g)"
		done
		echo "qmail=$(id -g)"
		echo "nofiles=$(id -g)"
	} > "$root/etc/ids.new"
	own() { :; }
fi
chmod 644 "$root/etc/ids.new"
mv -f "$root/etc/ids.new" "$root/etc/ids"

# dir owner:group mode; setgid directories give new files group qmail
q=$root/queue
qdir() {
	mkdir -p "$1"
	own "$2" "$1"
	chmod "$3" "$1"
}
qdir "$q" qmailq:qmail 750
qdir "$q/tmp" qmailq:qmail 2700
qdir "$q/pool" qmailq:qmail 2700
qdir "$q/mess" qmailq:qmail 2750
qdir "$q/todo" qmailq:qmail 2750
qdir "$q/info" qmails:qmail 700
qdir "$q/bounce" qmails:qmail 700
qdir "$q/lock" qmailq:qmail 750
[ -p "$q/lock/trigger" ] || mkfifo "$q/lock/trigger"
own qmails:qmail "$q/lock/trigger"
chmod 622 "$q/lock/trigger"
[ -f "$q/lock/sendmutex" ] || : > "$q/lock/sendmutex"
own qmails:qmail "$q/lock/sendmutex"
chmod 600 "$q/lock/sendmutex"
# qmail-remote's table of addresses that timed out (qmail-tcpto(8))
[ -f "$q/lock/tcpto" ] || : > "$q/lock/tcpto"
own qmailr:qmail "$q/lock/tcpto"
chmod 644 "$q/lock/tcpto"
# qmail-rcptd's socket lives here; only the qmail users (group nofiles,
# which qmail-smtpd runs with) may reach it (qmail-rcptd(8)).
mkdir -p "$root/rcptd"
if [ "$mode" = system ]; then
	chown root:nofiles "$root/rcptd"
	chmod 750 "$root/rcptd"
else
	chmod 700 "$root/rcptd"
fi
if [ "$mode" = system ]; then
	chown alias:nofiles "$root/alias"
	chmod 2755 "$root/alias"
	if [ -f "$root/bin/qmail-queue" ]; then
		chown qmailq:qmail "$root/bin/qmail-queue"
		chmod 4711 "$root/bin/qmail-queue"
	fi
	chmod 700 "$root/bin/qmail-lspawn" "$root/bin/qmail-start" 2>/dev/null || :
	chmod 711 "$root/bin/qmail-send" "$root/bin/qmail-clean" "$root/bin/qmail-rspawn" 2>/dev/null || :
fi
# ---- services, qmailctl's configuration, site files, sendmail (issue 6)
sh "$(dirname "$0")/install-site.sh" "$root" "$prefix"
exit 0

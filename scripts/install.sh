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
# ---- services, qmailctl's configuration, site files, sendmail (issue 6)
sh "$(dirname "$0")/install-site.sh" "$root" "$prefix"
exit 0

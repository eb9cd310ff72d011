#!/bin/sh
# install-site.sh ROOT PREFIX: the operations part of an install, run by
# install.sh after the programs and the queue. ROOT is where the tree is
# written (DESTDIR followed by PREFIX), PREFIX where it will run.
#
# Every install gets (each file only when missing, so a site's edits stay):
#   PREFIX/supervise/qmail-send and qmail-smtpd, the daemontools service
#     directories with run and log/run scripts (scripts/services/), and
#     qmail-submission and qmail-smtps (ports 587 and 465 with AUTH, run
#     by qmailctl when qmailctl.conf says SUBMISSION=yes), and qmail-rcptd
#     (the recipient checker qmail-smtpd asks at RCPT, qmail-rcptd(8));
#   PREFIX/etc/qmailctl.conf, where qmailctl and the run scripts find the
#     service directories, svscan's directory, the SMTP rules, address, port;
#   the log directories; PREFIX/doc/systemd/ unit files (always refreshed).
# A system install (etc/ids says mode=system) also gets:
#   control/me, locals, rcpthosts (from the host name), concurrencyincoming;
#   the alias user's .qmail-postmaster, .qmail-root, .qmail-mailer-daemon;
#   the SMTP rules file (localhost may relay) and its cdb;
#   in the standard root, /usr/bin/qmailctl linked to PREFIX/bin/qmailctl.
# SENDMAIL=1 links /usr/sbin/sendmail and /usr/lib/sendmail to
# PREFIX/bin/sendmail (a program already there is kept as NAME.nqmail-old).
#
# Paths follow Life with qmail for the standard root /var/qmail (rules in
# /etc/tcp.smtp, logs in /var/log/qmail, services linked into /etc/service
# or /service); any other root keeps them all under itself, so that an
# instance touches nothing outside it.
set -e
root=$1
prefix=$2
[ -n "$root" ] && [ -n "$prefix" ] || { echo "usage: install-site.sh ROOT PREFIX" >&2; exit 100; }
case $root in
*"$prefix") destdir=${root%"$prefix"} ;;
*) echo "install-site.sh: ROOT must end with PREFIX" >&2; exit 100 ;;
esac
here=$(dirname "$0")
umask 022

mode=$(sed -n 's/^mode=//p' "$root/etc/ids" 2>/dev/null || :)
if [ -z "$mode" ]; then
	mode=${NQ_INSTALL_MODE:-}
	[ -n "$mode" ] || { [ "$(id -u)" = 0 ] && mode=system || mode=user; }
fi

if [ "$prefix" = /var/qmail ]; then
	rules=/etc/tcp.smtp
	logs=/var/log/qmail
	log_send=$logs
	log_smtpd=$logs/smtpd
	log_submission=$logs/submission
	log_smtps=$logs/smtps
	log_rcptd=$logs/rcptd
	service=/etc/service
	[ ! -d /etc/service ] && [ -d /service ] && service=/service
else
	rules=$prefix/etc/tcp.smtp
	logs=$prefix/log
	log_send=$logs/qmail-send
	log_smtpd=$logs/qmail-smtpd
	log_submission=$logs/qmail-submission
	log_smtps=$logs/qmail-smtps
	log_rcptd=$logs/qmail-rcptd
	service=$prefix/service
	[ "$mode" = system ] && { service=/etc/service; [ ! -d /etc/service ] && [ -d /service ] && service=/service; }
fi

# new FILE MODE: writes stdin to FILE unless FILE exists (a site's file is
# never replaced); the file appears complete or not at all.
new() {
	if [ -e "$1" ] || [ -L "$1" ]; then
		cat > /dev/null
		return 0
	fi
	cat > "$1.new"
	chmod "$2" "$1.new"
	mv -f "$1.new" "$1"
}

# template FILE: a file of scripts/ with its placeholders filled in.
template() {
	sed -e "s|@PREFIX@|$prefix|g" -e "s|@LOGDIR@|$logdir|g" -e "s|@SERVICE@|$svname|g" "$here/$1"
}

install_services() {
	mkdir -p "$root/etc" "$root/supervise" "$root/doc/systemd"
	for svname in qmail-send qmail-smtpd qmail-submission qmail-smtps qmail-rcptd; do
		d=$root/supervise/$svname
		mkdir -p "$d/log"
		chmod 1755 "$d"
		case $svname in
		qmail-send) logdir=$log_send ;;
		qmail-smtpd) logdir=$log_smtpd ;;
		qmail-submission) logdir=$log_submission ;;
		qmail-rcptd) logdir=$log_rcptd ;;
		*) logdir=$log_smtps ;;
		esac
		runfile=services/$svname.run
		[ "$svname" = qmail-smtps ] && runfile=services/qmail-submission.run
		template "$runfile" | new "$d/run" 755
		template services/log.run | new "$d/log/run" 755
		mkdir -p "$destdir$logdir"
		if [ "$mode" = system ] && getent passwd qmaill > /dev/null; then
			chown qmaill "$destdir$logdir"
			chmod 750 "$destdir$logdir"
		fi
	done
	new "$root/etc/qmailctl.conf" 644 <<EOF
# Read by qmailctl(8) and the service run scripts: KEY=value lines.
# The service directories qmailctl controls:
SUPERVISE=$prefix/supervise
# svscan's directory; qmailctl start links the services into it:
SERVICE=$service
# The SMTP access rules and their compiled form (qmailctl cdb):
TCPRULES=$rules
TCPCDB=$rules.cdb
# Where qmail-smtpd listens (0 is every address):
SMTP_IP=0
SMTP_PORT=25
# Options for tcpserver; add -H to skip reverse DNS lookups:
TCPSERVER_OPTS=-v -R
# Seconds qmailctl stop waits for deliveries in progress:
STOPWAIT=60
# Submission with AUTH: yes makes qmailctl run qmail-submission (STARTTLS,
# SUBMISSION_PORT) and qmail-smtps (implicit TLS, SMTPS_PORT) too; they
# need control/servercert.pem and control/smtppasswd (qmail-checkpw(8)).
# SUBMISSION_IP defaults to SMTP_IP; SUBMISSION_CDB is an optional rules cdb.
SUBMISSION=no
SUBMISSION_PORT=587
SMTPS_PORT=465
EOF
	for f in "$here"/systemd/*.service; do
		n=$(basename "$f")
		sed "s|@PREFIX@|$prefix|g" "$f" > "$root/doc/systemd/.$n.new"
		chmod 644 "$root/doc/systemd/.$n.new"
		mv -f "$root/doc/systemd/.$n.new" "$root/doc/systemd/$n"
	done
}

# The control files qmail's config script writes, from this host's name.
# Note for tests of a system install: locals and rcpthosts name this host,
# so a test that sets control/me to another name sets locals (and
# rcpthosts) too, or the mail goes to qmail-remote.
install_control() {
	host=$(hostname -f 2> /dev/null || :)
	[ -n "$host" ] || host=$(hostname)
	if [ -z "$host" ]; then
		echo "install-site.sh: no host name; write $prefix/control/me, locals and rcpthosts yourself" >&2
	else
		for f in me locals rcpthosts; do
			echo "$host" | new "$root/control/$f" 644
		done
	fi
	echo 20 | new "$root/control/concurrencyincoming" 644
}

# Mail to postmaster, root and MAILER-DAEMON goes to the alias user; empty
# files mean its default delivery (qmail's INSTALL.alias). Put an address
# in them to send it to a person.
install_aliases() {
	for f in .qmail-postmaster .qmail-root .qmail-mailer-daemon; do
		new "$root/alias/$f" 644 < /dev/null
	done
}

install_rules() {
	mkdir -p "$(dirname "$destdir$rules")"
	new "$destdir$rules" 644 <<EOF
# Who may connect to qmail-smtpd, and who may relay (RELAYCLIENT="").
# One rule a line: ADDRESS:allow or ADDRESS:deny, then ,VAR="value" ...
# (tcprules(1)). After editing run: qmailctl cdb
127.:allow,RELAYCLIENT=""
:allow
EOF
	if [ ! -f "$destdir$rules.cdb" ] && command -v tcprules > /dev/null; then
		tcprules "$destdir$rules.cdb" "$destdir$rules.tmp" < "$destdir$rules"
		chmod 644 "$destdir$rules.cdb"
	fi
}

# Life with qmail puts qmailctl in /usr/bin; a system install in the
# standard root does the same (a link; an existing file is left alone).
install_qmailctl_link() {
	t=$destdir/usr/bin/qmailctl
	[ -e "$t" ] || [ -L "$t" ] && return 0
	mkdir -p "$destdir/usr/bin"
	ln -s "$prefix/bin/qmailctl" "$t"
}

install_sendmail() {
	for f in /usr/sbin/sendmail /usr/lib/sendmail; do
		t=$destdir$f
		mkdir -p "$(dirname "$t")"
		[ "$(readlink "$t" 2> /dev/null)" = "$prefix/bin/sendmail" ] && continue
		if [ -e "$t" ] || [ -L "$t" ]; then
			[ -e "$t.nqmail-old" ] || [ -L "$t.nqmail-old" ] || mv "$t" "$t.nqmail-old"
			rm -f "$t"
		fi
		ln -s "$prefix/bin/sendmail" "$t"
	done
}

install_services
if [ "$mode" = system ]; then
	install_control
	install_aliases
	install_rules
	[ "$prefix" = /var/qmail ] && install_qmailctl_link
fi
[ "${SENDMAIL:-0}" = 1 ] && install_sendmail
exit 0

#!/bin/sh
# qmailctl: runs an nqmail installation's supervised services, qmail-send
# and qmail-smtpd (and, with SUBMISSION=yes, qmail-submission and
# qmail-smtps; and qmail-rcptd, the recipient checker, when its service
# directory exists), through daemontools (svc, svstat, svok), and compiles
# the SMTP access rules with tcprules (qmailctl(8)).
#
# Where things are comes from @PREFIX@/etc/qmailctl.conf (KEY=value lines,
# read here and by the services' run scripts, never executed):
#   SUPERVISE  the directory holding the service directories qmail-send
#              and qmail-smtpd (default @PREFIX@/supervise)
#   SERVICE    svscan's directory, into which `start` links the services
#   TCPRULES   the rules file (default /etc/tcp.smtp)
#   TCPCDB     its compiled form, read by tcpserver (default /etc/tcp.smtp.cdb)
#   STOPWAIT   seconds `stop` waits for deliveries in progress (default 60)
#   SUBMISSION yes: also the submission services with AUTH, qmail-submission
#              (port 587, STARTTLS) and qmail-smtps (port 465) (default no)
#
# Exit codes (as Life with qmail's qmailctl): 0 done, 1 a usage error or
# a service or the rules need the operator (the message says which and
# what to do).
PREFIX='@PREFIX@'
CONF="$PREFIX/etc/qmailctl.conf"
PATH="$PREFIX/bin:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
export PATH
umask 022

# conf KEY DEFAULT: the last KEY=value line of the conf file; surrounding
# double quotes are dropped, so KEY="a b" and KEY=a b mean the same.
conf() {
	v=
	if [ -r "$CONF" ]; then
		v=$(sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$CONF" | tail -n 1)
		v=$(printf '%s' "$v" | sed 's/[[:space:]]*$//; s/^"\(.*\)"$/\1/')
	fi
	[ -n "$v" ] || v=$2
	printf '%s\n' "$v"
}

default_service=/etc/service
[ ! -d /etc/service ] && [ -d /service ] && default_service=/service
SUPERVISE=$(conf SUPERVISE "$PREFIX/supervise")
SERVICE=$(conf SERVICE "$default_service")
TCPRULES=$(conf TCPRULES /etc/tcp.smtp)
TCPCDB=$(conf TCPCDB /etc/tcp.smtp.cdb)
STOPWAIT=$(conf STOPWAIT 60)
case $STOPWAIT in '' | *[!0-9]*) STOPWAIT=60 ;; esac
SEND=$SUPERVISE/qmail-send
# The services that take mail over SMTP; qmail-send comes on top.
SMTP_SERVICES=qmail-smtpd
case $(conf SUBMISSION no) in
[Yy][Ee][Ss] | 1 | [Oo][Nn]) SMTP_SERVICES="qmail-smtpd qmail-submission qmail-smtps" ;;
esac
# qmail-rcptd is optional: a tree installed before it existed has no
# service directory for it, and qmail-smtpd then accepts as qmail does.
RCPTD_SERVICE=
[ -d "$SUPERVISE/qmail-rcptd" ] && RCPTD_SERVICE=qmail-rcptd
status=0

say() { printf '%s\n' "$*"; }
warn() { printf 'qmailctl: %s\n' "$*" >&2; }
fail() { warn "$@"; status=1; }

# supervised NAME DIR: whether a supervise process runs on DIR; explains
# what to do when none does.
supervised() {
	if [ ! -d "$2" ]; then
		fail "$1: no service directory $2 (is nqmail installed? see SUPERVISE in $CONF)"
		return 1
	fi
	svok "$2" 2>/dev/null
	case $? in
	0) return 0 ;;
	100)
		fail "$1: not running under supervise; link $2 into svscan's directory $SERVICE (qmailctl start does) and make sure svscan runs there"
		;;
	*)
		fail "$1: cannot talk to supervise in $2/supervise (permission denied? run qmailctl as root)"
		;;
	esac
	return 1
}

# is_down DIR: svstat says the service's process has exited.
is_down() {
	case $(svstat "$1" 2>/dev/null) in
	*": down "*) return 0 ;;
	esac
	return 1
}

# wait_down DIR SECONDS: 0 once the service is down, 1 after SECONDS.
wait_down() {
	n=$(($2 * 5))
	while [ "$n" -gt 0 ]; do
		is_down "$1" && return 0
		sleep 0.2
		n=$((n - 1))
	done
	is_down "$1"
}

# link_service NAME DIR: links DIR into svscan's directory when it is not
# there yet, so that svscan starts supervising it within five seconds.
link_service() {
	[ -e "$SERVICE/$1" ] || [ -L "$SERVICE/$1" ] && return 0
	if [ ! -d "$SERVICE" ]; then
		fail "$1: svscan's directory $SERVICE does not exist; create it and run svscan there (Debian: apt install daemontools-run), or set SERVICE in $CONF"
		return 1
	fi
	ln -s "$2" "$SERVICE/$1" || {
		fail "$1: cannot link $2 into $SERVICE"
		return 1
	}
	say "$1: linked into $SERVICE"
}

# wait_supervised DIR SECONDS: svscan rescans its directory every five
# seconds; supervise then needs a moment to set up DIR/supervise.
wait_supervised() {
	n=$(($2 * 5))
	while [ "$n" -gt 0 ]; do
		svok "$1" 2>/dev/null && svok "$1/log" 2>/dev/null && return 0
		sleep 0.2
		n=$((n - 1))
	done
	svok "$1" 2>/dev/null
}

do_start() {
	for s in qmail-send $RCPTD_SERVICE $SMTP_SERVICES; do
		dir=$SUPERVISE/$s
		if [ ! -d "$dir" ]; then
			fail "$s: no service directory $dir (is nqmail installed? see SUPERVISE in $CONF)"
			continue
		fi
		svok "$dir" 2>/dev/null && continue
		link_service "$s" "$dir" && wait_supervised "$dir" 12
	done
	[ "$status" = 0 ] || return
	for s in qmail-send $RCPTD_SERVICE $SMTP_SERVICES; do
		dir=$SUPERVISE/$s
		supervised "$s" "$dir" || continue
		say "Starting $s."
		svc -u "$dir" "$dir/log"
	done
}

do_stop() {
	stopped=
	# SMTP first: tcpserver exits, so new connections are refused; the
	# sessions it already runs end on their own.
	for s in $SMTP_SERVICES; do
		if supervised "$s" "$SUPERVISE/$s"; then
			say "Stopping $s."
			svc -d "$SUPERVISE/$s"
			stopped="$stopped $s"
		fi
	done
	# The recipient checker only serves them; it has nothing to finish.
	for s in $RCPTD_SERVICE; do
		if supervised "$s" "$SUPERVISE/$s"; then
			say "Stopping $s."
			svc -d "$SUPERVISE/$s"
			stopped="$stopped $s"
		fi
	done
	# TERM makes qmail-send finish the deliveries in progress and exit;
	# svc -d also sends CONT, so a paused qmail-send hears it.
	if supervised qmail-send "$SEND"; then
		say "Stopping qmail-send."
		svc -d "$SEND"
		stopped="$stopped send"
	fi
	for s in $stopped; do
		[ "$s" = send ] && continue
		wait_down "$SUPERVISE/$s" 10 || fail "$s: still running after 10 seconds; see svstat $SUPERVISE/$s"
	done
	case $stopped in *send*)
		if ! wait_down "$SEND" "$STOPWAIT"; then
			warn "qmail-send: still finishing deliveries after $STOPWAIT seconds; it exits when they end (see svstat $SEND)"
		fi
		;;
	esac
}

do_restart() {
	for s in $SMTP_SERVICES; do
		supervised "$s" "$SUPERVISE/$s" || return
	done
	supervised qmail-send "$SEND" || return
	for s in $SMTP_SERVICES; do
		say "Restarting $s."
		svc -d "$SUPERVISE/$s"
	done
	for s in $SMTP_SERVICES; do
		wait_down "$SUPERVISE/$s" 10
	done
	say "Restarting qmail-send."
	# TERM (qmail-send finishes what it is delivering), CONT in case it
	# was paused; -u brings it back if it was stopped, supervise
	# restarts it after the TERM because it is wanted up.
	if is_down "$SEND"; then
		svc -u "$SEND" "$SEND/log"
	else
		svc -t -c "$SEND"
		svc -u "$SEND/log"
	fi
	for s in $RCPTD_SERVICE; do
		supervised "$s" "$SUPERVISE/$s" || continue
		say "Restarting $s."
		svc -t "$SUPERVISE/$s"
		svc -u "$SUPERVISE/$s" "$SUPERVISE/$s/log"
	done
	for s in $SMTP_SERVICES; do
		svc -u "$SUPERVISE/$s" "$SUPERVISE/$s/log"
	done
}

signal_send() { # what svc-option
	supervised qmail-send "$SEND" || return
	say "$1"
	svc "$2" "$SEND"
}

# stat_dir DIR: svstat's line for DIR, or what it means when nothing
# supervises it (svstat's own words would be "unable to open supervise/ok").
stat_dir() {
	if svok "$1" 2> /dev/null; then
		svstat "$1"
	else
		say "$1: supervise not running"
		status=1
	fi
}

do_stat() {
	stat_dir "$SEND"
	stat_dir "$SEND/log"
	for s in $SMTP_SERVICES $RCPTD_SERVICE; do
		stat_dir "$SUPERVISE/$s"
		stat_dir "$SUPERVISE/$s/log"
	done
	[ "$status" = 0 ] || warn "a service is not supervised: run qmailctl start (svscan must run on $SERVICE)"
	if [ -x "$PREFIX/bin/qmail-qstat" ]; then
		qmail-qstat || status=1
	fi
}

do_queue() {
	for p in qmail-qstat qmail-qread; do
		if [ ! -x "$PREFIX/bin/$p" ]; then
			fail "queue: $PREFIX/bin/$p is missing; reinstall nqmail"
			return
		fi
	done
	qmail-qstat || status=1
	qmail-qread || status=1
}

# cdb: compiles TCPRULES into TCPCDB. tcprules itself replaces the cdb
# atomically and leaves it alone when a line does not parse, but Debian's
# tcprules loops forever on a line whose instructions do not begin with
# allow or deny, so those lines are refused here first, and tcprules runs
# under a time limit.
do_cdb() {
	if [ ! -f "$TCPRULES" ]; then
		fail "cdb: no rules file $TCPRULES; create it, e.g. with the two lines
127.:allow,RELAYCLIENT=\"\"
:allow
and run qmailctl cdb again"
		return
	fi
	bad=$(grep -n -v -E '^(#.*)?$' "$TCPRULES" |
		grep -v -E '^[0-9]+:.*:(allow|deny)(,.*)?[[:space:]]*$' | head -n 5)
	if [ -n "$bad" ]; then
		fail "cdb: $TCPRULES has lines that are not rules (each is ADDRESS:allow or ADDRESS:deny, optionally followed by ,VAR=\"VALUE\"):
$bad
$TCPCDB was left unchanged; fix the file and run qmailctl cdb again"
		return
	fi
	tmp=$TCPCDB.tmp
	if timeout 60 tcprules "$TCPCDB" "$tmp" < "$TCPRULES"; then
		chmod 644 "$TCPCDB"
		say "Reloaded $TCPRULES."
		return
	fi
	rm -f "$tmp"
	fail "cdb: tcprules refused $TCPRULES (see its message above); $TCPCDB was left unchanged; fix the file and run qmailctl cdb again"
}

usage() {
	cat <<EOF
usage: qmailctl {start|stop|restart|doqueue|flush|alrm|reload|hup|stat|pause|cont|cdb|queue|help}
   stop -- stops mail service (smtp connections refused, nothing goes out)
  start -- starts mail service (smtp connection accepted, mail can go out)
  pause -- temporarily stops mail service (connections accepted, nothing leaves)
   cont -- continues paused mail service
   stat -- displays status of mail service
    cdb -- rebuild the tcpserver cdb file for smtp
restart -- stops and restarts smtp, sends qmail-send a TERM & restarts it
doqueue -- schedules queued messages for immediate delivery
 reload -- sends qmail-send HUP, rereading locals and virtualdomains
  queue -- shows status of queue
   alrm -- same as doqueue
  flush -- same as doqueue
    hup -- same as reload
EOF
}

case $1 in
start) do_start ;;
stop) do_stop ;;
restart) do_restart ;;
doqueue | flush | alrm) signal_send "Sending ALRM signal to qmail-send." -a ;;
reload | hup) signal_send "Sending HUP signal to qmail-send." -h ;;
stat) do_stat ;;
pause)
	# Only qmail-send stops (STOP): qmail-smtpd keeps accepting and
	# queueing, nothing leaves until cont.
	signal_send "Pausing qmail-send." -p
	;;
cont)
	if supervised qmail-send "$SEND"; then
		say "Continuing qmail-send."
		svc -c "$SEND"
	fi
	for s in $SMTP_SERVICES; do
		[ -d "$SUPERVISE/$s" ] && svok "$SUPERVISE/$s" 2>/dev/null && svc -c "$SUPERVISE/$s"
	done
	;;
cdb) do_cdb ;;
queue) do_queue ;;
help) usage ;;
*)
	usage >&2
	exit 1
	;;
esac
exit $status

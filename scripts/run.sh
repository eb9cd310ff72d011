#!/bin/sh
# run.sh ROOT PORT [SUBMISSION_PORT [SMTPS_PORT]]: runs the user instance
# installed in ROOT (make run).
#
# The first run sets the instance up: control files for "localhost", a
# sample user demo@localhost (users/assign, no system account) whose
# Maildir is ROOT/home/demo/Maildir, SMTP rules that accept everyone and
# relay for no one, a self-signed certificate made by openssl
# (control/servercert.pem), an AUTH password for demo (control/smtppasswd,
# the password itself in ROOT/etc/demo-password), and svscan's directory
# ROOT/service with the qmail-send, qmail-smtpd, qmail-submission
# (STARTTLS + AUTH on SUBMISSION_PORT, default PORT+1) and qmail-smtps
# (implicit TLS + AUTH on SMTPS_PORT, default PORT+2) services, and qmail-rcptd
# (unknown local recipients refused at RCPT). Later runs
# keep all of it (and the queue) and only take the new ports.
#
# svscan runs in a session of its own, so that Ctrl-C reaches only this
# script, which then stops the services the way qmailctl stop does (SMTP
# first, qmail-send finishes its deliveries), ends svscan and every
# supervise, and waits (bounded) until no process of the session is left.
# Everything runs as the invoking user; nothing outside ROOT is touched.
set -e
root=$1
port=$2
case $port in '' | *[!0-9]*)
	echo "make run: PORT must be a number (make run PORT=2600)" >&2
	exit 100
	;;
esac
subport=${3:-$((port + 1))}
smtpsport=${4:-$((port + 2))}
case $subport$smtpsport in *[!0-9]*)
	echo "make run: SUBMISSION_PORT and SMTPS_PORT must be numbers" >&2
	exit 100
	;;
esac
PATH="$root/bin:/usr/bin:/bin:/usr/sbin:/sbin"
export PATH
umask 022
conf=$root/etc/qmailctl.conf
svc_dir=$root/service
user=$(id -un)
home=$root/home/demo

# set_conf KEY VALUE: one KEY=VALUE line in qmailctl.conf.
set_conf() {
	grep -v "^[[:space:]]*$1[[:space:]]*=" "$conf" > "$conf.new" || :
	printf '%s=%s\n' "$1" "$2" >> "$conf.new"
	mv -f "$conf.new" "$conf"
}

# first FILE: writes stdin to FILE only when it does not exist yet.
first() {
	if [ -e "$1" ]; then cat > /dev/null; else cat > "$1"; fi
}

listening() {
	tcpclient -RHl0 -T2 127.0.0.1 "$port" true > /dev/null 2>&1
}

services="qmail-send qmail-rcptd qmail-smtpd qmail-submission qmail-smtps"
for s in $services; do
	if svok "$root/supervise/$s" 2> /dev/null; then
		echo "make run: this instance is already running (supervise on $root/supervise/$s)." >&2
		echo "Stop the other make run with Ctrl-C first; if it is gone, stop what it left with" >&2
		echo "  svc -dx $root/supervise/qmail-* $root/supervise/qmail-*/log" >&2
		exit 1
	fi
done
if listening; then
	echo "make run: something already listens on 127.0.0.1:$port; pick another port: make run PORT=2600" >&2
	exit 1
fi

# ---- the instance's configuration (first run), the port (every run)
echo localhost | first "$root/control/me"
echo localhost | first "$root/control/locals"
echo localhost | first "$root/control/rcpthosts"
echo ./Maildir/ | first "$root/control/defaultdelivery"
mkdir -p "$home/Maildir/new" "$home/Maildir/cur" "$home/Maildir/tmp"
echo ./Maildir/ | first "$home/.qmail"
if [ ! -f "$root/users/assign" ]; then
	printf '=demo:%s:%s:%s:%s:::\n+demo-:%s:%s:%s:%s:-::\n.\n' \
		"$user" "$(id -u)" "$(id -g)" "$home" "$user" "$(id -u)" "$(id -g)" "$home" \
		> "$root/users/assign"
	(cd "$root" && qmail-newu)
fi
set_conf SERVICE "$svc_dir"
set_conf SMTP_IP 127.0.0.1
set_conf SMTP_PORT "$port"
set_conf TCPSERVER_OPTS "-v -R -H"
set_conf STOPWAIT 20
set_conf SUBMISSION yes
set_conf SUBMISSION_PORT "$subport"
set_conf SMTPS_PORT "$smtpsport"
# Submission: a self-signed certificate for localhost and a password for
# demo, made once; the certificate is read per connection, so replacing
# control/servercert.pem needs no restart.
if [ ! -f "$root/control/servercert.pem" ]; then
	tmp=$root/control/.servercert
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
		-keyout "$tmp.key" -out "$tmp.crt" > /dev/null 2>&1
	(umask 077 && cat "$tmp.crt" "$tmp.key" > "$tmp.pem")
	rm -f "$tmp.key" "$tmp.crt"
	mv "$tmp.pem" "$root/control/servercert.pem"
fi
if [ ! -f "$root/control/smtppasswd" ]; then
	(umask 077 && openssl rand -hex 8 > "$root/etc/demo-password")
	(umask 077 && printf 'demo:%s\n' "$(openssl passwd -6 -stdin < "$root/etc/demo-password")" \
		> "$root/control/smtppasswd")
fi
demopw=$(cat "$root/etc/demo-password" 2> /dev/null || echo '(see control/smtppasswd)')
rules=$(sed -n 's/^TCPRULES=//p' "$conf" | tail -n 1)
first "$rules" <<EOF
# make run's SMTP rules: everyone may connect, nobody may relay, so mail
# is accepted only for the domains in control/rcpthosts (localhost).
# To let this machine relay through the instance, add the line
#   127.:allow,RELAYCLIENT=""
# before the last one and run: $root/bin/qmailctl cdb
:allow
EOF
qmailctl cdb > /dev/null
mkdir -p "$svc_dir" "$root/log"
for s in $services; do
	[ -L "$svc_dir/$s" ] || ln -s "$root/supervise/$s" "$svc_dir/$s"
done

# ---- start
# Not a process group leader (no job control here), so setsid does not
# fork and $! is svscan itself; its session holds every process it starts.
setsid svscan "$svc_dir" > "$root/log/svscan.log" 2>&1 < /dev/null &
svscan_pid=$!

# The live processes of svscan's session (exited ones wait for init to
# reap them, as zombies, and do not count).
session_pids() {
	ps -e -o pid= -o sid= -o stat= | awk -v s="$svscan_pid" '$2 == s && $3 !~ /^Z/ { print $1 }'
}

stop_all() {
	trap '' INT TERM HUP
	echo
	echo "Stopping nqmail (qmail-smtpd first, then qmail-send finishes its deliveries)..."
	kill "$svscan_pid" 2> /dev/null || :
	wait "$svscan_pid" 2> /dev/null || :
	# -dx: down, then supervise exits once its service has exited. The
	# loggers get only -x, and first: each reads to the end of its input
	# (once every writer is gone), so the last log lines are kept, and its
	# supervise exits with it instead of restarting it.
	for s in $services; do
		svc -x "$root/supervise/$s/log" 2> /dev/null || :
	done
	for s in qmail-smtpd qmail-submission qmail-smtps qmail-rcptd qmail-send; do
		svc -dx "$root/supervise/$s" 2> /dev/null || :
	done
	n=0
	while [ $n -lt 300 ] && [ -n "$(session_pids)" ]; do
		if [ $n = 250 ]; then
			for s in $services; do svc -dx "$root/supervise/$s/log" 2> /dev/null; done
		fi
		sleep 0.1
		n=$((n + 1))
	done
	left=$(session_pids)
	if [ -n "$left" ]; then
		echo "Still running after 30 seconds, killing:" $left
		kill -KILL $left 2> /dev/null || :
	fi
	echo "Stopped. The instance, its queue and the mailbox stay in $root."
	exit 0
}
trap stop_all INT TERM HUP

n=0
until listening; do
	n=$((n + 1))
	if [ $n -ge 150 ] || ! kill -0 "$svscan_pid" 2> /dev/null; then
		echo "make run: qmail-smtpd did not come up on 127.0.0.1:$port; its log:" >&2
		tail -n 5 "$root/log/qmail-smtpd/current" "$root/log/svscan.log" >&2 2> /dev/null || :
		stop_all
	fi
	sleep 0.2
done

# The submission ports come up with the SMTP port; a port that is
# taken only costs its service (see its log).
n=0
until tcpclient -RHl0 -T2 127.0.0.1 "$smtpsport" true > /dev/null 2>&1 || [ $n -ge 25 ]; do
	sleep 0.2
	n=$((n + 1))
done

cat <<EOF

nqmail runs on 127.0.0.1:$port (instance: $root)
  submission: 127.0.0.1:$subport (STARTTLS, AUTH), 127.0.0.1:$smtpsport (implicit TLS, AUTH)
  services:  $root/bin/qmailctl stat (qmail-rcptd refuses unknown recipients at RCPT)
  logs:      $root/log/qmail-send/current, $root/log/qmail-smtpd/current,
             $root/log/qmail-submission/current, $root/log/qmail-smtps/current

Send a message to the sample user demo@localhost:
  swaks --server 127.0.0.1 --port $port --from you@example.com --to demo@localhost
  python3 -c 'import smtplib; smtplib.SMTP("127.0.0.1", $port).sendmail("you@example.com", ["demo@localhost"], "Subject: hello\n\nhello from smtplib\n")'

It lands in: $home/Maildir/new/

Submit with AUTH as demo (password $demopw, self-signed certificate):
  swaks --server 127.0.0.1 --port $subport --tls --auth PLAIN --auth-user demo --auth-password $demopw --from demo@localhost --to demo@localhost
  swaks --server 127.0.0.1 --port $smtpsport --tlsc --auth LOGIN --auth-user demo --auth-password $demopw --from demo@localhost --to demo@localhost

Ctrl-C stops everything; make run again picks up where it stopped.
EOF
"$root/bin/qmailctl" stat 2> /dev/null | sed 's/^/  /' || :

# wait returns early when a trapped signal arrives.
while kill -0 "$svscan_pid" 2> /dev/null; do
	wait "$svscan_pid" || :
done
echo "make run: svscan exited unexpectedly; see $root/log/svscan.log" >&2
stop_all

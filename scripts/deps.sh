#!/bin/sh
# Installs the Debian packages the build and the tests need, when missing.
# Needs root (as in CI); an ordinary user is told what to install.
set -e
pkgs="build-essential pkg-config check libcdb-dev tinycdb libssl-dev openssl
ucspi-tcp-ipv6 daemontools python3-pytest swaks
dnsmasq-base postfix python3-aiosmtpd musl-tools strace"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: please install:$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# dnsmasq-base is the dnsmasq program without the service that would take
# port 53. Postfix is here for smtp-sink/smtp-source and bench/relay: it
# must not configure itself as the system's mailer or listen on port 25.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null

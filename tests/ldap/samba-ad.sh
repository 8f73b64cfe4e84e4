#!/usr/bin/env bash
# A Samba Active Directory domain controller for tests; everything it writes stays in DIR.
#
#   samba-ad.sh start DIR   provision DIR unless it is provisioned, start (or reuse) the DC; prints the ldap:// URL
#   samba-ad.sh stop DIR    stop the DC started from DIR
#
# The domain: realm EXAMPLE.TEST, naming context DC=example,DC=test, Administrator@EXAMPLE.TEST / Passw0rd!scimd,
# simple binds allowed without TLS. Samba listens on the fixed ports 389 and 636, so one DC serves every test on
# the machine: tests reuse a running one and keep their entries apart in their own OUs.
set -euo pipefail

SAMBA=${SAMBA:-/usr/sbin/samba}
SAMBA_TOOL=${SAMBA_TOOL:-/usr/bin/samba-tool}
ADMIN_PASSWORD='Passw0rd!scimd'
URL=ldap://127.0.0.1:389

die() {
  echo "samba-ad.sh: $*" >&2
  exit 1
}

answers() {
  ldapsearch -x -H "$URL" -D 'Administrator@EXAMPLE.TEST' -w "$ADMIN_PASSWORD" -b '' -s base -LLL dn >/dev/null 2>&1
}

pid_of() {
  local pid_file=$1/run/samba.pid
  [[ -e $pid_file ]] || return 1
  local pid
  pid=$(cat "$pid_file")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

provision() {
  local dir=$1
  "$SAMBA_TOOL" domain provision --realm=EXAMPLE.TEST --domain=EXAMPLE --server-role=dc --dns-backend=NONE \
    --adminpass="$ADMIN_PASSWORD" --targetdir="$dir" --host-ip=127.0.0.1 --use-rfc2307 \
    --option="interfaces=127.0.0.1" --option="bind interfaces only=yes" >"$dir/provision.log" 2>&1 ||
    die "provisioning failed; see $dir/provision.log"
  # Keeps the DC's files in DIR, and runs only the LDAP server: the tests need nothing else, and the
  # other services would take more fixed ports (88, 135, 445, …).
  sed -i '/^[[:space:]]*server services[[:space:]]*=/d' "$dir/etc/smb.conf"
  sed -i "/^\[global\]/a\\
	ldap server require strong auth = no\\
	server services = ldap\\
	pid directory = $dir/run\\
	ncalrpc dir = $dir/run/ncalrpc\\
	winbindd socket directory = $dir/run/winbindd\\
	ntp signd socket directory = $dir/run/ntp_signd\\
	log file = $dir/log/samba.log" "$dir/etc/smb.conf"
  mkdir -p "$dir/run" "$dir/log"
}

start() {
  local dir=${1:?usage: samba-ad.sh start DIR}
  [[ -x $SAMBA ]] || die "$SAMBA not found (apt install samba samba-ad-dc samba-ad-provision winbind krb5-user ldap-utils)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # Test binaries may start together: one provisions and starts, the others then reuse it.
  exec 9>"$dir.lock"
  flock 9
  if pid_of "$dir" >/dev/null && answers; then
    echo "$URL"
    return 0
  fi
  if answers || ss -Hltn 'sport = :389' | grep -q .; then
    die "port 389 is taken by another server ($(ss -Hltnp 'sport = :389' | head -n 1)); stop it or stop its DC with samba-ad.sh stop"
  fi
  [[ -e $dir/etc/smb.conf ]] || provision "$dir"
  # The lock's descriptor is not handed to the daemon, or it would hold the lock while it runs.
  "$SAMBA" -s "$dir/etc/smb.conf" -D 9>&- || die "samba did not start; see $dir/log/samba.log"
  local tries
  for tries in $(seq 1 300); do
    if answers; then
      echo "$URL"
      return 0
    fi
    sleep 0.1
  done
  die "the DC at $URL did not answer within 30 s; see $dir/log/samba.log"
}

stop() {
  local dir=${1:?usage: samba-ad.sh stop DIR}
  local pid tries
  pid=$(pid_of "$dir") || return 0
  kill "$pid"
  for tries in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

case ${1:-} in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) die "usage: samba-ad.sh start DIR | samba-ad.sh stop DIR" ;;
esac

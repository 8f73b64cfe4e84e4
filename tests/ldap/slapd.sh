#!/usr/bin/env bash
# A throwaway OpenLDAP for tests and benchmarks; everything it writes stays in DIR.
#
#   slapd.sh start DIR [LDIF...]   configure, load the LDIF files, start; prints the ldap:// URL
#                                  (StartTLS offered); DIR/ldaps-url holds the ldaps:// URL and
#                                  DIR/tls/ca.pem the CA of the certificate both present
#   slapd.sh stop DIR              stop the instance started in DIR
#
# The directory: suffix dc=example,dc=com, rootdn cn=admin,dc=example,dc=com / secret, ou=people and
# ou=groups, and a reader cn=reader,dc=example,dc=com / reader whose unpaged searches are cut at 1000
# entries while its paged searches may read everything (like a production directory's limits), and
# cn=capped,dc=example,dc=com / capped, whose paged searches too stop after 1200 entries (sizeLimitExceeded).
# slapadd bypasses overlays, so loaded LDIF must carry memberOf itself.
set -euo pipefail

SLAPD=${SLAPD:-/usr/sbin/slapd}
SLAPADD=${SLAPADD:-/usr/sbin/slapadd}
SCHEMA_DIR=/etc/ldap/schema
MODULE_DIR=/usr/lib/ldap

die() {
  echo "slapd.sh: $*" >&2
  exit 1
}

write_config() {
  local dir=$1
  cat >"$dir/slapd.conf" <<EOF
include $SCHEMA_DIR/core.schema
include $SCHEMA_DIR/cosine.schema
include $SCHEMA_DIR/inetorgperson.schema
include $SCHEMA_DIR/nis.schema

modulepath $MODULE_DIR
moduleload back_mdb
moduleload memberof
moduleload refint
moduleload syncprov

TLSCACertificateFile $dir/tls/ca.pem
TLSCertificateFile $dir/tls/cert.pem
TLSCertificateKeyFile $dir/tls/key.pem

pidfile $dir/slapd.pid
argsfile $dir/slapd.args
sizelimit 1000

database mdb
maxsize 8589934592
suffix "dc=example,dc=com"
rootdn "cn=admin,dc=example,dc=com"
rootpw secret
directory $dir/data
# Thrown away after use: no need to sync every write to disk.
dbnosync
index objectClass eq
index entryUUID eq
index uid,mail,member,memberUid eq
index entryCSN eq

limits dn.exact="cn=reader,dc=example,dc=com" size.soft=1000 size.hard=1000 size.prtotal=unlimited
limits dn.exact="cn=capped,dc=example,dc=com" size.soft=1000 size.hard=1000 size.prtotal=1200

access to dn.base="" by * read
access to attrs=userPassword by self =xw by anonymous auth by * none
access to * by dn.exact="cn=reader,dc=example,dc=com" read by users read by * none

overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE

overlay refint
refint_attributes member

# Keeps contextCSN on the suffix: the connector's mark of the latest change at the start of a run.
overlay syncprov
EOF
}

write_base_ldif() {
  cat >"$1/base.ldif" <<'EOF'
dn: dc=example,dc=com
objectClass: top
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=com
objectClass: organizationalUnit
ou: groups

dn: cn=reader,dc=example,dc=com
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: reader

dn: cn=capped,dc=example,dc=com
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: capped
userPassword: capped
EOF
}

# A throwaway CA (DIR/tls/ca.pem, the file clients are given) and a certificate for 127.0.0.1 it
# signed: rustls, like most clients, refuses a CA certificate presented as the server's own.
write_certificates() {
  local tls=$1/tls
  mkdir -p "$tls"
  {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=scimd test CA" \
      -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" \
      -keyout "$tls/key.pem" -out "$tls/server.csr" &&
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" -CAcreateserial -days 2 \
      -extfile <(printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n') \
      -out "$tls/cert.pem"
  } 2>"$tls/openssl.log" || die "openssl could not make the certificates; see $tls/openssl.log"
}

# slapd opens its listeners before it detaches, so a taken port makes it exit non-zero: try others.
start_on_free_port() {
  local dir=$1 attempt port
  for attempt in $(seq 1 20); do
    port=$((20000 + RANDOM % 40000))
    if "$SLAPD" -f "$dir/slapd.conf" -h "ldap://127.0.0.1:$port/ ldaps://127.0.0.1:$((port + 1))/" 2>"$dir/slapd.log"; then
      echo "ldaps://127.0.0.1:$((port + 1))" >"$dir/ldaps-url"
      echo "ldap://127.0.0.1:$port"
      return 0
    fi
  done
  die "slapd did not start after $attempt attempts; see $dir/slapd.log"
}

wait_until_answering() {
  local url=$1 tries
  for tries in $(seq 1 250); do
    if ldapsearch -x -H "$url" -b "" -s base -LLL dn >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.02
  done
  die "slapd at $url did not answer within 5 s"
}

start() {
  local dir=${1:?usage: slapd.sh start DIR [LDIF...]}
  shift
  [[ -x $SLAPD ]] || die "$SLAPD not found (apt install slapd ldap-utils)"
  mkdir -p "$dir/data"
  dir=$(cd "$dir" && pwd)
  [[ ! -e $dir/slapd.pid ]] || die "$dir/slapd.pid exists: stop that instance first"
  write_config "$dir"
  write_certificates "$dir"
  write_base_ldif "$dir"
  local ldif
  for ldif in "$dir/base.ldif" "$@"; do
    "$SLAPADD" -q -f "$dir/slapd.conf" -l "$ldif" 2>>"$dir/slapadd.log" || die "slapadd of $ldif failed; see $dir/slapadd.log"
  done
  local url
  url=$(start_on_free_port "$dir")
  wait_until_answering "$url"
  echo "$url"
}

stop() {
  local dir=${1:?usage: slapd.sh stop DIR}
  local pid_file=$dir/slapd.pid
  [[ -e $pid_file ]] || return 0
  local pid tries
  pid=$(cat "$pid_file")
  kill "$pid" 2>/dev/null || true
  for tries in $(seq 1 250); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
}

case ${1:-} in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) die "usage: slapd.sh start DIR [LDIF...] | slapd.sh stop DIR" ;;
esac

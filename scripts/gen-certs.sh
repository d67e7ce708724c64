#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Make a root CA common to all clusters, one intermediate CA per cluster and
# one leaf certificate per cluster, in Istio's cacerts layout. For the demo,
# the tests and first users: a production mesh gets its intermediates from
# its own PKI, and its root key never sits next to the certificates.
#
# Only the openssl command (OpenSSL 3.0) is used. Everything is made in a
# scratch directory first and moved into place at the end, so a failure
# leaves OUTDIR as it was.
set -euo pipefail

prog=gen-certs.sh
default_identity=spiffe://cluster.local/ns/spillway/sa/spillway

usage() {
	cat <<EOF
usage: $prog [options] OUTDIR CLUSTER [CLUSTER...]

Writes the root CA OUTDIR/root-cert.pem and OUTDIR/root-key.pem and, for each
CLUSTER, a directory OUTDIR/CLUSTER/ with:
  root-cert.pem   a copy of the root
  ca-cert.pem     the cluster's intermediate CA (CA:TRUE, pathlen:0)
  ca-key.pem      its key
  cert-chain.pem  the leaf, then the intermediate
  key.pem         the leaf's key
A node needs only root-cert.pem, cert-chain.pem and key.pem (tls.dir).
Keys are ECDSA P-256, mode 0600. The leaf has CN=CLUSTER, keyUsage
digitalSignature, extendedKeyUsage serverAuth and clientAuth.

options:
  --identity URI        the leaf's URI SAN (default $default_identity);
                        '' for none, then give --dns
  --dns NAME            add a DNS SAN to the leaf (repeatable)
  --days N              the leaf's validity in days (default 365)
  --ca-days N           the intermediates' validity in days (default 1825);
                        a new root is valid for 3650 days
  --leaf-not-before WHEN
  --leaf-not-after WHEN the leaf's validity, WHEN as date -d takes it:
                        '2030-01-01 UTC', '-1 day', '@1900000000'
  --expired             the leaf expired yesterday (for tests)
  --no-san              the leaf has no subjectAltName (for tests: spillway
                        refuses such a certificate)
  --root DIR            sign with the root CA in DIR (root-cert.pem and
                        root-key.pem) instead of making a new one; DIR may be
                        OUTDIR, to add clusters to an existing root
  --force               replace existing files
  -h, --help            print this help

Certificates are valid from one hour ago, for clocks that differ a little
between clusters.

examples:
  $prog certs cluster1 cluster2
  $prog --root certs certs cluster3
  $prog --root certs --expired certs old
EOF
}

die() {
	echo "$prog: $*" >&2
	exit 1
}

need_value() {
	[ $# -ge 2 ] || die "$1 needs a value (see $prog -h)"
}

identity=$default_identity
dns=()
days=365
ca_days=1825
root_days=3650
not_before=
not_after=
no_san=0
root_dir=
force=0

# Options may come before, between or after OUTDIR and the clusters.
args=()
while [ $# -gt 0 ]; do
	case $1 in
	-h|--help) usage; exit 0 ;;
	--identity) need_value "$@"; identity=$2; shift 2 ;;
	--identity=*) identity=${1#*=}; shift ;;
	--dns) need_value "$@"; dns+=("$2"); shift 2 ;;
	--dns=*) dns+=("${1#*=}"); shift ;;
	--days) need_value "$@"; days=$2; shift 2 ;;
	--days=*) days=${1#*=}; shift ;;
	--ca-days) need_value "$@"; ca_days=$2; shift 2 ;;
	--ca-days=*) ca_days=${1#*=}; shift ;;
	--leaf-not-before) need_value "$@"; not_before=$2; shift 2 ;;
	--leaf-not-before=*) not_before=${1#*=}; shift ;;
	--leaf-not-after) need_value "$@"; not_after=$2; shift 2 ;;
	--leaf-not-after=*) not_after=${1#*=}; shift ;;
	--expired) not_before='-2 days'; not_after='-1 day'; shift ;;
	--no-san) no_san=1; shift ;;
	--root) need_value "$@"; root_dir=$2; shift 2 ;;
	--root=*) root_dir=${1#*=}; shift ;;
	--force) force=1; shift ;;
	--) shift; args+=("$@"); break ;;
	-?*) die "unknown option '$1' (see $prog -h)" ;;
	*) args+=("$1"); shift ;;
	esac
done

[ ${#args[@]} -ge 2 ] || die "needs OUTDIR and at least one CLUSTER (see $prog -h)"
outdir=${args[0]}
clusters=("${args[@]:1}")

command -v openssl >/dev/null ||
	die "openssl not found; install it (apt-get install openssl)"

for n in "$days" "$ca_days"; do
	[[ $n =~ ^[1-9][0-9]{0,5}$ ]] ||
		die "'$n' is not a number of days (1 to 999999)"
done
for c in "${clusters[@]}"; do
	[[ $c =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]] ||
		die "'$c' is not a usable cluster name (letters, digits, '.', '_', '-'; it names a directory and the leaf's CN)"
done
for d in "${dns[@]}"; do
	[[ $d =~ ^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] ||
		die "--dns '$d' is not a DNS name"
done
if [ -n "$identity" ]; then
	[[ $identity =~ ^[a-z][a-z0-9+.-]*://[^[:space:],]+$ ]] ||
		die "--identity '$identity' is not a URI (e.g. $default_identity)"
fi
if [ "$no_san" = 0 ] && [ -z "$identity" ] && [ ${#dns[@]} -eq 0 ]; then
	die "--identity '' leaves the leaf without a SAN: give --dns NAME (or --no-san if that is what the test wants)"
fi

# openssl ca takes times as YYYYMMDDHHMMSSZ, in UTC.
stamp() {
	date -u -d "$1" +%Y%m%d%H%M%SZ 2>/dev/null ||
		die "cannot read '$1' as a date (see date(1), e.g. '2030-01-01 UTC' or '-1 day')"
}

start=$(stamp '-1 hour')
leaf_start=$(stamp "${not_before:--1 hour}")
leaf_end=$(stamp "${not_after:-+$days days}")
[[ $leaf_end > $leaf_start ]] ||
	die "the leaf would expire (${leaf_end}) before it starts (${leaf_start})"

mkdir -p "$outdir" || die "cannot create $outdir"

# Which root: a new one in OUTDIR, or the one in --root DIR.
if [ -n "$root_dir" ]; then
	[ -f "$root_dir/root-cert.pem" ] ||
		die "$root_dir/root-cert.pem: not found; --root needs a directory made by $prog"
	[ -f "$root_dir/root-key.pem" ] ||
		die "$root_dir/root-key.pem: not found; --root needs the root CA's key to sign"
	if [ -e "$outdir/root-cert.pem" ] && [ "$force" = 0 ] &&
	   ! cmp -s "$root_dir/root-cert.pem" "$outdir/root-cert.pem"; then
		die "$outdir/root-cert.pem is another root than $root_dir/root-cert.pem; use --force to replace it"
	fi
elif [ -e "$outdir/root-cert.pem" ] && [ "$force" = 0 ]; then
	die "$outdir/root-cert.pem exists; use --root $outdir to add clusters to it, or --force to make a new root (every cluster must then get new certificates)"
fi
if [ "$force" = 0 ]; then
	for c in "${clusters[@]}"; do
		for f in root-cert.pem ca-cert.pem ca-key.pem cert-chain.pem key.pem; do
			[ ! -e "$outdir/$c/$f" ] ||
				die "$outdir/$c/$f exists; use --force to replace cluster $c's certificates"
		done
	done
fi

work=$(mktemp -d "$outdir/.gen-certs.XXXXXX") || die "cannot write in $outdir"
trap 'rm -rf "$work"' EXIT
log=$work/openssl.log

# Run openssl quietly; on failure show what it said.
ossl() {
	if ! openssl "$@" >"$log" 2>&1; then
		echo "$prog: openssl $1 failed:" >&2
		sed 's/^/  /' "$log" >&2
		exit 1
	fi
}

new_key() {
	(umask 077 && ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-pkeyopt ec_param_enc:named_curve -out "$1")
	chmod 0600 "$1"
}

# One configuration for every signature: openssl ca needs a database, and
# the extensions of each kind of certificate are named sections.
san=
if [ -n "$identity" ]; then
	san="URI:$identity"
fi
for d in "${dns[@]}"; do
	san="${san:+$san, }DNS:$d"
done
[ "$no_san" = 0 ] || san=
cat >"$work/openssl.cnf" <<EOF
[ ca ]
default_ca = sw_ca

[ sw_ca ]
database = $work/index.txt
new_certs_dir = $work
default_md = sha256
policy = sw_policy
unique_subject = no
copy_extensions = none
rand_serial = yes

[ sw_policy ]
organizationName = optional
commonName = supplied

[ req ]
distinguished_name = sw_dn

[ sw_dn ]

[ v3_root ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ v3_intermediate ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
${san:+subjectAltName = $san}
EOF
: >"$work/index.txt"

# sign CSR OUT EXTENSIONS START END [ISSUER_CERT ISSUER_KEY]; no issuer:
# self-signed with the CSR's key (the root).
sign() {
	local csr=$1 out=$2 ext=$3 from=$4 until=$5
	local issuer=(-selfsign -keyfile "$6")

	[ $# -lt 7 ] || issuer=(-cert "$6" -keyfile "$7")
	ossl ca -batch -notext -config "$work/openssl.cnf" -extensions "$ext" \
		"${issuer[@]}" -in "$csr" -startdate "$from" -enddate "$until" \
		-out "$out"
}

csr() {
	ossl req -new -config "$work/openssl.cnf" -key "$1" -subj "$2" -out "$3"
}

if [ -n "$root_dir" ]; then
	root_cert=$root_dir/root-cert.pem
	root_key=$root_dir/root-key.pem
	[ "$(openssl x509 -in "$root_cert" -noout -pubkey 2>/dev/null)" = \
	  "$(openssl pkey -in "$root_key" -pubout 2>/dev/null)" ] ||
		die "$root_key does not match $root_cert (or one of them is not PEM); pass the directory $prog wrote"
	root_state="reused $root_cert"
else
	root_cert=$work/root-cert.pem
	root_key=$work/root-key.pem
	new_key "$root_key"
	csr "$root_key" "/O=spillway/CN=spillway root CA" "$work/root.csr"
	sign "$work/root.csr" "$root_cert" v3_root "$start" \
		"$(stamp "+$root_days days")" "$root_key"
	root_state="new root CA $outdir/root-cert.pem"
fi

for c in "${clusters[@]}"; do
	d=$work/clusters/$c
	mkdir -p "$d"
	new_key "$d/ca-key.pem"
	csr "$d/ca-key.pem" "/O=spillway/CN=spillway intermediate CA $c" "$d/ca.csr"
	sign "$d/ca.csr" "$d/ca-cert.pem" v3_intermediate "$start" \
		"$(stamp "+$ca_days days")" "$root_cert" "$root_key"
	new_key "$d/key.pem"
	csr "$d/key.pem" "/O=spillway/CN=$c" "$d/leaf.csr"
	sign "$d/leaf.csr" "$d/leaf.pem" v3_leaf "$leaf_start" "$leaf_end" \
		"$d/ca-cert.pem" "$d/ca-key.pem"
	cat "$d/leaf.pem" "$d/ca-cert.pem" >"$d/cert-chain.pem"
	cp "$root_cert" "$d/root-cert.pem"
	chmod 0644 "$d/ca-cert.pem" "$d/cert-chain.pem" "$d/root-cert.pem"
done

# Everything is made: move it into place.
if [ -z "$root_dir" ]; then
	chmod 0644 "$root_cert"
	mv -f "$root_key" "$outdir/root-key.pem"
	mv -f "$root_cert" "$outdir/root-cert.pem"
elif [ ! "$root_dir/root-cert.pem" -ef "$outdir/root-cert.pem" ]; then
	cp "$root_cert" "$outdir/root-cert.pem"
fi
for c in "${clusters[@]}"; do
	mkdir -p "$outdir/$c"
	for f in root-cert.pem ca-cert.pem ca-key.pem cert-chain.pem key.pem; do
		mv -f "$work/clusters/$c/$f" "$outdir/$c/$f"
	done
done

until=$(date -u -d "${leaf_end:0:8} ${leaf_end:8:2}:${leaf_end:10:2}:${leaf_end:12:2}" \
	'+%Y-%m-%d %H:%M UTC')
echo "$prog: $root_state; ${#clusters[@]} cluster(s) in $outdir:" \
	"${clusters[*]} (leaf ${san:-without SAN}, valid until $until)"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# gen-certs.sh - throwaway test PKI for ktlsd, made with the openssl CLI only.
#
#   scripts/gen-certs.sh DIR
#       Makes (unless they all exist already) in DIR:
#         ca.crt ca.key        a self-signed ECDSA P-256 CA
#         ecdsa.crt ecdsa.key  ECDSA P-256 leaf, CN=localhost,
#                              SAN DNS:localhost, IP:127.0.0.1, IP:::1
#         rsa.crt rsa.key      RSA-2048 leaf, same names
#         other.crt other.key  ECDSA P-256 leaf, CN=other.test,
#                              SAN DNS:other.test, DNS:*.wild.test
#
#   scripts/gen-certs.sh DIR --leaf NAME CN SAN [ec|rsa]
#       Signs one more leaf NAME.crt/NAME.key with DIR's CA (overwrites), e.g.
#       --leaf ecdsa2 localhost-v2 'DNS:localhost,IP:127.0.0.1' ec
#
# Leaf certificates get a random serial, CA:FALSE, EKU serverAuth.
set -euo pipefail

usage() {
	echo "usage: $0 DIR [--leaf NAME CN SAN [ec|rsa]]" >&2
	exit 2
}

(($# >= 1)) || usage
DIR=$1
shift
OPENSSL=${OPENSSL:-openssl}
DAYS=${CERT_DAYS:-3650}

newkey() { # newkey ec|rsa OUTFILE
	case $1 in
	ec) "$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$2" 2>/dev/null ;;
	rsa) "$OPENSSL" genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$2" 2>/dev/null ;;
	*) echo "$0: unknown key type $1" >&2 && return 2 ;;
	esac
	chmod 600 "$2"
}

serial() { echo "0x$("$OPENSSL" rand -hex 12)"; }

# leaf CADIR OUTDIR NAME CN SAN TYPE
leaf() {
	local cadir=$1 out=$2 name=$3 cn=$4 san=$5 type=$6 ku
	if [[ $type == rsa ]]; then
		ku="critical,digitalSignature,keyEncipherment"
	else
		ku="critical,digitalSignature"
	fi
	newkey "$type" "$out/$name.key"
	"$OPENSSL" req -new -key "$out/$name.key" -subj "/O=ktlsd test/CN=$cn" \
		-out "$out/$name.csr" 2>/dev/null
	cat >"$out/$name.ext" <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = $ku
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
	"$OPENSSL" x509 -req -in "$out/$name.csr" -CA "$cadir/ca.crt" -CAkey "$cadir/ca.key" \
		-set_serial "$(serial)" -days "$DAYS" -sha256 -extfile "$out/$name.ext" \
		-out "$out/$name.crt" 2>/dev/null
	rm -f "$out/$name.csr" "$out/$name.ext"
}

if [[ "${1:-}" == "--leaf" ]]; then
	(($# == 4 || $# == 5)) || usage
	[[ -f $DIR/ca.crt && -f $DIR/ca.key ]] || {
		echo "$0: no CA in $DIR (run $0 $DIR first)" >&2
		exit 1
	}
	tmp=$(mktemp -d "$DIR/.leaf.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	leaf "$DIR" "$tmp" "$2" "$3" "$4" "${5:-ec}"
	mv -f "$tmp/$2.key" "$DIR/$2.key"
	mv -f "$tmp/$2.crt" "$DIR/$2.crt"
	exit 0
fi
(($# == 0)) || usage

FILES=(ca.crt ca.key ecdsa.crt ecdsa.key rsa.crt rsa.key other.crt other.key)
have_all() {
	local f
	for f in "${FILES[@]}"; do [[ -s $DIR/$f ]] || return 1; done
}

mkdir -p "$DIR"
have_all && exit 0

# Build everything in a private directory, then move it in: a concurrent run
# or an interrupted one never leaves a half-made set behind.
tmp=$(mktemp -d "$DIR/.gen.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

newkey ec "$tmp/ca.key"
"$OPENSSL" req -x509 -new -key "$tmp/ca.key" -subj "/O=ktlsd test/CN=ktlsd test CA" \
	-days "$DAYS" -sha256 -set_serial "$(serial)" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" \
	-addext "subjectKeyIdentifier=hash" \
	-out "$tmp/ca.crt" 2>/dev/null

leaf "$tmp" "$tmp" ecdsa localhost "DNS:localhost,IP:127.0.0.1,IP:::1" ec
leaf "$tmp" "$tmp" rsa localhost "DNS:localhost,IP:127.0.0.1,IP:::1" rsa
leaf "$tmp" "$tmp" other other.test "DNS:other.test,DNS:*.wild.test" ec

have_all && exit 0 # somebody else finished first
for f in "${FILES[@]}"; do mv -f "$tmp/$f" "$DIR/$f"; done

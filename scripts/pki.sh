#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Mints the test and demo PKI with the openssl CLI:
#
#   scripts/pki.sh [-u OCSP_URL] [-s] OUTDIR
#
#   -u URL   OCSP URL put in the leaves' AIA (default http://127.0.0.1:8888/)
#   -s       also make OCSP responses with `openssl ocsp` (index-file
#            responder, 10 years valid) in OUTDIR/ocsp/<leaf>.der
#
# OUTDIR gets:
#   root.crt/.key        self-signed root CA (ECDSA P-256)
#   int.crt/.key         intermediate CA, issuer of every leaf
#   ocsp-signer.crt/.key delegated OCSP signer (issued by int, EKU OCSPSigning)
#   ocsp-noeku.crt/.key  issued by int, no OCSPSigning EKU (must be refused)
#   rogue-ca.crt/.key    an unrelated CA, and rogue-signer.crt/.key issued by
#                        it with the OCSPSigning EKU (must be refused)
#   int-twin.crt/.key    int's subject name on another key (issued by rogue-ca)
#   noakid.crt/.key      a leaf issued by int without key identifiers
#   index.txt            `openssl ocsp -index` database (revoked.* revoked)
#   serial numbers, subjects and paths of leaves in leaves.txt
#   for each leaf NAME:  NAME.crt, NAME.key, NAME.chain.pem (leaf + int),
#                        NAME.pem (leaf + int + key, mode 0600: what a
#                        kstapled `cert =` line takes)
#
# Leaves (all issued by int):
#   localhost-ecdsa  ECDSA P-256, DNS:localhost, IP:127.0.0.1, IP:::1
#   localhost-rsa    RSA-2048, same names
#   other-ecdsa      ECDSA P-256, DNS:other.test, DNS:*.wild.test
#   must-staple      ECDSA P-256, DNS:must-staple.test, TLS feature
#                    status_request (RFC 7633)
#   revoked          ECDSA P-256, DNS:revoked.test, revoked (keyCompromise)
#   no-ocsp          ECDSA P-256, DNS:no-ocsp.test, no AIA OCSP URL
#
# Validity is long (10 years) so tests can pass `now` explicitly.
set -euo pipefail

url=http://127.0.0.1:8888/
staples=0
while getopts "u:s" opt; do
	case $opt in
	u) url=$OPTARG ;;
	s) staples=1 ;;
	*) echo "usage: $0 [-u OCSP_URL] [-s] OUTDIR" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { echo "usage: $0 [-u OCSP_URL] [-s] OUTDIR" >&2; exit 2; }
out=$1
mkdir -p "$out"
cd "$out"
umask 077

days=3650
serial=4096

ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
rsa_key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }

# sign NAME ISSUER SUBJECT EXTFILE: NAME.csr -> NAME.crt, issued by ISSUER
sign() {
	local name=$1 issuer=$2 subj=$3 ext=$4
	serial=$((serial + 1))
	openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null
	openssl x509 -req -in "$name.csr" -CA "$issuer.crt" -CAkey "$issuer.key" \
		-set_serial "$serial" -days "$days" -extfile "$ext" \
		-out "$name.crt" 2>/dev/null
	rm -f "$name.csr"
}

selfsign() {
	local name=$1 subj=$2
	serial=$((serial + 1))
	openssl req -new -x509 -key "$name.key" -subj "$subj" -days "$days" \
		-set_serial "$serial" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$name.crt" 2>/dev/null
}

ext=$(mktemp)
trap 'rm -f "$ext"' EXIT

# --- CAs
ec_key root.key
selfsign root "/CN=kstapled test root"

cat >"$ext" <<EOF
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
ec_key int.key
sign int root "/CN=kstapled test intermediate" "$ext"

ec_key rogue-ca.key
selfsign rogue-ca "/CN=kstapled rogue CA"

# int-twin: the intermediate's name on another key (issued by rogue-ca);
# a chain check by name alone would take it for int
ec_key int-twin.key
sign int-twin rogue-ca "/CN=kstapled test intermediate" "$ext"

# --- OCSP signers
cat >"$ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=OCSPSigning
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
ec_key ocsp-signer.key
sign ocsp-signer int "/CN=kstapled test OCSP signer" "$ext"
ec_key rogue-signer.key
sign rogue-signer rogue-ca "/CN=kstapled rogue OCSP signer" "$ext"

cat >"$ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
ec_key ocsp-noeku.key
sign ocsp-noeku int "/CN=kstapled OCSP signer without EKU" "$ext"

# --- leaves
# leaf NAME KEYTYPE SANS [extra ext lines]
: >leaves.txt
leaf() {
	local name=$1 kt=$2 sans=$3 extra=${4:-}
	if [ "$kt" = rsa ]; then rsa_key "$name.key"; else ec_key "$name.key"; fi
	{
		echo "basicConstraints=critical,CA:FALSE"
		if [ "$kt" = rsa ]; then
			echo "keyUsage=critical,digitalSignature,keyEncipherment"
		else
			echo "keyUsage=critical,digitalSignature"
		fi
		echo "extendedKeyUsage=serverAuth"
		echo "subjectAltName=$sans"
		echo "subjectKeyIdentifier=hash"
		echo "authorityKeyIdentifier=keyid"
		[ -n "$url" ] && [ "$name" != no-ocsp ] &&
			echo "authorityInfoAccess=OCSP;URI:$url,caIssuers;URI:${url%/}/int.crt"
		[ -n "$extra" ] && echo "$extra"
		true
	} >"$ext"
	local cn=${sans#DNS:}
	cn=${cn%%,*}
	sign "$name" int "/CN=$cn" "$ext"
	cat "$name.crt" int.crt >"$name.chain.pem"
	cat "$name.crt" int.crt "$name.key" >"$name.pem"
	chmod 600 "$name.pem" "$name.key"
	chmod 644 "$name.crt" "$name.chain.pem"
	printf '%s\t%s\t%s\n' "$name" \
		"$(openssl x509 -in "$name.crt" -noout -serial | cut -d= -f2)" \
		"$(openssl x509 -in "$name.crt" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')" \
		>>leaves.txt
}

leaf localhost-ecdsa ec "DNS:localhost,IP:127.0.0.1,IP:::1"
leaf localhost-rsa rsa "DNS:localhost,IP:127.0.0.1,IP:::1"
leaf other-ecdsa ec "DNS:other.test,DNS:*.wild.test"
leaf must-staple ec "DNS:must-staple.test" "tlsfeature=status_request"
leaf revoked ec "DNS:revoked.test"
leaf no-ocsp ec "DNS:no-ocsp.test"

# noakid: issued by int without key identifiers, so only its signature
# tells int from int-twin (not in leaves.txt: no OCSP for it)
cat >"$ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:noakid.test
subjectKeyIdentifier=none
authorityKeyIdentifier=none
EOF
ec_key noakid.key
sign noakid int "/CN=noakid.test" "$ext"
chmod 600 noakid.key

chmod 644 root.crt int.crt rogue-ca.crt ocsp-signer.crt ocsp-noeku.crt rogue-signer.crt

# --- OCSP index (the format `openssl ca` keeps)
expiry=$(date -u -d "+$days days" +%y%m%d%H%M%SZ)
revtime=$(date -u -d '1 hour ago' +%y%m%d%H%M%SZ)
: >index.txt
while IFS=$'\t' read -r name ser subj; do
	dn="/$(sed 's/,/\//g' <<<"$subj")"
	if [ "$name" = revoked ]; then
		printf 'R\t%s\t%s,keyCompromise\t%s\tunknown\t%s\n' "$expiry" "$revtime" "$ser" "$dn"
	else
		printf 'V\t%s\t\t%s\tunknown\t%s\n' "$expiry" "$ser" "$dn"
	fi
done <leaves.txt >>index.txt
echo "unique_subject = no" >index.txt.attr
chmod 644 index.txt index.txt.attr leaves.txt

# --- pre-made responses
if [ "$staples" = 1 ]; then
	mkdir -p ocsp
	while IFS=$'\t' read -r name _ _; do
		openssl ocsp -issuer int.crt -cert "$name.crt" -no_nonce \
			-reqout "ocsp/$name.req" 2>/dev/null
		openssl ocsp -index index.txt -rsigner int.crt -rkey int.key \
			-CA int.crt -reqin "ocsp/$name.req" -ndays "$days" \
			-respout "ocsp/$name.der" 2>/dev/null
		rm -f "ocsp/$name.req"
	done <leaves.txt
	chmod 644 ocsp/*.der
fi

# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# tests/e2e/inbound.sh - helpers for the inbound scenarios (SMTP in, spool).
# Source after lib.sh. Python dialogues (smtpclient.py) and the spool reader
# (spool.py) find each other through PYTHONPATH; the relay's address, port
# and spool are exported for them as SMTP_ADDR, SMTP_PORT, SPOOL.

E2E=$top/tests/e2e
export PYTHONPATH=$E2E${PYTHONPATH:+:$PYTHONPATH}
export SPOOL=$T/spool SMTP_ADDR=$NET.1 SMTP_PORT=10025 NET T

# make_cert NAME: a self-signed P-256 certificate for NAME in $T/NAME.{crt,key}.
make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -days 2 -subj "/CN=$1" -addext "subjectAltName=DNS:$1" \
	    -keyout "$T/$1.key" -out "$T/$1.crt" > "$T/openssl-req.out" 2>&1 ||
	    { cat "$T/openssl-req.out"; fail "openssl req for $1"; }
}

# py [ARGS]: run the Python program on stdin; its failure is the test's.
py() {
	python3 - "$@" || fail "python dialogue failed (see above)"
}

# spool_ids: ids of the complete messages in $SPOOL, one per line.
spool_ids() {
	python3 "$E2E/spool.py" list "$SPOOL" || fail "spool.py list"
}

# assert_spool_count N
assert_spool_count() {
	local n
	n=$(spool_ids | wc -l)
	[ "$n" -eq "$1" ] || { spool_ids; fail "spool holds $n messages, want $1"; }
	ok "spool holds $1 message(s)"
}

# assert_no_leftovers: no partly written (tmp) files in the spool.
assert_no_leftovers() {
	local l
	l=$(python3 "$E2E/spool.py" leftovers "$SPOOL") || fail "spool.py leftovers"
	[ -z "$l" ] || { echo "$l"; fail "half-written files left in the spool"; }
	ok "no half-written files in the spool"
}

# conf_set FILE KEY VALUE: set a global key in a config written by base_conf
# (replaces the line if the key is there, else adds it).
conf_set() {
	if grep -q "^$2 *=" "$1"; then
		sed -i "s|^$2 *=.*|$2 = $3|" "$1"
	else
		echo "$2 = $3" >> "$1"
	fi
}

#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_sink: the test SMTP sink itself (tests/sink/), which the delivery and
# DANE scenarios rely on. Proves with swaks, openssl s_client and raw Python
# clients: plain and STARTTLS (TLS 1.3 and 1.2) delivery written to -D, SNI
# recorded, a rejected handshake logged, dot-unstuffing and long lines, per-recipient 250/450/550 in one
# transaction, PIPELINING offered or not (-P) and pipelining violations
# caught, -n, -b 421, -e 502 (HELO fallback), -m and -d replies, several
# messages with RSET on one connection, TLS resumption, pre-TLS input
# discarded after STARTTLS, 1000 concurrent connections, stats counting
# connections, and SIGTERM exiting 0 (no ASan leak) with the stats flushed.
. "$(dirname "$0")/lib.sh"

[ -x "$SINK" ] || fail "no sink binary at $SINK"
for tool in swaks openssl python3 timeout; do
	command -v "$tool" > /dev/null || fail "missing tool $tool"
done

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/key.pem" -out "$T/cert.pem" -subj /CN=mx.sink.test \
    -days 2 2> "$T/openssl.err" || { cat "$T/openssl.err"; fail "openssl req"; }

# msg_file SINK SUBJECT: the message file of SINK holding that Subject.
msg_file() {
	local f
	f=$(grep -l -x -F -- "Subject: $2" "$T/$1.msgs"/*.msg 2>/dev/null | head -1)
	[ -n "$f" ] || { ls -la "$T/$1.msgs"; fail "$1: no message with Subject $2"; }
	echo "$f"
}

# has_line FILE LINE: FILE has exactly this line.
has_line() {
	grep -q -x -F -- "$2" "$1" || { cat "$1"; fail "$(basename "$1") lacks line '$2'"; }
	ok "$(basename "$1") has '$2'"
}

# stat_is SINK NAME VALUE
stat_is() {
	grep -q -x "$2=$3" "$T/$1.stats" || { cat "$T/$1.stats"; fail "$1 stats: want $2=$3"; }
	ok "$1 stats $2=$3"
}

# nmsgs SINK: number of message files.
nmsgs() {
	find "$T/$1.msgs" -name '*.msg' | wc -l
}

# sink_stop SINK PID: SIGTERM, expect exit status 0 (ASan leaks would not).
sink_stop() {
	local st
	kill -TERM "$2"
	wait_pid_gone "$2" 100 || fail "sink $1 ignores SIGTERM"
	wait "$2"; st=$?
	untrack "$2"
	[ "$st" -eq 0 ] || { tail -n 30 "$T/$1.log"; fail "sink $1 exited with status $st"; }
	ok "sink $1 exited 0 on SIGTERM"
}

sw() {	# swaks with bounded time, quiet about the body
	timeout 30 swaks --hide-informational "$@"
}

cat > "$T/client.py" <<'EOF'
# Raw SMTP clients for t_sink: each mode prints what it saw, exits 1 on
# anything unexpected.
import smtplib, socket, ssl, sys

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

def tls_ctx(maxver=None):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    if maxver:
        c.maximum_version = maxver
    return c

class Raw:
    def __init__(self):
        self.s = socket.create_connection((host, port), 10)
        self.f = self.s.makefile("rb")
    def reply(self):
        lines = []
        while True:
            l = self.f.readline()
            if not l:
                raise SystemExit("connection closed, got %r" % lines)
            lines.append(l.decode().rstrip("\r\n"))
            if l[3:4] != b"-":
                return lines
    def cmd(self, text, want):
        self.s.sendall(text.encode() + b"\r\n")
        r = self.reply()
        if not r[-1].startswith(want):
            raise SystemExit("%s: want %s, got %r" % (text[:40], want, r))
        return r
    def tls(self, name, ctx=None, session=None):
        ctx = ctx or tls_ctx()
        self.s = ctx.wrap_socket(self.s, server_hostname=name,
                                 session=session)
        self.f = self.s.makefile("rb")

def msg(subject, body="body\r\n"):
    return ("From: a@x.test\r\nTo: b@y.test\r\nSubject: %s\r\n\r\n%s"
            % (subject, body))

if mode == "reuse":
    # three messages and one abandoned transaction on one TLS connection
    s = smtplib.SMTP(host, port, timeout=10)
    s.ehlo("reuse.client.test")
    s.starttls(context=tls_ctx())
    s.ehlo("reuse.client.test")
    s.sendmail("a@x.test", ["r1@y.test"], msg("reuse-1"))
    s.rset()
    s.sendmail("a@x.test", ["r2@y.test", "r3@y.test"], msg("reuse-2"))
    code, _ = s.mail("abandoned@x.test")
    assert code == 250, code
    code, _ = s.rcpt("abandoned@y.test")
    assert code == 250, code
    s.rset()
    s.sendmail("a@x.test", ["r4@y.test"], msg("reuse-3"))
    s.quit()
elif mode == "inject":
    # STARTTLS with a pipelined MAIL behind it: the MAIL must be dropped
    r = Raw()
    r.reply()
    r.cmd("EHLO inject.client.test", "250")
    r.s.sendall(b"STARTTLS\r\nMAIL FROM:<evil@x.test>\r\n")
    r.reply()
    r.tls("inject.sink.test")
    r.cmd("EHLO inject.client.test", "250")
    print(r.cmd("RCPT TO:<b@y.test>", "503")[-1])
    r.cmd("QUIT", "221")
elif mode == "pipeline-violation":
    r = Raw()
    r.reply()
    r.s.sendall(b"EHLO pipe.client.test\r\nMAIL FROM:<a@x.test>\r\n")
    print(r.reply()[-1])
    print(r.reply()[-1])
elif mode == "lines":
    # dot-unstuffing, an over-long command, an over-long content line,
    # bare LF line ends
    r = Raw()
    r.reply()
    r.cmd("EHLO lines.client.test", "250")
    print(r.cmd("X" * 5000, "500 5.5.2")[-1])
    r.cmd("NOOP", "250")
    r.cmd("MAIL FROM:<a@x.test> SIZE=1000000 BODY=8BITMIME", "250")
    r.cmd("RCPT TO:<lines@y.test>", "250")
    r.cmd("DATA", "354")
    body = (b"Subject: lines-1\r\n\r\n..stuffed\r\nbare lf\n" +
            b"L" * 40000 + b"\r\nlast\r\n.\r\n")
    r.s.sendall(body)
    print(r.reply()[-1])
    r.cmd("MAIL FROM:<a@x.test> SIZE=999999999999", "552")
    r.cmd("MAIL FROM:<a@x.test> FOO=BAR", "555")
    r.cmd("RCPT TO:<b@y.test>", "503")
    r.cmd("QUIT", "221")
elif mode == "resume":
    # TLS 1.2 session resumption across two connections
    sess = None
    ctx = tls_ctx(ssl.TLSVersion.TLSv1_2)
    for i in (1, 2):
        r = Raw()
        r.reply()
        r.cmd("EHLO resume.client.test", "250")
        r.cmd("STARTTLS", "220")
        r.tls("resume.sink.test", ctx, sess)
        r.cmd("EHLO resume.client.test", "250")
        print("connection %d reused=%s" % (i, r.s.session_reused))
        sess = r.s.session
        r.cmd("QUIT", "221")
elif mode == "many":
    # many concurrent connections: all open at once, then all QUIT
    n = int(sys.argv[4])
    socks = [socket.create_connection((host, port), 10) for _ in range(n)]
    for s in socks:
        f = s.makefile("rb")
        if not f.readline().startswith(b"220"):
            raise SystemExit("no banner")
        s.sendall(b"QUIT\r\n")
        if not f.readline().startswith(b"221"):
            raise SystemExit("no 221")
        f.close()
        s.close()
    print("%d connections served" % n)
else:
    raise SystemExit("unknown mode " + mode)
EOF
py() { timeout 60 python3 "$T/client.py" "$@"; }

# --- sink a: STARTTLS, rules ---
printf '# per-recipient rules\ndeny 550 5.1.1 user unknown\nlater 450 4.2.0 try later\n' > "$T/rules"
sink_start a "$NET.1:25" -c "$T/cert.pem" -k "$T/key.pem" -r "$T/rules"
A_PID=$SINK_PID
conns=0
stat_is a connections 0

# plain delivery
sw --server "$NET.1:25" --from a@x.test --to plain@y.test \
    --h-Subject plain-1 --body $'line one\n.leading dot' > "$T/sw.out" 2>&1 ||
    { cat "$T/sw.out"; fail "plain swaks"; }
conns=$((conns + 1))
f=$(msg_file a plain-1)
has_line "$f" "tls: plain"
has_line "$f" "sni: -"
has_line "$f" "server: $NET.1:25"
has_line "$f" "proto: ESMTP"
has_line "$f" "mail from: <a@x.test>"
has_line "$f" "rcpt to: <plain@y.test>"
has_line "$f" ".leading dot"
grep -q $'\r' "$f" && fail "message file has CR characters"
stat_is a connections $conns
stat_is a messages 1

# STARTTLS, TLS 1.3, with SNI
sw --server "$NET.1:25" --from a@x.test --to tls@y.test --tls \
    --tls-sni mx.sink.test --h-Subject tls13-1 > "$T/sw.out" 2>&1 ||
    { cat "$T/sw.out"; fail "TLS swaks"; }
conns=$((conns + 1))
f=$(msg_file a tls13-1)
grep -q '^tls: TLSv1.3 TLS_' "$f" || { cat "$f"; fail "not TLS 1.3"; }
ok "TLS 1.3 recorded"
has_line "$f" "sni: mx.sink.test"
has_line "$f" "tls_resumed: no"
assert_log '#[0-9]+ tls established: TLSv1.3 cipher .* sni=mx.sink.test resumed=no' "$T/a.log"

# STARTTLS, TLS 1.2, no SNI
sw --server "$NET.1:25" --from a@x.test --to tls12@y.test --tls \
    --tls-protocol tlsv1_2 --h-Subject tls12-1 > "$T/sw.out" 2>&1 ||
    { cat "$T/sw.out"; fail "TLS 1.2 swaks"; }
conns=$((conns + 1))
f=$(msg_file a tls12-1)
grep -q '^tls: TLSv1.2 ' "$f" || { cat "$f"; fail "not TLS 1.2"; }
ok "TLS 1.2 recorded"
has_line "$f" "sni: -"

# SNI from openssl s_client -servername
printf 'QUIT\n' | timeout 20 openssl s_client -starttls smtp -crlf -quiet \
    -connect "$NET.1:25" -servername other.sink.test > "$T/sc.out" 2>&1
conns=$((conns + 1))
assert_log 'tls established: .* sni=other.sink.test' "$T/a.log"
stat_is a tls 3

# a client that rejects the certificate: the failure and its alert logged
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/other.key" -out "$T/other.pem" -subj /CN=other.test \
    -days 2 2> "$T/openssl.err" || { cat "$T/openssl.err"; fail "openssl req"; }
printf 'QUIT\n' | timeout 20 openssl s_client -starttls smtp -crlf -quiet \
    -connect "$NET.1:25" -verify_return_error -CAfile "$T/other.pem" \
    > "$T/sc.out" 2>&1 && fail "s_client accepted an unknown CA"
conns=$((conns + 1))
wait_log 'tls handshake failed: .*alert unknown ca' 10 "$T/a.log" ||
    { tail -5 "$T/a.log"; fail "rejected handshake not logged"; }
ok "rejected handshake logged with the client's alert"
stat_is a tls_failed 1
stat_is a tls 3

# per-recipient rules: 250, 550 and 450 in one transaction
sw --server "$NET.1:25" --from a@x.test --to ok@y.test,deny@y.test,later@y.test \
    --h-Subject rules-1 > "$T/sw.out" 2>&1
conns=$((conns + 1))
grep -q '550 5.1.1 user unknown' "$T/sw.out" || { cat "$T/sw.out"; fail "no 550 for deny@"; }
grep -q '450 4.2.0 try later' "$T/sw.out" || { cat "$T/sw.out"; fail "no 450 for later@"; }
ok "client saw 550 and 450"
f=$(msg_file a rules-1)
has_line "$f" "rcpt to: <ok@y.test>"
grep -q -E '^rcpt to: <(deny|later)@' "$f" && { cat "$f"; fail "rejected recipients in the message file"; }
ok "only the accepted recipient recorded"
stat_is a rcpt_rejected 2
assert_log 'rcpt to <deny@y.test>: 550 5.1.1 user unknown' "$T/a.log"

# PIPELINING offered, and a pipelined transaction works
sw --server "$NET.1:25" --quit-after EHLO > "$T/sw.out" 2>&1
conns=$((conns + 1))
grep -q '250-PIPELINING' "$T/sw.out" || { cat "$T/sw.out"; fail "PIPELINING not offered"; }
for ext in SIZE 8BITMIME SMTPUTF8 STARTTLS ENHANCEDSTATUSCODES; do
	grep -q "250[- ]$ext" "$T/sw.out" || { cat "$T/sw.out"; fail "$ext not offered"; }
done
ok "EHLO offers PIPELINING SIZE 8BITMIME SMTPUTF8 STARTTLS ENHANCEDSTATUSCODES"
sw --server "$NET.1:25" --pipeline --from a@x.test --to p1@y.test,p2@y.test \
    --h-Subject pipe-1 > "$T/sw.out" 2>&1 || { cat "$T/sw.out"; fail "pipelined swaks"; }
conns=$((conns + 1))
f=$(msg_file a pipe-1)
has_line "$f" "rcpt to: <p2@y.test>"

# several messages on one connection with RSET
py reuse "$NET.1" 25 > "$T/py.out" 2>&1 || { cat "$T/py.out"; fail "reuse client"; }
conns=$((conns + 1))
f1=$(msg_file a reuse-1); f2=$(msg_file a reuse-2); f3=$(msg_file a reuse-3)
sid=$(sed -n 's/^session: //p' "$f1")
has_line "$f2" "session: $sid"
has_line "$f3" "session: $sid"
has_line "$f1" "transaction: 1"
has_line "$f2" "transaction: 2"
has_line "$f3" "transaction: 3"
has_line "$f2" "rcpt to: <r3@y.test>"
grep -q abandoned "$f3" && fail "abandoned transaction leaked into the next message"
grep -q '^tls: TLSv1' "$f3" || fail "reuse connection not TLS"
stat_is a rsets 2
stat_is a connections $conns

# input pipelined behind STARTTLS is discarded
py inject "$NET.1" 25 > "$T/py.out" 2>&1 || { cat "$T/py.out"; fail "inject client"; }
conns=$((conns + 1))
assert_log 'discarding [0-9]+ bytes pipelined after STARTTLS' "$T/a.log"
assert_no_log 'evil@x.test' "$T/a.log"

# dot-unstuffing, long lines, bare LF, SIZE, unknown parameters
py lines "$NET.1" 25 > "$T/py.out" 2>&1 || { cat "$T/py.out"; fail "lines client"; }
conns=$((conns + 1))
f=$(msg_file a lines-1)
has_line "$f" ".stuffed"
has_line "$f" "bare lf"
has_line "$f" "last"
has_line "$f" "mail from: <a@x.test> SIZE=1000000 BODY=8BITMIME"
[ "$(awk 'length($0) == 40000 && /^L+$/' "$f" | wc -l)" -eq 1 ] ||
    fail "the 40000-byte line did not arrive whole"
ok "40000-byte content line intact"

# TLS 1.2 session resumption
py resume "$NET.1" 25 > "$T/py.out" 2>&1 || { cat "$T/py.out"; fail "resume client"; }
conns=$((conns + 2))
grep -q 'connection 2 reused=True' "$T/py.out" || { cat "$T/py.out"; fail "no resumption"; }
stat_is a tls_resumed 1
assert_log 'tls established: TLSv1.2 .* sni=resume.sink.test resumed=yes' "$T/a.log"

# many concurrent connections
py many "$NET.1" 25 1000 > "$T/py.out" 2>&1 || { cat "$T/py.out"; fail "many client"; }
conns=$((conns + 1000))
stat_is a connections $conns

# --- sink b: no PIPELINING, no STARTTLS although it has a certificate ---
sink_start b "$NET.2:25" -P -n -c "$T/cert.pem" -k "$T/key.pem"
B_PID=$SINK_PID
sw --server "$NET.2:25" --quit-after EHLO > "$T/sw.out" 2>&1
grep -q 'PIPELINING' "$T/sw.out" && { cat "$T/sw.out"; fail "-P still offers PIPELINING"; }
grep -q 'STARTTLS' "$T/sw.out" && { cat "$T/sw.out"; fail "-n still offers STARTTLS"; }
ok "-P and -n remove PIPELINING and STARTTLS from EHLO"
sw --server "$NET.2:25" --from a@x.test --to b@y.test --h-Subject nopipe-1 \
    > "$T/sw.out" 2>&1 || { cat "$T/sw.out"; fail "swaks to -P sink"; }
msg_file b nopipe-1 > /dev/null
stat_is b sync_errors 0
py pipeline-violation "$NET.2" 25 > "$T/py.out" 2>&1 || { cat "$T/py.out"; fail "pipeline client"; }
grep -q '^554 5.5.0' "$T/py.out" || { cat "$T/py.out"; fail "pipelining violation not caught"; }
stat_is b sync_errors 1

# --- sink c: 421 banner ---
sink_start c "$NET.3:25" -b "421 4.3.2 go away"
C_PID=$SINK_PID
sw --server "$NET.3:25" --from a@x.test --to b@y.test > "$T/sw.out" 2>&1 &&
    fail "swaks succeeded against a 421 banner"
grep -q '421 4.3.2 go away' "$T/sw.out" || { cat "$T/sw.out"; fail "no 421 banner"; }
ok "421 banner sent"
stat_is c connections 1
stat_is c messages 0
[ "$(nmsgs c)" -eq 0 ] || fail "421 sink stored a message"

# --- sink d: EHLO refused, HELO fallback ---
sink_start d "$NET.4:25" -e "502 5.5.1 no EHLO here"
D_PID=$SINK_PID
sw --server "$NET.4:25" --from a@x.test --to b@y.test --h-Subject helo-1 \
    > "$T/sw.out" 2>&1 || { cat "$T/sw.out"; fail "swaks with HELO fallback"; }
grep -q '502 5.5.1 no EHLO here' "$T/sw.out" || { cat "$T/sw.out"; fail "no 502 to EHLO"; }
grep -q -- '-> HELO' "$T/sw.out" || { cat "$T/sw.out"; fail "swaks did not fall back to HELO"; }
ok "EHLO answered 502, client fell back to HELO"
f=$(msg_file d helo-1)
has_line "$f" "proto: SMTP"

# --- sink e: MAIL refused ---
sink_start e "$NET.5:25" -m "554 5.7.1 no mail from you"
E_PID=$SINK_PID
sw --server "$NET.5:25" --from a@x.test --to b@y.test > "$T/sw.out" 2>&1 &&
    fail "swaks succeeded against -m 554"
grep -q '554 5.7.1 no mail from you' "$T/sw.out" || { cat "$T/sw.out"; fail "no 554 to MAIL"; }
ok "MAIL refused with the -m reply"

# --- sink f: final "." answered 451 ---
sink_start f "$NET.6:25" -d "451 4.3.0 disk full"
F_PID=$SINK_PID
sw --server "$NET.6:25" --from a@x.test --to b@y.test > "$T/sw.out" 2>&1 &&
    fail "swaks succeeded against -d 451"
grep -q '451 4.3.0 disk full' "$T/sw.out" || { cat "$T/sw.out"; fail "no 451 after DATA"; }
ok "451 after DATA"
stat_is f messages 0
[ "$(nmsgs f)" -eq 0 ] || fail "a 451-refused message was stored"
[ -z "$(find "$T/f.msgs" -name '.*.tmp')" ] || fail "temporary file left behind"

# --- stop everything; stats flushed, exit 0 ---
sink_stop a "$A_PID"
stat_is a connections $conns
assert_log 'exit 0' "$T/a.log"
sink_stop b "$B_PID"
sink_stop c "$C_PID"
sink_stop d "$D_PID"
sink_stop e "$E_PID"
sink_stop f "$F_PID"
[ -e "$T/a.pid" ] && fail "pid file left behind"
echo "PASS t_sink"

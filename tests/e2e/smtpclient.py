#!/usr/bin/env python3
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
"""tests/e2e/smtpclient.py - a byte-exact SMTP client for end-to-end tests.

Scenarios import it (sys.path has tests/e2e) and drive dialogues themselves:
every octet sent is exactly what the test wrote (no smtplib line fixing,
no dot-stuffing unless asked), and every reply is read whole (multi-line
replies joined) with a bounded wait. A failed expectation raises Failure,
which main-style callers turn into "FAIL: ..." and exit status 1.

    c = Client(host, port, src="127.x.y.2")
    c.expect(220)                       # the greeting
    c.cmd("EHLO client.test", 250)
    c.send(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n")   # pipelined
    c.expect(250); c.expect(250); c.expect(354)
    c.send(data_block(content))         # dot-stuffed content + CRLF.CRLF
    code, text = c.expect(250)
    queue_id_from(text)

Run as a script it speaks a tiny dialogue language on stdin, one step per
line ("> TEXT" sends TEXT CRLF, "< CODE" expects a reply); see usage().
"""

import os
import re
import socket
import ssl
import sys
import time

TIMEOUT = float(os.environ.get("SMTP_TIMEOUT", "20"))


class Failure(Exception):
	pass


class Closed(Failure):
	pass


class Reply:
	"""One SMTP reply: code (int), lines (list of str, text after the
	code and separator), raw (bytes as received)."""

	def __init__(self, code, lines, raw):
		self.code = code
		self.lines = lines
		self.raw = raw

	@property
	def text(self):
		return "\n".join(self.lines)

	def __repr__(self):
		return "%d %s" % (self.code, " | ".join(self.lines))


class Client:
	def __init__(self, host, port, src=None, timeout=TIMEOUT, greet=False):
		self.host = host
		self.port = int(port)
		self.timeout = timeout
		self.buf = b""
		self.tls = False
		self.eof = False		# the server closed the connection
		self.transcript = []
		fam = socket.AF_INET6 if ":" in host else socket.AF_INET
		s = socket.socket(fam, socket.SOCK_STREAM)
		s.settimeout(timeout)
		if src:
			s.bind((src, 0))
		s.connect((host, self.port))
		self.sock = s
		if greet:
			self.expect(220)

	# --- raw I/O ---

	def send(self, data):
		if isinstance(data, str):
			data = data.encode("utf-8", "surrogateescape")
		self.transcript.append(("C", data))
		self.sock.sendall(data)

	def line(self, text):
		"""Send text plus CRLF."""
		if isinstance(text, str):
			text = text.encode("utf-8", "surrogateescape")
		self.send(text + b"\r\n")

	def _fill(self, deadline):
		left = deadline - time.monotonic()
		if left <= 0:
			raise Failure("timed out waiting for the server (have %r)" % self.buf[:200])
		self.sock.settimeout(left)
		try:
			chunk = self.sock.recv(65536)
		except socket.timeout:
			raise Failure("timed out waiting for the server (have %r)" % self.buf[:200])
		except ConnectionResetError:
			chunk = b""
		if not chunk:
			self.eof = True
			raise Closed("connection closed by the server (have %r)" % self.buf[:200])
		self.buf += chunk

	def _readline(self, deadline):
		while b"\n" not in self.buf:
			if len(self.buf) > 100000:
				raise Failure("reply line too long")
			self._fill(deadline)
		i = self.buf.index(b"\n") + 1
		ln, self.buf = self.buf[:i], self.buf[i:]
		return ln

	def reply(self, timeout=None):
		"""Read one whole (possibly multi-line) reply."""
		deadline = time.monotonic() + (timeout or self.timeout)
		raw = b""
		lines = []
		code = None
		while True:
			ln = self._readline(deadline)
			raw += ln
			if not ln.endswith(b"\r\n"):
				raise Failure("reply line without CRLF: %r" % ln)
			m = re.match(rb"^(\d{3})([ -])(.*)\r\n$", ln, re.S)
			if not m:
				raise Failure("malformed reply line %r" % ln)
			c = int(m.group(1))
			if code is not None and c != code:
				raise Failure("code changes inside a reply: %r" % raw)
			code = c
			lines.append(m.group(3).decode("utf-8", "replace"))
			if m.group(2) == b" ":
				break
		r = Reply(code, lines, raw)
		self.transcript.append(("S", raw))
		return r

	def expect(self, code, pattern=None, timeout=None):
		"""Read a reply; its code must start with str(code) (250, 25, 2 ...)
		and, if given, its text must match regex pattern. Returns the Reply."""
		r = self.reply(timeout)
		if not str(r.code).startswith(str(code)):
			raise Failure("expected %s, got %r" % (code, r))
		if pattern and not re.search(pattern, r.text):
			raise Failure("reply %r does not match /%s/" % (r, pattern))
		return r

	def cmd(self, text, code, pattern=None):
		self.line(text)
		return self.expect(code, pattern)

	def expect_closed(self, timeout=None):
		"""The server must close the connection (after any replies already
		read); returns whatever extra bytes arrived before the close."""
		deadline = time.monotonic() + (timeout or self.timeout)
		extra = b""
		try:
			while True:
				if self.buf:
					extra += self.buf
					self.buf = b""
				self._fill(deadline)
		except Closed:
			extra += self.buf
			self.buf = b""
			return extra

	def pending(self, wait=0.5):
		"""Bytes the server sent within `wait` seconds (without blocking
		longer); self.eof tells whether it closed meanwhile."""
		deadline = time.monotonic() + wait
		try:
			while True:
				self._fill(deadline)
		except Failure:
			pass
		out, self.buf = self.buf, b""
		return out

	def starttls(self, ctx=None, version=None):
		if ctx is None:
			ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
			ctx.check_hostname = False
			ctx.verify_mode = ssl.CERT_NONE
			if version is not None:
				ctx.minimum_version = version
				ctx.maximum_version = version
		if self.buf:
			raise Failure("data after STARTTLS reply before handshake: %r" % self.buf)
		self.sock.settimeout(self.timeout)
		self.sock = ctx.wrap_socket(self.sock)
		self.tls = True
		return self.sock.version()

	def close(self):
		try:
			self.sock.close()
		except OSError:
			pass

	# --- whole transactions ---

	def ehlo(self, name="client.test"):
		r = self.cmd("EHLO " + name, 250)
		return [ln.upper() for ln in r.lines[1:]]

	def send_message(self, sender, rcpts, content, mail_params="", pipeline=True):
		"""MAIL, RCPTs, DATA, content; returns the final Reply (not checked)."""
		mail = "MAIL FROM:<%s>%s" % (sender, (" " + mail_params) if mail_params else "")
		cmds = [mail] + ["RCPT TO:<%s>" % r for r in rcpts] + ["DATA"]
		if pipeline:
			self.send("".join(c + "\r\n" for c in cmds).encode())
			for c in cmds[:-1]:
				self.expect(250)
			self.expect(354)
		else:
			for c in cmds[:-1]:
				self.cmd(c, 250)
			self.cmd("DATA", 354)
		self.send(data_block(content))
		return self.reply()


def dot_stuff(content):
	"""RFC 5321 4.5.2 transparency for CRLF-terminated content."""
	if content.startswith(b"."):
		content = b"." + content
	return content.replace(b"\r\n.", b"\r\n..")


def data_block(content):
	"""What a client sends after 354 for content (CRLF line ends)."""
	if content and not content.endswith(b"\r\n"):
		content += b"\r\n"
	return dot_stuff(content) + b".\r\n"


def queue_id_from(text):
	"""The queue id in a 250 reply to DATA ("... queued as ID")."""
	m = re.search(r"queued as ([A-Za-z0-9]+)", text)
	if not m:
		raise Failure("no queue id in %r" % text)
	return m.group(1)


def make_content(subject="test", body_lines=None, extra_headers=(), size=None, seed=1):
	"""A CRLF message: headers, blank line, body. With size, random-ish
	printable lines (some starting with '.') fill the body to about size octets."""
	hdr = [b"From: <sender@client.test>", b"To: <rcpt@example.test>",
	       b"Subject: " + subject.encode(), b"Message-ID: <%d.%s@client.test>" % (seed, subject.encode().replace(b" ", b"-"))]
	hdr += [h if isinstance(h, bytes) else h.encode() for h in extra_headers]
	out = b"\r\n".join(hdr) + b"\r\n\r\n"
	if body_lines is not None:
		out += b"".join((l if isinstance(l, bytes) else l.encode()) + b"\r\n" for l in body_lines)
	if size:
		import random
		rnd = random.Random(seed)
		alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,-=+/"
		pool = bytes(rnd.choices(alphabet, k=size))
		parts = [out]
		n = len(out)
		i = 0
		pos = 0
		while n < size:
			k = rnd.randint(0, 140)
			ln = pool[pos:pos + k]
			pos = (pos + k) % (size - 200)
			if i % 17 == 3:
				ln = b"." + ln
			if i % 29 == 5:
				ln = b".."
			parts.append(ln + b"\r\n")
			n += len(ln) + 2
			i += 1
		out = b"".join(parts)
	return out


def run_main(fn):
	"""Run fn(); turn Failure or an assertion into FAIL + exit 1."""
	try:
		fn()
	except (Failure, AssertionError, OSError) as e:
		print("FAIL: %s: %s" % (type(e).__name__, e))
		sys.exit(1)


def usage():
	sys.stderr.write("""usage: smtpclient.py HOST PORT [SRC] < script
script lines:
  > TEXT        send TEXT CRLF (\\r \\n \\xHH escapes are honoured)
  >> TEXT       send TEXT as is (escapes honoured, no CRLF added)
  < CODE [RE]   expect a reply starting with CODE, text matching RE
  closed        expect the server to close the connection
  tls           STARTTLS handshake (after "< 220")
  # ...         comment
""")
	sys.exit(2)


def unescape(s):
	return s.encode("utf-8").decode("unicode_escape").encode("latin-1")


def script_main(argv):
	if len(argv) < 3:
		usage()
	c = Client(argv[1], argv[2], argv[3] if len(argv) > 3 else None)
	for raw in sys.stdin:
		ln = raw.rstrip("\n")
		if not ln or ln.startswith("#"):
			continue
		if ln.startswith(">> "):
			c.send(unescape(ln[3:]))
		elif ln.startswith("> "):
			c.send(unescape(ln[2:]) + b"\r\n")
		elif ln.startswith("< "):
			parts = ln[2:].split(None, 1)
			r = c.expect(parts[0], parts[1] if len(parts) > 1 else None)
			print("S: %r" % r)
		elif ln == "closed":
			c.expect_closed()
			print("S: <closed>")
		elif ln == "tls":
			print("TLS: %s" % c.starttls())
		else:
			raise Failure("bad script line %r" % ln)
	c.close()


if __name__ == "__main__":
	run_main(lambda: script_main(sys.argv))

#!/usr/bin/env python3
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
"""tests/e2e/flowclient.py - inbound flow control from the client's side
(t_inflow.sh): N messages one after the other on one session; for each,
how long the reply to MAIL took (CLOCK_MONOTONIC, so a stepped wall clock
changes nothing). Prints one line per message, "I SECONDS CODE QUEUEID",
and stops after a MAIL that is not answered 250 (that line has queue id
"-"). With --hold-last the last MAIL is sent and its reply awaited up to
--timeout seconds: a scenario can stop the relay meanwhile.

    flowclient.py --n 6 --to r@single.test [--timeout 30]
"""

import argparse
import os
import sys
import time

import smtpclient as sc


def main():
	p = argparse.ArgumentParser()
	p.add_argument("--n", type=int, required=True)
	p.add_argument("--to", required=True)
	p.add_argument("--from", dest="sender", default="sender@sender.test")
	p.add_argument("--timeout", type=float, default=30)
	a = p.parse_args()
	c = sc.Client(os.environ["SMTP_ADDR"], int(os.environ["SMTP_PORT"]),
	    timeout=a.timeout, greet=True)
	c.ehlo("client.test")
	for i in range(a.n):
		t0 = time.monotonic()
		c.line("MAIL FROM:<%s>" % a.sender)
		r = c.reply()
		waited = time.monotonic() - t0
		if r.code != 250:
			print("%d %.3f %d -" % (i, waited, r.code), flush=True)
			return 0
		c.cmd("RCPT TO:<%s>" % a.to, 250)
		c.cmd("DATA", 354)
		c.send(sc.data_block(sc.make_content("flow %d" % i, seed=i)))
		r = c.expect(250)
		print("%d %.3f 250 %s" % (i, waited, sc.queue_id_from(r.text)),
		    flush=True)
	c.cmd("QUIT", 221)
	return 0


if __name__ == "__main__":
	sc.run_main(main)

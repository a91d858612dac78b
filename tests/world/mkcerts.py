#!/usr/bin/env python3
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
"""tests/world/mkcerts.py CERTS_DIR CERTS_LIST HOSTS ZONE.tpl...

Part of mkworld: makes every certificate of the test world in one process
(process creation is what costs time on the test machines), then writes
each ZONE.zone from ZONE.tpl with every TLSA placeholder "@TLSA:CERT:U:S:M@"
replaced by "U S M HEX" computed from certs/CERT.crt (RFC 6698 2.1:
selector 0 = certificate DER, 1 = SubjectPublicKeyInfo DER; matching type
0 = the data, 1 = SHA-256, 2 = SHA-512).

Certificates: every line of CERTS_LIST (format in that file), then a
self-signed ECDSA P-256 leaf for every host name of HOSTS ("NAME ADDRESS"
lines) that CERTS_LIST does not define. For each: NAME.key (PKCS#8 PEM),
NAME.crt, NAME.chain.crt (the certificate and its issuers up to the root).
Errors go to stderr with the certs.list line, exit status 1.
"""
import datetime
import hashlib
import os
import re
import secrets
import sys

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError as e:
    print("mkcerts: %s: python3 needs the cryptography module "
          "(Debian: python3-cryptography, see scripts/install-deps)" % e,
          file=sys.stderr)
    sys.exit(1)

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
DAY = datetime.timedelta(days=1)
VALIDITY = {
    "valid": (NOW - DAY, NOW + 3650 * DAY),
    "expired": (NOW - 60 * DAY, NOW - 30 * DAY),
    "future": (NOW + 30 * DAY, NOW + 3650 * DAY),
    "soon": (NOW - DAY, NOW + 10 * DAY),
}


def die(msg):
    print("mkcerts: " + msg, file=sys.stderr)
    sys.exit(1)


class Cert:
    def __init__(self, key, cert, chain):
        self.key, self.cert, self.chain = key, cert, chain


def new_key(kind):
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError("key must be ec or rsa, not " + kind)


def make(certs, name, kind, keykind, issuer, validity, names):
    if kind not in ("ca", "leaf"):
        raise ValueError("kind must be ca or leaf, not " + kind)
    if validity not in VALIDITY:
        raise ValueError("validity must be valid, expired or future")
    if issuer != "self" and (issuer not in certs or not certs[issuer].ca):
        raise ValueError("issuer %s is no ca defined above" % issuer)
    key = new_key(keykind)
    if kind == "ca":
        cn = "danerelay test " + name
    else:
        if names == "-":
            raise ValueError("a leaf needs names")
        dns = names.split(",")
        cn = dns[0]
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "danerelay test world"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])
    if issuer == "self":
        isub, ikey, chain = subject, key, []
    else:
        iss = certs[issuer]
        isub, ikey = iss.cert.subject, iss.key
        chain = [iss.cert] + iss.chain
    start, end = VALIDITY[validity]
    b = (x509.CertificateBuilder()
         .subject_name(subject).issuer_name(isub)
         .public_key(key.public_key())
         .serial_number(secrets.randbits(63) + 1)
         .not_valid_before(start).not_valid_after(end)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(
             key.public_key()), critical=False))
    if issuer != "self":
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ikey.public_key()), critical=False)
    if kind == "ca":
        b = (b.add_extension(x509.BasicConstraints(ca=True, path_length=None),
                             critical=True)
             .add_extension(x509.KeyUsage(
                 digital_signature=False, content_commitment=False,
                 key_encipherment=False, data_encipherment=False,
                 key_agreement=False, key_cert_sign=True, crl_sign=True,
                 encipher_only=False, decipher_only=False), critical=True))
    else:
        b = (b.add_extension(x509.BasicConstraints(ca=False, path_length=None),
                             critical=True)
             .add_extension(x509.KeyUsage(
                 digital_signature=True, content_commitment=False,
                 key_encipherment=(keykind == "rsa"), data_encipherment=False,
                 key_agreement=False, key_cert_sign=False, crl_sign=False,
                 encipher_only=False, decipher_only=False), critical=True)
             .add_extension(x509.ExtendedKeyUsage(
                 [ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
             .add_extension(x509.SubjectAlternativeName(
                 [x509.DNSName(n) for n in dns]), critical=False))
    cert = b.sign(ikey, hashes.SHA256())
    c = Cert(key, cert, chain)
    c.ca = kind == "ca"
    certs[name] = c
    return c


def write(d, name, c):
    pem = lambda x: x.public_bytes(serialization.Encoding.PEM)
    with open(os.path.join(d, name + ".key"), "wb") as f:
        f.write(c.key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    with open(os.path.join(d, name + ".crt"), "wb") as f:
        f.write(pem(c.cert))
    with open(os.path.join(d, name + ".chain.crt"), "wb") as f:
        f.write(pem(c.cert) + b"".join(pem(x) for x in c.chain))


def tlsa(c, ph):
    try:
        name, u, s, m = ph.strip("@").split(":")[1:]
        u, s, m = int(u), int(s), int(m)
    except ValueError:
        die("bad placeholder %s (want @TLSA:CERT:U:S:M@)" % ph)
    if s == 0:
        data = c.cert.public_bytes(serialization.Encoding.DER)
    elif s == 1:
        data = c.cert.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo)
    else:
        die("%s: selector must be 0 or 1 (write odd ones literally)" % ph)
    if m == 0:
        h = data.hex()
    elif m == 1:
        h = hashlib.sha256(data).hexdigest()
    elif m == 2:
        h = hashlib.sha512(data).hexdigest()
    else:
        die("%s: matching type must be 0, 1 or 2" % ph)
    return "%d %d %d %s" % (u, s, m, h)


PLACEHOLDER = re.compile(r"@TLSA:([^:@\s]+):(\d+):(\d+):(\d+)@")
UNKNOWN = re.compile(r"@[A-Z][A-Z0-9_]*[:@]")


def fill(certs, tpl):
    """ZONE.tpl -> ZONE.zone with the TLSA placeholders filled in."""
    with open(tpl) as f:
        text = f.read()

    def one(m):
        if m.group(1) not in certs:
            die("%s: placeholder %s names no certificate" % (tpl, m.group(0)))
        return tlsa(certs[m.group(1)], m.group(0))
    text = PLACEHOLDER.sub(one, text)
    bad = UNKNOWN.search(text)
    if bad:
        line = text[:bad.start()].count("\n") + 1
        die("%s:%d: unknown or malformed placeholder %s..." %
            (tpl, line, text[bad.start():bad.start() + 30]))
    with open(tpl[:-len(".tpl")] + ".zone", "w") as f:
        f.write(text)


def main():
    if len(sys.argv) < 4:
        die("usage: mkcerts.py CERTS_DIR CERTS_LIST HOSTS ZONE.tpl...")
    d, listfile, hostsfile = sys.argv[1:4]
    certs = {}
    with open(listfile) as f:
        for n, line in enumerate(f, 1):
            w = line.split()
            if not w or w[0].startswith("#"):
                continue
            where = "%s:%d: " % (listfile, n)
            if len(w) != 6:
                die(where + "want 6 fields: NAME KIND KEY ISSUER VALIDITY NAMES")
            if w[0] in certs:
                die(where + w[0] + " defined twice")
            try:
                make(certs, *w)
            except ValueError as e:
                die(where + w[0] + ": " + str(e))
    with open(hostsfile) as f:
        for line in f:
            h = line.split()[0]
            if h not in certs:
                make(certs, h, "leaf", "ec", "self", "valid", h)
    for name, c in certs.items():
        write(d, name, c)
    for tpl in sys.argv[4:]:
        fill(certs, tpl)


if __name__ == "__main__":
    main()

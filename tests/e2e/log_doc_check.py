#!/usr/bin/env python3
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
"""log_doc_check.py TOP [DOC...] - every log line the documentation
quotes is one the code can write. DOC: README.md, man/danerelay.8 and
man/danerelay.conf.5 of TOP by default; a DOC ending in .md is read as
README.md, any other as a manual page.

Which text of the documentation is a log line (the rule):
  man/danerelay.8, man/danerelay.conf.5
    - every line of a .Bd -literal block in the LOGGING section (a line
      starting with blanks continues the one before), except the format
      line "TIMESTAMP danerelay[PID]: QUEUEID: TEXT": a whole line;
    - every .Ql argument of 4 words or more (2 of them words of letters)
      and no further macro, outside SYNOPSIS and EXAMPLES: text the daemon or its commands
      print, checked as a fragment.
  README.md
    - every line of an indented code block (4 spaces, after a blank line)
      that is a log excerpt: a block with a line starting "QUEUEID: ",
      "Q: ", a 15-character queue id and ": ", or "danerelay[PID]: ", or
      a block outside SKIP_SECTIONS right after a paragraph that uses
      the word log, logs, logged, logging, line or lines, whose first
      line is no configuration or command (NOT_BLOCK): a whole line;
    - every backquoted span starting "QUEUEID: ": a whole line;
    - every other backquoted span of 4 words or more (2 of them words of
      letters), outside the sections
      about building, testing and measuring (SKIP_SECTIONS) and other than
      a command, a key = value line or JSON (NOT_OUTPUT): text the daemon
      or its commands print, checked as a fragment.
  A line's prefix "TIMESTAMP", "danerelay[PID]:" and queue id ("QUEUEID:",
  "ID:", "Q:", a 15-character id) is the logger's and is dropped. In the rest,
  "..." and the placeholders of PLACEHOLDERS (N, ID, HOST, ADDR, DOMAIN...
  as whole words, "Ns" included) stand for any text.

What produces it: the string literals of the C files under relay/,
queue/, resolver/, tls/ and conf/ (adjacent literals joined, "%" PRIu64
as "%u"), conversions turned into wildcards: %d, %u, %zu, %lld, %f...
hold a number (or a placeholder), %s and the others any text, but a %s
ends at the first match of the 3 characters of code that follow it.
The format of a call to log_info, log_warn, log_warnx, log_debug,
log_limit_*, fatal, fatalx or syslog may also carry what the logger
appends: ": " and a strerror() text (letters, digits, blanks, "/", "-"),
or " (repeated N times in the last Ts)".
  - A whole line must match one such pattern from its first character to
    its last, with at least min(6, all) of its literal characters
    matched by literal characters of the code other than what the logger
    appends (so "%s" alone explains nothing). A placeholder stands for
    what a conversion writes: it takes literal code text only where the
    doc leaves the rest out ("250 ...", "(not recommended: ...)"). A
    format that only joins texts ("%s %s", "%s: %s") explains a line
    when one of its holes holds a text that matches whole and the others
    hold no letters (a status code such as 4.7.5). Lines built from
    several texts are checked as far as the format that writes them.
  - A fragment (text quoted in the middle of a sentence, often a part of
    a line or a command's output) is checked loosely: at least
    FRAGMENT_MIN of its literal characters (blanks and placeholders left
    out) must lie in a run of GRAM characters found in the code's text.

Prints one line per documented line that no code produces, with the file
and line of the doc; "checked N log lines" at the end; exit 1 if any is
unexplained."""
import os
import re
import sys

FRAGMENT_MIN = 0.5	# share of a fragment that must be code text
GRAM = 6	# a run of code text this long counts for coverage
STAR = None	# a wildcard token, on either side
NUM = 0		# a numeric conversion of the code
DIGITS = set('0123456789.-+')
ERR = 1		# strerror(errno), as log_warn() appends it
ERR_CHARS = set('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 /-\'')

PLACEHOLDERS = ('QUEUEID ID N M K L P D A H S R T G W HOST ADDR DOMAIN '
    'PATH REASON SPOOL RCPT FILE NAME TEXT PID VERSION').split()
PH_RE = re.compile(r'\b(?:' + '|'.join(PLACEHOLDERS) + r')(?=s?\b)|\.\.\.')
SKIP_SECTIONS = ('Installing and running it as a service', 'Configuration',
    "Using it as Postfix's relayhost", 'Publishing TLSA records for your own server',
    'Tests', 'Performance', 'Benchmark', 'Layout', 'Licence', 'The two commands')
NOT_OUTPUT = re.compile(r'^(?:\./)?(?:danerelay -|danerelay tlsa|make |openssl |'
    r'scripts/|tests/|TESTS=|TSAN_ONLY=|create |domainlist |\{)|^\w+ = ')
MDOC = re.compile(r'\b(?:Ns|Ql|Ar|Pq|Cm|Ic|Li|Xr|Dv|Fl|Op|Oo|Oc|Sx)\b')
NOT_BLOCK = re.compile(r'\[|\w+ = |[#$] |\./|danerelay ')
LOG_CALLS = ('log_info', 'log_warn', 'log_warnx', 'log_debug', 'log_limit_warn',
    'log_limit_warnx', 'log_limit_end', 'fatal', 'fatalx', 'syslog')
CONV = re.compile(r'%(?:%|[-+ #0]*(?:\*|\d+)?(?:\.(?:\*|\d+))?'
    r'(?:hh|h|ll|l|j|z|t|L)?[diouxXeEfFgGcsp])')
PREFIX = re.compile(r'^(?:TIMESTAMP )?(?:danerelay\[PID\]: )?'
    r'(?:(?:QUEUEID|ID|Q|[0-9A-Z]{15}): )?')

# ---- the code: string literals and log formats ---------------------------
C_TOKEN = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|'
    r'\b\w+\b|\S', re.S)
ESC = {'n': '\n', 't': '\t', '"': '"', '\\': '\\', "'": "'", 'r': '\r', '0': '\0'}

def c_unescape(s):
    return re.sub(r'\\(.)', lambda m: ESC.get(m.group(1), m.group(1)), s)

def c_strings(src):
    """(line, text, is it the format of a log call) of every group of
    adjacent string literals ("a" PRIu64 "b" is one group)"""
    toks = []
    line, at = 1, 0
    for m in C_TOKEN.finditer(src):
        t = m.group()
        line += src.count('\n', at, m.start())
        at = m.start()
        if t.startswith(('/*', '//')):
            continue
        toks.append((t, line))
    out = []
    i = 0
    depth = 0
    calls = []	# [depth inside the call's parens, format still to come]
    while i < len(toks):
        t, line = toks[i]
        if t == '(':
            depth += 1
        elif t == ')':
            depth -= 1
            if calls and calls[-1][0] > depth:
                calls.pop()
        elif t in LOG_CALLS and i + 1 < len(toks) and toks[i + 1][0] == '(':
            calls.append([depth + 1, True])
        if t.startswith('"'):
            parts = []
            while i < len(toks):
                t2 = toks[i][0]
                if t2.startswith('"'):
                    parts.append(c_unescape(t2[1:-1]))
                elif re.match(r'PRI[diouxX]\w*$', t2):
                    parts.append(t2[3])
                else:
                    break
                i += 1
            is_fmt = bool(calls) and calls[-1][1] and calls[-1][0] == depth
            if is_fmt:
                calls[-1][1] = False
            out.append((line, ''.join(parts), is_fmt))
            continue
        i += 1
    return out

def fmt_tokens(s):
    """a printf format as tokens: characters, NUM or STAR for each
    conversion"""
    toks = []
    pos = 0
    for m in CONV.finditer(s):
        toks += list(s[pos:m.start()])
        c = m.group()
        toks.append('%' if c == '%%' else NUM if c[-1] in 'dioueEfFgG' else STAR)
        pos = m.end()
    return toks + list(s[pos:])

def doc_tokens(s):
    toks = []
    pos = 0
    for m in PH_RE.finditer(s):
        toks += list(s[pos:m.start()])
        toks.append(STAR)
        pos = m.end()
    return toks + list(s[pos:])

# ---- matching two patterns whose wildcards may each stand for anything ---
def best(doc, code):
    """the most literal characters of doc matched by literal characters of
    code in a string both could be, or -1 if none can be. A placeholder
    stands for what a conversion writes, so it takes literal characters of
    code only where no letter or digit of doc follows ("250 ...", "(see:
    ...)": the rest is left out). A numeric conversion holds only digits
    (or a placeholder), a strerror() one no punctuation; any other one
    never holds the 3 characters of code that follow it (it ends at their
    first match)."""
    n, m = len(doc), len(code)
    stop = [None] * m
    for j in range(m - 3):
        if code[j] is STAR and all(map(lit, code[j + 1:j + 4])):
            stop[j] = ''.join(code[j + 1:j + 4])
    at_end = [not any(lit(t) and t.isalnum() for t in doc[i + 1:])
        for i in range(n)]
    NEG = -1
    # f[i][j]: best for doc[i:], code[j:]
    f = [[NEG] * (m + 1) for _ in range(n + 1)]
    f[n][m] = 0
    for i in range(n, -1, -1):
        fi = f[i]
        fi1 = f[i + 1] if i < n else None
        a = doc[i] if i < n else ''
        for j in range(m, -1, -1):
            if i == n and j == m:
                continue
            v = NEG
            b = code[j] if j < m else ''
            if a is STAR:
                v = fi1[j]			# it ends
                if j < m and fi[j + 1] > v and (at_end[i] or not lit(b)):
                    v = fi[j + 1]		# it takes code[j]
            elif i < n and j < m and b == a and fi1[j + 1] >= 0:
                v = fi1[j + 1] + 1
            if j < m and not lit(b):
                if fi[j + 1] > v:
                    v = fi[j + 1]		# it ends
                if i < n and fi1[j] > v and (a is STAR or (b is STAR and
                        ''.join(x for x in doc[i:i + 3] if lit(x)) != stop[j])
                        or (b is NUM and a in DIGITS) or
                        (b is ERR and a in ERR_CHARS)):
                    v = fi1[j]			# it takes doc[i]
            fi[j] = v
    return f[0][0]

def lit(t):
    return isinstance(t, str)

def lead(toks):
    """the literal characters a pattern starts with, at most 3"""
    out = ''
    for t in toks[:3]:
        if not lit(t):
            break
        out += t
    return out

def segments(code):
    """the literal runs of a pattern of 4 characters or more"""
    return [x for x in ''.join(t if lit(t) else '\0'
        for t in code).split('\0') if len(x) >= 4]

def ends_agree(a, b):
    """the literal characters both patterns end with agree"""
    for x, y in zip(reversed(a), reversed(b)):
        if not lit(x) or not lit(y):
            return True
        if x != y:
            return False
    return True

def splits(text, segs):
    """every way text is segs[0] HOLE segs[1] HOLE ... segs[-1]: the
    lists of texts in the holes"""
    if not text.startswith(segs[0]):
        return
    def rest(pos, k):
        if k == len(segs):
            yield []
            return
        seg = segs[k]
        if k == len(segs) - 1:
            if text.endswith(seg) and len(text) - len(seg) >= pos:
                yield [text[pos:len(text) - len(seg)]]
            return
        i = text.find(seg, pos)
        while i >= 0:
            for more in rest(i + len(seg), k + 1):
                yield [text[pos:i]] + more
            i = text.find(seg, i + 1)
    yield from rest(len(segs[0]), 1)

def literal_count(toks):
    return sum(1 for t in toks if lit(t))

REASON_TAIL = list(': ') + [ERR]
REPEAT_TAIL = list(' (repeated ') + [NUM] + list(' times in the last ') + \
    [NUM] + list('s)')

class Code:
    def __init__(self, top):
        self.by_lead = {}	# lead() -> [(tokens, path, line)]
        self.joiners = []	# log formats of holes and < 6 other characters
        self.grams = set()	# every GRAM characters of literal code text
        self.memo = {}
        seen = set()
        for d in ('relay', 'queue', 'resolver', 'tls', 'conf'):
            for f in sorted(os.listdir(os.path.join(top, d))):
                if not f.endswith('.c'):
                    continue
                path = d + '/' + f
                src = open(os.path.join(top, path), encoding='utf-8',
                    errors='replace').read()
                for line, text, is_fmt in c_strings(src):
                    text = text.rstrip('\n')
                    toks = fmt_tokens(text)
                    for piece in CONV.split(text):
                        for i in range(len(piece) - GRAM + 1):
                            self.grams.add(piece[i:i + GRAM])
                    vs = [(toks, 0)]
                    if is_fmt:
                        vs += [(toks + tail, literal_count(tail))
                            for tail in (REASON_TAIL, REPEAT_TAIL)]
                        if not all(map(lit, toks)) and literal_count(toks) < 6 and \
                                toks not in self.joiners:
                            self.joiners.append(toks)
                    for v, extra in vs:
                        key = tuple(v)
                        if key not in seen:
                            seen.add(key)
                            self.by_lead.setdefault(lead(v), []).append(
                                (v, path, line, extra))

    def direct(self, text):
        """(path, line) of a format or literal that text matches whole"""
        if text in self.memo:
            return self.memo[text]
        toks = doc_tokens(text)
        need = min(6, literal_count(toks))
        p = lead(toks)
        found = None
        for key, cands in self.by_lead.items():
            if key[:len(p)] != p[:len(key)]:
                continue
            for code, path, line, extra in cands:
                if not ends_agree(toks, code):
                    continue
                # without "...", a placeholder stands for a value, so the
                # code's own words must all be there
                if '...' not in text and any(seg not in text
                        for seg in segments(code)):
                    continue
                if best(toks, code) - extra >= need:
                    found = (path, line)
                    break
            if found:
                break
        self.memo[text] = found
        return found

    def explain_line(self, text):
        """text matches a format or literal whole, or a format that only
        joins other text ("%s %s") holds in one of its holes such a text
        of at least 10 characters and in the others text without letters
        (a status code, a number)"""
        if self.direct(text):
            return True
        for code in self.joiners:
            segs = ''.join(t if lit(t) else '\0' for t in code).split('\0')
            for spans in splits(text, segs):
                whole = [sp for sp in spans if re.search('[A-Za-z]', sp)]
                if len(whole) == 1 and len(whole[0]) >= 10 and \
                        self.direct(whole[0]):
                    return True
        return False

    def coverage(self, text):
        """the share of the literal characters of text (placeholders, "..."
        and blanks left out) that lie in a run of GRAM characters that
        occurs in the code's literal text"""
        ph = [m.span() for m in PH_RE.finditer(text)]
        lit = [not any(a <= i < b for a, b in ph) and not text[i].isspace()
            for i in range(len(text))]
        cov = [False] * len(text)
        for i in range(len(text) - GRAM + 1):
            if all(lit[i:i + GRAM]) or ' ' in text[i:i + GRAM]:
                if text[i:i + GRAM] in self.grams:
                    for k in range(i, i + GRAM):
                        cov[k] = True
        n = sum(lit)
        return sum(1 for i in range(len(text)) if lit[i] and cov[i]) / n if n else 1.0

# ---- the documentation ----------------------------------------------------
def is_text(span):
    """4 words or more, 2 of them words of letters"""
    w = span.split()
    return len(w) >= 4 and sum(1 for x in w if re.match(r'[A-Za-z]{2,}', x)) >= 2

def readme_lines(path):
    """(doc line number, text, whole line?) of README's log text"""
    text = open(path, encoding='utf-8').read()
    lines = text.split('\n')
    out = []
    section = ''
    prev_para = para = ''
    i = 0
    while i < len(lines):
        ln = lines[i]
        h = re.match(r'#+ (.*)', ln)
        if h:
            section = h.group(1)
        if ln.startswith('    ') and i > 0 and lines[i - 1].strip() == '':
            j = i
            block = []
            while j < len(lines) and (lines[j].startswith('    ') or
                    (lines[j].strip() == '' and j + 1 < len(lines) and
                     lines[j + 1].startswith('    '))):
                if lines[j].strip():
                    block.append((j + 1, lines[j][4:]))
                j += 1
            is_log = (re.search(r'\b(?:log|logs|logged|logging|lines?)\b',
                prev_para) and section not in SKIP_SECTIONS and
                not NOT_BLOCK.match(block[0][1])) or any(
                PREFIX.match(t).group() for _, t in block)
            if is_log:
                out += [(n, t, True) for n, t in block]
            prev_para = ''
            i = j
            continue
        if ln.strip() == '':
            if para:
                prev_para, para = para, ''
        else:
            para += ' ' + ln
        i += 1
    # backquoted spans, joined where they wrap
    sec_at = [(m.start(), m.group(1)) for m in re.finditer(r'^#+ (.*)$', text, re.M)]
    for m in re.finditer(r'`([^`]+)`', text):
        span = re.sub(r'\s+', ' ', m.group(1)).strip()
        n = text.count('\n', 0, m.start()) + 1
        if lines[n - 1].startswith('    ') and lines[n - 2].strip() == '':
            continue	# inside a code block
        sec = ''
        for pos, s in sec_at:
            if pos < m.start():
                sec = s
        if span.startswith('QUEUEID: '):
            out.append((n, span, True))
        elif is_text(span) and sec not in SKIP_SECTIONS and \
                not NOT_OUTPUT.search(span):
            out.append((n, span, False))
    return out

def man_lines(path):
    lines = open(path, encoding='utf-8').read().split('\n')
    out = []
    section = ''
    in_lit = False
    for n, ln in enumerate(lines, 1):
        if ln.startswith('.Sh '):
            section = ln[4:]
        if ln.startswith('.Bd -literal'):
            in_lit = True
            continue
        if ln.startswith('.Ed'):
            in_lit = False
            continue
        if in_lit and section == 'LOGGING':
            if ln.startswith((' ', '\t')) and out and out[-1][2]:
                out[-1] = (out[-1][0], out[-1][1] + ' ' + ln.strip(), True)
            elif not ln.startswith('TIMESTAMP danerelay[PID]: QUEUEID: TEXT'):
                out.append((n, ln, True))
            continue
        m = re.match(r'\.(?:Pq )?Ql (.*?)(?: [,.;:)] ?[,.;:)]?)?$', ln)
        if m and section not in ('SYNOPSIS', 'EXAMPLES'):
            span = m.group(1).replace('\\&', '')
            if is_text(span) and not MDOC.search(span):
                out.append((n, span, False))
    return out

def main():
    top = sys.argv[1]
    docs = sys.argv[2:] or [os.path.join(top, d) for d in
        ('README.md', 'man/danerelay.8', 'man/danerelay.conf.5')]
    code = Code(top)
    bad = 0
    checked = 0
    for path in docs:
        items = readme_lines(path) if path.endswith('.md') else man_lines(path)
        name = os.path.relpath(path, top) if path.startswith(top) else path
        for n, text, whole in items:
            checked += 1
            if whole:
                body = text[PREFIX.match(text).end():]
                if code.explain_line(body):
                    continue
                why = 'no format or string of the code writes this line'
            else:
                c = code.coverage(text)
                if c >= FRAGMENT_MIN:
                    continue
                why = 'only %d%% of it is text of the code' % (100 * c)
            bad += 1
            print('FAIL: %s:%d: %s: %s' % (name, n, why, text))
    print('checked %d log lines' % checked)
    sys.exit(1 if bad else 0)

main()

#!/usr/bin/env python3
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
"""dane_doc_check.py TOP [DOC] - check the references of docs/dane.md (or
DOC) against the tree at TOP: every file it names exists; in the rule
table and the "decided by" / "unit test" lines, every function written
before a parenthesised path, as in `policy_mx` (`relay/policy.c`), or as
`fn` in `path.c`, is defined in that file; every unit test function written
after its file, as in `test_policy.c` `test_mx`, is defined in
tests/unit/that file. Configuration keys are not functions. Prints one
line per broken reference; exit 1 if there is one."""
import re, os, sys
top = sys.argv[1]
doc = open(sys.argv[2] if len(sys.argv) > 2 else os.path.join(top, 'docs/dane.md')).read()
conf = open(os.path.join(top, 'conf/conf.c')).read()
keys = set(re.findall(r'^\s*\{ "([a-z_]+)", K_', conf, re.M))
errors = []
checked = 0
def text(path):
    p = os.path.join(top, path)
    return open(p).read() if os.path.exists(p) else None
def defined(name, src):
    # a definition at column 0 (this code base's style), or a macro
    return re.search(r'^' + re.escape(name) + r'\(', src, re.M) or \
        re.search(r'^#define\s+' + re.escape(name) + r'\b', src, re.M)
# 1. every path named exists
for t in set(re.findall(r'`([^`\s]+)`', doc)):
    if re.search(r'\.(c|h|sh|py|md)$', t) or t.startswith(('tests/', 'relay/', 'tls/', 'resolver/', 'conf/', 'queue/', 'docs/', 'scripts/')):
        if not any(os.path.exists(os.path.join(top, d, t)) for d in ('', 'tests/e2e', 'tests/unit')):
            errors.append('no such file: ' + t)
        checked += 1
# segments: table cells and bullet lines
segs = []
for line in doc.splitlines():
    if line.startswith('|'):
        segs += line.split('|')
    else:
        segs.append(line)
# the "- decided by:" and "- unit test:" lines, joined where they wrap
paras = re.split(r'\n(?=- |\n)', doc)
segs += [p.replace('\n', ' ') for p in paras
    if p.startswith(('- decided by', '- unit test'))]
for seg in segs:
    # 2. `fn` ... (`path.c` ...): each fn before the paren is defined in path
    pos = 0
    for m in re.finditer(r'\(([^()]*?`([\w/]+\.c)`[^()]*)\)', seg):
        path = m.group(2)
        before = seg[pos:m.start()]
        pos = m.end()
        before = re.split(r'[;)]', before)[-1]
        src = text(path)
        if src is None:
            continue
        for fn in re.findall(r'`([a-z_][a-z0-9_]*)`', before):
            if fn in keys:
                continue
            checked += 1
            if not defined(fn, src):
                errors.append('%s is not defined in %s' % (fn, path))
    # 2b. `fn` in `path.c`
    for fn, path in re.findall(r'`([a-z_][a-z0-9_]*)` in `([\w/]+\.c)`', seg):
        src = text(path)
        checked += 1
        if src is None or not defined(fn, src):
            errors.append('%s is not defined in %s' % (fn, path))
    # 3. `test_x.c` `test_fn`, `test_fn2`; ...
    for m in re.finditer(r'`(?:tests/unit/)?(test_\w+\.c)`((?:[^`;|]|`test_\w+`)*)', seg):
        src = text('tests/unit/' + m.group(1))
        if src is None:
            errors.append('no unit test file ' + m.group(1))
            continue
        for fn in re.findall(r'`(test_\w+)`', m.group(2)):
            checked += 1
            if not re.search(r'^' + fn + r'\(', src, re.M):
                errors.append('%s is not a function of tests/unit/%s' % (fn, m.group(1)))
for e in sorted(set(errors)):
    print('FAIL: docs/dane.md: ' + e)
print('checked %d references' % checked)
sys.exit(1 if errors else 0)

#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_docs_dane: docs/dane.md says which function decides each DANE rule and
# which tests prove it; this keeps it true as the code moves
# (tests/e2e/dane_doc_check.py): every file it names exists, every function
# it places in a file is defined there, every unit test function it names
# is in its test file. Control: a copy with one wrong function, one wrong
# unit test and one missing scenario must fail with all three named.
. "$(dirname "$0")/lib.sh"

python3 "$top/tests/e2e/dane_doc_check.py" "$top" > "$T/check.out" 2>&1; st=$?
cat "$T/check.out"
[ "$st" -eq 0 ] || fail "docs/dane.md has broken references"
n=$(sed -n 's/^checked \([0-9]*\) references$/\1/p' "$T/check.out")
[ "${n:-0}" -ge 100 ] || fail "only ${n:-0} references checked: the parser lost the table"
ok "docs/dane.md: $n references to files, functions and tests hold"

sed -e 's/`policy_mx` (`relay\/policy.c`)/`policy_mx_gone` (`relay\/policy.c`)/' \
    -e 's/`test_mx.c` `test_errors`/`test_mx.c` `test_errors_gone`/' \
    -e 's/`t_dane_pref.sh`/`t_dane_pref_gone.sh`/' \
    "$top/docs/dane.md" > "$T/dane.md"
cmp -s "$top/docs/dane.md" "$T/dane.md" && fail "control: nothing was changed"
python3 "$top/tests/e2e/dane_doc_check.py" "$top" "$T/dane.md" > "$T/bad.out" 2>&1; st=$?
cat "$T/bad.out"
[ "$st" -eq 1 ] || fail "control: a broken copy passed"
grep -q 'policy_mx_gone is not defined in relay/policy.c' "$T/bad.out" || fail "control: wrong function not found"
grep -q 'test_errors_gone is not a function of tests/unit/test_mx.c' "$T/bad.out" || fail "control: wrong unit test not found"
grep -q 'no such file: t_dane_pref_gone.sh' "$T/bad.out" || fail "control: missing scenario not found"
ok "control: a copy with three broken references fails, naming each"
exit 0

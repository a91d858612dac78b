#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_docs_log: the log lines README.md and man/*.[58] quote are lines
# the code writes (tests/e2e/log_doc_check.py, whose header gives the rule
# for what counts as a quoted log line and how it is matched against the
# format strings of relay/, queue/, resolver/, tls/ and conf/). Control: a
# copy of each with one made-up line, and one line whose wording drifted,
# and a made-up text quoted in a README sentence, must fail with exactly
# those named.
. "$(dirname "$0")/lib.sh"

python3 "$top/tests/e2e/log_doc_check.py" "$top" > "$T/check.out" 2>&1; st=$?
cat "$T/check.out"
[ "$st" -eq 0 ] || fail "the documentation quotes log lines the code does not write"
n=$(sed -n 's/^checked \([0-9]*\) log lines$/\1/p' "$T/check.out")
[ "${n:-0}" -ge 90 ] || fail "only ${n:-0} log lines checked: the parser lost some"
ok "README.md and the manual pages: $n quoted log lines are written by the code"

# control: one made-up line in the decision trace of each, and a real one
# with one word changed (README: "retry" became "attempt"; man page:
# "not durable" became "not stored"); in the README also a made-up text
# quoted in a sentence (a fragment)
made_up='Frobnicated the DANE widget for <bob@secure.test> (retry 0)'
sed -e "/^    1K0XYZQX585B5S8: Deleting mail file/i\\    1K0XYZQX585B5S8: $made_up" \
    -e 's/^\(    1K0XYZQX585B5S8: Successful delivery to <bob@secure.test>\) (retry 0)/\1 (attempt 0)/' \
    -e 's/logged `ASCII envelope and headers$/logged `zebra quokka wombat platypus/' \
    -e 's/^  sent without SMTPUTF8`/  grazing the meadow`/' \
    "$top/README.md" > "$T/README.md"
sed -e "/^Q: Deleting mail file/i\\Q: $made_up" \
    -e 's/^Q: recipient journal records not durable, kept/Q: recipient journal records not stored, kept/' \
    "$top/man/danerelay.8" > "$T/danerelay.8"
[ "$(diff "$top/README.md" "$T/README.md" | grep -c '^>')" -eq 4 ] ||
	fail "control: the README copy does not differ in 4 lines"
[ "$(diff "$top/man/danerelay.8" "$T/danerelay.8" | grep -c '^>')" -eq 2 ] ||
	fail "control: the man page copy does not differ in 2 lines"
python3 "$top/tests/e2e/log_doc_check.py" "$top" "$T/README.md" "$T/danerelay.8" \
    > "$T/bad.out" 2>&1; st=$?
cat "$T/bad.out"
[ "$st" -eq 1 ] || fail "control: copies with made-up log lines passed"
[ "$(grep -c '^FAIL: ' "$T/bad.out")" -eq 5 ] || fail "control: not exactly the 5 changed texts failed"
l=$(grep -n "^    1K0XYZQX585B5S8: $made_up" "$T/README.md" | cut -d: -f1)
grep -q "^FAIL: $T/README.md:$l: no format or string of the code writes this line: 1K0XYZQX585B5S8: $made_up\$" "$T/bad.out" ||
	fail "control: the made-up README line is not named with its line"
grep -q "^FAIL: $T/README.md:[0-9]*: .*Successful delivery to <bob@secure.test> (attempt 0)" "$T/bad.out" ||
	fail "control: the drifted README line is not named"
l=$(grep -n "^Q: $made_up" "$T/danerelay.8" | cut -d: -f1)
grep -q "^FAIL: $T/danerelay.8:$l: no format or string of the code writes this line: Q: $made_up\$" "$T/bad.out" ||
	fail "control: the made-up man page line is not named with its line"
grep -q "^FAIL: $T/danerelay.8:[0-9]*: .*Q: recipient journal records not stored, kept in memory, will write them again: Input/output error" "$T/bad.out" ||
	fail "control: the drifted man page line (joined from two lines) is not named"
grep -q "^FAIL: $T/README.md:[0-9]*: only [0-9]*% of it is text of the code: zebra quokka wombat platypus grazing the meadow\$" "$T/bad.out" ||
	fail "control: the made-up fragment is not named"
ok "control: copies with made-up and drifted log lines and a made-up fragment fail, naming each"
exit 0

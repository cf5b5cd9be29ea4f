#!/bin/sh
# test.sh BUILD: unit tests then system tests against the binaries in BUILD;
# the last line is the total "N passed, N failed".
build=${1:-build/asan}
py=${PYTHON:-/usr/bin/python3}
scripts/run-unit.sh "$build/tests"; ustatus=$?
read up uf < "$build/tests/.summary"
JIESU_BUILD=$build $py -m pytest -q -p no:cacheprovider tests/system 2>&1 | tee "$build/pytest.out"
pstatus=$(cat "$build/pytest.status" 2>/dev/null)
last=$(grep -E '(passed|failed|error|no tests ran)' "$build/pytest.out" | tail -1)
sp=$(printf '%s' "$last" | sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p;s/^\([0-9][0-9]*\) passed.*/\1/p' | head -1)
sf=$(printf '%s' "$last" | sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p;s/^\([0-9][0-9]*\) failed.*/\1/p' | head -1)
se=$(printf '%s' "$last" | sed -n 's/.* \([0-9][0-9]*\) error.*/\1/p' | head -1)
sp=${sp:-0}; sf=${sf:-0}; se=${se:-0}
tp=$((up + sp)); tf=$((uf + sf + se))
[ -n "$last" ] || tf=$((tf + 1))
echo "$tp passed, $tf failed"
[ "$ustatus" -eq 0 ] && [ "$tf" -eq 0 ]

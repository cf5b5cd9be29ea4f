#!/bin/bash
# test.sh BUILD: the unit tests, then the system tests against the binaries in
# BUILD (the ASan+UBSan build); the last line is the total "N passed, N failed".
set -u
build=${1:-build/asan}
py=${PYTHON:-/usr/bin/python3}

scripts/run-unit.sh "$build/tests"
ustatus=$?
read -r up uf < "$build/tests/.summary"

JIESU_BUILD=$build $py -m pytest -q -p no:cacheprovider tests/system 2>&1 | tee "$build/pytest.out"
pstatus=${PIPESTATUS[0]}
last=$(grep -E '[0-9]+ (passed|failed|error)' "$build/pytest.out" | tail -1)
num() { printf '%s' "$last" | grep -oE "[0-9]+ $1" | head -1 | grep -oE '^[0-9]+'; }
sp=$(num passed); sf=$(num failed); se=$(num error)
sp=${sp:-0}; sf=${sf:-0}; se=${se:-0}
# pytest exit 0 = all passed, 5 = no tests collected (counted as a failure here)
if [ "$pstatus" -ne 0 ] && [ $((sf + se)) -eq 0 ]; then sf=1; fi
echo "$((up + sp)) passed, $((uf + sf + se)) failed"
[ "$ustatus" -eq 0 ] && [ "$pstatus" -eq 0 ]

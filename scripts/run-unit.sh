#!/bin/sh
# run-unit.sh DIR: run every cmocka test binary in DIR; print totals.
# Exit status 1 if any test failed or a binary crashed.
dir=$1; mkdir -p "$dir"
passed=0; failed=0; status=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in "$dir"/test_*; do
    [ -x "$t" ] || continue
    [ -f "tests/unit/$(basename "$t").c" ] || continue # a binary left from a test since removed
    out=$("$t" 2>&1); rc=$?
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ $rc -ne 0 ]; then
        status=1
        printf '%s\n' "$out" | tail -40
        echo "FAIL $(basename "$t") (exit $rc)"
    else
        echo "ok   $(basename "$t"): $p"
    fi
done
echo "unit: $passed passed, $failed failed"
echo "$passed $failed" > "$dir/.summary"
exit $status

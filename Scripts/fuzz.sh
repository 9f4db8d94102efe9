#!/usr/bin/env bash
# Runs Parley's libFuzzer targets and prints, for each, the executions and the findings.
#
#   bash Scripts/fuzz.sh SECONDS [TARGET ...]      (targets: form cookie twiml http json; default all)
#
# Builds Fuzz/ with -sanitize=fuzzer,address into .build-fuzz, runs each target for SECONDS on a
# working copy of its seed corpus (Fuzz/Corpus/<target>), and keeps crashing inputs in
# Fuzz/Crashes/<target>/, where `swift test` replays them (ParleyFuzzingTests).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: Scripts/fuzz.sh SECONDS [TARGET ...]}
shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(form cookie twiml http json)

scratch="$(pwd)/.build-fuzz"
swift build --package-path Fuzz --scratch-path "$scratch" -c release \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library 2>&1 | grep -v "ld.gold: warning" | tail -3
bin="$scratch/release"

printf '%-8s %12s %10s %8s %9s\n' target executions exec/s seconds crashes
for target in "${targets[@]}"; do
  corpus="$scratch/corpus/$target"
  mkdir -p "$corpus" "Fuzz/Crashes/$target"
  cp -n Fuzz/Corpus/"$target"/* "$corpus"/ 2>/dev/null || true
  log="$scratch/$target.log"
  set +e
  "$bin/fuzz-$target" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="Fuzz/Crashes/$target/" -print_final_stats=1 >"$log" 2>&1
  status=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  crashes=$(find "Fuzz/Crashes/$target" -type f ! -name .keep -newer "$scratch/release" | wc -l)
  printf '%-8s %12s %10s %8s %9s\n' "$target" "$runs" "$rate" "$seconds" "$crashes"
  if [ "$status" -ne 0 ]; then
    echo "  $target exited $status; see $log and Fuzz/Crashes/$target/" >&2
  fi
done

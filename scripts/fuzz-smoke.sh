#!/usr/bin/env bash
# Smoke-run every cargo-fuzz target on stable (no sanitizer, debug assertions on) for
# FUZZ_SECONDS (default 10) each, FUZZ_JOBS (default 2) targets at a time, starting from its
# committed corpus; fail on any crash. 32 targets: about 3 minutes on 2 cores, plus the build.
# Memory is bounded by -rss_limit_mb=512 and time by -timeout=10 s per input (more is a crash).
# New inputs go to a scratch directory, not the committed corpus. A crash is saved under
# fuzz/artifacts/<target>/ (see fuzz/README.md for reproducing and minimizing it).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${FUZZ_SECONDS:-10}
jobs=${FUZZ_JOBS:-2}
targets=${FUZZ_TARGETS:-}

# A failed compiler probe (a nightly flag tried on stable) is cached here; start clean.
rm -f target/.rustc_info.json ../target/.rustc_info.json

flags=(--sanitizer none --debug-assertions)
cargo fuzz build "${flags[@]}"
bin=target/$(rustc -vV | sed -n 's/^host: //p')/release
[ -n "$targets" ] || targets=$(cargo fuzz list)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

dict_of() {
  case $1 in
    base64*) echo dict/base64.dict ;;
    smtp*) echo dict/smtp.dict ;;
    imap*) echo dict/imap.dict ;;
    pop3*) echo dict/pop3.dict ;;
    *scram*) echo dict/scram.dict ;;
    *oauthbearer | *external | *anonymous | gs2_header) echo dict/gs2.dict ;;
    *) echo dict/sasl.dict ;;
  esac
}

# One target: fuzz it, keep its log; a crash leaves "$scratch/$t.failed".
run_one() {
  local t=$1
  mkdir -p "$scratch/$t" "corpus/$t"
  mkdir -p "artifacts/$t"
  # The binary cargo fuzz built (running it directly saves cargo's start-up per target).
  if "$bin/$t" -max_total_time="$secs" -dict="$(dict_of "$t")" -rss_limit_mb=512 -timeout=10 \
      -print_final_stats=1 -close_fd_mask=1 -artifact_prefix="artifacts/$t/" \
      "$scratch/$t" "corpus/$t" >"$scratch/$t.log" 2>&1; then
    echo "==> $t: $(grep -E 'stat::number_of_executed_units' "$scratch/$t.log" | tail -n 1 | sed 's/.*: *//') runs in ${secs}s"
  else
    echo "==> $t: CRASH"
    tail -n 40 "$scratch/$t.log"
    touch "$scratch/$t.failed"
  fi
}

# At most $jobs targets at a time (the job pool of bash itself: no GNU parallel needed).
for t in $targets; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_one "$t" &
done
wait

failed=()
for t in $targets; do
  [ -e "$scratch/$t.failed" ] && failed+=("$t")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz smoke: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz smoke: all $(echo $targets | wc -w) targets ran ${secs}s without a crash"

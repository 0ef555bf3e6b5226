#!/usr/bin/env bash
# Smoke-run every cargo-fuzz target on stable (no sanitizer, debug assertions on) for
# FUZZ_SECONDS (default 20) each, starting from its committed corpus; fail on any crash.
# Memory is bounded by -rss_limit_mb=512 and time by -timeout=10 s per input (more is a crash).
# New inputs go to a scratch directory, not the committed corpus. A crash is saved under
# fuzz/artifacts/<target>/ (see fuzz/README.md for reproducing and minimizing it).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${FUZZ_SECONDS:-20}
targets=${FUZZ_TARGETS:-}

# A failed compiler probe (a nightly flag tried on stable) is cached here; start clean.
rm -f target/.rustc_info.json ../target/.rustc_info.json

flags=(--sanitizer none --debug-assertions)
cargo fuzz build "${flags[@]}"
[ -n "$targets" ] || targets=$(cargo fuzz list)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in $targets; do
  case $t in
    base64*) dict=dict/base64.dict ;;
    smtp*) dict=dict/smtp.dict ;;
    imap*) dict=dict/imap.dict ;;
    pop3*) dict=dict/pop3.dict ;;
    *) dict=dict/sasl.dict ;;
  esac
  mkdir -p "$scratch/$t" "corpus/$t"
  echo "==> fuzz $t for ${secs}s"
  if ! cargo fuzz run "${flags[@]}" "$t" "$scratch/$t" "corpus/$t" -- \
      -max_total_time="$secs" -dict="$dict" -rss_limit_mb=512 -timeout=10 -print_final_stats=1 -close_fd_mask=1 \
      >"$scratch/$t.log" 2>&1; then
    tail -n 40 "$scratch/$t.log"
    failed+=("$t")
  else
    grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$scratch/$t.log" | tail -n 1 || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz smoke: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz smoke: all targets ran ${secs}s without a crash"

#!/usr/bin/env bash
# Instructions per run for every benchmark case, counted by callgrind (deterministic, unlike
# times): full handshake, server side alone, client side alone. Prints tab-separated lines
# `index  case  side  instructions`.
#
# Usage: scripts/bench-instructions.sh [INSTRUCTIONS-BINARY]
# Without an argument it builds `benches/instructions.rs` and uses that.
#
# Valgrind does not emulate the CPU's SHA extensions, so the SHA-1/SHA-256 code takes its
# portable path here: SCRAM counts are those of the software hash.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind" >&2; exit 1; }
bin=${1:-}
if [ -z "$bin" ]; then
    bin=$(cargo bench --bench instructions --no-run --message-format=json 2>/dev/null |
        python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "instructions":
        print(m["executable"])')
fi
reps=$(grep -o 'REPS: usize = [0-9]*' benches/instructions.rs | grep -o '[0-9]*$')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$bin" | while IFS=$'\t' read -r index name; do
    for side in full server client; do
        valgrind --tool=callgrind --callgrind-out-file="$out/cg" --collect-atstart=no \
            --toggle-collect='*measured*' "$bin" "$index" "$side" >/dev/null 2>&1
        total=$(grep '^summary:' "$out/cg" | grep -o '[0-9]*')
        printf '%s\t%s\t%s\t%s\n' "$index" "$name" "$side" $((total / reps))
    done
done

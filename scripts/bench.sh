#!/usr/bin/env bash
# Run every Rust benchmark and write the "Rust benchmarks" section of docs/PERFORMANCE.md:
# criterion times (handshake, sides, smtp, pbkdf2), allocation counts, the footprint table
# and callgrind instruction counts. Take the figures on a quiet machine (`uptime` load < 1):
# times from a loaded one are noise.
#
# Usage: scripts/bench.sh [--quick] [--before FIGURES.json] [--out DIR]
#   --quick     shorter criterion runs (1 s warm-up, 2 s measurement)
#   --before    figures.json of an earlier run, for a before/after table
#               (default: docs/perf/rust-baseline.json if it exists)
#   --out       where raw outputs go (default target/bench-summary)
# The figures of this run are left in OUT/figures.json.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=()
before=docs/perf/rust-baseline.json
out=target/bench-summary
doc=docs/PERFORMANCE.md
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=(--warm-up-time 1 --measurement-time 2) ;;
        --before) before=$2; shift ;;
        --out) out=$2; shift ;;
        --doc) doc=$2; shift ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

target=${CARGO_TARGET_DIR:-target}
rm -rf "$out" "$target/criterion"
mkdir -p "$out"
load=$(cut -d' ' -f1 /proc/loadavg)
echo "load average: $load"
python3 - "$out/machine.json" "$load" <<'PY'
import json, subprocess, sys, time
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
sha = "yes (sha_ni)" if " sha_ni" in open("/proc/cpuinfo").read() else "no"
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
json.dump({"cpu": cpu, "sha_ni": sha, "load": sys.argv[2], "rustc": rustc,
           "date": time.strftime("%Y-%m-%d")}, open(sys.argv[1], "w"))
PY

cargo bench --no-run --quiet
for b in handshake sides smtp pbkdf2; do
    echo "==> cargo bench --bench $b"
    cargo bench --quiet --bench "$b" -- "${quick[@]}" >"$out/$b.stdout" 2>"$out/$b.stderr"
done
echo "==> footprint"
cargo bench --quiet --bench footprint >"$out/footprint.md"
echo "==> callgrind instruction counts"
bin=$(cargo bench --bench instructions --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "instructions":
        print(m["executable"])')
scripts/bench-instructions.sh "$bin" >"$out/instructions.tsv"
echo "==> best-of-batches times"
{
    "$bin" | while IFS=$'\t' read -r index _name; do
        for side in full server client; do "$bin" "$index" "$side" time; done
    done
    # Key derivation alone (SCRAM-SHA-256, 4096 iterations): ours, the pbkdf2 crate's, and
    # the floor of 8,192 compressions.
    sha256=$("$bin" | grep 'SCRAM-SHA-256 (stored keys' | cut -f1)
    for side in derive pbkdf2-crate compress-floor; do "$bin" "$sha256" "$side" time; done
} >"$out/best.tsv"

python3 scripts/bench-summary.py collect "$out" "$target/criterion" >"$out/figures.json"
if [ -f "$before" ]; then
    python3 scripts/bench-summary.py render "$out/figures.json" "$before" >"$out/section.md"
else
    python3 scripts/bench-summary.py render "$out/figures.json" >"$out/section.md"
fi
python3 scripts/bench-summary.py splice "$doc" <"$out/section.md"
echo "wrote $doc (figures in $out/figures.json)"

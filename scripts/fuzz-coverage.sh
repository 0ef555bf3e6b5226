#!/usr/bin/env bash
# Line coverage of src/ reached by the committed fuzz corpus: builds fuzz/bodies/tests/replay.rs with
# -C instrument-coverage (stable), replays every corpus file, and reports per file with
# llvm-cov. Needs llvm-profdata and llvm-cov of the same LLVM major version as rustc
# (`rustc -vV`): from `rustup component add llvm-tools`, or set LLVM_BIN to their directory.
# Not part of CI; see fuzz/README.md. Usage: scripts/fuzz-coverage.sh [extra llvm-cov args]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${LLVM_BIN:-}" ]; then
  LLVM_BIN="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin"
fi
for t in llvm-profdata llvm-cov; do
  [ -x "$LLVM_BIN/$t" ] || { echo "no $t in $LLVM_BIN: set LLVM_BIN (LLVM $(rustc -vV | sed -n 's/^LLVM version: //p'))" >&2; exit 2; }
done
out=target/fuzz-coverage
rm -rf "$out/profraw"
mkdir -p "$out/profraw" "$out/build-profraw"
# Uncompressed names, so that llvm tools built without zlib can read them too.
export RUSTFLAGS="-C instrument-coverage -C llvm-args=-enable-name-compression=false"
# Build scripts are instrumented too: keep their profiles out of the report.
LLVM_PROFILE_FILE="$PWD/$out/build-profraw/%p.profraw" \
  cargo test --quiet --no-run --target-dir "$out/build" -p saslmech-fuzz --features capi --test replay
bin=$(ls -t "$out"/build/debug/deps/replay-* | grep -v '\.d$' | head -n 1)
LLVM_PROFILE_FILE="$PWD/$out/profraw/%p-%m.profraw" "$bin" --quiet
"$LLVM_BIN/llvm-profdata" merge -sparse "$out"/profraw/*.profraw -o "$out/replay.profdata"
"$LLVM_BIN/llvm-cov" report "$bin" -instr-profile="$out/replay.profdata" \
  -ignore-filename-regex='(\.cargo|rustc|/tests/|fuzzing|fuzz/bodies)' "$@"
echo "HTML: $LLVM_BIN/llvm-cov show $bin -instr-profile=$out/replay.profdata -format=html -output-dir=$out/html"

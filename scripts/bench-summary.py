#!/usr/bin/env python3
"""Turn the outputs of scripts/bench.sh into the "Rust benchmarks" section of
docs/PERFORMANCE.md.

Usage:
  bench-summary.py collect OUT-DIR CRITERION-DIR > OUT-DIR/figures.json
  bench-summary.py render OUT-DIR/figures.json [BEFORE-figures.json] > section.md
  bench-summary.py splice FILE < section.md   (replace the section between the markers)

Times are criterion's median per iteration; allocations come from the benches' counting
allocator; instructions from callgrind (scripts/bench-instructions.sh).
"""

import json
import os
import re
import sys

BEGIN = "<!-- rust-benchmarks:begin -->"
END = "<!-- rust-benchmarks:end -->"


def criterion_medians(root):
    """{full_id: median ns} from criterion's estimates."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            full_id = json.load(f)["full_id"]
        with open(os.path.join(dirpath, "estimates.json")) as f:
            out[full_id] = json.load(f)["median"]["point_estimate"]
    return out


def allocation_lines(path):
    """{key: count} from the benches' `allocations...: N` lines on stderr."""
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path):
        m = re.match(r"allocations per handshake: (.*): (\d+)$", line.strip())
        if m:
            out["handshake/" + m.group(1)] = int(m.group(2))
            continue
        m = re.match(r"allocations: (\w+) (.*): (\d+)$", line.strip())
        if m:
            out[m.group(1) + "/" + m.group(2)] = int(m.group(3))
    return out


def collect(out_dir, criterion_dir):
    figures = {
        "times": criterion_medians(criterion_dir),
        "allocations": {},
        "instructions": {},
        "footprint": "",
        "machine": {},
    }
    for bench in ("handshake", "sides", "smtp", "pbkdf2"):
        figures["allocations"].update(allocation_lines(os.path.join(out_dir, bench + ".stderr")))
    tsv = os.path.join(out_dir, "instructions.tsv")
    if os.path.exists(tsv):
        figures["cases"] = []
        for line in open(tsv):
            _index, name, side, n = line.rstrip("\n").split("\t")
            figures["instructions"][side + "/" + name] = int(n)
            if name not in figures["cases"]:
                figures["cases"].append(name)
    figures["best"] = {}
    best = os.path.join(out_dir, "best.tsv")
    if os.path.exists(best):
        for line in open(best):
            name, side, t = line.rstrip("\n").split("\t")
            figures["best"][side + "/" + name] = float(t.split()[0])
    fp = os.path.join(out_dir, "footprint.md")
    if os.path.exists(fp):
        figures["footprint"] = open(fp).read()
    machine = os.path.join(out_dir, "machine.json")
    if os.path.exists(machine):
        figures["machine"] = json.load(open(machine))
    json.dump(figures, sys.stdout, indent=1, sort_keys=True)


def ns(v):
    if v is None:
        return "–"
    if v >= 1e6:
        return "%.3f ms" % (v / 1e6)
    if v >= 1e4:
        return "%.1f µs" % (v / 1e3)
    if v >= 1e3:
        return "%.2f µs" % (v / 1e3)
    return "%.0f ns" % v


def num(v):
    return "–" if v is None else "{:,}".format(v)


def cases(figures):
    """Case names in bench order (as the instruction driver lists them)."""
    if figures.get("cases"):
        return figures["cases"]
    seen = []
    for key in figures["instructions"]:
        name = key.split("/", 1)[1]
        if name not in seen:
            seen.append(name)
    if not seen:
        seen = [k.split("/", 1)[1] for k in figures["times"] if k.startswith("handshake/")]
    return seen


def render(figures, before=None):
    t, a, i = figures["times"], figures["allocations"], figures["instructions"]
    m = figures.get("machine", {})
    lines = [BEGIN, "## Rust benchmarks", ""]
    lines.append(
        "Written by `scripts/bench.sh` (criterion medians, allocations from a counting "
        "allocator, instructions from callgrind). Machine: %s; SHA extensions: %s; "
        "load average when the run started: %s; %s; %s."
        % (
            m.get("cpu", "?"),
            m.get("sha_ni", "?"),
            m.get("load", "?"),
            m.get("rustc", "?"),
            m.get("date", "?"),
        )
    )
    lines.append("")
    lines.append(
        "Valgrind does not emulate the SHA extensions, so callgrind counts SCRAM with the "
        "software SHA-1/SHA-256 (about 3,300 instructions per SHA-256 compression); the times "
        "use the hardware path."
    )
    lines.append("")
    b = figures.get("best", {})
    lines.append("### Full handshakes (client and server in memory, raw tokens)")
    lines.append("")
    lines.append(
        "`time` is criterion's median; `best` the fastest of 200 batches of 20 handshakes "
        "(`benches/instructions.rs … time`), which a busy machine disturbs less."
    )
    lines.append("")
    lines.append("| mechanism | time | best | allocations | instructions |")
    lines.append("|---|---:|---:|---:|---:|")
    for c in cases(figures):
        lines.append(
            "| %s | %s | %s | %s | %s |"
            % (
                c,
                ns(t.get("handshake/" + c)),
                ns(b.get("full/" + c)),
                num(a.get("handshake/" + c)),
                num(i.get("full/" + c)),
            )
        )
    lines.append("")
    lines.append("### Each side alone (recorded peer, fixed nonces)")
    lines.append("")
    lines.append(
        "| mechanism | server raw | server base64 | client raw | client base64 | "
        "allocations server raw / b64 | allocations client raw / b64 | instructions server / client |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for c in cases(figures):
        lines.append(
            "| %s | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s |"
            % (
                c,
                ns(t.get("server/%s raw" % c)),
                ns(t.get("server/%s base64" % c)),
                ns(t.get("client/%s raw" % c)),
                ns(t.get("client/%s base64" % c)),
                num(a.get("server/%s raw" % c)),
                num(a.get("server/%s base64" % c)),
                num(a.get("client/%s raw" % c)),
                num(a.get("client/%s base64" % c)),
                num(i.get("server/" + c)),
                num(i.get("client/" + c)),
            )
        )
    lines.append("")
    lines.append("### SMTP adapter (`SmtpClient` against `SmtpServer`, a full AUTH exchange)")
    lines.append("")
    lines.append("| mechanism | time | allocations |")
    lines.append("|---|---:|---:|")
    for key in sorted(k for k in t if k.startswith("smtp/")):
        c = key.split("/", 1)[1]
        lines.append("| %s | %s | %s |" % (c, ns(t[key]), num(a.get("smtp/" + c))))
    lines.append("")
    lines.append("### Key derivation (PBKDF2, 4096 iterations)")
    lines.append("")
    lines.append("| what | time |")
    lines.append("|---|---:|")
    for key in sorted(k for k in t if k.startswith("pbkdf2/")):
        lines.append("| %s | %s |" % (key.split("/", 1)[1], ns(t[key])))
    lines.append("")
    derive = [(side, v) for k, v in b.items() for side in [k.split("/", 1)[0]]
              if side in ("derive", "pbkdf2-crate", "compress-floor")]
    if derive:
        names = {
            "derive": "`ScramKeys::derive` (SCRAM-SHA-256)",
            "pbkdf2-crate": "the `pbkdf2` crate (HMAC-SHA-256)",
            "compress-floor": "8,192 SHA-256 compressions (the floor)",
        }
        lines.append("Best of 200 batches, SHA-256, 4096 iterations:")
        lines.append("")
        lines.append("| what | best |")
        lines.append("|---|---:|")
        for side, v in derive:
            lines.append("| %s | %s |" % (names[side], ns(v)))
        lines.append("")
    if figures.get("footprint"):
        fp = figures["footprint"].strip().splitlines()
        lines.append("### Memory")
        lines.append("")
        lines.extend(("#" + l) if l.startswith("## ") else l for l in fp)
        lines.append("")
    if before:
        bt, ba, bi = before["times"], before["allocations"], before["instructions"]
        lines.append("### Before and after (full handshakes)")
        lines.append("")
        lines.append(
            "Before: %s. Same benches, same machine."
            % before.get("machine", {}).get("label", "the base branch")
        )
        lines.append("")
        bb = before.get("best", {})
        lines.append(
            "| mechanism | time before | after | best before | after | "
            "allocations before | after | instructions before | after |"
        )
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in cases(figures):
            lines.append(
                "| %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                % (
                    c,
                    ns(bt.get("handshake/" + c)),
                    ns(t.get("handshake/" + c)),
                    ns(bb.get("full/" + c)),
                    ns(b.get("full/" + c)),
                    num(ba.get("handshake/" + c)),
                    num(a.get("handshake/" + c)),
                    num(bi.get("full/" + c)),
                    num(i.get("full/" + c)),
                )
            )
        lines.append("")
    if before:
        lines.append("### Before and after (each side alone, raw)")
        lines.append("")
        lines.append(
            "| mechanism | server allocations before | after | server instructions before | after "
            "| client allocations before | after | client instructions before | after |"
        )
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in cases(figures):
            lines.append(
                "| %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                % (
                    c,
                    num(ba.get("server/%s raw" % c)),
                    num(a.get("server/%s raw" % c)),
                    num(bi.get("server/" + c)),
                    num(i.get("server/" + c)),
                    num(ba.get("client/%s raw" % c)),
                    num(a.get("client/%s raw" % c)),
                    num(bi.get("client/" + c)),
                    num(i.get("client/" + c)),
                )
            )
        lines.append("")
    lines.append(END)
    return "\n".join(lines) + "\n"


def splice(path):
    section = sys.stdin.read()
    if os.path.exists(path):
        text = open(path).read()
    else:
        text = "# Performance\n\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _old, tail = rest.split(END, 1)
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def main():
    cmd = sys.argv[1]
    if cmd == "collect":
        collect(sys.argv[2], sys.argv[3])
    elif cmd == "render":
        figures = json.load(open(sys.argv[2]))
        before = json.load(open(sys.argv[3])) if len(sys.argv) > 3 else None
        sys.stdout.write(render(figures, before))
    elif cmd == "splice":
        splice(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

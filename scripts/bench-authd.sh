#!/usr/bin/env bash
# saslmech-authd vs Dovecot 2.3's auth service, side by side in one run on this machine.
#
#   sudo scripts/bench-authd.sh [OUTDIR]        (root: Dovecot's master must be)
#
# Both daemons serve the same passwd-file over a UNIX socket; authd-load (authd/src/bin) drives
# each with N connections, one request in flight per connection as Postfix's smtpd does:
#   * PLAIN with {PLAIN} passwords and SCRAM-SHA-256 with stored keys at 1, 16, 64 connections
#     (logins/s, p50/p99, the daemon's CPU time per login from /proc, RSS), with each of the
#     load generator's two drivers: `events` (one epoll loop for all connections: the
#     generator takes little of the two shared cores) and `threads` (a thread per connection
#     blocked on its reply, as each of Postfix's smtpd processes is);
#   * Dovecot with its anvil penalty check on (what Postfix and Exim get: they never send
#     `no-penalty`), plus one PLAIN row per connection count with `no-penalty`;
#   * resident memory with 1,000 idle connections;
#   * SHA512-CRYPT at 1, 2, 4, 16 connections (does throughput scale with cores?) and PLAIN
#     logins on one connection while 16 connections hammer SHA512-CRYPT (does the event loop
#     stay responsive?).
# Dovecot's CPU is its `auth` process plus its `anvil` process (asked about penalties on every
# login). Results: OUTDIR/results.txt (RESULT lines), OUTDIR/summary.md, and the chart
# docs/authd-performance.svg. DURATION (seconds per point, default 5), CONNS and DRIVERS can be set.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/target/bench-authd}
DURATION=${DURATION:-5}
CONNS=${CONNS:-"1 16 64"}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RESULTS=$OUT/results.txt
: > "$RESULTS"

[ "$(id -u)" -eq 0 ] || { echo "run as root (Dovecot's master needs it)" >&2; exit 1; }
command -v dovecot >/dev/null && command -v doveadm >/dev/null \
  || bash "$ROOT/scripts/install-deps.sh" --e2e

echo "building (release)…"
(cd "$ROOT" && cargo build -q --release -p saslmech-authd --bin saslmech-authd --bin authd-load)
AUTHD=$ROOT/target/release/saslmech-authd
LOAD=$ROOT/target/release/authd-load

D=$(mktemp -d /tmp/bench-authd.XXXXXX)
chmod 755 "$D"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$D"
}
trap cleanup EXIT

# One passwd-file for both daemons.
{
  echo "plain@example.com:{PLAIN}plain-secret::::::"
  echo "scram@example.com:$(doveadm pw -s SCRAM-SHA-256 -p scram-secret)::::::"
  echo "crypt@example.com:$(doveadm pw -s SHA512-CRYPT -p crypt-secret)::::::"
} > "$D/users"
chmod 644 "$D/users"

mkdir -p "$D/sm" "$D/dv/run" "$D/dv/state"
cat > "$D/sm/authd.toml" <<EOF
[listen]
unix = "$D/sm/auth"
unix_mode = "0666"

[auth]
mechanisms = ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"]
plaintext_without_tls = true
failure_delay_ms = 0

[passdb]
passwd_file = "$D/users"

[throttle]
max_failures = 1000000
window_s = 60
EOF

cat > "$D/dv/dovecot.conf" <<EOF
base_dir = $D/dv/run
state_dir = $D/dv/state
log_path = $D/dv/dovecot.log
protocols =
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 scram-sha-256
auth_cache_size = 0
auth_failure_delay = 0
default_login_user = dovenull
default_internal_user = dovecot
default_client_limit = 1200
passdb {
  driver = passwd-file
  args = scheme=PLAIN $D/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  client_limit = 1200
  unix_listener $D/dv/auth-client {
    mode = 0666
  }
}
service anvil {
  chroot =
  client_limit = 1300
}
EOF

"$AUTHD" --config "$D/sm/authd.toml" 2> "$D/sm/daemon.log" &
SM_PID=$!
PIDS+=("$SM_PID")
dovecot -F -c "$D/dv/dovecot.conf" &
DV_MASTER=$!
PIDS+=("$DV_MASTER")

for _ in $(seq 1 100); do
  [ -S "$D/sm/auth" ] && [ -S "$D/dv/auth-client" ] && break
  sleep 0.1
done
[ -S "$D/sm/auth" ] || { cat "$D/sm/daemon.log"; echo "saslmech-authd did not start" >&2; exit 1; }
[ -S "$D/dv/auth-client" ] || { cat "$D/dv/dovecot.log"; echo "dovecot did not start" >&2; exit 1; }

# Dovecot starts its auth process on the first connection: one login, then find it and anvil.
"$LOAD" --unix "$D/dv/auth-client" --user plain@example.com --pass plain-secret --count 1 >/dev/null
DV_PIDS=()
for p in $(pgrep -P "$DV_MASTER"); do
  case "$(cat /proc/$p/comm)" in auth|anvil) DV_PIDS+=("$p") ;; esac
done
[ ${#DV_PIDS[@]} -eq 2 ] || { echo "did not find Dovecot's auth and anvil processes" >&2; exit 1; }
dv_pid_args() { local p; for p in "${DV_PIDS[@]}"; do printf -- '--pid %s ' "$p"; done; }

# A point that fails (no successful login) is reported and the run goes on.
sm() { "$LOAD" --unix "$D/sm/auth" --pid "$SM_PID" --label saslmech-authd "$@" | tee -a "$RESULTS" || true; }
# shellcheck disable=SC2046
dv() { "$LOAD" --unix "$D/dv/auth-client" $(dv_pid_args) --label dovecot "$@" | tee -a "$RESULTS" || true; }

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS"
echo "cpus: $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)" | tee -a "$RESULTS"
echo "dovecot: $(dovecot --version)" | tee -a "$RESULTS"

PLAIN=(--mech PLAIN --user plain@example.com --pass plain-secret --duration "$DURATION")
SCRAM=(--mech SCRAM-SHA-256 --user scram@example.com --pass scram-secret --duration "$DURATION")
CRYPT=(--mech PLAIN --user crypt@example.com --pass crypt-secret --duration "$DURATION")

DRIVERS=${DRIVERS:-"events threads"}
for driver in $DRIVERS; do
  for c in $CONNS; do
    sm "${PLAIN[@]}" --conns "$c" --driver "$driver"
    dv "${PLAIN[@]}" --conns "$c" --driver "$driver"
    dv "${PLAIN[@]}" --conns "$c" --driver "$driver" --no-penalty --label dovecot-no-penalty
  done
  for c in $CONNS; do
    sm "${SCRAM[@]}" --conns "$c" --driver "$driver"
    dv "${SCRAM[@]}" --conns "$c" --driver "$driver"
  done
done

# 1,000 idle connections (fresh processes would be fairer, but both daemons have already
# served the same load here).
# The check login at the end uses a valid user: a failure would start Dovecot's anvil penalty.
sm --idle 1000 --hold 2 --user plain@example.com --pass plain-secret
dv --idle 1000 --hold 2 --user plain@example.com --pass plain-secret

# SHA512-CRYPT: CPU-bound hashes.
for c in 1 2 4 16; do
  sm "${CRYPT[@]}" --conns "$c" --label saslmech-authd-crypt
  dv "${CRYPT[@]}" --conns "$c" --label dovecot-crypt
done
# PLAIN on one connection while 16 connections run SHA512-CRYPT.
for who in sm dv; do
  if [ $who = sm ]; then sock=$D/sm/auth; lab=saslmech-authd; else sock=$D/dv/auth-client; lab=dovecot; fi
  "$LOAD" --unix "$sock" "${CRYPT[@]}" --conns 16 --warmup 0.5 --label "$lab-crypt-background" \
    > "$OUT/bg-$who.txt" &
  bg=$!
  sleep 0.5
  "$LOAD" --unix "$sock" "${PLAIN[@]}" --conns 1 --duration "$(( DURATION > 2 ? DURATION - 2 : 1 ))" \
    --label "$lab-plain-during-crypt" | tee -a "$RESULTS" || true
  wait $bg || true
  tee -a "$RESULTS" < "$OUT/bg-$who.txt"
done

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS"

# Summary table and chart.
python3 - "$RESULTS" "$OUT/summary.md" "$ROOT/docs/authd-performance.svg" <<'PY'
import sys
res, summary, svg = sys.argv[1], sys.argv[2], sys.argv[3]
rows = []
for line in open(res):
    if line.startswith("RESULT "):
        rows.append(dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv))
load = [l.split(":", 1)[1].strip() for l in open(res) if l.startswith("load average at")]
out = [f"Load average at start and end: {' / '.join(load)}", "",
       "| driver | daemon | mechanism | conns | logins/s | p50 ms | p99 ms | daemon CPU µs/login | RSS kB |",
       "|---|---|---|---:|---:|---:|---:|---:|---:|"]
for r in rows:
    if r.get("mode") == "idle":
        continue
    out.append(f"| {r.get('driver', 'threads').split('/')[0]} | {r['label']} | {r['mech']} | {r['conns']} | "
               f"{float(r['rate']):,.0f} | {r['p50_ms']} | {r['p99_ms']} | {float(r['cpu_us_per_login']):.1f} | {r['rss_kb']} |")
def point(driver, label, mech, conns):
    for r in rows:
        if (r.get("mode") != "idle" and r.get("driver", "threads").split("/")[0] == driver
                and r["label"] == label and r["mech"] == mech and r["conns"] == conns):
            return r
    return None
# The targets, at the largest connection count: saslmech-authd against Dovecot as Postfix and
# Exim meet it (penalty check on).
cmax = max([int(r["conns"]) for r in rows if r.get("mode") != "idle"] + [0])
out += ["", f"At {cmax} connections, saslmech-authd ÷ Dovecot (targets: logins/s ≥ 2×, CPU/login ≤ 0.5×, p99 no worse):", "",
        "| driver | mechanism | logins/s | CPU per login | p99 ms (saslmech-authd vs Dovecot) |",
        "|---|---|---:|---:|---|"]
for driver in ("events", "threads"):
    for mech in ("PLAIN", "SCRAM-SHA-256"):
        a, b = point(driver, "saslmech-authd", mech, str(cmax)), point(driver, "dovecot", mech, str(cmax))
        if not a or not b or float(b["rate"]) == 0 or float(b["cpu_us_per_login"]) == 0:
            continue
        out.append(f"| {driver} | {mech} | {float(a['rate']) / float(b['rate']):.2f}× | "
                   f"{float(a['cpu_us_per_login']) / float(b['cpu_us_per_login']):.2f}× | {a['p99_ms']} vs {b['p99_ms']} |")
out += ["", "| daemon | idle connections | RSS before kB | RSS with them kB | bytes per connection |",
        "|---|---:|---:|---:|---:|"]
for r in rows:
    if r.get("mode") == "idle":
        out.append(f"| {r['label']} | {r['conns']} | {r['rss_before_kb']} | {r['rss_kb']} | {r['bytes_per_conn']} |")
open(summary, "w").write("\n".join(out) + "\n")
print("\n".join(out))

# Chart: logins/s for PLAIN and SCRAM-SHA-256 at each connection count, both daemons, one
# group of bars per (driver, mechanism, connections).
pts = [(r["label"], r.get("driver", "threads").split("/")[0], r["mech"], int(r["conns"]), float(r["rate"]))
       for r in rows if r.get("mode") != "idle" and r["label"] in ("saslmech-authd", "dovecot")
       and r["mech"] in ("PLAIN", "SCRAM-SHA-256")]
order = {"events": 0, "threads": 1}
groups = sorted({(d, m, c) for _, d, m, c, _ in pts}, key=lambda g: (order.get(g[0], 2), g[1], g[2]))
vmax = max([p[4] for p in pts] + [1])
W, H, left, bottom, top = max(760, 90 + 62 * len(groups)), 380, 70, 76, 40
bw = (W - left - 20) / max(len(groups), 1)
colors = {"saslmech-authd": "#2b7bb9", "dovecot": "#d9822b"}
s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W:.0f}" height="{H}" font-family="sans-serif" font-size="11">',
     f'<text x="{W/2:.0f}" y="20" text-anchor="middle" font-size="14">Logins per second, one request in flight per connection (higher is better)</text>']
for i in range(0, 5):
    v = vmax * i / 4
    y = H - bottom - (H - bottom - top) * i / 4
    s.append(f'<line x1="{left}" y1="{y:.0f}" x2="{W-20:.0f}" y2="{y:.0f}" stroke="#ddd"/>')
    s.append(f'<text x="{left-5}" y="{y+4:.0f}" text-anchor="end">{v:,.0f}</text>')
for gi, (d0, m, c) in enumerate(groups):
    x0 = left + gi * bw
    for di, d in enumerate(("saslmech-authd", "dovecot")):
        v = next((p[4] for p in pts if p[0] == d and p[1] == d0 and p[2] == m and p[3] == c), 0)
        h = (H - bottom - top) * v / vmax
        x = x0 + 6 + di * (bw - 12) / 2
        s.append(f'<rect x="{x:.0f}" y="{H-bottom-h:.0f}" width="{(bw-12)/2-2:.0f}" height="{h:.0f}" fill="{colors[d]}"/>')
    label = "SCRAM" if m.startswith("SCRAM") else m
    s.append(f'<text x="{x0+bw/2:.0f}" y="{H-bottom+14}" text-anchor="middle">{label}</text>')
    s.append(f'<text x="{x0+bw/2:.0f}" y="{H-bottom+27}" text-anchor="middle">{c} conn</text>')
    s.append(f'<text x="{x0+bw/2:.0f}" y="{H-bottom+40}" text-anchor="middle" fill="#666">{d0}</text>')
for di, d in enumerate(("saslmech-authd", "dovecot")):
    s.append(f'<rect x="{left+di*170}" y="{H-18}" width="12" height="12" fill="{colors[d]}"/>')
    s.append(f'<text x="{left+di*170+16}" y="{H-8}">{d if d != "dovecot" else "Dovecot 2.3 auth"}</text>')
s.append(f'<text x="{left+360}" y="{H-8}" fill="#666">events: one epoll loop drives all connections; threads: a thread per connection</text>')
s.append("</svg>")
open(svg, "w").write("\n".join(s) + "\n")
PY
echo "results: $RESULTS, $OUT/summary.md, docs/authd-performance.svg"

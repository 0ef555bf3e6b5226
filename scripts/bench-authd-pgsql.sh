#!/usr/bin/env bash
# saslmech-authd's PostgreSQL passdb vs Dovecot 2.3's SQL passdb (dovecot-pgsql), on the SAME
# private PostgreSQL server and table, next to both daemons on a passwd-file with the same
# users — all in one run on this machine.
#
#   sudo scripts/bench-authd-pgsql.sh [OUTDIR]     (root: Dovecot's master and initdb's runuser)
#
# Four daemons, each on its own UNIX socket, driven in turn by authd-load (authd/src/bin; one
# request in flight per connection, as Postfix's smtpd does), PLAIN with a {PLAIN} password and
# SCRAM-SHA-256 with stored keys, at 1, 16 and 64 connections:
#   saslmech-authd  passwd-file   |  saslmech-authd  [passdb] driver = "pgsql"
#   Dovecot         passwd-file   |  Dovecot         passdb { driver = sql } + dovecot-pgsql
# Reported per point: logins/s, p50/p99, the daemon's CPU µs per login (Dovecot: its auth and
# anvil processes, as bench-authd.sh counts them), and for the SQL rows PostgreSQL's own CPU µs
# per login (the postmaster and its backends, from /proc, over a window inside the measured
# interval). No caches: saslmech-authd has none, Dovecot runs with auth_cache_size = 0, so every
# login is one query. The load average is recorded at the start and end and on every point.
# Results: OUTDIR/results.txt (RESULT lines) and OUTDIR/summary.md. DURATION (seconds per point,
# default 5) and CONNS can be set.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/target/bench-authd-pgsql}
DURATION=${DURATION:-5}
CONNS=${CONNS:-"1 16 64"}
WARMUP=1
POOL=8
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RESULTS=$OUT/results.txt
: > "$RESULTS"

[ "$(id -u)" -eq 0 ] || { echo "run as root (Dovecot's master and runuser need it)" >&2; exit 1; }
if ! command -v doveadm >/dev/null || [ ! -e /usr/lib/dovecot/modules/auth/libdriver_pgsql.so ]; then
  bash "$ROOT/scripts/install-deps.sh" --e2e   # dovecot-core, dovecot-pgsql
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { bash "$ROOT/scripts/install-deps.sh"; PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); }

echo "building (release)…"
(cd "$ROOT" && cargo build -q --release -p saslmech-authd --bin saslmech-authd --bin authd-load)
AUTHD=$ROOT/target/release/saslmech-authd
LOAD=$ROOT/target/release/authd-load

D=$(mktemp -d /tmp/bench-authd-pg.XXXXXX)
chmod 755 "$D"
PIDS=()
PG_STARTED=""
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$p" 2>/dev/null || true
  done
  if [ -n "$PG_STARTED" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$D/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$D"
}
trap cleanup EXIT

# --- PostgreSQL: a private server on a UNIX socket in $D/pg (no TCP), as the postgres user.
mkdir -p "$D/pg"
chown postgres:postgres "$D/pg"
chmod 755 "$D/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$D/pg/data" -U postgres --auth=trust -E UTF8 \
  --locale=C --no-sync >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$D/pg/data" -l "$D/pg/log" -w -t 30 \
  -o "-k $D/pg -p 5432 -c listen_addresses='' -c max_connections=100" start >/dev/null
PG_STARTED=1
PG_PID=$(head -1 "$D/pg/data/postmaster.pid")
CONN="host=$D/pg port=5432 user=postgres dbname=postgres"

# The same users in the passwd-file and in the table (docs/authd.md's schema).
PLAIN_SECRET='{PLAIN}plain-secret'
SCRAM_SECRET=$(doveadm pw -s SCRAM-SHA-256 -p scram-secret)
{
  echo "plain@example.com:$PLAIN_SECRET::::::"
  echo "scram@example.com:$SCRAM_SECRET::::::"
} > "$D/users"
chmod 644 "$D/users"
"$PGBIN/psql" -h "$D/pg" -p 5432 -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 <<EOF
CREATE TABLE users (
    username text NOT NULL,
    domain   text NOT NULL,
    password text,
    disabled boolean NOT NULL DEFAULT false,
    login    text,
    PRIMARY KEY (username, domain)
);
INSERT INTO users (username, domain, password) VALUES
  ('plain', 'example.com', '$PLAIN_SECRET'),
  ('scram', 'example.com', '$SCRAM_SECRET');
INSERT INTO users VALUES ('off', 'example.com', '$PLAIN_SECRET', true, NULL);
EOF

# --- The daemons.
SM_QUERY="SELECT password, disabled AS nologin, login AS \\\"user\\\" FROM users WHERE username = '%n' AND domain = '%d'"
# Dovecot sets nologin for any non-NULL value: false must be NULL.
DV_QUERY="SELECT password, CASE WHEN disabled THEN 'Y' END AS nologin, login AS \"user\" FROM users WHERE username = '%n' AND domain = '%d'"

sm_config() { # NAME PASSDB-TABLES
  mkdir -p "$D/$1"
  cat > "$D/$1/authd.toml" <<EOF
[listen]
unix = "$D/$1/auth"
unix_mode = "0666"

[auth]
mechanisms = ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"]
plaintext_without_tls = true
failure_delay_ms = 0

$2

[throttle]
max_failures = 1000000
window_s = 60
EOF
}
sm_config sm-file "[passdb]
passwd_file = \"$D/users\""
sm_config sm-pg "[passdb]
driver = \"pgsql\"

[pgsql]
connection = \"$CONN\"
pool_size = $POOL
password_query = \"$SM_QUERY\""

dv_config() { # NAME PASSDB-BLOCK
  mkdir -p "$D/$1/run" "$D/$1/state"
  cat > "$D/$1/dovecot.conf" <<EOF
base_dir = $D/$1/run
state_dir = $D/$1/state
log_path = $D/$1/dovecot.log
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
$2
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  client_limit = 1200
  unix_listener $D/$1/auth-client {
    mode = 0666
  }
}
service anvil {
  chroot =
  client_limit = 1300
}
EOF
}
dv_config dv-file "passdb {
  driver = passwd-file
  args = scheme=PLAIN $D/users
}"
# The same pool size as saslmech-authd's (Dovecot's default maxconns is 5).
cat > "$D/dovecot-sql.conf.ext" <<EOF
driver = pgsql
connect = $CONN maxconns=$POOL
default_pass_scheme = CRYPT
password_query = $DV_QUERY
EOF
chmod 644 "$D/dovecot-sql.conf.ext"
dv_config dv-pg "passdb {
  driver = sql
  args = $D/dovecot-sql.conf.ext
}"

"$AUTHD" --check-config --config "$D/sm-pg/authd.toml" >/dev/null
declare -A SOCK PIDARGS
for n in sm-file sm-pg; do
  "$AUTHD" --config "$D/$n/authd.toml" 2> "$D/$n/daemon.log" &
  PIDS+=("$!")
  SOCK[$n]=$D/$n/auth
  PIDARGS[$n]="--pid $!"
done
declare -A DV_MASTER
for n in dv-file dv-pg; do
  dovecot -F -c "$D/$n/dovecot.conf" &
  PIDS+=("$!")
  DV_MASTER[$n]=$!
  SOCK[$n]=$D/$n/auth-client
done
for n in sm-file sm-pg dv-file dv-pg; do
  for _ in $(seq 1 100); do [ -S "${SOCK[$n]}" ] && break; sleep 0.1; done
  [ -S "${SOCK[$n]}" ] || { cat "$D/$n/"*.log; echo "$n did not start" >&2; exit 1; }
  # One login each (Dovecot starts its auth process on the first connection; it must work).
  "$LOAD" --unix "${SOCK[$n]}" --user plain@example.com --pass plain-secret --count 1 >/dev/null \
    || { cat "$D/$n/"*.log; echo "$n: the first login failed" >&2; exit 1; }
done
for n in dv-file dv-pg; do
  a=""
  for p in $(pgrep -P "${DV_MASTER[$n]}"); do
    case "$(cat "/proc/$p/comm")" in auth|anvil) a="$a --pid $p" ;; esac
  done
  [ "$(echo "$a" | wc -w)" -eq 4 ] || { echo "$n: did not find Dovecot's auth and anvil" >&2; exit 1; }
  PIDARGS[$n]=$a
done

# What each SQL daemon answers for the disabled user (right password), as a record of how the
# two read the same row: one AUTH PLAIN over the protocol, the reply line.
for n in sm-pg dv-pg; do
  echo "$n, disabled user: $(python3 - "${SOCK[$n]}" <<'PY'
import base64, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
resp = base64.b64encode(b"\0off@example.com\0plain-secret").decode()
s.sendall(f"VERSION\t1\t0\nCPID\t1000\nAUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp={resp}\n".encode())
f = s.makefile("r")
for _ in range(100):
    line = f.readline().rstrip("\n")
    if not line or line.startswith(("OK\t1\t", "FAIL\t1\t")):
        print(line or "(closed)")
        break
PY
)" | tee -a "$RESULTS"
done

# PostgreSQL's CPU ticks: the postmaster, its live children (the backends), and what it has
# reaped from children that exited (cutime/cstime).
pg_ticks() {
  local t=0 p f
  for p in "$PG_PID" $(pgrep -P "$PG_PID"); do
    f=$(cut -d')' -f2- "/proc/$p/stat" 2>/dev/null) || continue
    # After "pid (comm)": state is field 1; utime, stime, cutime, cstime are fields 12-15.
    set -- $f
    t=$(( t + ${12} + ${13} + ${14} + ${15} ))
  done
  echo "$t"
}
TCK=$(getconf CLK_TCK)

# One point: authd-load against daemon $1 with label $2 and the remaining arguments. For the
# SQL daemons, PostgreSQL's CPU is read inside the measured interval (after the warm-up, 0.2 s
# margins) and divided by the logins the measured rate gives for that window.
point() {
  local n=$1 label=$2; shift 2
  local pg=0 t0 t1 c0 c1 line rate win
  case $n in *-pg) pg=1 ;; esac
  # shellcheck disable=SC2086
  "$LOAD" --unix "${SOCK[$n]}" ${PIDARGS[$n]} --label "$label" --warmup "$WARMUP" \
    --duration "$DURATION" "$@" > "$D/point.txt" 2>&1 &
  local lp=$!
  if [ $pg = 1 ]; then
    sleep "$(awk -v w="$WARMUP" 'BEGIN { print w + 0.4 }')"
    t0=$(date +%s.%N); c0=$(pg_ticks)
    sleep "$(awk -v d="$DURATION" 'BEGIN { print d - 0.6 }')"
    t1=$(date +%s.%N); c1=$(pg_ticks)
  fi
  wait $lp || true
  cat "$D/point.txt"
  line=$(grep '^RESULT ' "$D/point.txt" || true)
  [ -n "$line" ] || return 0
  if [ $pg = 1 ]; then
    rate=$(echo "$line" | sed -n 's/.* rate=\([0-9.]*\).*/\1/p')
    line="$line $(awk -v c="$(( c1 - c0 ))" -v tck="$TCK" -v rate="$rate" -v t0="$t0" -v t1="$t1" \
      'BEGIN { w = t1 - t0; printf "pg_cpu_us_per_login=%.2f pg_cpu_pct=%.1f", c * 1e6 / tck / (rate * w), c * 100 / tck / w }')"
  fi
  echo "$line passdb=$(case $n in *-pg) echo pgsql ;; *) echo passwd-file ;; esac)" >> "$RESULTS"
}

{
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "cpus: $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
  echo "dovecot: $(dovecot --version); postgresql: $("$PGBIN/postgres" --version)"
  echo "saslmech-authd: $(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- authd || echo '+changes')"
} | tee -a "$RESULTS"

PLAIN=(--mech PLAIN --user plain@example.com --pass plain-secret)
SCRAM=(--mech SCRAM-SHA-256 --user scram@example.com --pass scram-secret)
for mech in PLAIN SCRAM; do
  for c in $CONNS; do
    if [ $mech = PLAIN ]; then args=("${PLAIN[@]}"); else args=("${SCRAM[@]}"); fi
    point sm-file saslmech-authd "${args[@]}" --conns "$c"
    point sm-pg saslmech-authd "${args[@]}" --conns "$c"
    point dv-file dovecot "${args[@]}" --conns "$c"
    point dv-pg dovecot "${args[@]}" --conns "$c"
  done
done

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS"
if grep -q "ERROR\|FATAL" "$D/pg/log"; then
  echo "PostgreSQL logged errors:" >&2; grep "ERROR\|FATAL" "$D/pg/log" | head >&2
fi

python3 - "$RESULTS" "$OUT/summary.md" <<'PY'
import sys
res, summary = sys.argv[1], sys.argv[2]
rows = []
for line in open(res):
    if line.startswith("RESULT "):
        rows.append(dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv))
out = ["| daemon | passdb | mechanism | conns | logins/s | p50 ms | p99 ms | daemon CPU µs/login | PostgreSQL CPU µs/login | load |",
       "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
for r in rows:
    pg = r.get("pg_cpu_us_per_login")
    out.append(f"| {r['label']} | {r['passdb']} | {r['mech']} | {r['conns']} | {float(r['rate']):,.0f} | "
               f"{r['p50_ms']} | {r['p99_ms']} | {float(r['cpu_us_per_login']):.1f} | "
               f"{'' if pg is None else f'{float(pg):.1f}'} | {r.get('load', '')} |")
open(summary, "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
echo "results: $RESULTS, $OUT/summary.md"

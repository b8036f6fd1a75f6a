#!/usr/bin/env bash
# runbook_test: docs/runbooks.md followed end to end on the installed package, as an
# administrator would, with a fleet of agents checking in:
#   0. install: certmgr -c from any folder acts on /var/lib/certkeeper (as root it says
#      whom to run as); the server starts as its unit does (no flags, the default config,
#      stderr the journal: "<N>" priority prefixes), agents pin OfcNTCer.dat from -e;
#   1. planned rotation: -c, every agent follows, -l lists none, the old one is retired;
#   2. after a leak: generate --revoke-previous; the leaked key is revoked (audit says
#      so) and no agent is moved off it remotely: -l lists every agent as pinning a
#      revoked key until OfcNTCer.dat from -e is copied into each agent's folder by hand,
#      then every agent is on the new certificate;
#   3. after a reinstall: the state folder is lost; verify-backup and -r bring the
#      certificates back, the server (with its kept TLS identity) serves the same current
#      certificate and every agent is back on it.
# Commands as docs/runbooks.md gives them (the password on standard input).
set -euo pipefail
ck_test_name=runbook_test
. "$(dirname "$0")/installed_root.sh"

scratch="$(mktemp -d)"
chmod 0755 "$scratch"
trap 'rm -rf "$scratch"' EXIT
root="$scratch/root"
unpack_package "$root"

cat >"$scratch/runbooks.sh" <<'EOF'
set -euo pipefail
root="$1" state="$2" work="$3"
agents_n=300
fail() {
  echo "runbook_test: FAIL: $*" >&2
  [ -f "$work/server.log" ] && tail -n 20 "$work/server.log" >&2
  [ -f "$work/fleet.log" ] && tail -n 20 "$work/fleet.log" >&2
  exit 1
}
step() { echo "== $*"; }
as_certkeeper=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/ setpriv --reuid=certkeeper --regid=certkeeper --init-groups)
certmgr() { "${as_certkeeper[@]}" "$root/usr/bin/certmgr" "$@"; }
pids=()
stop_all() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all EXIT

install -d -o certkeeper -g certkeeper -m 0700 "$work"
pw="$work/certkeeper-backup.pw"
echo 'Quartz-Lantern-97-Vivid' >"$pw"
chown certkeeper: "$pw"
chmod 0600 "$pw"

field() {  # field PY-EXPR: evaluates on `certmgr status --json` as s
  certmgr status --json | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
}
# Every agent pins the current certificate: status counts them all there, -l lists none.
wait_converged() {
  local i
  for i in $(seq 120); do
    if [ "$(field "s['current']['endpoints']")" = "$agents_n" ]; then
      certmgr -l "$work/left.csv" >/dev/null
      [ "$(wc -l <"$work/left.csv")" -eq 1 ] || fail "-l lists agents left behind: $(cat "$work/left.csv")"
      return 0
    fi
    sleep 0.5
  done
  fail "the agents did not converge on $(field "s['current']['fingerprint']"): $(certmgr status)"
}

server_pid="" agents_at=""
start_server() {
  # As certkeeper-server.service runs it: no flags, settings from
  # /etc/certkeeper/certkeeper.toml, stderr the journal ($JOURNAL_STREAM names it). A
  # drop-in's Environment= moves the listeners to free loopback ports.
  : >"$work/server.log"
  : >"$work/server.out"
  local stream
  stream="$(stat -c '%d:%i' "$work/server.log")"
  "${as_certkeeper[@]}" env JOURNAL_STREAM="$stream" CERTKEEPER_LISTEN="${agents_at:-127.0.0.1:0}" \
    CERTKEEPER_METRICS_LISTEN=127.0.0.1:0 CERTKEEPER_CONSOLE_LISTEN=127.0.0.1:0 "$root/usr/bin/certkeeper-server" \
    >"$work/server.out" 2>"$work/server.log" &
  server_pid=$!
  pids+=("$server_pid")
  local i
  for i in $(seq 200); do
    grep -q ' (metrics)$' "$work/server.out" && break
    kill -0 "$server_pid" 2>/dev/null || fail "certkeeper-server exited"
    sleep 0.1
  done
  # Later starts keep the first start's port: the agents know the server by it.
  agents_at="$(sed -n 's/^listening on \(.*\) (agents)$/\1/p' "$work/server.out")"
  [ -n "$agents_at" ] || fail "certkeeper-server never listened"
  [ -S /var/lib/certkeeper/server/admin.sock ] || fail "no admin socket in the config's state_dir"
  grep -qv '^<[0-7]>' "$work/server.log" && fail "a log line without a journal priority: $(grep -v '^<[0-7]>' "$work/server.log" | head -1)"
  grep -q '^<6>info serving' "$work/server.log" || fail "no '<6>info serving' line in the journal format"
}
stop_server() {
  kill -TERM "$server_pid"
  local rc=0
  wait "$server_pid" || rc=$?
  [ "$rc" -eq 0 ] || fail "certkeeper-server exited $rc on SIGTERM"
}

step "0. install: first certificate, the server from its unit settings, agents"
cd /
out="$("$root/usr/bin/certmgr" -c 'Quartz-Lantern-97-Vivid' 2>&1)" && fail "certmgr -c as root wrote into certkeeper's folder: $out"
grep -q 'belongs to certkeeper (run as the certkeeper administrator: sudo -u certkeeper certmgr' <<<"$out" ||
  fail "certmgr -c as root: $out"
[ -z "$(ls -A /var/lib/certkeeper)" ] || fail "certmgr -c as root left files: $(ls -A /var/lib/certkeeper)"
certmgr -c --password-stdin <"$pw" >/dev/null
first="$(field "s['current']['fingerprint']")"
start_server
certmgr -e "$work/OfcNTCer.dat" >/dev/null
"$root/usr/bin/certkeeper-fleet" --server "https://$agents_at" --agent-key "$work/OfcNTCer.dat" \
  --state-root "$work/agents" \
  -n "$agents_n" --checkin-interval 1 --spread 1 --progress 0 --duration 600 >"$work/fleet.log" 2>&1 &
pids+=("$!")
wait_converged
echo "$agents_n agents on $first"

step "1. planned rotation"
last_backup="$(ls -t /var/lib/certkeeper/backups/*.zip | head -1)"
certmgr verify-backup --password-stdin "$last_backup" <"$pw" | tail -1 | grep -q '^ok: ' ||
  fail "verify-backup did not end with ok:"
certmgr -c --password-stdin <"$pw" >"$work/rotate.out"
grep -q "^previous $first is now retired$" "$work/rotate.out" || fail "-c did not say the previous one is retired"
second="$(field "s['current']['fingerprint']")"
[ "$second" != "$first" ] || fail "-c did not replace the certificate"
wait_converged
[ "$(field "[c['status'] for c in s['certificates'] if c['fingerprint']=='$first'][0]")" = retired ] ||
  fail "the previous certificate is not retired"

step "2. after a leak: replace and revoke in one step, then hand copies"
certmgr generate --revoke-previous --password-stdin <"$pw" >/dev/null
third="$(field "s['current']['fingerprint']")"
[ "$third" != "$second" ] || fail "generate --revoke-previous did not replace the certificate"
[ "$(field "[c['status'] for c in s['certificates'] if c['fingerprint']=='$second'][0]")" = revoked ] ||
  fail "the leaked certificate is not revoked"
certmgr audit --json --since 1d | python3 -c "
import json, sys
entries = json.load(sys.stdin)['entries']
assert any('$second' in e['fingerprints'] and 'revoke' in (e['action'] + e['detail']) for e in entries), entries
" || fail "the audit log does not record the revocation of $second"
sleep 3  # several check-ins: no agent may be moved off the leaked key remotely
[ "$(field "[c['endpoints'] for c in s['certificates'] if c['fingerprint']=='$second'][0]")" = "$agents_n" ] ||
  fail "agents left the revoked key without a hand copy: $(certmgr status)"
certmgr -l "$work/left-after-leak.csv" >/dev/null
[ "$(grep -c ",revoked," "$work/left-after-leak.csv")" -eq "$agents_n" ] ||
  fail "-l does not list every agent as pinning a revoked key: $(head -3 "$work/left-after-leak.csv")"
certmgr -e "$work/OfcNTCer.dat" >/dev/null
for agent_dir in "$work"/agents/*/; do  # the hand copy on every endpoint
  cp "$work/OfcNTCer.dat" "$agent_dir/.OfcNTCer.dat.new"
  mv "$agent_dir/.OfcNTCer.dat.new" "$agent_dir/OfcNTCer.dat"
done
wait_converged

step "3. after a reinstall: restore from the backup"
backup="$(ls -t /var/lib/certkeeper/backups/*.zip | head -1)"
install -d -o certkeeper -g certkeeper -m 0700 "$work/kept"
cp -p "$backup" /var/lib/certkeeper/server/server-tls.crt /var/lib/certkeeper/server/server-tls.key "$work/kept/"
stop_server
find /var/lib/certkeeper -mindepth 1 -delete  # the machine is reinstalled: its state is gone
kept_zip="$work/kept/$(basename "$backup")"
certmgr verify-backup --password-stdin "$kept_zip" <"$pw" >/dev/null || fail "verify-backup refused the kept backup"
certmgr -r --password-stdin "$kept_zip" <"$pw" >/dev/null
[ "$(field "s['current']['fingerprint']")" = "$third" ] || fail "restore did not bring back $third as current"
install -d -o certkeeper -g certkeeper -m 0750 /var/lib/certkeeper/server
cp -p "$work/kept/server-tls.crt" "$work/kept/server-tls.key" /var/lib/certkeeper/server/
start_server
wait_converged
[ "$(field "len(s['certificates'])")" = 3 ] || fail "restore did not bring back all three certificates"
certmgr audit --json | python3 -c "
import json, sys
assert any(e['action'] == 'restore' for e in json.load(sys.stdin)['entries'])
" || fail "the audit log does not record the restore"
stop_server
echo "runbook_test: OK"
EOF

run_installed "$root" "$scratch/state" "$scratch/runbooks.sh" "$scratch/work"

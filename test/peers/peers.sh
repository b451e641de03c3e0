#!/usr/bin/env bash
# Mailport's mail test peers, all on loopback:
#   * Dovecot "main" instance: IMAP+STARTTLS, IMAPS, POP3+STLS, POP3S, LMTP; passwd-file + OAuth2 passdbs;
#     also POP3 (STLS) / POP3S on the standard ports 110/995 of the "POP-only host" 127.0.0.7
#   * Dovecot "nostarttls" instance: IMAP without any TLS (same users and mailboxes)
#   * OAuth2 issuer (oauth-server.mjs) used by Dovecot and the SMTP peer for XOAUTH2/OAUTHBEARER
#   * SMTP submission peer (smtp-peer.mjs): STARTTLS, implicit TLS, no-STARTTLS, untrusted-cert listeners;
#     captures every message and delivers local recipients into Dovecot over LMTP
# and writes $PEER_ROOT/peers.json describing them (see test/helpers/peers.ts for the typed contract).
#
#   usage: peers.sh start|stop|status
#   env:   PEER_ROOT (default <repo>/.peers)
#          PEER_IMAP_PORT PEER_IMAPS_PORT PEER_IMAP_NOSTARTTLS_PORT PEER_POP3_PORT PEER_POP3S_PORT
#          PEER_POPONLY_HOST PEER_POPONLY_POP3_PORT PEER_POPONLY_POP3S_PORT PEER_SMTP_PORT PEER_SMTPS_PORT
#          PEER_SMTP_NOSTARTTLS_PORT PEER_SMTP_UNTRUSTED_PORT PEER_LMTP_PORT PEER_OAUTH_PORT
#          PEER_IPV6=0 (do not listen on ::1)   PEER_KEEP_STATE=1 (keep users, mail and captures from the last run)
#          SMTP_LOG=1 (smtp-server protocol log into the SMTP peer log)
#          PEER_DOVECOT_EXTRA_CONF=FILE (optional: Dovecot settings appended to the main instance's config,
#          later values win; scripts/bench-sync.ts raises process and connection limits with it)
# Needs root (Dovecot drops privileges itself; 110/995 are privileged ports) and the Debian packages
# dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-auth-lua openssl (scripts/ensure-debs.sh installs them).
set -euo pipefail
# files read by Dovecot's unprivileged processes must be world-readable even under a strict CI umask
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
ROOT=$(realpath -m "${PEER_ROOT:-$REPO/.peers}")

HOST=127.0.0.1
IMAP_PORT=${PEER_IMAP_PORT:-21143}
IMAPS_PORT=${PEER_IMAPS_PORT:-21993}
IMAP_NOSTARTTLS_PORT=${PEER_IMAP_NOSTARTTLS_PORT:-21144}
POP3_PORT=${PEER_POP3_PORT:-21110}
POP3S_PORT=${PEER_POP3S_PORT:-21995}
POPONLY_HOST=${PEER_POPONLY_HOST:-127.0.0.7}
POPONLY_POP3_PORT=${PEER_POPONLY_POP3_PORT:-110}
POPONLY_POP3S_PORT=${PEER_POPONLY_POP3S_PORT:-995}
SMTP_PORT=${PEER_SMTP_PORT:-21587}
SMTPS_PORT=${PEER_SMTPS_PORT:-21465}
SMTP_NOSTARTTLS_PORT=${PEER_SMTP_NOSTARTTLS_PORT:-21588}
SMTP_UNTRUSTED_PORT=${PEER_SMTP_UNTRUSTED_PORT:-21466}
LMTP_PORT=${PEER_LMTP_PORT:-21024}
OAUTH_PORT=${PEER_OAUTH_PORT:-28089}
OAUTH_URL="http://$HOST:$OAUTH_PORT"

# Listen on ::1 too, when the loopback interface has it (Docker without IPv6 does not; Dovecot would then
# fail to bind).
HOST6=
if [ "${PEER_IPV6:-1}" != 0 ] && grep -qi '^0\{31\}1 .* lo$' /proc/net/if_inet6 2>/dev/null; then HOST6=::1; fi

PIDDIR=$ROOT/pids
LOGDIR=$ROOT/log
DOVECOT_LOGDIR=$ROOT/dovecot/log
SERVICES="oauth dovecot dovecot-nostarttls smtp"   # start order; stop goes in reverse
PEERS_JSON=$ROOT/peers.json

now_ms() { date +%s%3N; }
say() { echo "peers: $*"; }
die() { echo "peers: $*" >&2; exit 1; }

# A process counts as alive unless gone or a zombie: after `start` exits the peers are re-parented to
# PID 1, which may reap late, so `kill -0` alone could report a dead Dovecot as running (kit pitfall 13).
alive() { [ -n "${1:-}" ] && [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
pid_of() { cat "$PIDDIR/$1.pid" 2>/dev/null || true; }
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Where Dovecot's unprivileged processes read/write: the auth process (user dovecot) reads the passwd-file
# and oauth2.conf.ext, mail processes (user mail, uid 8) write under mail/. Both need search permission on
# every parent directory. A clone under /root (mode 700) does not give it, so those files then live in a
# directory under /tmp instead (peers.json always has the real paths).
can_reach() { setpriv --reuid="$1" --regid="$(id -g "$1")" --clear-groups -- test -x "$2" 2>/dev/null; }
data_dir() {
  if can_reach dovecot "$ROOT" && can_reach mail "$ROOT"; then echo "$ROOT"
  else echo "/tmp/mailport-peers-data.$(echo "$ROOT" | cksum | cut -d' ' -f1)"; fi
}

# ---- TLS ----
# One private CA (tls/ca.crt; tests trust it via caFile / NODE_EXTRA_CA_CERTS) signing the server leaf used
# by Dovecot and the trusted SMTP listeners, plus a second, never-trusted CA for smtp.untrustedTls.
# The CAs are kept across runs (a developer's NODE_EXTRA_CA_CERTS stays valid); a leaf is re-issued when
# its SAN no longer matches (e.g. another PEER_POPONLY_HOST) or it expires within a day.
SAN="DNS:localhost,IP:127.0.0.1,IP:::1,IP:$POPONLY_HOST"
make_ca() { # dir name subject
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$3" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$1/$2.key" -out "$1/$2.crt" 2>/dev/null
  chmod 600 "$1/$2.key"
}
make_leaf() { # dir name ca-name
  local d=$1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$d/$2.key" -out "$d/$2.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n' "$SAN" > "$d/$2.ext"
  openssl x509 -req -in "$d/$2.csr" -CA "$d/$3.crt" -CAkey "$d/$3.key" -CAcreateserial -days 825 -sha256 \
    -extfile "$d/$2.ext" -out "$d/$2.crt" 2>/dev/null
  echo "$SAN" > "$d/$2.san"
  chmod 644 "$d/$2.key"   # throwaway test key; readable in case a peer runs unprivileged
  rm -f "$d/$2.csr" "$d/$2.ext"
}
cert_ok() { [ -s "$1" ] && openssl x509 -checkend 86400 -noout -in "$1" >/dev/null 2>&1; }
leaf_ok() { cert_ok "$1/$2.crt" && [ "$(cat "$1/$2.san" 2>/dev/null)" = "$SAN" ] && [ "$1/$2.crt" -nt "$1/$3.crt" ]; }
setup_tls() {
  local d=$ROOT/tls
  mkdir -p "$d"
  cert_ok "$d/ca.crt" || { make_ca "$d" ca "Mailport Test CA"; say "generated test CA $d/ca.crt"; }
  leaf_ok "$d" server ca || { make_leaf "$d" server ca; say "issued server certificate ($SAN)"; }
  cert_ok "$d/untrusted-ca.crt" || make_ca "$d" untrusted-ca "Mailport UNTRUSTED Test CA"
  leaf_ok "$d" untrusted untrusted-ca || make_leaf "$d" untrusted untrusted-ca
}

# ---- config rendering: @NAME@ -> value (bash substitution: paths may contain any character) ----
shopt -u patsub_replacement 2>/dev/null || true   # bash 5.2: otherwise "&" in a value means "the match"
render() { # template output
  local s
  s=$(cat "$1")
  s=${s//@ROOT@/$ROOT}; s=${s//@HOST@/$HOST}; s=${s//@LISTEN@/$LISTEN}
  s=${s//@USERS_FILE@/$USERS_FILE}; s=${s//@OAUTH2_CONF@/$OAUTH2_CONF}; s=${s//@MAIL_ROOT@/$MAIL_ROOT}
  s=${s//@PASSWD_LUA@/$PASSWD_LUA}
  s=${s//@OAUTH_URL@/$OAUTH_URL}
  s=${s//@IMAP_PORT@/$IMAP_PORT}; s=${s//@IMAPS_PORT@/$IMAPS_PORT}; s=${s//@IMAP_NOSTARTTLS_PORT@/$IMAP_NOSTARTTLS_PORT}
  s=${s//@POP3_PORT@/$POP3_PORT}; s=${s//@POP3S_PORT@/$POP3S_PORT}; s=${s//@LMTP_PORT@/$LMTP_PORT}
  s=${s//@POPONLY_HOST@/$POPONLY_HOST}; s=${s//@POPONLY_POP3_PORT@/$POPONLY_POP3_PORT}
  s=${s//@POPONLY_POP3S_PORT@/$POPONLY_POP3S_PORT}
  if [[ $s =~ @[A-Z0-9_]+@ ]]; then die "unrendered placeholder ${BASH_REMATCH[0]} in $1"; fi
  printf '%s\n' "$s" > "$2"
}

# "host port what" for every listener we open (and 127.0.0.7:143/993, which must stay closed)
listeners() {
  local h
  for h in $HOST $HOST6; do
    echo "$h $IMAP_PORT imap-starttls"; echo "$h $IMAPS_PORT imaps"; echo "$h $POP3_PORT pop3-stls"; echo "$h $POP3S_PORT pop3s"
  done
  echo "$HOST $IMAP_NOSTARTTLS_PORT imap-nostarttls"; echo "$HOST $LMTP_PORT lmtp"
  echo "$POPONLY_HOST $POPONLY_POP3_PORT poponly-pop3-stls"; echo "$POPONLY_HOST $POPONLY_POP3S_PORT poponly-pop3s"
  echo "$HOST $SMTP_PORT smtp-starttls"; echo "$HOST $SMTPS_PORT smtps"
  echo "$HOST $SMTP_NOSTARTTLS_PORT smtp-nostarttls"; echo "$HOST $SMTP_UNTRUSTED_PORT smtps-untrusted"
  echo "$HOST $OAUTH_PORT oauth"
}

write_config_json() { # output; the node peers read their settings from the same JSON
  P_ROOT=$ROOT P_HOST=$HOST P_HOST6=$HOST6 P_USERS=$USERS_FILE P_MAIL=$MAIL_ROOT P_CAPTURE=$ROOT/smtp-capture \
  P_DOVECOT_LOG=$DOVECOT_LOGDIR/dovecot.log P_DOVECOT_NS_LOG=$DOVECOT_LOGDIR/dovecot-nostarttls.log \
  P_DOVECOT_STDERR=$DOVECOT_LOGDIR/stderr.log P_SMTP_LOG=$LOGDIR/smtp-peer.log P_OAUTH_LOG=$LOGDIR/oauth.log \
  P_PORTS="$IMAP_PORT $IMAPS_PORT $IMAP_NOSTARTTLS_PORT $POP3_PORT $POP3S_PORT $POPONLY_POP3_PORT $POPONLY_POP3S_PORT $SMTP_PORT $SMTPS_PORT $SMTP_NOSTARTTLS_PORT $SMTP_UNTRUSTED_PORT $LMTP_PORT $OAUTH_PORT" \
  P_POPONLY_HOST=$POPONLY_HOST P_USERS_DEFAULT=$HERE/users.default P_OUT=$1 \
  node --input-type=module -e '
    import fs from "node:fs";
    const e = process.env;
    const [imap, imaps, imapNs, pop3, pop3s, popOnly, popOnlyS, smtp, smtps, smtpNs, smtpUntrusted, lmtp, oauth] =
      e.P_PORTS.split(" ").map(Number);
    const tls = `${e.P_ROOT}/tls`;
    const users = fs.readFileSync(e.P_USERS_DEFAULT, "utf8").split("\n").filter((l) => l.trim() && !l.startsWith("#"))
      .map((l) => { const [email, pw] = l.split(":"); return { email, password: pw.replace(/^\{PLAIN\}/, "") }; });
    const cfg = {
      root: e.P_ROOT,
      caFile: `${tls}/ca.crt`,
      host: e.P_HOST,
      host6: e.P_HOST6 || null,
      usersFile: e.P_USERS,
      mailRoot: e.P_MAIL,
      captureDir: e.P_CAPTURE,
      dovecotLog: e.P_DOVECOT_LOG,
      imap: { starttls: imap, tls: imaps, noStarttls: imapNs },
      pop3: { starttls: pop3, tls: pop3s },
      popOnlyHost: e.P_POPONLY_HOST,
      popOnly: { starttls: popOnly, tls: popOnlyS },
      smtp: { starttls: smtp, tls: smtps, noStarttls: smtpNs, untrustedTls: smtpUntrusted },
      lmtp,
      oauth: { url: `http://${e.P_HOST}:${oauth}`, port: oauth, tokenUrl: `http://${e.P_HOST}:${oauth}/token`,
               userinfoUrl: `http://${e.P_HOST}:${oauth}/userinfo`, revokeUrl: `http://${e.P_HOST}:${oauth}/revoke` },
      users,
      domain: "example.test",
      tls: { caFile: `${tls}/ca.crt`, serverCert: `${tls}/server.crt`, serverKey: `${tls}/server.key`,
             untrustedCaFile: `${tls}/untrusted-ca.crt`, untrustedCert: `${tls}/untrusted.crt`, untrustedKey: `${tls}/untrusted.key` },
      logs: { dovecot: e.P_DOVECOT_LOG, dovecotNoStarttls: e.P_DOVECOT_NS_LOG, dovecotStderr: e.P_DOVECOT_STDERR,
              smtp: e.P_SMTP_LOG, oauth: e.P_OAUTH_LOG },
      startedAt: new Date().toISOString(),
    };
    fs.writeFileSync(e.P_OUT, JSON.stringify(cfg, null, 2) + "\n");
  '
}

launch() { # name logfile cmd...: own session (Ctrl-C in the test terminal does not hit it), pid file
  local name=$1 logf=$2; shift 2
  setsid "$@" >>"$logf" 2>&1 </dev/null &
  echo $! > "$PIDDIR/$name.pid"
}

start() {
  local t0 t1 pid name h p what taken=() running=()
  t0=$(now_ms)
  [ "$(id -u)" = 0 ] || die "must run as root (Dovecot binds $POPONLY_POP3_PORT/$POPONLY_POP3S_PORT and switches to the mail uid)"
  for c in /usr/sbin/dovecot /usr/bin/doveconf openssl node setpriv; do
    command -v "$c" >/dev/null || die "$c not found; run: bash scripts/ensure-debs.sh dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-auth-lua openssl"
  done
  local deb f
  for deb in dovecot-lmtpd:/usr/lib/dovecot/lmtp dovecot-pop3d:/usr/lib/dovecot/pop3 \
             dovecot-auth-lua:/usr/lib/dovecot/modules/auth/libauthdb_lua.so; do
    f=${deb#*:}; deb=${deb%%:*}
    [ -e "$f" ] || die "$deb is not installed (bash scripts/ensure-debs.sh $deb)"
  done

  for name in $SERVICES; do pid=$(pid_of "$name"); if alive "$pid"; then running+=("$name=$pid"); fi; done
  [ ${#running[@]} -eq 0 ] || die "already running under $ROOT (${running[*]}); run '$0 stop' first"

  # refuse to start on a taken port, and say which (other sessions/CI services may use neighbouring ports)
  while read -r h p what; do
    if port_open "$h" "$p"; then taken+=("$h:$p ($what)"); fi
  done < <(listeners; echo "$POPONLY_HOST 143 poponly-must-be-closed-imap"; echo "$POPONLY_HOST 993 poponly-must-be-closed-imaps")
  if [ ${#taken[@]} -gt 0 ]; then
    echo "peers: port(s) already in use: ${taken[*]}" >&2
    ss -ltnpH 2>/dev/null | grep -E ":($(printf '%s\n' "${taken[@]}" | sed -E 's/.*:([0-9]+) .*/\1/' | paste -sd'|'))\b" >&2 || true
    echo "peers: pick other ports with PEER_*_PORT env vars (see $0), or stop whatever holds them" \
         "(a system Dovecot started by apt: 'service dovecot stop')" >&2
    exit 1
  fi

  mkdir -p "$ROOT"
  DATA=$(data_dir)
  USERS_FILE=$DATA/dovecot/users
  OAUTH2_CONF=$DATA/dovecot/oauth2.conf.ext
  PASSWD_LUA=$DATA/dovecot/passwd-file.lua
  MAIL_ROOT=$DATA/mail
  LISTEN=$HOST${HOST6:+, $HOST6}
  [ "$DATA" = "$ROOT" ] || say "$ROOT is not reachable by the dovecot/mail users; users and mail live in $DATA"

  mkdir -p "$ROOT" "$PIDDIR" "$LOGDIR" "$DOVECOT_LOGDIR" "$ROOT/dovecot" "$DATA/dovecot"
  chmod 755 "$DATA" "$DATA/dovecot"
  rm -f "$PEERS_JSON"
  # Empty base_dir on every start: a stale anvil-auth-penalty socket from an earlier run stalls the first
  # login ~5 s (CROSSCHECK.md section 2); stale master.pid/login sockets are dropped too.
  rm -rf "$ROOT/dovecot/run" "$ROOT/dovecot/run-nostarttls"
  # fresh logs each run (scripts/test.sh copies them to test-artifacts/ afterwards)
  : > "$DOVECOT_LOGDIR/dovecot.log"; : > "$DOVECOT_LOGDIR/dovecot-nostarttls.log"; : > "$DOVECOT_LOGDIR/stderr.log"
  : > "$LOGDIR/smtp-peer.log"; : > "$LOGDIR/oauth.log"
  if [ "${PEER_KEEP_STATE:-0}" != 1 ] || [ ! -s "$USERS_FILE" ]; then
    rm -rf "$MAIL_ROOT" "$ROOT/smtp-capture"
    cp "$HERE/users.default" "$USERS_FILE"
  fi
  chmod 644 "$USERS_FILE"
  mkdir -p "$MAIL_ROOT" "$ROOT/smtp-capture"
  # Dovecot refuses uid 0 for mail; everything under mail/ belongs to Debian's "mail" user (uid 8),
  # otherwise SELECT/APPEND fail with "Internal error" (the reason is only in the Dovecot log)
  chown -R mail:mail "$MAIL_ROOT"

  setup_tls
  render "$HERE/dovecot-common.conf.tmpl" "$ROOT/dovecot/common.conf"
  render "$HERE/dovecot.conf.tmpl" "$ROOT/dovecot/dovecot.conf"
  if [ -n "${PEER_DOVECOT_EXTRA_CONF:-}" ]; then
    [ -f "$PEER_DOVECOT_EXTRA_CONF" ] || die "PEER_DOVECOT_EXTRA_CONF: no such file: $PEER_DOVECOT_EXTRA_CONF"
    cp "$PEER_DOVECOT_EXTRA_CONF" "$ROOT/dovecot/extra.conf"
    printf '\n# from PEER_DOVECOT_EXTRA_CONF (%s)\n!include %s\n' "$PEER_DOVECOT_EXTRA_CONF" "$ROOT/dovecot/extra.conf" >> "$ROOT/dovecot/dovecot.conf"
  fi
  render "$HERE/dovecot-nostarttls.conf.tmpl" "$ROOT/dovecot/dovecot-nostarttls.conf"
  render "$HERE/oauth2.conf.ext.tmpl" "$OAUTH2_CONF"
  render "$HERE/passwd-file.lua.tmpl" "$PASSWD_LUA"
  # syntax check without starting; fails loudly on config errors
  for c in dovecot.conf dovecot-nostarttls.conf; do
    /usr/bin/doveconf -c "$ROOT/dovecot/$c" -n > /dev/null || die "doveconf rejected $ROOT/dovecot/$c"
  done

  # The JSON is complete before anything starts (the node peers read their ports from it); it becomes
  # peers.json only once every listener accepts connections, so tests never see half-started peers.
  write_config_json "$ROOT/peers.pending.json"

  launch oauth "$LOGDIR/oauth.log" node "$HERE/oauth-server.mjs" "$ROOT/peers.pending.json"
  # -F: foreground master, so the pid we record is Dovecot's own master process
  launch dovecot "$DOVECOT_LOGDIR/stderr.log" /usr/sbin/dovecot -F -c "$ROOT/dovecot/dovecot.conf"
  launch dovecot-nostarttls "$DOVECOT_LOGDIR/stderr.log" /usr/sbin/dovecot -F -c "$ROOT/dovecot/dovecot-nostarttls.conf"
  launch smtp "$LOGDIR/smtp-peer.log" node "$HERE/smtp-peer.mjs" "$ROOT/peers.pending.json"

  # wait (max 20 s) until every listener accepts connections; bail out early if a peer died.
  # Each listener is probed until it first answers, not on every round (every probe is a log line).
  local deadline=$((SECONDS + 20)) pending still l
  mapfile -t pending < <(listeners)
  while [ ${#pending[@]} -gt 0 ]; do
    still=()
    for l in "${pending[@]}"; do read -r h p what <<<"$l"; port_open "$h" "$p" || still+=("$l"); done
    pending=("${still[@]}")
    [ ${#pending[@]} -eq 0 ] && break
    for name in $SERVICES; do
      alive "$(pid_of "$name")" || start_failed "$name exited during startup"
    done
    [ $SECONDS -lt $deadline ] || start_failed "not listening after 20 s: ${pending[*]}"
    sleep 0.05
  done
  # 127.0.0.7 must serve POP3 only: nothing may answer on its IMAP ports
  for p in 143 993; do port_open "$POPONLY_HOST" "$p" && start_failed "$POPONLY_HOST:$p is open but must be closed"; done

  mv "$ROOT/peers.pending.json" "$PEERS_JSON"
  t1=$(now_ms)
  say "up in $((t1 - t0)) ms under $ROOT ($(for n in $SERVICES; do printf '%s=%s ' "$n" "$(pid_of "$n")"; done | sed 's/ $//'))"
  say "imap $HOST:$IMAP_PORT(starttls) :$IMAPS_PORT(tls) :$IMAP_NOSTARTTLS_PORT(no-starttls); pop3 :$POP3_PORT :$POP3S_PORT;" \
      "pop-only $POPONLY_HOST:$POPONLY_POP3_PORT,$POPONLY_POP3S_PORT; smtp :$SMTP_PORT :$SMTPS_PORT :$SMTP_NOSTARTTLS_PORT" \
      ":$SMTP_UNTRUSTED_PORT(untrusted); lmtp :$LMTP_PORT; oauth $OAUTH_URL${HOST6:+; also on [$HOST6]}"
  say "config: $PEERS_JSON"
}

start_failed() {
  echo "peers: start failed: $1" >&2
  local f
  for f in "$DOVECOT_LOGDIR/stderr.log" "$DOVECOT_LOGDIR/dovecot.log" "$DOVECOT_LOGDIR/dovecot-nostarttls.log" \
           "$LOGDIR/smtp-peer.log" "$LOGDIR/oauth.log"; do
    [ -s "$f" ] && { echo "---- tail $f" >&2; tail -n 15 "$f" >&2; }
  done
  stop
  exit 1
}

stop() {
  local t0 name pid i left sent=()
  t0=$(now_ms)
  # SIGTERM to all first, then wait for all in parallel (each Dovecot master takes ~1 s to exit)
  for name in $(echo "$SERVICES" | tr ' ' '\n' | tac); do
    pid=$(pid_of "$name")
    if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; sent+=("$name=$pid"); fi
  done
  for i in $(seq 100); do    # at most 10 s
    left=0
    for name in $SERVICES; do alive "$(pid_of "$name")" && left=1; done
    [ $left = 0 ] && break
    sleep 0.1
  done
  for name in $SERVICES; do
    pid=$(pid_of "$name")
    if alive "$pid"; then
      echo "peers: $name ($pid) ignored SIGTERM for 10 s, sending SIGKILL to its process group" >&2
      # setsid made it a group leader: its group holds e.g. Dovecot's login/auth children
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDDIR/$name.pid"
  done
  rm -f "$PEERS_JSON" "$ROOT/peers.pending.json"
  if [ ${#sent[@]} -gt 0 ]; then say "stopped ${sent[*]} in $(($(now_ms) - t0)) ms"; else say "nothing running under $ROOT"; fi
}

status() { # exit 0: all running, 1: some, 3: none
  local name pid up=0 n=0
  for name in $SERVICES; do
    n=$((n + 1)); pid=$(pid_of "$name")
    if alive "$pid"; then up=$((up + 1)); echo "$name: running ($pid)"; else echo "$name: stopped"; fi
  done
  [ -s "$PEERS_JSON" ] && echo "config: $PEERS_JSON"
  if [ $up = "$n" ]; then return 0; elif [ $up = 0 ]; then return 3; else return 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# THE test command (`npm test`): system packages, node_modules, typecheck, mail test peers, all tests.
#
#   usage: scripts/test.sh [FILE|DIR ...] [--node-test-flag ...]
#     no arguments      every src/**/*.test.ts and test/**/*.test.ts (this is what CI runs)
#     FILE / DIR        only these test files (directories are searched for *.test.ts) - for developers
#     --flag            passed on to `node --test`, e.g. --test-name-pattern=IMAP
#   env: PEER_ROOT, PEER_*_PORT (see test/peers/peers.sh); MAILPORT_SKIP_TYPECHECK=1 (local use only)
#
# Exit code: the test runner's. Logs of the peers end up in test-artifacts/ (gitignored) after every run.
set -euo pipefail

# Debian packages the tests need; add more here (e.g. chromium, isync) when a test needs them.
# dovecot-auth-lua: the peers' passdb/userdb reads the passwd-file per lookup (see test/peers/passwd-file.lua.tmpl)
DEBS="dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-auth-lua openssl"
# chromium: the settings page's browser tests (test/browser) drive Debian's Chromium with playwright-core
DEBS="$DEBS chromium"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)
ARTIFACTS=$REPO/test-artifacts
export PEER_ROOT=${PEER_ROOT:-$REPO/.peers}
PEERS="bash $REPO/test/peers/peers.sh"

step() { printf '\n==> %s\n' "$*"; }

step "1/6 system packages"
bash scripts/ensure-debs.sh $DEBS

step "2/6 node_modules"
if [ -d node_modules ]; then echo "node_modules present"; else npm install; fi

step "3/6 typecheck (tsc --noEmit)"
if [ "${MAILPORT_SKIP_TYPECHECK:-0}" = 1 ] && [ -z "${CI:-}" ]; then
  echo "skipped (MAILPORT_SKIP_TYPECHECK=1)"
else
  npx tsc -p tsconfig.json --noEmit || { echo "typecheck failed: fix the type errors above" >&2; exit 1; }
  echo "ok"
fi

# the settings page (web/) is type-checked and built into dist/web, which the server and the browser tests serve;
# rebuilt when web/ changed since the last build (under a lock: test runs side by side share dist/web)
(
  flock 9
  if [ -f dist/web/index.html ] && [ -z "$(find web -newer dist/web/index.html -print -quit)" ]; then
    echo "settings page: dist/web is up to date"
  else
    echo "settings page: npm run build:web"
    npm run --silent build:web || { echo "the settings page did not build (see above)" >&2; exit 1; }
  fi
) 9>/tmp/mailport-web-build.lock

# ---- which test files ----
files=() node_flags=()
for a in "$@"; do
  case $a in
    --*) node_flags+=("$a") ;;
    *)
      if [ -d "$a" ]; then mapfile -t -O "${#files[@]}" files < <(find "$a" -name '*.test.ts' -not -path '*/node_modules/*' | sort)
      elif [ -f "$a" ]; then files+=("$a")
      else echo "no such test file or directory: $a" >&2; exit 2; fi ;;
  esac
done
if [ $# -eq 0 ] || { [ ${#files[@]} -eq 0 ] && [ ${#node_flags[@]} -eq $# ]; }; then
  dirs=(); for d in src test; do [ -d "$d" ] && dirs+=("$d"); done
  mapfile -t files < <(find "${dirs[@]}" -name '*.test.ts' -not -path '*/node_modules/*' | sort)
fi
[ ${#files[@]} -gt 0 ] || { echo "no test files found" >&2; exit 1; }

step "4/6 mail test peers ($PEER_ROOT)"
rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"
started=0
# stop the peers we started (not a developer's) and keep their logs; runs once, also on early exit
finish() {
  set +e
  [ -s "$PEER_ROOT/peers.json" ] && cp "$PEER_ROOT/peers.json" "$ARTIFACTS/"
  if [ "$started" = 1 ]; then $PEERS stop; started=0; fi
  for f in "$PEER_ROOT"/dovecot/log/*.log "$PEER_ROOT"/log/*.log; do [ -s "$f" ] && cp "$f" "$ARTIFACTS/"; done
  set -e
}
cleanup() { local rc=$?; finish; exit "$rc"; }
trap cleanup EXIT
trap 'exit 130' INT TERM   # make Ctrl-C go through cleanup (the peers run in their own session)
if $PEERS status >/dev/null 2>&1; then
  echo "reusing the peers already running under $PEER_ROOT (they stay up; stop them with: npm run peers stop)"
else
  $PEERS stop >/dev/null   # leftovers of a half-started earlier run, if any
  started=1
  $PEERS start
fi

step "5/6 environment"
export MAILPORT_TEST_PEERS=$PEER_ROOT/peers.json
export NODE_EXTRA_CA_CERTS=$PEER_ROOT/tls/ca.crt
export MAILPORT_ALLOW_PRIVATE_HOSTS=127.0.0.0/8,::1/128
export MAILPORT_TEST_PG_URL=${MAILPORT_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
for v in MAILPORT_TEST_PEERS NODE_EXTRA_CA_CERTS MAILPORT_ALLOW_PRIVATE_HOSTS MAILPORT_TEST_PG_URL; do echo "$v=${!v}"; done

# files that hold timing bounds measured under their own load (several `mailport serve` processes,
# hundreds of mailboxes) run after the rest, alone: beside another file their bounds measure that file
SOLO_RE='(^|/)scale-out\.test\.ts$'
shared=() solo=()
for f in "${files[@]}"; do if [[ $f =~ $SOLO_RE ]]; then solo+=("$f"); else shared+=("$f"); fi; done

step "6/6 tests (${#files[@]} files: ${#shared[@]} two at a time, then ${#solo[@]} alone)"
runner_flags=() concurrency_ok=0
# both exist on Node 20.20 (checked); probed so an older Node 20 still runs the suite
if node --test-concurrency=1 -e 0 >/dev/null 2>&1; then concurrency_ok=1; else echo "(this node does not support --test-concurrency; running without it)"; fi
if node --test-timeout=600000 -e 0 >/dev/null 2>&1; then runner_flags+=(--test-timeout=600000); else echo "(this node does not support --test-timeout; running without it)"; fi
TAPS=()
rc=0
# spec reporter for people, TAP into a file per pass for the summary below (and for CI tooling)
run_pass() {
  local n=$1 tap=$2; shift 2
  [ $# -gt 0 ] || return 0
  TAPS+=("$tap")
  local flags=("${runner_flags[@]}")
  [ "$concurrency_ok" = 1 ] && flags+=("--test-concurrency=$n")
  set +e
  node --import tsx --test "${flags[@]}" \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" \
    "${node_flags[@]}" "$@"
  local code=$?
  set -e
  [ "$code" = 0 ] || rc=$code
}
run_pass 2 "$ARTIFACTS/test-results.tap" "${shared[@]}"
run_pass 1 "$ARTIFACTS/test-results-solo.tap" "${solo[@]}"
finish   # before the summary, so the runner's summary lines are the last thing printed
trap - EXIT

printf '\n==> summary (node test runner, %s files; full TAP in %s)\n' "${#files[@]}" "${TAPS[*]#"$REPO"/}"
# the runner's closing counts of each pass, added up
for tap in "${TAPS[@]}"; do grep -E '^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ' "$tap" | tail -n 8; done \
  | awk '{ if (!($2 in sum)) order[n++] = $2; sum[$2] += $3 } END { for (i = 0; i < n; i++) printf "# %s %s\n", order[i], sum[order[i]] }' \
  | grep . || echo "(no summary: the test runner stopped early, exit code $rc)"
exit $rc

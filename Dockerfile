# db-backup: a database-backup sidecar. See README.md, "Running with Docker".
#
#   docker build -t db-backup .
#
# Stages: `pgdg-key` fetches and checks the PostgreSQL apt repository's signing key, `build` compiles the
# release binary, and the final stage is Debian slim with the database clients, tini and the binary. Build
# and runtime are both Debian 12 (bookworm), so the binary links against the glibc it runs with.
#
# The build context is Cargo.toml, Cargo.lock and src/ (see .dockerignore): a build.rs or any other file the
# build reads must be added there and to the COPY lines of the `build` stage.
#
# Build arguments for builds without an image registry or apt.postgresql.org (scripts/e2e-container.sh uses
# them; the defaults are the build users run):
# - BUILD_IMAGE, RUNTIME_IMAGE: the bases of the build stages and of the final image (both Debian 12).
# - BINARY_FROM=prebuilt: take the binary from target/docker/db-backup in the build context (built on a
#   Debian 12 host with `cargo build --release --locked`) instead of compiling it in the `build` stage.
# - PG_CLIENT_SOURCE=debian: the PostgreSQL clients from Debian itself (bookworm has 15 only, so with
#   PG_CLIENT_VERSIONS=15) instead of the PostgreSQL project's repository, whose key is then not fetched.
ARG BUILD_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim
ARG BINARY_FROM=build

# ---------------------------------------------------------------------------------------------------------
# The signing key of apt.postgresql.org (PGDG). Fetched here, where curl and gpg already exist, and checked
# against its published fingerprint, so the runtime image needs neither tool and never trusts an unchecked key.
FROM ${BUILD_IMAGE} AS pgdg-key
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG PGDG_KEY_URL=https://www.postgresql.org/media/keys/ACCC4CF8.asc
ARG PGDG_KEY_FINGERPRINT=B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8
ARG PG_CLIENT_SOURCE=pgdg
# With PG_CLIENT_SOURCE=debian an empty file stands for the key, and the final stage removes it.
RUN if [ "$PG_CLIENT_SOURCE" = debian ]; then : > /pgdg.asc; exit 0; fi \
 && curl --proto '=https' --tlsv1.2 -fsSL "$PGDG_KEY_URL" -o /pgdg.asc \
 && primary="$(GNUPGHOME="$(mktemp -d)" gpg --batch --show-keys --with-colons /pgdg.asc \
      | awk -F: '$1 == "pub" { want = 1; next } want && $1 == "fpr" { print $10; want = 0 }')" \
 && if [ "$primary" != "$PGDG_KEY_FINGERPRINT" ]; then \
      echo "the key at $PGDG_KEY_URL is not the PGDG key $PGDG_KEY_FINGERPRINT (got: $primary)" >&2; \
      exit 1; \
    fi

# ---------------------------------------------------------------------------------------------------------
# The release binary. Dependencies are compiled in their own layer, from Cargo.toml and Cargo.lock alone with
# stub sources, so a change to src/ recompiles only this crate.
FROM ${BUILD_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
ENV CARGO_PROFILE_RELEASE_STRIP=symbols \
    CARGO_TERM_COLOR=never
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src target/release/db-backup target/release/.fingerprint/db-backup-* \
      target/release/deps/db_backup-* target/release/deps/libdb_backup-*
COPY src ./src
# COPY keeps the sources' modification times, which can be older than the stub build: touch them so that
# cargo rebuilds this crate.
RUN find src -type f -exec touch {} + \
 && cargo build --release --locked \
 && ./target/release/db-backup --version

# The binary built on the host (BINARY_FROM=prebuilt): only built when chosen.
FROM scratch AS prebuilt
COPY target/docker/db-backup /src/target/release/db-backup

# The stage the final image takes the binary from: `build` or `prebuilt`.
# hadolint ignore=DL3006
FROM ${BINARY_FROM} AS binary

# ---------------------------------------------------------------------------------------------------------
# hadolint ignore=DL3006
FROM ${RUNTIME_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# The PostgreSQL client majors installed side by side as /usr/lib/postgresql/<N>/bin: pg_dump refuses a
# server newer than itself, so the engine picks the client matching the server's major version.
ARG PG_CLIENT_VERSIONS="13 14 15 16 17 18"
# `pgdg` (apt.postgresql.org) or `debian` (see the top of this file).
ARG PG_CLIENT_SOURCE=pgdg
ARG VERSION=dev
ARG REVISION=unknown
# Where the source and the project live (the repository's address), and when the image was built (RFC 3339,
# e.g. `--build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)`): a release build passes both.
ARG SOURCE_URL=unknown
ARG CREATED=unknown

LABEL org.opencontainers.image.title="db-backup" \
      org.opencontainers.image.description="Database backup sidecar: scheduled, streamed, verified backups of PostgreSQL, MySQL/MariaDB, Redis and SQLite, restored with one command" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.url="${SOURCE_URL}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"

COPY --from=pgdg-key /pgdg.asc /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc

# Package versions are not pinned (hadolint DL3008 is ignored for this instruction on purpose): Debian
# security updates and apt.postgresql.org replace package versions and the replaced ones leave the
# archive, so a pinned build breaks within weeks, and a pin would hold back security fixes. What the image
# contains is fixed by the base image and the build date; rebuild to pick up fixes.
#
# - mariadb-client: mariadb-dump and mariadb (mysqldump/mysql are links to them). Its tools load auth
#   plugins from /usr/lib/x86_64-linux-gnu/libmariadb3/plugin, which libmariadb3 provides; it has
#   caching_sha2_password.so, the default authentication of MySQL 8. libmariadb3 is a dependency of
#   mariadb-client-core already and is named here so that no later packaging change drops it silently.
#   Only the dump, restore and admin tools are kept: the other MariaDB binaries are statically linked
#   (about 5 MB each, some 55 MB together) and have no use in a backup image; dpkg's path-exclude (the
#   mechanism debian:slim uses for documentation) leaves them out, and the links that pointed at them
#   (mysqlcheck and the like) are removed after the install so that none dangles.
# - no sqlite3: the SQLite engine uses the library built into the binary. No Redis tool either: the RDB is
#   read over the replication protocol.
# - tini runs as PID 1: it forwards signals to db-backup and reaps the children of `docker exec`.
# - rclone: the destinations named by RCLONE_REMOTE (SFTP, WebDAV, cloud stores...); Debian's package, one static
#   binary (about 57 MB installed). Its config file is read from RCLONE_CONFIG, set below.
# hadolint ignore=DL3008
RUN printf 'path-exclude=/usr/bin/%s\n' \
      mariadb-binlog mariadb-check mariadb-conv mariadb-import mariadb-plugin mariadb-show mariadb-slap \
      mariadb-tzinfo-to-sql mariadb-waitpid perror replace resolve_stack_dump \
      > /etc/dpkg/dpkg.cfg.d/db-backup-excludes \
 && export DEBIAN_FRONTEND=noninteractive \
 && apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini rclone \
 && if [ "$PG_CLIENT_SOURCE" = pgdg ]; then \
      echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list; \
    else \
      rm /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc; \
    fi \
 && set -- \
 && for v in $PG_CLIENT_VERSIONS; do set -- "$@" "postgresql-client-$v"; done \
 && apt-get update \
 && apt-get install -y --no-install-recommends mariadb-client libmariadb3 "$@" \
 && rm -rf /var/lib/apt/lists/* \
 && for v in $PG_CLIENT_VERSIONS; do \
      for tool in pg_dump pg_dumpall pg_restore psql; do \
        test -x "/usr/lib/postgresql/$v/bin/$tool" || { echo "missing /usr/lib/postgresql/$v/bin/$tool" >&2; exit 1; }; \
      done; \
    done \
 && mariadb-dump --version \
 && rclone version \
 && echo "removing the links to programs left out above:" \
 && find /usr/bin /usr/sbin -xtype l -print -delete \
 && dpkg -L libmariadb3 | grep '/libmariadb3/plugin/caching_sha2_password\.so$' \
 && groupadd --gid 10001 db-backup \
 && useradd --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin db-backup \
 && mkdir -p /backups \
 && chown 10001:10001 /backups \
 && chmod 0750 /backups \
 && for name in backup-service backup-db restore list verify prune; do ln -s db-backup "/usr/local/bin/$name"; done

COPY --from=binary /src/target/release/db-backup /usr/local/bin/db-backup
COPY LICENSE /usr/share/doc/db-backup/LICENSE

# Where rclone reads its remotes: mount an rclone.conf here (README, "Any storage through rclone").
ENV RCLONE_CONFIG=/config/rclone/rclone.conf

# Backups belong to uid 10001. A bind-mounted host directory keeps its own owner: give uid 10001 write
# access to it (`chown 10001 ./backups`); when it cannot write, db-backup says so and names the uid.
USER 10001:10001
VOLUME /backups

# Unhealthy when the service is not running or its last successful backup is older than the schedule allows.
HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=3 \
  CMD ["db-backup", "healthcheck"]

ENTRYPOINT ["tini", "--", "db-backup"]
CMD ["backup-service"]

# migbot as a GitHub Docker container Action: `migbot action` runs as the entrypoint.
# GitHub runs the container as root; migbot then starts its throwaway PostgreSQL as the
# unprivileged `postgres` user, from a cluster initialised when the image was built.
#
# Two build stages make the parts, and the image takes only what migbot runs: PostgreSQL
# without its LLVM JIT (libLLVM alone is over 100 MB) and the Perl of Debian's wrapper
# scripts, git without its servers, migbot's dependencies without debug symbols.
# hadolint global ignore=DL3008
# (apt versions are not pinned: bookworm's security updates replace them in the archive,
# and a pinned version that has gone from it breaks the build.)
FROM python:3.11-slim-bookworm AS programs
RUN mkdir -p /etc/postgresql-common/createcluster.d \
    && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/migbot.conf \
    && apt-get update \
    && apt-get install -y --no-install-recommends git postgresql-15 \
    && rm -rf /var/lib/apt/lists/*
# initdb, pg_controldata and postgres (and pg_ctl), pg_dump (migbot's schema backstop) and the
# usual client programs; contrib's extensions; git's commands and its https transport, not its
# servers.
RUN mkdir /stage && bin=/usr/lib/postgresql/15/bin \
    && cp -a --parents -t /stage "$bin/postgres" "$bin/postmaster" "$bin/initdb" "$bin/pg_controldata" "$bin/pg_ctl" \
       "$bin/pg_dump" "$bin/pg_dumpall" "$bin/pg_restore" "$bin/psql" "$bin/pg_isready" /usr/lib/postgresql/15/lib \
       /usr/share/postgresql/15 \
       /usr/bin/git /usr/lib/git-core /usr/share/git-core /usr/share/doc/git/copyright /usr/share/doc/postgresql-15/copyright \
    && lib=/stage/usr/lib/postgresql/15/lib core=/stage/usr/lib/git-core \
    && rm -r "$lib/bitcode" "$lib/llvmjit.so" "$lib/llvmjit_types.bc" "$lib/pgxs" /stage/usr/share/postgresql/15/man \
       "$core/git-daemon" "$core/git-http-backend" "$core/git-http-fetch" "$core/git-http-push" "$core/git-imap-send" \
       "$core/git-shell" "$core/scalar" \
    && ln -sf /usr/bin/git "$core/git"

# migbot's dependencies, installed under /stage, without the C sources some wheels ship, their
# extension modules stripped (not the libraries auditwheel patched in: strip can break those), and
# byte-compiled for where they will be, but for modules migbot never imports (Python compiles them
# if something does). A layer of its own: it is rebuilt only when pyproject.toml changes.
FROM python:3.11-slim-bookworm AS dependencies
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml /tmp/
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && python3 -m pip install --no-cache-dir --no-compile --ignore-installed --root /stage -r /tmp/requirements.txt \
    && find /stage -name '*.c' -delete \
    && find /stage -name '*.so' -not -path '*.libs/*' \
       -exec sh -c 'for f; do readelf -d "$f" | grep -q PATH || strip --strip-unneeded "$f"; done' sh {} + \
    && python3 -m compileall -q -j 0 --invalidation-mode unchecked-hash -s /stage -p / /stage \
       -x '/(pygments/lexers|sqlalchemy/testing|sqlalchemy/dialects/(mssql|mysql|oracle|sqlite))/'

FROM python:3.11-slim-bookworm
# The libraries PostgreSQL, pg_dump, psql and git link to (postgresql-15's own dependencies
# but LLVM), and the time zones, where the base image lacks them; then the check that no
# program misses one.
RUN apt-get update \
    && apt-get install -y --no-install-recommends --no-upgrade libcurl3-gnutls libexpat1 libgssapi-krb5-2 libicu72 libldap-2.5-0 \
       liblz4-1 libpam0g libpcre2-8-0 libpq5 libreadline8 libselinux1 libssl3 libsystemd0 libuuid1 libxml2 \
       libxslt1.1 libzstd1 tzdata zlib1g \
    && rm -rf /var/lib/apt/lists/*
COPY --from=programs /stage /
# PostgreSQL runs as `postgres`; the project's code (env.py, migrations, seeds, the install
# command) as migbot-project, never as root beside migbot: see src/migbot/run/project_user.py.
RUN find /usr/lib/postgresql /usr/lib/git-core -type f \( -name "*.so" -o -perm -u+x \) -exec ldd {} + > /tmp/ldd 2>&1; \
    if grep -q "not found" /tmp/ldd; then grep -e "^/" -e "not found" /tmp/ldd; exit 1; fi; \
    rm /tmp/ldd \
    && useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home --shell /usr/sbin/nologin \
        --comment "PostgreSQL administrator" postgres \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin migbot-project
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    MIGBOT_PROJECT_USER=migbot-project

COPY --from=dependencies /stage /

WORKDIR /usr/src/migbot
COPY . ./
# The cluster every run starts from, made by migbot's own code for this image's PostgreSQL
# and kept where migbot looks first (its name holds the server's build): on GitHub, HOME
# and its cache are empty at every run.
ENV MIGBOT_PREBUILT_CACHE=/usr/local/share/migbot
RUN python3 -m pip install --no-cache-dir --no-deps . \
    && rm -rf build src/*.egg-info \
    && MIGBOT_CACHE_DIR="$MIGBOT_PREBUILT_CACHE" python3 -m migbot.provision.server

ENTRYPOINT ["migbot", "action"]

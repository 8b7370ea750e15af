# migbot as a GitHub Docker container Action: `migbot action` runs as the entrypoint.
# GitHub runs the container as root; migbot then starts its throwaway PostgreSQL as
# the `postgres` user that Debian's postgresql package creates.
FROM python:3.11-slim-bookworm

# PostgreSQL 15 server binaries (initdb, postgres) for migbot's throwaway server, and git to
# read the branch's history. Versions are not pinned: bookworm's security updates replace
# them in the archive, and a pinned version that has gone from it breaks the build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git postgresql postgresql-contrib \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /usr/src/migbot

# migbot's dependencies in a layer of their own: it is rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && python3 -m pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . ./
RUN python3 -m pip install --no-cache-dir --no-deps . \
    && rm -rf build src/*.egg-info

# The project's code (env.py, migrations, seeds, the install command) runs as this unprivileged
# user, never as root beside migbot: see src/migbot/run/project_user.py.
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin migbot-project
ENV MIGBOT_PROJECT_USER=migbot-project

ENTRYPOINT ["migbot", "action"]

"""A throwaway PostgreSQL started by migbot's own code, for unit tests of what runs in SQL:
`server` (migbot's Databases on it, one per module) and `conn` (a fresh database per test)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import psycopg
import pytest

from migbot.provision.databases import Databases
from migbot.provision.server import launch_server
from migbot.provision.tempdirs import claim_temp_dir, remove_temp_dir


@pytest.fixture(scope="module")
def server():
    parent = claim_temp_dir("migbot-unit-", Path(tempfile.gettempdir()))
    srv = launch_server(parent)
    srv.wait_ready()
    databases = Databases(srv.info, timeout=30)
    try:
        yield databases
    finally:
        databases.drop_all()
        srv.stop()
        remove_temp_dir(parent)


@pytest.fixture
def conn(server, request) -> psycopg.Connection:
    name = server.create(request.node.name[:40].replace("[", "_").replace("]", "_"))
    with server.connect(name) as connection:
        yield connection
    server.drop(name)

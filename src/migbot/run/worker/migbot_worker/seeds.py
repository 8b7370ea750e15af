"""Seed sets and shell commands (bootstrap, seeds) in the tree's environment."""

import os
import subprocess
import sys
import time

from migbot_worker.errors import ShellFailed


def run_shell(command, ini_path, url, set_url, cwd=None):
    """A configured shell command, with the tree's environment.

    A shell command runs outside the connection guard, and `alembic ...` in it reads
    alembic.ini: the tree's copy (migbot's own export) is pointed at migbot's database
    first, so that even a URL hard-coded in the ini cannot be reached."""
    if set_url:
        _point_ini_at(ini_path, url)
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    # A plain `alembic ...` finds the project's ini, whatever its name (alembic.ini.example).
    env["ALEMBIC_CONFIG"] = os.path.abspath(ini_path)
    proc = subprocess.run(command, shell=True, cwd=cwd or os.getcwd(), env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = proc.stdout.decode("utf-8", "replace")
    sys.stderr.write(output)
    if proc.returncode != 0:
        raise ShellFailed("`{}` exited with code {}:\n{}".format(
            command, proc.returncode, "\n".join(output.strip().splitlines()[-15:])))
    return {"exit_code": proc.returncode}


def run_seed_set(modules, sync_url, async_url):
    timings = []
    for name in modules:
        started = time.monotonic()
        run_seed_module(name, sync_url, async_url)
        timings.append({"module": name, "seconds": round(time.monotonic() - started, 3)})
    return {"modules": timings}


def run_seed_module(name, sync_url, async_url):
    """run(session) / seed(session), else main(), else the module as a script (docs/config.md)."""
    import importlib
    import importlib.util
    import inspect
    import runpy

    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ModuleNotFoundError("No seed module named {!r}".format(name))
    entry = _entry_point_of(spec.origin) if spec.origin and spec.origin.endswith(".py") else None
    if entry is None:
        runpy.run_module(name, run_name="__main__", alter_sys=True)
        return
    function = getattr(importlib.import_module(name), entry)
    takes_session = entry != "main" and len(inspect.signature(function).parameters) > 0
    if inspect.iscoroutinefunction(function):
        import asyncio

        asyncio.run(_run_async_seed(function, takes_session, async_url))
    elif takes_session:
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session
        from sqlalchemy.pool import NullPool

        engine = create_engine(sync_url, poolclass=NullPool)
        try:
            with Session(engine) as session:
                function(session)
                session.commit()
        finally:
            engine.dispose()
    else:
        function()


async def _run_async_seed(function, takes_session, async_url):
    if not takes_session:
        await function()
        return
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(async_url, poolclass=NullPool)
    try:
        async with AsyncSession(engine) as session:
            await function(session)
            await session.commit()
    finally:
        await engine.dispose()


def _point_ini_at(ini_path, url):
    import re

    with open(ini_path, encoding="utf-8") as handle:
        text = handle.read()
    line = "sqlalchemy.url = " + url.replace("%", "%%")
    pattern = re.compile(r"^[ \t]*sqlalchemy\.url[ \t]*[=:].*$", re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _match: line, text)
    else:
        text = re.sub(r"^\[alembic\][ \t]*$", lambda match: match.group(0) + "\n" + line, text, count=1,
                      flags=re.MULTILINE)
    with open(ini_path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _entry_point_of(path):
    """The seed entry point a module file defines (run, seed or main), without importing it."""
    import ast

    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError):
        return None  # a syntax error surfaces, with its line, when the module runs
    names = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return next((n for n in ("run", "seed", "main") if n in names), None)

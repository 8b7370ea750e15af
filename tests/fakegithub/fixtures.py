"""Pytest fixture: register with `pytest_plugins = ["fakegithub.fixtures"]` in a conftest or test module."""

from collections.abc import Iterator

import pytest

from .fake import FakeGitHub


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A started FakeGitHub for octo-org/demo, stopped after the test."""
    with FakeGitHub() as fake:
        yield fake

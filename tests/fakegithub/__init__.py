"""A local, spec-validated fake of GitHub's REST API for migbot's end-to-end tests."""

from .fake import DEFAULT_TOKEN, FakeGitHub
from .state import Comment, Reaction, RecordedRequest, Status

__all__ = ["DEFAULT_TOKEN", "Comment", "FakeGitHub", "Reaction", "RecordedRequest", "Status"]

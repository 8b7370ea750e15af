"""The fake GitHub is strict (spec-validated) and realistic (PyGithub works against it as against GitHub)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests
from fakegithub import DEFAULT_TOKEN, FakeGitHub
from github import Auth, Github, GithubException

pytest_plugins = ["fakegithub.fixtures"]

HEAD, BASE = "a" * 40, "b" * 40
REPO = "/repos/octo-org/demo"


@pytest.fixture
def gh(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_pull(7, head_sha=HEAD, base_sha=BASE, head_ref="feature/add-index")
    return fake_github


def client(fake: FakeGitHub, token: str = DEFAULT_TOKEN, **options) -> Github:
    # PyGithub sleeps 0.25 s between requests and 1 s between writes by default.
    return Github(base_url=fake.url, auth=Auth.Token(token), seconds_between_requests=0,
                  seconds_between_writes=0, **options)


def call(fake: FakeGitHub, method: str, path: str, token: str | None = DEFAULT_TOKEN, **kwargs) -> requests.Response:
    headers = {"Authorization": f"token {token}"} if token else {}
    return requests.request(method, fake.url + path, headers=headers, timeout=5, **kwargs)


def test_pull_request_of_a_fork_reads_like_github(fake_github: FakeGitHub) -> None:
    fake_github.add_pull(12, head_sha=HEAD, base_sha=BASE, head_ref="patch-1", fork=True, draft=True,
                         title="Add index", author="contributor")
    pull = client(fake_github).get_repo("octo-org/demo").get_pull(12)

    assert (pull.number, pull.title, pull.state, pull.draft, pull.user.login) == \
        (12, "Add index", "open", True, "contributor")
    assert (pull.head.sha, pull.head.ref, pull.head.repo.full_name, pull.head.repo.fork) == \
        (HEAD, "patch-1", "contributor/demo", True)
    assert (pull.base.sha, pull.base.ref, pull.base.repo.full_name, pull.base.repo.fork) == \
        (BASE, "main", "octo-org/demo", False)
    assert pull.html_url == "https://github.com/octo-org/demo/pull/12"
    assert [(r.method, r.path, r.operation_id) for r in fake_github.requests] == [
        ("GET", REPO, "repos/get"), ("GET", f"{REPO}/pulls/12", "pulls/get")]
    fake_github.assert_no_violations()


def test_a_subprocess_reaches_the_fake_through_its_environment(gh: FakeGitHub) -> None:
    script = (
        "import os; from github import Auth, Github\n"
        "g = Github(base_url=os.environ['GITHUB_API_URL'], auth=Auth.Token(os.environ['GITHUB_TOKEN']), lazy=True)\n"
        "g.get_repo(os.environ['GITHUB_REPOSITORY']).get_pull(7).create_issue_comment('from the bot')\n"
    )
    subprocess.run([sys.executable, "-c", script], env={**os.environ, **gh.env()}, check=True, timeout=60)

    assert [(c.body, c.login) for c in gh.comments(7)] == [("from the bot", "github-actions[bot]")]
    gh.assert_no_violations()


def test_pygithub_pages_through_250_comments(gh: FakeGitHub) -> None:
    ids = [gh.add_comment(7, f"comment {n}") for n in range(250)]

    pull = client(gh).get_repo("octo-org/demo").get_pull(7)
    assert [c.id for c in pull.get_issue_comments()] == ids
    pages = [r.query for r in gh.requests if r.operation_id == "issues/list-comments"]
    assert pages == [{}] + [{"page": str(n)} for n in range(2, 10)]  # 30 a page by default

    pull = client(gh, per_page=100).get_repo("octo-org/demo").get_pull(7)
    assert [c.body for c in pull.get_issue_comments()] == [f"comment {n}" for n in range(250)]
    gh.assert_no_violations()


def test_link_header_is_githubs(gh: FakeGitHub) -> None:
    for n in range(250):
        gh.add_comment(7, f"comment {n}")
    url = f"{gh.url}{REPO}/issues/7/comments?per_page=100&page="

    middle = call(gh, "GET", f"{REPO}/issues/7/comments", params={"per_page": 100, "page": 2})
    assert len(middle.json()) == 100
    assert middle.headers["link"] == (f'<{url}1>; rel="prev", <{url}3>; rel="next", '
                                      f'<{url}3>; rel="last", <{url}1>; rel="first"')
    last = call(gh, "GET", f"{REPO}/issues/7/comments", params={"per_page": 100, "page": 3})
    assert len(last.json()) == 50
    assert last.headers["link"] == f'<{url}2>; rel="prev", <{url}1>; rel="first"'
    clamped = call(gh, "GET", f"{REPO}/issues/7/comments", params={"per_page": 500})
    assert len(clamped.json()) == 100
    gh.add_pull(8, head_sha=HEAD, base_sha=BASE, head_ref="small")
    gh.add_comment(8, "only one")
    assert "link" not in call(gh, "GET", f"{REPO}/issues/8/comments").headers  # a single page has none


def test_unknown_path_or_method_is_a_violation(gh: FakeGitHub) -> None:
    assert call(gh, "GET", f"{REPO}/pulls/7/bogus").status_code == 404
    assert call(gh, "PUT", f"{REPO}/issues/7/comments", json={"body": "x"}).status_code == 404
    assert call(gh, "GET", f"{REPO}/issues/seven/comments").status_code == 404

    assert gh.violations == [
        f"GET {REPO}/pulls/7/bogus: path matches no path template in GitHub's OpenAPI description",
        (f"PUT {REPO}/issues/7/comments: /repos/{{owner}}/{{repo}}/issues/{{issue_number}}/comments "
         "has no PUT operation (allowed: ['GET', 'POST'])"),
        f"GET {REPO}/issues/seven/comments: path parameter issue_number: 'seven' is not of type 'integer'",
    ]
    with pytest.raises(AssertionError, match="requests GitHub would refuse"):
        gh.assert_no_violations()


def test_query_parameters_must_be_declared_and_valid(gh: FakeGitHub) -> None:
    assert call(gh, "GET", f"{REPO}/issues/7/comments", params={"per_page": "many"}).status_code == 422
    assert call(gh, "GET", f"{REPO}/issues/7/comments", params={"sort": "created"}).status_code == 422
    assert call(gh, "GET", f"{REPO}/issues/7/comments", params={"since": "2024-01-01T00:00:00Z"}).status_code == 200

    assert gh.violations == [
        f"GET {REPO}/issues/7/comments: query parameter per_page: 'many' is not of type 'integer'",
        (f"GET {REPO}/issues/7/comments: query parameter 'sort' is not declared by issues/list-comments "
         "(declared: ['page', 'per_page', 'since'])"),
    ]


def test_status_with_a_bogus_state_is_rejected(gh: FakeGitHub) -> None:
    commit = client(gh, lazy=True).get_repo("octo-org/demo").get_commit(HEAD)
    with pytest.raises(GithubException) as raised:
        commit.create_status("bogus", description="checking", context="migbot")

    assert raised.value.status == 422
    assert gh.violations == [(f"POST {REPO}/statuses/{HEAD}: request body: state: "
                              "'bogus' is not one of ['error', 'failure', 'pending', 'success']")]
    assert gh.statuses(HEAD) == []


def test_reaction_outside_the_enum_is_rejected(gh: FakeGitHub) -> None:
    comment_id = gh.add_comment(7, "/migbot verify", login="maintainer")
    comment = client(gh).get_repo("octo-org/demo").get_pull(7).get_issue_comment(comment_id)
    with pytest.raises(GithubException) as raised:
        comment.create_reaction("thumbsup")

    assert raised.value.status == 422
    assert gh.violations == [
        (f"POST {REPO}/issues/comments/{comment_id}/reactions: request body: content: 'thumbsup' is not one of "
         "['+1', '-1', 'laugh', 'confused', 'heart', 'hooray', 'rocket', 'eyes']")]
    assert gh.reactions(comment_id) == []


def test_body_fields_github_does_not_know_are_flagged(gh: FakeGitHub) -> None:
    answer = call(gh, "POST", f"{REPO}/statuses/{HEAD}", json={"state": "success", "descripton": "typo"})

    assert answer.status_code == 422
    assert gh.violations == [(f"POST {REPO}/statuses/{HEAD}: request body: "
                              "'descripton' is not a property GitHub knows for repos/create-commit-status")]


def test_read_only_token_cannot_write(gh: FakeGitHub) -> None:
    gh.add_token("ghs_fork_token", "github-actions[bot]", read_only=True)
    comment_id = gh.add_comment(7, "/migbot verify")
    repo = client(gh, "ghs_fork_token", lazy=True).get_repo("octo-org/demo")
    pull = repo.get_pull(7)

    for write in (lambda: pull.create_issue_comment("report"),
                  lambda: pull.get_issue_comment(comment_id).create_reaction("eyes"),
                  lambda: repo.get_commit(HEAD).create_status("success")):
        with pytest.raises(GithubException) as raised:
            write()
        assert (raised.value.status, raised.value.data["message"]) == (403, "Resource not accessible by integration")

    assert [c.id for c in gh.comments(7)] == [comment_id]
    assert gh.reactions(comment_id) == [] and gh.statuses(HEAD) == []
    assert [r.status for r in gh.writes()] == [403, 403, 403]
    gh.assert_no_violations()


def test_comment_bodies_are_limited_to_65536_characters(gh: FakeGitHub) -> None:
    pull = client(gh).get_repo("octo-org/demo").get_pull(7)
    comment = pull.create_issue_comment("x" * 65536)
    with pytest.raises(GithubException) as raised:
        pull.create_issue_comment("x" * 65537)
    assert raised.value.status == 422
    assert raised.value.data["errors"] == [{"resource": "IssueComment", "code": "unprocessable", "field": "data",
                                            "message": "Body is too long (maximum is 65536 characters)"}]
    with pytest.raises(GithubException):
        comment.edit("y" * 65537)

    assert [len(c.body) for c in gh.comments(7)] == [65536]
    gh.assert_no_violations()


def test_status_descriptions_are_limited_to_140_characters(gh: FakeGitHub) -> None:
    commit = client(gh, lazy=True).get_repo("octo-org/demo").get_commit(HEAD)
    commit.create_status("pending", description="d" * 140, context="migbot", target_url="https://ci.example/1")
    with pytest.raises(GithubException) as raised:
        commit.create_status("failure", description="d" * 141, context="migbot")

    assert raised.value.status == 422
    assert raised.value.data["errors"][0]["message"] == "description is too long (maximum is 140 characters)"
    [status] = gh.statuses(HEAD)
    assert (status.state, status.context, status.target_url, status.login) == \
        ("pending", "migbot", "https://ci.example/1", "github-actions[bot]")
    gh.assert_no_violations()


def test_status_on_an_unknown_commit_is_rejected(gh: FakeGitHub) -> None:
    merge_sha = "c" * 40
    commit = client(gh, lazy=True).get_repo("octo-org/demo").get_commit(merge_sha)
    with pytest.raises(GithubException) as raised:
        commit.create_status("success")
    assert raised.value.data["message"] == f"No commit found for SHA: {merge_sha}"

    gh.add_commit(merge_sha)
    assert commit.create_status("success").context == "default"
    gh.assert_no_violations()


def test_comments_are_authored_by_the_token_owner_and_edits_move_updated_at(gh: FakeGitHub) -> None:
    pull = client(gh).get_repo("octo-org/demo").get_pull(7)
    comment = pull.create_issue_comment("first")
    assert (comment.user.login, comment.user.type, comment.user.id) == ("github-actions[bot]", "Bot", 41898282)

    comment.edit("second")
    fetched = pull.get_issue_comment(comment.id)
    assert fetched.body == "second"
    assert fetched.updated_at > fetched.created_at
    [stored] = gh.comments(7)
    assert (stored.body, stored.login) == ("second", "github-actions[bot]")
    assert [(r.method, r.body, r.status) for r in gh.writes()] == [
        ("POST", {"body": "first"}, 201), ("PATCH", {"body": "second"}, 200)]
    gh.assert_no_violations()


def test_same_reaction_twice_answers_200(gh: FakeGitHub) -> None:
    comment_id = gh.add_comment(7, "/migbot verify", login="maintainer")
    comment = client(gh).get_repo("octo-org/demo").get_pull(7).get_issue_comment(comment_id)
    first, again = comment.create_reaction("eyes"), comment.create_reaction("eyes")

    assert first.id == again.id
    assert [r.status for r in gh.writes()] == [201, 200]
    assert [(r.login, r.content) for r in gh.reactions(comment_id)] == [("github-actions[bot]", "eyes")]
    assert comment.update() and comment.reactions["eyes"] == 1
    gh.assert_no_violations()


@pytest.mark.parametrize(("role", "permission"), [
    ("admin", "admin"), ("maintain", "write"), ("write", "write"), ("triage", "read"), ("read", "read")])
def test_collaborator_permission_maps_roles_like_github(gh: FakeGitHub, role: str, permission: str) -> None:
    gh.set_permission("alice", role)
    repo = client(gh).get_repo("octo-org/demo")

    assert repo.get_collaborator_permission("alice") == permission
    assert repo.get_collaborator_role_name("alice") == role
    gh.assert_no_violations()


def test_strangers_read_public_repositories_but_not_private_ones() -> None:
    with FakeGitHub() as public, FakeGitHub(private=True) as private:
        assert client(public).get_repo("octo-org/demo").get_collaborator_permission("stranger") == "read"
        assert client(private).get_repo("octo-org/demo").get_collaborator_permission("stranger") == "none"
        public.assert_no_violations()
        private.assert_no_violations()


def test_get_user_answers_only_personal_tokens(gh: FakeGitHub) -> None:
    with pytest.raises(GithubException) as raised:
        client(gh).get_user().complete()
    assert (raised.value.status, raised.value.data["message"]) == (403, "Resource not accessible by integration")

    gh.add_token("ghp_personal", "maintainer", user_type="User")
    assert client(gh, "ghp_personal").get_user().login == "maintainer"
    gh.assert_no_violations()


def test_missing_or_unknown_tokens_get_401(gh: FakeGitHub) -> None:
    assert call(gh, "GET", REPO, token=None).status_code == 401
    unknown = call(gh, "GET", REPO, token="ghs_nobody")
    assert (unknown.status_code, unknown.json()["message"]) == (401, "Bad credentials")
    bearer = requests.get(gh.url + REPO, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}, timeout=5)
    assert bearer.status_code == 200
    assert call(gh, "GET", "/repos/someone-else/demo").status_code == 404


def test_every_response_carries_githubs_headers(gh: FakeGitHub) -> None:
    first, second = call(gh, "GET", REPO), call(gh, "GET", f"{REPO}/pulls/99")

    assert second.status_code == 404
    for answer in (first, second):
        assert answer.headers["content-type"] == "application/json; charset=utf-8"
        assert answer.headers["x-ratelimit-limit"] == "5000"
        assert int(answer.headers["x-ratelimit-reset"]) > time.time()
        assert answer.headers["x-github-request-id"]
    assert (first.headers["x-ratelimit-used"], first.headers["x-ratelimit-remaining"]) == ("1", "4999")
    assert (second.headers["x-ratelimit-used"], second.headers["x-ratelimit-remaining"]) == ("2", "4998")


def test_injected_502_is_answered_once(gh: FakeGitHub) -> None:
    gh.fail_next("GET", "/repos/*/pulls/*", status=502)

    with pytest.raises(GithubException) as raised:
        client(gh, retry=None).get_repo("octo-org/demo").get_pull(7)
    assert raised.value.status == 502
    assert client(gh, retry=None).get_repo("octo-org/demo").get_pull(7).number == 7

    gh.fail_next("GET", "/repos/*/pulls/*", status=502)
    assert client(gh).get_repo("octo-org/demo").get_pull(7).number == 7  # PyGithub retries 5xx by default
    assert [r.status for r in gh.requests if r.operation_id == "pulls/get"] == [502, 200, 502, 200]


def test_primary_rate_limit_then_recovery(gh: FakeGitHub) -> None:
    gh.rate_limit_next("GET", f"{REPO}/pulls/7")
    limited = call(gh, "GET", f"{REPO}/pulls/7")
    assert limited.status_code == 403
    assert limited.json()["message"].startswith("API rate limit exceeded for installation ID")
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert 0 < int(limited.headers["x-ratelimit-reset"]) - time.time() <= 2

    gh.rate_limit_next("GET", f"{REPO}/pulls/7")
    started = time.monotonic()
    assert client(gh).get_repo("octo-org/demo").get_pull(7).number == 7  # PyGithub waits for the reset
    assert time.monotonic() - started > 0.5  # it waited for the reset


def test_secondary_rate_limit_with_retry_after(gh: FakeGitHub) -> None:
    gh.secondary_rate_limit_next("POST", "*/comments", status=429)
    started = time.monotonic()
    client(gh).get_repo("octo-org/demo").get_pull(7).create_issue_comment("report")

    assert time.monotonic() - started >= 1
    assert [r.status for r in gh.writes()] == [429, 201]
    assert len(gh.comments(7)) == 1


def test_unimplemented_endpoints_answer_501_and_are_reported(gh: FakeGitHub) -> None:
    with pytest.raises(GithubException) as raised:
        client(gh, retry=None).get_repo("octo-org/demo").get_issue(7)  # not lazy: fetches the issue
    assert raised.value.status == 501
    with pytest.raises(requests.exceptions.RetryError):  # by default PyGithub retries a 501 ten times
        client(gh).get_repo("octo-org/demo").get_issue(7)

    assert gh.unimplemented == ["GET /repos/{owner}/{repo}/issues/{issue_number} (issues/get)"]
    with pytest.raises(AssertionError, match="not implemented by the fake"):
        gh.assert_no_violations()

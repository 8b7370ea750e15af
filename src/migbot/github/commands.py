"""`/migbot …` comment commands: parsed from the comment's first line only, as Atlantis does,
so a command quoted further down a discussion never runs."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from migbot.catalog import BY_ID

PREFIX = "/migbot"
COMMANDS = {
    "verify": "verify this pull request's migrations again and update the summary; `/migbot verify SHA`, "
              "with the commit's full 40-character SHA, runs only if SHA is still the head (required for a "
              "pull request from a fork)",
    "help": "show this help",
    "explain": "`/migbot explain CHECK-ID`: what a check catches, why it matters and how to fix it",
}


@dataclass
class Command:
    name: str  # one of COMMANDS, or "unknown"
    args: list[str]
    text: str  # the first line as written, for replies


def parse_command(body: str) -> Command | None:
    """None unless the first line starts with /migbot (a word of its own)."""
    lines = body.strip().splitlines()
    first = lines[0].strip() if lines else ""
    words = first.split()
    if not words or words[0].lower() != PREFIX:
        return None
    if len(words) == 1:
        return Command("help", [], first)
    verb = words[1].lower()
    return Command(verb if verb in COMMANDS else "unknown", words[2:] if verb in COMMANDS else words[1:], first)


def help_text(intro: str = "") -> str:
    rows = "\n".join(f"| `{PREFIX} {name}` | {what} |" for name, what in COMMANDS.items())
    return (f"{intro}\n\n" if intro else "") + (
        "migbot answers these commands, written as the first line of a comment on a pull request by "
        "someone with write access to the repository:\n\n| Command | What it does |\n| --- | --- |\n"
        f"{rows}\n\nmigbot also verifies every push to the pull request by itself.")


def unknown_reply(command: Command) -> str:
    verb = command.args[0] if command.args else ""
    close = difflib.get_close_matches(verb.lower(), list(COMMANDS), n=1)
    shown = verb[:40].replace("`", "")
    intro = f"`{PREFIX} {shown}` is not a migbot command." + (
        f" Did you mean `{PREFIX} {close[0]}`?" if close else "")
    return help_text(intro)


def explain_reply(command: Command) -> str:
    if not command.args:
        return f"Which check? For example `{PREFIX} explain model-drift`. The checks are: " + ", ".join(
            f"`{check_id}`" for check_id in BY_ID) + "."
    wanted = command.args[0].strip("`").lower()
    spec = BY_ID.get(wanted)
    if spec is None:
        close = difflib.get_close_matches(wanted, list(BY_ID), n=1)
        shown = wanted[:60].replace("`", "")
        return (f"migbot has no check `{shown}`." + (f" Did you mean `{close[0]}`?" if close else "")
                + " The checks are: " + ", ".join(f"`{check_id}`" for check_id in BY_ID) + ".")
    return (f"### `{spec.id}`: {spec.title}\n\n**What it catches:** {spec.catches}\n\n"
            f"**Why it matters:** {spec.why}\n\n**How to fix:** {spec.fix}\n\n"
            f"Default level: {spec.default.value}.")


SHA_LENGTH = 40
_SHA_LIKE = re.compile(r"[0-9a-f]{7,64}")  # what a writer means as a commit: a prefix, a SHA-1 or a SHA-256


def commit_pin(args: list[str]) -> str | None:
    """The commit `/migbot verify SHA` names, in lower case (possibly too short), or None."""
    words = (a.strip("`").lower() for a in args)
    return next((w for w in words if _SHA_LIKE.fullmatch(w)), None)


def pinned_commit_problem(pull, args: list[str]) -> str | None:
    """Why `/migbot verify [SHA]` must not run now, or None.

    A fork's code runs with the workflow's write token, so the writer names the commit they
    reviewed, and a push after their comment cannot slip in unreviewed code. Only the full SHA
    counts: an author who knows a prefix can make another commit with the same prefix."""
    pin = commit_pin(args)
    head = pull.head_sha
    again = f"`{PREFIX} verify {head}`"
    if pin is not None and len(pin) != SHA_LENGTH:
        return (f"`{PREFIX} verify` needs the commit's full {SHA_LENGTH}-character SHA, not `{pin}`: a shorter "
                "prefix can also match another commit, pushed after your comment, so nothing was run. The pull "
                f"request's head is now `{head}`. If that is the commit you reviewed, comment {again}.")
    if pin is not None and pin != head.lower():
        return (f"The pull request's head is now `{head}`, not `{pin}`: nothing was run. Review the new "
                f"commits, then comment {again}.")
    if pin is None and pull.fork:
        return (f"This pull request comes from a fork, and `{PREFIX} verify` runs its code with this workflow's "
                f"write token. Review its head commit `{head}`, then comment {again}.")
    return None


def head_moved_reply(verified: str, head: str, *, pinned: bool, ran: bool) -> str:
    """Why a `/migbot verify` stopped: the pull request's head is no longer the commit it took
    (head "" when GitHub did not say what it is)."""
    what = ("migbot verified it, but published nothing for the pull request: the summary comment is left "
            f"as it was, and only `{verified}` got its commit status" if ran else "nothing was run")
    if not head:
        return (f"migbot could not confirm that the pull request's head is still `{verified}` after verifying it: "
                f"{what}. Comment `{PREFIX} verify {verified}` to try again.")
    after = (f"Review the new commits, then comment `{PREFIX} verify {head}`." if pinned else
             f"The push verifies `{head}` by itself, or comment `{PREFIX} verify` again.")
    return (f"The pull request's head moved from `{verified}` to `{head}` while migbot was "
            f"{'verifying' if ran else 'preparing'} `{PREFIX} verify`: {what}. {after}")

"""`/migbot …` comment commands: parsed from the comment's first line only, as Atlantis does,
so a command quoted further down a discussion never runs."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from migbot.catalog import BY_ID

PREFIX = "/migbot"
COMMANDS = {
    "verify": "verify this pull request's migrations again and update the summary; `/migbot verify SHA` "
              "runs only if SHA is still the head (required for a pull request from a fork)",
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


def pinned_commit_problem(pull, args: list[str]) -> str | None:
    """Why `/migbot verify [SHA]` must not run now, or None.

    A fork's code runs with the workflow's write token, so the writer names the commit they
    reviewed, and a push after their comment cannot slip in unreviewed code."""
    pin = next((a.lower() for a in args if re.fullmatch(r"[0-9a-fA-F]{7,40}", a)), None)
    head = pull.head_sha[:12]
    if pin is not None and not pull.head_sha.lower().startswith(pin):
        return (f"The pull request's head is now `{head}`, not `{pin[:12]}`: nothing was run. Review the new "
                f"commits, then comment `{PREFIX} verify {head}`.")
    if pin is None and pull.fork:
        return (f"This pull request comes from a fork, and `{PREFIX} verify` runs its code with this workflow's "
                f"write token. Review its head commit `{head}`, then comment `{PREFIX} verify {head}`.")
    return None

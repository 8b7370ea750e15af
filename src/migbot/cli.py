"""The command line: `migbot verify`, `migbot plan`, `migbot render`, `migbot checks`, `migbot action`.

Exit codes: 0 every check passed; 1 a check failed; 2 usage or config error;
3 migbot itself could not run; 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from pathlib import Path

from pydantic import ValidationError

from migbot import __version__
from migbot.catalog import render_markdown as render_catalog
from migbot.errors import (
    EXIT_CHECKS_FAILED,
    EXIT_INFRA,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    MigbotError,
    UsageError,
)
from migbot.provision.conninfo import ServerInfo
from migbot.redact import Redactor, printable
from migbot.report.markdown import render_markdown
from migbot.report.model import SCHEMA_VERSION, Report
from migbot.report.terminal import TerminalProgress, console_for, render_terminal

FORMATS = ("terminal", "markdown", "json")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="migbot",
        description="Verify a branch's Alembic migrations on a throwaway PostgreSQL.",
    )
    parser.add_argument("--version", action="version", version=f"migbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    verify = sub.add_parser("verify", help="verify the branch's migrations against its base",
                            description="Build the base state, walk every new revision up, down and up again, "
                            "compare models with the database, and print the Database Task Summary.")
    verify.add_argument("--repo", type=Path, default=Path("."), metavar="PATH",
                        help="the git repository (default: the current directory)")
    verify.add_argument("--base", metavar="REF", help="the branch the change merges into (default: the repository's "
                        "default branch, e.g. origin/main)")
    verify.add_argument("--head", default="HEAD", metavar="REF", help="the commit to verify (default: HEAD)")
    verify.add_argument("--format", choices=FORMATS, help="output format (default: from --output's suffix, "
                        ".md or .json, else terminal)")
    verify.add_argument("--output", type=Path, metavar="FILE", help="write the report to FILE instead of stdout")
    verify.add_argument("--database-url", metavar="URL", default=os.environ.get("MIGBOT_DATABASE_URL"),
                        help="use this PostgreSQL server instead of starting one; migbot creates and drops its own "
                        "databases there (env: MIGBOT_DATABASE_URL)")
    verify.add_argument("--timeout", type=_positive, metavar="SECONDS",
                        help="limit for each step (a migration, a downgrade, ...); default 300")
    verify.add_argument("--config", type=Path, metavar="FILE", help="config file to use instead of the "
                        "[tool.migbot] table of the head commit's pyproject.toml or migbot.toml")
    verify.add_argument("--project", metavar="PATH", help="verify only this Alembic project of a monorepo: its "
                        "folder (as `migbot plan` prints it) or its ini file")
    verify.add_argument("-q", "--quiet", action="store_true", help="no progress output on stderr")

    plan = sub.add_parser("plan", help="print the Alembic projects the branch touches, as a GitHub Actions matrix",
                          description="Print, as JSON for `strategy.matrix`, the Alembic projects the change from "
                          "the base to head touches: {\"include\": [{\"project\": ..., \"alembic_ini\": ..., "
                          "\"artifact\": ...}]}. It reads git only: none of the project's code runs, no "
                          "PostgreSQL is needed.")
    plan.add_argument("--repo", type=Path, default=Path("."), metavar="PATH",
                      help="the git repository (default: the current directory)")
    plan.add_argument("--base", metavar="REF", help="the branch the change merges into (default: the repository's "
                      "default branch, e.g. origin/main)")
    plan.add_argument("--head", default="HEAD", metavar="REF", help="the commit to plan for (default: HEAD)")
    plan.add_argument("--config", type=Path, metavar="FILE", help="config file to use instead of the "
                      "[tool.migbot] table of the head commit's pyproject.toml or migbot.toml")
    plan.add_argument("--output", type=Path, metavar="FILE", help="also write the JSON to FILE")

    render = sub.add_parser("render", help="re-render a saved JSON report")
    render.add_argument("report", type=Path, metavar="REPORT.json")
    render.add_argument("--format", choices=("markdown", "terminal"),
                        help="output format (default: from --output's suffix, else terminal)")
    render.add_argument("--output", type=Path, metavar="FILE")

    sub.add_parser("action", help="run as the GitHub Action (reads the GITHUB_* environment and INPUT_* inputs)",
                   description="The entrypoint of migbot's GitHub Action: verify the pull request of the event, "
                   "answer /migbot commands, and publish the comment, status, annotations and step summary.")

    checks = sub.add_parser("checks", help="list every check: its id, default level and what it checks")
    checks.add_argument("--markdown", action="store_true", help="the full catalogue (docs/checks.md): what each "
                        "check catches, why it matters, how to fix it")
    return parser


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1 second")
    return number


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except KeyboardInterrupt:
        print("migbot: interrupted while starting; nothing was started.", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.command is None:
        _parser().print_help()
        return EXIT_USAGE
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        if args.command == "verify":
            return _verify(args)
        if args.command == "render":
            return _render(args)
        if args.command == "plan":
            return _plan(args)
        if args.command == "action":
            from migbot.github.action import run_action

            return run_action()
        if args.markdown:
            print(render_catalog(), end="")
        else:
            _list_checks()
        return EXIT_OK
    except MigbotError as exc:
        _print_error(exc, _redactor(getattr(args, "database_url", None)))
        return exc.exit_code
    except KeyboardInterrupt:
        print("migbot: interrupted; everything it started has been stopped and removed.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - a bug in migbot: say so, without a wall of traceback
        detail = _redactor(getattr(args, "database_url", None))(f"{type(exc).__name__}: {exc}")
        print(f"migbot: internal error: {detail}", file=sys.stderr)
        if os.environ.get("MIGBOT_DEBUG"):
            traceback.print_exc()
            print("This is a bug in migbot: please report it with the traceback above.", file=sys.stderr)
        else:
            print("This is a bug in migbot. Run again with MIGBOT_DEBUG=1 to see the traceback, and report it.",
                  file=sys.stderr)
        return EXIT_INFRA
    finally:
        signal.signal(signal.SIGTERM, previous)


def _list_checks() -> None:
    from migbot.catalog import CHECKS

    width = max(len(spec.id) for spec in CHECKS)
    for spec in CHECKS:
        print(f"{spec.id.ljust(width)}  {spec.stage:6}  {spec.default.value:7}  {spec.title}")
    print("\nSet a level with [tool.migbot.checks] in pyproject.toml, e.g. model-drift = \"warning\".\n"
          "`migbot checks --markdown` tells what each check catches, why it matters and how to fix it.")


def _raise_interrupted(_signum, _frame):
    raise KeyboardInterrupt


def _verify(args) -> int:
    from migbot.pipeline import VerifyOptions, verify

    fmt = _format(args.format, args.output)
    _check_writable(args.output)  # before minutes of work, not after
    progress = TerminalProgress(enabled=not args.quiet)
    try:
        report = verify(
            VerifyOptions(repo=args.repo, base=args.base, head=args.head, database_url=args.database_url,
                          timeout=args.timeout, config_path=args.config, project=args.project),
            progress=progress,
        )
    finally:
        progress.close()
    _emit(report, fmt, args.output)
    if args.output is not None and not args.quiet:
        verdict = "passed" if report.passed else "failed"
        print(f"migbot: {report.counts.failed} checks failed; report written to {args.output}" if not report.passed
              else f"migbot: all checks {verdict}; report written to {args.output}", file=sys.stderr)
    return EXIT_OK if report.passed else EXIT_CHECKS_FAILED


def _plan(args) -> int:
    from migbot.plan.matrix import plan_matrix

    _check_writable(args.output, "the matrix")
    matrix, lines = plan_matrix(args.repo, args.base, args.head, args.config)
    text = matrix.model_dump_json() + "\n"  # one line: `echo "matrix=$(migbot plan)" >> "$GITHUB_OUTPUT"`
    for line in lines:
        print(f"migbot: {line}", file=sys.stderr)
    if args.output is not None:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"Cannot write the matrix to {args.output}: {exc.strerror}.") from None
    sys.stdout.write(text)
    return EXIT_OK


def _render(args) -> int:
    try:
        report = Report.model_validate_json(args.report.read_bytes())
    except OSError as exc:
        raise UsageError(f"Cannot read {args.report}: {exc.strerror}.") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise UsageError(f"{args.report} is not a migbot report ({where + ': ' if where else ''}{first['msg']}).",
                         hint="It must be the JSON written by `migbot verify --format json`.") from None
    if report.schema_version > SCHEMA_VERSION:
        raise UsageError(f"{args.report} has report schema version {report.schema_version}; this migbot "
                         f"({__version__}) reads version {SCHEMA_VERSION}. Upgrade migbot to render it.")
    _emit(report, _format(args.format, args.output), args.output)
    return EXIT_OK if report.passed else EXIT_CHECKS_FAILED


def _format(chosen: str | None, output: Path | None) -> str:
    if chosen:
        return chosen
    suffix = output.suffix.lower() if output is not None else ""
    return {".md": "markdown", ".markdown": "markdown", ".json": "json"}.get(suffix, "terminal")


def _check_writable(output: Path | None, what: str = "the report") -> None:
    if output is None:
        return
    if output.is_dir():
        raise UsageError(f"Cannot write {what} to {output}: {output} is a directory.",
                         hint="Name a file, e.g. --output report.md.")
    directory = output.parent if str(output.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError(f"Cannot write {what} to {output}: {directory} is not a directory.")
    if (output.exists() and not os.access(output, os.W_OK)) or not os.access(directory, os.W_OK):
        raise UsageError(f"Cannot write {what} to {output}: permission denied.")


def _emit(report: Report, fmt: str, output: Path | None) -> None:
    if fmt == "json":
        text = report.model_dump_json(indent=2) + "\n"
    elif fmt == "markdown":
        text = render_markdown(report)
    else:
        text = None
    if output is not None:
        try:
            if text is None:
                with open(output, "w", encoding="utf-8") as handle:
                    render_terminal(report, console_for(handle))
            else:
                output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"Cannot write the report to {output}: {exc.strerror}.") from None
    else:
        try:
            if text is None:
                render_terminal(report, console_for(sys.stdout))
            else:
                sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            # `migbot verify | head` closed the pipe: the exit code still tells the result.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _redactor(url: str | None) -> Redactor:
    """Hides --database-url's password, in every encoding, from what migbot prints."""
    try:
        return Redactor(ServerInfo.from_url(url).secrets() if url else [])
    except MigbotError:
        return Redactor()


def _print_error(exc: MigbotError, redact: Redactor) -> None:
    kind = "error" if exc.exit_code == EXIT_USAGE else "could not run"
    print(f"migbot: {kind}: {printable(redact(exc.message))}", file=sys.stderr)
    if exc.hint:
        print(printable(redact(exc.hint)), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

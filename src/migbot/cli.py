"""The command line: `migbot verify`, `migbot render`, `migbot checks`.

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
from migbot.checks.catalog import render_markdown as render_catalog
from migbot.errors import EXIT_CHECKS_FAILED, EXIT_INFRA, EXIT_OK, EXIT_USAGE, Interrupted, MigbotError, UsageError
from migbot.report.markdown import render_markdown
from migbot.report.model import Report
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
    verify.add_argument("--format", choices=FORMATS, default="terminal", help="output format (default: terminal)")
    verify.add_argument("--output", type=Path, metavar="FILE", help="write the report to FILE instead of stdout")
    verify.add_argument("--database-url", metavar="URL", default=os.environ.get("MIGBOT_DATABASE_URL"),
                        help="use this PostgreSQL server instead of starting one; migbot creates and drops its own "
                        "databases there (env: MIGBOT_DATABASE_URL)")
    verify.add_argument("--timeout", type=_positive, metavar="SECONDS",
                        help="limit for each step (a migration, a downgrade, ...); default 300")
    verify.add_argument("--config", type=Path, metavar="FILE", help="config file to use instead of the "
                        "[tool.migbot] table of the head commit's pyproject.toml or migbot.toml")
    verify.add_argument("--quiet", action="store_true", help="no progress output on stderr")

    render = sub.add_parser("render", help="re-render a saved JSON report")
    render.add_argument("report", type=Path, metavar="REPORT.json")
    render.add_argument("--format", choices=("markdown", "terminal"), default="terminal")
    render.add_argument("--output", type=Path, metavar="FILE")

    sub.add_parser("checks", help="list every check with its id, why it matters and how to fix it")
    return parser


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if number <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return number


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return EXIT_USAGE
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        if args.command == "verify":
            return _verify(args)
        if args.command == "render":
            return _render(args)
        print(render_catalog(), end="")
        return EXIT_OK
    except MigbotError as exc:
        _print_error(exc, secret=_password(getattr(args, "database_url", None)))
        return exc.exit_code
    except KeyboardInterrupt:
        print("migbot: interrupted; everything it started has been stopped and removed.", file=sys.stderr)
        return Interrupted.exit_code
    except Exception as exc:  # noqa: BLE001 - a bug in migbot: say so, without a wall of traceback
        if os.environ.get("MIGBOT_DEBUG"):
            traceback.print_exc()
        detail = _redact(f"{type(exc).__name__}: {exc}", _password(getattr(args, "database_url", None)))
        print(f"migbot: internal error: {detail}\n"
              "This is a bug in migbot. Run again with MIGBOT_DEBUG=1 to see the traceback, and report it.",
              file=sys.stderr)
        return EXIT_INFRA
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupted(_signum, _frame):
    raise KeyboardInterrupt


def _verify(args) -> int:
    from migbot.pipeline import VerifyOptions, verify

    progress = TerminalProgress(enabled=not args.quiet)
    try:
        report = verify(
            VerifyOptions(repo=args.repo, base=args.base, head=args.head, database_url=args.database_url,
                          timeout=args.timeout, config_path=args.config),
            progress=progress,
        )
    finally:
        progress.close()
    _emit(report, args.format, args.output)
    if args.output is not None and not args.quiet:
        verdict = "passed" if report.passed else "failed"
        print(f"migbot: {report.counts.failed} checks failed; report written to {args.output}" if not report.passed
              else f"migbot: all checks {verdict}; report written to {args.output}", file=sys.stderr)
    return EXIT_OK if report.passed else EXIT_CHECKS_FAILED


def _render(args) -> int:
    try:
        report = Report.model_validate_json(args.report.read_bytes())
    except OSError as exc:
        raise UsageError(f"Cannot read {args.report}: {exc.strerror}.") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UsageError(f"{args.report} is not a migbot report: {'.'.join(map(str, first['loc']))}: {first['msg']}",
                         hint="It must be the JSON written by `migbot verify --format json`.") from None
    _emit(report, args.format, args.output)
    return EXIT_OK if report.passed else EXIT_CHECKS_FAILED


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
    elif text is None:
        render_terminal(report, console_for(sys.stdout))
    else:
        sys.stdout.write(text)


def _password(url: str | None) -> str | None:
    if not url:
        return None
    from migbot.provision.conninfo import ServerInfo

    try:
        return ServerInfo.from_url(url).password or None
    except MigbotError:
        return None


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "********") if secret else text


def _print_error(exc: MigbotError, secret: str | None) -> None:
    kind = "error" if exc.exit_code == EXIT_USAGE else "could not run"
    print(f"migbot: {kind}: {_redact(exc.message, secret)}", file=sys.stderr)
    if exc.hint:
        print(_redact(exc.hint, secret), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

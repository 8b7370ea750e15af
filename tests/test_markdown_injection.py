"""Markdown injection: the project's text in the PR comment, and in the job log.

Everything a pull request controls (revision docstrings, what its code raised or printed,
table and file names, branch names, notes) is put into every field of a report; the
rendered Markdown must show it, and GitHub must act on none of it: no mention, no issue
reference, no image, no HTML, no link of its own, no heading or table cell it did not come
with, the hidden marker intact. The job log must obey none of its workflow commands.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from markdown_it import MarkdownIt
from markdown_text import prose

from migbot.catalog import Level
from migbot.github.sticky import project_marker
from migbot.github.workflow import Workflow, annotation
from migbot.redact import Redactor
from migbot.report.fit import fit_markdown
from migbot.report.markdown import (
    MARKER,
    ZWSP,
    _code,
    _inline,
    _text,
    inline_text,
    render_markdown,
)
from migbot.report.model import (
    CheckResult,
    Counts,
    Drift,
    DriftItem,
    Finding,
    MigrationEntry,
    ProjectReport,
    Refs,
    Report,
    RevisionRun,
    SchemaImpact,
    Step,
    TaskSummary,
    Verification,
)
from migbot.snapshot.types import ObjectDiff

PAYLOADS = [
    "@org/team",
    "ping @someone please",
    "#123",
    "fixes org/repo#1 and GH-42, see https://github.com/org/repo/issues/7",
    "![x](https://evil.example/p.png)",
    "[click](https://evil.example/)",
    "<img src=x onerror=alert(1)>",
    "--> <details><summary>x</summary>",
    "| a | b |",
    "``` fence ``` and ```` run ````",
    "`a` `` b `` ``` c",
    "\\`<b>\\`",
    "::error::forged",
    "::stop-commands::tok",
    "##[error]legacy",
    "# Heading",
    "1. item",
    "- item",
    "*em* _em_ ~~gone~~ $x^2$",
    "&lt;img src=x&gt; &#64;org",
]
EVERYTHING = " ".join(PAYLOADS)
ALL_PAYLOADS = [*PAYLOADS, EVERYTHING]
FILE_URL = "https://github.test/o/r/blob/abc/{path}#L{line}"
OUR_HTML = {"<details>", "</details>", "<summary>", "</summary>", "<sub>", "</sub>"}
OUR_HEADINGS = {"Changes Made", "Files Modified", "Migrations", "Schema Impact", "Seed Data", "Verification",
                "Checks"}


def step(status: str = "pass", note: str = "") -> Step:
    return Step(status=status, note=note)


def hostile_report(text: str) -> Report:
    """A report whose every project-controlled field holds `text`."""
    multiline = f"Traceback (most recent call last):\n  {text}\n{text}\n"
    findings = [
        Finding(message=f"0003: upgrade failed: RuntimeError: {text}", file=f"alembic/versions/{text}.py", line=7,
                hint=f"look at `{text}`", details=[text, f"table `{text}`: {text}", multiline]),
        Finding(message=text, severity="warning", details=[text] * 10),
    ]
    checks = [
        CheckResult(id="revision-syntax", title="Revision files are valid Python", status="pass", level=Level.ERROR,
                    summary=text),
        CheckResult(id="upgrade", title="Each new revision upgrades", status="fail", level=Level.ERROR,
                    summary=f"`0003` failed: {text}", findings=findings),
        CheckResult(id="seeds-idempotent", title="Seeds are idempotent", status="skip", level=Level.ERROR,
                    summary=f"skipped because {text}"),
    ]
    summary = TaskSummary(
        changes_made=[text, f"adds `{text}`"],
        files_modified=[text, f"`{text}`"],
        migrations=[
            MigrationEntry(file=f"alembic/versions/{text}.py", revision=text, change="added",
                           description=f"{text} (`{text}`)", status=text),
            MigrationEntry(file=f"alembic/versions/{text}_gone.py", change="deleted", description=text,
                           status=text),
        ],
        schema_impact=SchemaImpact(new_tables=[text], modified_tables=[text], dropped_tables=[text],
                                   new_indexes=[text],
                                   changes=[ObjectDiff(kind="table", name=text, change="added", columns=[text])]),
        seed_data=[text],
        verification=Verification(migration_up="fail", migration_down="skipped", seed_data="pass"),
    )
    drift = Drift(checked=True, existing=[DriftItem(kind="x", text=text, key="a")],
                  fixed=[DriftItem(kind="x", text=text, key="b")])
    stairway = [RevisionRun(revision=text, upgrade=step(), downgrade=step("skip", note=text),
                            schema_restored=step("skip"), reupgrade=step("skip"))]
    project = ProjectReport(name=text, alembic_ini=f"{text}/alembic.ini", result="fail", summary=summary,
                            checks=checks, stairway=stairway, drift=drift)
    return Report(
        migbot_version="0.0.0", result="fail",
        refs=Refs(base_ref=text, base="a" * 40, merge_base="b" * 40, head_ref=text, head="c" * 40),
        database=text, started_at=datetime(2024, 1, 1, tzinfo=timezone.utc), seconds=1.0,
        projects=[project], counts=Counts(passed=1, failed=1, skipped=1), notes=[text, f"config: `{text}`"],
    )


# --- reading Markdown back: markdown_text.prose ------------------------------------------------------
def test_prose_helper():
    assert prose("a `@x` b\n  ````text\n  @y\n  ```\n  ````\nc ``d`e`` \\`@z`") == "a  b\nc  \\`@z`"


def tokens(markdown: str):
    """Every token, inline ones included, as a CommonMark parser with GFM tables reads the Markdown."""
    out = []
    for token in MarkdownIt("commonmark").enable("table").parse(markdown):
        out.append(token)
        out.extend(token.children or [])
    return out


def shown_text(markdown: str) -> str:
    """The text a reader sees outside code, as GitHub's reference filters see it."""
    return "\n".join(t.content for t in tokens(markdown) if t.type == "text")


def assert_inert(markdown: str, *, tables: int | None = 3) -> None:
    # Our file links' destinations are no text: GitHub looks for references in none.
    outside = re.sub(r"\]\(https://github\.test/o/r/blob/abc/[^)\s]*\)", "]()", prose(markdown))
    lines = markdown.splitlines()
    # The hidden marker: the first line, one comment, and no other comment anywhere.
    assert lines[0] == MARKER
    assert outside.count("<!--") == 1 and outside.count("-->") == 1
    # No mention, issue reference or image, in the raw prose or in the text a parser sees.
    for text in (outside, shown_text(markdown)):
        assert not re.search(r"@[A-Za-z0-9]", text), "a mention"
        assert not re.search(r"#\d|GH-\d|/issues/\d", text, re.I), "an issue reference"
    assert "![" not in outside
    # No HTML but ours: every "<" left in the prose opens one of our tags.
    for tag in re.findall(r"<[^>\s]*>?", outside.split("\n", 1)[1]):
        assert tag in OUR_HTML, f"raw HTML {tag!r}"
    parsed = tokens(markdown)
    assert "image" not in {t.type for t in parsed}
    for token in parsed:
        if token.type == "link_open":
            assert token.attrs["href"].startswith("https://github.test/o/r/blob/abc/"), token.attrs
        if token.type in ("html_inline", "html_block"):
            assert set(re.findall(r"<[^>]*>", token.content)) <= OUR_HTML | {MARKER}, token.content
    # Headings: only ours.
    headings = [parsed[i + 1].content for i, t in enumerate(parsed) if t.type == "heading_open"]
    assert all(h in OUR_HEADINGS or h.startswith(("Database Task Summary", "❌", "⚠️")) for h in headings), headings
    # Tables: every row has as many cells (unescaped pipes) as its header.
    header = None
    for line, below in zip(lines, [*lines[1:], ""]):
        if not line.startswith("|"):
            header = None
        elif header is None and below.startswith("| ---"):
            header = line
        else:
            assert len(re.findall(r"(?<!\\)\|", line)) == len(re.findall(r"(?<!\\)\|", header)), line
    if tables is not None:  # migrations, all checks, stairway
        assert sum(t.type == "table_open" for t in parsed) == tables


@pytest.mark.parametrize("text", ALL_PAYLOADS)
def test_project_text_is_inert_everywhere(text):
    markdown = render_markdown(hostile_report(text), file_url=FILE_URL)
    assert_inert(markdown)


@pytest.mark.parametrize("text", ALL_PAYLOADS)
def test_the_comment_with_its_project_marker_is_inert(text):
    report = hostile_report(text)
    marker = project_marker(report.projects[0].alembic_ini)
    markdown = fit_markdown(report, 65_536, shortened_note="shortened", marker=marker, file_url=FILE_URL)
    assert markdown.splitlines()[0] == marker
    assert_inert(markdown.replace(marker, MARKER, 1))


def test_the_reader_still_sees_the_projects_text():
    markdown = render_markdown(hostile_report(EVERYTHING), file_url=FILE_URL)
    seen = shown_text(markdown).replace(ZWSP, "")
    # A change line is prose: GitHub shows exactly the project's characters (plus zero-width spaces).
    assert EVERYTHING in seen.splitlines()
    # Names in code spans are shown verbatim.
    codes = [t.content for t in tokens(markdown) if t.type == "code_inline"]
    assert EVERYTHING in codes
    # A traceback is shown verbatim in a fenced block.
    fences = [t.content for t in tokens(markdown) if t.type == "fence"]
    assert any(f"  {EVERYTHING}\n{EVERYTHING}\n" in fence for fence in fences)


def test_no_notifying_mention_or_reference_in_prose():
    assert _text("@org/team") == f"@{ZWSP}org/team"
    assert _text("see #123 and org/repo#1") == f"see #{ZWSP}123 and org/repo#{ZWSP}1"
    assert _text("GH-42") == f"GH-{ZWSP}42"
    assert _text("user@example.com") == f"user@{ZWSP}example.com"
    assert _text("a # b @ c") == "a # b @ c"  # nothing to resolve: left alone


def test_prose_punctuation_and_html():
    assert _text("![x](https://evil.example/p.png)") == "\\!\\[x\\](https://evil.example/p.png)"
    assert _text("<img src=x>") == "&lt;img src=x&gt;"
    assert _text("-->") == "--&gt;"
    assert _text("| a | b |") == "\\| a \\| b \\|"
    assert _text("*a* _b_ snake_case_name") == "\\*a\\* \\_b\\_ snake_case_name"
    assert _text("1.5 # x") == "1.5 # x"
    # At the start of a list item or a quote, no heading or list of the project's.
    assert _inline("# Heading") == "\\# Heading" and _inline("1. x") == "1\\. x" and _inline("+ x") == "\\+ x"
    assert _inline("`a` # b") == "`a` # b"
    assert _text("a\\") == "a\\\\"


def test_our_code_spans_survive_and_the_text_around_them_is_escaped():
    assert _inline("table `@org/team` is <new>") == "table `@org/team` is &lt;new&gt;"
    # A backslash before our span cannot escape its backtick.
    assert _inline("path\\`x`") == "path\\\\`x`"
    # In a list the pipe in a span stays as it is; a table cell needs it escaped.
    assert _inline("`a|b` | c") == "`a|b` \\| c"
    assert _inline("`a|b` | c", cell=True) == "`a\\|b` \\| c"


def test_code_spans_are_fenced_longer_than_any_run():
    assert _code("a ``` b") == "````a ``` b````"
    assert _code("") == "` `"
    assert _code("x\n`y") == "``x `y``"


def test_the_action_messages_escape_too():
    assert inline_text("install failed: @org/team ![x](y)") == f"install failed: @{ZWSP}org/team \\!\\[x\\](y)"


def test_a_file_link_cannot_be_broken_out_of():
    path = "alembic/versions/a) ![x](https://evil.example/p.png) (b.py"
    report = hostile_report("x")
    report.projects[0].checks[1].findings[0].file = path
    markdown = render_markdown(report, file_url=FILE_URL)
    links = [t.attrs["href"] for t in tokens(markdown) if t.type == "link_open"]
    assert "https://github.test/o/r/blob/abc/alembic/versions/a%29%20%21%5Bx%5D%28https%3A//evil.example/p.png%29" \
           "%20%28b.py#L7" in links
    assert "image" not in {t.type for t in tokens(markdown)}


def test_a_marker_that_is_not_one_comment_is_refused():
    with pytest.raises(ValueError):
        render_markdown(hostile_report("x"), marker="<!-- a --> <img src=x> <!-- b -->")
    with pytest.raises(ValueError):
        render_markdown(hostile_report("x"), marker="<!-- a\n-->")
    marker = project_marker("odd--> <img src=x>/alembic.ini")
    assert render_markdown(hostile_report("x"), marker=marker).splitlines()[0] == marker


def test_the_shortened_note_keeps_its_link():
    report = hostile_report(EVERYTHING * 20)
    markdown = fit_markdown(report, 60_000, shortened_note="Shortened; see [the run](https://github.test/run/1).",
                            file_url=FILE_URL)
    assert len(markdown) <= 60_000
    assert "https://github.test/run/1" in [t.attrs["href"] for t in tokens(markdown) if t.type == "link_open"]
    assert_inert(markdown.replace("](https://github.test/run/1)", "](https://github.test/o/r/blob/abc/)"), tables=None)


def test_redaction_sees_the_text_before_it_is_escaped():
    secret = "ghs_s3*cr_t@#1"
    report = hostile_report(f"token {secret} | `{secret}`")
    markdown = fit_markdown(report, 65_536, shortened_note="", finish=Redactor([secret]), file_url=FILE_URL)
    assert "s3" not in shown_text(markdown) and "s3" not in markdown
    assert "********" in markdown


# --- the job log ----------------------------------------------------------------------------------------
REGISTERED = {"set-env", "set-output", "save-state", "add-mask", "add-path", "add-matcher", "remove-matcher",
              "debug", "warning", "error", "notice", "group", "endgroup", "echo", "stop-commands"}


def _unescape(text: str, pairs) -> str:
    for escaped, char in pairs:
        text = text.replace(escaped, char)
    return text


def runner_commands(log: str) -> list[tuple[str, dict, str]]:
    """The commands the Actions runner obeys in a log (ActionCommandManager.TryProcessCommand):
    `::command props::data` at the start of a line, or the legacy `##[command]data` anywhere in
    one, and nothing between `::stop-commands::TOKEN` and `::TOKEN::` but that resume."""
    obeyed, token = [], None
    data_pairs = [("%0D", "\r"), ("%0A", "\n"), ("%25", "%")]
    prop_pairs = [("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")]
    for raw in re.split(r"\r\n|\r|\n", log):
        line = raw.lstrip()
        command = None
        end = line.find("::", 2)
        if line.startswith("::") and end > 0:
            info = line[2:end]
            name, _, props = info.partition(" ")
            if name in REGISTERED | ({token} if token else set()):
                properties = {}
                for item in filter(None, props.strip().split(",")):
                    key, sep, value = item.partition("=")
                    if sep and key and value:
                        properties[key] = _unescape(value, prop_pairs)
                command = (name, properties, _unescape(line[end + 2:], data_pairs))
        if command is None and "##[" in raw:
            start = raw.index("##[") + 3
            close = raw.find("]", start)
            name = raw[start:close].split(" ")[0] if close > 0 else ""
            if name in REGISTERED | ({token} if token else set()):
                command = (name, {}, raw[close + 1:])
        if command is None:
            continue
        if token is not None:
            if command[0] == token:
                obeyed.append(("resume", {}, ""))
                token = None
            continue
        obeyed.append(command)
        if command[0] == "stop-commands":
            token = command[2]
    return obeyed


LOG_PAYLOAD = ("boom\n::error::forged\r::stop-commands::tok\n##[set-output name=result]pass\n"
               "  ::warning file=x::y\n::add-mask::z\nx ##[error]legacy 50%0A %25 a,b:c")


def test_annotation_properties_and_data_round_trip():
    file = "alembic/versions/a,b:c %0A\n::error::d.py"
    title = "migbot upgrade: x,y\r\n::warning::z"
    line = annotation("error", LOG_PAYLOAD, file=file, line=12, title=title)
    assert "\n" not in line and "\r" not in line and line.startswith("::error file=")
    assert runner_commands(line) == [("error", {"file": file, "line": "12", "title": title}, LOG_PAYLOAD)]


def test_annotation_refuses_an_unknown_level_and_a_bad_line():
    with pytest.raises(ValueError):
        annotation("stop-commands", "x")
    with pytest.raises(ValueError):
        annotation("error", "x", file="a.py", line="1,title=forged")


def test_project_output_in_the_log_is_inside_stop_commands(tmp_path):
    log = tmp_path / "log"
    with open(log, "w", encoding="utf-8") as handle:
        workflow = Workflow(None, None, handle)
        workflow.group(f"install: {LOG_PAYLOAD}", LOG_PAYLOAD)
        workflow.echo(f"migbot: comment for {LOG_PAYLOAD}: created")
        workflow.error(LOG_PAYLOAD, file=f"{LOG_PAYLOAD}.py", line=3, title=LOG_PAYLOAD)
    obeyed = runner_commands(log.read_text(encoding="utf-8"))
    assert [name for name, _, _ in obeyed] == ["group", "stop-commands", "resume", "endgroup",
                                               "stop-commands", "resume", "error"]
    assert obeyed[0][2] == f"install: {LOG_PAYLOAD}"
    assert obeyed[-1] == ("error", {"file": f"{LOG_PAYLOAD}.py", "line": "3", "title": LOG_PAYLOAD}, LOG_PAYLOAD)

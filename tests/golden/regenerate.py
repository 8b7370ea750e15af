"""Regenerate the golden reports: run each scenario through the real CLI (twice, to prove the
comment reads the same on every run of the same commit), keep its JSON report, and render
the Markdown comment and the terminal text that tests/test_golden.py compares.

    .venv/bin/python tests/golden/regenerate.py            # every scenario
    .venv/bin/python tests/golden/regenerate.py dropped-table

A golden file that changes is a change to what reviewers read: look at `git diff tests/golden`
before committing it.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from conftest import Repo, make_monorepo, make_repo  # noqa: E402
from golden_render import render_both  # noqa: E402

# Commits at fixed times, so that their ids, and the comment that names them, do not move.
os.environ.update({"GIT_AUTHOR_DATE": "2026-11-30T12:00:00Z", "GIT_COMMITTER_DATE": "2026-11-30T12:00:00Z"})

AGE_MODEL = ("full_name:", "age: Mapped[int | None] = mapped_column()\n    full_name:")
ADD_AGE = 'op.add_column("users", sa.Column("age", sa.Integer()))'
DROP_AGE = 'op.drop_column("users", "age")'


def passing(repo: Repo) -> None:
    repo.replace("app/models/user.py", *AGE_MODEL)
    repo.revision("0003", "0002", ADD_AGE, DROP_AGE, doc="add users.age")


def one_failure(repo: Repo) -> None:
    repo.replace("app/models/user.py", *AGE_MODEL)
    repo.revision("0003", "0002", ADD_AGE, "pass", doc="add users.age")


def many_failures(repo: Repo) -> None:
    # A column with no model and a downgrade that forgets it; a table without a primary key that
    # no model declares, a plain index on a table with rows, and a seed that adds a row on
    # every run.
    repo.revision("0003", "0002", ADD_AGE, "pass", doc="add users.age")
    repo.revision("0004", "0003", 'op.create_table("audit_log", sa.Column("at", sa.DateTime()), '
                  'sa.Column("note", sa.Text()))\nop.create_index("ix_users_full_name", "users", ["full_name"])',
                  'op.drop_index("ix_users_full_name", "users")\nop.drop_table("audit_log")',
                  doc="audit log, and users by full name")
    repo.write("app/seeds/dev/audit.py", AUDIT_SEED)


AUDIT_SEED = '''"""Not idempotent: it writes an audit row on every run."""
from sqlalchemy import text


def run(session) -> None:
    session.execute(text("INSERT INTO audit_log (at, note) VALUES ('2026-01-01', 'seeded')"))
'''


LEGACY_MODEL = '''from datetime import datetime
import uuid

from sqlalchemy import ForeignKey, Index, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    total: Mapped[int] = mapped_column()
    metadata_: Mapped[dict] = mapped_column("metadata", JSONB)
'''
LEGACY_TABLE_MODEL = '''

class LegacyPayment(Base):
    __tablename__ = "legacy_payments"
    __table_args__ = tuple(Index(f"ix_legacy_payments_{c}", c) for c in (
        "user_id", "payer_id", "payee_id", "approver_id", "creator_id", "updater_id", "status", "reference",
        "paid_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    payer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    payee_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    approver_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    creator_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    updater_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    amount: Mapped[float] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500))
    paid_at: Mapped[datetime | None] = mapped_column()
    due_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    settled: Mapped[bool] = mapped_column()
'''
USER_FKS = ("user_id", "payer_id", "payee_id", "approver_id", "creator_id", "updater_id")
CREATE_LEGACY = f'''
op.create_table(
    "legacy_payments",
    sa.Column("id", sa.Integer(), primary_key=True),
    *[sa.Column(name, postgresql.UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=name in {USER_FKS[3:]!r})
      for name in {USER_FKS!r}],
    sa.Column("amount", sa.Numeric(12, 2), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("reference", sa.String(64), nullable=False),
    sa.Column("note", sa.String(500)),
    sa.Column("paid_at", sa.DateTime()),
    sa.Column("due_at", sa.DateTime()),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.Column("settled", sa.Boolean(), nullable=False),
)
for column in {USER_FKS + ("status", "reference", "paid_at")!r}:
    op.create_index(f"ix_legacy_payments_{{column}}", "legacy_payments", [column])
'''


def dropped_table(repo: Repo) -> None:
    """A real-world-sized defect: the branch drops a 17-column table, and its downgrade, which
    puts the table back, also drops a column of another table that existed before."""
    repo.checkout("main")
    repo.write("app/models/order.py", LEGACY_MODEL + LEGACY_TABLE_MODEL)
    repo.replace("app/models/__init__.py", "from app.models.user import User",
                 "from app.models.order import LegacyPayment, Order\nfrom app.models.user import User")
    repo.revision("0003", "0002", 'op.create_table("orders", sa.Column("id", sa.Integer(), primary_key=True),'
                  ' sa.Column("total", sa.Integer(), nullable=False),'
                  ' sa.Column("metadata", postgresql.JSONB(), nullable=False))\n' + CREATE_LEGACY,
                  'op.drop_table("legacy_payments")\nop.drop_table("orders")', doc="orders and legacy payments")
    repo.commit("main: orders and legacy payments")
    repo.checkout("feature")
    repo.git("merge", "-q", "main")
    repo.write("app/models/order.py", LEGACY_MODEL)
    repo.replace("app/models/__init__.py", "from app.models.order import LegacyPayment, Order",
                 "from app.models.order import Order")
    repo.revision("3f2a9c1b7d10", "0003", 'op.drop_table("legacy_payments")',
                  CREATE_LEGACY + 'op.drop_column("orders", "metadata")', doc="drop legacy_payments")


ORDER_MODEL = '''from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255))
    total: Mapped[int] = mapped_column()
'''
ORDER_SEED = '''"""Development orders. Idempotent: each order is looked up by id before it is inserted."""
from app.models.order import Order

ORDERS = [(1, "alice@example.com", 1200), (2, "bob@example.com", 800), (3, "alice@example.com", 450)]


def run(session) -> None:
    for order_id, email, total in ORDERS:
        if session.get(Order, order_id) is None:
            session.add(Order(id=order_id, email=email, total=total))
'''


def seeds(repo: Repo) -> None:
    """Seeds on both sides: main's fill the base data the new revision runs over, and the
    branch's run twice at head."""
    repo.checkout("main")
    repo.write("app/models/order.py", ORDER_MODEL)
    repo.replace("app/models/__init__.py", "from app.models.user import User",
                 "from app.models.order import Order\nfrom app.models.user import User")
    repo.write("app/seeds/dev/orders.py", ORDER_SEED)
    repo.revision("0003", "0002", 'op.create_table("orders", sa.Column("id", sa.Integer(), primary_key=True),'
                  ' sa.Column("email", sa.String(255), nullable=False), sa.Column("total", sa.Integer(), nullable=False))',
                  'op.drop_table("orders")', doc="orders")
    repo.commit("main: orders, seeded")
    repo.checkout("feature")
    repo.git("merge", "-q", "main")
    repo.replace("app/models/order.py", "    total: Mapped[int] = mapped_column()\n",
                 "    total: Mapped[int] = mapped_column()\n"
                 "    status: Mapped[str] = mapped_column(String(20), server_default=\"open\")\n")
    repo.revision("0004", "0003", 'op.add_column("orders", sa.Column("status", sa.String(20), server_default="open",'
                  ' nullable=False))', 'op.drop_column("orders", "status")', doc="order status")


def skipped_checks(repo: Repo) -> None:
    # An upgrade that fails: nothing after it can run, and the checks say why they did not.
    repo.replace("app/models/user.py", *AGE_MODEL)
    repo.revision("0003", "0002", ADD_AGE + '\nop.execute("SELECT no_such_function()")', DROP_AGE,
                  doc="add users.age")


def monorepo(repo: Repo) -> None:
    for service, downgrade in (("accounts", DROP_AGE), ("billing", "pass")):
        repo.replace(f"services/{service}/app/models/user.py", *AGE_MODEL)
        repo.revision("0003", "0002", ADD_AGE, downgrade, doc="add users.age",
                      versions=f"services/{service}/alembic/versions")


EXAMPLE = HERE.parents[1] / "docs" / "example-comment.md"
EXAMPLE_INTRO = """# An example comment

What migbot posts on a pull request that drops a 17-column table and whose downgrade, which puts
the table back, also drops a column of another table (`orders.metadata`) that existed before.
The verdict and its causes come first; the sections after them are the Database Task Summary
of the conventions. This file is `tests/golden/dropped-table.md`, written by
`tests/golden/regenerate.py`.

---

"""

SCENARIOS = {"pass": passing, "one-failure": one_failure, "many-failures": many_failures,
             "dropped-table": dropped_table, "seeds": seeds, "skipped-checks": skipped_checks, "monorepo": monorepo}


def run_scenario(name: str, workdir: Path) -> dict:
    path = workdir / name / "service"
    repo = make_monorepo(path) if name == "monorepo" else make_repo(path)
    repo.branch("feature")
    SCENARIOS[name](repo)
    repo.commit(f"feature: {name}")
    reports = [repo.verify(timeout=600).report for _ in range(2)]
    if any(r is None for r in reports):
        raise SystemExit(f"{name}: migbot wrote no report")
    first, second = (render_both(r)[0] for r in reports)
    if first != second:
        diff = difflib.unified_diff(first.splitlines(), second.splitlines(), "first run", "second run", lineterm="")
        raise SystemExit(f"{name}: two runs of the same commit gave different comments:\n" + "\n".join(diff))
    return reports[0]


def _without_timings(value):
    """The report with every duration at 0 and a fixed start: what changes from run to run is
    not what a reviewer of a golden file's diff needs to read."""
    if isinstance(value, dict):
        return {k: (0.0 if k == "seconds" else "2026-11-30T12:00:00Z" if k == "started_at" else _without_timings(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def main(names: list[str]) -> None:
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"no such scenario: {', '.join(unknown)} (known: {', '.join(SCENARIOS)})")
    with tempfile.TemporaryDirectory(prefix="migbot-golden-") as workdir:
        for name in names or SCENARIOS:
            report = _without_timings(run_scenario(name, Path(workdir)))
            markdown, terminal = render_both(report)
            (HERE / f"{name}.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
            (HERE / f"{name}.md").write_text(markdown)
            (HERE / f"{name}.txt").write_text(terminal)
            print(f"{name}: {report['result']}, {report['counts']}")
            if name == "dropped-table":
                EXAMPLE.write_text(EXAMPLE_INTRO + markdown.split("\n", 1)[1])


if __name__ == "__main__":
    main(sys.argv[1:])

"""Branches that must pass: each builds a git history and runs the real CLI."""

from __future__ import annotations

import time

import psycopg

from conftest import Repo, make_repo

ORDER_MODEL = """
    from sqlalchemy import ForeignKey, Integer, String
    from sqlalchemy.orm import Mapped, mapped_column

    from app.models.base import Base
    from app.models.mixins import TimestampMixin, UUIDPrimaryKeyMixin


    class Order(UUIDPrimaryKeyMixin, TimestampMixin, Base):
        __tablename__ = "orders"

        user_id = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
        total_cents: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
        note: Mapped[str | None] = mapped_column(String(200))
"""

ORDER_UPGRADE = """
    op.create_table(
        "orders",
        sa.Column("id", postgresql.UUID(as_uuid=True), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("total_cents", sa.Integer(), server_default="0", nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_orders_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    op.create_index(op.f("ix_orders_user_id"), "orders", ["user_id"], unique=False)
"""

ORDER_DOWNGRADE = """
    op.drop_index(op.f("ix_orders_user_id"), table_name="orders")
    op.drop_table("orders")
"""


def add_orders(repo: Repo) -> None:
    repo.write("app/models/order.py", ORDER_MODEL)
    repo.replace("app/models/__init__.py", "from app.models.user import User",
                 "from app.models.order import Order\nfrom app.models.user import User")
    repo.revision("0003", "0002", ORDER_UPGRADE, ORDER_DOWNGRADE, doc="create orders table")
    repo.commit("add orders")


def test_clean_add_table_pr(repo: Repo) -> None:
    add_orders(repo)
    result = repo.verify()
    assert result.exit_code == 0, result.stderr + str(result.failed())
    project = result.project
    assert all(c["status"] == "pass" for c in project["checks"]), [(c["id"], c["summary"]) for c in project["checks"]]
    summary = project["summary"]
    assert summary["schema_impact"]["new_tables"] == ["public.orders"]
    assert summary["schema_impact"]["new_indexes"] == ["public.ix_orders_user_id"]
    assert summary["schema_impact"]["modified_tables"] == []
    assert summary["verification"] == {"migration_up": "pass", "migration_down": "pass", "seed_data": "pass"}
    seeds = project["seeds"]
    assert [(s["name"], s["source"], s["status"]) for s in seeds["sets"]] == [("dev", "app/seeds/dev", "pass")]
    assert seeds["rows"]["public.users"] == 2 and seeds["rows"]["public.orders"] == 0
    assert seeds["idempotent"] is True
    assert seeds["base_rows"] == {"public.users": 2}  # the base's own dev seed
    assert result.status("upgrade-over-rows") == "pass"
    assert result.status("downgrade-over-rows") == "pass"
    assert result.status("downgrade-keeps-data") == "pass"
    assert [m["file"] for m in summary["migrations"]] == ["alembic/versions/0003.py"]
    assert summary["migrations"][0]["status"] == "applied, reverted and re-applied"
    assert "create table `orders`" in summary["migrations"][0]["description"]
    files = summary["files_modified"]
    assert "alembic/versions/0003.py (added)" in files
    assert "app/models/order.py (added)" in files  # imported by env.py, so it shapes the schema
    assert [r["revision"] for r in project["stairway"]] == ["0003"]
    assert project["heads"]["database_at_base"] == ["0002"]
    assert project["heads"]["head"] == ["0003"]


def test_column_type_change(repo: Repo) -> None:
    repo.replace("app/models/user.py", "String(100)", "String(200)")
    repo.revision("0003", "0002",
                  'op.alter_column("users", "full_name", type_=sa.String(200), existing_type=sa.String(100))',
                  'op.alter_column("users", "full_name", type_=sa.String(100), existing_type=sa.String(200))',
                  doc="widen users.full_name")
    repo.commit("widen")
    result = repo.verify()
    assert result.exit_code == 0, result.failed()
    impact = result.project["summary"]["schema_impact"]
    assert impact["modified_tables"] == ["public.users"]
    assert impact["new_tables"] == []
    change = next(c for c in impact["changes"] if c["name"] == "public.users.full_name")
    assert change["fields"] == [{"field": "type", "before": "character varying(100)", "after": "character varying(200)"}]


def test_reversible_data_migration(repo: Repo) -> None:
    repo.revision("0003", "0002", """
        op.execute("INSERT INTO users (email) VALUES ('a@example.com'), ('b@example.com')")
        op.execute("UPDATE users SET full_name = split_part(email, '@', 1) WHERE full_name IS NULL")
    """, """
        op.execute("DELETE FROM users WHERE email IN ('a@example.com', 'b@example.com')")
    """, doc="backfill full names")
    repo.commit("data")
    result = repo.verify()
    assert result.exit_code == 0, result.failed()
    assert result.project["summary"]["schema_impact"]["changes"] == []
    [line] = result.project["summary"]["changes_made"]
    assert line.startswith("Adds migration `0003` (run SQL `INSERT INTO users (email) VALUES")
    assert "; run SQL `UPDATE users SET full_name = split_part(email, '@', 1) …`" in line


def test_pr_without_migration_changes(repo: Repo) -> None:
    repo.write("README.md", "docs only\n")
    repo.commit("docs")
    result = repo.verify()
    assert result.exit_code == 0, result.failed()
    summary = result.project["summary"]
    assert summary["migrations"] == []
    assert summary["changes_made"] == ["No database changes"]
    assert summary["verification"]["migration_up"] == "not applicable"
    assert result.check("upgrade")["summary"] == "the branch adds no revisions (Alembic applies none from the base heads)"
    assert result.project["stairway"] == []


def test_no_alembic_at_base(tmp_path) -> None:
    repo = Repo(tmp_path / "svc")
    repo.path.mkdir()
    repo.git("init", "-q", "-b", "main")
    repo.write("README.md", "a service without a database yet\n")
    repo.commit("initial")
    repo.branch("feature")
    full = make_repo(tmp_path / "template")
    for path in full.path.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            target = repo.path / path.relative_to(full.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    repo.commit("add the database layer")
    result = repo.verify()
    assert result.exit_code == 0, result.failed()
    project = result.project
    assert project["base_has_alembic"] is False
    assert result.check("base-builds")["summary"].startswith("no Alembic project at the base")
    assert [r["revision"] for r in project["stairway"]] == ["0001", "0002"]
    assert project["summary"]["schema_impact"]["new_tables"] == ["public.users"]
    assert any("does not exist at the merge-base" in n for n in result.report["notes"])
    assert result.check("roundtrip")["summary"] == \
        "head → base (an empty database) → head in one run each way, schema identical"


def test_async_env_py(async_repo: Repo) -> None:
    add_orders(async_repo)
    result = async_repo.verify()
    assert result.exit_code == 0, (result.stderr, result.failed())
    assert result.status("model-drift") == "pass"
    assert result.project["summary"]["schema_impact"]["new_tables"] == ["public.orders"]


def test_external_database_url_leaves_other_databases_untouched(repo: Repo) -> None:
    add_orders(repo)
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        before = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
        test_schema = conn.execute(
            "SELECT count(*), coalesce(string_agg(table_name, ',' ORDER BY table_name), '') "
            "FROM information_schema.tables WHERE table_schema = 'public'").fetchone()
    result = repo.verify("--database-url", admin)
    assert result.exit_code == 0, (result.stderr, result.failed())
    assert "--database-url" in result.report["database"]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
        assert conn.execute(
            "SELECT count(*), coalesce(string_agg(table_name, ',' ORDER BY table_name), '') "
            "FROM information_schema.tables WHERE table_schema = 'public'").fetchone() == test_schema
    # Other tests running at the same time (xdist) lend migbot the same server: wait for their
    # databases to go; a database this run left behind never does.
    deadline = time.monotonic() + 120
    while True:
        with psycopg.connect(admin, autocommit=True) as conn:
            after = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        if not after - before or time.monotonic() > deadline:
            break
        time.sleep(1)
    lasting = {d for d in before if not d.startswith(("migbot_", "guardtest_"))}  # not another test's
    assert lasting <= after, "migbot must touch no database it did not create"
    assert not after - before, "migbot must drop every database it created"


def test_a_branch_cannot_set_the_policy_of_its_own_check(repo: Repo) -> None:
    repo.replace("app/models/user.py", "String(100))", "String(100), index=True)")  # an index no migration made
    repo.write("migbot.toml", '[checks]\nmodel-drift = "off"\ndowngrade-keeps-data = "error"\n')
    repo.commit("relax migbot")
    result = repo.verify()
    assert result.exit_code == 1, result.stderr
    assert result.status("model-drift") == "fail"  # the base branch's level
    [note] = [n for n in result.report["notes"] if "policy" in n]
    assert "`model-drift` error → off" in note and "`downgrade-keeps-data` warning → error" in note
    assert "takes effect once merged" in note

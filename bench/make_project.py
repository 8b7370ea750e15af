"""Generate a FastAPI-style service with N Alembic revisions, for the benchmark.

    python bench/make_project.py DIR --revisions 200 [--new K] [--force]

DIR becomes a git repository laid out like tests/fixtures/service (app/core with
pydantic-settings settings, app/models with SQLAlchemy 2.0 models, alembic/env.py
reading DATABASE_URL through the settings, alembic.ini at the root):

* `main` holds N revisions, one commit each, in a realistic mix: tables created
  with several columns, foreign keys and indexes; columns added; composite
  indexes; a column added, backfilled with UPDATE and made NOT NULL; lookup
  tables seeded with bulk_insert and linked by a foreign key column; data
  updates. Each commit carries the model change that matches its revision, so
  the models never drift from the migrated database.
* `feature` (checked out at the end) adds ONE revision, a new table with a
  foreign key and indexes, and its model; or, with --new K, K revisions of the
  same mix. With --revisions 0, main holds the skeleton alone and every
  revision is new, as when a project adopts migbot.

The output is deterministic for a given N: same files, same commit ids. The
first K revisions are the same for every N >= K.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

# --- the project skeleton (after tests/fixtures/service) ----------------------------------------------------------

ALEMBIC_INI = """\
[alembic]
script_location = alembic
prepend_sys_path = .
sqlalchemy.url = driver://user:pass@localhost/dbname

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console
qualname =

[logger_sqlalchemy]
level = WARN
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
"""

ENV_PY = '''\
from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

from app.core.config import settings
from app.models import Base

config = context.config
config.set_main_option("sqlalchemy.url", settings.DATABASE_URL)

if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(config.get_section(config.config_ini_section, {}),
                                     prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

SCRIPT_MAKO = '''\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: Union[str, None] = ${repr(down_revision)}
branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}
depends_on: Union[str, Sequence[str], None] = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
'''

CONFIG_PY = '''\
"""Settings read from the environment (and .env), as FastAPI projects do."""

from typing import Literal

from pydantic import AnyHttpUrl, EmailStr, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    PROJECT_NAME: str = "{project}"
    API_V1_STR: str = "/api/v1"
    ENVIRONMENT: Literal["local", "staging", "production"] = "local"
    SECRET_KEY: SecretStr = SecretStr("change-me")
    ACCESS_TOKEN_EXPIRE_MINUTES: int = 60 * 24 * 8
    BACKEND_CORS_ORIGINS: list[AnyHttpUrl] = []
    FRONTEND_HOST: str = "http://localhost:5173"

    DATABASE_URL: str = "postgresql+psycopg://app:app@localhost:5432/app"
    DATABASE_POOL_SIZE: int = Field(default=10, ge=1)
    DATABASE_MAX_OVERFLOW: int = Field(default=20, ge=0)
    DATABASE_ECHO: bool = False

    REDIS_URL: str = "redis://localhost:6379/0"
    SMTP_HOST: str | None = None
    SMTP_PORT: int = 587
    SMTP_TLS: bool = True
    EMAILS_FROM_EMAIL: str = "noreply@example.com"
    SENTRY_DSN: str | None = None
    FIRST_SUPERUSER: str = "admin@example.com"
    FIRST_SUPERUSER_PASSWORD: SecretStr = SecretStr("change-me")

    @field_validator("BACKEND_CORS_ORIGINS", mode="before")
    @classmethod
    def split_origins(cls, value):
        if isinstance(value, str) and not value.startswith("["):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value


settings = Settings()
'''

DATABASE_PY = '''\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from app.core.config import settings

engine = create_engine(settings.DATABASE_URL, pool_pre_ping=True, pool_size=settings.DATABASE_POOL_SIZE,
                       max_overflow=settings.DATABASE_MAX_OVERFLOW, echo=settings.DATABASE_ECHO)
SessionLocal = sessionmaker(bind=engine, autoflush=False)
'''

BASE_PY = '''\
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
'''

MIXINS_PY = '''\
import uuid
from datetime import datetime

from sqlalchemy import DateTime, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column


class UUIDPrimaryKeyMixin:
    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, default=uuid.uuid4, server_default=func.gen_random_uuid()
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class SoftDeleteMixin:
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
'''

PYPROJECT = '''\
[project]
name = "{project}"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = [
    "fastapi",
    "sqlalchemy>=2.0",
    "alembic>=1.12",
    "psycopg[binary]>=3.1",
    "pydantic-settings>=2",
]
'''

GITIGNORE = "__pycache__/\n*.pyc\n.env\n.venv/\n"

# --- the schema vocabulary ---------------------------------------------------------------------------------------

ENTITY_NOUNS = (
    "users accounts teams projects tasks comments invoices payments customers products orders shipments "
    "addresses vendors contracts tickets documents folders tags events sessions devices reports budgets "
    "expenses assets locations vehicles drivers routes campaigns leads contacts notes reviews coupons refunds "
    "plans quotas webhooks api_keys audits alerts rules schedules shifts employees payrolls benefits courses "
    "lessons quizzes grades rooms bookings guests menus recipes stores carts brands articles authors channels "
    "messages threads badges"
).split()

# name -> (type key, nullable, server default or None, unique)
ENTITY_COLUMNS = {
    "name": ("str200", False, None, False),
    "title": ("str200", False, None, False),
    "description": ("text", True, None, False),
    "status": ("str32", False, "'draft'", False),
    "amount": ("numeric", True, None, False),
    "quantity": ("int", False, "0", False),
    "is_active": ("bool", False, "true", False),
    "due_on": ("date", True, None, False),
    "starts_at": ("ts", True, None, False),
    "ends_at": ("ts", True, None, False),
    "external_ref": ("str64", True, None, True),
    "priority": ("smallint", False, "0", False),
    "extra": ("jsonb", True, None, False),
    "email": ("str200", True, None, False),
    "phone": ("str32", True, None, False),
    "currency": ("str3", False, "'EUR'", False),
    "notes": ("text", True, None, False),
    "score": ("int", True, None, False),
    "weight": ("numeric", True, None, False),
    "color": ("str32", True, None, False),
    "url": ("str200", True, None, False),
    "locale": ("str32", True, None, False),
    "version": ("int", False, "1", False),
    "total_cents": ("bigint", False, "0", False),
    "archived_at": ("ts", True, None, False),
}
INDEXABLE = ("status", "due_on", "starts_at", "priority", "name", "title", "email", "currency", "score")

# Columns added by a backfill revision: added nullable, filled by UPDATE, then made NOT NULL.
BACKFILL_COLUMNS = {
    "region": ("str32", "'eu-west'"),
    "sort_key": ("int", "0"),
    "is_archived": ("bool", "false"),
    "slug": ("str200", "id::text"),
    "tier": ("str32", "'standard'"),
    "revision_no": ("int", "1"),
}

# type key -> (migration type, model type, Python annotation)
TYPES = {
    "str200": ("sa.String(length=200)", "String(200)", "str"),
    "str64": ("sa.String(length=64)", "String(64)", "str"),
    "str32": ("sa.String(length=32)", "String(32)", "str"),
    "str3": ("sa.String(length=3)", "String(3)", "str"),
    "text": ("sa.Text()", "Text", "str"),
    "int": ("sa.Integer()", "Integer", "int"),
    "bigint": ("sa.BigInteger()", "BigInteger", "int"),
    "smallint": ("sa.SmallInteger()", "SmallInteger", "int"),
    "bool": ("sa.Boolean()", "Boolean", "bool"),
    "numeric": ("sa.Numeric(precision=12, scale=2)", "Numeric(12, 2)", "Decimal"),
    "date": ("sa.Date()", "Date", "date"),
    "ts": ("sa.DateTime(timezone=True)", "DateTime(timezone=True)", "datetime"),
    "jsonb": ("postgresql.JSONB(astext_type=sa.Text())", "JSONB", "dict[str, Any]"),
    "uuid": ("postgresql.UUID(as_uuid=True)", "UUID(as_uuid=True)", "uuid.UUID"),
}

# One revision kind per slot, cycled; a kind that cannot apply falls back to the next one that can.
CYCLE = ("create_table", "add_columns", "create_table", "add_index", "backfill", "create_lookup",
         "link_lookup", "data_update")

SEED_WORDS = ("basic", "standard", "premium", "internal", "legacy", "trial")


def singular(plural: str) -> str:
    if plural.endswith("sses"):
        return plural[:-2]
    if plural.endswith("zzes"):
        return plural[:-3]
    return plural[:-1] if plural.endswith("s") else plural


def camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _name(name: str) -> str:
    assert len(name) <= 63, f"identifier too long for PostgreSQL: {name}"
    return name


# --- the schema state ----------------------------------------------------------------------------------------------

@dataclass
class Col:
    name: str
    type: str
    nullable: bool
    server_default: str | None = None  # SQL text
    unique: bool = False
    index: bool = False
    fk: tuple[str, str] | None = None  # (table, ondelete or "")
    rel: str | None = None  # relationship attribute for an FK column

    def migration(self) -> str:
        args = [repr(self.name), TYPES[self.type][0]]
        if self.server_default is not None:
            args.append(f"server_default=sa.text({self.server_default!r})")
        args.append(f"nullable={self.nullable}")
        return f"sa.Column({', '.join(args)})"


@dataclass
class Table:
    name: str
    cls: str
    module: str
    lookup: bool = False
    soft_delete: bool = False
    columns: list[Col] = field(default_factory=list)
    composite: list[tuple[str, list[str]]] = field(default_factory=list)  # (index name, columns)
    seeds: list[str] = field(default_factory=list)  # lookup codes
    lookup_table: str | None = None  # entity -> its lookup table
    linked: bool = False  # entity has its lookup FK column

    def col(self, name: str) -> Col | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass
class Revision:
    number: int
    rev: str
    down: str | None
    message: str
    upgrade: list[str]
    downgrade: list[str]
    touched: list[str]  # model modules changed
    kind: str = ""


class Schema:
    """The schema after each revision, and the generator of the next revision."""

    def __init__(self) -> None:
        self.rng = random.Random(20240101)
        self.tables: dict[str, Table] = {}
        self.nouns = iter(self._nouns())
        self.head: str | None = None
        self.count = 0

    @staticmethod
    def _nouns():
        round_ = 1
        while True:
            for noun in ENTITY_NOUNS:
                yield noun if round_ == 1 else f"{noun}_{round_}"
            round_ += 1

    def entities(self) -> list[Table]:
        return [t for t in self.tables.values() if not t.lookup]

    # --- revisions --------------------------------------------------------------------------------------------
    def next_revision(self, kind: str | None = None) -> Revision:
        self.count += 1
        kinds = [kind] if kind else list(CYCLE[(self.count - 1) % len(CYCLE):] + CYCLE[:(self.count - 1) % len(CYCLE)])
        for candidate in kinds + ["create_table"]:
            made = getattr(self, f"_{candidate}")()
            if made is not None:
                break
        message, upgrade, downgrade, touched = made
        rev = hashlib.sha1(f"migbot-bench-revision-{self.count}".encode()).hexdigest()[:12]
        revision = Revision(self.count, rev, self.head, message, upgrade, downgrade, touched, candidate)
        self.head = rev
        return revision

    def _create_table(self):
        plural = next(self.nouns)
        single = singular(plural)
        table = Table(plural, camel(single), single, soft_delete=self.rng.random() < 0.35)
        parents = self.entities()
        if parents:
            parent = self.rng.choice(parents[-12:])  # recent tables, as a growing app does
            nullable = self.rng.random() < 0.4
            col = Col(f"{singular(parent.name)}_id", "uuid", nullable, fk=(parent.name, "SET NULL" if nullable else "CASCADE"),
                      index=True, rel=singular(parent.name))
            table.columns.append(col)
        for name in self.rng.sample(sorted(ENTITY_COLUMNS), self.rng.randint(3, 6)):
            type_, nullable, default, unique = ENTITY_COLUMNS[name]
            table.columns.append(Col(name, type_, nullable, default, unique,
                                     index=name in INDEXABLE and self.rng.random() < 0.3))
        self.tables[table.name] = table
        up = ["op.create_table(", f"    {table.name!r},",
              "    sa.Column('id', postgresql.UUID(as_uuid=True), server_default=sa.text('gen_random_uuid()'), "
              "nullable=False),"]
        up += [f"    {c.migration()}," for c in table.columns]
        up += ["    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),",
               "    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),"]
        if table.soft_delete:
            up.append("    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),")
        for c in table.columns:
            if c.fk:
                fk = _name(f"fk_{table.name}_{c.name}_{c.fk[0]}")
                up.append(f"    sa.ForeignKeyConstraint([{c.name!r}], ['{c.fk[0]}.id'], name=op.f({fk!r}), "
                          f"ondelete={c.fk[1]!r}),")
        up.append(f"    sa.PrimaryKeyConstraint('id', name=op.f('pk_{table.name}')),")
        for c in table.columns:
            if c.unique:
                up.append(f"    sa.UniqueConstraint({c.name!r}, name=op.f({_name(f'uq_{table.name}_{c.name}')!r})),")
        up.append(")")
        down = []
        for c in table.columns:
            if c.index:
                ix = _name(f"ix_{table.name}_{c.name}")
                up.append(f"op.create_index(op.f({ix!r}), {table.name!r}, [{c.name!r}], unique=False)")
                down.append(f"op.drop_index(op.f({ix!r}), table_name={table.name!r})")
        down.append(f"op.drop_table({table.name!r})")
        return f"create {table.name} table", up, down, [table.module]

    def _add_columns(self):
        entities = self.entities()
        if not entities:
            return None
        table = self.rng.choice(entities)
        free = [n for n in sorted(ENTITY_COLUMNS) if table.col(n) is None
                and (ENTITY_COLUMNS[n][1] or ENTITY_COLUMNS[n][2] is not None)]  # nullable or defaulted
        if not free:
            return None
        added = [Col(n, ENTITY_COLUMNS[n][0], ENTITY_COLUMNS[n][1], ENTITY_COLUMNS[n][2], ENTITY_COLUMNS[n][3])
                 for n in self.rng.sample(free, min(len(free), self.rng.randint(1, 2)))]
        up, down = [], []
        for c in added:
            table.columns.append(c)
            up.append(f"op.add_column({table.name!r}, {c.migration()})")
            undo = []
            if c.unique:
                uq = _name(f"uq_{table.name}_{c.name}")
                up.append(f"op.create_unique_constraint(op.f({uq!r}), {table.name!r}, [{c.name!r}])")
                undo.append(f"op.drop_constraint(op.f({uq!r}), {table.name!r}, type_='unique')")
            undo.append(f"op.drop_column({table.name!r}, {c.name!r})")
            down[:0] = undo
        names = " and ".join(c.name for c in added)
        return f"add {table.name}.{names}", up, down, [table.module]

    def _add_index(self):
        options = []
        for table in self.entities():
            cols = [c.name for c in table.columns if c.name in INDEXABLE or c.fk]
            if len(cols) >= 2:
                pair = cols[:2] if self.rng.random() < 0.5 else cols[-2:]
                name = f"ix_{table.name}_{'_'.join(pair)}"
                if len(name) <= 63 and all(existing != name for existing, _ in table.composite):
                    options.append((table, name, pair))
        if not options:
            return None
        table, name, pair = self.rng.choice(options[-10:])
        table.composite.append((name, pair))
        up = [f"op.create_index({name!r}, {table.name!r}, {pair!r}, unique=False)"]
        down = [f"op.drop_index({name!r}, table_name={table.name!r})"]
        return f"index {table.name} on {', '.join(pair)}", up, down, [table.module]

    def _backfill(self):
        options = [(t, n) for t in self.entities() for n in sorted(BACKFILL_COLUMNS) if t.col(n) is None]
        if not options:
            return None
        table, name = self.rng.choice(options[-20:])
        type_, value = BACKFILL_COLUMNS[name]
        col = Col(name, type_, True)
        table.columns.append(col)
        up = [f"op.add_column({table.name!r}, {col.migration()})",
              f"op.execute(\"UPDATE {table.name} SET {name} = {value} WHERE {name} IS NULL\")",
              f"op.alter_column({table.name!r}, {name!r}, existing_type={TYPES[type_][0]}, nullable=False)"]
        col.nullable = False
        down = [f"op.drop_column({table.name!r}, {name!r})"]
        return f"add {table.name}.{name}, backfill it and make it NOT NULL", up, down, [table.module]

    def _create_lookup(self):
        entity = next((t for t in self.entities() if t.lookup_table is None
                       and len(f"fk_{t.name}_kind_id_{singular(t.name)}_kinds") <= 63), None)
        if entity is None:
            return None
        single = singular(entity.name)
        table = Table(f"{single}_kinds", f"{camel(single)}Kind", f"{single}_kind", lookup=True)
        table.columns = [Col("code", "str64", False, unique=True), Col("name", "str200", False),
                         Col("sort_order", "int", False, "0"), Col("is_active", "bool", False, "true")]
        table.seeds = self.rng.sample(SEED_WORDS, 3)
        entity.lookup_table = table.name
        self.tables[table.name] = table
        up = [f"{table.name} = op.create_table(", f"    {table.name!r},",
              "    sa.Column('id', sa.Integer(), nullable=False),"]
        up += [f"    {c.migration()}," for c in table.columns]
        up += [f"    sa.PrimaryKeyConstraint('id', name=op.f('pk_{table.name}')),",
               f"    sa.UniqueConstraint('code', name=op.f('uq_{table.name}_code')),", ")",
               f"op.bulk_insert({table.name}, ["]
        up += [f"    {{'code': {code!r}, 'name': {code.capitalize()!r}, 'sort_order': {i * 10}}},"
               for i, code in enumerate(table.seeds)]
        up.append("])")
        down = [f"op.drop_table({table.name!r})"]
        return f"create {table.name} lookup table with its rows", up, down, [table.module]

    def _link_lookup(self):
        entity = next((t for t in self.entities() if t.lookup_table and not t.linked), None)
        if entity is None:
            return None
        entity.linked = True
        lookup = self.tables[entity.lookup_table]
        col = Col("kind_id", "int", True, fk=(lookup.name, ""), index=True, rel="kind")
        entity.columns.append(col)
        fk = _name(f"fk_{entity.name}_kind_id_{lookup.name}")
        ix = _name(f"ix_{entity.name}_kind_id")
        up = [f"op.add_column({entity.name!r}, {col.migration()})",
              f"op.create_foreign_key(op.f({fk!r}), {entity.name!r}, {lookup.name!r}, ['kind_id'], ['id'])",
              f"op.create_index(op.f({ix!r}), {entity.name!r}, ['kind_id'], unique=False)"]
        down = [f"op.drop_index(op.f({ix!r}), table_name={entity.name!r})",
                f"op.drop_constraint(op.f({fk!r}), {entity.name!r}, type_='foreignkey')",
                f"op.drop_column({entity.name!r}, 'kind_id')"]
        return f"link {entity.name} to {lookup.name}", up, down, [entity.module]

    def _data_update(self):
        lookups = [t for t in self.tables.values() if t.lookup and t.seeds]
        if lookups:
            table = self.rng.choice(lookups)
            code = self.rng.choice(table.seeds)
            new, old = f"{code.capitalize()} ({table.name.split('_')[0]})", code.capitalize()
            up = [f"op.execute(\"UPDATE {table.name} SET name = '{new}' WHERE code = '{code}'\")"]
            down = [f"op.execute(\"UPDATE {table.name} SET name = '{old}' WHERE code = '{code}'\")"]
            return f"rename the {code} {table.name} row", up, down, []
        statused = [t for t in self.entities() if t.col("status")]
        if not statused:
            return None
        table = self.rng.choice(statused)
        up = [f"op.execute(\"UPDATE {table.name} SET status = 'open' WHERE status = 'draft'\")"]
        down = [f"op.execute(\"UPDATE {table.name} SET status = 'draft' WHERE status = 'open'\")"]
        return f"move {table.name} drafts to open", up, down, []


# --- rendering ----------------------------------------------------------------------------------------------------

def render_revision(r: Revision) -> str:
    created = datetime(2024, 1, 2, 9, 30) + timedelta(days=r.number)
    body_up = textwrap.indent("\n".join(r.upgrade), "    ")
    body_down = textwrap.indent("\n".join(r.downgrade), "    ")
    return f'''"""{r.message}

Revision ID: {r.rev}
Revises: {r.down or ""}
Create Date: {created:%Y-%m-%d %H:%M:%S}.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision: str = {r.rev!r}
down_revision: Union[str, None] = {r.down!r}
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
{body_up}


def downgrade() -> None:
{body_down}
'''


def revision_filename(r: Revision) -> str:
    slug = "".join(ch if ch.isalnum() else "_" for ch in r.message.lower())
    slug = "_".join(part for part in slug.split("_") if part)[:40].rstrip("_")
    return f"{r.rev}_{slug}.py"


def render_model(table: Table, tables: dict[str, Table]) -> str:
    lines = []
    for c in table.columns:
        py = TYPES[c.type][2]
        annotation = f"{py} | None" if c.nullable else py
        args = []
        if c.fk:
            ondelete = f", ondelete={c.fk[1]!r}" if c.fk[1] else ""
            args.append(f"ForeignKey(\"{c.fk[0]}.id\"{ondelete})")
        else:
            args.append(TYPES[c.type][1])
        args.append(f"nullable={c.nullable}")
        if c.server_default is not None:
            args.append(f"server_default=text({c.server_default!r})")
        if c.unique:
            args.append("unique=True")
        if c.index:
            args.append("index=True")
        lines.append(f"    {c.name}: Mapped[{annotation}] = mapped_column({', '.join(args)})")
    for c in table.columns:
        if c.fk and c.rel:
            target = tables[c.fk[0]].cls
            lines.append(f"    {c.rel}: Mapped[\"{target}\"] = relationship(foreign_keys=\"{table.cls}.{c.name}\")")
    if table.lookup:
        bases, extra = "Base", ["    id: Mapped[int] = mapped_column(Integer, primary_key=True)"]
    else:
        mixins = ["UUIDPrimaryKeyMixin", "TimestampMixin"] + (["SoftDeleteMixin"] if table.soft_delete else [])
        bases, extra = ", ".join(mixins + ["Base"]), []
    args = ""
    if table.composite:
        indexes = ", ".join(f"Index({name!r}, {', '.join(repr(c) for c in cols)})" for name, cols in table.composite)
        args = f"    __table_args__ = ({indexes},)\n"
    return f'''import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, Numeric, SmallInteger, String,
                        Text, text)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base
from app.models.mixins import SoftDeleteMixin, TimestampMixin, UUIDPrimaryKeyMixin


class {table.cls}({bases}):
    """{"Lookup values for " + table.name.rsplit("_", 1)[0] + "." if table.lookup else table.name.replace("_", " ").capitalize() + "."}"""

    __tablename__ = {table.name!r}
{args}
{chr(10).join(extra + lines)}
'''


def render_models_init(tables: dict[str, Table]) -> str:
    ordered = sorted(tables.values(), key=lambda t: t.module)
    imports = "\n".join(f"from app.models.{t.module} import {t.cls}" for t in ordered)
    names = ",\n".join(f"    {n!r}" for n in ["Base"] + [t.cls for t in ordered])
    return f"from app.models.base import Base\n{imports}\n\n__all__ = [\n{names},\n]\n"


# --- the repository -----------------------------------------------------------------------------------------------

class Git:
    def __init__(self, path: Path):
        self.path = path
        self.when = datetime(2024, 1, 2, 9, 0)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        self.env.update(GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.com", GIT_COMMITTER_NAME="Bench",
                        GIT_COMMITTER_EMAIL="bench@example.com", GIT_CONFIG_NOSYSTEM="1",
                        GIT_CONFIG_GLOBAL=os.devnull)

    def __call__(self, *args: str) -> str:
        result = subprocess.run(["git", "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false", *args],
                                cwd=self.path, env=self.env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr}")
        return result.stdout.strip()

    def commit(self, message: str) -> None:
        self.when += timedelta(hours=7)
        stamp = self.when.strftime("%Y-%m-%dT%H:%M:%S+0000")
        self.env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
        self("add", "-A")
        self("commit", "-q", "-m", message)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def make_project(path: Path, revisions: int, *, new: int = 1, force: bool = False) -> dict:
    """Generate the project in `path`: `revisions` on main, `new` more on `feature`; returns
    facts about it (heads, table count, ...). With no revisions on main, main holds the
    skeleton alone, and every revision of `feature` is new."""
    if revisions < 0 or new < 1:
        raise ValueError("revisions must be >= 0 and new >= 1")
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        if not force:
            raise FileExistsError(f"{path} exists and is not empty (use --force to replace it)")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    project = f"bench_service_{revisions}"

    write(path / "alembic.ini", ALEMBIC_INI)
    write(path / "alembic" / "env.py", ENV_PY)
    write(path / "alembic" / "script.py.mako", SCRIPT_MAKO)
    write(path / "pyproject.toml", PYPROJECT.format(project=project))
    write(path / ".gitignore", GITIGNORE)
    write(path / "app" / "__init__.py", "")
    write(path / "app" / "core" / "__init__.py", "")
    write(path / "app" / "core" / "config.py", CONFIG_PY.replace("{project}", project))
    write(path / "app" / "core" / "database.py", DATABASE_PY)
    write(path / "app" / "models" / "base.py", BASE_PY)
    write(path / "app" / "models" / "mixins.py", MIXINS_PY)
    for seeds in ("", "dev/", "test/"):
        write(path / "app" / "seeds" / seeds / "__init__.py", "")

    git = Git(path)
    git("init", "-q", "-b", "main")
    schema = Schema()
    kinds: dict[str, int] = {}

    def apply(rev: Revision) -> None:
        write(path / "alembic" / "versions" / revision_filename(rev), render_revision(rev))
        for module in rev.touched:
            table = next(t for t in schema.tables.values() if t.module == module)
            write(path / "app" / "models" / f"{module}.py", render_model(table, schema.tables))
        write(path / "app" / "models" / "__init__.py", render_models_init(schema.tables))
        git.commit(rev.message)

    for _ in range(revisions):
        rev = schema.next_revision()
        kinds[rev.kind] = kinds.get(rev.kind, 0) + 1
        apply(rev)
    if not revisions:
        write(path / "app" / "models" / "__init__.py", render_models_init(schema.tables))
        git.commit("Project skeleton, no migrations yet")
    main_head = schema.head
    git("checkout", "-q", "-b", "feature")
    for _ in range(new):
        feature = schema.next_revision("create_table" if new == 1 else None)
        apply(feature)
    return {
        "path": str(path),
        "revisions_on_main": revisions,
        "main_head": main_head,
        "new_revisions": new,
        "feature_revision": feature.rev,
        "feature_change": feature.message,
        "tables_at_head": len(schema.tables),
        "revision_kinds": dict(sorted(kinds.items())),
        "main_commit": git("rev-parse", "main"),
        "feature_commit": git("rev-parse", "feature"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--revisions", "-n", type=int, default=10, help="revisions on main (default 10)")
    parser.add_argument("--new", type=int, default=1, help="revisions the feature branch adds (default 1)")
    parser.add_argument("--force", action="store_true", help="replace the directory if it is not empty")
    args = parser.parse_args(argv)
    try:
        facts = make_project(args.directory, args.revisions, new=args.new, force=args.force)
    except (FileExistsError, ValueError) as exc:
        print(f"make_project: {exc}", file=sys.stderr)
        return 2
    for key, value in facts.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

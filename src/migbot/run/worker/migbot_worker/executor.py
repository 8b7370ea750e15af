"""The Alembic verbs the worker offers: each is one run of env.py, through Alembic's own
ScriptDirectory, RevisionMap and migration steps.

- load: read alembic.ini, run env.py once (it may set version_locations), then report
  Alembic's revision map: revisions, parents, dependencies, branch labels, files and the
  version locations, as env.py left them;
- plan: the steps `upgrade heads` would apply from given heads (none: the whole history);
- upgrade: `alembic upgrade TARGET`, Alembic resolving the target;
- apply: exactly the given revisions, in the given order and direction, in one run
  (a stairway step, or going down to the base heads whatever their number), each step
  observed on request (see observe.py);
- stamp: alembic_version set to a target, nothing run (after a downgrade that did nothing);
- session: many stairway steps in one run of env.py (see session.py);
- drift: compare_metadata against the metadata as env.py declared it.

With a `runner` configured, every run of env.py goes through the project's own callable.
"""

import importlib
import os
import sys

from migbot_worker import drift
from migbot_worker.errors import EnvDidNotRun
from migbot_worker.guard import check_context, install_pool_guards
from migbot_worker.observe import Observer
from migbot_worker.session import Session


class Executor:
    def __init__(self, spec, url):
        self.spec = spec
        self.url = url
        self.root = os.path.realpath(spec["project_root"])
        self.config = None
        self.script = None
        self.revision_files = {}  # realpath -> revision id, for error locations
        self.declared = None  # the models' metadata as env.py first declared it
        self.version_table = "alembic_version"
        self._runner = None

    # --- load -----------------------------------------------------------------------------
    def load(self):
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        install_pool_guards()
        kwargs = {}
        if self.spec.get("toml_file"):
            kwargs["toml_file"] = self.spec["toml_file"]  # Alembic 1.16+: [tool.alembic]
        self.config = Config(self.spec["ini_path"], **kwargs)
        if self.spec.get("set_url", True):
            self.config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        self.script = ScriptDirectory.from_config(self.config)
        found = {}

        def probe(heads, context):
            target = context.opts.get("target_metadata")
            found["declared"] = drift.signature(target) if target is not None else None
            found["version_table"] = context.opts.get("version_table") or "alembic_version"
            found["version_table_schema"] = context.opts.get("version_table_schema")
            return None

        # The map is read only after env.py ran: env.py may set version_locations.
        self.run_env("load", {}, probe, read_only=True)
        self.declared = found.get("declared")
        self.version_table = found.get("version_table", "alembic_version")
        return {
            "map": self.alembic_map(),
            "has_metadata": self.declared is not None,
            "version_table": self.version_table,
            "version_table_schema": found.get("version_table_schema"),
            "imported_files": self.project_modules(),
        }

    def alembic_map(self):
        script = self.script
        revisions = []
        for rev in script.walk_revisions():
            path = os.path.realpath(rev.path)
            self.revision_files[path] = rev.revision
            revisions.append({
                "id": rev.revision,
                "down_revisions": list(rev._versioned_down_revisions),
                "dependencies": list(getattr(rev, "_resolved_dependencies", ()) or ()),
                "branch_labels": sorted(rev.branch_labels or ()),
                "path": path,
                "doc": rev.doc or "",
            })
        return {
            "revisions": revisions,
            "heads": sorted(script.get_heads()),
            "script_dir": os.path.realpath(script.dir),
            "version_dirs": [os.path.realpath(str(p)) for p in script._version_locations],
        }

    def project_modules(self):
        files = set()
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if not path:
                continue
            path = os.path.realpath(path)
            if path.startswith(self.root + os.sep) and "site-packages" not in path:
                files.add(os.path.relpath(path, self.root))
        return sorted(files)

    # --- the verbs ------------------------------------------------------------------------
    def plan(self, from_heads):
        steps = self.script._upgrade_revs("heads", tuple(from_heads))
        return {"revisions": [step.revision.revision for step in steps]}

    def upgrade(self, target):
        self.run_env("upgrade", {"target": target}, lambda heads, context: self.script._upgrade_revs(target, heads),
                     destination=target)

    def apply(self, revisions, upgrade, observe=False):
        """observe: record what each step wrote (four catalog reads a step; only where judged)."""
        from alembic.runtime.migration import MigrationStep

        observer = self.observer()

        def body(heads, context):
            revision_map = self.script.revision_map
            scripts = [revision_map.get_revision(r) for r in revisions]
            if observe:
                return observer.steps_for(revision_map, scripts, upgrade, context)
            make = MigrationStep.upgrade_from_script if upgrade else MigrationStep.downgrade_from_script
            return [make(revision_map, script) for script in scripts]

        command = "upgrade" if upgrade else "downgrade"
        self.run_env(command, {"revisions": list(revisions)}, body,
                     destination=revisions[-1] if upgrade and revisions else None)
        return {"steps": observer.steps}

    def observer(self):
        return Observer([self.version_table])

    def stamp(self, target):
        self.run_env("stamp", {"target": target}, lambda heads, context: self.script._stamp_revs(target, heads),
                     destination=target)

    def session(self, channel):
        self.run_env("session", {}, Session(self, channel).steps, per_step_commit=True)

    def drift(self):
        declared = self.declared

        def body(heads, context):
            target = context.opts.get("target_metadata")
            if target is None:
                return {"has_metadata": False, "facts": []}
            stale = drift.restore_declared(target, declared) if declared is not None else None
            if stale:
                return {"has_metadata": True, "stale": stale, "facts": []}
            tables = sum(len(md.tables) for md in drift.metadatas(target))
            return {"has_metadata": True, "tables": tables, "facts": drift.compare(context, target)}

        return self.run_env("drift", {}, body, read_only=True)

    # --- running env.py -------------------------------------------------------------------
    def run_env(self, command, arguments, body, destination=None, read_only=False, per_step_commit=False):
        """Run env.py once with `body(heads, context)` as Alembic's fn; return body's result
        (a list or an iterator is Alembic's steps). read_only: like `alembic current`, never
        create the version table. per_step_commit: each step in a transaction of its own
        (configure's transaction_per_migration), whatever env.py asked for."""
        from alembic.runtime.environment import EnvironmentContext

        outcome = {}

        def fn(heads, context):
            check_context(context)
            outcome["result"] = body(heads, context)
            outcome["ran"] = True
            result = outcome["result"]
            return result if isinstance(result, list) or hasattr(result, "__next__") else []

        def run():
            options = {"dont_mutate": True} if read_only else {}
            environment = EnvironmentContext(self.config, self.script, fn=fn, as_sql=False, starting_rev=None,
                                             destination_rev=destination, **options)
            if per_step_commit:
                _commit_each_step(environment)
            with environment:
                self.script.run_env()

        runner = self.runner()
        if runner is None:
            run()
        else:
            runner(run, command, dict(arguments))
        if not outcome.get("ran"):
            raise EnvDidNotRun(
                "env.py finished without running migrations: it never called context.run_migrations() "
                "in online mode, so migbot cannot apply anything through it."
                + (" (The configured runner must call run() once.)" if runner is not None else ""))
        return outcome.get("result")

    def runner(self):
        """The project's own callable for running Alembic commands (config `runner`), if any."""
        name = self.spec.get("runner")
        if not name:
            return None
        if self._runner is None:
            module, _, attribute = name.partition(":")
            try:
                found = importlib.import_module(module)
                for part in attribute.split("."):
                    found = getattr(found, part)
            except (ImportError, AttributeError) as exc:
                raise RunnerNotFound("runner {!r} from [tool.migbot] could not be loaded: {}: {}".format(
                    name, type(exc).__name__, exc)) from exc
            self._runner = found
        return self._runner


class RunnerNotFound(Exception):
    pass


def _commit_each_step(environment):
    """transaction_per_migration forced on in env.py's context.configure() call. (On the
    instance: alembic.context proxies to the EnvironmentContext class's own instances.)"""
    configure = environment.configure

    def configure_committing_each_step(*args, **kw):
        if len(args) <= 5:  # transaction_per_migration is configure's sixth parameter
            kw["transaction_per_migration"] = True
        return configure(*args, **kw)

    environment.configure = configure_committing_each_step

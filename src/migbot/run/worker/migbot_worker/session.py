"""Many stairway steps in one run of env.py.

Each `apply` re-enters Alembic's command layer: env.py runs again, opens a connection,
reads the version table. For a long branch that costs more than the steps themselves.
A session runs env.py once and hands Alembic its steps one at a time, as migbot asks for
them, through the protocol:

    migbot: {"cmd": "session"}          worker: {"ok": true, "result": {"ready": true}}
    migbot: {"cmd": "step", ...}        worker: the step's outcome, like apply's
    migbot: {"cmd": "stamp", ...}       worker: {"ok": true, "result": {}}
    migbot: {"cmd": "end"}              worker: the session's own reply (env.py finished)

Every step commits on its own (transaction_per_migration, forced on), so that between
steps migbot reads the schema with its own connection and pg_dump, exactly as after
separate commands. When env.py holds a transaction of its own around the run (it began
one before context.configure()), the steps could not commit: the session answers
{"ready": false} and migbot runs the steps one command each. A step that raises ends
env.py's run with its error, which is that step's reply.
"""


class StepsNotCommitted(Exception):
    """A step finished inside a transaction that stays open: migbot could not see it."""


class Session:
    def __init__(self, executor, channel):
        self.executor, self.channel = executor, channel

    def steps(self, heads, context):
        return self._steps(context)

    def _steps(self, context):
        connection = context.connection
        if getattr(context, "_in_external_transaction", True) or not getattr(context, "_transaction_per_migration",
                                                                               False):
            self.channel.reply({"ok": True, "result": {"ready": False}})
            return
        if connection.in_transaction():
            connection.get_transaction().commit()  # the version table Alembic may have just created
        self.channel.reply({"ok": True, "result": {"ready": True}})
        while True:
            request = self.channel.read()
            if request is None or request["cmd"] == "end":
                return
            if request["cmd"] == "stamp":
                _fresh_memo(context)
                for step in self._stamp(request["target"], context):
                    yield step
                self._committed(connection)
                self.channel.reply({"ok": True, "result": {}})
                continue
            observer = self.executor.observer()
            _fresh_memo(context)
            yield self._step(request, observer, context)
            self._committed(connection)
            self.channel.reply({"ok": True, "result": {"steps": observer.steps}})

    def _step(self, request, observer, context):
        from alembic.runtime.migration import MigrationStep

        revision_map = self.executor.script.revision_map
        script = revision_map.get_revision(request["revision"])
        if request.get("observe"):
            return observer.steps_for(revision_map, [script], request["upgrade"], context)[0]
        make = MigrationStep.upgrade_from_script if request["upgrade"] else MigrationStep.downgrade_from_script
        return make(revision_map, script)

    def _stamp(self, target, context):
        heads = tuple(context.get_current_heads())
        if context.connection.in_transaction():
            context.connection.get_transaction().rollback()  # only read: the stamp's own transaction follows
        return self.executor.script._stamp_revs(target, heads)

    @staticmethod
    def _committed(connection):
        if connection.in_transaction():
            raise StepsNotCommitted(
                "the step's transaction was still open after it: migbot cannot run its steps in one session")


def _fresh_memo(context):
    """What a command of its own starts with. Alembic's DDL runner remembers, for the run, the
    named types it created or dropped (SQLAlchemy's Enum asks it before CREATE TYPE): carried
    from one step to the next, a re-upgrade would skip a CREATE TYPE that a new run executes."""
    impl = getattr(context, "impl", None)
    if isinstance(getattr(impl, "memo", None), dict):
        impl.memo = {}

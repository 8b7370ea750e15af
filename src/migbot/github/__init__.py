"""The GitHub adapter, at the edge of migbot: events in, comments, statuses and annotations out.

Nothing in the engine imports this package; it only calls `migbot.pipeline.verify` and
publishes the report it returns.
"""

"""The worker: runs in the project's own interpreter (see migbot_worker)."""

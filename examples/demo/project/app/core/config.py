"""Settings from the environment, as a FastAPI service reads them."""

import os

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql+psycopg://app:app@localhost:5432/app")

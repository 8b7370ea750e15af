"""Development users. Idempotent: each user is looked up before it is inserted."""

from sqlalchemy import select

from app.models import User

USERS = [
    ("alice@example.com", "Alice Liddell"),
    ("bob@example.com", "Bob Builder"),
]


def run(session) -> None:
    for email, full_name in USERS:
        if session.scalar(select(User).where(User.email == email)) is None:
            session.add(User(email=email, full_name=full_name))

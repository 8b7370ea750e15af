"""Unit tests for migbot.redact: secrets out, and text that does not change between runs."""

from __future__ import annotations

from migbot.redact import REDACTED, Redactor, stable_text


def test_a_secret_is_replaced_wherever_it_appears():
    assert Redactor(["s3cr3t"])("password=s3cr3t; again s3cr3t") == f"password={REDACTED}; again {REDACTED}"


def test_memory_addresses_lose_their_run_specific_digits():
    text = "refused by <object object at 0x7f3a9c1b2d40> and <Foo at 0xdeadbeef>"
    assert stable_text(text) == "refused by <object object at 0x…> and <Foo at 0x…>"


def test_migbots_database_names_lose_their_random_part_but_keep_their_role():
    assert stable_text('database "migbot_1a2b3c4d_p0_head" is busy') == 'database "migbot_…_p0_head" is busy'


def test_temp_dirs_are_named_longest_first():
    paths = {"/tmp/migbot-x/tree-abc/": "", "/tmp/migbot-x": "<migbot's temp dir>"}
    assert stable_text("File /tmp/migbot-x/tree-abc/app/models.py, log /tmp/migbot-x/worker-0.log", paths) == \
        "File app/models.py, log <migbot's temp dir>/worker-0.log"


def test_ordinary_numbers_and_hex_ids_are_left_alone():
    assert stable_text("revision 0x12 and 3f2a9c1b7d10 at line 42") == "revision 0x12 and 3f2a9c1b7d10 at line 42"

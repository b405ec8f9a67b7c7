"""The PostgreSQL test server's bookkeeping; the live server is the test command's
(tests/engine/serving/rules/test_store_postgres.py)."""

from __future__ import annotations

from pathlib import Path

from devtools.postgres_server import Server, down, main, status


def test_a_home_without_a_server(tmp_path: Path) -> None:
    assert status(tmp_path) is None
    assert down(tmp_path) is False
    assert main(["status", "--home", str(tmp_path)]) == 3


def test_the_url_names_the_user_port_and_database() -> None:
    assert Server("/x", 5544).url == "postgresql://shopnow-postgres@127.0.0.1:5544/shopnow"

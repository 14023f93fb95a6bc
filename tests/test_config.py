"""Configuration from the environment; instance folders are self-contained."""

from __future__ import annotations

from xinyidai import create_app


def test_secret_key_is_generated_once_and_kept_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("XYD_INSTANCE_PATH", str(tmp_path / "one"))
    first = create_app()
    again = create_app()
    assert first.config["SECRET_KEY"] == again.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32
    key_file = tmp_path / "one" / "secret_key"
    assert key_file.read_text().strip() == first.config["SECRET_KEY"]
    assert key_file.stat().st_mode & 0o077 == 0  # readable by the owner only


def test_two_instance_folders_share_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("XYD_INSTANCE_PATH", str(tmp_path / "a"))
    a = create_app()
    monkeypatch.setenv("XYD_INSTANCE_PATH", str(tmp_path / "b"))
    b = create_app()
    assert a.config["SECRET_KEY"] != b.config["SECRET_KEY"]
    assert a.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'a' / 'xinyidai.sqlite3'}"
    assert b.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'b' / 'xinyidai.sqlite3'}"
    assert a.instance_path != b.instance_path


def test_environment_overrides_database_and_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("XYD_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@db.internal/xyd")
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.internal/xyd"
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


def test_cli_help_lists_every_command_with_a_description(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from xinyidai.cli import main

    monkeypatch.setenv("XYD_INSTANCE_PATH", str(tmp_path))
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    for command in ("ingest", "setup", "demo", "db"):
        line = next((row for row in result.output.splitlines() if row.strip().startswith(command + " ")), "")
        assert line.strip() != command, f"{command} lacks a description"
        assert len(line.split()) > 1, f"{command} lacks a description"

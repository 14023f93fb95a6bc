"""The deploy/ files against the app: docker compose accepts the compose file, nginx accepts the site file,
and the container lays things out where the job scripts and the runbook expect them.

`docker compose config` (or Debian's `docker-compose config`) only parses and interpolates: it needs no
Docker engine. Building and running the image does, and is not tested here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from drills import nginx_proxy as drill
from tests.live_server import ROOT

DEPLOY = ROOT / "deploy"
SECRETS = {"XYD_DB_PASSWORD": "drill-password", "SECRET_KEY": "drill-secret"}


def _compose_command() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def _compose_config(environment: dict[str, str]) -> subprocess.CompletedProcess:
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    clean = {k: v for k, v in os.environ.items() if k not in {"XYD_DB_PASSWORD", "SECRET_KEY", "XYD_PROXY_COUNT",
                                                                "XYD_SECURE_COOKIES"}}
    return subprocess.run([*command, "-f", str(DEPLOY / "docker-compose.yml"), "config"], cwd=ROOT,
                          env={**clean, **environment}, capture_output=True, text=True)


def _dockerfile_env() -> dict[str, str]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    pairs = [line[4:] for line in text.splitlines() if line.startswith("ENV ")]
    return dict(re.findall(r"(\w+)=(\S+)", " ".join(pairs)))


def test_compose_file_is_valid_and_matches_the_image():
    result = _compose_config(SECRETS)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    app = services["app"]
    environment = app["environment"]
    assert environment["DATABASE_URL"] == "postgresql+psycopg://xinyidai:drill-password@db:5432/xinyidai"
    assert environment["XYD_PROXY_COUNT"] == "1"
    assert environment["XYD_SECURE_COOKIES"] == "1"
    assert str(app["depends_on"]["db"]["condition"]) == "service_healthy"
    # the state survives a new container: the model store lives in the instance folder
    targets = [str(volume).split(":")[1] if isinstance(volume, str) else volume["target"] for volume in app["volumes"]]
    image = _dockerfile_env()
    assert image["XYD_INSTANCE_PATH"] in targets
    for job in (DEPLOY / "jobs").iterdir():  # every state folder a job writes is a volume
        for folder in set(re.findall(r"/var/lib/xinyidai/\w+", job.read_text())):
            assert folder in targets, f"deploy/jobs/{job.name} uses {folder}, which is not a volume"
    # published on the host's loopback, where the nginx site's upstream points
    port = image["XYD_BIND"].rsplit(":", 1)[1]
    published = [str(p) for p in app["ports"]] if isinstance(app["ports"][0], str) else [
        f"{p['host_ip']}:{p['published']}:{p['target']}" for p in app["ports"]]
    assert any(p.startswith(f"127.0.0.1:8000:{port}") for p in published), published
    assert "server 127.0.0.1:8000 " in (DEPLOY / "nginx" / "xinyidai.conf").read_text()


def test_compose_refuses_to_start_without_the_secrets():
    result = _compose_config({})
    assert result.returncode != 0
    assert "set XYD_DB_PASSWORD" in result.stderr or "set SECRET_KEY" in result.stderr


def test_the_job_scripts_find_xyd_in_the_image():
    """deploy/jobs/* call /opt/xinyidai/app/.venv/bin/xyd: the image has its venv exactly there."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "WORKDIR /opt/xinyidai/app" in dockerfile
    assert "python -m venv .venv" in dockerfile
    for job in (DEPLOY / "jobs").iterdir():
        for program in re.findall(r"(/opt/xinyidai/app/\S+|\$app/\S+)", job.read_text()):
            assert program.replace("$app", "/opt/xinyidai/app").startswith("/opt/xinyidai/app/.venv/bin/"), program


def test_nginx_accepts_the_site_file():
    """`nginx -t` on deploy/nginx/xinyidai.conf as the nginx-proxy drill renders it (the drill also serves it)."""
    nginx = drill.installed_nginx()
    if nginx is None or shutil.which("openssl") is None:
        pytest.skip("nginx or openssl is not installed (`make drill` installs nginx)")
    with tempfile.TemporaryDirectory(prefix="xyd-nginx-t-") as folder:
        prefix = Path(folder)
        prefix.chmod(0o755)
        certificate, key = drill.self_signed_certificate(prefix)
        site = drill.render_site((DEPLOY / "nginx" / "xinyidai.conf").read_text(), server_name="xyd.test",
                                 http_port=18080, https_port=18443, certificate=certificate, key=key,
                                 static=drill.STATIC, upstream="127.0.0.1:18000")
        directives = re.sub(r"#.*", "", site)
        assert "xyd.example.gov.cn" not in directives
        assert "/etc/ssl/" not in directives
        (prefix / "xinyidai.conf").write_text(site)
        (prefix / "nginx.conf").write_text(drill.main_configuration(prefix, drill.mime_types(nginx)))
        result = subprocess.run([nginx, "-t", "-p", folder, "-e", str(prefix / "error.log"), "-c",
                                 str(prefix / "nginx.conf")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

"""Drill (e): the real deploy/nginx/xinyidai.conf in front of gunicorn, as operations install it (§1 step 8).

The site file is rendered into a private nginx prefix with only what differs on this machine substituted —
server_name, the certificate (a fresh self-signed one), the listen ports (free high ports on 127.0.0.1),
the /static/ alias (this checkout) and the upstream (the drill's gunicorn) — every other directive is the
file's own, so a change to the file is what gets tested. The app runs as behind nginx in production
(XYD_PROXY_COUNT=1, XYD_SECURE_COOKIES=1). The client connects from 127.0.0.2, nginx from 127.0.0.1, so the
address the app records tells which one it trusted.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from drills.outcome import Outcome
from tests.live_server import ROOT, free_port, serve, stop

NAME = "nginx-proxy"
SITE = ROOT / "deploy" / "nginx" / "xinyidai.conf"
STATIC = ROOT / "xinyidai" / "static"
SERVER_NAME = "xyd.drill.test"
CLIENT = "127.0.0.2"  # the client's own address (all of 127/8 is loopback); nginx reaches gunicorn from 127.0.0.1
SPOOFED = "203.0.113.7"  # what the client itself claims in X-Forwarded-For (a documentation address)
HSTS = "Strict-Transport-Security"


def run(context) -> Outcome:
    nginx = nginx_binary()
    if nginx is None:
        return Outcome(NAME, False, "nginx is not installed and `apt-get install nginx` failed (needs root or "
                                    "password-less sudo): install Debian's nginx and run the drill again")
    if shutil.which("openssl") is None:
        return Outcome(NAME, False, "no openssl to make the self-signed certificate")
    environment = {**context.platform.environment, "XYD_PROXY_COUNT": "1", "XYD_SECURE_COOKIES": "1",
                   "XYD_FORWARDED_ALLOW_IPS": "127.0.0.1"}
    with tempfile.TemporaryDirectory(prefix="xyd-nginx-") as folder, serve(environment, free_port()) as server:
        prefix = Path(folder)
        prefix.chmod(0o755)  # nginx's workers (an unprivileged account when started as root) use the temp paths
        certificate, key = self_signed_certificate(prefix)
        http_port, https_port = free_port(), free_port()
        site = render_site(SITE.read_text(), server_name=SERVER_NAME, http_port=http_port, https_port=https_port,
                           certificate=certificate, key=key, static=STATIC, upstream=server.url.split("//")[1])
        (prefix / "xinyidai.conf").write_text(site)
        configuration = prefix / "nginx.conf"
        configuration.write_text(main_configuration(prefix, mime_types(nginx)))
        command = [nginx, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(configuration)]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True)  # noqa: S603
        if checked.returncode != 0:
            return Outcome(NAME, False, f"`nginx -t` refused the rendered site: {checked.stderr.strip()[-600:]}")
        output = prefix / "nginx.out"
        with open(output, "w") as sink:
            process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            _wait_for_port(https_port, process, output)
            checks = Checks(server, http_port, https_port, certificate, context.platform)
            problems, facts = checks.run_all()
            if problems:  # nginx's own word on what went wrong, if it logged any
                logged = [line for line in (prefix / "error.log").read_text().splitlines()
                          if re.search(r"\[(error|crit|alert|emerg)\]", line) and "too large body" not in line]
                problems += [f"nginx error.log: {line[-300:]}" for line in logged[-3:]]
        finally:
            stop(process, timeout=10)
    if problems:
        return Outcome(NAME, False, "; ".join(problems))
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]  # noqa: S603
    return Outcome(NAME, True, f"nginx {version}, `nginx -t` ok; " + "; ".join(facts))


# --- nginx: the binary, the rendered site, the wrapper -------------------------------------------------------

def nginx_binary() -> str | None:
    """Debian's nginx, installed the way `make browser` installs chromium when it is missing."""
    found = installed_nginx()
    if found:
        return found
    print("installing Debian's nginx for the nginx-proxy drill", flush=True)
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-n", "apt-get"]
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["update", "-qq"], ["install", "-y", "-qq", "nginx"]):
        result = subprocess.run([*apt, *step], env=environment, capture_output=True, text=True)  # noqa: S603
        if result.returncode != 0:
            print(result.stderr[-1000:], flush=True)
            return None
    return installed_nginx()


def installed_nginx() -> str | None:
    """On PATH, or in /usr/sbin (not on an unprivileged account's PATH)."""
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)


def _substitute(pattern: str, replacement: str, text: str, what: str, *, expected: int | None = 1) -> str:
    """Replace `pattern`; the file must contain it `expected` times (None: at least once), or the drill would
    quietly test something other than what operations install."""
    result, count = re.subn(pattern, replacement, text)
    if (expected is None and count == 0) or (expected is not None and count != expected):
        raise ValueError(f"deploy/nginx/xinyidai.conf: expected {expected or 'at least one'} {what}, found {count}")
    return result


def render_site(text: str, *, server_name: str, http_port: int, https_port: int, certificate: Path, key: Path,
                static: Path, upstream: str) -> str:
    """The site file with only the machine-specific values replaced; every other directive unchanged."""
    listens = re.findall(r"\blisten\s+[^;]+;", text)
    if len(listens) != 2:
        raise ValueError(f"deploy/nginx/xinyidai.conf: the drill moves one `listen 80` and one `listen 443`, "
                         f"found {listens}")
    text = _substitute(r"\blisten\s+80\b", f"listen 127.0.0.1:{http_port}", text, "`listen 80`")
    text = _substitute(r"\blisten\s+443\b", f"listen 127.0.0.1:{https_port}", text, "`listen 443`")
    text = _substitute(r"\bserver_name\s+[^;]+;", f"server_name {server_name};", text, "server_name", expected=None)
    text = _substitute(r"\bssl_certificate\s+[^;]+;", f"ssl_certificate {certificate};", text, "ssl_certificate")
    text = _substitute(r"\bssl_certificate_key\s+[^;]+;", f"ssl_certificate_key {key};", text, "ssl_certificate_key")
    text = _substitute(r"(location\s+/static/\s*\{[^}]*?\balias\s+)[^;]+;", rf"\g<1>{static}/;", text,
                       "`alias` in `location /static/`")
    return _substitute(r"(\bupstream\s+xinyidai_app\s*\{[^}]*?\bserver\s+)[^\s;]+", rf"\g<1>{upstream}", text,
                       "`server` in `upstream xinyidai_app`")


def main_configuration(prefix: Path, mime: Path) -> str:
    """What /etc/nginx/nginx.conf provides around a site, with every writable path inside the prefix."""
    user = ""
    if os.geteuid() == 0:  # workers run as the account that owns the checkout, as www-data would in production
        user = f"user {pwd.getpwuid(STATIC.stat().st_uid).pw_name};"
    temp = "\n".join(f"    {name}_temp_path {prefix / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""# The nginx-proxy drill's nginx.conf: deploy/nginx/xinyidai.conf included as sites-enabled/ would be.
daemon off;
{user}
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} notice;
events {{ worker_connections 256; }}
http {{
    include {mime};
    default_type application/octet-stream;
    sendfile on;
    access_log {prefix / "access.log"};
{temp}
    include {prefix / "xinyidai.conf"};
}}
"""


def mime_types(nginx: str) -> Path:
    """mime.types beside the nginx.conf this nginx was built to read (Debian: /etc/nginx/mime.types)."""
    built = subprocess.run([nginx, "-V"], capture_output=True, text=True).stderr  # noqa: S603
    match = re.search(r"--conf-path=(\S+)", built)
    return Path(match.group(1)).parent / "mime.types" if match else Path("/etc/nginx/mime.types")


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A one-day certificate for SERVER_NAME and 127.0.0.1 (the clients connect to the address)."""
    certificate, key = folder / "fullchain.pem", folder / "privkey.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",  # noqa: S603,S607
                    "-nodes", "-days", "1", "-subj", f"/CN={SERVER_NAME}", "-addext",
                    f"subjectAltName=DNS:{SERVER_NAME},IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
                   check=True, capture_output=True)
    return certificate, key


def _wait_for_port(port: int, process: subprocess.Popen, output: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited ({process.returncode}): {output.read_text()[-1000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nginx did not listen on {port} within {timeout:.0f} s")


# --- the checks ----------------------------------------------------------------------------------------------

class Checks:
    """Each check adds a problem (the drill fails) or a fact (the PASS line)."""

    def __init__(self, server, http_port: int, https_port: int, certificate: Path, platform):
        import requests
        from requests.adapters import HTTPAdapter

        class FromClientAddress(HTTPAdapter):
            def init_poolmanager(self, *args, **kwargs):
                kwargs["source_address"] = (CLIENT, 0)
                super().init_poolmanager(*args, **kwargs)

        self.server, self.platform, self.certificate = server, platform, certificate
        self.http, self.https = f"http://127.0.0.1:{http_port}", f"https://127.0.0.1:{https_port}"
        self.https_port = https_port
        self.origin = f"https://{SERVER_NAME}:{https_port}"  # what a browser's address bar shows
        self.client = requests.Session()
        self.client.trust_env = False  # no proxy, and no REQUESTS_CA_BUNDLE overriding `verify`, from the environment
        self.client.verify = str(certificate)  # the drill's own certificate: also proves nginx serves it
        self.client.headers["Host"] = f"{SERVER_NAME}:{https_port}"
        for scheme in ("http://", "https://"):
            self.client.mount(scheme, FromClientAddress())
        self.problems: list[str] = []
        self.facts: list[str] = []

    def run_all(self) -> tuple[list[str], list[str]]:
        for check in (self.redirect_to_https, self.tls, self.static_file, self.app_page, self.scheme_and_host,
                      self.client_address, self.body_limit, self.health):
            try:
                check()
            except Exception as error:  # one broken check must not hide the others' results
                self.problems.append(f"{check.__name__}: {type(error).__name__}: {error}")
        return self.problems, self.facts

    def expect(self, condition: bool, problem: str) -> bool:
        if not condition:
            self.problems.append(problem)
        return condition

    def gunicorn_saw(self, path: str) -> bool:
        time.sleep(0.3)  # the access-log line is written after the response
        return f'"path": "{path}"' in self.server.log.read_text()

    def redirect_to_https(self) -> None:
        response = self.client.get(f"{self.http}/login?next=%2Fbank%2F", allow_redirects=False,
                                   headers={"Host": SERVER_NAME})
        wanted = f"https://{SERVER_NAME}/login?next=%2Fbank%2F"
        if self.expect(response.status_code == 301 and response.headers.get("Location") == wanted,
                       f"http:// answered {response.status_code} {response.headers.get('Location')}, not 301 {wanted}"):
            self.facts.append("http:// → 301 https:// (path and query kept)")

    def tls(self) -> None:
        context = ssl.create_default_context(cafile=str(self.certificate))
        context.set_alpn_protocols(["h2", "http/1.1"])
        with socket.create_connection(("127.0.0.1", self.https_port), source_address=(CLIENT, 0), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            version, protocol = tls.version(), tls.selected_alpn_protocol()
        if self.expect(version in ("TLSv1.2", "TLSv1.3") and protocol == "h2",
                       f"TLS {version} with ALPN {protocol}, expected TLS 1.2/1.3 offering h2"):
            self.facts.append(f"{version}, HTTP/2 offered")

    def static_file(self) -> None:
        name = "app.css"
        response = self.client.get(f"{self.https}/static/{name}")
        headers = response.raw.headers
        cache = ", ".join(headers.getlist("Cache-Control"))
        hsts = headers.getlist(HSTS)
        ok = all([
            self.expect(response.status_code == 200 and response.content == (STATIC / name).read_bytes(),
                        f"/static/{name} answered {response.status_code} or not the file's bytes"),
            self.expect("public" in cache and "max-age=604800" in cache and "Expires" in headers,
                        f"/static/{name} Cache-Control {cache!r}, Expires {headers.get('Expires')!r}"),
            self.expect(headers.get("X-Content-Type-Options") == "nosniff", f"/static/{name} without nosniff"),
            self.expect(len(hsts) == 1, f"/static/{name} has {len(hsts)} HSTS headers {hsts}"),
            self.expect("text/css" in headers.get("Content-Type", ""), f"/static/{name} as {headers.get('Content-Type')}"),
            self.expect(not self.gunicorn_saw(f"/static/{name}"), f"/static/{name} reached gunicorn"),
        ])
        if ok:
            self.facts.append(f"/static/ served by nginx (not gunicorn) with {cache}, nosniff, one HSTS")

    def app_page(self) -> None:
        from xinyidai.security_headers import CONTENT_SECURITY_POLICY

        response = self.client.get(f"{self.https}/login")
        headers = response.raw.headers
        hsts = headers.getlist(HSTS)
        cookies = [c for c in headers.getlist("Set-Cookie") if c.startswith("session=")]
        attributes = {part.strip().split("=")[0].lower() for part in cookies[0].split(";")[1:]} if cookies else set()
        ok = all([
            self.expect(response.status_code == 200, f"/login through nginx answered {response.status_code}"),
            self.expect(headers.get("Content-Security-Policy") == CONTENT_SECURITY_POLICY, "/login without the app's CSP"),
            self.expect(headers.get("X-Frame-Options") == "DENY" and headers.get("X-Content-Type-Options") == "nosniff"
                        and headers.get("Referrer-Policy") == "same-origin",
                        "/login without the app's X-Frame-Options / nosniff / Referrer-Policy"),
            self.expect(len(hsts) == 1, f"/login has {len(hsts)} HSTS headers {hsts}"),
            self.expect({"secure", "httponly"} <= attributes, f"session cookie {cookies} is not Secure; HttpOnly"),
            self.expect(re.fullmatch(r"nginx", headers.get("Server", "")) is not None,
                        f"Server header {headers.get('Server')!r} (server_tokens off shows no version)"),
        ])
        if ok:
            self.facts.append(f"/login carries the app's CSP, X-Frame-Options, nosniff, Referrer-Policy and one HSTS "
                              f"({hsts[0]}), session cookie Secure; HttpOnly, Server without version")

    def scheme_and_host(self) -> None:
        response = self.client.get(f"{self.https}/enterprise", allow_redirects=False)
        wanted = f"{self.origin}/enterprise/"
        if self.expect(response.headers.get("Location") == wanted,
                       f"the app built {response.headers.get('Location')!r} for {wanted!r}: it does not see the "
                       f"original scheme, host and port"):
            self.facts.append(f"the app builds {wanted} (original scheme, host, port)")

    def client_address(self) -> None:
        token = self._csrf_token()
        username = f"drill-nginx-{uuid.uuid4().hex[:8]}"
        form = {"csrf_token": token, "username": username, "password": "wrong-password"}
        foreign = self.client.post(f"{self.https}/login", data=form,
                                   headers={"Referer": "https://elsewhere.example/", "X-Forwarded-For": SPOOFED})
        own = self.client.post(f"{self.https}/login", data=form,
                               headers={"Referer": f"{self.origin}/login", "X-Forwarded-For": SPOOFED})
        rows = self.platform.rows("SELECT remote_addr FROM audit_log WHERE action = 'login_failed' AND actor_label = :name",
                                  name=username)
        ok = all([
            # Flask-WTF checks the Referer only on HTTPS: a 400 here means the app knows the request came over TLS
            self.expect(foreign.status_code == 400, f"a login POST with a foreign Referer answered {foreign.status_code}"
                                                    " (the app does not see HTTPS, or does not check the Referer)"),
            self.expect(own.status_code == 200, f"a login POST from the site's own page answered {own.status_code}"),
            self.expect([row[0] for row in rows] == [CLIENT],
                        f"failed-login audit rows record {[row[0] for row in rows]}, expected [{CLIENT!r}]: the client "
                        f"nginx saw (not nginx's 127.0.0.1, not the {SPOOFED} the client claimed)"),
        ])
        if ok:
            self.facts.append(f"failed login audited from {CLIENT} (nginx's view; the client's own X-Forwarded-For "
                              f"{SPOOFED} ignored), foreign-Referer POST refused 400 (app sees HTTPS)")

    def _csrf_token(self) -> str:
        page = self.client.get(f"{self.https}/login").text
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', page)
        if match is None:
            raise RuntimeError("no csrf_token in the login form")
        return match.group(1)

    def body_limit(self) -> None:
        marker = uuid.uuid4().hex[:8]
        small, large = f"/drill-body-{marker}-small", f"/drill-body-{marker}-large"
        # The app answers these without reading the body (404): each answer must still arrive, not a 502 from a
        # connection reset (xinyidai/request_body.py); before that fix about one in four did not.
        answers = [self.client.post(f"{self.https}{small}", data=b"x" * (1 << 20)).status_code for _ in range(10)]
        refused = self.client.post(f"{self.https}{large}", data=b"x" * (32 * (1 << 20) + 1))
        ok = all([
            self.expect(answers == [404] * 10 and self.gunicorn_saw(small),
                        f"10 POSTs of 1 MiB the app does not read answered {answers} (expected the app's 404 each)"),
            self.expect(refused.status_code == 413, f"a body of 32 MiB + 1 byte answered {refused.status_code}, not 413"),
            self.expect(not self.gunicorn_saw(large), "the body over client_max_body_size reached gunicorn"),
        ])
        if ok:
            self.facts.append("10 bodies of 1 MiB reached the app and got its answer (no 502), 32 MiB + 1 byte "
                              "refused 413 by nginx without reaching the app")

    def health(self) -> None:
        answers = {path: self.client.get(f"{self.https}{path}") for path in ("/healthz", "/readyz")}
        shown = {path: (r.status_code, r.json() if r.status_code == 200 else r.text[:80]) for path, r in answers.items()}
        if self.expect(all(r.status_code == 200 for r in answers.values()), f"health through nginx: {shown}"):
            self.facts.append("/healthz and /readyz 200 through nginx")

"""The load mix of `make load` (locust): enterprise staff, bank officers, district offices and a bank's
systems on the API, in the proportions a working day brings them.

The harness (`python -m loadtest`) writes the accounts and ids to the JSON file named by LOAD_FIXTURE and
collects every request's time through LOAD_SAMPLES; request names start with their group
("enterprise", "bank", "office", "api") so it can report each group.
"""

from __future__ import annotations

import json
import os
import random
import re
import time

from locust import FastHttpUser, between, events, task

FIXTURE = json.loads(open(os.environ["LOAD_FIXTURE"], encoding="utf-8").read())  # noqa: SIM115 - read once
SAMPLES = open(os.environ["LOAD_SAMPLES"], "w", encoding="utf-8")  # noqa: SIM115 - closed at quit
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
THINK = between(float(os.environ.get("LOAD_WAIT_MIN", "0.5")), float(os.environ.get("LOAD_WAIT_MAX", "1.5")))


# Requests made while users are still being spawned (each logs in once, workers fill their caches) are
# kept apart from the steady state that follows; the report prints both.
STEADY = {"since": None}


@events.spawning_complete.add_listener
def _steady(user_count, **_kwargs):
    STEADY["since"] = time.time()


@events.request.add_listener
def _sample(request_type, name, response_time, response_length, exception, **_kwargs):
    steady = 0 if STEADY["since"] is None else 1
    SAMPLES.write(f"{name}\t{response_time:.2f}\t{0 if exception is None else 1}\t{steady}\t{time.time():.3f}\n")


@events.quitting.add_listener
def _close(**_kwargs):
    SAMPLES.close()


class PortalUser(FastHttpUser):
    """A person in a browser: logs in once through the form (CSRF token and all), then browses."""

    abstract = True
    wait_time = THINK
    role = ""

    def on_start(self):
        self.account = random.choice(FIXTURE[self.role])
        page = self.client.get("/login", name=f"{self.role}: login form")
        match = CSRF.search(page.text or "")
        token = next(g for g in match.groups() if g) if match else ""
        with self.client.post("/login", data={"username": self.account["username"], "password": FIXTURE["password"],
                                              "csrf_token": token},
                              name=f"{self.role}: log in", catch_response=True) as answer:
            if answer.status_code != 200 or 'name="password"' in (answer.text or ""):  # the form again: refused
                answer.failure(f"login refused for {self.account['username']}")


class EnterpriseStaff(PortalUser):
    weight = 3
    role = "enterprise"

    @task(3)
    def profile(self):
        self.client.get("/enterprise/profile", name="enterprise: credit profile")

    @task(3)
    def needs(self):
        self.client.get("/enterprise/needs", name="enterprise: needs")

    @task(2)
    def need(self):
        if self.account["needs"]:
            self.client.get(f"/enterprise/needs/{random.choice(self.account['needs'])}",
                            name="enterprise: need with matches")

    @task(1)
    def applications(self):
        self.client.get("/enterprise/applications", name="enterprise: applications")

    @task(1)
    def notifications(self):
        self.client.get("/enterprise/notifications", name="enterprise: notifications")


class BankOfficer(PortalUser):
    weight = 3
    role = "bank"

    @task(4)
    def pipeline(self):
        page = random.choice([1, 1, 1, 2, 3])
        self.client.get(f"/bank/pipeline?page={page}", name="bank: pipeline page")

    @task(3)
    def application(self):
        if self.account["applications"]:
            self.client.get(f"/bank/applications/{random.choice(self.account['applications'])}",
                            name="bank: application detail")

    @task(1)
    def applications(self):
        self.client.get("/bank/applications", name="bank: applications")

    @task(1)
    def dashboard(self):
        self.client.get("/bank/dashboard", name="bank: dashboard")


class DistrictOffice(PortalUser):
    weight = 1
    role = "office"

    @task(3)
    def overview(self):
        self.client.get("/office/dashboard", name="office: dashboard overview")

    @task(2)
    def breakdown(self):
        view = random.choice(["banks", "products", "industries", "sizes"])
        self.client.get(f"/office/dashboard/{view}", name="office: dashboard breakdown")

    @task(1)
    def whitelist(self):
        self.client.get("/office/whitelist", name="office: whitelist")

    @task(1)
    def alerts(self):
        self.client.get("/office/alerts", name="office: alerts")


class BankSystem(FastHttpUser):
    """A bank's own system polling its pipeline and reading applications with its API token."""

    weight = 3
    wait_time = THINK

    def on_start(self):
        self.api = random.choice(FIXTURE["api"])
        self.headers = {"Authorization": f"Bearer {self.api['token']}"}

    @task(4)
    def pipeline(self):
        page = random.choice([1, 1, 2, 3, 4])
        self.client.get(f"/api/v1/pipeline?page={page}&per_page=50", headers=self.headers, name="api: pipeline page")

    @task(3)
    def application(self):
        self.client.get(f"/api/v1/applications/{random.choice(self.api['applications'])}", headers=self.headers,
                        name="api: application")

    @task(1)
    def applications(self):
        self.client.get("/api/v1/applications?per_page=50", headers=self.headers, name="api: applications")

    @task(1)
    def products(self):
        self.client.get("/api/v1/products", headers=self.headers, name="api: products")

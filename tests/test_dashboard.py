"""deploy/grafana/dashboard.json charts only metrics the services really export, with their labels."""

from __future__ import annotations

import json
import re

import yaml
from prometheus_client.parser import text_string_to_metric_families

from balancer.web import create_app as create_balancer
from tests.balancer.conftest import FakeFarm, fake_settings
from tests.procs import ROOT
from validation.validator import PlaybookValidator
from worker.llm import FakeLLM
from worker.settings import WorkerSettings
from worker.web import create_app as create_worker

DASHBOARD = ROOT / "deploy" / "grafana" / "dashboard.json"
NAME = re.compile(r"\bansible_farm_[a-z_]+")
SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def families(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


def exported() -> set[str]:
    farm = FakeFarm(2)
    balancer = create_balancer(fake_settings(farm.urls), client=farm.client).test_client()
    llm = FakeLLM(lambda model, messages: "---\n- hosts: all\n  tasks: []\n")
    validator = PlaybookValidator(specs={}, specs_loader=None, syntax_check=False)
    worker = create_worker(WorkerSettings(syntax_check=False), llm=llm, validator=validator).test_client()
    return families(balancer.get("/metrics").get_data(as_text=True)) | families(worker.get("/metrics").get_data(as_text=True))


def family_of(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_every_metric_the_dashboard_uses_is_exported() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert len(exprs) >= 20
    used = {family_of(name) for expr in exprs for name in NAME.findall(expr)}
    missing = used - exported()
    assert not missing, f"the dashboard charts metrics no service exports: {sorted(missing)}"
    # every histogram is read through its buckets, every counter through rate or increase
    for expr in exprs:
        assert "_bucket" not in expr or "histogram_quantile" in expr, expr
        assert "_total" not in expr or re.search(r"\b(rate|increase)\(", expr), expr


def test_the_scrape_config_names_the_dashboards_jobs() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "grafana" / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    variables = {v["name"]: v["query"] for v in json.loads(DASHBOARD.read_text())["templating"]["list"] if v["type"] == "custom"}
    assert {variables["balancer"], variables["worker"]} == jobs

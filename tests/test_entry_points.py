"""Both services also run under gunicorn's own CLI with gunicorn.conf.py, with the same options."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import requests

from tests.procs import ServiceProcess, free_port


@pytest.mark.parametrize("entry", ["app:app", "app_distributed:app"])
def test_gunicorn_cli_serves_the_app_with_the_entry_modules_options(entry: str, tmp_path: Path) -> None:
    port = free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    env = {"PORT": str(port), "OLLAMA_HOST": "http://127.0.0.1:9", "BACKENDS": "http://127.0.0.1:9"}
    service = ServiceProcess([gunicorn, "-c", "gunicorn.conf.py", entry], port, env, log_path=tmp_path / "gunicorn.log")
    try:
        service.start()
        status = requests.get(service.url + "/queue-status", timeout=5)
        assert status.status_code == 200 and "queue_size" in status.json()
    finally:
        service.stop()
    log = (tmp_path / "gunicorn.log").read_text()
    assert "Using worker: gthread" in log
    assert log.count("Booting worker with pid") == 1, "one process: state lives in memory"


def test_server_options_are_one_process_with_threads_for_every_waiting_job() -> None:
    import app
    import app_distributed

    worker = app.server_options()
    assert worker["workers"] == 1 and worker["worker_class"] == "gthread"
    assert worker["threads"] > app.settings.slots + app.settings.max_queue
    balancer = app_distributed.server_options()
    assert balancer["workers"] == 1
    assert balancer["threads"] > app_distributed.settings.max_queue + app_distributed.settings.total_slots

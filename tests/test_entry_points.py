"""Both services also run under gunicorn's own CLI with gunicorn.conf.py, with the same options."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import requests

from tests.procs import ServiceProcess, free_port


@pytest.mark.parametrize("entry", ["app:app", "app_distributed:app"])
@pytest.mark.parametrize("bind_flag", [False, True], ids=["port-from-env", "bind-flag"])
def test_gunicorn_cli_serves_the_app_with_the_entry_modules_options(entry: str, bind_flag: bool, tmp_path: Path) -> None:
    port = free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    env = {"OLLAMA_HOST": "http://127.0.0.1:9", "BACKENDS": "http://127.0.0.1:9"}
    if bind_flag:  # `-b host:port` before the app: the config must still find the app module
        argv = [gunicorn, "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}", entry]
    else:
        argv, env["PORT"] = [gunicorn, "-c", "gunicorn.conf.py", entry], str(port)
    service = ServiceProcess(argv, port, env, log_path=tmp_path / "gunicorn.log")
    try:
        service.start()
        status = requests.get(service.url + "/queue-status", timeout=5)
        assert status.status_code == 200 and "queue_size" in status.json()
        assert ("total_backends" in status.json()) == (entry == "app_distributed:app")
    finally:
        service.stop()
    log = (tmp_path / "gunicorn.log").read_text()
    assert "Using worker: ServingWorker" in log
    assert log.count("Booting worker with pid") == 1, "one process: state lives in memory"


def test_server_options_are_one_gevent_process_with_the_shared_limits() -> None:
    import app
    import app_distributed
    from common.green_worker import ServingWorker

    for module in (app, app_distributed):
        options = module.server_options()
        assert options["workers"] == 1
        assert issubclass(options["worker_class"], ServingWorker)
        assert options["worker_class"].limits == module.server_limits
        assert options["worker_connections"] > module.server_limits.max_connections  # room to answer 503
        assert options["graceful_timeout"] >= module.server_limits.drain_timeout_s

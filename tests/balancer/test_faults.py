"""Fault injection with real processes: `app_distributed.py` in front of scripted fake workers.

Each fake is ``python -m tests.faults.fake_worker`` (raw sockets, one exact fault per mode; see its
docstring). For every mode one balancer process runs with ``BACKENDS=<the faulty fake>,<a good
fake>`` — the faulty one FIRST, so that routing (fewest in flight, then configured order) sends it
work — and every job must still reach the client as a correct 200 from the good fake, within a
bound stated per mode below. The issue's must-show tests put three faulty fakes beside one good
one and check outlier ejection: consecutive failures (OUTLIER_FAILURES, default 3) eject a
backend, never more than MAX_EJECTION_PERCENT of them (default 50).

The contract: consecutive-failure outlier detection (OUTLIER_FAILURES, EJECTION_TIME,
MAX_EJECTION_PERCENT), RETRIES 3 on backends not tried yet, health rise/fall, the ``ejected``
status in ``/queue-status`` (balancer/proxy.py, balancer/pool.py). Every process is started on a
free 127.0.0.1 port and ended by its pid; the whole module runs in about 40-50 s.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.faults.fake_worker import PLAYBOOK
from tests.procs import ServiceProcess, free_port, python_service, start_processes, stop_processes, wait_until

# --- the balancer's settings in these tests ---------------------------------------------------

TIMEOUT_S = 3  # TIMEOUT: a job's reply wait; small, so hang/slow cost seconds, not minutes
CONNECT_TIMEOUT_S = 1
HEALTH_INTERVAL_S = 0.5
HEALTH_TIMEOUT_S = 1
BALANCER_ENV = {
    "TIMEOUT": str(TIMEOUT_S),
    "CONNECT_TIMEOUT": str(CONNECT_TIMEOUT_S),
    "HEALTH_INTERVAL": str(HEALTH_INTERVAL_S),
    "HEALTH_TIMEOUT": str(HEALTH_TIMEOUT_S),
    "QUEUE_TIMEOUT": "20",  # no job may wait for a slot longer than a test runs
}
MODEL = "codellama:13b"

# --- how long a client may wait for its 200, per mode ------------------------------------------
# MARGIN_S: process scheduling on a shared 2-core machine (a fake, a balancer and pytest compete).
MARGIN_S = 2.0
# hang: the job sent to the hung worker gets no byte back; the balancer gives up after TIMEOUT,
# finds the worker silent to a health probe too (HEALTH_TIMEOUT) and sends the job to the good
# worker (milliseconds). 2*TIMEOUT covers that (TIMEOUT + HEALTH_TIMEOUT < 2*TIMEOUT) and a job
# queued at the balancer behind the hung one, plus the margin.
HANG_BOUND_S = 2 * TIMEOUT_S + MARGIN_S
# slow, --delay under TIMEOUT: a slow but correct worker, no fault; the wait is its delay (a job
# queued behind it at the balancer may wait one delay more) plus the margin.
SLOW_DELAY_S = TIMEOUT_S / 2
SLOW_BOUND_S = 2 * SLOW_DELAY_S + MARGIN_S
# slow, --delay over TIMEOUT: the balancer gives up after TIMEOUT; on a timeout it asks the worker
# for a health probe (HEALTH_TIMEOUT) and may send the job elsewhere (milliseconds).
SLOWER_THAN_TIMEOUT_DELAY_S = TIMEOUT_S + 2
SLOWER_THAN_TIMEOUT_BOUND_S = TIMEOUT_S + HEALTH_TIMEOUT_S + MARGIN_S
SLOWER_THAN_TIMEOUT_JOBS = 5
OUTLIER_FAILURES = 3  # the balancer's default: consecutive failures that eject a backend
# The modes below fail within milliseconds of the request, so a retry on the good worker costs
# milliseconds too; the bound is one round of jobs queued behind each other plus the margin.
ACCEPT_CLOSE_BOUND_S = 1.0 + MARGIN_S  # FIN right after the request: no wait at all
DIE_MID_REPLY_BOUND_S = 1.0 + MARGIN_S  # partial reply, 50 ms pause, RST
STATUS_500_BOUND_S = 1.0 + MARGIN_S  # an immediate 500 JSON
HTML_200_BOUND_S = 1.0 + MARGIN_S  # an immediate 200 text/html
WRONG_JSON_BOUND_S = 1.0 + MARGIN_S  # an immediate 200 JSON of the wrong shape
REFUSE_BOUND_S = 1.0 + MARGIN_S  # a refused connect fails at once (no CONNECT_TIMEOUT wait)
FLAPPING_BOUND_S = 1.0 + MARGIN_S  # its down phase resets connections at once
GOOD_BOUND_S = 1.0 + MARGIN_S  # the control case: two good fakes
FLAP_PERIOD_S = 1.0
FLAPPING_RUN_S = 4 * FLAP_PERIOD_S  # jobs for two full up/down cycles
# must-show: a job may try 3 faulty backends (each fails in ms) before the good one
MUST_SHOW_JOB_BOUND_S = 1.0 + MARGIN_S
MUST_SHOW_JOBS = 30

STARTUP_S = 20.0  # longest a process may take to answer
FIRST_HEALTH_S = 10.0  # longest the balancer may take to see a healthy backend online

# One job per worker endpoint, and the field a correct reply must carry.
JOBS: dict[str, tuple[dict[str, Any], str]] = {
    "/generate": ({"json": {"commands": "sudo apt-get install -y nginx", "model": MODEL}}, "playbook"),
    "/upload": ({"files": {"file": ("setup.sh", b"sudo apt-get install -y nginx\n", "text/x-sh")},
                 "data": {"model": MODEL}}, "playbook"),
    "/explain": ({"json": {"playbook": PLAYBOOK, "model": MODEL}}, "explanation"),
    "/generate-code": ({"json": {"description": "print hello", "model": MODEL}}, "code"),
    "/explain-code": ({"json": {"code": "print('hello')", "model": MODEL}}, "explanation"),
}


# --- processes --------------------------------------------------------------------------------

@dataclass
class FakeWorkerProcess(ServiceProcess):
    """``python -m tests.faults.fake_worker`` as a child process.

    Ready when it printed its READY line and (every listening mode, hang included) ``/fake/stats``
    answers; ``refuse`` binds nothing, so its READY line alone says it runs.
    """

    mode: str = "good"

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"fake worker {self.mode} exited with {self.proc.returncode}; log: {self.log_path}")
        if self.log_path is None or b"READY" not in self.log_path.read_bytes():
            return False
        if self.mode == "refuse":
            return True
        try:
            return http("GET", self.url + "/fake/stats", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stats(self) -> dict[str, Any]:
        response = http("GET", self.url + "/fake/stats", timeout=5)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def set_mode(self, mode: str, **extra: float) -> None:
        response = http("POST", self.url + "/fake/mode", json={"mode": mode, **extra}, timeout=5)
        assert response.status_code == 200, response.text


# The fake worker ends a job's bookkeeping (``max_jobs_in_flight``, the journal's ``end``) after its
# reply is sent; the balancer may send that worker's next job the moment it has read the reply, so
# on a busy machine the two overlap in that bookkeeping by a few milliseconds (6 ms measured under
# CPU pressure). A slot given out twice overlaps by most of a job.
OVERLAP_S = 0.05


JOB_MARKER = "echo job "  # the script of a numbered job: `echo job 007`, as the fakes' journals record it


def send_numbered_jobs(urls: list[str], *, first: int = 0, spacing_s: float = 0.05,
                       ) -> tuple[list[threading.Thread], dict[int, requests.Response | BaseException]]:
    """POST /generate to each URL in turn, ``spacing_s`` apart (the arrival order), each on its own
    connection and thread, numbered from ``first``; the replies (or errors) arrive in the dict."""
    results: dict[int, requests.Response | BaseException] = {}

    def send(number: int, url: str) -> None:
        try:
            results[number] = http("POST", url + "/generate", json={"commands": f"{JOB_MARKER}{number:03d}"}, timeout=90)
        except requests.RequestException as exc:
            results[number] = exc

    threads = []
    for offset, url in enumerate(urls):
        thread = threading.Thread(target=send, args=(first + offset, url), daemon=True)
        thread.start()
        threads.append(thread)
        time.sleep(spacing_s)
    return threads, results


def job_starts(workers: list[FakeWorkerProcess]) -> list[tuple[float, int]]:
    """(start time, job number) of every numbered job the workers ran, in the order they started."""
    starts = []
    for worker in workers:
        for entry in worker.stats()["journal"]:
            if entry["marker"].startswith(JOB_MARKER):
                starts.append((entry["start"], int(entry["marker"].split()[-1])))
    return sorted(starts)


def overlapping_jobs(workers: list[FakeWorkerProcess], prefix: str = "") -> list[tuple[int, float]]:
    """(worker port, seconds) of each overlap beyond OVERLAP_S between two jobs (markers starting with
    ``prefix``) on one worker: two jobs really running at once."""
    found = []
    for worker in workers:
        spans = sorted((e["start"], e["end"]) for e in worker.stats()["journal"] if e["marker"].startswith(prefix))
        for (_, end), (start, _) in zip(spans, spans[1:]):
            if end is not None and end - start > OVERLAP_S:
                found.append((worker.port, round(end - start, 3)))
    return found


def fake_worker(mode: str, log_dir: Path, *args: str) -> FakeWorkerProcess:
    port = free_port()
    return FakeWorkerProcess(
        [sys.executable, "-m", "tests.faults.fake_worker", "--port", str(port), "--mode", mode, "--max-life", "600", *args],
        port, log_path=log_dir / f"fake-{mode}-{port}.log", mode=mode,
    )


def http(method: str, url: str, **kwargs: Any) -> requests.Response:
    """One request on its own connection, never through an HTTP(S)_PROXY (loopback only)."""
    with requests.Session() as session:
        session.trust_env = False
        return session.request(method, url, **kwargs)


def start_all(*services: ServiceProcess) -> None:
    """Launch every process, then wait for each to answer."""
    start_processes(*services, timeout_s=STARTUP_S)


def stop(*services: ServiceProcess) -> None:
    """End started processes by pid: balancers first, with SIGINT (gunicorn's quick shutdown; SIGTERM
    drains, 1.3 s even when idle), then the fakes; a process group still there after 10 s is killed."""
    balancers = [s for s in services if not isinstance(s, FakeWorkerProcess)]
    stop_processes(*balancers, sig=signal.SIGINT, timeout_s=10)
    stop_processes(*[s for s in services if isinstance(s, FakeWorkerProcess)], timeout_s=10)


@dataclass
class Balancer:
    service: ServiceProcess

    @property
    def url(self) -> str:
        return self.service.url

    def status(self) -> dict[str, Any]:
        response = http("GET", self.url + "/queue-status", timeout=5)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def backend(self, url: str) -> dict[str, Any]:
        return next(b for b in self.status()["backends"] if b["url"] == url)

    def wait_online(self, urls: list[str]) -> None:
        """Until every backend in ``urls`` is online and has reported its models (a health round ran)."""
        def online() -> bool:
            entries = {b["url"]: b for b in self.status()["backends"]}
            return all(entries[u]["status"] == "online" and entries[u]["models"] for u in urls)
        wait_until(online, FIRST_HEALTH_S, 0.05, what=f"{urls} online at the balancer; log {self.service.log_path}")


@dataclass
class Procs:
    """Processes a test started; all ended by pid at teardown (balancers first)."""

    log_dir: Path
    started: list[ServiceProcess] = field(default_factory=list)

    def fake(self, mode: str, *args: str) -> FakeWorkerProcess:
        service = fake_worker(mode, self.log_dir, *args)
        self.started.append(service)
        return service

    def balancer(self, backends: list[str], **env: str) -> Balancer:
        port = free_port()
        service = python_service(["app_distributed.py"], port, {**BALANCER_ENV, "BACKENDS": ",".join(backends), **env},
                                 log_path=self.log_dir / f"balancer-{port}.log")
        self.started.append(service)
        return Balancer(service)

    def stop_all(self) -> None:
        stop(*self.started)


@pytest.fixture(scope="module")
def good_fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeWorkerProcess]:
    """One good fake shared by every test of the module (it keeps no state the tests read)."""
    service = fake_worker("good", tmp_path_factory.mktemp("good-fake"))
    service.start(STARTUP_S)
    yield service
    stop(service)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    started = Procs(tmp_path)
    yield started
    started.stop_all()


# --- jobs -------------------------------------------------------------------------------------

@dataclass
class Outcome:
    path: str
    status: int
    backend: str | None
    body: Any
    elapsed_s: float


def send_job(balancer: Balancer, path: str, timeout_s: float) -> Outcome:
    kwargs, _ = JOBS[path]
    start = time.monotonic()
    response = http("POST", balancer.url + path, timeout=timeout_s, **kwargs)
    elapsed = time.monotonic() - start
    try:
        body = response.json()
    except ValueError:
        body = response.text[:300]
    return Outcome(path, response.status_code, response.headers.get("X-Backend"), body, elapsed)


def send_round(balancer: Balancer, bound_s: float) -> list[Outcome]:
    """One job per endpoint, all at once (so a job stuck on a faulty worker costs the round once)."""
    with ThreadPoolExecutor(len(JOBS)) as pool:
        return list(pool.map(lambda path: send_job(balancer, path, bound_s + 10), JOBS))


def is_correct(outcome: Outcome) -> bool:
    """A 200 whose JSON object carries the endpoint's field (the good fake's answer)."""
    field_name = JOBS[outcome.path][1]
    body = outcome.body
    if outcome.status != 200 or not isinstance(body, dict) or not isinstance(body.get(field_name), str):
        return False
    return field_name != "playbook" or body["playbook"] == PLAYBOOK


def check(outcomes: list[Outcome], backends: set[str], bound_s: float, mode: str) -> None:
    """Every job: a correct 200, from one of ``backends``, within ``bound_s``."""
    wrong = [o for o in outcomes if not is_correct(o) or o.backend not in backends]
    assert not wrong, f"{mode}: {len(wrong)}/{len(outcomes)} jobs did not get a correct 200 from {backends}: {wrong[:5]}"
    late = [o for o in outcomes if o.elapsed_s > bound_s]
    assert not late, f"{mode}: jobs slower than {bound_s:g}s: {late[:5]}"


# --- one balancer per mode: <faulty fake>, <good fake> ------------------------------------------

@dataclass(frozen=True)
class Fault:
    mode: str
    bound_s: float
    args: tuple[str, ...] = ()
    rounds: int = 3  # rounds of one job per endpoint
    correct_from_bad: bool = False  # its replies are correct too (slow within TIMEOUT): either backend may serve


FAULTS = [
    Fault("accept-close", ACCEPT_CLOSE_BOUND_S),
    Fault("die-mid-reply", DIE_MID_REPLY_BOUND_S),
    Fault("500", STATUS_500_BOUND_S),
    Fault("html-200", HTML_200_BOUND_S),
    Fault("wrong-json", WRONG_JSON_BOUND_S),
    # slow within TIMEOUT is no fault: its correct answers are relayed, and it stays online
    Fault("slow", SLOW_BOUND_S, ("--delay", str(SLOW_DELAY_S)), rounds=1, correct_from_bad=True),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.mode for f in FAULTS])
def test_job_fault_never_reaches_the_client(fault: Fault, good_fake: FakeWorkerProcess, procs: Procs) -> None:
    """The faulty fake answers /queue-status healthily, so the balancer keeps it online and sends it
    work (it is first in BACKENDS); every job must still come back as the good fake's 200."""
    bad = procs.fake(fault.mode, *fault.args)
    balancer = procs.balancer([bad.url, good_fake.url])
    start_all(bad, balancer.service)
    balancer.wait_online([bad.url, good_fake.url])

    outcomes = [o for _ in range(fault.rounds) for o in send_round(balancer, fault.bound_s)]

    check(outcomes, {good_fake.url, bad.url} if fault.correct_from_bad else {good_fake.url}, fault.bound_s, fault.mode)
    assert bad.stats()["jobs"] >= 1, f"{fault.mode}: the faulty fake was never sent a job: the fault was not exercised"
    assert balancer.backend(good_fake.url)["status"] == "online"
    if fault.correct_from_bad:
        assert balancer.backend(bad.url)["status"] == "online", "a slow but correct worker is no outlier"


def test_hang_job_and_status_never_reach_the_client(good_fake: FakeWorkerProcess, procs: Procs) -> None:
    """hang: accepts, reads, never answers (jobs and /queue-status). The fake starts good and is
    switched to hang once the balancer sees it online: a fake that hangs from the start is found
    out by the first health probe and might never be sent a job."""
    bad = procs.fake("good")
    balancer = procs.balancer([bad.url, good_fake.url])
    start_all(bad, balancer.service)
    balancer.wait_online([bad.url, good_fake.url])
    bad.set_mode("hang")  # the next health probe needs HEALTH_TIMEOUT to notice: jobs go out now

    outcomes = send_round(balancer, HANG_BOUND_S)

    check(outcomes, {good_fake.url}, HANG_BOUND_S, "hang")
    assert bad.stats()["jobs_by_mode"].get("hang", 0) >= 1, "no job reached the hung fake: the fault was not exercised"
    start = time.monotonic()
    status = balancer.status()  # answered from memory while a probe of the hung fake is pending
    assert time.monotonic() - start < 1.0
    assert next(b for b in status["backends"] if b["url"] == good_fake.url)["status"] == "online"


def test_worker_slower_than_timeout_is_not_sent_every_job(good_fake: FakeWorkerProcess, procs: Procs) -> None:
    """slow, --delay over TIMEOUT, /queue-status healthy: the worker answers probes but never a job in
    time. The job that timed out may get a 504 (it ran on a live worker; proxy.py makes that final) or
    be retried elsewhere; but a worker that misses TIMEOUT on every job must not keep being sent every
    job while a healthy one idles: at most OUTLIER_FAILURES clients see a 504, the jobs after that
    are the good fake's 200."""
    bad = procs.fake("slow", "--delay", str(SLOWER_THAN_TIMEOUT_DELAY_S))
    balancer = procs.balancer([bad.url, good_fake.url])
    start_all(bad, balancer.service)
    balancer.wait_online([bad.url, good_fake.url])

    outcomes = [send_job(balancer, "/generate", SLOWER_THAN_TIMEOUT_BOUND_S + 10) for _ in range(SLOWER_THAN_TIMEOUT_JOBS)]

    summary = [(o.status, "slow" if o.backend == bad.url else o.backend, round(o.elapsed_s, 2)) for o in outcomes]
    timeouts = [o for o in outcomes if o.status == 504 and isinstance(o.body, dict) and isinstance(o.body.get("error"), str)]
    others = [o for o in outcomes if o not in timeouts]
    assert all(is_correct(o) and o.backend == good_fake.url for o in others), summary
    assert all(o.elapsed_s <= SLOWER_THAN_TIMEOUT_BOUND_S for o in outcomes), summary
    assert len(timeouts) <= OUTLIER_FAILURES, f"the slower-than-TIMEOUT worker kept getting jobs: {summary}"


def test_refused_connections_never_reach_the_client(good_fake: FakeWorkerProcess, procs: Procs) -> None:
    """refuse: `--mode refuse` runs but binds nothing, so the kernel refuses connections to its port."""
    bad = procs.fake("refuse")
    balancer = procs.balancer([bad.url, good_fake.url])
    start_all(bad, balancer.service)
    balancer.wait_online([good_fake.url])

    outcomes = [o for _ in range(3) for o in send_round(balancer, REFUSE_BOUND_S)]

    check(outcomes, {good_fake.url}, REFUSE_BOUND_S, "refuse")
    entry = balancer.backend(bad.url)
    assert entry["status"] == "offline", entry
    assert "refused" in (entry["last_error"] or ""), entry


def test_flapping_worker_never_fails_a_client(good_fake: FakeWorkerProcess, procs: Procs) -> None:
    """flapping: good for FLAP_PERIOD_S, then resets every connection (status too) for FLAP_PERIOD_S.
    Jobs go out back to back for two cycles; in its up phase the flapping fake's answers are correct
    too, so either backend may serve, but no client may see a failure."""
    bad = procs.fake("flapping", "--flap-period", str(FLAP_PERIOD_S))
    balancer = procs.balancer([bad.url, good_fake.url])
    start_all(bad, balancer.service)
    balancer.wait_online([good_fake.url])

    outcomes: list[Outcome] = []
    deadline = time.monotonic() + FLAPPING_RUN_S
    paths = list(JOBS)
    while time.monotonic() < deadline and len(outcomes) < 2000:
        outcomes.append(send_job(balancer, paths[len(outcomes) % len(paths)], FLAPPING_BOUND_S + 10))

    check(outcomes, {good_fake.url, bad.url}, FLAPPING_BOUND_S, "flapping")
    stats = bad.stats()
    assert stats["jobs_by_mode"].get("flapping-down", 0) >= 1, f"no job met the down phase: {stats}"


def test_good_control_two_good_fakes_share_the_work(good_fake: FakeWorkerProcess, procs: Procs) -> None:
    """good: the harness itself: two good fakes, every job a correct 200 from one of them."""
    other = procs.fake("good")
    balancer = procs.balancer([other.url, good_fake.url])
    start_all(other, balancer.service)
    balancer.wait_online([other.url, good_fake.url])

    outcomes = [o for _ in range(2) for o in send_round(balancer, GOOD_BOUND_S)]

    check(outcomes, {other.url, good_fake.url}, GOOD_BOUND_S, "good")
    assert {o.backend for o in outcomes} == {other.url, good_fake.url}
    assert other.stats()["jobs_answered"] >= 1


# --- the must-show: outlier ejection ----------------------------------------------------

def three_bad_and_one_good(procs: Procs, good_fake: FakeWorkerProcess, **env: str) -> tuple[Balancer, list[FakeWorkerProcess]]:
    bad = [procs.fake("500"), procs.fake("html-200"), procs.fake("die-mid-reply")]
    balancer = procs.balancer([b.url for b in bad] + [good_fake.url], **env)
    start_all(*bad, balancer.service)
    balancer.wait_online([b.url for b in bad] + [good_fake.url])
    return balancer, bad


def send_sequentially(balancer: Balancer, good_fake: FakeWorkerProcess, most_ejected: int) -> None:
    """MUST_SHOW_JOBS /generate jobs one after another: each a correct 200 from the good fake within
    MUST_SHOW_JOB_BOUND_S, and after each, no more than ``most_ejected`` backends ejected. All jobs
    run before anything is asserted, so a failure reports the whole sequence."""
    outcomes: list[Outcome] = []
    ejected_after: list[list[str]] = []
    for _ in range(MUST_SHOW_JOBS):
        outcomes.append(send_job(balancer, "/generate", MUST_SHOW_JOB_BOUND_S + 10))
        ejected_after.append([b["url"] for b in balancer.status()["backends"] if b["status"] == "ejected"])
    summary = [(n + 1, o.status, o.backend, round(o.elapsed_s, 2)) for n, o in enumerate(outcomes)]
    wrong = [n + 1 for n, o in enumerate(outcomes) if not is_correct(o) or o.backend != good_fake.url]
    assert not wrong, (f"jobs {wrong} did not get a correct 200 from the good fake {good_fake.url}; "
                       f"first: {outcomes[wrong[0] - 1]}; all (job, status, X-Backend, s): {summary}")
    late = [n + 1 for n, o in enumerate(outcomes) if o.elapsed_s > MUST_SHOW_JOB_BOUND_S]
    assert not late, f"jobs {late} took longer than {MUST_SHOW_JOB_BOUND_S:g}s: {summary}"
    too_many = [(n + 1, e) for n, e in enumerate(ejected_after) if len(e) > most_ejected]
    assert not too_many, f"more than {most_ejected} backends ejected after jobs: {too_many}"


def test_must_show_three_bad_backends_ejected_after_at_most_3_failures(
    good_fake: FakeWorkerProcess, procs: Procs
) -> None:
    """500, html-200 and die-mid-reply beside one good fake, MAX_EJECTION_PERCENT=75 (3 of 4 may
    go), default RETRIES: 30 sequential jobs all 200; each bad backend ejected, and each was sent
    at most OUTLIER_FAILURES (3) jobs — its failures were consecutive."""
    balancer, bad = three_bad_and_one_good(procs, good_fake, MAX_EJECTION_PERCENT="75")

    send_sequentially(balancer, good_fake, most_ejected=3)

    backends = {b["url"]: b for b in balancer.status()["backends"]}
    for fake in bad:
        entry = backends[fake.url]
        assert entry["status"] == "ejected", f"{fake.mode}: {entry}"
        assert entry.get("ejections", 0) >= 1, f"{fake.mode}: {entry}"
        jobs = fake.stats()["jobs"]
        assert jobs <= 3, f"{fake.mode} was sent {jobs} jobs; ejection must follow 3 consecutive failures"
    assert backends[good_fake.url]["status"] == "online"


def test_must_show_ejection_never_exceeds_max_ejection_percent(good_fake: FakeWorkerProcess, procs: Procs) -> None:
    """The same four backends with the default MAX_EJECTION_PERCENT (50): all 30 jobs still 200, and
    exactly 2 of the 4 backends are ejected — never more than half."""
    balancer, bad = three_bad_and_one_good(procs, good_fake)

    send_sequentially(balancer, good_fake, most_ejected=2)

    backends = balancer.status()["backends"]
    ejected = [b["url"] for b in backends if b["status"] == "ejected"]
    assert len(ejected) == 2, backends
    assert set(ejected) <= {b.url for b in bad}, backends

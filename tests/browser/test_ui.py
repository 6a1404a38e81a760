"""The web UI and the status page in a real browser (chromium through Playwright) against a real
farm: a balancer and two one-slot workers on the Ollama emulator, all processes on loopback.

Each test leaves a screenshot of its page in ``run/test-artifacts/browser/``.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from tests.farms import HTTP, Farm
from tests.procs import wait_until

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture says so (a skip here, a failure under CI)
    expect = None  # type: ignore[assignment]

SCRIPT = "apt-get update\napt-get install -y nginx\nsystemctl enable --now nginx\n./configure --prefix=/opt/app\n"
SPLIT_SCRIPT = "\n".join([
    "apt-get install -y nginx", "systemctl enable nginx", "useradd -m deploy", "mkdir -p /srv/app",
    "apt-get install -y git", "chown deploy /srv/app",
])


def open_ui(page: Any) -> None:
    page.goto("/")
    expect(page.locator("#backends tr")).to_have_count(2)  # the status poll has answered: balancer features shown


def convert(page: Any, script: str, *, split: bool = False) -> None:
    page.fill("#input", script)
    page.select_option("#engine", "rules")
    if split:
        page.check("#split")
    page.click("#go")


def test_an_empty_result_pane_says_what_will_appear_there(page: Any) -> None:
    open_ui(page)
    expect(page.locator("#placeholder")).to_be_visible()
    expect(page.locator("#placeholder")).to_contain_text("the playbook will appear here")
    expect(page.locator("#output")).to_be_hidden()
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#copy")).to_be_disabled()
    expect(page.locator("#download")).to_be_disabled()
    page.click("nav button[data-task=explain]")
    expect(page.locator("#placeholder")).to_contain_text("No explanation yet")
    expect(page.locator("#result-title")).to_have_text("Explanation")
    expect(page.locator("#go")).to_have_text("Explain")


def test_convert_a_script_with_warnings_and_validation_beside_it_then_copy_and_download(page: Any, farm: Farm) -> None:
    open_ui(page)
    convert(page, SCRIPT)
    output = page.locator("#output")
    expect(output).to_contain_text("ansible.builtin.apt")
    expect(page.locator("#placeholder")).to_be_hidden()
    expect(page.locator("#validation-summary")).to_have_text("✓ valid playbook")
    expect(page.locator("#warnings li").first).to_contain_text("configure")  # no rule covers it: said beside the playbook
    expect(page.locator("#meta")).to_contain_text("engine rules")
    expect(page.locator("#meta")).to_contain_text(re.compile(r"served by http://127\.0\.0\.1:\d+"))
    expect(page.locator("#progress")).to_be_hidden()
    playbook = output.inner_text()
    assert playbook.startswith("---") or playbook.lstrip().startswith("- ")

    page.click("#copy")
    expect(page.locator("#copy")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == playbook

    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    assert download.suggested_filename == "playbook.yml"
    assert Path(download.path()).read_text(encoding="utf-8") == playbook


def test_convert_split_over_workers(page: Any, farm: Farm) -> None:
    open_ui(page)
    convert(page, SPLIT_SCRIPT, split=True)
    chunks = page.locator("#chunks li")
    expect(chunks).to_have_count(3)  # CHUNK_SIZE=2: six lines, three chunks
    expect(chunks.nth(0)).to_contain_text("lines 1–2")
    expect(chunks.nth(2)).to_contain_text("lines 5–6")
    expect(page.locator("#meta")).to_contain_text("3 chunks")
    text = page.locator("#output").inner_text()
    assert text.count("---") <= 1  # ONE playbook
    for module in ("ansible.builtin.apt", "ansible.builtin.user", "ansible.builtin.file"):
        assert module in text
    backends = {w.url for w in farm.workers}
    used = {line.rsplit(" on ", 1)[1].split(" ")[0] for line in chunks.all_inner_texts()}
    assert used <= backends


def test_upload_a_file(page: Any, tmp_path: Path) -> None:
    script = tmp_path / "web-server.sh"
    script.write_text(SCRIPT, encoding="utf-8")
    open_ui(page)
    page.click("nav button[data-task=upload]")
    expect(page.locator("#input")).to_be_hidden()
    page.set_input_files("#file", str(script))
    page.select_option("#engine", "rules")
    page.click("#go")
    expect(page.locator("#output")).to_contain_text("ansible.builtin.apt")
    with page.expect_download() as download_info:
        page.click("#download")
    assert download_info.value.suggested_filename == "web-server.yml"


def test_explain_shows_model_output_as_text_never_as_html(page: Any, farm: Farm) -> None:
    hostile = '<img src=x onerror="window.pwned=1"><b>bold?</b> This playbook installs nginx.'
    farm.emulator.queue_replies([{"content": hostile}])
    open_ui(page)
    page.click("nav button[data-task=explain]")
    page.fill("#input", "- hosts: all\n  tasks:\n    - ansible.builtin.apt: {name: nginx}\n")
    page.click("#go")
    expect(page.locator("#output")).to_have_text(hostile)
    assert page.locator("#output img, #output b").count() == 0
    assert page.evaluate("window.pwned") is None
    with page.expect_download() as download_info:
        page.click("#download")
    assert download_info.value.suggested_filename == "explanation.txt"


def test_errors_are_shown_with_their_message(page: Any, farm: Farm) -> None:
    open_ui(page)
    page.fill("#input", "   ")
    page.click("#go")
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Error 400")
    expect(error).to_contain_text("commands")  # the service's own message names the field
    expect(page.locator("#output")).to_be_hidden()
    expect(page.locator("#placeholder")).to_contain_text("No result")

    farm.emulator.queue_replies([{"status": 500, "error": "the GPU caught fire"}])
    page.click("nav button[data-task=explain]")
    page.fill("#input", "- hosts: all\n")
    page.click("#go")
    expect(error).to_contain_text("Error 502")
    expect(error).to_contain_text("GPU caught fire")


def test_a_queued_job_shows_its_place_in_the_queue_and_the_place_moves_up(page: Any, farm: Farm) -> None:
    # both one-slot workers busy (for 2 s and 4 s) and one job waiting (3 s once it runs): the
    # browser's job is second in line, first once the 2 s job ends, and runs (1.5 s) once the 4 s one does
    farm.emulator.queue_replies([
        {"content": "first", "delay_s": 2.0}, {"content": "second", "delay_s": 4.0},
        {"content": "third", "delay_s": 3.0}, {"content": "the browser's explanation", "delay_s": 1.5},
    ])
    open_ui(page)
    page.click("nav button[data-task=explain]")
    page.fill("#input", "- hosts: all\n")
    replies: list[int] = []

    def explain() -> None:
        replies.append(HTTP.post(farm.url + "/explain", json={"playbook": "- hosts: all\n"}, timeout=60).status_code)

    senders = [threading.Thread(target=explain) for _ in range(3)]
    for n, sender in enumerate(senders[:2], start=1):
        sender.start()
        wait_until(lambda: farm.emulator.stats()["in_flight"] == n, 10, 0.02, what=f"{n} jobs running")
    senders[2].start()
    wait_until(lambda: farm.status()["waiting"] == 1, 10, 0.02, what="a job waiting at the balancer")

    page.click("#go")
    progress = page.locator("#progress-text")
    expect(progress).to_contain_text("place 2 of 2 in the queue", timeout=1500)
    expect(progress).to_contain_text("place 1 of 1 in the queue", timeout=3000)
    expect(progress).to_contain_text(re.compile(r"· [1-9]\d*\.\d s"))  # how long it has waited, counting
    expect(progress).to_contain_text("Running on a worker", timeout=4000)
    expect(page.locator("#output")).to_have_text("the browser's explanation", timeout=5000)
    expect(page.locator("#progress")).to_be_hidden()
    for sender in senders:
        sender.join(30)
    assert replies == [200, 200, 200]


def test_the_status_page_shows_every_backend_and_a_live_chart(page: Any, farm: Farm) -> None:
    for _ in range(3):
        reply = HTTP.post(farm.url + "/generate", json={"commands": "apt-get install -y nginx", "engine": "rules"}, timeout=30)
        assert reply.status_code == 200
    open_ui(page)
    page.click("#status-link")
    expect(page).to_have_url(farm.url + "/status")
    rows = page.locator("#backends tr")
    expect(rows).to_have_count(2)
    for worker in farm.workers:
        row = page.locator(f'#backends tr[data-url="{worker.url}"]')
        expect(row).to_contain_text("online")
        expect(row).to_contain_text("0 / 1")
        expect(row).to_contain_text("codellama:13b")
    expect(page.locator("#t-online")).to_have_text("2 / 2")
    done = page.locator("#t-done")
    expect(done).to_have_text(re.compile(r"^\d+ / 0$"))
    completed = int(done.inner_text().split(" / ")[0])
    assert completed >= 3
    expect(page.locator("#chart-summary")).to_contain_text("jobs per minute")
    drawn = page.evaluate("""() => {
        const c = document.getElementById('chart');
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let inked = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked++;
        return inked;
    }""")
    assert drawn > 500  # axes, grid, labels and the series are on the canvas

    reply = HTTP.post(farm.url + "/explain", json={"playbook": "- hosts: all\n"}, timeout=30)  # the page keeps up by itself
    assert reply.status_code == 200
    expect(done).to_have_text(re.compile(rf"^{completed + 1} / 0$"), timeout=5000)

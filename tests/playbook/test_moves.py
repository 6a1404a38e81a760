"""fold_moves (playbook.moves): `mv` after the task that made its source makes it in place."""

from __future__ import annotations

from typing import Any

import pytest

from playbook.convert import COMMAND, convert_script
from playbook.passes import Step, tidy

GET_KAFKA = """get_kafka() {
    version=$1
    kafka_dir=/opt/kafka-$version
    url=https://example.org/kafka_2.12-$version.tgz
    jar=https://example.org/streams-$version-test.jar
    if [ ! -d /opt/kafka-$version ]; then
        pushd /tmp
        curl --retry 5 -O $url
        curl --retry 5 -O $jar || true
        file_tgz=`basename $url`
        tar -xzf $file_tgz
        rm -rf $file_tgz
        mv `basename $file_tgz .tgz` $kafka_dir
        mv streams-$version-test.jar $kafka_dir/libs || true
        popd
    fi
}
get_kafka 3.8.0
"""


def modules(tasks: list[dict[str, Any]]) -> list[str]:
    return [next(k for k in t if "." in k) for t in tasks]


def test_an_extracted_tree_moved_to_an_absent_place_is_extracted_there() -> None:
    tasks = convert_script(GET_KAFKA).tasks
    assert COMMAND not in modules(tasks)
    unpack = next(t for t in tasks if "ansible.builtin.unarchive" in t)
    assert unpack["ansible.builtin.unarchive"] == {
        "src": "/tmp/kafka_2.12-3.8.0.tgz", "dest": "/opt/kafka-3.8.0", "remote_src": True,
        "include": ["kafka_2.12-3.8.0"], "extra_opts": ["--strip-components=1"]}
    made = tasks[tasks.index(unpack) - 1]
    assert made["ansible.builtin.file"]["path"] == "/opt/kafka-3.8.0" and made["when"] == unpack["when"]
    jar = tasks[-1]  # the download moved to where the mv was: after the tree it lands in
    assert jar["ansible.builtin.get_url"]["dest"] == "/opt/kafka-3.8.0/libs" and jar["failed_when"] is False


def _get(dest: str, **extra: Any) -> dict[str, Any]:
    return {"name": "Download", "ansible.builtin.get_url": {"url": "https://h/x.jar", "dest": dest, "mode": "0644"},
            **extra}


def _mv(cmd: str, **extra: Any) -> dict[str, Any]:
    return {"name": "Move", COMMAND: {"cmd": cmd}, **extra}


def _tidy(*tasks: dict[str, Any]) -> list[dict[str, Any]]:
    return tidy([Step(task) for task in tasks]).tasks


def test_a_download_then_moved_downloads_to_the_destination() -> None:
    tasks = _tidy(_get("/tmp/x.jar"), {"name": "Other", "ansible.builtin.file": {"path": "/srv/y", "state": "absent"}},
                  _mv("mv /tmp/x.jar /opt/app/lib"))
    assert modules(tasks) == ["ansible.builtin.file", "ansible.builtin.get_url"]
    assert tasks[1]["ansible.builtin.get_url"]["dest"] == "/opt/app/lib"
    assert _tidy(*tasks) == tasks  # idempotent


@pytest.mark.parametrize(("tasks", "why"), [
    ([_get("/tmp/x.jar"), {"name": "Use", COMMAND: {"cmd": "unzip -l /tmp/other"}}, _mv("mv /tmp/x.jar /opt/lib")],
     "a command in between may read the file"),
    ([_get("/tmp/x.jar"), {"name": "Copy", "ansible.builtin.copy": {"src": "/tmp/x.jar", "dest": "/srv/x.jar",
                                                                      "remote_src": True}},
      _mv("mv /tmp/x.jar /opt/lib")], "a task in between names the file"),
    ([_get("/tmp/y.jar"), _mv("mv /tmp/y.jar /opt/lib")], "the file is not named after the URL"),
    ([_get("/tmp/x.jar"), _mv("mv /tmp/x.jar /opt/lib", when="a")], "the mv runs under another condition"),
    ([_get("/tmp/x.jar"), _mv("mv /tmp/*.jar /opt/lib")], "a glob"),
    ([_get("/tmp/x.jar"), _mv("mv -n /tmp/x.jar /opt/lib")], "an option"),
    ([_get("/tmp/x.jar"), _mv("mv /tmp/x.jar /opt/lib", ignore_errors=True)], "more on the task"),
])
def test_a_move_that_may_not_fold_stays(tasks: list[dict[str, Any]], why: str) -> None:
    assert _tidy(*tasks) == tasks, why


def test_an_extracted_tree_moved_where_something_may_already_be_stays_a_command() -> None:
    script = GET_KAFKA.replace("if [ ! -d /opt/kafka-$version ]; then", "if true; then")
    assert "mv /tmp/kafka_2.12-3.8.0 /opt/kafka-3.8.0" in [t[COMMAND]["cmd"] for t in convert_script(script).tasks
                                                           if COMMAND in t]

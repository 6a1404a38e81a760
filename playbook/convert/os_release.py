"""`. /etc/os-release`: the host's release variables, read once by a module; pure.

design: the file is shell assignments (`ID=ubuntu`, `VERSION_ID="22.04"`), so sourcing it
only sets variables. The host's file is read (slurp) and its standard variables become facts
(`shell_id`, `shell_version_id`, ...), so a later `[ "$ID" = "ubuntu" ]` or `case
"$ID-$VERSION_ID" in ...` is a `when` over them and needs no shell task. A value is the last
assignment of its name, its quotes taken off, as sourcing leaves it; a missing file or name is
empty, as the script's `[ -r /etc/os-release ] && . /etc/os-release` leaves it unset. Only the
simple form is read (os-release(5) allows no expansion in a value), and the file's other
names stay shell-only.
"""

from __future__ import annotations

from typing import Any

from playbook.convert.values import fact_name

OS_RELEASE = "/etc/os-release"
# os-release(5): the names scripts test
NAMES = ("NAME", "ID", "ID_LIKE", "VERSION", "VERSION_ID", "VERSION_CODENAME", "PRETTY_NAME", "UBUNTU_CODENAME")
REGISTER = "shell_os_release_file"


def _value(name: str) -> str:
    # the last `NAME=value` line; `"value"` and `'value'` lose their quotes; no match is empty.
    # design: the pattern holds no quote and no escape Jinja might read (\x22 and \x27 are the
    # quotes, for the regex alone), and `.*?` stays within its line: no backtracking grows with
    # the file
    pattern = "^" + name + "=[\\x22\\x27]?(.*?)[\\x22\\x27]?$"
    return "{{ ([''] + (" + REGISTER + ".content | default('') | b64decode | regex_findall('" \
        + pattern + "', multiline=True))) | last }}"


def os_release_tasks() -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The read and the facts, and each variable -> the `{{ fact }}` that holds it."""
    read = {"name": f"Read {OS_RELEASE}", "ansible.builtin.slurp": {"src": OS_RELEASE},
            "register": REGISTER, "failed_when": False}
    facts = {fact_name(name): _value(name) for name in NAMES}
    keep = {"name": f"Set the variables {OS_RELEASE} sets", "ansible.builtin.set_fact": facts}
    return [read, keep], {name: "{{ " + fact_name(name) + " }}" for name in NAMES}

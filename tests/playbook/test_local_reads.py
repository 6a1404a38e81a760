"""Playbooks that would read the validating machine's files or run commands there are refused by
their data alone (issue 12, item 4): the message never depends on what is on the disk."""

from __future__ import annotations

import pytest
import yaml

from playbook.local_reads import local_read_errors

PLAY = "- hosts: all\n  tasks:\n    - ansible.builtin.debug: {msg: hi}\n"

REFUSED = {
    "import_playbook": "- import_playbook: /etc/passwd\n",
    "import_playbook fqcn": "- ansible.builtin.import_playbook: ../../etc/passwd\n",
    "import_tasks": "- hosts: all\n  tasks:\n    - import_tasks: /etc/passwd\n",
    "include_tasks in a block": "- hosts: all\n  tasks:\n    - block:\n        - ansible.builtin.include_tasks: {file: /etc/passwd}\n",
    "include": "- hosts: all\n  handlers:\n    - include: /etc/passwd\n",
    "include_vars": "- hosts: all\n  tasks:\n    - ansible.legacy.include_vars: /etc/passwd\n",
    "import_role by path": "- hosts: all\n  tasks:\n    - import_role: {name: /etc}\n",
    "include_role": "- hosts: all\n  tasks:\n    - include_role: {name: ../../etc}\n",
    "action: import_tasks": "- hosts: all\n  tasks:\n    - action: import_tasks /etc/passwd\n",
    "roles by path": "- hosts: all\n  roles: [/etc]\n",
    "roles by name": "- hosts: all\n  roles: [{role: common}]\n",
    "vars_files": "- hosts: all\n  vars_files: [/etc/passwd]\n  tasks:\n    - debug: {msg: hi}\n",
    "lookup file in a task": "- hosts: all\n  tasks:\n    - debug: {msg: \"{{ lookup('file', '/etc/passwd') }}\"}\n",
    "query in vars": "- hosts: all\n  vars: {x: \"{{ query('fileglob', '/etc/*') }}\"}\n  tasks:\n    - debug: {var: x}\n",
    "q pipe": "- hosts: all\n  tasks:\n    - shell: echo {{ q ('pipe', 'id') }}\n",
    "lookup env in a play keyword": "- hosts: all\n  environment: {TOKEN: \"{{ lookup('env', 'WORKER_TOKEN') }}\"}\n  tasks:\n    - debug: {msg: hi}\n",
    "lookup in a bare when": "- hosts: all\n  tasks:\n    - debug: {msg: hi}\n      when: lookup('env', 'HOME') == '/root'\n",
    "with_file": "- hosts: all\n  tasks:\n    - debug: {msg: '{{ item }}'}\n      with_file: [/etc/passwd]\n",
    "with_fileglob": "- hosts: all\n  tasks:\n    - debug: {msg: '{{ item }}'}\n      with_fileglob: ['/etc/*']\n",
    "jinja test in hosts": "- hosts: \"{{ 'all' if '/etc/shadow' is exists else 'none' }}\"\n  tasks:\n    - debug: {msg: hi}\n",
    "jinja in the play name": "- name: \"{{ '/etc/passwd' | realpath }}\"\n  hosts: all\n  tasks:\n    - debug: {msg: hi}\n",
}

ALLOWED = {
    "a plain play": PLAY,
    "jinja in tasks and vars": "- hosts: all\n  vars: {pkg: nginx}\n  tasks:\n    - apt: {name: '{{ pkg }}'}\n      when: ansible_os_family == 'Debian'\n",
    "copy and template src": "- hosts: all\n  tasks:\n    - copy: {src: files/app.conf, dest: /etc/app.conf}\n    - template: {src: app.j2, dest: /etc/app}\n",
    "with_items and with_dict": "- hosts: all\n  tasks:\n    - debug: {msg: '{{ item }}'}\n      with_items: [a, b]\n    - debug: {msg: '{{ item.key }}'}\n      with_dict: {a: 1}\n",
    "a word that contains lookup": "- hosts: all\n  tasks:\n    - debug: {msg: 'dns lookup (fast) done; see faq(1)'}\n",
    "roles: []": "- hosts: all\n  roles: []\n  tasks:\n    - debug: {msg: hi}\n",
}


@pytest.mark.parametrize("text", REFUSED.values(), ids=REFUSED.keys())
def test_a_playbook_that_reads_local_paths_is_refused_with_a_clear_error(text: str) -> None:
    errors = local_read_errors(yaml.safe_load(text))
    assert errors, text
    assert all(e.startswith("play 1") for e in errors)
    assert any(word in " ".join(errors) for word in ("self-contained", "Jinja expression", "'vars'"))


@pytest.mark.parametrize("text", ALLOWED.values(), ids=ALLOWED.keys())
def test_a_self_contained_playbook_passes(text: str) -> None:
    assert local_read_errors(yaml.safe_load(text)) == []


@pytest.mark.parametrize("template", [
    "- import_playbook: {path}\n",
    "- hosts: all\n  vars_files: [{path}]\n  tasks:\n    - debug: {{msg: hi}}\n",
    "- hosts: all\n  tasks:\n    - import_tasks: {path}\n",
])
def test_the_error_says_nothing_about_the_file(template: str) -> None:
    """No oracle: an existing file, a directory and a missing path give the same message (but for the path)."""
    messages = [local_read_errors(yaml.safe_load(template.format(path=path)))[0].replace(path, "P")
                for path in ("/etc/passwd", "/etc", "/no/such/file")]
    assert messages[0] == messages[1] == messages[2]

"""What the worker asks the model, in one place: system prompts, few-shot examples, repair asks."""

from __future__ import annotations

import re

from worker.llm import Message

PLAYBOOK_SYSTEM = """You are an expert Ansible engineer. You convert shell commands into ONE Ansible playbook.
Rules:
- Answer with exactly one YAML document inside a single ```yaml fenced block, nothing else.
- The document is a list of plays; each play has name, hosts (use "all" unless told otherwise), become when root is needed, and tasks.
- Every task has a name and uses the fully-qualified module that fits (ansible.builtin.apt, ansible.builtin.service, ansible.builtin.copy, ansible.builtin.file, ansible.builtin.user, ansible.builtin.get_url, ...).
- Use ansible.builtin.command or ansible.builtin.shell only when no module fits, and then add creates, removes or changed_when.
- Keep the tasks in the order of the commands. Do not invent modules or parameters."""

PLAYBOOK_EXAMPLE_COMMANDS = """sudo apt-get update
sudo apt-get install -y nginx
sudo systemctl enable --now nginx"""

PLAYBOOK_EXAMPLE_ANSWER = """```yaml
---
- name: Install and start nginx
  hosts: all
  become: true
  tasks:
    - name: Update the apt cache
      ansible.builtin.apt:
        update_cache: true
    - name: Install nginx
      ansible.builtin.apt:
        name: nginx
        state: present
    - name: Enable and start nginx
      ansible.builtin.service:
        name: nginx
        state: started
        enabled: true
```"""

EXPLAIN_PLAYBOOK_SYSTEM = """You are an expert Ansible engineer. Explain the playbook you are given to a system administrator:
what it does play by play and task by task, what it changes on the hosts, and anything risky or not idempotent. Be concise; plain text or Markdown."""

GENERATE_CODE_SYSTEM = """You are an expert programmer. Write the code that the description asks for.
Answer with the code in one fenced block, then at most a few sentences on how to use it."""

EXPLAIN_CODE_SYSTEM = """You are an expert programmer. Explain the code you are given to a system administrator:
what it does step by step, its inputs and outputs, and anything risky. Be concise; plain text or Markdown."""


def fenced(text: str, lang: str) -> str:
    """``text`` in a fenced block whose fence cannot clash with backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def context_note(context: str) -> str:
    """Earlier commands the model must know about but not convert (a split chunk's state)."""
    if not context.strip():
        return ""
    return (
        "These commands ran before and set the directory and variables for what follows; "
        "do not convert them:\n\n" + fenced(context, "text") + "\n\n"
    )


def playbook_messages(commands: str, context: str = "") -> list[Message]:
    """Ask for a playbook converting ``commands``, with one worked example."""
    return [
        {"role": "system", "content": PLAYBOOK_SYSTEM},
        {"role": "user", "content": "Convert these shell commands into an Ansible playbook:\n\n" + fenced(PLAYBOOK_EXAMPLE_COMMANDS, "sh")},
        {"role": "assistant", "content": PLAYBOOK_EXAMPLE_ANSWER},
        {"role": "user", "content": context_note(context) + "Convert these shell commands into an Ansible playbook:\n\n" + fenced(commands, "sh")},
    ]


def repair_message(error: str, commands: str) -> Message:
    """Tell the model what was wrong with its last answer and ask again, restating the task."""
    return {
        "role": "user",
        "content": (
            f"Your answer is not a valid Ansible playbook: {error}\n"
            "Reply again with the complete corrected playbook in one ```yaml block, nothing else, "
            "converting these shell commands:\n\n" + fenced(commands, "sh")
        ),
    }


def explain_playbook_messages(playbook: str) -> list[Message]:
    return [
        {"role": "system", "content": EXPLAIN_PLAYBOOK_SYSTEM},
        {"role": "user", "content": "Explain this Ansible playbook:\n\n" + fenced(playbook, "yaml")},
    ]


def generate_code_messages(description: str) -> list[Message]:
    return [
        {"role": "system", "content": GENERATE_CODE_SYSTEM},
        {"role": "user", "content": description},
    ]


def explain_code_messages(code: str) -> list[Message]:
    return [
        {"role": "system", "content": EXPLAIN_CODE_SYSTEM},
        {"role": "user", "content": "Explain this code:\n\n" + fenced(code, "")},
    ]

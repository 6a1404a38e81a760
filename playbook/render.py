"""Render a playbook (list of plays) as ONE idiomatic, lint-clean YAML document.

Pure: data in, text out. The output always starts with ``---``, indents
sequences under their key by 2 spaces (what ansible-lint's yamllint config
accepts), writes ``true``/``false``, orders keys the way Ansible authors do,
uses ``|`` for multi-line text and ``>-`` for long single lines, quotes only
when YAML needs it (double quotes then), never emits anchors/aliases, and
loads back with ``yaml.safe_load`` to exactly the data given.
"""

# design: PyYAML's SafeDumper does the escaping and quoting decisions, which
# are the hard part to get right; we only (1) rebuild every mapping in our key
# order before dumping, (2) pick block styles per string in a representer,
# (3) force indented sequences and no aliases in the dumper, (4) swap single
# for double quotes in the emitter. A final safe_load comparison guards the
# round-trip; should a folded scalar ever not survive, we re-render without
# folding rather than return text that means something else.

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import yaml

from playbook.errors import PlaybookError
from playbook.validate import BLOCK_KEYS, is_module_key

log = logging.getLogger(__name__)

__all__ = ["render_playbook", "PLAY_KEY_ORDER", "TASK_KEY_ORDER"]

#: Play keys in this order first; unknown keys go before the task lists, sorted as given.
PLAY_KEY_ORDER: tuple[str, ...] = (
    "name", "hosts", "import_playbook", "ansible.builtin.import_playbook", "remote_user", "connection",
    "port", "become", "become_method", "become_user", "become_flags", "gather_facts", "gather_subset",
    "gather_timeout", "serial", "strategy", "order", "max_fail_percentage", "any_errors_fatal",
    "force_handlers", "ignore_errors", "ignore_unreachable", "check_mode", "diff", "no_log",
    "run_once", "throttle", "timeout", "collections", "module_defaults", "vars_files", "vars_prompt",
    "vars", "environment", "tags",
)  # fmt: skip
#: Play sections, always last, in execution order.
PLAY_SECTIONS: tuple[str, ...] = ("roles", "pre_tasks", "tasks", "post_tasks", "handlers")

#: Task keys after ``name`` and the module key, in this order; unknown keywords follow, then block keys.
TASK_KEY_ORDER: tuple[str, ...] = (
    "action", "local_action", "args", "environment", "vars", "become", "become_method", "become_user",
    "become_flags", "remote_user", "connection", "delegate_to", "delegate_facts", "run_once", "when",
    "loop", "loop_control", "register", "async", "poll", "until", "retries", "delay", "changed_when",
    "failed_when", "check_mode", "diff", "ignore_errors", "ignore_unreachable", "no_log", "notify",
    "listen", "tags", "throttle", "timeout",
)  # fmt: skip

_FOLD_OVER = 100  # single-line strings longer than this become folded block scalars
_WIDTH = 120  # the emitter folds after this column; yamllint in ansible-lint allows 160
_MAX_LINE = 160  # yamllint's line-length in ansible-lint: no line of the output is longer


def render_playbook(plays: list[dict[str, Any]]) -> str:
    """One YAML document (starting with ``---``) for the playbook, idiomatic and lint-clean."""
    if not isinstance(plays, list):
        raise PlaybookError(f"cannot render a {type(plays).__name__}; a playbook is a list of plays")
    data = [_order_play(p) if isinstance(p, Mapping) else _plain(p) for p in plays]
    text = _dump(data, fold=True)
    if not _round_trips(text, data):
        log.warning("folded rendering did not round-trip; rendering without folding")
        text = _dump(data, fold=False)
        if not _round_trips(text, data):  # pragma: no cover - PyYAML's plain dump round-trips
            raise PlaybookError("the playbook holds values that YAML cannot represent faithfully")
    return text


_C_SAFE_LOADER = getattr(yaml, "CSafeLoader", None)  # libyaml's parser, when PyYAML was built with it


def _round_trips(text: str, data: list[Any]) -> bool:
    """Whether ``text`` loads back to exactly ``data``. libyaml's parser answers first (the one
    Ansible reads playbooks with, and about ten times faster: a split's 200-task playbook took
    50 ms to check in pure Python); PyYAML's own parser has the last word on a difference."""
    if _C_SAFE_LOADER is not None and yaml.load(text, Loader=_C_SAFE_LOADER) == data:  # noqa: S506 - a safe loader
        return True
    return bool(yaml.safe_load(text) == data)


# ---------------------------------------------------------------------------
# key order


def _plain(value: Any) -> Any:
    """Plain YAML data: mappings -> dict, tuples/lists -> list; anything unrepresentable is an error."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise PlaybookError(f"cannot render a value of type {type(value).__name__} ({value!r}) as YAML")


def _ordered(mapping: Mapping[str, Any], head: list[str], tail: list[str]) -> dict[str, Any]:
    """``head`` keys first (in that order), then the rest as given, then ``tail`` keys."""
    out: dict[str, Any] = {}
    for key in head:
        if key in mapping:
            out[key] = mapping[key]
    for key, value in mapping.items():
        if key not in out and key not in tail:
            out[key] = value
    for key in tail:
        if key in mapping:
            out[key] = mapping[key]
    return out


def _order_play(play: Mapping[str, Any]) -> dict[str, Any]:
    ordered = _ordered(play, list(PLAY_KEY_ORDER), list(PLAY_SECTIONS))
    out: dict[str, Any] = {}
    for key, value in ordered.items():
        if key in ("pre_tasks", "tasks", "post_tasks", "handlers") and isinstance(value, list):
            out[key] = [_order_task(t) if isinstance(t, Mapping) else _plain(t) for t in value]
        else:
            out[key] = _plain(value)
    return out


def _order_task(task: Mapping[str, Any]) -> dict[str, Any]:
    modules = [k for k in task if is_module_key(k)]
    head = ["name", *modules, *TASK_KEY_ORDER]
    ordered = _ordered(task, head, ["block", "rescue", "always"])
    out: dict[str, Any] = {}
    for key, value in ordered.items():
        if key in BLOCK_KEYS and isinstance(value, list):
            out[key] = [_order_task(t) if isinstance(t, Mapping) else _plain(t) for t in value]
        else:
            out[key] = _plain(value)
    return out


# ---------------------------------------------------------------------------
# dumping


class _Emitter(yaml.emitter.Emitter):
    # design: a line of a literal block (a long shell line, an ssh key) or a word longer than
    # the line cannot be broken in its own style without changing the value; a double-quoted
    # scalar can break anywhere with an escaped line break (`\` at the end of the line, which
    # adds nothing to the value), so such a scalar is written double-quoted and broken so.
    _hard_wrap = False

    def choose_scalar_style(self) -> str:
        style = super().choose_scalar_style()
        style = '"' if style == "'" else style
        self._hard_wrap = not self.simple_key_context and self._too_long(style)
        return '"' if self._hard_wrap else style

    def _too_long(self, style: str) -> bool:
        assert self.analysis is not None
        text = self.analysis.scalar
        indent = (self.indent or 0) + self.best_indent
        room = _MAX_LINE - max(indent, self.column + 1)
        if style in ("|", ">"):  # a block's lines are as written (folding breaks only at spaces)
            unbroken = text.splitlines() if style == "|" else text.split()
            return any(len(line) > _MAX_LINE - indent for line in unbroken)
        # plain and double-quoted scalars break at spaces only (and, quoted, after an escape)
        return any(len(word) + 2 > room for word in text.split(" "))

    def write_double_quoted(self, text: str, split: bool = True) -> None:
        if not (self._hard_wrap and split):
            super().write_double_quoted(text, split)
            return
        self.write_indicator('"', True)
        escapes = yaml.emitter.Emitter.ESCAPE_REPLACEMENTS
        for index, char in enumerate(text):
            if char in escapes or char == "\ufeff":
                piece = f"\\u{ord(char):04X}" if char == "\ufeff" else "\\" + escapes[char]
            elif char == '"' or char == "\\":
                piece = "\\" + char
            elif "\x20" <= char <= "\x7e" or ("\xa0" <= char <= "\ud7ff" or "\ue000" <= char <= "\ufffd"):
                piece = char
            elif char <= "\xff":
                piece = f"\\x{ord(char):02X}"
            elif char <= "\uffff":
                piece = f"\\u{ord(char):04X}"
            else:
                piece = f"\\U{ord(char):08X}"
            # a line of the text starts a line of YAML; a long one breaks at a space once past
            # the folding width, anywhere before the hard limit. The `\` ends the line, and a
            # space that starts the next one is escaped (a continuation line's leading blanks
            # are not part of the value)
            past = self.column > self.best_width and char == " "
            if index and (past or text[index - 1] == "\n" or self.column + len(piece) + 2 > _MAX_LINE):
                self.stream.write("\\")
                self.column += 1
                self.write_indent()
                self.whitespace = False
                self.indention = False
                if char == " ":
                    piece = "\\ "
            self.stream.write(piece)
            self.column += len(piece)
        self.write_indicator('"', False)


def _make_dumper(fold: bool) -> type[yaml.SafeDumper]:
    class Dumper(_Emitter, yaml.serializer.Serializer, yaml.representer.SafeRepresenter, yaml.resolver.Resolver):
        def __init__(self, stream: Any, **kwargs: Any) -> None:
            _Emitter.__init__(
                self,
                stream,
                canonical=kwargs.get("canonical"),
                indent=kwargs.get("indent"),
                width=kwargs.get("width"),
                allow_unicode=kwargs.get("allow_unicode"),
                line_break=kwargs.get("line_break"),
            )
            yaml.serializer.Serializer.__init__(
                self,
                encoding=kwargs.get("encoding"),
                explicit_start=kwargs.get("explicit_start"),
                explicit_end=kwargs.get("explicit_end"),
                version=kwargs.get("version"),
                tags=kwargs.get("tags"),
            )
            yaml.representer.SafeRepresenter.__init__(
                self, default_style=kwargs.get("default_style"), default_flow_style=False, sort_keys=False
            )
            yaml.resolver.Resolver.__init__(self)

        def ignore_aliases(self, data: Any) -> bool:
            return True

        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            super().increase_indent(flow, False)

    def represent_str(dumper: yaml.representer.SafeRepresenter, value: str) -> yaml.ScalarNode:
        style = None
        if "\n" in value.rstrip("\n") or (value.endswith("\n") and len(value) > 1):
            style = "|"
        elif fold and len(value) > _FOLD_OVER and " " in value.strip():
            style = ">"
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, represent_str)
    return Dumper  # type: ignore[return-value]


def _dump(data: list[Any], *, fold: bool) -> str:
    return yaml.dump(
        data,
        Dumper=_make_dumper(fold),
        explicit_start=True,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        indent=2,
        width=_WIDTH,
    )

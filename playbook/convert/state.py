"""The walker's state: what the shell would know at this line (variables, the directory,
functions, ...), the tasks made so far, and the snapshot/restore that lets a nested block be
tried and rolled back. Every mixin of the walker builds on ``WalkerState``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

from playbook.rules.base import DEFAULT_UMASK
from playbook.passes import Step
from playbook.shell import Statement


@dataclass
class Context:
    """Per statement: what applies to every task it produces."""

    statement: Statement
    become: bool = False
    become_user: str | None = None
    ignore_errors: bool = False
    creates: str | None = None
    when: str | None = None  # a guard (`[ -f X ] || ( ... )`) the tasks run under


class Snapshot(NamedTuple):
    """What ``restore`` rolls back to: how many drafts, warnings and uncovered statements there
    were, and the shell state then."""

    drafts: int
    warnings: int
    uncovered: int
    variables: dict[str, str]
    environment: dict[str, str]
    cwd: str | None
    definitions: dict[str, str]
    ended_at: int | None
    umask: int


# design: the walker is one class split by job into mixins, each building on this state with
# no import cycle: WalkerState <- TasksMixin (tasks.py) <- ValuesMixin (values.py) <-
# BranchesMixin (branches.py), and TasksMixin <- FunctionsMixin (functions.py); ShellWalker
# (walker.py) takes BranchesMixin and FunctionsMixin and dispatches statements. A mixin reaches
# up only through ``statement``, declared here and defined by ShellWalker.
@dataclass
class WalkerState:
    """The shell's state as the walker keeps it; ``drafts`` are the tasks made so far."""

    variables: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    umask: int = DEFAULT_UMASK  # `umask 077`: what files made from here on get (shell tasks start with it)
    functions: dict[str, tuple[str, tuple[Statement, ...] | None]] = field(default_factory=dict)
    shell_only: set[str] = field(default_factory=set)  # variables only shell tasks set
    sourced: list[str] = field(default_factory=list)  # files `.`/`source` read: shell tasks read them too
    definitions: dict[str, str] = field(default_factory=dict)  # `X=$(cmd)`: set by the shell, carried into shell tasks
    ended_at: int | None = None  # the line of an `exit` every later line is behind
    depth: int = 0  # statements being converted inside one another (blocks, arms, calls)
    arguments: list[str] | None = None  # "$@" of the function being inlined (None: the script's, unknown)
    calling: list[str] = field(default_factory=list)  # the functions being inlined, innermost last
    directories: list[str | None] = field(default_factory=list)  # the `pushd` stack
    virtualenv: str | None = None  # the Python virtual environment `source .../bin/activate` entered
    uncalled: set[str] = field(default_factory=set)  # functions the script defines and never runs
    fact_variables: dict[str, str] = field(default_factory=dict)  # fact -> the shell variable it holds
    inputs: frozenset[str] = frozenset()  # variables the script reads and never sets: the host's environment's
    worked_out: dict[str, str] = field(default_factory=dict)  # `$(query)` in the line at hand -> the fact holding it
    host_set: dict[str, str] = field(default_factory=dict)  # variables a fact holds on every path, set or empty
    current: Statement | None = None  # the statement being converted (for warnings that need its line)
    locals: list[dict[str, tuple[str | None, str | None]]] = field(default_factory=list)  # per call: `local` names, their outer value
    drafts: list[Step] = field(default_factory=list)
    uncovered: list[Statement] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def statement(self, statement: Statement, become: bool = False, when: str | None = None,
                  become_user: str | None = None) -> None:
        """Convert one statement: ShellWalker.statement (the mixins recurse through it)."""
        raise NotImplementedError

    def prints_only(self, name: str, seen: frozenset[str] = frozenset()) -> bool:
        """True for a function that only prints: FunctionsMixin.prints_only."""
        raise NotImplementedError

    def try_statements(self, statements: tuple[Statement, ...], ctx: Context, fallbacks: bool = False) -> bool:
        """Convert nested statements at the outer statement's lines; roll back on a fallback
        (unless ``fallbacks``: a guarded block keeps its shell tasks, each under the guard)."""
        snapshot = self.snapshot()
        for inner in statements:
            moved = replace(inner, first_line=ctx.statement.first_line,
                            last_line=ctx.statement.last_line)
            self.statement(moved, become=ctx.become, when=ctx.when)
        fell_back = any(d.source is not None and d.source.rule == "fallback" for d in self.drafts[snapshot.drafts:]) \
            or len(self.uncovered) != snapshot.uncovered
        if (fell_back and not fallbacks) or any(s.kind == "error" for s in statements):
            self.restore(snapshot)
            return False
        return True

    def snapshot(self) -> Snapshot:
        return Snapshot(len(self.drafts), len(self.warnings), len(self.uncovered), dict(self.variables),
                        dict(self.environment), self.cwd, dict(self.definitions), self.ended_at, self.umask)

    def restore(self, snapshot: Snapshot) -> None:
        drafts, warnings, uncovered, variables, environment, cwd, definitions, ended_at, umask = snapshot
        del self.drafts[drafts:]
        del self.warnings[warnings:]
        del self.uncovered[uncovered:]
        self.variables, self.environment, self.cwd = variables, environment, cwd
        self.definitions, self.ended_at, self.umask = definitions, ended_at, umask

    def restore_shell_state(self, snapshot: Snapshot) -> None:
        """The shell's variables, environment, directory, umask and computed variables as they were at
        ``snapshot``, keeping the tasks made since (a block whose effects end with it)."""
        self.variables, self.environment = snapshot.variables, snapshot.environment
        self.cwd, self.definitions, self.umask = snapshot.cwd, snapshot.definitions, snapshot.umask

    def warn(self, statement: Statement, message: str) -> None:
        span = f"{statement.first_line}" if statement.first_line == statement.last_line \
            else f"{statement.first_line}-{statement.last_line}"
        warning = f"line {span}: {message}"
        if warning not in self.warnings:
            self.warnings.append(warning)

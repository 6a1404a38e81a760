"""Parse shell scripts into top-level statements with exact line spans (tree-sitter-bash).

# design: tree-sitter gives a concrete syntax tree that keeps going past errors, with exact
# byte/row positions. We walk only the top level of the program: each child node is one
# statement, and its span is what the chunker must never cut. For statements made of simple
# commands (a command, a pipeline, an `&&`/`||` list) we also extract what the rule engine
# needs: words with quotes removed (expansions kept verbatim and flagged), `sudo`/`env`
# stripped, redirections and the heredoc. tree-sitter nests whatever follows a heredoc's
# start on its line (`cat <<EOF | tee f`, `cat <<EOF && x`) *inside* the heredoc node, so
# commands are flattened into a token stream (commands and `|`, `&&`, `||`) and rebuilt.
# A statement the grammar could not parse is kept, flagged with its error, never dropped.
"""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any, Literal

import tree_sitter
import tree_sitter_bash

from playbook.braces import expand as expand_braces
from playbook.braces import has_braces

__all__ = [
    "Branch",
    "Command",
    "Heredoc",
    "ParseIssue",
    "Pipeline",
    "Redirect",
    "Script",
    "Statement",
    "StatementKind",
    "Word",
    "WordPart",
    "called_names",
    "parse_script",
]

StatementKind = Literal["command", "pipeline", "list", "compound", "function", "error"]

SIMPLE_NODE_TYPES = frozenset({"command", "declaration_command", "variable_assignment",
                               "variable_assignments", "unset_command"})
_EXPANSION_TYPES = frozenset({"simple_expansion", "expansion", "command_substitution",
                              "process_substitution", "arithmetic_expansion"})
_REDIRECT_TYPES = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})
_OPERATORS = frozenset({"|", "|&", "&&", "||"})
_GLOB_CHARS = re.compile(r"[*?\[]")
_SUDO_OPTS_WITH_ARG = frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T"})
_C_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b",
              "f": "\f", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}


@dataclass(frozen=True)
class WordPart:
    """A piece of a word: literal text (quotes removed) or an expansion kept as written."""

    text: str
    expansion: bool = False
    braces: bool = False  # unquoted text holding a brace expansion (`{a,b}`, `{1..3}`): see expanded_words


@dataclass(frozen=True)
class Word:
    """One shell word: its source text and its value with quotes and escapes removed."""

    raw: str
    parts: tuple[WordPart, ...]
    glob: bool = False  # unquoted *, ? or [ that the shell would expand

    @property
    def value(self) -> str:
        return "".join(p.text for p in self.parts)

    @property
    def dynamic(self) -> bool:
        """True when the value depends on an expansion ($VAR, $(cmd), ...) or a glob."""
        return self.glob or any(p.expansion for p in self.parts)

    @classmethod
    def literal(cls, text: str) -> Word:
        return cls(raw=text, parts=(WordPart(text),))


@dataclass(frozen=True)
class Redirect:
    """A file redirection: `op` is `>`, `>>`, `<`, `&>`, `>&`, ...; `fd` the explicit fd if any."""

    op: str
    target: str
    fd: int | None = None
    dynamic: bool = False


@dataclass(frozen=True)
class Heredoc:
    """A heredoc attached to a command; `quoted` means `<<'EOF'` (no expansion in the body)."""

    delimiter: str
    body: str
    quoted: bool
    strip_tabs: bool  # `<<-`


@dataclass(frozen=True)
class Command:
    """One pipeline stage. For simple commands `words` holds argv (sudo/env stripped)."""

    node_type: str
    text: str
    first_line: int
    last_line: int
    words: tuple[Word, ...] = ()
    assignments: tuple[tuple[str, Word], ...] = ()  # `A=1 cmd`, `export A=1`, `A=1`
    redirects: tuple[Redirect, ...] = ()
    heredoc: Heredoc | None = None
    herestring: Word | None = None
    become: bool = False
    become_user: str | None = None
    has_error: bool = False
    # compound commands: a `for` loop's variable and words; the statements of a for/while
    # body, a `{ }` group or a function body (None for other compound commands)
    loop_variable: str | None = None
    loop_values: tuple[Word, ...] = ()
    body: tuple[Statement, ...] | None = None
    function_name: str | None = None
    branches: tuple[Branch, ...] = ()  # an `if`: its `if`, `elif` and `else` arms in order

    @property
    def is_simple(self) -> bool:
        return self.node_type in SIMPLE_NODE_TYPES and not self.has_error

    @property
    def argv(self) -> tuple[str, ...]:
        return tuple(w.value for w in self.words)

    @property
    def name(self) -> str:
        return self.words[0].value if self.words else ""

    @property
    def dynamic(self) -> bool:
        return any(w.dynamic for w in self.words) or any(r.dynamic for r in self.redirects)


@dataclass(frozen=True)
class Branch:
    """One arm of an `if` (or a `case`): the statements of its condition (None for `else`) and
    its body. A `case` arm also keeps what it matches: the subject and its patterns."""

    condition: tuple[Statement, ...] | None
    body: tuple[Statement, ...]
    subject: Word | None = None
    patterns: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Pipeline:
    """Commands joined by `|`."""

    commands: tuple[Command, ...]
    negated: bool = False


@dataclass(frozen=True)
class Statement:
    """A top-level statement with its exact 1-based inclusive line span.

    `pipelines`/`operators` describe an and-or list: pipelines[i] operators[i] pipelines[i+1],
    operators being `&&` or `||`. A compound statement (if/for/while/case/{ }/( )) is a single
    pipeline holding a single non-simple Command; a function is kind "function".
    """

    text: str
    first_line: int
    last_line: int
    kind: StatementKind
    node_type: str
    pipelines: tuple[Pipeline, ...] = ()
    operators: tuple[str, ...] = ()
    background: bool = False
    errors: tuple[str, ...] = ()

    @property
    def commands(self) -> tuple[Command, ...]:
        """Every stage of every pipeline, in order."""
        return tuple(c for p in self.pipelines for c in p.commands)

    @property
    def command(self) -> Command | None:
        """The command when the statement is exactly one simple command, else None."""
        if self.kind == "command" and len(self.pipelines) == 1 and len(self.pipelines[0].commands) == 1:
            return self.pipelines[0].commands[0]
        return None

    @property
    def has_error(self) -> bool:
        return bool(self.errors)


@dataclass(frozen=True)
class ParseIssue:
    line: int
    message: str


@dataclass(frozen=True)
class Script:
    """A parsed script: its statements in order, comment lines, and parse problems."""

    source: str
    lines: tuple[str, ...]  # source lines without terminators (CRLF normalised)
    statements: tuple[Statement, ...]
    comment_lines: frozenset[int] = field(default_factory=frozenset)
    issues: tuple[ParseIssue, ...] = ()

    @property
    def shebang(self) -> str | None:
        first = self.lines[0] if self.lines else ""
        return first if first.startswith("#!") else None


@cache
def _language() -> tree_sitter.Language:
    return tree_sitter.Language(tree_sitter_bash.language())


# design: compound commands nest as deep as a script likes (`if` in `if` 200 times); past this
# depth a compound command keeps its text only (no body, no arms) and is handled as one shell
# task, so reading it never recurses without bound
MAX_NESTING = 24

_HEREDOC_SEMICOLON = re.compile(r"(<<-?\s*(?:'\w+'|\"\w+\"|\w+))\s*;[ \t]*$", re.MULTILINE)


@lru_cache(maxsize=64)
def parse_script(script: str) -> Script:
    """Parse a shell script into top-level statements; never raises on bad syntax.

    The result is immutable and cached by text: a split parses the whole script to cut it and
    again to see which functions it calls, and a worker may see the same chunk twice."""
    normalised = script.replace("\r\n", "\n")
    # tree-sitter-bash reads `cat > f <<EOF;` as the delimiter `EOF;`, and the heredoc then runs
    # to the end of the script; bash reads `EOF` and a `;` that ends the (empty) rest of the line
    normalised = _HEREDOC_SEMICOLON.sub(r"\1", normalised)
    src = normalised.encode("utf-8", errors="surrogatepass")
    tree = tree_sitter.Parser(_language()).parse(src)
    walker = _Walker(src)
    walker.walk_program(tree.root_node)
    lines = tuple(normalised.split("\n"))
    if lines and lines[-1] == "" and normalised.endswith("\n"):
        lines = lines[:-1]
    return Script(source=script, lines=lines, statements=tuple(walker.statements),
                  comment_lines=frozenset(walker.comment_lines), issues=tuple(walker.issues))


def _first_line(node: tree_sitter.Node) -> int:
    return node.start_point[0] + 1


def _last_line(node: tree_sitter.Node) -> int:
    row, col = node.end_point
    if col == 0 and row > node.start_point[0]:
        row -= 1  # ends at the start of the next line (e.g. a heredoc body's newline)
    return row + 1


class _Walker:
    def __init__(self, src: bytes, depth: int = 0) -> None:
        self.src = src
        self.depth = depth  # how deep inside compound commands this walker reads
        self.statements: list[Statement] = []
        self.comment_lines: set[int] = set()
        self.issues: list[ParseIssue] = []

    def text(self, node: tree_sitter.Node) -> str:
        return self.src[node.start_byte:node.end_byte].decode("utf-8", errors="replace")

    # --- top level -------------------------------------------------------------------------

    def walk_program(self, root: tree_sitter.Node) -> None:
        self.walk_children(root.children)

    def walk_children(self, children: list[tree_sitter.Node]) -> None:
        stray: list[tree_sitter.Node] = []
        for child in children:
            kind = child.type
            if kind == "comment":
                if _first_line(child) not in self._statement_lines():
                    self.comment_lines.add(_first_line(child))
                continue
            if kind in (";", ";;", "\n"):
                continue
            if kind == "&":
                if self.statements:
                    self.statements[-1] = _replace_background(self.statements[-1])
                continue
            if kind == "ERROR" and child.is_named and any(c.is_named for c in child.children):
                # design: a program-level ERROR wraps the statements it could not close; its
                # named children are still good statements, so keep walking inside it.
                self.flush_stray(stray)
                before = len(self.issues)
                self.walk_children(child.children)
                if len(self.issues) == before:
                    self.issues.append(ParseIssue(_first_line(child), "syntax error between "
                                                  f"lines {_first_line(child)} and "
                                                  f"{_last_line(child)}"))
                continue
            if not child.is_named or kind == "ERROR":
                stray.append(child)
                continue
            self.flush_stray(stray)
            self.statements.append(self.statement(child))
        self.flush_stray(stray)

    def _statement_lines(self) -> set[int]:
        if not self.statements:
            return set()
        last = self.statements[-1]
        return set(range(last.first_line, last.last_line + 1))

    def flush_stray(self, stray: list[tree_sitter.Node]) -> None:
        if not stray:
            return
        first, last = _first_line(stray[0]), max(_last_line(n) for n in stray)
        text = self.src[stray[0].start_byte:stray[-1].end_byte].decode("utf-8", errors="replace")
        message = f"line {first}: unexpected {text.split()[0] if text.split() else 'token'!r}"
        self.issues.append(ParseIssue(first, message))
        self.statements.append(Statement(text=text, first_line=first, last_line=last,
                                         kind="error", node_type="ERROR", errors=(message,)))
        stray.clear()

    def statement(self, node: tree_sitter.Node) -> Statement:
        errors = self.errors_in(node)
        seq: list[Command | str] = []
        self.flatten(node, seq)
        pipelines, operators = _build_and_or(seq)
        stages = [c for p in pipelines for c in p.commands]
        if node.type == "function_definition":
            kind: StatementKind = "function"
        elif errors and not stages:
            kind = "error"
        elif len(pipelines) > 1:
            kind = "list"
        elif len(stages) > 1:
            kind = "pipeline"
        elif stages and not stages[0].is_simple and not stages[0].has_error:
            kind = "compound"
        elif stages and stages[0].has_error:
            kind = "error"
        else:
            kind = "command"
        return Statement(text=self.text(node), first_line=_first_line(node),
                         last_line=_last_line(node), kind=kind, node_type=node.type,
                         pipelines=pipelines, operators=operators, errors=errors)

    def errors_in(self, node: tree_sitter.Node) -> tuple[str, ...]:
        if not node.has_error:
            return ()
        found: list[str] = []
        stack = [node]
        while stack:
            n = stack.pop()
            if n.is_missing:
                found.append(f"line {_first_line(n)}: missing {n.type!r}")
            elif n.type == "ERROR":
                snippet = self.text(n).strip().splitlines()
                found.append(f"line {_first_line(n)}: cannot parse "
                             f"{(snippet[0] if snippet else '')[:40]!r}")
            elif n.has_error:
                stack.extend(reversed(n.children))
        for message in found:
            self.issues.append(ParseIssue(int(message.split(":")[0].split()[1]), message))
        return tuple(found) or (f"line {_first_line(node)}: syntax error",)

    # --- and-or lists and pipelines --------------------------------------------------------

    def flatten(self, node: tree_sitter.Node, seq: list[Command | str]) -> None:
        kind = node.type
        if kind in ("list", "pipeline"):
            for child in node.children:
                if child.type in _OPERATORS:
                    seq.append("|" if child.type == "|&" else child.type)
                elif child.type == "comment" or not child.is_named:
                    continue
                else:
                    self.flatten(child, seq)
        elif kind == "negated_command":
            seq.append("!")
            for child in node.named_children:
                self.flatten(child, seq)
        elif kind == "redirected_statement":
            self.flatten_redirected(node, seq)
        else:
            seq.append(self.command(node))

    def flatten_redirected(self, node: tree_sitter.Node, seq: list[Command | str]) -> None:
        body = node.child_by_field_name("body")
        redirects: list[Redirect] = []
        heredoc: Heredoc | None = None
        herestring: Word | None = None
        tail: list[tree_sitter.Node] = []
        for child in node.children:
            if body is not None and child.id == body.id:
                continue
            if child.type == "file_redirect":
                redirects.append(self.redirect(child))
            elif child.type == "herestring_redirect":
                words = [c for c in child.named_children]
                herestring = self.word(words[-1]) if words else None
            elif child.type == "heredoc_redirect":
                heredoc, nested, tail_nodes = self.heredoc(child)
                redirects.extend(nested)
                tail.extend(tail_nodes)
            elif body is None and child.is_named and child.type != "comment":
                body = child
        start = len(seq)
        if body is not None:
            self.flatten(body, seq)
        else:
            seq.append(Command(node_type="command", text=self.text(node),
                               first_line=_first_line(node), last_line=_last_line(node)))
        # attach the redirections to the last command the body produced
        last_index = max(i for i in range(start, len(seq)) if isinstance(seq[i], Command))
        target = seq[last_index]
        assert isinstance(target, Command)
        seq[last_index] = _with_redirects(target, redirects, heredoc, herestring,
                                          _last_line(node))
        for child in tail:
            if child.type in _OPERATORS:
                seq.append("|" if child.type == "|&" else child.type)
            elif child.is_named and child.type != "comment":
                self.flatten(child, seq)

    def heredoc(self, node: tree_sitter.Node) -> tuple[Heredoc, list[Redirect], list[tree_sitter.Node]]:
        strip_tabs = any(c.type == "<<-" for c in node.children)
        delimiter_raw, body_text = "", ""
        redirects: list[Redirect] = []
        tail: list[tree_sitter.Node] = []
        body_node = end_node = None
        for child in node.children:
            if child.type == "heredoc_start":
                delimiter_raw = self.text(child)
            elif child.type == "heredoc_body":
                body_node = child
            elif child.type == "heredoc_end":
                end_node = child
            elif child.type == "file_redirect":
                redirects.append(self.redirect(child))
            elif child.type in ("<<", "<<-"):
                continue
            else:
                tail.append(child)
        if body_node is not None or end_node is not None:
            # design: take the body from the source lines between the start line and the end
            # delimiter, so leading tabs and expansions are exactly as written.
            start_row = node.start_point[0] + 1
            end_row = end_node.start_point[0] if end_node is not None else node.end_point[0]
            all_lines = self.src.decode("utf-8", errors="replace").split("\n")
            body_lines = all_lines[start_row:end_row]
            if strip_tabs:
                body_lines = [line.lstrip("\t") for line in body_lines]
            body_text = "".join(line + "\n" for line in body_lines)
        quoted = any(ch in delimiter_raw for ch in "'\"\\")
        delimiter = re.sub(r"['\"\\]", "", delimiter_raw)
        return Heredoc(delimiter=delimiter, body=body_text, quoted=quoted,
                       strip_tabs=strip_tabs), redirects, tail

    def redirect(self, node: tree_sitter.Node) -> Redirect:
        fd: int | None = None
        op = ""
        target_nodes: list[tree_sitter.Node] = []
        for child in node.children:
            if child.type == "file_descriptor":
                fd = int(self.text(child)) if self.text(child).isdigit() else None
            elif not child.is_named:
                op += child.type
            else:
                target_nodes.append(child)
        if target_nodes:
            word = self.word(target_nodes[0])
            return Redirect(op=op, target=word.value, fd=fd, dynamic=word.dynamic)
        return Redirect(op=op, target="", fd=fd)

    # --- commands and words ----------------------------------------------------------------

    def command(self, node: tree_sitter.Node) -> Command:
        base: dict[str, Any] = dict(node_type=node.type, text=self.text(node), first_line=_first_line(node),
                    last_line=_last_line(node), has_error=node.has_error)
        if node.type == "command":
            words: list[Word] = []
            assignments: list[tuple[str, Word]] = []
            redirects: list[Redirect] = []
            herestring: Word | None = None
            previous: tree_sitter.Node | None = None
            for child in node.children:
                touching = previous is not None and child.start_byte == previous.end_byte
                previous = child
                if touching and child.type in ("command_name", "word", "concatenation", "string", "raw_string",
                                               "simple_expansion", "expansion", "number"):
                    # design: tree-sitter-bash ends a word at `-$` in `kafka_$v-$version.tgz` and starts a
                    # new one: bytes that touch are one shell word, so join them back
                    target = child.named_children[0] if child.type == "command_name" and child.named_children else child
                    if words:
                        words[-1] = _joined(words[-1], self.word(target))
                        continue
                    if assignments:
                        name, value = assignments[-1]
                        assignments[-1] = (name, _joined(value, self.word(target)))
                        continue
                if child.type == "variable_assignment":
                    assignments.append(self.assignment(child))
                elif child.type == "command_name":
                    words.extend(self.word(c) for c in child.named_children)
                elif child.type == "file_redirect":
                    redirects.append(self.redirect(child))
                elif child.type == "herestring_redirect":
                    named = child.named_children
                    herestring = self.word(named[-1]) if named else None
                elif child.is_named and child.type != "comment":
                    words.append(self.word(child))
            if not words and assignments and not redirects:
                return Command(**{**base, "node_type": "variable_assignments"}, assignments=tuple(assignments))
            become, user, words = _strip_sudo(words)
            words, more = _strip_env(words)
            words = [each for word in words for each in expanded_words(word)]
            return Command(**base, words=tuple(words), assignments=tuple(assignments + more),
                           redirects=tuple(redirects), herestring=herestring,
                           become=become, become_user=user)
        if node.type in ("declaration_command", "unset_command"):
            words = [Word.literal(node.children[0].type)] if node.children else []
            assignments = []
            for child in node.named_children:
                if child.type == "variable_assignment":
                    name, value = self.assignment(child)
                    assignments.append((name, value))
                    words.append(Word(raw=self.text(child),
                                      parts=(WordPart(name + "="),) + value.parts))
                else:
                    words.append(self.word(child))
            return Command(**base, words=tuple(words), assignments=tuple(assignments))
        if node.type in ("variable_assignment", "variable_assignments"):
            targets = [node] if node.type == "variable_assignment" else [
                c for c in node.named_children if c.type == "variable_assignment"]
            return Command(**base, assignments=tuple(self.assignment(c) for c in targets))
        if node.type in ("for_statement", "compound_statement", "function_definition",
                         "while_statement", "subshell"):
            return Command(**base, **self.compound_parts(node))
        if node.type == "if_statement" and not node.has_error and self.depth < MAX_NESTING:
            return Command(**base, branches=self.branches(node))
        if node.type == "case_statement" and not node.has_error and self.depth < MAX_NESTING:
            return Command(**base, branches=self.case_arms(node))
        return Command(**base)  # compound: if/case/test/...

    def compound_parts(self, node: tree_sitter.Node) -> dict[str, Any]:
        parts: dict[str, object] = {}
        body = node.child_by_field_name("body")
        if node.type == "for_statement":
            variable = node.child_by_field_name("variable")
            parts["loop_variable"] = self.text(variable) if variable is not None else None
            parts["loop_values"] = tuple(each for v in node.children_by_field_name("value")
                                         for each in expanded_words(self.word(v)))
        elif node.type == "function_definition":
            name = node.child_by_field_name("name")
            parts["function_name"] = self.text(name) if name is not None else None
        elif node.type in ("compound_statement", "subshell"):
            body = node
        if body is not None and body.type in ("do_group", "compound_statement", "subshell") \
                and self.depth < MAX_NESTING:
            inner = _Walker(self.src, self.depth + 1)
            inner.walk_children([c for c in body.children if c.is_named or c.type in (";", "&")])
            parts["body"] = tuple(inner.statements)
        return parts

    def branches(self, node: tree_sitter.Node) -> tuple[Branch, ...]:
        """The arms of an if_statement: `if C; then B` and each `elif`/`else` clause."""
        arms: list[Branch] = []
        for clause in [node, *(c for c in node.children if c.type in ("elif_clause", "else_clause"))]:
            condition: list[tree_sitter.Node] = []
            body: list[tree_sitter.Node] = []
            target = body if clause.type == "else_clause" else condition
            for child in clause.children:
                if child.type in ("elif_clause", "else_clause", "fi", "if", "elif", "else"):
                    continue
                if child.type == "then":
                    target = body
                    continue
                if child.is_named or child.type in (";", "&"):
                    target.append(child)
            arms.append(Branch(None if clause.type == "else_clause" else self.nested(condition),
                               self.nested(body)))
        return tuple(arms)

    def case_arms(self, node: tree_sitter.Node) -> tuple[Branch, ...]:
        """The arms of a case_statement, each as the `case` that tests its patterns alone (so it
        can run as a check on the host) with the subject and patterns kept for deciding here."""
        subject_node = node.child_by_field_name("value")
        if subject_node is None:
            return ()
        subject = self.text(subject_node)
        arms: list[Branch] = []
        falls_through: list[bool] = []  # `;&`: the next arm's body runs too
        for item in (c for c in node.children if c.type == "case_item"):
            ends = [self.text(c) for c in item.children if c.type in (";;", ";&", ";;&")]
            if ";;&" in ends:
                return ()  # the next patterns are tested as well: not an if/elif chain
            falls_through.append(";&" in ends)
            patterns = [c for i, c in enumerate(item.children) if item.field_name_for_child(i) == "value"]
            if not patterns:
                return ()
            body = [c for i, c in enumerate(item.children)
                    if item.field_name_for_child(i) is None and (c.is_named or c.type in (";", "&"))
                    and c.type != "comment"]
            test = f"case {subject} in {'|'.join(self.text(p) for p in patterns)}) true ;; *) false ;; esac"
            condition = Statement(text=test, first_line=_first_line(item), last_line=_first_line(item),
                                  kind="compound", node_type="case_statement")
            arms.append(Branch((condition,), self.nested(body), subject=self.word(subject_node),
                               patterns=tuple(self.word(p) for p in patterns)))
        for index in range(len(arms) - 2, -1, -1):
            if falls_through[index]:
                arms[index] = Branch(arms[index].condition, arms[index].body + arms[index + 1].body,
                                     arms[index].subject, arms[index].patterns)
        return tuple(arms)

    def nested(self, nodes: list[tree_sitter.Node]) -> tuple[Statement, ...]:
        inner = _Walker(self.src, self.depth + 1)
        inner.walk_children(nodes)
        return tuple(inner.statements)

    def assignment(self, node: tree_sitter.Node) -> tuple[str, Word]:
        name_node = node.child_by_field_name("name")
        value_node = node.child_by_field_name("value")
        name = self.text(name_node) if name_node is not None else self.text(node).split("=")[0]
        if value_node is None:
            return name, Word.literal("")
        return name, self.word(value_node)

    def word(self, node: tree_sitter.Node) -> Word:
        raw = self.text(node)
        parts, glob = self.word_parts(node)
        merged = _merge_parts(parts)
        if not any(part.braces for part in merged) \
                and has_braces("".join(p.text if p.braces else "Q" for p in parts if p.text or p.expansion)):
            glob = True  # `{$A,b}`, `{"a b",c}`: braces around a piece bash expands first; left to the shell
        return Word(raw=raw, parts=merged, glob=glob)

    def word_parts(self, node: tree_sitter.Node) -> tuple[list[WordPart], bool]:
        kind = node.type
        raw = self.text(node)
        if kind == "concatenation":
            parts: list[WordPart] = []
            glob = False
            cursor = node.start_byte
            for child in node.children:
                if child.start_byte > cursor:  # bytes the grammar left between children
                    gap = self.src[cursor:child.start_byte].decode("utf-8", errors="replace")
                    parts.append(WordPart(_unescape_unquoted(gap), braces=_brace_piece(gap)))
                    glob = glob or bool(_GLOB_CHARS.search(gap))
                sub, sub_glob = self.word_parts(child)
                parts.extend(sub)
                glob = glob or sub_glob
                cursor = child.end_byte
            return parts, glob
        if kind == "raw_string":
            return [WordPart(raw[1:-1] if len(raw) >= 2 else raw)], False
        if kind == "ansi_c_string":
            return [WordPart(_decode_ansi_c(raw[2:-1]))], False
        if kind in ("string", "translated_string"):
            return self.string_parts(node), False
        if kind in _EXPANSION_TYPES:
            return [WordPart(raw, expansion=True)], False
        if kind in ("word", "number", "extglob_pattern", "test_operator", "variable_name"):
            glob = bool(_GLOB_CHARS.search(raw.replace("\\*", "").replace("\\?", "")
                                           .replace("\\[", "")))
            return [WordPart(_unescape_unquoted(raw), braces=_brace_piece(raw))], glob and kind != "number"
        if kind == "brace_expression":
            return [WordPart(raw, braces=True)], False
        return [WordPart(raw, expansion="$" in raw or "`" in raw)], False

    def string_parts(self, node: tree_sitter.Node) -> list[WordPart]:
        parts: list[WordPart] = []
        start = node.start_byte + (2 if self.text(node).startswith('$"') else 1)
        end = node.end_byte - 1
        cursor = start
        for child in node.named_children:
            if child.type in _EXPANSION_TYPES:
                if child.start_byte > cursor:
                    parts.append(WordPart(_unescape_double(
                        self.src[cursor:child.start_byte].decode("utf-8", errors="replace"))))
                parts.append(WordPart(self.text(child), expansion=True))
                cursor = child.end_byte
        if end > cursor:
            parts.append(WordPart(_unescape_double(
                self.src[cursor:end].decode("utf-8", errors="replace"))))
        return parts


def called_names(statements: Sequence[Statement]) -> set[str]:
    """Every name run as a command anywhere in ``statements`` (inside blocks, arms, loops and
    function bodies, and `$(name ...)`/`` `name` `` substitutions): the functions a script calls."""
    names: set[str] = set()
    stack = list(statements)
    while stack:
        statement = stack.pop()
        names.update(re.findall(r"(?:\$\(|`)\s*([A-Za-z_][\w:-]*)", statement.text))
        for command in statement.commands:
            if command.is_simple and command.words:
                names.add(command.words[0].value)
            stack.extend(command.body or ())
            for branch in command.branches:
                stack.extend(branch.condition or ())
                stack.extend(branch.body)
    return names


def _joined(first: Word, second: Word) -> Word:
    """Two touching pieces of one shell word; a `$` the grammar left alone takes the name after it."""
    parts = list(first.parts)
    rest = list(second.parts)
    if parts and parts[-1] == WordPart("$", expansion=True) and rest and not rest[0].expansion:
        name = re.match(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]", rest[0].text)
        if name:
            parts[-1] = WordPart("$" + name.group(0), expansion=True)
            rest[0] = WordPart(rest[0].text[name.end():])
    return Word(raw=first.raw + second.raw, parts=_merge_parts(parts + rest), glob=first.glob or second.glob)


def expanded_words(word: Word) -> list[Word]:
    """The words bash makes of ``word`` by brace expansion: `f{,.bak}` is `f` and `f.bak`.
    Each is written back as a shell word of its own (its ``raw``), expansions as they were."""
    if not any(part.braces for part in word.parts):
        return [word]
    choices = [expand_braces(part.text) if part.braces else [part.text] for part in word.parts]
    words = []
    for picked in itertools.product(*choices):
        parts = [WordPart(text, expansion=part.expansion) for text, part in zip(picked, word.parts)]
        if not "".join(picked) and not any(q in word.raw for q in "'\""):
            continue  # `{a,}` makes `a` and an empty word, which bash drops
        raw = "".join(f'"{part.text}"' if part.expansion else shlex.quote(part.text) if part.text else ""
                      for part in parts)
        words.append(Word(raw=raw or "''", parts=_merge_parts(parts), glob=word.glob))
    return words


def _brace_piece(raw: str) -> bool:
    """Whether an unquoted piece of a word may be (part of) a brace expansion: tree-sitter
    cuts `f{,.bak}` into `f`, `{`, `,.bak` and `}`, so the pieces are joined before deciding.
    An escaped brace or comma is literal: such a piece is left whole."""
    return "\\" not in raw and any(c in raw for c in "{},.")


def _merge_parts(parts: list[WordPart]) -> tuple[WordPart, ...]:
    """Touching literal pieces as one; unquoted pieces that may hold braces joined among
    themselves first, and kept apart only where they do hold a brace expansion."""
    joined: list[WordPart] = []
    for part in parts:
        if joined and part.braces and joined[-1].braces:
            joined[-1] = WordPart(joined[-1].text + part.text, braces=True)
        elif part.text or part.expansion:
            joined.append(part)
    merged: list[WordPart] = []
    for part in joined:
        if part.braces and not has_braces(part.text):
            part = WordPart(part.text)
        if merged and not part.expansion and not merged[-1].expansion and not part.braces \
                and not merged[-1].braces:
            merged[-1] = WordPart(merged[-1].text + part.text)
        else:
            merged.append(part)
    return tuple(merged) or (WordPart(""),)


def _unescape_unquoted(text: str) -> str:
    text = text.replace("\\\n", "")
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def _unescape_double(text: str) -> str:
    text = text.replace("\\\n", "")
    return re.sub(r'\\([$`"\\])', r"\1", text)


def _decode_ansi_c(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in _C_ESCAPES:
                out.append(_C_ESCAPES[nxt])
                i += 2
                continue
            hex_match = re.match(r"x([0-9a-fA-F]{1,2})", text[i + 1:])
            if hex_match:
                out.append(chr(int(hex_match.group(1), 16)))
                i += 1 + len(hex_match.group(0))
                continue
            oct_match = re.match(r"[0-7]{1,3}", text[i + 1:])
            if oct_match:
                out.append(chr(int(oct_match.group(0), 8)))
                i += 1 + len(oct_match.group(0))
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _strip_sudo(words: list[Word]) -> tuple[bool, str | None, list[Word]]:
    if len(words) > 3 and words[0].value == "runuser" and words[1].value == "-u" and not words[0].dynamic:
        # `runuser -u USER [--] CMD ...` (util-linux): CMD as USER, as `sudo -u USER CMD`
        rest = words[4:] if words[3].value == "--" else words[3:]
        return (True, (None if words[2].value == "root" else words[2].value), rest) if rest else (False, None, words)
    if not words or words[0].value != "sudo" or words[0].dynamic:
        return False, None, words
    user: str | None = None
    i = 1
    while i < len(words) and words[i].value.startswith("-"):
        opt = words[i].value
        if opt == "--":
            i += 1
            break
        if opt in _SUDO_OPTS_WITH_ARG and i + 1 < len(words):
            if opt == "-u":
                user = words[i + 1].value
            i += 2
            continue
        if opt.startswith("-u") and len(opt) > 2:
            user = opt[2:]
        elif opt.startswith("--user="):
            user = opt.split("=", 1)[1]
        i += 1
    rest = words[i:]
    if not rest:  # bare `sudo -i`/`sudo -s`: nothing to run, keep as written
        return False, None, words
    return True, (None if user == "root" else user), rest


def _strip_env(words: list[Word]) -> tuple[list[Word], list[tuple[str, Word]]]:
    if not words or words[0].value != "env" or len(words) < 2:
        return words, []
    assignments: list[tuple[str, Word]] = []
    i = 1
    while i < len(words) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[i].value):
        name, _, _ = words[i].value.partition("=")
        value_parts = _drop_prefix(words[i].parts, len(name) + 1)
        assignments.append((name, Word(raw=words[i].raw, parts=value_parts)))
        i += 1
    if i == 1 or i >= len(words):
        return words, []
    return words[i:], assignments


def _drop_prefix(parts: tuple[WordPart, ...], count: int) -> tuple[WordPart, ...]:
    out: list[WordPart] = []
    for part in parts:
        if count <= 0:
            out.append(part)
        elif not part.expansion and len(part.text) > count:
            out.append(WordPart(part.text[count:]))
            count = 0
        else:
            count -= len(part.text)
    return tuple(out) or (WordPart(""),)


def _with_redirects(command: Command, redirects: list[Redirect], heredoc: Heredoc | None,
                    herestring: Word | None, last_line: int) -> Command:
    from dataclasses import replace

    return replace(command, redirects=command.redirects + tuple(redirects),
                   heredoc=heredoc or command.heredoc,
                   herestring=herestring or command.herestring,
                   last_line=max(command.last_line, last_line if heredoc else command.last_line))


def _replace_background(statement: Statement) -> Statement:
    from dataclasses import replace

    return replace(statement, background=True)


def _build_and_or(seq: list[Command | str]) -> tuple[tuple[Pipeline, ...], tuple[str, ...]]:
    pipelines: list[Pipeline] = []
    operators: list[str] = []
    stages: list[Command] = []
    negated = False
    for item in seq:
        if isinstance(item, Command):
            stages.append(item)
        elif item == "!":
            negated = True
        elif item == "|":
            continue
        else:  # && or ||
            if stages:
                pipelines.append(Pipeline(tuple(stages), negated))
            operators.append(item)
            stages, negated = [], False
    if stages:
        pipelines.append(Pipeline(tuple(stages), negated))
    return tuple(pipelines), tuple(operators[:max(len(pipelines) - 1, 0)])


def source_text(commands: Sequence[Command]) -> str:
    """Shell text that runs ``commands`` as a pipeline, redirections, here-strings and heredocs
    included (a Command's own ``text`` holds only its words): the line first, then the
    heredoc bodies, as bash reads them."""
    parts, bodies = [], []
    for command in commands:
        piece = command.text
        for redirect in command.redirects:
            target = redirect.target if redirect.dynamic or redirect.op.endswith("&") else shlex.quote(redirect.target)
            piece += f" {'' if redirect.fd is None else redirect.fd}{redirect.op}{target}"
        if command.herestring is not None and "<<<" not in piece:  # tree-sitter may keep it in the command
            piece += f" <<< {command.herestring.raw}"
        if command.heredoc is not None:
            heredoc = command.heredoc
            delimiter = f"'{heredoc.delimiter}'" if heredoc.quoted else heredoc.delimiter
            piece += f" <<{'-' if heredoc.strip_tabs else ''}{delimiter}"
            body = heredoc.body if heredoc.body.endswith("\n") or not heredoc.body else heredoc.body + "\n"
            bodies.append(body + heredoc.delimiter)
        parts.append(piece)
    return " | ".join(parts) + "".join("\n" + body for body in bodies)

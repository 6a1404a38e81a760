"""Downloads and sources: wget, curl, tar, unzip, git clone."""

from __future__ import annotations

import posixpath
import re
from typing import Any
from urllib.parse import urlparse

from playbook.rules import rule
from playbook.rules.base import Invocation, Task, octal_mode, parse_options

GET_URL = "ansible.builtin.get_url"


def _is_url(value: str) -> bool:
    return bool(re.match(r"^(https?|ftp)://", value))


def _url_basename(url: str) -> str | None:
    name = posixpath.basename(urlparse(url).path)
    return name or None


def _download(inv: Invocation, url: str, dest: str | None, extra: dict[str, Any]) -> list[Task] | None:
    if dest is None:
        base = _url_basename(url)
        if base is None:
            return None
        dest = base
    path = inv.path(dest)
    if path is None:
        return None
    args = {"url": url, "dest": path, "mode": inv.new_file_mode, **extra}
    return [Task(f"Download {posixpath.basename(path) or url} to {path}", GET_URL, args,
                 role="other", path=path)]


@rule("wget")
def wget(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="OPtTU", long_value=(
        "--output-document", "--directory-prefix", "--tries", "--timeout", "--user-agent"))
    urls = [p for p in opts.positionals if _is_url(p)]
    if len(urls) != 1 or len(opts.positionals) != 1 or inv.stdout_file is not None:
        return None
    dest = opts.get("-O", "--output-document")
    if dest == "-":
        return None
    prefix = opts.get("-P", "--directory-prefix")
    if dest is None and prefix is not None:
        base = _url_basename(urls[0])
        if base is None:
            return None
        dest = posixpath.join(prefix, base)
    extra: dict[str, Any] = {}
    if opts.has("--no-check-certificate"):
        extra["validate_certs"] = False
    if opts.get("-T", "--timeout"):
        extra["timeout"] = int(opts.get("-T", "--timeout") or 10)
    return _download(inv, urls[0], dest, extra)


@rule("curl")
def curl(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="oXdHuAmwe", long_value=(
        "--output", "--request", "--data", "--header", "--user", "--user-agent", "--max-time",
        "--retry", "--connect-timeout", "--data-raw", "--data-binary", "--proto"))
    urls = [p for p in opts.positionals if _is_url(p)]
    if len(urls) != 1 or len(opts.positionals) != 1:
        return None
    url = urls[0]
    extra: dict[str, Any] = {}
    if opts.has("-k", "--insecure"):
        extra["validate_certs"] = False
    headers = opts.all("-H", "--header")
    dest = opts.get("-o", "--output")
    if opts.has("-O", "--remote-name"):
        dest = _url_basename(url)
    redirect = inv.stdout_file
    if redirect is not None and dest is None and redirect.op == ">":
        dest = redirect.target
    method = opts.get("-X", "--request")
    data = opts.get("-d", "--data", "--data-raw", "--data-binary")
    if dest is not None:
        if method not in (None, "GET") or data is not None:
            return None
        if headers:
            parsed = [h.split(":", 1) for h in headers]
            if any(len(h) != 2 for h in parsed):
                return None
            extra["headers"] = {k.strip(): v.strip() for k, v in parsed}
        return _download(inv, url, dest, extra)
    if redirect is not None:
        return None
    # design: curl without an output file is a request (a webhook, a health check): uri
    args: dict[str, Any] = {"url": url}
    if method and method != "GET":
        args["method"] = method
    elif data is not None:
        args["method"] = "POST"
    if data is not None:
        args["body"] = data
    if headers:
        parsed = [h.split(":", 1) for h in headers]
        if any(len(h) != 2 for h in parsed):
            return None
        args["headers"] = {k.strip(): v.strip() for k, v in parsed}
    if not opts.has("-f", "--fail"):
        args["status_code"] = [200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 500, 503]
    args.update(extra)
    changed = args.get("method", "GET") not in ("GET", "HEAD")
    return [Task(f"Call {url}", "ansible.builtin.uri", args,
                 extra={} if changed else {"changed_when": False})]


_ARCHIVE = re.compile(r"\.(tar(\.(gz|bz2|xz|zst))?|tgz|tbz2|txz|zip)$")


def _unarchive(inv: Invocation, src: str, dest: str | None, extra: dict[str, Any]) -> list[Task] | None:
    src_path = src if _is_url(src) else inv.path(src)
    dest_path = inv.path(dest) if dest is not None else inv.directory
    if src_path is None or dest_path is None:
        return None
    args = {"src": src_path, "dest": dest_path, "remote_src": True, **extra}
    return [Task(f"Unpack {posixpath.basename(urlparse(src_path).path) or src_path} into {dest_path}",
                 "ansible.builtin.unarchive", args, path=dest_path)]


def _old_style_tar(args: list[str]) -> list[str]:
    """`tar xvfz FILE -C DIR` -> `-x -v -f FILE -z -C DIR`: in the old bundled form the values
    of `f` and `C` are the next words, in the order of the letters."""
    if not args or args[0].startswith("-") or not re.fullmatch(r"[xvzjJfpC]+", args[0]):
        return args
    letters, rest = args[0], args[1:]
    out: list[str] = []
    for letter in letters:
        out.append("-" + letter)
        if letter in "fC" and rest:
            out.append(rest.pop(0))
    return out + rest


@rule("tar")
def tar(inv: Invocation) -> list[Task] | None:
    return _tar(inv, None)


def unpack_download(url: str, tar: Invocation) -> list[Task] | None:
    """`curl -fsSL URL | tar -xz -C DIR` (the walker calls this for a download piped into tar):
    the unarchive module fetches the URL itself (src: URL, remote_src), so nothing else is
    needed; None when the tar stage is not an extraction of its standard input."""
    return _tar(tar, url) if _is_url(url) else None


def _tar(inv: Invocation, url: str | None) -> list[Task] | None:
    """tar -x of a file, or (``url``) of what a download writes to tar's standard input."""
    args = _old_style_tar(list(inv.args))
    opts = parse_options(args, takes_value="fC", long_value=("--file", "--directory",
                                                             "--strip-components"))
    if not opts.has("-x", "--extract"):
        return None
    archive = opts.get("-f", "--file")
    if url is not None:
        if archive not in (None, "-"):
            return None
        archive = url
    elif archive is None or archive == "-" or _is_url(archive):
        return None
    extra: dict[str, Any] = {}
    if opts.positionals:
        # `tar -xzf go.tgz go`: only those members (and what is under them)
        if opts.has("--wildcards") or any(re.search(r"[*?\[]", p) for p in opts.positionals):
            return None
        extra["include"] = list(opts.positionals)
    strip = opts.get("--strip-components")
    if strip:
        extra["extra_opts"] = [f"--strip-components={strip}"]
    return _unarchive(inv, archive, opts.get("-C", "--directory"), extra)


@rule("unzip")
def unzip(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="d")
    if len(opts.positionals) != 1 or not opts.positionals[0].endswith(".zip"):
        return None
    return _unarchive(inv, opts.positionals[0], opts.get("-d"), {})


_GIT_CLONE_FLAGS = frozenset({"-b", "--branch", "--depth", "--recursive", "--recurse-submodules", "--single-branch",
                              "-q", "--quiet", "-v", "--verbose", "--progress", "--bare", "-o", "--origin"})


@rule("git")
def git(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="bo", long_value=("--branch", "--depth", "--origin"))
    if not opts.positionals or opts.positionals[0] != "clone":
        return None
    if any(flag not in _GIT_CLONE_FLAGS for flag, _ in opts.flags):
        return None  # -c, --mirror, --no-checkout, --filter, ... are not the module's clone
    rest = opts.positionals[1:]
    if len(rest) not in (1, 2):
        return None
    repo = rest[0]
    dest = rest[1] if len(rest) == 2 else re.sub(r"\.git$", "", posixpath.basename(
        repo.rstrip("/")).split(":")[-1])
    path = inv.path(dest)
    if path is None or not dest:
        return None
    args: dict[str, Any] = {"repo": repo, "dest": path}
    branch = opts.get("-b", "--branch")
    # design: HEAD is what `git clone` checks out; lint (latest[git]) rightly wants a pin, but
    # only the author knows which tag or commit, so say so rather than invent one
    args["version"] = branch or "HEAD"
    # `git clone` makes the checkout once and never pulls into it: a later run keeps it as is
    args["update"] = False
    note = None if branch else (f"`git clone` of {repo} follows its default branch "
                                "(version: HEAD); pin version to a tag or commit")
    depth = opts.get("--depth")
    if depth is not None:
        if not depth.isdigit():
            return None
        args["depth"] = int(depth)
    if opts.has("--single-branch") or depth is not None:
        args["single_branch"] = True  # --depth implies --single-branch
    if opts.has("--recursive", "--recurse-submodules"):
        args["recursive"] = True
    else:
        args["recursive"] = False  # the module clones submodules unless told not to
    if opts.has("--bare"):
        args["bare"] = True
    origin = opts.get("-o", "--origin")
    if origin is not None:
        args["remote"] = origin
    return [Task(f"Clone {repo} into {path}", "ansible.builtin.git", args, path=path, note=note)]


def mode_of(value: str) -> str | None:
    return octal_mode(value)

"""SQL run from the shell (`mysql -e`, `psql -c`) and debconf answers: the modules that say it.

A statement list maps only when every statement maps (CREATE DATABASE, CREATE USER, GRANT,
ALTER USER ... PASSWORD, DROP DATABASE, DELETE FROM mysql.user WHERE User='x', FLUSH PRIVILEGES); anything else stays a command with
a warning, since half a translation would run the other half nowhere.
"""

from __future__ import annotations

import re
from typing import Any

from playbook.rules import rule
from playbook.rules.base import Invocation, Task, no_op, parse_options
from playbook.rules.content import literal

MYSQL_DB = "community.mysql.mysql_db"
MYSQL_USER = "community.mysql.mysql_user"
MYSQL_QUERY = "community.mysql.mysql_query"
PG_DB = "community.postgresql.postgresql_db"
PG_USER = "community.postgresql.postgresql_user"
PG_PRIVS = "community.postgresql.postgresql_privs"
DEBCONF = "ansible.builtin.debconf"

_NAME = r"[`\"']?([A-Za-z0-9_$.-]+)[`\"']?"
_ACCOUNT = r"'?([^'@\s]+)'?(?:@'?([^'\s]+)'?)?"
_QUOTED = r"'((?:[^']|'')*)'"


def statements(sql: str) -> list[str]:
    """The SQL split at semicolons outside quotes, blank ones dropped."""
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    for char in sql:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"`":
            quote = char
        elif char == ";":
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [" ".join(p.split()) for p in parts if p.strip()]


def _mysql_statement(sql: str) -> Task | None:
    if re.fullmatch(r"(?i)flush privileges", sql):
        return no_op("FLUSH PRIVILEGES: the mysql modules apply privileges at once")
    match = re.fullmatch(rf"(?i)create (?:database|schema)(?: if not exists)? {_NAME}"
                         r"(?:(?: default)? (?:character set|charset)\s*=?\s*(\w+))?(?:(?: default)? collate\s*=?\s*(\w+))?", sql)
    if match:
        args: dict[str, Any] = {"name": match.group(1), "state": "present"}
        if match.group(2):
            args["encoding"] = match.group(2)
        if match.group(3):
            args["collation"] = match.group(3)
        return Task(f"Create the MySQL database {match.group(1)}", MYSQL_DB, args)
    match = re.fullmatch(rf"(?i)drop (?:database|schema)(?: if exists)? {_NAME}", sql)
    if match:
        return Task(f"Drop the MySQL database {match.group(1)}", MYSQL_DB, {"name": match.group(1), "state": "absent"})
    # MariaDB's `IDENTIFIED WITH plugin USING PASSWORD('pw')` says `BY 'pw'`
    match = re.fullmatch(rf"(?i)(create|alter) user( if not exists)? {_ACCOUNT} identified"
                         rf"(?: with (\w+))? (?:by {_QUOTED}|using password\({_QUOTED}\))", sql)
    if match:
        args = {"name": match.group(3), "host": match.group(4) or "%", "state": "present"}
        secret = (match.group(6) if match.group(6) is not None else match.group(7)).replace("''", "'")
        if match.group(5):  # IDENTIFIED WITH mysql_native_password BY '...': that plugin, that password
            args.update({"plugin": match.group(5), "plugin_auth_string": secret})
        else:
            args["password"] = secret
        if match.group(2):
            args["update_password"] = "on_create"  # IF NOT EXISTS leaves an existing user's password
        return Task(f"Create the MySQL user {match.group(3)}", MYSQL_USER, args, {"no_log": True})
    match = re.fullmatch(r"(?i)delete from mysql\.user where user\s*=\s*'([^'\\]*)'", sql)
    if match:  # every host's account of that name (the anonymous one for '')
        name = match.group(1)
        return Task(f"Remove the MySQL user {name or '(anonymous)'} on every host", MYSQL_USER,
                    {"name": name, "host_all": True, "state": "absent"})
    match = re.fullmatch(rf"(?i)grant (.+?) on (\*|{_NAME})\.(\*|\w+) to {_ACCOUNT}(?: identified by {_QUOTED})?( with grant option)?", sql)
    if match:
        privileges = ",".join(p.strip().upper().replace("ALL PRIVILEGES", "ALL") for p in match.group(1).split(","))
        if match.group(8):
            privileges += ",GRANT"
        database = match.group(3) or "*"
        args = {"name": match.group(5), "host": match.group(6) or "%", "priv": f"{database}.{match.group(4)}:{privileges}",
                "append_privs": True, "state": "present"}
        extra: dict[str, Any] = {}
        if match.group(7):
            args["password"] = match.group(7).replace("''", "'")
            extra["no_log"] = True
        return Task(f"Grant {privileges} on {database}.{match.group(4)} to {match.group(5)}", MYSQL_USER, args, extra)
    return None


_MYSQL_NOTE = "the community.mysql modules need PyMySQL on the host (apt install python3-pymysql)"
_PG_NOTE = "the community.postgresql modules need psycopg2 on the host (apt install python3-psycopg2)"


def _noted(tasks: list[Task], note: str) -> list[Task]:
    """The first task carries ``note`` (a line-numbered warning in the conversion)."""
    return [Task(t.name, t.module, t.args, t.extra, t.role, note=note if i == 0 else None) for i, t in enumerate(tasks)]


_CLIENT_COMMAND = re.compile(r"(?i)(?:source|delimiter|\\\S|system|connect|use)\b")


def _mysql_query(sql: list[str], login: dict[str, Any], database: str | None) -> list[Task] | None:
    """Statements no module says (`UPDATE mysql.user ...`, `DELETE FROM mysql.db ...`): all of
    them, as written and in order, through community.mysql.mysql_query, as `mysql -e` ran them;
    never half of them through modules and the rest nowhere. The client's own commands
    (`source`, `use`, `\\G`) decline."""
    if not sql or any(_CLIENT_COMMAND.match(s) for s in sql):
        return None
    sql = [literal(s) for s in sql]  # `{{` in the SQL is the script's, not Ansible's
    args: dict[str, Any] = {"query": sql if len(sql) > 1 else sql[0], **login}
    if database:
        args["login_db"] = database
    extra = {"no_log": True} if re.search(r"(?i)password|identified", " ".join(sql)) else {}
    first = sql[0] if len(sql[0]) <= 40 else sql[0][:40].rstrip() + "..."
    more = f" and {len(sql) - 1} more" if len(sql) > 1 else ""
    return _noted([Task(f"Run in MySQL: {first}{more}", MYSQL_QUERY, args, extra)],
                  _MYSQL_NOTE + "; mysql_query runs the statements as written each time (not idempotent)")


@rule("mysql", "mariadb")
def mysql(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="euhPDS", long_value=("--execute", "--user", "--host", "--password", "--database"))
    sql = opts.get("-e", "--execute")
    login: dict[str, Any] = {}
    if opts.get("-u", "--user"):
        login["login_user"] = opts.get("-u", "--user")
    password = next((a[2:] for a in inv.args if a.startswith("-p") and len(a) > 2), None) or opts.get("--password")
    if password:
        login["login_password"] = password
    if opts.get("-h", "--host"):
        login["login_host"] = opts.get("-h", "--host")
    database = opts.positionals[0] if opts.positionals else opts.get("-D", "--database")
    read = [r.target for r in inv.redirects if r.op == "<" and r.fd in (None, 0)]
    if not sql and len(read) == 1 and inv.stdin is None and not opts.positionals[1:]:
        # `mysql -u root -p"pw" < /srv/init.sql`: the file's statements, imported as mysql_db does
        # (with the client, into the database named or, as `all`, wherever the file says)
        target = inv.path(read[0])
        known = {"-u", "--user", "-p", "--password", "-h", "--host", "-D", "--database"}
        flags = parse_options([a for a in inv.args if not (a.startswith("-p") and len(a) > 2)],
                              takes_value="uhD", long_value=("--user", "--host", "--password", "--database")).flags
        if target is None or any(f not in known for f, _ in flags):
            return None
        return _noted([Task(f"Import {target} into MySQL", MYSQL_DB,
                            {"name": database or "all", "state": "import", "target": target, **login})], _MYSQL_NOTE)
    if not sql or opts.positionals[1:]:
        return None
    tasks = []
    for statement in statements(sql):
        task = _mysql_statement(statement)
        if task is None:
            return _mysql_query(statements(sql), login, database)
        if task.role != "no-op":
            tasks.append(Task(task.name, task.module, {**task.args, **login}, task.extra))
    return _noted(tasks, _MYSQL_NOTE) if tasks else [no_op("FLUSH PRIVILEGES: the mysql modules apply privileges at once")]


# CREATE DATABASE's options -> community.postgresql.postgresql_db's parameters
_PG_DB_OPTIONS = {"owner": "owner", "encoding": "encoding", "template": "template",
                  "lc_collate": "lc_collate", "lc_ctype": "lc_ctype"}


def without_comments(sql: str) -> str:
    """SQL with its whole-line `--` comments dropped (what psql and mysql read from a file)."""
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


def _pg_statement(sql: str, database: str | None) -> Task | None:
    match = re.fullmatch(rf"(?i)create database {_NAME}(?: with)?((?: \w+\s*=?\s*(?:'[^']*'|[\w.$-]+))*)", sql)
    if match:
        args: dict[str, Any] = {"name": match.group(1), "state": "present"}
        for option, value in re.findall(r"(\w+)\s*=?\s*('[^']*'|[\w.$-]+)", match.group(2) or ""):
            key = _PG_DB_OPTIONS.get(option.lower())
            if key is None:
                return None  # CONNECTION LIMIT, TABLESPACE, ...: not said by the module
            args[key] = value.strip("'")
        return Task(f"Create the PostgreSQL database {match.group(1)}", PG_DB, args)
    match = re.fullmatch(rf"(?i)drop database(?: if exists)? {_NAME}", sql)
    if match:
        return Task(f"Drop the PostgreSQL database {match.group(1)}", PG_DB, {"name": match.group(1), "state": "absent"})
    match = re.fullmatch(rf"(?i)(?:create|alter) (?:user|role) {_NAME}(?: with)?((?: (?:login|superuser|createdb|createrole))*)"
                         rf"(?: (?:encrypted )?password {_QUOTED})?((?: (?:login|superuser|createdb|createrole))*)", sql)
    if match and (match.group(3) is not None or match.group(2) or match.group(4) or sql.lower().startswith("create")):
        args = {"name": match.group(1), "state": "present"}
        if match.group(3) is not None:
            args["password"] = match.group(3).replace("''", "'")
        flags = [f.upper() for f in f"{match.group(2) or ''} {match.group(4) or ''}".split()]
        if flags:
            args["role_attr_flags"] = ",".join(flags)
        extra = {"no_log": True} if "password" in args else {}
        return Task(f"Create the PostgreSQL user {match.group(1)}", PG_USER, args, extra)
    match = re.fullmatch(rf"(?i)grant all(?: privileges)? on database {_NAME} to {_NAME}", sql)
    if match:
        return Task(f"Grant all privileges on the database {match.group(1)} to {match.group(2)}", PG_PRIVS,
                    {"database": match.group(1), "roles": match.group(2), "type": "database", "privs": "ALL"})
    return None


@rule("psql")
def psql(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="cdUhpfv",
                         long_value=("--command", "--dbname", "--username", "--host", "--port", "--file", "--set"))
    sql = opts.get("-c", "--command")
    known = {"-d", "--dbname", "-U", "--username", "-h", "--host", "-p", "--port", "-q", "--quiet", "-X"}
    if sql is None and inv.stdin is not None and all(f in known or (f in ("-v", "--set") and str(v).startswith(
            "ON_ERROR_STOP=")) for f, v in opts.flags):
        # `psql <<EOF ... EOF`, `cat <<EOF | su - postgres -c psql`: the statements it reads;
        # a meta-command (`\c db`) is psql's own and is not mapped
        sql = without_comments(inv.stdin)
        if any(line.lstrip().startswith("\\") for line in sql.splitlines()):
            return None
    if not sql or opts.positionals[1:]:
        return None
    database = opts.get("-d", "--dbname") or (opts.positionals[0] if opts.positionals else None)
    login: dict[str, Any] = {}
    if opts.get("-U", "--username"):
        login["login_user"] = opts.get("-U", "--username")
    if opts.get("-h", "--host"):
        login["login_host"] = opts.get("-h", "--host")
    tasks = []
    for statement in statements(sql):
        task = _pg_statement(statement, database)
        if task is None:
            return None
        args = {**task.args, **login}
        if database and task.module != PG_DB:
            args.setdefault("login_db" if task.module == PG_PRIVS else "db", database)
        tasks.append(Task(task.name, task.module, args, task.extra))
    return _noted(tasks, _PG_NOTE)


@rule("mysqladmin")
def mysqladmin(inv: Invocation) -> list[Task] | None:
    """`mysqladmin [-u root] [-h host] create DB`."""
    opts = parse_options(inv.args, takes_value="uh", long_value=("--user", "--host"))
    if len(opts.positionals) != 2 or opts.positionals[0] != "create" or any(
            flag not in ("-u", "--user", "-h", "--host") for flag, _ in opts.flags):
        return None
    args: dict[str, Any] = {"name": opts.positionals[1], "state": "present"}
    if opts.get("-u", "--user"):
        args["login_user"] = opts.get("-u", "--user")
    if opts.get("-h", "--host"):
        args["login_host"] = opts.get("-h", "--host")
    return _noted([Task(f"Create the MySQL database {args['name']}", MYSQL_DB, args)], _MYSQL_NOTE)


@rule("createdb")
def createdb(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="OEUhp", long_value=("--owner", "--encoding"))
    if len(opts.positionals) != 1 or opts.get("-U") or opts.get("-h"):
        return None
    args: dict[str, Any] = {"name": opts.positionals[0], "state": "present"}
    if opts.get("-O", "--owner"):
        args["owner"] = opts.get("-O", "--owner")
    if opts.get("-E", "--encoding"):
        args["encoding"] = opts.get("-E", "--encoding")
    return _noted([Task(f"Create the PostgreSQL database {args['name']}", PG_DB, args)], _PG_NOTE)


@rule("createuser")
def createuser(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="Uhp", long_value=())
    names = {"-s": "SUPERUSER", "--superuser": "SUPERUSER", "-d": "CREATEDB", "--createdb": "CREATEDB",
             "-r": "CREATEROLE", "--createrole": "CREATEROLE", "-l": "LOGIN", "--login": "LOGIN"}
    if len(opts.positionals) != 1 or any(flag not in names for flag, _ in opts.flags):
        return None
    flags = [names[flag] for flag, _ in opts.flags]
    args: dict[str, Any] = {"name": opts.positionals[0], "state": "present"}
    if flags:
        args["role_attr_flags"] = ",".join(flags)
    return _noted([Task(f"Create the PostgreSQL user {args['name']}", PG_USER, args)], _PG_NOTE)


@rule("debconf-set-selections")
def debconf_set_selections(inv: Invocation) -> list[Task] | None:
    """`debconf-set-selections <<< "pkg question type value"` (or a heredoc / echo piped in)."""
    if inv.args or not inv.stdin or not inv.stdin.strip():
        return None
    tasks = []
    for line in inv.stdin.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(None, 3)
        if len(parts) < 3:
            return None
        package, question, vtype = parts[:3]
        value = parts[3] if len(parts) == 4 else ""
        extra = {"no_log": True} if vtype == "password" else {}
        tasks.append(Task(f"Preseed {question}", DEBCONF,
                          {"name": package, "question": question, "vtype": vtype, "value": value}, extra))
    return tasks or None

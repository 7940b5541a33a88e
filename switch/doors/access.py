"""Broker access control: users, passwords and ACLs so each terminal and member app reaches only its own topics.

One list of users (each with a role) is the source of truth. From it ``gongji-switch mosquitto-config``
writes mosquitto's configuration, password file and ACL, and the password file and ACL of the
embedded amqtt broker (``serve --access DIR``). A terminal's user name is its terminal id and a
member app's is its psn_no, so the broker itself refuses a terminal that speaks under another id.
A terminal account may be registered for an institution (``--terminal T1@P1``): the switch then
takes the institution from the account, not from what a request's envelope claims. Terminals and
apps read only their own events topic; the operators' ``{root}/events`` is the admin's.

Run again on the same directory, the command adds to what is there: every account already in
``users.yaml`` keeps its password (deployed terminals go on logging in), only new accounts get new
ones, and ``--new-passwords`` is the one way to give everyone a new password.

Strategy: every user gets explicit topics rather than a mosquitto ``pattern ... %u`` line. A pattern
applies to every user, so a terminal account "X" could then also speak as the member app of
psn_no "X"; explicit entries keep each account on the one channel it was made for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from switch.datafile import yaml_problem
from switch.errors import ConfigError
from switch.wire.envelope import NATIONAL
from switch.wire.topics import (
    CHANNELS,
    DEFAULT_ROOT,
    ID_RULE,
    ROUTED,
    checked_root,
    events_topic,
    probe_topic,
    request_filters,
    request_topic,
    response_topic,
    valid_id,
)

__all__ = [
    "ADMIN_USER",
    "SWITCH_USER",
    "AccessConfig",
    "Accounts",
    "Logins",
    "User",
    "amqtt_plugins",
    "merge_users",
    "mosquitto_acl",
    "mosquitto_password_hash",
    "previous_access",
    "read_access",
    "write_access",
]

SWITCH_USER = "gongji-switch"
ADMIN_USER = "admin"
ROLES = ("switch", "admin", "pos", "app")
ROLE_NAMES = {"switch": "switch", "admin": "admin", "pos": "terminal", "app": "member-app"}
DEFAULT_LISTEN = "127.0.0.1:1883"  # where mosquitto, or serve's embedded broker, listens unless told
# mosquitto 2.0's own choice (mosquitto_passwd): PBKDF2-HMAC-SHA512, 101 rounds, 12-byte salt.
PBKDF2_ROUNDS = 101

USERS_FILE = "users.yaml"
MOSQUITTO_CONF = "mosquitto.conf"
MOSQUITTO_PASSWD = "passwd"
MOSQUITTO_ACL = "acl"
AMQTT_PASSWD = "amqtt-passwd"
MOSQUITTO_DATA = "mosquitto-data"


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str  # switch / admin / pos / app
    password: str
    fixmedins_code: str | None = None  # pos only: the institution this terminal belongs to


@dataclass(frozen=True, slots=True)
class AccessConfig:
    """What ``mosquitto-config`` wrote: the topic root, the broker's address and the users."""

    directory: Path
    topic_root: str
    listen: str
    users: tuple[User, ...]

    def user(self, name: str) -> User:
        for user in self.users:
            if user.name == name:
                return user
        raise ConfigError(f"{self.directory / USERS_FILE} has no user {name!r}")

    @property
    def switch(self) -> User:
        return self.user(SWITCH_USER)

    @property
    def institutions(self) -> dict[str, str]:
        """terminal_id -> fixmedins_code of every terminal account registered for an institution."""
        return {u.name: u.fixmedins_code for u in self.users if u.role == "pos" and u.fixmedins_code}


def topics(user: User, root: str) -> tuple[list[str], list[str]]:
    """(may publish, may subscribe) for one user; ``+`` stands for any one id."""
    events = events_topic(root)
    own_events = [events_topic(root, channel, "+") for channel in ROUTED]
    if user.role == "switch":
        return ([response_topic(root, channel, "+") for channel in CHANNELS] + [events, *own_events,
                                                                              probe_topic(root)],
                [*request_filters(root), probe_topic(root)])
    if user.role == "admin":  # the operator reads every event, its own feed and everyone's
        return [request_topic(root, "admin")], [response_topic(root, "admin"), events, *own_events]
    return ([request_topic(root, user.role, user.name)],
            [response_topic(root, user.role, user.name), events_topic(root, user.role, user.name)])


# What each role may use on the HTTP door: the same as its topics (``topics`` above), as paths. A channel
# is the HTTP door's route (``switch.doors.http.route_of``), or "journal" for GET /gongji/v1/journal.
HTTP_USE = {
    "admin": "POST /gongji/v1/admin, GET /gongji/v1/events and GET /gongji/v1/journal",
    "pos": "the national paths (/callService, /csb/2102, ...) and GET /gongji/v1/events (its own events)",
    "app": "POST /gongji/v1/app/{name} and GET /gongji/v1/events (its own events)",
    "switch": "nothing: it is the switch's own broker login",
}


def http_refusal(user: User, channel: str, sender: str) -> str | None:
    """Why ``user`` may not use the HTTP door's ``channel`` as ``sender``; None when it may.

    The rules of its topics: a terminal sends national transactions (for the institution its account is
    registered for: the switch checks that, as on MQTT) and reads its own events; a member app uses only
    its own app path; only the admin user uses the admin channel, reads every event and the journal.
    """
    if user.role == "admin":
        allowed = channel in ("admin", "events", "journal")
    elif user.role == "pos":
        allowed = channel in (NATIONAL, "events")
    elif user.role == "app":
        allowed = channel == "events" or (channel == "app" and sender == user.name)
    else:
        allowed = False
    if allowed:
        return None
    return f"user {user.name} ({_ROLE_NAMES[user.role]}) may use {HTTP_USE[user.role].format(name=user.name)} only"


_ROLE_NAMES = {"admin": "the operator", "pos": "a terminal", "app": "a member app", "switch": "the switch"}


def own_events(user: User) -> tuple[str, str] | None:
    """Whose events ``user`` reads: None for every event (the admin), else ("pos", terminal_id) or ("app", psn_no)."""
    return None if user.role == "admin" else (user.role, user.name)


class Logins:
    """The accounts of the access files by name, for the HTTP door's Basic credentials.

    The password checked is the one ``users.yaml`` holds, the list both password files were written from:
    an account logs in over HTTP with the same name and password as at the broker.
    """

    def __init__(self, config: AccessConfig) -> None:
        self._users = {user.name: user for user in config.users}

    def check(self, name: str, password: str) -> User | None:
        """The account when ``password`` is its password, else None (compared in constant time)."""
        user = self._users.get(name)
        expected = user.password if user is not None else secrets.token_urlsafe(18)
        same = hmac.compare_digest(password.encode("utf-8", "surrogatepass"),
                                   expected.encode("utf-8", "surrogatepass"))
        return user if same else None

    def basic(self, authorization: str) -> User | None:
        """The account an ``Authorization: Basic base64(name:password)`` header names and proves, else None."""
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        name, colon, password = decoded.partition(":")
        return self.check(name, password) if colon else None


def build_users(terminals: Iterable[str], apps: Iterable[str], passwords: dict[str, str] | None = None,
                institutions: dict[str, str] | None = None) -> list[User]:
    """The switch, the admin, then each terminal and app; a missing password is generated.

    ``institutions`` registers terminals for their fixmedins_code.
    """
    passwords = passwords or {}
    institutions = institutions or {}
    for terminal, code in institutions.items():
        if not valid_id(code):
            raise ConfigError(f"institution {code!r} of terminal {terminal!r} must be {ID_RULE}")
    wanted = [(SWITCH_USER, "switch"), (ADMIN_USER, "admin"), *((t, "pos") for t in terminals),
              *((a, "app") for a in apps)]
    users: list[User] = []
    seen: dict[str, str] = {}
    for name, role in wanted:
        if not valid_id(name):
            raise ConfigError(f"{role} id {name!r} must be {ID_RULE}")
        if name in seen:
            raise ConfigError(f"{name!r} is both a {seen[name]} and a {role} user; one account has one role")
        seen[name] = role
        users.append(User(name, role, passwords.get(name) or secrets.token_urlsafe(18),
                          institutions.get(name) if role == "pos" else None))
    return users


@dataclass(frozen=True, slots=True)
class Accounts:
    """The users to write, and what became of each one's password."""

    users: list[User]
    kept: list[str]  # accounts already in users.yaml, password unchanged
    created: list[str]  # accounts that were not there
    renewed: list[str]  # accounts that were there, with a new password (given, or --new-passwords)


def previous_access(directory: Path, *, new_passwords: bool = False) -> AccessConfig | None:
    """What an earlier run wrote in ``directory``; None when nothing was (or, with ``new_passwords``,
    when its users file cannot be read: every account then starts anew from the command line).

    A password file without the users file that holds its passwords is refused: writing new passwords
    over it would lock out every terminal using it.
    """
    if not directory.is_dir():
        return None
    users_file = directory / USERS_FILE
    if users_file.exists():
        try:
            return read_access(directory)
        except ConfigError as exc:
            if new_passwords:
                return None
            raise ConfigError(f"{exc}; mend it, or pass --new-passwords to give every account a new "
                              "password") from None
    written = [directory / name for name in (MOSQUITTO_PASSWD, AMQTT_PASSWD) if (directory / name).exists()]
    if written and not new_passwords:
        raise ConfigError(f"{written[0]} is there but {users_file}, which holds its passwords, is not: put it "
                          "back, or pass --new-passwords to give every account a new password")
    return None


def merge_users(before: Sequence[User], terminals: Iterable[str], apps: Iterable[str],
                passwords: dict[str, str] | None = None, institutions: dict[str, str] | None = None, *,
                new_passwords: bool = False, source: str = USERS_FILE) -> Accounts:
    """The accounts ``before`` (an earlier run's, from ``source``) and the ones named now.

    An account already there keeps its password and role, unless its password is given now or
    ``new_passwords`` asks for new ones; a named terminal's ``@FIXMEDINS`` replaces its institution.
    An account named for the first time is created (its password given or generated).
    """
    passwords = passwords or {}
    institutions = institutions or {}
    named = {user.name: user for user in build_users(terminals, apps, passwords, institutions)}
    old = {user.name: user for user in before}
    accounts = Accounts([], [], [], [])
    for user in [*before, *(u for name, u in named.items() if name not in old)]:
        name, prior, now = user.name, old.get(user.name), named.get(user.name)
        if prior is None:
            accounts.users.append(user)
            accounts.created.append(name)
            continue
        if now is not None and now.role != prior.role:
            raise ConfigError(f"{name!r} is a {ROLE_NAMES[prior.role]} account in {source}, not a "
                              f"{ROLE_NAMES[now.role]} one: one account has one role (remove it from that file "
                              "first to change its role)")
        password = prior.password
        if name in passwords or new_passwords:
            password = passwords.get(name) or secrets.token_urlsafe(18)
        (accounts.kept if password == prior.password else accounts.renewed).append(name)
        institution = institutions.get(name, prior.fixmedins_code) if prior.role == "pos" else None
        accounts.users.append(User(name, prior.role, password, institution))
    return accounts


def mosquitto_password_hash(password: str, salt: bytes | None = None) -> str:
    """mosquitto 2.0's ``$7$`` password hash (what ``mosquitto_passwd`` writes)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ROUNDS)
    return f"$7${PBKDF2_ROUNDS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def mosquitto_acl(users: Sequence[User], root: str) -> str:
    lines = ["# Written by gongji-switch mosquitto-config: each account may use only its own topics.", ""]
    for user in users:
        publish, subscribe = topics(user, root)
        lines.append(f"user {user.name}")
        lines += [f"topic write {topic}" for topic in publish]
        lines += [f"topic read {topic}" for topic in subscribe]
        lines.append("")
    return "\n".join(lines)


def mosquitto_conf(directory: Path, listen: str) -> str:
    host, _, port = listen.rpartition(":")
    return "\n".join([
        "# Written by gongji-switch mosquitto-config. Start with: mosquitto -c " + str(directory / MOSQUITTO_CONF),
        f"listener {port} {host or '127.0.0.1'}",
        "allow_anonymous false",
        f"password_file {directory / MOSQUITTO_PASSWD}",
        f"acl_file {directory / MOSQUITTO_ACL}",
        "# paho-based clients leave Nagle on; request/response latency needs it off on both sides.",
        "set_tcp_nodelay true",
        "# A client's id is its user name: no account can take over the switch's session, or another's.",
        "use_username_as_clientid true",
        "# The switch keeps a persistent session: requests sent while it restarts wait here for it.",
        "persistence true",
        f"persistence_location {directory / MOSQUITTO_DATA}/",
        "max_queued_messages 100000",
        "",
    ])


def _user_entry(user: User) -> dict[str, str]:
    entry = {"name": user.name, "role": user.role, "password": user.password}
    if user.fixmedins_code:
        entry["fixmedins_code"] = user.fixmedins_code
    return entry


def _write_private(path: Path, text: str) -> None:
    # Passwords and hashes: readable by the owner only (mosquitto warns about anything looser).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)


def write_access(directory: Path, users: Sequence[User], topic_root: str, listen: str) -> AccessConfig:
    """Write the users file, mosquitto's config, password file and ACL, and the embedded broker's password file."""
    from pwdlib.hashers.argon2 import Argon2Hasher

    root = checked_root(topic_root)  # an ACL is a list of topics and filters under it: nothing written otherwise
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--listen {listen!r}: expected HOST:PORT, the address mosquitto listens on")
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} is a file: mosquitto-config writes a directory of files; name a directory")
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    _write_private(directory / USERS_FILE, yaml.safe_dump({
        "topic_root": root, "listen": listen,
        "users": [_user_entry(u) for u in users],
    }, sort_keys=False, allow_unicode=True))
    _write_private(directory / MOSQUITTO_PASSWD,
                   "".join(f"{u.name}:{mosquitto_password_hash(u.password)}\n" for u in users))
    argon2 = Argon2Hasher()
    _write_private(directory / AMQTT_PASSWD, "".join(f"{u.name}:{argon2.hash(u.password)}\n" for u in users))
    _write_private(directory / MOSQUITTO_ACL, mosquitto_acl(users, root))
    (directory / MOSQUITTO_DATA).mkdir(exist_ok=True)
    (directory / MOSQUITTO_CONF).write_text(mosquitto_conf(directory, listen), encoding="utf-8")
    _hand_to_mosquitto(directory / MOSQUITTO_PASSWD, directory / MOSQUITTO_ACL, directory / MOSQUITTO_DATA)
    return AccessConfig(directory, root, listen, tuple(users))


def _hand_to_mosquitto(*paths: Path) -> None:
    """Started as root, mosquitto drops to its own user before reading these: give them to that user."""
    if os.geteuid() != 0:
        return
    import pwd

    try:
        account = pwd.getpwnam("mosquitto")
    except KeyError:
        return
    for path in paths:
        os.chown(path, account.pw_uid, account.pw_gid)


def read_access(directory: Path) -> AccessConfig:
    """Read back what ``write_access`` wrote (``serve --access DIR``)."""
    directory = directory.resolve()
    path = directory / USERS_FILE
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        users = tuple(User(str(u["name"]), str(u["role"]), str(u["password"]),
                           str(u["fixmedins_code"]) if u.get("fixmedins_code") else None) for u in data["users"])
        config = AccessConfig(directory, str(data["topic_root"]), str(data["listen"]), users)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}; write it with 'gongji-switch mosquitto-config DIR'") from exc
    except yaml.YAMLError as exc:  # PyYAML's own text is several lines: one line, where and what
        raise ConfigError(f"{path}: not valid YAML: {yaml_problem(exc)}") from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a users file written by mosquitto-config ({exc})") from exc
    if any(u.role not in ROLES for u in users):
        raise ConfigError(f"{path}: roles must be one of {', '.join(ROLES)}")
    config.switch  # noqa: B018 - fails early, naming the file, when the switch's own account is missing
    return config


def amqtt_plugins(config: AccessConfig) -> dict[str, Any]:
    """The embedded broker's plugins: password file (argon2) and per-user publish/subscribe ACLs.

    amqtt 0.12 checks publish and subscribe against these lists; unlike mosquitto it has no
    per-message read check, which is equivalent here because subscriptions are checked. A client's
    id must be its user name (``switch.doors.broker.ClientIdIsLogin``).
    """
    publish: dict[str, list[str]] = {}
    subscribe: dict[str, list[str]] = {}
    for user in config.users:
        publish[user.name], subscribe[user.name] = topics(user, config.topic_root)
    return {
        "amqtt.plugins.authentication.FileAuthPlugin": {"password_file": str(config.directory / AMQTT_PASSWD)},
        "switch.doors.broker.ClientIdIsLogin": {},
        "amqtt.plugins.topic_checking.TopicAccessControlListPlugin": {"publish_acl": publish, "acl": subscribe},
    }


def mosquitto_config_command(directory: Path, terminals: Sequence[str], apps: Sequence[str],
                             passwords: dict[str, str], topic_root: str | None = None, listen: str | None = None,
                             institutions: dict[str, str] | None = None, *, new_passwords: bool = False) -> int:
    """``gongji-switch mosquitto-config DIR``: write the files and show who may do what.

    Run again on the same ``directory`` it keeps the accounts and passwords already there and adds the
    new ones (``new_passwords``: everyone gets a new password); a topic root or address not given is
    the one the files already have, else the default.
    """
    from rich.console import Console
    from rich.table import Table

    before = previous_access(directory, new_passwords=new_passwords)
    topic_root = topic_root if topic_root is not None else before.topic_root if before else DEFAULT_ROOT
    listen = listen if listen is not None else before.listen if before else DEFAULT_LISTEN
    accounts = merge_users(before.users if before else (), terminals, apps, passwords, institutions,
                           new_passwords=new_passwords, source=str(directory / USERS_FILE))
    config = write_access(directory, accounts.users, topic_root, listen)
    table = Table(title=f"Broker accounts under {config.topic_root}/ (passwords in {directory / USERS_FILE})")
    for column in ("user", "role", "institution", "may publish", "may subscribe"):
        table.add_column(column)
    for user in config.users:
        publish, subscribe = topics(user, config.topic_root)
        table.add_row(user.name, user.role, user.fixmedins_code or "", "\n".join(publish), "\n".join(subscribe))
    console = Console()
    console.print(table)
    if accounts.kept:
        print(f"kept (same password): {', '.join(accounts.kept)}")
    if accounts.created:
        print(f"created: {', '.join(accounts.created)}")
    if accounts.renewed:
        print(f"new password: {', '.join(accounts.renewed)} (each needs its new one from "
              f"{config.directory / USERS_FILE})")
    if before is not None and before != config:
        print("the files changed: a running mosquitto reads them on SIGHUP or a restart; the embedded broker "
              "(serve --access) when the switch restarts")
    print(f"mosquitto:  mosquitto -c {config.directory / MOSQUITTO_CONF}\n"
                  f"switch:     gongji-switch serve --broker mqtt://{listen} --access {config.directory}\n"
                  f"embedded:   gongji-switch serve --listen {listen} --access {config.directory}")
    return 0

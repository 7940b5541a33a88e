"""The access files: one role per account, only its own topics, mosquitto's password hash format."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from switch.doors.access import (
    amqtt_plugins,
    build_users,
    mosquitto_acl,
    mosquitto_password_hash,
    read_access,
    write_access,
)
from switch.errors import ConfigError


def test_password_hash_is_mosquitto_pbkdf2_sha512() -> None:
    """``$7$101$salt$hash``: PBKDF2-HMAC-SHA512, 101 rounds, 12-byte salt, as mosquitto_passwd writes it."""
    salt = bytes(range(12))
    text = mosquitto_password_hash("secret", salt)
    _, version, rounds, salt_b64, digest_b64 = text.split("$")
    assert (version, rounds, base64.b64decode(salt_b64)) == ("7", "101", salt)
    assert base64.b64decode(digest_b64) == hashlib.pbkdf2_hmac("sha512", b"secret", salt, 101)
    assert mosquitto_password_hash("secret") != mosquitto_password_hash("secret")  # fresh salt each time


def test_each_account_gets_only_its_own_topics() -> None:
    """A terminal writes its req and reads its resp and its own events; the operator reads every event; the switch
    reads every req; nobody else does."""
    users = build_users(["T1"], ["DH"], {"T1": "pw"})
    acl = mosquitto_acl(users, "g/v1")
    blocks = {block.splitlines()[0]: block.splitlines()[1:] for block in acl.split("\n\n") if block.startswith("user")}
    for user, topic in (("T1", "pos/T1"), ("DH", "app/DH")):
        assert blocks[f"user {user}"] == [f"topic write g/v1/{topic}/req", f"topic read g/v1/{topic}/resp",
                                          f"topic read g/v1/events/{topic}"]
    assert blocks["user admin"] == ["topic write g/v1/admin/req", "topic read g/v1/admin/resp",
                                    "topic read g/v1/events", "topic read g/v1/events/pos/+",
                                    "topic read g/v1/events/app/+"]
    assert "topic read g/v1/pos/+/req" in blocks["user gongji-switch"]
    assert "pattern" not in acl and "%u" not in acl


@pytest.mark.parametrize(("terminals", "apps", "problem"), [
    (["T1", "T1"], [], "both a pos and a pos"),
    (["X"], ["X"], "both a pos and a app"),
    (["admin"], [], "both a admin and a pos"),
    (["bad id"], [], "1-64 characters"),
])
def test_one_account_one_role(terminals: list[str], apps: list[str], problem: str) -> None:
    """An id used twice, or colliding with the admin or switch account, or malformed, is refused."""
    with pytest.raises(ConfigError, match=problem):
        build_users(terminals, apps)


def test_written_files_read_back_and_feed_the_embedded_broker(tmp_path: Path) -> None:
    """users.yaml round-trips; the amqtt plugins get the same topic lists and an argon2 password file."""
    written = write_access(tmp_path / "acc", build_users(["T1"], [], {"T1": "pw1"}), "g/v1/", "127.0.0.1:1884")
    back = read_access(tmp_path / "acc")
    assert back == written and back.topic_root == "g/v1" and back.user("T1").password == "pw1"
    assert (tmp_path / "acc" / "users.yaml").stat().st_mode & 0o077 == 0
    plugins = amqtt_plugins(back)
    acl = plugins["amqtt.plugins.topic_checking.TopicAccessControlListPlugin"]
    assert acl["publish_acl"]["T1"] == ["g/v1/pos/T1/req"]
    assert acl["acl"]["T1"] == ["g/v1/pos/T1/resp", "g/v1/events/pos/T1"]
    hashes = (tmp_path / "acc" / "amqtt-passwd").read_text()
    assert hashes.startswith("gongji-switch:$argon2id$")
    with pytest.raises(ConfigError, match="mosquitto-config"):
        read_access(tmp_path / "nowhere")


def test_terminal_registered_for_its_institution(tmp_path: Path) -> None:
    """``--terminal T1@P1`` registers T1 for P1 in users.yaml; the switch reads it back as T1's institution."""
    users = build_users(["T1", "T2"], ["DH"], {}, {"T1": "P1"})
    written = write_access(tmp_path / "acc", users, "g/v1", "127.0.0.1:1884")
    assert "fixmedins_code: P1" in (tmp_path / "acc" / "users.yaml").read_text()
    assert read_access(tmp_path / "acc").institutions == written.institutions == {"T1": "P1"}
    with pytest.raises(ConfigError, match="institution 'P 1' of terminal 'T1'"):
        build_users(["T1"], [], {}, {"T1": "P 1"})


def test_http_basic_credentials_are_checked_against_the_accounts(tmp_path: Path) -> None:
    """The HTTP door's login: the users.yaml password of that very account, Basic-encoded; anything else is None."""
    from switch.doors.access import Logins

    def header(text: str) -> str:
        return "Basic " + base64.b64encode(text.encode()).decode()

    config = write_access(tmp_path, build_users(["T1"], ["DH"], {"T1": "p:w 密码", "DH": "dh"}), "g/v1", "127.0.0.1:1")
    logins = Logins(read_access(tmp_path))
    t1 = logins.basic(header("T1:p:w 密码"))
    assert t1 is not None and (t1.name, t1.role) == ("T1", "pos")
    assert logins.basic("basic " + header("DH:dh").split()[1]) == config.user("DH")  # the scheme in any case
    for wrong in (header("T1:p:w"), header("DH:p:w 密码"), header("nobody:dh"), header("T1"), header(":"),
                  "Bearer p:w 密码", "Basic !!!", "Basic " + base64.b64encode(b"T1:\xff").decode(), ""):
        assert logins.basic(wrong) is None, wrong

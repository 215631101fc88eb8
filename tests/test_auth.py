"""Authentication (core.security.auth): passwords and their policy, sign-in
with lock-out, API tokens. Time is controlled through ``now``/``env.now``."""
import datetime as dt
import hashlib
import os

import pytest
import sqlalchemy as sa

from core.errors import AccessDenied, NotFound, UserInputError, ValidationError
from core.passwords import verify_password
from core.security import auth
from tests.conftest import ADMIN_PASSWORD

T0 = dt.datetime(2030, 1, 1, 9, 0, 0)
PASSWORD = "correct-horse-9"


def at(moment, **delta):
    return moment + dt.timedelta(**delta)


def make_user(db, login="alice", password=PASSWORD, active=True):
    with db.unit_of_work(None) as env:
        uid = env["core.user"].create({"login": login, "name": login.title(), "active": active}).id
        auth.set_password(env, uid, password)
    return uid


def user_row(db, login):
    """The user's bookkeeping columns, typed (read with Core, as the system)."""
    with db.unit_of_work(None) as env:
        t = env.registry["core.user"].table
        return env.conn.execute(sa.select(t.c.id, t.c.password_hash, t.c.failed_logins,
                                          t.c.locked_until, t.c.version)
                                .where(t.c.login == login)).first()


# -- passwords ------------------------------------------------------------------------
@pytest.mark.parametrize("password, reason", [
    ("short7!", "at least 8"), ("aaaaaaaaaaaa", "single character"), ("Alice123", "login"),
    ("x" * 1025 + "y", "at most"), (None, "text")])
def test_password_policy_refuses(password, reason):
    with pytest.raises(ValidationError) as err:
        auth.check_password_policy(password, "alice123")
    assert reason in str(err.value)
    assert err.value.details["field"] == "password"
    assert err.value.details["fields"] == ["password"]


def test_password_policy_accepts():
    auth.check_password_policy("eight-ch", "alice")
    auth.check_password_policy("密码是很长的句子", None)


def test_set_password_stores_a_hash_only_and_checks_the_policy(db):
    uid = make_user(db)
    row = user_row(db, "alice")
    assert row.password_hash != PASSWORD and PASSWORD not in row.password_hash
    assert row.password_hash.startswith("scrypt$")
    assert verify_password(PASSWORD, row.password_hash)
    with db.unit_of_work(None) as env:
        with pytest.raises(ValidationError, match="password"):
            auth.set_password(env, uid, "alice")
        with pytest.raises(NotFound):
            auth.set_password(env, 99999, "long-enough-1")
    assert user_row(db, "alice").password_hash == row.password_hash


def test_authenticate_right_and_wrong(db):
    uid = make_user(db)
    assert auth.authenticate(db, "alice", PASSWORD, now=T0) == uid
    assert auth.authenticate(db, "admin", ADMIN_PASSWORD, now=T0) > 0
    messages = set()
    for login, password in [("alice", "wrong-password"), ("nobody", PASSWORD), ("", PASSWORD),
                            ("alice", ""), ("alice", None), ("__system__", "whatever-1")]:
        with pytest.raises(AccessDenied) as err:
            auth.authenticate(db, login, password, now=T0)
        messages.add(str(err.value))
    assert messages == {auth.REFUSED}  # one message: no user enumeration


def test_inactive_user_is_refused_with_the_same_message(db):
    make_user(db, "bob", active=False)
    with pytest.raises(AccessDenied) as err:
        auth.authenticate(db, "bob", PASSWORD, now=T0)
    assert str(err.value) == auth.REFUSED
    assert user_row(db, "bob").failed_logins in (None, 0)


def test_failures_are_committed_although_the_sign_in_raises(db):
    make_user(db)
    for _ in range(3):
        with pytest.raises(AccessDenied):
            auth.authenticate(db, "alice", "wrong-password", now=T0)
    assert user_row(db, "alice").failed_logins == 3
    assert user_row(db, "alice").locked_until is None
    assert auth.authenticate(db, "alice", PASSWORD, now=T0)
    assert user_row(db, "alice").failed_logins == 0  # success resets


def test_twenty_wrong_passwords_then_the_right_one_is_refused_until_the_delay_passes(db):
    uid = make_user(db)
    for i in range(20):
        with pytest.raises(AccessDenied):
            auth.authenticate(db, "alice", f"wrong-{i:04d}", now=at(T0, seconds=i // 10))
    row = user_row(db, "alice")
    # locked at the fifth failure; failures while locked do not extend it
    assert row.failed_logins == auth.LOCK_AFTER
    assert row.locked_until == T0 + auth.LOCK_BASE
    with pytest.raises(AccessDenied) as err:
        auth.authenticate(db, "alice", PASSWORD, now=at(T0, seconds=5))
    assert str(err.value) == auth.REFUSED
    with pytest.raises(AccessDenied):
        auth.authenticate(db, "alice", PASSWORD, now=at(T0, seconds=29))
    assert auth.authenticate(db, "alice", PASSWORD, now=at(T0, seconds=30)) == uid
    row = user_row(db, "alice")
    assert row.failed_logins == 0 and row.locked_until is None


def test_the_delay_doubles_and_is_capped(db):
    make_user(db)
    now = T0
    delays = []
    for _ in range(auth.LOCK_AFTER - 1):
        with pytest.raises(AccessDenied):
            auth.authenticate(db, "alice", "wrong-password", now=now)
    for _ in range(8):
        with pytest.raises(AccessDenied):
            auth.authenticate(db, "alice", "wrong-password", now=now)
        until = user_row(db, "alice").locked_until
        delays.append((until - now).total_seconds())
        now = until  # the lock has just passed: the next mistake locks again
    assert delays == [30, 60, 120, 240, 480, 900, 900, 900]
    assert auth.lock_delay(1000) == auth.LOCK_MAX
    assert auth.lock_delay(auth.LOCK_AFTER - 1) == dt.timedelta(0)


def test_check_login_leaves_committing_to_the_caller(db):
    make_user(db)
    with db.unit_of_work(None) as env:
        env.now = T0
        result = auth.check_login(env, "alice", "wrong-password")
        assert not result.ok and result.reason == "wrong_password" and result.failed_logins == 1
        assert auth.check_login(env, "nobody", "x").reason == "unknown"
    assert user_row(db, "alice").failed_logins == 1
    with pytest.raises(RuntimeError):
        with db.unit_of_work(None) as env:
            auth.check_login(env, "alice", "wrong-password")
            raise RuntimeError("rolled back")
    assert user_row(db, "alice").failed_logins == 1


def test_set_password_unlocks(db):
    uid = make_user(db)
    for _ in range(auth.LOCK_AFTER):
        with pytest.raises(AccessDenied):
            auth.authenticate(db, "alice", "wrong-password", now=T0)
    assert user_row(db, "alice").locked_until is not None
    with db.unit_of_work("admin") as env:
        auth.set_password(env, uid, "a-new-password")
    row = user_row(db, "alice")
    assert row.failed_logins == 0 and row.locked_until is None
    assert auth.authenticate(db, "alice", "a-new-password", now=T0) == uid


def test_bookkeeping_does_not_bump_the_user_version(db):
    make_user(db)
    before = user_row(db, "alice").version
    with pytest.raises(AccessDenied):
        auth.authenticate(db, "alice", "wrong-password", now=T0)
    auth.authenticate(db, "alice", PASSWORD, now=T0)
    assert user_row(db, "alice").version == before


# -- tokens ------------------------------------------------------------------------------
def test_token_issue_and_verify(db):
    uid = make_user(db)
    with db.unit_of_work("admin") as env:
        env.now = T0
        token = auth.issue_token(env, uid, label="ci")
        assert isinstance(token, str) and token.startswith(auth.TOKEN_PREFIX) and len(token) > 40
        assert token.expires_at == at(T0, days=90) and token.id
    with db.unit_of_work(None) as env:
        t = env.registry["core.token"].table
        [(stored, expires, last_used)] = env.conn.execute(
            sa.select(t.c.token_hash, t.c.expires_at, t.c.last_used_at)).all()
    assert expires == at(T0, days=90)
    assert stored == hashlib.sha256(token.encode()).hexdigest() and stored != token
    assert last_used is None
    with db.unit_of_work(None) as env:
        env.now = at(T0, days=1)
        assert auth.verify_token(env, token) == uid
        assert auth.verify_token(env, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        for bad in ("", None, "not-a-token", stored, auth.TOKEN_PREFIX + "x" * 500):
            assert auth.verify_token(env, bad) is None
    with db.unit_of_work(None) as env:
        [row] = auth.list_tokens(env, uid)
        assert row["last_used_at"] == at(T0, days=1)
        assert row["label"] == "ci" and row["state"] == "active"
        assert "token_hash" not in row


def test_token_expiry(db):
    uid = make_user(db)
    with db.unit_of_work("admin") as env:
        env.now = T0
        short = auth.issue_token(env, uid, days=1)
        forever = auth.issue_token(env, uid, days=None)
        with pytest.raises(UserInputError):
            auth.issue_token(env, uid, days=0)
    with db.unit_of_work(None) as env:
        env.now = at(T0, hours=23, minutes=59)
        assert auth.verify_token(env, short) == uid
        env.now = at(T0, days=1)
        assert auth.verify_token(env, short) is None
        env.now = at(T0, days=3650)
        assert auth.verify_token(env, forever) == uid
        states = {r["id"]: r["state"] for r in auth.list_tokens(env, uid)}
        assert states == {short.id: "expired", forever.id: "active"}


def test_token_revocation_and_listing(db):
    alice, bob = make_user(db), make_user(db, "bob")
    with db.unit_of_work("admin") as env:
        env.now = T0
        first = auth.issue_token(env, alice, label="one")
        second = auth.issue_token(env, alice, label="two")
        bobs = auth.issue_token(env, bob)
        assert len({first, second, bobs}) == 3
    with db.unit_of_work("admin") as env:
        env.now = at(T0, hours=1)
        with pytest.raises(NotFound):
            auth.revoke_token(env, bobs.id, user_id=alice)  # not alice's
        with pytest.raises(NotFound):
            auth.revoke_token(env, 99999)
        auth.revoke_token(env, first.id, user_id=alice)
    with db.unit_of_work("admin") as env:
        env.now = at(T0, hours=2)
        auth.revoke_token(env, first.id)  # twice: keeps the first date
    with db.unit_of_work(None) as env:
        env.now = at(T0, hours=3)
        assert auth.verify_token(env, first) is None
        assert auth.verify_token(env, second) == alice
        assert auth.verify_token(env, bobs) == bob
        rows = auth.list_tokens(env, alice)
        assert [r["label"] for r in rows] == ["two", "one"]  # newest first
        assert rows[1]["state"] == "revoked" and rows[1]["revoked_at"] == at(T0, hours=1)
        assert [r["id"] for r in auth.list_tokens(env, bob)] == [bobs.id]


def test_tokens_of_an_inactive_user_do_not_verify(db):
    uid = make_user(db)
    with db.unit_of_work("admin") as env:
        token = auth.issue_token(env, uid)
    with db.unit_of_work(None) as env:
        assert auth.verify_token(env, token) == uid
        env["core.user"].browse(uid).write({"active": False})
        assert auth.verify_token(env, token) is None
        with pytest.raises(UserInputError, match="inactive"):
            auth.issue_token(env, uid)
        with pytest.raises(NotFound):
            auth.issue_token(env, 99999)


# -- nothing in clear ------------------------------------------------------------------
def all_text(db):
    """Every row of every table, as text."""
    chunks = []
    with db.engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                chunks.append(repr(tuple(row)))
    return "\n".join(chunks)


def test_clear_password_and_token_are_stored_nowhere(db, db_url):
    password = "Zq9-unique-clear-text-pw"
    uid = make_user(db, "carol", password)
    with db.unit_of_work("admin") as env:
        auth.set_password(env, uid, password + "-2")
        token = auth.issue_token(env, uid)
    with pytest.raises(AccessDenied):
        auth.authenticate(db, "carol", password + "-wrong", now=T0)
    auth.authenticate(db, "carol", password + "-2", now=T0)
    text = all_text(db)
    for secret in (password, password + "-2", password + "-wrong", token, ADMIN_PASSWORD):
        assert secret not in text
    with db.engine.connect() as conn:
        audit = repr(conn.execute(sa.text("SELECT * FROM core_audit")).all())
    assert password not in audit and token not in audit
    if db_url.startswith("sqlite:///"):
        path = db_url[len("sqlite:///"):]
        db.dispose()
        folder = os.path.dirname(path)
        for name in os.listdir(folder):
            if name.startswith(os.path.basename(path)):
                data = open(os.path.join(folder, name), "rb").read()
                for secret in (password, password + "-2", token, ADMIN_PASSWORD):
                    assert secret.encode() not in data, name


def test_authenticate_wants_the_database_not_an_env(db):
    with db.unit_of_work(None) as env:
        with pytest.raises(TypeError, match="check_login"):
            auth.authenticate(env, "admin", ADMIN_PASSWORD)

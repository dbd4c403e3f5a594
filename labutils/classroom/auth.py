"""Who signs in to a class: every learner someone, with a password of their own.

``ClassCodeAuthenticator`` is jupyterhub-firstuseauthenticator's ``FirstUseAuthenticator`` (a name's first
sign-in sets its password, kept as a bcrypt hash), with one gate added: the first sign-in with a name must also
give the class code, in the login page's second field (JupyterHub's own ``request_otp`` field). After that the
name is its claimant's: the class code alone opens no one's lab, and a second person who types the same name
is told it is taken. At most ``max_learners`` names can be claimed. The instructors' names are claimed by
``make class`` with the admin password before the hub opens, so no learner can take one.

Registered as the JupyterHub authenticator ``labutils-class-code`` (an entry point, as dockerspawner's are).
"""
from __future__ import annotations

import dbm
import hmac
import secrets
from pathlib import Path

import bcrypt
from firstuseauthenticator import FirstUseAuthenticator
from traitlets import Integer, Unicode

TAKEN = ("The name {name} is taken: someone chose it with its own password. If it is yours, give that password; "
         "else choose another name.")


class ClassCodeAuthenticator(FirstUseAuthenticator):
    """FirstUseAuthenticator whose first sign-in with a name needs the class code; names capped per class."""

    class_code_file = Unicode("", config=True, help="the file that holds the class code (the class's state folder)")
    admin_password_file = Unicode("", config=True, help="the file that holds the instructors' password")
    max_learners = Integer(30, config=True, help="CLASS_MAX_LEARNERS: names a class code can claim")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.request_otp = True
        self.otp_prompt = "Class code (only the first time you sign in with a name):"
        self.create_users = True
        if self.admin_password_file:
            admin = Path(self.admin_password_file).read_text().strip()
            with dbm.open(self.dbm_path, "c", 0o600) as db:
                for name in self.admin_users:         # the instructors' names: claimed with the admin password
                    stored = db.get(name.encode())
                    if stored is None or not bcrypt.checkpw(admin.encode(), stored):
                        db[name.encode()] = bcrypt.hashpw(admin.encode(), bcrypt.gensalt())

    def _code(self) -> str:
        return Path(self.class_code_file).read_text().strip() if self.class_code_file else ""

    def _claimed(self) -> int:
        with dbm.open(self.dbm_path, "c", 0o600) as db:
            names = [key.decode() if isinstance(key, bytes) else key for key in db.keys()]
        return len([name for name in names if name not in self.admin_users])

    async def authenticate(self, handler, data):
        name = self.normalize_username(data.get("username", ""))
        with dbm.open(self.dbm_path, "c", 0o600) as db:
            known = db.get(name.encode()) is not None
        if known:
            got = await super().authenticate(handler, {"username": name, "password": data.get("password", "")})
            if got is None:
                handler.custom_login_error = TAKEN.format(name=name)
                return None
            return self._model(got)
        code = self._code()
        if not code or not hmac.compare_digest(data.get("otp", "").strip().encode(), code.encode()):
            handler.custom_login_error = (f"{name} is a new name here: give the class code too (the second field), "
                                          "with a password of your own (8 characters or more) in the first.")
            return None
        if self._claimed() >= self.max_learners:
            handler.custom_login_error = (f"This class is full ({self.max_learners} learners). Ask the instructor.")
            return None
        got = await super().authenticate(handler, {"username": name, "password": data.get("password", "")})
        return self._model(got) if got else None

    def _model(self, name: str) -> dict:
        """The hub's user model: learners in the group ``learners`` (what the class view's token may reach)."""
        return {"name": name, "groups": [] if name in self.admin_users else ["learners"]}


def reset_password(dbm_path: Path, name: str) -> str:
    """A new random password for ``name``, written as the hub checks it; returned for the instructor to hand over.

    Raises:
        KeyError: no one has claimed ``name``.
    """
    new = secrets.token_urlsafe(9)
    with dbm.open(str(dbm_path), "w") as db:
        if db.get(name.encode()) is None:
            raise KeyError(f"no one has claimed the name {name!r} in this class")
        db[name.encode()] = bcrypt.hashpw(new.encode(), bcrypt.gensalt())
    return new

"""A class on JupyterHub, through its own APIs: signing in, starting labs, running code and notebooks in them.

For the instructor's class view (``python -m labutils class --hub URL``) and the class tests. Everything
goes through JupyterHub's REST API and each lab's Jupyter server API (REST and the kernel's websocket), as
a browser or JupyterLab would: labutils holds no socket of a learner's engine.

A lab runs the learner's code, so whatever reaches it, the learner can read. ``Hub.lab`` therefore never
sends the caller's own token or cookies to a lab: it asks the hub for a token of the learner's, scoped to
that learner's server alone and expiring in minutes, and talks to the lab with it in a session of its own.
"""
from __future__ import annotations

import asyncio
import html
import json
import re
import time
import uuid
from dataclasses import dataclass, field

import requests

from labutils.errors import HttpFailed, InvalidArgument, LabError

FAILED_START = "the lab's own lines are above; the instructor's copy is in the class's lab-logs folder."
MOST_OUTPUT = 4 << 20
"""Characters of output read from a lab's kernel at most: a lab that prints more costs only its own answer."""


@dataclass(frozen=True)
class Execution:
    """What running code in a lab's kernel gave: its output, and the error it raised (``""`` when none)."""

    stdout: str
    error: str = ""
    cell: int | None = None         # run_notebook: the code cell (0-based) that raised

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class _Client:
    url: str
    token: str
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    def _request(self, method: str, url: str, who: str, hint: str, timeout: float = 60, **kw) -> requests.Response:
        """One API call with the token; an answer of 400 or more is ``HttpFailed`` saying who answered what."""
        resp = self.session.request(method, url, timeout=timeout, headers={"Authorization": f"token {self.token}"},
                                    **kw)
        if resp.status_code >= 400:
            raise HttpFailed(f"{who} answered {resp.status_code} to {method} {url}.", command=f"{method} {url}",
                             engine_said=resp.text[:300], hint=hint)
        return resp


class Hub(_Client):
    """A JupyterHub at ``url``, as someone with ``token`` (an instructor's service token, or a learner's own)."""

    def _api(self, method: str, path: str, **kw) -> requests.Response:
        return self._request(method, f"{self.url.rstrip('/')}/hub/api{path}", "The hub",
                        hint="check the hub URL and that the token may do this (the instructor's token in the "
                             "class's state folder).", **kw)

    @classmethod
    def sign_in(cls, url: str, name: str, password: str, code: str = "") -> Hub:
        """Sign in on the hub's login page (as a learner's browser does); a token of theirs for the hub's API.

        Args:
            url: the hub, ``http://host:port``.
            name: the learner's name.
            password: their own password (the first time: the one they choose).
            code: the class code; needed only the first time a name is claimed.

        Raises:
            HttpFailed: the hub refused; the message carries what the login page said (a taken name, a missing
                class code, a full class).

        Example:
            >>> ada = Hub.sign_in("http://127.0.0.1:8000", "ada", "her-own-password", code="class-code")
        """
        s = requests.Session()
        base = url.rstrip("/")
        s.get(f"{base}/hub/login", timeout=30)
        xsrf = s.cookies.get("_xsrf") or ""
        resp = s.post(f"{base}/hub/login?next=", data={"username": name, "password": password, "otp": code,
                                                       "_xsrf": xsrf}, allow_redirects=False, timeout=30)
        if resp.status_code != 302 or "/hub/login" in resp.headers.get("Location", ""):
            said = re.search(r'<p class="login_error">\s*(.*?)\s*</p>', resp.text, re.S)
            raise HttpFailed(f"The hub at {url} did not let {name} in (HTTP {resp.status_code}).",
                             command=f"POST {base}/hub/login", engine_said=html.unescape(said.group(1)) if said else "",
                             hint="check the name, the password and (the first time) the class code.")
        made = s.post(f"{base}/hub/api/users/{name}/tokens", json={"note": "labutils", "expires_in": 86400},
                      headers={"X-XSRFToken": s.cookies.get("_xsrf") or xsrf}, timeout=30)
        if made.status_code >= 400:
            raise HttpFailed(f"The hub gave {name} no API token (HTTP {made.status_code}).",
                             command=f"POST {base}/hub/api/users/{name}/tokens", engine_said=made.text[:300])
        return cls(url, made.json()["token"], s)

    def users(self) -> list[dict]:
        """Every user the hub knows, with their servers (``GET /hub/api/users``)."""
        return self._api("GET", "/users").json()

    def user(self, name: str) -> dict:
        return self._api("GET", f"/users/{name}").json()

    def start(self, name: str, timeout: float = 300) -> str:
        """Start ``name``'s lab (and engine) and wait until it is ready; its URL path.

        Raises:
            LabError: the lab was not ready within ``timeout`` seconds (the hub's progress says why).
        """
        if not self.user(name).get("servers", {}).get("", {}).get("ready"):
            try:
                self._api("POST", f"/users/{name}/server")
            except HttpFailed:          # a lab that fails within the hub's first seconds fails the request itself
                why = self.spawn_failure(name)
                if not why:
                    raise
                raise LabError(f"{name}'s lab did not start.", engine_said=why,
                               hint=FAILED_START) from None
        started = time.monotonic()
        while time.monotonic() < started + timeout:
            server = self.user(name).get("servers", {}).get("")
            if server and server.get("ready"):
                return server["url"]
            if server is None and time.monotonic() > started + 10:
                raise LabError(f"{name}'s lab stopped while it started.", engine_said=self.spawn_failure(name),
                               hint=FAILED_START)
            time.sleep(2)
        raise LabError(f"{name}'s lab was not ready after {timeout:.0f} s.", hint="read the hub's log.")

    def spawn_failure(self, name: str) -> str:
        """Why ``name``'s lab last failed to start, as the hub tells it (the progress API's failed event; the
        learner's page shows the same); empty when the hub says nothing."""
        try:
            resp = self.session.get(f"{self.url.rstrip('/')}/hub/api/users/{name}/server/progress", stream=True,
                                    headers={"Authorization": f"token {self.token}"}, timeout=30)
            text = resp.raw.read(1 << 16, decode_content=True).decode(errors="replace")
        except requests.RequestException:
            return ""
        for line in text.splitlines():
            if line.startswith("data:"):
                try:
                    event = json.loads(line[5:])
                except ValueError:
                    continue
                if isinstance(event, dict) and event.get("failed"):
                    return str(event.get("message", ""))[:4000]
        return ""

    def stop(self, name: str, timeout: float = 120) -> None:
        """Stop ``name``'s lab and engine (their volumes stay) and wait until it is gone."""
        self._api("DELETE", f"/users/{name}/server")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.user(name).get("servers", {}).get(""):
            time.sleep(1)

    def lab(self, name: str, minutes: int = 15) -> Lab:
        """``name``'s running lab, reached through the hub's proxy with a token of ``name``'s own that opens
        only that server and expires in ``minutes`` (``POST /hub/api/users/<name>/tokens``); no cookie and no
        token of the caller's reaches the lab.

        Raises:
            HttpFailed: the caller may not make tokens for ``name`` (a learner asking for another's lab).
        """
        made = self._api("POST", f"/users/{name}/tokens",
                         json={"scopes": [f"access:servers!server={name}/"], "expires_in": minutes * 60,
                               "note": "labutils: one lab, short-lived"}).json()
        return Lab(f"{self.url.rstrip('/')}/user/{name}", made["token"])


class Lab(_Client):
    """One learner's Jupyter server: its contents and its kernels."""

    def _call(self, method: str, path: str, **kw) -> requests.Response:
        return self._request(method, f"{self.url}/api{path}", "The lab",
                        hint="check that the lab runs (the hub's admin page starts it).", **kw)

    def read(self, path: str, most: int = 1 << 20, timeout: float = 20) -> dict | None:
        """A file's contents (``GET /api/contents/<path>``); None when there is no such file.

        Raises:
            LabError: the answer is over ``most`` bytes, not JSON, or slower than ``timeout`` seconds.
        """
        try:
            resp = self._call("GET", f"/contents/{path}", params={"content": 1}, stream=True, timeout=timeout)
        except HttpFailed as exc:
            if "404" in exc.message:
                return None
            raise
        except requests.RequestException as exc:
            raise LabError(f"The lab did not answer for {path} within {timeout:.0f} s ({type(exc).__name__}).") from None
        body = resp.raw.read(most + 1, decode_content=True)
        if len(body) > most:
            raise LabError(f"The lab's answer for {path} is over {most} bytes: not read.")
        try:
            found = json.loads(body)
        except ValueError:
            raise LabError(f"The lab's answer for {path} is not JSON.") from None
        if not isinstance(found, dict):
            raise LabError(f"The lab's answer for {path} is not a file model.")
        return found

    def run(self, code: str, timeout: float = 300, cwd: str = "") -> Execution:
        """Run ``code`` in a new kernel of this lab (started in ``cwd``, then shut down)."""
        return self.run_cells([code], timeout, f"{cwd}/labutils" if cwd else "labutils", kind="console")

    def run_notebook(self, path: str, timeout: float = 900) -> Execution:
        """Every code cell of the notebook at ``path``, in order, in one kernel, as JupyterLab runs them.

        Raises:
            InvalidArgument: there is no such notebook.
        """
        found = self.read(path)
        if found is None:
            raise InvalidArgument(f"There is no notebook {path} in {self.url}.")
        nb = found["content"]
        cells = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                 for c in nb["cells"] if c["cell_type"] == "code"]
        return self.run_cells(cells, timeout, path)

    def run_cells(self, cells: list[str], timeout: float, path: str, kind: str = "notebook") -> Execution:
        """``cells`` in one kernel of a session at ``path`` (as JupyterLab opens a notebook: its folder is the
        kernel's, and the kernel knows the notebook's name); the session is closed after."""
        made = self._call("POST", "/sessions", json={"path": path, "name": path.rpartition("/")[2], "type": kind,
                                                     "kernel": {"name": "python3"}}).json()
        try:
            return asyncio.run(self._execute(made["kernel"]["id"], cells, timeout))
        finally:
            self._call("DELETE", f"/sessions/{made['id']}")

    async def _execute(self, kernel: str, cells: list[str], timeout: float) -> Execution:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect
        ws_url = self.url.replace("http", "ws", 1) + f"/api/kernels/{kernel}/channels"
        conn = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {self.token}"}))
        session, out = uuid.uuid4().hex, list[str]()
        deadline = time.monotonic() + timeout
        try:
            for index, code in enumerate(cells):
                msg_id = uuid.uuid4().hex
                conn.write_message(json.dumps({
                    "header": {"msg_id": msg_id, "username": "labutils", "session": session,
                               "msg_type": "execute_request", "version": "5.3"},
                    "parent_header": {}, "metadata": {}, "channel": "shell",
                    "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                                "allow_stdin": False, "stop_on_error": True}}))
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return Execution("".join(out), f"no answer within {timeout:.0f} s", index)
                    raw = await asyncio.wait_for(conn.read_message(), left)
                    if raw is None:
                        return Execution("".join(out), "the kernel's connection closed", index)
                    msg = json.loads(raw)
                    if msg.get("parent_header", {}).get("msg_id") != msg_id:
                        continue
                    kind, content = msg["msg_type"], msg["content"]
                    if kind == "stream" and content.get("name") == "stdout":
                        out.append(content["text"])
                        if sum(map(len, out)) > MOST_OUTPUT:
                            return Execution("", f"over {MOST_OUTPUT} characters of output: not read", index)
                    elif kind == "error":
                        return Execution("".join(out), f"{content['ename']}: {content['evalue']}", index)
                    elif kind == "status" and content.get("execution_state") == "idle":
                        break
        finally:
            conn.close()
        return Execution("".join(out))

"""A class on this machine's engine, as an instructor runs it (`make class`) and learners use it (a browser).

Real parts only: JupyterHub, DockerSpawner, configurable-http-proxy, the idle culler, Debian's
docker-registry and a rootless Docker Engine inside every learner's lab. Everything a learner does goes
through the hub's login page and the Jupyter server's API, as their browser would; every probe of
isolation is tried from inside a learner's lab. The class is named and ported apart (CLASS_NAME, ports),
so a class an instructor runs on this machine is never touched.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from shared import ROOT, class_env, password

from labutils.classroom import fence, shared_engine
from labutils.classroom.hub import Hub
from labutils.classroom.view import hub_view, write_grades
from labutils.errors import HttpFailed, LabError

pytestmark = [pytest.mark.engine, pytest.mark.hub]
LEARNERS = ("ada", "bob", "cyd")
NOTEBOOKS = ("01-normal-build", "02-builder-pattern", "03-multi-stage-intro", "04-multi-stage",
             "05-activity-go-http-server")
# ada runs every exercise; bob and cyd what the later tests read of them (cyd's welcome and activity images, bob a
# lab of his own): three labs building at once, and the time of one learner's whole course
RUNS = {"ada": NOTEBOOKS, "bob": ("04-multi-stage",), "cyd": ("01-normal-build", "05-activity-go-http-server")}
NAME = "lutestclass"


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def _leftovers() -> list[str]:
    return (_docker("ps", "-aq", "--filter", f"label=io.labutils.class={NAME}").split()
            + _docker("network", "ls", "-q", "--filter", f"label=io.labutils.class={NAME}").split()
            + [v for v in _docker("volume", "ls", "-q").split() if v.startswith(f"{NAME}-")])


class Klass:
    def __init__(self, env: dict, out: str):
        self.env, self.out = env, out
        self.url = f"http://127.0.0.1:{env['CLASS_PORT']}"
        self.code = env["CLASS_CODE"]
        self.token = open(os.path.join(env["CLASS_STATE"], "instructor-token")).read().strip()
        self.seconds: dict[str, float] = {}

    def instructor(self) -> Hub:
        return Hub(self.url, self.token)

    def teacher(self) -> Hub:
        """The instructor signed in on the login page with the admin password, as for the admin page."""
        admin = open(os.path.join(self.env["CLASS_STATE"], "admin-password")).read().strip()
        return Hub.sign_in(self.url, "instructor", admin)

    def sign_in(self, name: str) -> Hub:
        """``name`` signs in: the first time with the class code and a password of their own, then with it."""
        return Hub.sign_in(self.url, name, password(name), code=self.code)


@pytest.fixture(scope="module")
def tun_root_only():
    """The host's /dev/net/tun at mode 0600 (root only) while this class runs, then as it was: the harder case
    (a fresh Debian host has it; installing udev, as Chromium's packages do, makes it 0666). The swarm test
    runs at the host's own mode."""
    tun = "/dev/net/tun"
    before = os.stat(tun).st_mode & 0o777
    os.chmod(tun, 0o600)
    try:
        yield
    finally:
        os.chmod(tun, before)


@pytest.fixture(scope="module")
def klass(live, tun_root_only, tmp_path_factory):
    env = class_env(NAME, tmp_path_factory.mktemp("class-state"), "lutest-class-code")
    started = time.monotonic()
    up = subprocess.run(["make", "class"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        k = Klass(env, up.stdout)
        k.seconds["make class"] = time.monotonic() - started
        yield k
    finally:
        subprocess.run(["make", "class-down", "CLASS_PURGE=1"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)


def test_make_class_starts_the_hub_and_says_where(klass):
    assert requests.get(f"{klass.url}/hub/health", timeout=10).status_code == 200
    assert f"{klass.url}/hub/login" in klass.out and klass.code in klass.out
    assert "instructor-token" in klass.out and "admin-password" in klass.out
    token_file = os.path.join(klass.env["CLASS_STATE"], "instructor-token")
    assert oct(os.stat(token_file).st_mode & 0o777) == "0o600", "the instructor's token is readable only by them"
    state = klass.env["CLASS_STATE"]
    assert oct(os.stat(state).st_mode & 0o777) == "0o700", "the state folder is the instructor's alone"
    for name in ("class-code", "admin-password", "proxy-token", "instructor-token"):
        assert oct(os.stat(os.path.join(state, name)).st_mode & 0o777) == "0o600", name
    hashes = [n for n in os.listdir(state) if n.startswith("passwords.dbm")]
    assert hashes and all(oct(os.stat(os.path.join(state, n)).st_mode & 0o777) == "0o600" for n in hashes)
    with pytest.raises(HttpFailed, match="class code"):
        Hub.sign_in(klass.url, "eve", "eve-password-1", code="wrong-code")


def _learner(klass, name: str) -> dict:
    started = time.monotonic()
    hub = klass.sign_in(name)
    hub.start(name)
    ready = time.monotonic() - started
    results = {}
    for nb in RUNS[name]:
        ran = hub.lab(name).run_notebook(f"notebooks/{nb}.ipynb", timeout=1200)
        results[nb] = (ran.ok, ran.error, ran.cell)
    return {"ready": ready, "notebooks": results, "seconds": time.monotonic() - started}


def test_three_learners_sign_in_and_run_notebooks_live_in_their_own_labs(klass):
    with ThreadPoolExecutor(len(LEARNERS)) as pool:
        done = dict(zip(LEARNERS, pool.map(lambda n: _learner(klass, n), LEARNERS), strict=True))
    for name, got in done.items():
        failed = {nb: r for nb, r in got["notebooks"].items() if not r[0]}
        assert not failed, f"{name}: {failed}"
        klass.seconds[f"{name}: sign-in to a ready lab"] = got["ready"]
        assert set(got["notebooks"]) == set(RUNS[name])
        klass.seconds[f"{name}: notebooks {', '.join(nb[:2] for nb in RUNS[name])}"] = got["seconds"]
    print(json.dumps(klass.seconds, indent=1))
    labs = _docker("ps", "--filter", f"label=io.labutils.class={NAME}", "--filter", "label=io.labutils.class.part=lab",
                   "--format", "{{.Names}} {{.Networks}}").splitlines()
    assert len(labs) == 3 and len({line.split()[1] for line in labs}) == 3, f"one network per learner: {labs}"
    for name in LEARNERS:
        info = json.loads(_docker("inspect", f"{NAME}-lab-{name}"))[0]
        assert info["Config"]["User"] == "0", "the entry point starts as root for the tun device, then setpriv"
        top = [line.split() for line in _docker("top", f"{NAME}-lab-{name}", "-o", "pid,uid,comm").splitlines()[1:]]
        assert top and all(row[1] == "1000" for row in top if row), f"every process is the learner's: {top}"
        assert not any("docker.sock" in m.get("Source", "") for m in info["Mounts"]), "no host socket in a lab"
        assert info["HostConfig"]["Memory"] == 3 << 30 and info["HostConfig"]["PidsLimit"] == 2048


PROBE = r"""
import json, os, socket, subprocess, urllib.request
out = {}
def connect(host, port):
    s = socket.socket(); s.settimeout(4)
    try:
        s.connect((host, port)); return "connected"
    except OSError as e:
        return type(e).__name__
    finally:
        s.close()
out["uid"] = os.getuid()
out["host socket"] = os.path.exists("/var/run/docker.sock") or os.path.exists("/run/docker.sock")
out["host engine tcp"] = [connect(GATEWAY, p) for p in (2375, 2376)]
out["other lab"] = connect(OTHER_IP, 8888)
out["other engine socket"] = os.path.exists("/home/learner/.docker/run/docker.sock") and \
    subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True,
                   text=True).stdout.split()
req = urllib.request.Request(os.environ["JUPYTERHUB_API_URL"] + "/users",
                             headers={"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]})
try:
    urllib.request.urlopen(req, timeout=10); out["hub admin"] = "allowed"
except urllib.error.HTTPError as e:
    out["hub admin"] = e.code
mounted = subprocess.run(["docker", "run", "--rm", "-v", "/:/host", "alpine:latest", "sh", "-c",
                          "ls /host/var/tmp /host/work /host/home 2>&1"], capture_output=True, text=True)
out["host files"] = mounted.stdout + mounted.stderr
print(json.dumps(out))
"""


def test_from_one_learners_lab_nothing_of_the_host_or_of_another_learner_is_reachable(klass):
    hub = klass.instructor()
    bob_ip = json.loads(_docker("inspect", f"{NAME}-lab-bob"))[0]["NetworkSettings"]["Networks"]
    bob_ip = next(iter(bob_ip.values()))["IPAddress"]
    gateway = _docker("network", "inspect", "bridge", "-f", "{{(index .IPAM.Config 0).Gateway}}").strip()
    ada = klass.sign_in("ada")
    # bob's image (notebook 04's), in bob's own engine: ada must not see it
    made = hub.lab("bob").run("import subprocess\nprint(subprocess.run(['docker', 'tag', 'welcome-optimized:v1', "
                              "'only-bob:v1'], capture_output=True, text=True).returncode)")
    assert made.ok and made.stdout.strip() == "0", made
    ran = ada.lab("ada").run(f"GATEWAY, OTHER_IP = {gateway!r}, {bob_ip!r}\n" + PROBE, timeout=300)
    assert ran.ok, ran
    got = json.loads(ran.stdout.strip().splitlines()[-1])
    assert got["uid"] == 1000
    assert got["host socket"] is False, "the host's Docker socket is in the lab"
    assert all(r != "connected" for r in got["host engine tcp"]), got["host engine tcp"]
    assert got["other lab"] != "connected", f"ada reached bob's lab at {bob_ip}: {got['other lab']}"
    assert got["other engine socket"] and "only-bob:v1" not in got["other engine socket"], \
        "ada's engine lists bob's image"
    assert "welcome:v1" in got["other engine socket"], "ada's engine holds ada's own images"
    assert got["hub admin"] == 403, f"ada's token listed the hub's users: {got['hub admin']}"
    seen = got["host files"]            # what `-v /:/host` shows: ada's own lab container, not this machine
    assert "learner" in seen and "labutils-rig" not in seen and "main" not in seen.split(), seen
    assert requests.get(f"{klass.url}/user/bob/api/status", headers={"Authorization": f"token {ada.token}"},
                        allow_redirects=False, timeout=10).status_code in (302, 403, 404), "ada reached bob's lab"


def test_a_stopped_and_restarted_learner_keeps_work_and_images(klass):
    hub = klass.instructor()
    hub.stop("cyd")
    assert not _docker("ps", "-q", "--filter", f"name={NAME}-lab-cyd").strip(), "the stopped lab's container is gone"
    started = time.monotonic()
    hub.start("cyd")
    klass.seconds["cyd: restart to a ready lab (warm)"] = time.monotonic() - started
    lab = hub.lab("cyd")
    assert lab.read("work/progress.json") is not None, "work/ was lost with the container"
    ran = lab.run("import subprocess\nprint(subprocess.run(['docker', 'image', 'ls', '--format', "
                  "'{{.Repository}}:{{.Tag}}'], capture_output=True, text=True).stdout)")
    assert "welcome:v1" in ran.stdout and "activity:v1" in ran.stdout, ran.stdout


BREAK = """
import labutils as lu, pathlib
folder = pathlib.Path(lu.work()) / "broken"
folder.mkdir(exist_ok=True)
(folder / "Dockerfile").write_text('FROM alpine:latest\\nCMD ["echo", "not the welcome line"]\\n')
lu.build(folder, "welcome-optimized:v1", quiet=True)
print("broken")
"""


def test_the_class_view_lists_every_learner_with_their_true_state(klass):
    hub = klass.instructor()
    assert hub.lab("cyd").run(BREAK).stdout.strip() == "broken"
    hub.stop("bob")
    view = hub_view(klass.url, klass.token)
    grid = shared_engine.grid(view)
    assert list(grid.index) == list(LEARNERS), grid
    assert set(grid.loc["ada"]) == {"reference works"}, grid.loc["ada"]
    assert set(grid.loc["bob"]) == {"stopped"}, grid.loc["bob"]
    assert grid.loc["cyd", "multi-stage"] == "fails" and grid.loc["cyd", "normal-build"] == "reference works"
    # ada ran notebooks 01 to 05 and did none of the tasks: every checkpoint passed, each your-turn not attempted
    said = view.query("learner == 'ada'")["progress"].iloc[0]
    found = re.fullmatch(r"(\d+)/(\d+) \((\d+) not attempted\)", said)
    assert found, f"ada's progress.json, read through her lab: {said!r}"
    passed, total, skipped = map(int, found.groups())
    assert total > 0 and skipped == 4 and passed + skipped == total, said
    cli = subprocess.run([sys.executable, "-m", "labutils", "class", "--hub", klass.url, "--no-check",
                          "--token-file", os.path.join(klass.env["CLASS_STATE"], "instructor-token"),
                          "--figure", os.path.join(klass.env["CLASS_STATE"], "class.png")],
                         capture_output=True, text=True, timeout=600)
    assert cli.returncode == 0 and "bob" in cli.stdout and "stopped" in cli.stdout, cli.stdout + cli.stderr


def test_a_learner_signs_in_on_the_login_page_in_chromium_and_runs_01(klass, tmp_path):
    from playwright.sync_api import sync_playwright
    from shared import CHROMIUM, run_in_page, skip_or_fail
    if CHROMIUM is None:
        skip_or_fail("no Chromium here (CI installs Debian's chromium: apt-get install chromium)")
    chrome = CHROMIUM
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chrome, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{klass.url}/hub/login")
            page.fill("#username_input", "dee")
            page.fill("#password_input", password("dee"))
            page.fill("#otp_input", klass.code)            # the first time: the class code claims the name
            page.click("#login_submit")
            page.wait_for_url("**/user/dee/lab/tree/notebooks/00-setup.ipynb**", timeout=240_000)
            page.wait_for_function("() => window.jupyterapp", timeout=120_000)
            page.evaluate("async () => { await window.jupyterapp.restored; }")
            page.wait_for_function("() => window.jupyterapp.shell.currentWidget?.context?.path", timeout=120_000)
            opened = page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path")
            page.goto(f"{klass.url}/user/dee/lab/tree/notebooks/01-normal-build.ipynb")
            text = run_in_page(page, "notebooks/01-normal-build.ipynb")
            page.screenshot(path=str(tmp_path / "class-01.png"))
        finally:
            browser.close()
    assert opened == "notebooks/00-setup.ipynb", f"the lab opened {opened!r}, not the course's first notebook"
    assert "✔ welcome:v1 prints the welcome line" in text, f"the notebook's outputs: {text[-1500:]!r}"


def test_the_instructor_starts_and_stops_labs_as_the_admin_page_does(klass):
    admin_password = open(os.path.join(klass.env["CLASS_STATE"], "admin-password")).read().strip()
    teacher = Hub.sign_in(klass.url, "instructor", admin_password)
    assert teacher.session.get(f"{klass.url}/hub/admin", timeout=30).status_code == 200, "the admin page"
    ada = klass.sign_in("ada")
    assert ada.session.get(f"{klass.url}/hub/admin", allow_redirects=False, timeout=30).status_code == 403, \
        "a learner opened the admin page"
    assert not teacher.user("bob").get("servers"), "bob's lab is stopped (the class view test stopped it)"
    teacher.start("bob")                       # the admin page's "start server" is this call, as the instructor
    assert _docker("ps", "-q", "--filter", f"name={NAME}-lab-bob").strip(), "bob's lab runs again"
    teacher.stop("bob")
    assert not _docker("ps", "-q", "--filter", f"name={NAME}-lab-bob").strip(), "bob's lab stopped"
    with pytest.raises(HttpFailed):
        ada.stop("cyd")                        # the same call with a learner's own token: refused


def test_a_hub_restart_keeps_labs_and_the_idle_culler_stops_them_and_both_come_back(klass):
    """The hub stops and starts again (labs keep running, reached anew), with an idle timeout of 20 s so
    that the culler, as configured by `make class`, stops the idle labs; a new sign-in finds work and images."""
    before = _docker("ps", "-q", "--filter", f"name={NAME}-lab-ada").strip()
    _restart_hub(klass)
    assert _docker("ps", "-q", "--filter", f"name={NAME}-lab-ada").strip() == before, "the restart replaced ada's lab"
    hub = klass.instructor()
    ran = hub.lab("ada").run("print(6 * 7)")         # ada's lab, still running, through the new proxy
    assert ran.ok and ran.stdout.strip() == "42", ran
    _restart_hub(klass, idle_timeout="20")          # the culler, as make class configures it, with 20 s
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and hub.user("ada").get("servers"):
        time.sleep(3)
    assert not hub.user("ada").get("servers"), "the idle culler did not stop ada's lab within 180 s"
    assert not _docker("ps", "-q", "--filter", f"name={NAME}-lab-ada").strip(), "ada's lab container is gone"
    _restart_hub(klass, idle_timeout="3600")        # an hour again, so the culler leaves the next sign-in be
    ada = klass.sign_in("ada")
    ada.start("ada")
    lab = ada.lab("ada")
    assert lab.read("work/progress.json") is not None, "work/ was lost when the culler stopped the lab"
    images = lab.run("import subprocess\nprint(subprocess.run(['docker', 'image', 'ls', '--format', "
                     "'{{.Repository}}:{{.Tag}}'], capture_output=True, text=True).stdout)")
    assert "multi-stage:v1" in images.stdout, f"ada's engine lost her images: {images.stdout}"


def _restart_hub(klass, **settings: str) -> None:
    """Stop the hub (and its proxy and culler) as a crash or an upgrade would, then `make class` again."""
    pid = int(open(os.path.join(klass.env["CLASS_STATE"], "hub.pid")).read())
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 120        # JupyterHub stops its managed services first (the culler: up to ~30 s)
    while subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "the hub did not stop within 120 s of SIGTERM"
        time.sleep(0.5)
    klass.env.update({f"CLASS_{k.upper()}": v for k, v in settings.items()})
    up = subprocess.run(["make", "class"], cwd=ROOT, env=klass.env, capture_output=True, text=True, timeout=600)
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]


def test_a_name_is_its_first_claimants_and_the_class_code_alone_opens_no_lab(klass):
    """Before: SharedPasswordAuthenticator let anyone with the class code in as any name, ada's included."""
    with pytest.raises(HttpFailed) as taken:
        Hub.sign_in(klass.url, "ada", klass.code, code=klass.code)      # the class code as ada's password
    assert "taken" in taken.value.engine_said, taken.value.engine_said
    with pytest.raises(HttpFailed, match="did not let ada in"):
        Hub.sign_in(klass.url, "ada", "a-guess-at-it", code=klass.code)
    first = Hub.sign_in(klass.url, "alex", "first-alex-pw", code=klass.code)
    with pytest.raises(HttpFailed) as second:
        Hub.sign_in(klass.url, "alex", "second-alex-pw", code=klass.code)   # a second person who types alex
    assert "taken" in second.value.engine_said
    again = Hub.sign_in(klass.url, "alex", "first-alex-pw")             # the claimant, without the code
    assert again.user("alex")["name"] == first.user("alex")["name"] == "alex"
    with pytest.raises(HttpFailed) as no_code:
        Hub.sign_in(klass.url, "newcomer", "newcomer-pw-1")             # a new name without the class code
    assert "class code" in no_code.value.engine_said
    with pytest.raises(HttpFailed) as teacher:
        Hub.sign_in(klass.url, "instructor", "learner-chose-it", code=klass.code)
    assert "taken" in teacher.value.engine_said, "a learner claimed the instructor's name"
    reset = subprocess.run([sys.executable, "-m", "labutils.classroom", "passwd", "alex"], env=klass.env,
                           capture_output=True, text=True, timeout=60)
    assert reset.returncode == 0, reset.stderr
    new = reset.stdout.strip().rsplit(" ", 1)[-1]
    with pytest.raises(HttpFailed):
        Hub.sign_in(klass.url, "alex", "first-alex-pw")
    assert Hub.sign_in(klass.url, "alex", new).user("alex")["name"] == "alex", "the instructor's reset"
    klass.teacher()._api("DELETE", "/users/alex")                       # the admin page's "delete user"
    assert Hub.sign_in(klass.url, "alex", "third-alex-pw", code=klass.code), "a removed learner's name is free"


def test_the_instructors_token_opens_no_lab_and_a_labs_token_opens_only_its_own(klass):
    """Before: the class view sent the instructor's token (every lab) and the session's cookies to each lab."""
    gone = requests.get(f"{klass.url}/user/ada/api/status", headers={"Authorization": f"token {klass.token}"},
                        allow_redirects=False, timeout=10)
    assert gone.status_code in (302, 403), f"the instructor's token opened ada's lab: {gone.status_code}"
    hub = klass.instructor()
    hub.start("ada")
    lab = hub.lab("ada")
    assert lab.token != klass.token and not lab.session.cookies, "the lab gets its own token and no cookie"
    assert lab.run("print(6 * 7)").stdout.strip() == "42", "ada's short-lived token opens ada's lab"
    for other in ("bob", "cyd"):
        got = requests.get(f"{klass.url}/user/{other}/api/status", headers={"Authorization": f"token {lab.token}"},
                           allow_redirects=False, timeout=10)
        assert got.status_code in (302, 403, 404, 503), f"ada's lab token opened {other}'s lab: {got.status_code}"
    listed = requests.get(f"{klass.url}/hub/api/users", headers={"Authorization": f"token {lab.token}"}, timeout=10)
    assert listed.status_code == 403, "a lab's token lists the hub's users"
    with pytest.raises(HttpFailed):
        klass.sign_in("ada").lab("bob")                                 # a learner may not mint bob's lab token


LIAR = """
import pathlib
startup = pathlib.Path.home() / ".ipython/profile_default/startup"
startup.mkdir(parents=True, exist_ok=True)
(startup / "00-lie.py").write_text(
    "import json\\nfrom labutils.classroom import shared_engine\\n"
    "class _V:\\n    def to_json(self, orient):\\n"
    "        return json.dumps([{'exercise': 'multi-stage', 'whose': 'yours', 'image': 'x', 'exists': True,"
    " 'works': True}] * 1000)\\n"
    "shared_engine.class_view = lambda check=True: _V()\\n")
print("lying")
"""

BROKEN_PROGRESS = """
import pathlib
pathlib.Path("work/progress.json").write_text("[]")
print("written")
"""


def test_a_learners_broken_or_lying_lab_costs_only_their_own_row_and_grades_come_out_as_csv(klass, tmp_path):
    """Before: bob's `[]` in progress.json ended the class view in an AttributeError: the instructor saw no one."""
    hub = klass.instructor()
    for name in LEARNERS:
        hub.start(name)
    bob = hub.lab("bob")
    assert bob.run(BROKEN_PROGRESS, cwd="").stdout.strip() == "written"
    cyd = hub.lab("cyd")           # a lying lab: an IPython startup file of cyd's, run by every kernel of her lab,
    assert cyd.run(LIAR).stdout.strip() == "lying"                # replaces the class view (a thousand "yours works")
    view = hub_view(klass.url, klass.token)
    assert set(view["learner"]) >= set(LEARNERS) and (view["source"] == "self-reported (the learner's lab)").all()
    bobs = view[view["learner"] == "bob"]
    assert bobs["said"].str.contains("not used: progress.json").all(), bobs["said"].tolist()
    adas = view[view["learner"] == "ada"]
    assert adas["exists"].any() and adas["progress"].iloc[0], "ada's rows survive bob's broken file"
    path = write_grades(view, tmp_path / "grades.csv")
    lines = path.read_text().splitlines()
    assert lines[0].split(",")[0] == "learner" and len(lines[0].split(",")) == 1 + len(shared_engine.TASKS)
    rows = {line.split(",")[0]: line.split(",")[1:] for line in lines[1:]}
    assert set(rows) >= set(LEARNERS) and all(set(r) <= {"passed", "failed", "not attempted"} for r in rows.values())
    cli = subprocess.run([sys.executable, "-m", "labutils", "class", "--hub", klass.url, "--no-check",
                          "--token-file", os.path.join(klass.env["CLASS_STATE"], "instructor-token"),
                          "--csv", str(tmp_path / "cli.csv"), "--figure", str(tmp_path / "class.png")],
                         capture_output=True, text=True, timeout=600)
    assert cli.returncode == 0 and (tmp_path / "cli.csv").is_file(), cli.stdout + cli.stderr
    cyds = view[view["learner"] == "cyd"]
    assert cyds["said"].str.contains("not used").all() and not cyds["exists"].any(), cyds["said"].tolist()
    bob.run("import pathlib\npathlib.Path('work/progress.json').unlink()")
    cyd.run("import pathlib\n(pathlib.Path.home() / '.ipython/profile_default/startup/00-lie.py').unlink()")


FENCE_PROBE = r"""
import json, socket
def connect(host, port):
    s = socket.socket(); s.settimeout(3)
    try:
        s.connect((host, port)); return s.recv(64).decode(errors="replace") or "connected"
    except OSError as e:
        return type(e).__name__
    finally:
        s.close()
print(json.dumps({host: connect(host, PORT) for host in HOSTS}))
"""


def test_the_fence_lets_a_lab_reach_the_hub_and_registry_only(klass):
    """Before: a service of this machine on 0.0.0.0 answered a lab through its network's gateway."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    stop = False

    def serve():
        listener.settimeout(0.5)
        while not stop:
            try:
                conn, _ = listener.accept()
                conn.sendall(b"host-service-banner")
                conn.close()
            except OSError:
                continue
    import threading
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        info = json.loads(_docker("inspect", f"{NAME}-lab-ada"))[0]
        net = next(iter(info["NetworkSettings"]["Networks"].values()))
        own_gateway = net["Gateway"]
        bridge = _docker("network", "inspect", "bridge", "-f", "{{(index .IPAM.Config 0).Gateway}}").strip()
        bob = next(iter(json.loads(_docker("inspect", f"{NAME}-lab-bob"))[0]["NetworkSettings"]["Networks"].values()))
        hosts = [own_gateway, bridge]
        assert connect_here("127.0.0.1", port) == "host-service-banner", "the test's own listener answers here"
        hub = klass.instructor()
        hub.start("bob")
        ran = hub.lab("ada").run(f"HOSTS, PORT = {hosts!r}, {port}\n" + FENCE_PROBE, timeout=120)
        got = json.loads(ran.stdout.strip().splitlines()[-1])
        assert all(v != "host-service-banner" for v in got.values()), f"ada's lab reached this machine's service: {got}"
        ran = hub.lab("ada").run(f"HOSTS, PORT = {[bob['IPAddress']]!r}, 8888\n" + FENCE_PROBE, timeout=120)
        assert "connected" not in ran.stdout, f"ada's lab reached bob's: {ran.stdout}"
        pulled = hub.lab("ada").run("import subprocess\nprint(subprocess.run(['docker', 'pull', '-q', 'alpine:latest'],"
                                    " capture_output=True, text=True).returncode)", timeout=300)
        assert pulled.stdout.strip() == "0", f"the class registry is reachable through the fence: {pulled}"
    finally:
        stop = True
        listener.close()
    env = dict(os.environ, **klass.env)
    rules = subprocess.run([sys.executable, "-c", "from labutils.classroom import fence\n"
                            "from labutils.classroom.settings import ClassSettings\nprint(fence.listed(ClassSettings.read()))"],
                           env=env, capture_output=True, text=True).stdout
    name = fence.chain(NAME)
    assert f"-A {name}-FWD -j DROP" in rules and f"-A {name}-IN -j DROP" in rules, rules
    assert f"-A DOCKER-USER -i {fence.bridge_prefix(NAME)}+ -j {name}-FWD" in rules, \
        "everything a lab sends past this machine (private, link-local, public ranges) is dropped"


def connect_here(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=3) as conn:
        return conn.recv(64).decode()


CONFINED = r"""
import ctypes, json, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
calls = {"io_uring_setup": 425, "bpf": 321, "userfaultfd": 323, "perf_event_open": 298, "kexec_load": 246,
         "init_module": 175, "keyctl": 250}
out = {}
for name, number in calls.items():
    libc.syscall(number, 0, 0, 0, 0, 0)
    out[name] = os.strerror(ctypes.get_errno())
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
out["seccomp"] = status["Seccomp"].strip()
out["bounding"] = int(status["CapBnd"], 16)
out["effective"] = int(status["CapEff"], 16)
out["inner run"] = subprocess.run(["docker", "run", "--rm", "alpine:latest", "echo", "inner"], capture_output=True,
                                  text=True).stdout.strip()
print(json.dumps(out))
"""


def test_a_lab_runs_its_engine_with_the_least_it_needs(klass):
    """Before: every capability but one, seccomp and AppArmor unconfined. Now: Docker's default capabilities
    plus SYS_ADMIN and NET_ADMIN, class/lab-seccomp.json (a denylist), and the learner's engine still runs."""
    hub = klass.instructor()
    hub.start("ada")
    ran = hub.lab("ada").run(CONFINED, timeout=180)
    got = json.loads(ran.stdout.strip().splitlines()[-1])
    assert got["inner run"] == "inner", f"the learner's engine runs containers: {got}"
    assert got["seccomp"] == "2", "a seccomp filter is on"
    for name in ("io_uring_setup", "bpf", "userfaultfd", "perf_event_open", "kexec_load", "init_module"):
        assert got[name] == "Operation not permitted", (name, got[name])
    assert got["keyctl"] == "Function not implemented", "keyctl answers ENOSYS, which runc tolerates"
    caps = {"SYS_MODULE": 16, "SYS_RAWIO": 17, "SYS_PTRACE": 19, "SYS_TIME": 25, "SYS_BOOT": 22, "BPF": 39,
            "PERFMON": 38, "SYS_RESOURCE": 24, "DAC_READ_SEARCH": 2}
    held = [name for name, bit in caps.items() if got["bounding"] >> bit & 1]
    assert not held, f"the lab's bounding set holds {held}"
    assert got["bounding"] >> 21 & 1 and got["bounding"] >> 12 & 1, "SYS_ADMIN and NET_ADMIN, for the engine"
    assert got["effective"] == 0, "the learner's processes have no capabilities"


FILL = r"""
import json, os, shutil
out = {"same disk": os.stat("work").st_dev == os.stat("/home/learner/.local/share/docker").st_dev,
       "size": shutil.disk_usage("work").total}
try:
    with open("work/fill", "wb") as f:
        os.posix_fallocate(f.fileno(), 0, shutil.disk_usage("work").free + (1 << 30))
    out["past the disk"] = "written"
except OSError as e:
    out["past the disk"] = e.errno
finally:
    if os.path.exists("work/fill"):
        os.unlink("work/fill")
print(json.dumps(out))
"""


def test_a_learners_disk_is_bounded_and_filling_it_costs_only_them(klass):
    """Before: CLASS_DISK was stated, not enforced. Now work/ and the engine's data share one ext4 of its size."""
    hub = klass.instructor()
    for name in ("ada", "bob"):
        hub.start(name)
    ran = hub.lab("ada").run(FILL, cwd="")
    got = json.loads(ran.stdout.strip().splitlines()[-1])
    assert got["same disk"], "work/ and the engine's data are on one file system"
    assert 7 << 30 < got["size"] <= 8 << 30, f"the file system is CLASS_DISK=8g: {got['size']}"
    assert got["past the disk"] == 28, f"writing past the disk is ENOSPC in ada's lab: {got}"
    assert hub.lab("bob").run("print(6 * 7)").stdout.strip() == "42", "bob's lab goes on"
    assert requests.get(f"{klass.url}/hub/health", timeout=10).status_code == 200, "the hub goes on"
    logs = json.loads(_docker("inspect", f"{NAME}-lab-ada"))[0]["HostConfig"]["LogConfig"]
    assert logs["Config"].get("max-size") == "10m", f"the lab's log is capped: {logs}"


def test_a_lab_that_cannot_start_says_why_at_once_and_leaves_its_log(klass):
    """Before: the hub waited 180 s, said "never showed up" and removed the container with its log. Here zed's
    engine data holds a broken file (as a crash could leave): the spawn fails in seconds with the lab's lines."""
    from labutils.classroom import disks
    state = klass.env["CLASS_STATE"]
    engine = disks.ensure(state, "zed", klass.env["CLASS_DISK"])["engine"]
    broken = engine / "volumes"
    broken.mkdir(exist_ok=True)
    (broken / "metadata.db").write_bytes(b"not a bolt database")
    os.chown(broken, 1000, 1000)
    os.chown(broken / "metadata.db", 1000, 1000)
    zed = klass.sign_in("zed")
    started = time.monotonic()
    with pytest.raises(LabError) as failed:
        zed.start("zed", timeout=300)
    took = time.monotonic() - started
    assert took < 120, f"the failure took {took:.0f} s to say"
    said = failed.value.engine_said
    assert "zed's lab exited" in said and "did not start" in said and "invalid database" in said, \
        f"zed's page says what stopped the engine: {said!r}"
    log = os.path.join(state, "lab-logs", "zed.log")
    assert os.path.isfile(log) and oct(os.stat(log).st_mode & 0o777) == "0o600", "the instructor's copy"
    assert "did not start" in open(log).read()
    assert not _docker("ps", "-aq", "--filter", f"name={NAME}-lab-zed").strip(), "no container left behind"
    (broken / "metadata.db").unlink()
    klass.teacher()._api("DELETE", "/users/zed")


def test_make_class_down_leaves_nothing(klass):
    assert _leftovers(), "the class is there before it is taken down"
    down = subprocess.run(["make", "class-down", "CLASS_PURGE=1"], cwd=ROOT, env=klass.env, capture_output=True,
                          text=True, timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not _leftovers(), f"left behind: {_leftovers()}"
    assert fence.chain(NAME) not in subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout, \
        "the fence's rules stayed after class-down"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{klass.url}/hub/health", timeout=5)
    print(json.dumps(klass.seconds, indent=1))

# JupyterHub for a class of this course: started by `make class` (python -m labutils.classroom up), which sets
# the CLASS_* variables read here and in labutils.classroom.settings (one place for the instructor's settings).
# Each learner: their own container (JupyterLab and a rootless Docker Engine, uid 1000, no host socket), on a
# bridge network of their own, with work/ and the engine's data on volumes of their own. Secrets are read from
# the state folder (0700, made by make class), never from the environment or a command line.
import os
import sys
from pathlib import Path

from labutils.classroom import LABEL, PART
from labutils.classroom.settings import ClassSettings

c = get_config()  # noqa: F821 (JupyterHub's config loader defines it)
s = ClassSettings.read()
env = os.environ
state = s.state_folder()

# --- the hub: where browsers reach it, where labs reach its API ---------------------------------------
c.JupyterHub.bind_url = f"{'https' if s.tls_cert else 'http'}://{s.host}:{s.port}"
if s.tls_cert:
    c.JupyterHub.ssl_cert, c.JupyterHub.ssl_key = s.tls_cert, s.tls_key
c.JupyterHub.hub_ip = env["CLASS_GATEWAY"]     # Docker's default bridge (or CLASS_HUB_ADDRESS): every lab reaches it
c.JupyterHub.hub_connect_ip = env["CLASS_GATEWAY"]
c.JupyterHub.hub_port = s.hub_port
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s.proxy_api_port}"
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.command = [env["CLASS_PROXY"]]
c.ConfigurableHTTPProxy.auth_token = s.secret("proxy-token", 32)   # handed to the proxy in its environment
c.JupyterHub.active_server_limit = s.max_learners
c.JupyterHub.cleanup_servers = False                  # a hub restart keeps every lab running

# --- who signs in: each learner claims a name once with the class code and a password of their own ------
c.JupyterHub.authenticator_class = "labutils-class-code"        # labutils.classroom.auth.ClassCodeAuthenticator
c.ClassCodeAuthenticator.dbm_path = str(state / "passwords.dbm")
c.ClassCodeAuthenticator.class_code_file = str(state / "class-code")
c.ClassCodeAuthenticator.admin_password_file = str(state / "admin-password")
c.ClassCodeAuthenticator.max_learners = s.max_learners
c.ClassCodeAuthenticator.min_password_length = 8
c.Authenticator.admin_users = set(s.instructors)
c.Authenticator.allow_all = True              # anyone the authenticator lets in: a name claimed with the code
c.Authenticator.manage_groups = True          # every learner is in the group "learners", instructors are not

# --- each learner's lab and engine ------------------------------------------------------------------
c.JupyterHub.spawner_class = "labutils-placed" if s.swarm else "labutils-lab"   # labutils.classroom.spawners
c.LabSpawner.class_name = s.name
c.LabSpawner.log_folder = str(state)
c.LabSpawner.disk = s.disk                             # work/ and the engine's data: one ext4 of CLASS_DISK each
c.DockerSpawner.image = env["CLASS_LAB_IMAGE"]
c.DockerSpawner.allowed_images = [env["CLASS_LAB_IMAGE"]]
c.DockerSpawner.name_template = f"{s.name}-lab-{{username}}"
c.DockerSpawner.remove = True                          # a stopped lab's container goes; its volumes stay
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.notebook_dir = "/home/learner/course"
c.DockerSpawner.default_url = "/lab/tree/notebooks/00-setup.ipynb"
c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
# (the lab's entry point starts as root for one step, the learner's copy of the tun device, then runs the
# learner's engine and JupyterLab as uid 1000 through setpriv: class/start-lab.sh; hence "user": "0" below)
# a learner's own Jupyter configuration and extensions (~/.jupyter, ~/.local) are not loaded: a page an
# instructor opens in a learner's lab runs only the course's code
c.Spawner.disable_user_config = True
# JupyterLab's app object in the learner's own page (their page can already do all it can): the browser test
# and instructors' demos drive JupyterLab's own commands through it
c.Spawner.args = ["--LabApp.expose_app_in_browser=True"]
c.DockerSpawner.volumes = {s.volume("{username}", "work"): "/home/learner/course/work",
                           s.volume("{username}", "engine"): "/home/learner/.local/share/docker"}
c.DockerSpawner.environment = {"CLASS_REGISTRY": env["CLASS_REGISTRY"]}
# `--security-opt systempaths=unconfined` is no HostConfig field docker-py knows: it is empty masked and
# read-only paths, merged into the host config through extra_create_kwargs as dockerspawner does
c.DockerSpawner.extra_create_kwargs = {"user": "0", "labels": {LABEL: s.name, PART: "lab"},
                                       "host_config": {"MaskedPaths": [], "ReadonlyPaths": []}}
# The least the learner's rootless engine needs of its container (tried here: tests/classroom/test_class.py runs
# notebooks 01-05 and probes the confinement from a lab):
# - capabilities: Docker's default set plus SYS_ADMIN (rootlesskit and runc mount, unshare and pivot_root in
#   their user namespace, and the bounding set caps what the engine gets there) and NET_ADMIN (slirp4netns's
#   tap device, the inner engine's bridge and iptables); not ALL. The learner's processes keep none (setpriv).
# - seccomp: class/lab-seccomp.json, a denylist (io_uring, bpf, userfaultfd, perf_event_open, kexec, modules,
#   open_by_handle_at, ptrace... refused; keyctl ENOSYS), not unconfined.
# - systempaths=unconfined (empty masked and read-only paths, below): the inner runc mounts a new /proc, which
#   the kernel refuses while /proc has masked paths.
# - AppArmor, where the host has it: unconfined, as Docker's docker-default profile denies mount (untested
#   here: this host has no AppArmor).
seccomp = (Path(__file__).parent / "lab-seccomp.json").read_text()
apparmor = Path("/sys/module/apparmor/parameters/enabled")
c.DockerSpawner.extra_host_config = {
    "cap_add": ["SYS_ADMIN", "NET_ADMIN"],
    "security_opt": [f"seccomp={seccomp}",
                     *(["apparmor=unconfined"] if apparmor.exists() and apparmor.read_text().startswith("Y") else [])],
    "devices": ["/dev/net/tun:/dev/net/tun:rwm"],
    "pids_limit": s.pids,
    "log_config": {"type": "json-file", "config": {"max-size": "10m", "max-file": "2"}},   # logs capped
    # removed by the spawner when it stops (remove = True), not by Docker the moment it exits: a lab that fails
    # to start keeps its log until the spawner has read it for the learner's page and lab-logs/
    "auto_remove": False,
}
c.DockerSpawner.mem_limit = s.memory_bytes
c.DockerSpawner.cpu_limit = s.cpus
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180


# --- past one machine: Swarm places each learner's seat, the lab runs on that node (labutils/classroom/spawners.py) ------
if s.swarm:
    tls = Path(s.swarm_tls)
    c.PlacedSpawner.manager_url = s.swarm
    c.PlacedSpawner.node_tls = {"ca_cert": str(tls / "ca.pem"), "client_cert": (str(tls / "cert.pem"), str(tls / "key.pem")),
                           "verify": True}
    c.PlacedSpawner.node_port = s.node_port
    c.PlacedSpawner.seat_image = env["CLASS_LAB_IMAGE"]
    c.PlacedSpawner.disk = ""                        # the learner's volumes live on their node: not bounded there
    c.PlacedSpawner.reserve_cpus = s.cpus
    c.PlacedSpawner.reserve_memory = s.memory_bytes
    c.PlacedSpawner.use_internal_ip = False          # the hub reaches the lab on its node's address
    c.PlacedSpawner.host_ip = "0.0.0.0"
    c.PlacedSpawner.extra_host_config = c.DockerSpawner.extra_host_config

# --- the culler and the instructor's class view, as hub services --------------------------------------
c.JupyterHub.services = [
    {"name": "idle-culler", "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                                        f"--timeout={s.idle_timeout}"]},
    {"name": "class-view", "api_token": s.secret("instructor-token", 32)},
]
c.JupyterHub.load_roles = [
    {"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
    # the class view never sends this token to a lab: for each learner it asks the hub for a token of theirs,
    # scoped to their server alone and expiring in minutes (tokens), and starts or stops labs (servers)
    {"name": "class-view", "services": ["class-view"],
     "scopes": ["list:users", "read:users", "read:servers", "servers!group=learners", "tokens!group=learners"]},
]

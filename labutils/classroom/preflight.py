"""What a learner's lab needs of this machine, checked by ``make class`` before anything starts.

Each check names what it found and the fix. A problem stops the class (``ClassError`` lists every one); a
note is printed and the class goes on.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
from pathlib import Path

from labutils.classroom.settings import ClassError, ClassSettings, size_bytes

TUN = Path("/dev/net/tun")
MIN_FREE = 10 << 30
"""Free space the engine's data root needs at least: the learners' image, the bases, a first learner."""


def _engine_info() -> dict:
    proc = subprocess.run(["docker", "info", "--format", "{{json .}}"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ClassError(f"No Docker Engine answers here: {proc.stderr.strip()[-300:]}",
                         "start dockerd (or set DOCKER_HOST) and run make class again.")
    return json.loads(proc.stdout)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as the hub and proxy bind: TIME_WAIT is free
        try:
            sock.bind((host, port))
            return True
        except OSError:
            return False


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def check(s: ClassSettings, running: bool = False) -> list[str]:
    """Every check, in order; the notes to print. ``running``: this class's hub is up (its ports are its own).

    Raises:
        ClassError: one or more problems, each with its fix; nothing was started.
    """
    problems: list[str] = []
    notes: list[str] = []
    if s.state.exists() or s.state.is_symlink():
        s.state_folder()                  # one that is another's, open to others or a link stops here (ClassError)
    info = _engine_info()
    # the tun device: Docker copies the host's node (and its mode) into the lab; the lab's entry point, root for
    # that one step, gives its own copy to the learner, so a host node of mode 0600 is fine and stays unchanged
    try:
        st = TUN.stat()
        if not stat.S_ISCHR(st.st_mode) or (os.major(st.st_rdev), os.minor(st.st_rdev)) != (10, 200):
            problems.append(f"{TUN} is not the tun device (char 10:200). Fix: `modprobe tun`, or recreate it: "
                            f"`mknod {TUN} c 10 200`.")
        else:
            notes.append(f"tun: {TUN} (mode {stat.S_IMODE(st.st_mode):04o}; each lab gives its own copy to the "
                         "learner, the host's node is not changed)")
    except FileNotFoundError:
        problems.append(f"There is no {TUN}: each learner's engine needs it for its network (slirp4netns). "
                        "Fix: `modprobe tun` (and `mkdir -p /dev/net && mknod /dev/net/tun c 10 200` if it is "
                        "still missing).")
    # user namespaces: the learner's engine is rootless
    most = _read("/proc/sys/user/max_user_namespaces")
    if most is not None and most == "0":
        problems.append("User namespaces are off (user.max_user_namespaces = 0): no rootless engine can start. "
                        "Fix: `sysctl -w user.max_user_namespaces=15000`.")
    if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        problems.append("kernel.unprivileged_userns_clone = 0: the learner (uid 1000) may not make a user "
                        "namespace. Fix: `sysctl -w kernel.unprivileged_userns_clone=1`.")
    if _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
        problems.append("AppArmor restricts unprivileged user namespaces (Ubuntu 23.10 and later): the learner's "
                        "rootless engine cannot start. Fix: `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`.")
    cgroup = str(info.get("CgroupVersion", ""))
    notes.append(f"cgroup v{cgroup}: " + ("each lab's CPU, memory and pids are limited on its container; the "
                                          "learner's own containers share that limit (no cgroups inside a rootless "
                                          "engine on v1)" if cgroup == "1" else "limits on each lab's container"))
    # ports, unless this class's hub (or the proxy it left running, which it takes up again) holds them
    proxy = _read(str(s.state / "jupyterhub-proxy.pid"))
    if proxy and proxy.isdigit() and Path(f"/proc/{proxy}").exists():
        running = True
    if not running:
        wanted = [(s.host if s.host not in ("", "0.0.0.0") else "0.0.0.0", s.port, "CLASS_PORT"),
                  ("127.0.0.1", s.proxy_api_port, "CLASS_PROXY_API_PORT"),
                  ("127.0.0.1", s.hub_port, "CLASS_HUB_PORT")]
        for host, port, key in wanted:
            if not _port_free(host, port):
                problems.append(f"Port {port} on {host} ({key}) is taken by another program. Fix: stop it, or set "
                                f"{key} to a free port.")
    # disk: the engine's data root
    root = info.get("DockerRootDir") or "/var/lib/docker"
    if os.path.isdir(root):
        free = shutil.disk_usage(root).free
        if free < MIN_FREE:
            problems.append(f"The engine's data root {root} has {free / 2**30:.1f} GiB free; a class needs "
                            f"{MIN_FREE / 2**30:.0f} GiB to start. Fix: free space there (`docker system prune`).")
        else:
            notes.append(f"disk: {free / 2**30:.0f} GiB free in {root}")
    # each learner's disk: a sparse file in the state folder, loop-mounted
    if not Path("/dev/loop-control").exists() or shutil.which("mkfs.ext4") is None:
        problems.append("Each learner's disk (CLASS_DISK) is an ext4 in a file, loop-mounted, and this machine has "
                        "no /dev/loop-control or no mkfs.ext4. Fix: `modprobe loop` and `apt-get install e2fsprogs`.")
    else:
        room = shutil.disk_usage(s.state if s.state.exists() else s.state.parent).free
        notes.append(f"disks: CLASS_DISK={s.disk} per learner, sparse in {s.state / 'disks'} ({room / 2**30:.0f} GiB "
                     f"free there; {s.max_learners} full disks would take {s.max_learners * size_bytes(s.disk) / 2**30:.0f})")
    if s.fence and shutil.which("iptables") is None:
        problems.append("iptables is not installed, and the fence around the labs is made of its rules. Fix: "
                        "`apt-get install iptables`, or CLASS_FENCE=0 to run without a fence (every lab then "
                        "reaches this machine's services).")
    if problems:
        raise ClassError("make class stopped before starting anything:\n  - " + "\n  - ".join(problems),
                         "fix each line above, then run make class again (`python -m labutils.classroom preflight` "
                         "checks again without starting).")
    return notes

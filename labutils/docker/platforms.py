"""Platforms: Docker's ``os/arch[/variant]`` names, the machine an ELF header names, and which foreign
platforms this machine's kernel can run (QEMU through binfmt_misc). Nothing here asks the engine:
``multiplatform`` reads the binary in an image (``binary_machine``).

A lesson about platforms is asserted on the file itself (its ELF header), never on an image's tag or
config, which say only what the build was asked for.
"""
from __future__ import annotations

import platform as _host
import re
from pathlib import Path

from labutils.errors import InvalidArgument

_PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")
# ELF e_machine values (the System V ABI's registry) for the platforms the course meets
MACHINES = {0x03: "x86", 0x28: "ARM", 0x3E: "x86-64", 0xB7: "AArch64", 0x14: "PowerPC", 0x15: "PowerPC64",
            0x16: "S390", 0xF3: "RISC-V"}
ARCH_OF_MACHINE = {"x86-64": "amd64", "AArch64": "arm64", "ARM": "arm", "x86": "386", "PowerPC64": "ppc64le",
                   "S390": "s390x", "RISC-V": "riscv64"}
# binfmt_misc entry (Debian's qemu-user-static) -> Docker's platform name
QEMU = {"qemu-aarch64": "linux/arm64", "qemu-x86_64": "linux/amd64", "qemu-arm": "linux/arm/v7", "qemu-riscv64": "linux/riscv64",
        "qemu-ppc64le": "linux/ppc64le", "qemu-s390x": "linux/s390x", "qemu-i386": "linux/386"}
BINFMT = Path("/proc/sys/fs/binfmt_misc")


def checked(platform: str | None, *, several: bool = False) -> str | None:
    """``platform`` as Docker reads it (``linux/arm64``, ``linux/arm/v7``), or None. With ``several`` (a
    build), a comma-separated list too: ``linux/amd64,linux/arm64``.

    Raises:
        InvalidArgument: it is not ``os/arch[/variant]`` (or a list of them, where several are allowed).
    """
    if platform is None:
        return None
    each = platform.split(",") if isinstance(platform, str) and several else [platform]
    if not all(isinstance(p, str) and _PLATFORM.match(p) for p in each) or len(set(each)) < len(each):
        raise InvalidArgument(f"platform={platform!r} is not a platform as Docker names them.",
                              hint="write it as os/arch, e.g. 'linux/amd64' or 'linux/arm64' (or 'linux/arm/v7')"
                                   + ("; several as 'linux/amd64,linux/arm64'." if several else "."))
    return platform


def elf_machine(data: bytes) -> str:
    """The machine an ELF file was built for (``x86-64``, ``AArch64``), from its header's e_machine field.

    Raises:
        InvalidArgument: the bytes are not an ELF file.
    """
    if data[:4] != b"\x7fELF" or len(data) < 20:
        raise InvalidArgument("That file is not an ELF executable (it does not start with 0x7f 'ELF').",
                              hint="name the program's path inside the image, e.g. '/myapp/welcome'.")
    code = int.from_bytes(data[18:20], "little" if data[5] == 1 else "big")
    return MACHINES.get(code, f"machine 0x{code:x}")


def native() -> str:
    """This machine's own platform, as Docker names it (``linux/amd64`` on x86-64)."""
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm/v7", "i686": "386"}.get(_host.machine(),
                                                                                        _host.machine())
    return f"linux/{arch}"


def emulated() -> list[str]:
    """The foreign platforms this machine's kernel runs through QEMU (enabled binfmt_misc entries).

    Empty when binfmt_misc is not mounted or no QEMU is registered. A remote engine's machine may differ:
    this reads the kernel labutils runs on, which is the engine's for a local or docker-in-docker engine.
    """
    found = []
    for entry, plat in QEMU.items():
        try:
            if (BINFMT / entry).read_text().startswith("enabled") and plat != native():
                found.append(plat)
        except OSError:
            continue
    return found


def how_to_emulate(platform: str = "linux/arm64") -> str:
    """What to install so that this machine runs ``platform``'s images."""
    entry = next((e for e, p in QEMU.items() if p == platform), "qemu-aarch64")
    return ("Docker Desktop has QEMU built in. On Linux, as root: `apt-get install qemu-user-static "
            "binfmt-support`, then `mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc` (if it is not "
            f"mounted) and `update-binfmts --enable {entry}`. The cross-compiled build needs none of it.")

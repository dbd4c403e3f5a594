"""Platforms: ``platform=`` on build, run and serve, with Docker's meaning; the binary's machine read from the
file in the image; cross-compiling in the build stage (data/exercises/multi-platform) on the real engine.

The arm64 image runs under QEMU where this machine's kernel has it (binfmt_misc). CI installs Debian's
qemu-user-static and sets LABUTILS_REQUIRE_EMULATION=1, so a missing emulator fails there instead of skipping.
"""
from __future__ import annotations

import os

import pytest
from shared import _need_buildkit

import labutils as lu
from labutils import platforms

T = "lutest-"
WELCOME = "Welcome to multi-stage Docker builds"


# --- pure -----------------------------------------------------------------------------

@pytest.mark.parametrize("good", ["linux/amd64", "linux/arm64", "linux/arm/v7", None])
def test_a_platform_is_written_as_docker_writes_it(good):
    assert platforms.checked(good) == good


@pytest.mark.parametrize("bad", ["arm64", "linux", "Linux/AMD64", "linux/arm64/v8/x", "", 64])
def test_a_platform_docker_would_not_read_is_refused_with_how_to_write_it(bad):
    with pytest.raises(lu.InvalidArgument) as caught:
        platforms.checked(bad)
    assert "linux/arm64" in caught.value.hint


def _elf(machine: int, little: bool = True) -> bytes:
    head = bytearray(b"\x7fELF" + bytes([2, 1 if little else 2]) + bytes(58))
    head[18:20] = machine.to_bytes(2, "little" if little else "big")
    return bytes(head)


def test_the_elf_header_names_the_machine():
    assert platforms.elf_machine(_elf(0x3E)) == "x86-64"
    assert platforms.elf_machine(_elf(0xB7)) == "AArch64"
    assert platforms.elf_machine(_elf(0x16, little=False)) == "S390"
    with pytest.raises(lu.InvalidArgument):
        platforms.elf_machine(b"#!/bin/sh\necho not elf\n")


def test_the_build_command_says_the_platform(tmp_path):
    from labutils.building import _command
    df = tmp_path / "Dockerfile"
    assert "--platform linux/arm64" in _command("x:1", df, tmp_path, None, "buildkit", "linux/arm64")
    assert "--platform" not in _command("x:1", df, tmp_path, None, "buildkit")


# --- the real engine ----------------------------------------------------------------------

def _need_arm64_emulation():
    if "linux/arm64" in platforms.emulated() or platforms.native() == "linux/arm64":
        return
    why = f"this kernel runs no linux/arm64 programs: {platforms.how_to_emulate()}"
    if os.environ.get("LABUTILS_REQUIRE_EMULATION") == "1":
        pytest.fail(f"LABUTILS_REQUIRE_EMULATION=1 but {why}")
    pytest.skip(why)


@pytest.mark.engine
def test_one_dockerfile_cross_compiles_small_images_for_amd64_and_arm64(live, exercise):
    _need_buildkit()
    folder = exercise("multi-platform")
    made = {p: lu.build(folder, f"{T}cross:{p.split('/')[1]}", platform=p, builder="buildkit", quiet=True)
            for p in ("linux/amd64", "linux/arm64")}
    assert lu.binary_machine(made["linux/amd64"].tag, "/myapp/welcome") == "x86-64"
    assert lu.binary_machine(made["linux/arm64"].tag, "/myapp/welcome") == "AArch64"
    for p, result in made.items():
        binary = lu.file_size(result.tag, "/myapp/welcome")
        assert binary <= lu.image_size(result.tag) < binary + 64 * 1024, \
            f"{p}: the final stage is more than its binary ({lu.image_size(result.tag)} vs {binary} bytes)"
        assert result.platform == p
    native = lu.run(made[platforms.native()].tag)
    assert native.ok and WELCOME in native.stdout, native


@pytest.mark.engine
def test_the_arm64_image_prints_the_welcome_line_under_emulation(live, exercise):
    _need_buildkit()
    _need_arm64_emulation()
    folder = exercise("multi-platform")
    arm = lu.build(folder, T + "cross:arm64-run", platform="linux/arm64", builder="buildkit", quiet=True)
    ran = lu.run(arm.tag, platform="linux/arm64")
    assert ran.ok and WELCOME in ran.stdout, ran


@pytest.mark.engine
def test_a_platform_docker_cannot_read_stops_before_anything_is_built(live, exercise):
    folder = exercise("multi-platform")
    with pytest.raises(lu.InvalidArgument):
        lu.build(folder, T + "cross:bad", platform="arm64", builder="buildkit", quiet=True)
    assert not lu.image_exists(T + "cross:bad")
    with pytest.raises(lu.InvalidArgument):
        lu.run("anything:v1", platform="arm")


@pytest.mark.engine
def test_doctor_reports_the_platforms_this_machine_runs(live):
    report = lu.doctor()
    row = report[report["check"] == "platforms (optional)"]
    assert len(row) == 1 and row["ok"].all()
    found = row["found"].iloc[0]
    assert platforms.native() in found
    assert ("linux/arm64" in found) == ("linux/arm64" in platforms.emulated())

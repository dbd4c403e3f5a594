"""Platforms: ``platform=`` on build, run and serve, with Docker's meaning; the binary's machine read from the
file in the image; cross-compiling in the build stage (data/exercises/multi-platform) on the real engine.

The arm64 image runs under QEMU where this machine's kernel has it (binfmt_misc). CI installs Debian's
qemu-user-static and sets LABUTILS_REQUIRE_EMULATION=1, so a missing emulator fails there instead of skipping.
"""

from __future__ import annotations

import pytest

import labutils as lu
from labutils import errors
from labutils.docker import platforms
from labutils.ops import multiplatform


@pytest.mark.parametrize("good", ["linux/amd64", "linux/arm64", "linux/arm/v7", None])
def test_a_platform_is_written_as_docker_writes_it(good):
    assert platforms.checked(good) == good


@pytest.mark.parametrize("bad", ["arm64", "linux", "Linux/AMD64", "linux/arm64/v8/x", "", 64])
def test_a_platform_docker_would_not_read_is_refused_with_how_to_write_it(bad):
    with pytest.raises(errors.InvalidArgument) as caught:
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
    with pytest.raises(errors.InvalidArgument):
        platforms.elf_machine(b"#!/bin/sh\necho not elf\n")


def test_the_build_command_says_the_platform(tmp_path):
    from labutils.ops.build import _command
    df = tmp_path / "Dockerfile"
    assert "--platform linux/arm64" in _command("x:1", df, tmp_path, None, "buildkit", "linux/arm64")
    assert "--platform" not in _command("x:1", df, tmp_path, None, "buildkit")


def test_each_stage_is_resolved_for_the_platform_it_is_built_for(tmp_path):
    from labutils import bases
    df = tmp_path / "Dockerfile"
    df.write_text("FROM --platform=$BUILDPLATFORM golang:1.15.6 AS builder\nRUN true\n"
                  "FROM --platform=${TARGETPLATFORM} alpine:latest\nFROM --platform=linux/s390x debian:bookworm\n"
                  "FROM scratch\n")
    assert bases.stage_platforms(df, None, "linux/arm64") == [[None], ["linux/arm64"], ["linux/s390x"],
                                                             ["linux/arm64"]]
    assert bases.stage_platforms(df, None, "linux/amd64,linux/arm64")[0] == [None]
    assert bases.stage_platforms(df, None, "linux/amd64,linux/arm64")[3] == ["linux/amd64", "linux/arm64"]
    assert bases.stage_platforms(df, None, None)[1] == [None]


def test_another_platforms_stand_ins_have_tags_of_their_own(monkeypatch):
    from labutils import bases
    monkeypatch.setattr(platforms, "native", lambda: "linux/amd64")
    assert bases.standin_name("golang:1.15.6", "linux/arm64") == "labutils-golang:1.15-arm64"
    assert bases.standin_name("golang:1.15.6-alpine", "linux/arm64") == "labutils-golang:1.15-musl-arm64"
    assert bases.standin_name("alpine:latest", "linux/arm/v7") == "labutils-alpine:musl-armv7"
    assert bases.standin_name("golang:1.15.6", "linux/amd64") == bases.standin_name("golang:1.15.6") == bases.GOLANG
    # another platform's alpine is fetched from its own bullseye (the one root made under QEMU)
    assert bases.recipe("labutils-alpine:musl-arm64", "linux/arm64") == ("alpine.Dockerfile",
                                                                         "labutils-debian:bullseye-arm64")
    assert bases.recipe(bases.GOLANG_MUSL) == ("golang-musl.Dockerfile", bases.GOLANG)


def test_several_platforms_are_one_build_argument_only_where_allowed():
    assert platforms.checked("linux/amd64,linux/arm64", several=True) == "linux/amd64,linux/arm64"
    for bad, several in (("linux/amd64,linux/arm64", False), ("linux/arm64,linux/arm64", True),
                         ("linux/amd64,", True)):
        with pytest.raises(errors.InvalidArgument):
            platforms.checked(bad, several=several)
    assert multiplatform.platform_tag("welcome:v1", "linux/arm/v7") == "welcome:v1-armv7"


def test_cross_vs_emulated_gives_the_ratio_of_medians_and_its_range():
    import pandas as pd
    times = pd.DataFrame([{"work": "w", "platform": "linux/arm64", "way": way, "repeat": i, "seconds": s,
                           "emulated": way == "emulated"}
                          for way, secs in (("cross", [2.0, 4.0]), ("emulated", [20.0, 30.0]))
                          for i, s in enumerate(secs)])
    row = lu.cross_vs_emulated(times).iloc[0]
    assert row["ratio"] == pytest.approx(25.0 / 3.0)
    assert (row["ratio_min"], row["ratio_max"]) == (pytest.approx(5.0), pytest.approx(15.0))
    assert row["under_qemu"]


def test_the_books_figures_are_amd64_figures_and_another_platform_says_so():
    from labutils.course.book import BOOK_PLATFORM, beside_book
    assert BOOK_PLATFORM == "linux/amd64"
    same = beside_book("welcome:v1", 805_000_000)
    assert same["ours / book"] == 1.0 and same["why"] == ""
    arm = beside_book("welcome:v1", 795_000_000, platform="linux/arm64")
    assert "linux/arm64" in arm["why"] and "linux/amd64" in arm["why"]

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
from labutils import errors
from labutils.docker import platforms
from labutils.ops import images, multiplatform

T = "lutest-"


WELCOME = "Welcome to multi-stage Docker builds"


def _missing(why: str):
    """Fail where CI registered QEMU and made the bases (LABUTILS_REQUIRE_EMULATION=1), else skip, saying why."""
    if os.environ.get("LABUTILS_REQUIRE_EMULATION") == "1":
        pytest.fail(f"LABUTILS_REQUIRE_EMULATION=1 but {why}")
    pytest.skip(why)


def _need_arm64_emulation():
    if "linux/arm64" not in platforms.emulated() and platforms.native() != "linux/arm64":
        _missing(f"this kernel runs no linux/arm64 programs: {platforms.how_to_emulate()}")


@pytest.mark.engine
def test_one_dockerfile_cross_compiles_small_images_for_amd64_and_arm64(live, exercise):
    _need_buildkit()
    folder = exercise("multi-platform")
    made = {p: lu.build(folder, f"{T}cross:{p.split('/')[1]}", platform=p, builder="buildkit", quiet=True)
            for p in ("linux/amd64", "linux/arm64")}
    assert multiplatform.binary_machine(made["linux/amd64"].tag, "/myapp/welcome") == "x86-64"
    assert multiplatform.binary_machine(made["linux/arm64"].tag, "/myapp/welcome") == "AArch64"
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
    with pytest.raises(errors.InvalidArgument):
        lu.build(folder, T + "cross:bad", platform="arm64", builder="buildkit", quiet=True)
    assert not lu.image_exists(T + "cross:bad")
    with pytest.raises(errors.InvalidArgument):
        lu.run("anything:v1", platform="arm")


@pytest.mark.engine
def test_running_an_image_for_a_platform_it_lacks_says_so_not_that_it_is_missing(live, exercise):
    _need_buildkit()
    own = platforms.native()
    other = "linux/arm64" if own != "linux/arm64" else "linux/amd64"
    made = lu.build(exercise("multi-platform"), T + "own:v1", platform=own, builder="buildkit", quiet=True)
    with pytest.raises(errors.InvalidArgument) as caught:     # 20.10 and 28.5 on either store refuse it
        lu.run(made.tag, platform=other)
    assert f"holds no {other} image" in caught.value.message and "platform=" in caught.value.hint
    assert lu.ps().empty


@pytest.mark.engine
def test_doctor_reports_the_platforms_this_machine_runs(live):
    report = lu.doctor()
    row = report[report["check"] == "platforms (optional)"]
    assert len(row) == 1 and row["ok"].all()
    found = row["found"].iloc[0]
    assert platforms.native() in found
    assert ("linux/arm64" in found) == ("linux/arm64" in platforms.emulated())


ARM = "linux/arm64"


def _need_arm64_bases():
    _need_arm64_emulation()
    from labutils import bases
    if platforms.native() != ARM and not all(bases.exists(bases.required_standin(ref, ARM)) for ref in bases.FOREIGN_BASES):
        _missing("the linux/arm64 stand-ins are not made: run `make bases-other`")


@pytest.mark.engine
def test_the_emulated_build_runs_the_go_toolchain_of_the_target_platform(live, exercise):
    _need_buildkit()
    _need_arm64_bases()
    folder = exercise("multi-platform")
    emulated = lu.build(folder, T + "emulated:arm64", dockerfile="Dockerfile.emulated", platform=ARM,
                        builder="buildkit", quiet=True)
    if not lu.image_exists("golang:1.15.6") or emulated.substitutions:
        assert emulated.substitutions == {"golang:1.15.6": "labutils-golang:1.15-arm64"}
    assert multiplatform.binary_machine(emulated.tag, "/myapp/welcome", platform=ARM) == "AArch64"
    ran = lu.run(emulated.tag, platform=ARM)
    assert ran.ok and WELCOME in ran.stdout, ran


@pytest.mark.engine
def test_build_platforms_makes_what_this_engines_store_can_hold(live, exercise):
    _need_buildkit()
    _need_arm64_emulation()
    folder = exercise("multi-platform")
    made = lu.build_platforms(folder, T + "multi:v1", quiet=True)
    store = images.inspect(made[0].tag)["store"]
    if store == "containerd":
        assert [r.tag for r in made] == [T + "multi:v1"], "the containerd store holds both platforms in one tag"
    else:
        assert [r.tag for r in made] == [T + "multi:v1-amd64", T + "multi:v1-arm64"]
    table = lu.image_platforms(made, binary="/myapp/welcome")
    assert dict(zip(table["platform"], table["machine"], strict=True)) == {"linux/amd64": "x86-64", ARM: "AArch64"}
    assert ((table["size_bytes"] - table["binary_bytes"]).abs() < 64 * 1024).all(), table
    for row in table.itertuples():
        ran = lu.run(row.image, platform=row.platform)
        assert ran.ok and WELCOME in ran.stdout, (row.platform, ran)


@pytest.mark.engine
def test_one_build_of_two_platforms_is_refused_up_front_where_a_tag_holds_one(live, exercise):
    folder = exercise("multi-platform")
    with pytest.raises(errors.InvalidArgument) as caught:
        lu.build(folder, T + "multi:classic", platform="linux/amd64,linux/arm64", quiet=True)
    assert "builder='buildkit'" in caught.value.hint
    other = "linux/arm64" if platforms.native() != "linux/arm64" else "linux/amd64"
    with pytest.raises(errors.InvalidArgument):
        lu.build(exercise("normal-build"), T + "other:classic", platform=other, quiet=True)
    from labutils.backends import backend
    if backend().describe()["store"] != "containerd":
        with pytest.raises(errors.InvalidArgument) as caught:
            lu.build(folder, T + "multi:one", platform="linux/amd64,linux/arm64", builder="buildkit", quiet=True)
        assert "one platform per tag" in caught.value.message
        assert not lu.image_exists(T + "multi:one")


@pytest.mark.engine
def test_a_platform_with_no_base_here_says_how_to_make_one(live, exercise):
    folder = exercise("normal-build")
    with pytest.raises((errors.BaseImageUnavailable, errors.BuildFailed)) as caught:
        lu.build(folder, T + "riscv:v1", platform="linux/riscv64", builder="buildkit", quiet=True)
    if isinstance(caught.value, errors.BaseImageUnavailable):        # no registry answered (a registry: BuildKit's own error)
        assert "bases --offline --platform linux/riscv64" in caught.value.hint
    assert not lu.image_exists(T + "riscv:v1")


@pytest.mark.engine
def test_the_lessons_of_notebooks_01_to_05_hold_on_arm64(live, exercise):
    """The course on an arm64 host, as far as this machine allows: every image built for linux/arm64 (its bases
    the arm64 stand-ins), run under QEMU, and each lesson asserted as its notebook's checkpoint does."""
    _need_arm64_bases()

    def built(name, tag, **kw):
        return lu.build(exercise(name) if isinstance(name, str) else name, T + tag, platform=ARM, quiet=True,
                        builder="buildkit", **kw)

    normal = built("normal-build", "arm-welcome:v1")                                       # 01
    assert multiplatform.binary_machine(normal.tag, "/myapp/welcome", platform=ARM) == "AArch64"
    assert lu.run(normal.tag, platform=ARM).stdout == WELCOME + "\n"
    assert normal.size > 300e6
    pattern = exercise("builder-pattern")                                                  # 02, as build.sh does
    builder = built(pattern, "arm-welcome-builder:v1", dockerfile="Dockerfile.build")
    lu.copy_out(builder.tag, "/myapp/welcome", pattern, platform=ARM)
    runtime = built(pattern, "arm-welcome-runtime:v1")
    assert lu.run(runtime.tag, platform=ARM).stdout == WELCOME + "\n"
    assert runtime.size < 10e6 and runtime.size * 100 < builder.size
    intro = exercise("multi-stage-intro")                                                  # 03
    numbered = built(intro, "arm-multi-stage:v1")
    dev = built(intro, "arm-multi-stage:dev", dockerfile="Dockerfile.named", target="builder")
    assert lu.run(numbered.tag, platform=ARM).stdout == "Hello World\n" and numbered.size < 10e6
    assert dev.size > 50 * numbered.size
    optimized = built("multi-stage", "arm-welcome-optimized:v1")                           # 04
    assert lu.same_files(runtime.tag, optimized.tag) and runtime.size == optimized.size
    assert normal.size > 50 * optimized.size, (normal.size, optimized.size)
    activity = exercise("activity")
    first = built(activity, "arm-activity:first-try", dockerfile="Dockerfile.first-try")     # 05: the glibc trap
    crash = lu.run(first.tag, platform=ARM, timeout=60)
    # the lesson is the exit status; the words are runc's on an arm64 host, QEMU's ("Could not open
    # '/lib/ld-linux-aarch64.so.1': No such file or directory") under emulation
    assert crash.exit_code != 0 and "no such file or directory" in crash.stderr.lower(), crash
    pages = {}
    for fix in ("Dockerfile.solution", "Dockerfile.alpine-builder"):
        fixed = built(activity, f"arm-activity:{fix.split('.')[1]}", dockerfile=fix)
        assert fixed.size < 20e6
        with lu.serve(fixed.tag, platform=ARM, timeout=90) as server:
            pages[fix] = [server.get(path, timeout=30).body for path in ("/", "/contact", "/login")]
    assert pages["Dockerfile.solution"] == pages["Dockerfile.alpine-builder"] == [
        "<h1>Home Page</h1>", "<h1>Contact Us</h1>", "<h1>Login Page</h1>"], pages
    assert lu.ps().empty


@pytest.mark.engine
def test_without_qemu_the_cross_build_still_runs_and_the_output_says_what_to_install(live, exercise, monkeypatch,
                                                                                    capsys):
    _need_buildkit()
    monkeypatch.setattr(platforms, "emulated", lambda: [])           # as on a machine with no binfmt_misc entry
    own = platforms.native()
    other = "linux/arm64" if own != "linux/arm64" else "linux/amd64"
    assert list(lu.engine_platforms()["platform"]) == [own]
    times = lu.measure_platforms(exercise("multi-platform"), platforms=(own, other), repeats=1,
                                 work={"the lab's program": {}}, tag=T + "noqemu")
    out = capsys.readouterr().out
    assert "qemu-user-static" in out and f"emulated builds for {other} are left out" in out
    assert set(zip(times["platform"], times["way"], strict=True)) == {(own, "cross"), (own, "emulated"),
                                                                      (other, "cross")}
    assert lu.cross_vs_emulated(times)["platform"].tolist() == [own]

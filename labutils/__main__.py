"""Command line: ``python -m labutils doctor | bases | check | clean | reset | run-all | class | record``."""
from __future__ import annotations

import argparse
import os
import sys

from labutils.course.doctor import doctor, ready
from labutils.errors import InvalidArgument, LabError
from labutils.ops import standins
from labutils.ops.images import clean
from labutils.settings import settings


def _doctor(args) -> int:
    report = doctor()
    for row in report.itertuples():
        print(f"[{'ok' if row.ok else '!!'}] {row.check}: {row.found}")
    ok = ready(report)
    print("The lab can run here." if ok else "The lab cannot run yet: fix the lines marked !!.")
    return 0 if ok else 1


def _bases(args) -> int:
    if args.save:
        standins.save_kit(args.save, quiet=args.quiet)
        return 0
    if args.load:
        standins.load_kit(args.load, quiet=args.quiet)
        return 0
    if args.book_names or args.no_book_names:
        done = standins.book_names(undo=args.no_book_names, quiet=args.quiet)
        if args.no_book_names:
            print(f"{len(done)} lab name(s) taken back from the stand-ins; labutils builds on the stand-ins' own names.")
        elif done:
            print(f"{len(done)} stand-in(s) now answer to the lab's names: the book's commands work as typed "
                  "(`docker image inspect` still shows the label io.labutils.standin).")
        else:
            print("Nothing to name: each of the lab's images is here under its own name, or has no stand-in yet.")
        return 0
    if args.background:
        return _bases_in_background(args)
    for res in standins.ensure(offline=args.offline, quiet=args.quiet, platform=args.platform):
        note = f" (stand-in for {res.requested})" if res.how == "stand-in" else ""
        print(f"{res.requested}{f' ({args.platform})' if args.platform else ''}: {res.how} -> {res.used}{note}")
    return 0


def _bases_in_background(args) -> int:
    """make lab's first step: base images ready now, or being made while JupyterLab opens."""
    from labutils.backends import answers
    from labutils.bases import LAB_BASES, background, exists, required_standin
    if not answers():
        print("No Docker Engine answered: the notebooks will run in recorded mode.")
        return 1
    missing = [ref for ref in LAB_BASES if not exists(ref) and not exists(required_standin(ref))]
    if not missing:
        print("The lab's base images are ready.")
        return 0
    if background.running():
        print(f"The base images are already being made in the background (log: {background.log_file()}).")
        return 0
    pid = background.start(["--offline"] if args.offline else [])
    print(f"Making {', '.join(missing)} in the background (pid {pid}, log: {background.log_file()}): JupyterLab opens "
          "now; 00-setup shows their progress, and a build that needs one waits for it.")
    return 0


def _clean(args) -> int:
    removed = clean(dry_run=args.dry_run, everyone=args.all_namespaces)
    verb = "would remove" if args.dry_run else "removed"
    for row in removed.itertuples():
        print(f"{verb} {row.kind} {row.name} ({row.id})")
    print(f"{len(removed)} object(s) {verb}; anything without labutils' label was left alone.")
    return 0


def _check(args) -> int:
    from labutils.grading.yourturn import check
    review = check(args.exercise)
    return 0 if review.passed else 1


def _reset(args) -> int:
    from labutils.course.exercises import reset_work
    code = _clean(args)
    for path in reset_work(dry_run=args.dry_run):
        print(f"{'would remove' if args.dry_run else 'removed'} {path}")
    return code


def _run_all(args) -> int:
    import pandas as pd

    from labutils.course import approaches, plots
    from labutils.course.behaviour import behaves
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    print(f"Building the lab's {len(approaches.APPROACHES)} approaches, {args.repeats} times cold and warm each ...")
    times = approaches.measure(repeats=args.repeats)
    failures = []
    for a in approaches.APPROACHES:
        b = behaves(a.tag, a.exercise)
        print(f"[{'ok' if b.ok else '!!'}] {a.tag}: {b.said}")
        if not b.ok:
            failures.append(a.tag)
    summary = approaches.summary(times)
    print("\nEvery approach, with the book's figures:\n" + summary.to_string(index=False))
    print("\nBuild seconds (median, range):\n" + approaches.spread(times).to_string(index=False))
    print("\nBuilder pattern vs multi-stage:\n" + approaches.versus(times).to_string())
    paths = [plots.save(plots.sizes(summary), "sizes"), plots.save(plots.build_times(times), "build-times")]
    times.to_csv(paths[0].parent / "build-times.csv", index=False)
    print("\nFigures: " + ", ".join(str(p) for p in paths))
    if failures:
        print(f"These images did not do what the lab says: {failures}")
    return 1 if failures else 0


def _read(path: str) -> str:
    try:
        return open(path).read().strip()
    except OSError as exc:
        raise InvalidArgument(f"The instructor's token could not be read from {path} ({exc.strerror}).",
                              hint="pass --token-file (make class prints where it is) or set CLASS_VIEW_TOKEN.") from None


def _class(args) -> int:
    import pandas as pd

    from labutils.classroom import shared_engine
    from labutils.course import plots
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    if args.hub:
        token = args.token or os.environ.get("CLASS_VIEW_TOKEN") or _read(args.token_file)
        from labutils.classroom.view import hub_view, write_grades
        view = hub_view(args.hub, token, check=not args.no_check)
        if args.csv:
            print(f"Grades: {write_grades(view, args.csv)}")
    else:
        view = shared_engine.class_view(check=not args.no_check)
    if view.empty:
        print("No learner has lab images here yet.")
        return 0
    shown = view[view["exists"].fillna(True).astype(bool)].drop(columns=["size_bytes"])
    print(f"{view['learner'].nunique()} learner(s); their lab images on this engine:")
    print(shown.to_string(index=False))
    grid = shared_engine.grid(view)
    print("\nLearners x exercises:\n" + grid.to_string())
    ax = plots.class_grid(grid)
    path = args.figure or str(plots.save(ax, "class"))
    if args.figure:
        ax.figure.savefig(path, dpi=120)
    print(f"\nFigure: {path}")
    return 0


def _record(args) -> int:
    from labutils.course import record_notebooks
    return record_notebooks.record_notebooks(args.notebooks, out=args.out, write_outputs=not args.no_outputs)


def main(argv=None) -> int:
    """``python -m labutils <command>``: 0 when it did what it says, 2 with the error's text when it could not."""
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m labutils",
                                     description="Tools for the multi-stage Dockerfiles approaches.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("doctor", help="check the engine and base images; exit 0 when the lab can run")
    p.set_defaults(func=_doctor)
    p = sub.add_parser("bases", help="make the lab's base images ready (local, pulled, or stand-ins)")
    p.add_argument("--offline", action="store_true",
                   help="build missing stand-ins from Debian packages (debootstrap; Linux, root)")
    p.add_argument("--quiet", action="store_true", help="print only the outcome")
    p.add_argument("--platform", metavar="OS/ARCH",
                   help="make the bases of exercises 01-05 for another platform (linux/arm64; QEMU runs its "
                        "package scripts): what notebook 08's emulated build and arm64 builds use")
    p.add_argument("--background", action="store_true",
                   help="start making them in a process of their own (log: work/bases.log) and return at once; "
                        "builds and notebook 00 wait for it")
    kit = p.add_mutually_exclusive_group()
    kit.add_argument("--save", metavar="KIT.tar", help="save every base image the lab needs into one archive")
    kit.add_argument("--load", metavar="KIT.tar", help="load a kit into this engine, with no network")
    kit.add_argument("--book-names", action="store_true",
                     help="tag the stand-ins with the lab's names (golang:1.15.6, alpine:latest, ...) where the engine "
                          "has no such image, so the book's commands work as typed offline")
    kit.add_argument("--no-book-names", action="store_true", help="take those names back from the stand-ins")
    p.set_defaults(func=_bases)
    p = sub.add_parser("check", help="grade your own exercise as your engine holds it: the image you built with the "
                                     "docker CLI (welcome:yours, ...) and your files in work/yours/EXERCISE/; exit 0 "
                                     "when every check holds")
    p.add_argument("exercise", choices=["normal-build", "builder-pattern", "multi-stage", "activity"])
    p.set_defaults(func=_check)
    p = sub.add_parser("clean", help="remove every container and image labutils made, nothing else")
    p.add_argument("--dry-run", action="store_true", help="list what would be removed")
    p.add_argument("--all-namespaces", action="store_true", help="every learner's, on a shared engine")
    p.set_defaults(func=_clean)
    p = sub.add_parser("reset", help="back to a clean start: labutils' containers, images and work/ files "
                                     "gone, base images kept")
    p.add_argument("--dry-run", action="store_true", help="list what would be removed")
    p.add_argument("--all-namespaces", action="store_true", help="every learner's, on a shared engine")
    p.set_defaults(func=_reset)
    p = sub.add_parser("run-all", help="build and run every exercise headless, print the comparison, "
                                       "write the figures under work/figures/")
    p.add_argument("--repeats", type=int, default=3, help="cold and warm builds per approach (default 3)")
    p.set_defaults(func=_run_all)
    p = sub.add_parser("class", help="the instructor's view of a shared engine: every learner's lab images, "
                                     "whether they run as the lab says, and a learners x exercises figure")
    p.add_argument("--no-check", action="store_true", help="only list the images; do not run them")
    p.add_argument("--hub", metavar="URL", help="a class on JupyterHub (make class): every learner's own engine, "
                                               "through their lab")
    p.add_argument("--token", help="the instructor's API token (else CLASS_VIEW_TOKEN, else --token-file)")
    p.add_argument("--token-file", default="/var/tmp/labutils-class/instructor-token",
                   help="where make class keeps the instructor's token")
    p.add_argument("--figure", metavar="PNG", help="where to save the figure (default work/figures/class.png)")
    p.add_argument("--csv", metavar="FILE", help="with --hub: the grades, a row per learner and a column per exercise "
                                                  "(passed, failed, not attempted), as an LMS gradebook imports")
    p.set_defaults(func=_class)
    p = sub.add_parser("record", help="remove labutils' own images, run every notebook live, store what the engine answered in data/recorded/ "
                                      "and the outputs in the notebooks, then replay them all with no engine and "
                                      "list recorded calls nothing replayed")
    p.add_argument("--notebooks", default=str(settings().data.parent / "notebooks"), help="the notebooks folder")
    p.add_argument("--out", default=None, help="where to write the recording (default data/recorded)")
    p.add_argument("--no-outputs", action="store_true", help="leave the notebooks' stored outputs as they are")
    p.set_defaults(func=_record)
    return parser


if __name__ == "__main__":
    sys.exit(main())

"""Command line: ``python -m labutils doctor | bases [--offline] | clean [--dry-run]``."""
from __future__ import annotations

import argparse
import sys

from . import bases
from .images import clean
from .doctor import doctor, ready
from .errors import LabError


def _doctor(args) -> int:
    report = doctor()
    for row in report.itertuples():
        print(f"[{'ok' if row.ok else '!!'}] {row.check}: {row.found}")
    ok = ready(report)
    print("The lab can run here." if ok else "The lab cannot run yet: fix the lines marked !!.")
    return 0 if ok else 1


def _bases(args) -> int:
    for res in bases.ensure(offline=args.offline, quiet=args.quiet):
        note = f" (stand-in for {res.requested})" if res.how == "stand-in" else ""
        print(f"{res.requested}: {res.how} -> {res.used}{note}")
    return 0


def _clean(args) -> int:
    removed = clean(dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for row in removed.itertuples():
        print(f"{verb} {row.kind} {row.name} ({row.id})")
    print(f"{len(removed)} object(s) {verb}; anything without labutils' label was left alone.")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labutils",
                                     description="Tools for the multi-stage Dockerfiles lab.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("doctor", help="check the engine and base images; exit 0 when the lab can run")
    p.set_defaults(func=_doctor)
    p = sub.add_parser("bases", help="make the lab's base images ready (local, pulled, or stand-ins)")
    p.add_argument("--offline", action="store_true",
                   help="build missing stand-ins from Debian packages (debootstrap; Linux, root)")
    p.add_argument("--quiet", action="store_true", help="print only the outcome")
    p.set_defaults(func=_bases)
    p = sub.add_parser("clean", help="remove every container and image labutils made, nothing else")
    p.add_argument("--dry-run", action="store_true", help="list what would be removed")
    p.set_defaults(func=_clean)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

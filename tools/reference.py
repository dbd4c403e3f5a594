"""docs/reference.md, generated from the code: the learner's calls, every setting, the command lines.

    python3 -m tools.reference          # write docs/reference.md
    python3 -m tools.reference --check  # exit 1 when docs/reference.md is not what the code says (make lint)
"""
from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "reference.md"


def _first_line(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.split("\n\n")[0].replace("\n", " ").replace("|", "\\|")


def _where(obj) -> str:
    obj = getattr(obj, "__wrapped__", obj)
    return getattr(obj, "__module__", "")


def _calls() -> list[str]:
    import labutils as lu
    rows = ["| call | what it stands for | module |", "|---|---|---|"]
    for name in lu.__all__:
        obj = getattr(lu, name)
        if inspect.ismodule(obj):
            rows.append(f"| `lu.{name}` | {_first_line(obj)} | `{obj.__name__}` |")
        elif inspect.isclass(obj):
            rows.append(f"| `lu.{name}` | {_first_line(obj)} | `{obj.__module__}` |")
        else:
            params = ", ".join(p for p in inspect.signature(obj).parameters)
            rows.append(f"| `lu.{name}({params})` | {_first_line(obj)} | `{_where(obj)}` |")
    return rows


def _variables(variables) -> list[str]:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{v.name}` | {v.default} | {v.meaning} |" for v in variables]
    return rows


def _commands() -> list[str]:
    from labutils.__main__ import _parser
    parser = _parser()
    rows = ["| command | what it does |", "|---|---|"]
    for action in parser._subparsers._group_actions:               # argparse keeps its subcommands here
        for choice in action._choices_actions:
            rows.append(f"| `python -m labutils {choice.dest}` | {choice.help} |")
    return rows


def render() -> str:
    from labutils.classroom.settings import CLASS_VARIABLES
    from labutils.settings import VARIABLES
    parts = [
        "# Reference",
        "",
        "Generated from the code by `python3 -m tools.reference`; `make lint` fails when this page is not what "
        "the code says. Every call's full docstring (Args, Raises, an example) is in `help(lu.<call>)`.",
        "",
        "## The learner's calls: `import labutils as lu`",
        "",
        *_calls(),
        "",
        "## Settings: `labutils.settings.VARIABLES`, read at each call",
        "",
        *_variables(VARIABLES),
        "",
        "## A class's settings: `labutils.classroom.settings.CLASS_VARIABLES` (or `class/class.env`)",
        "",
        *_variables(CLASS_VARIABLES),
        "",
        "## Command line: `python -m labutils COMMAND --help`",
        "",
        *_commands(),
        "",
    ]
    return "\n".join(parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m tools.reference", description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="compare instead of writing")
    args = p.parse_args(argv)
    text = render()
    if args.check:
        if not TARGET.is_file() or TARGET.read_text() != text:
            print(f"{TARGET.relative_to(ROOT)} is not what the code says: run `python3 -m tools.reference`.",
                  file=sys.stderr)
            return 1
        print(f"{TARGET.relative_to(ROOT)} is current.")
        return 0
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

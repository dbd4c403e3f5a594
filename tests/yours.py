"""A learner's files for each exercise, wrong and right, and what each wrong file must be told: the examples
the unit and engine tests of "your turn" share."""
from __future__ import annotations

from shared import EXERCISES

WRONG = {
    # 4.01: a multi-stage file where a normal build is asked for
    "normal-build": {"Dockerfile": (EXERCISES / "multi-stage" / "Dockerfile").read_text()},
    # 4.02: the runtime image copies the whole folder onto the Go image; the script leaves its container and binary
    "builder-pattern": {
        "Dockerfile.build": (EXERCISES / "builder-pattern" / "Dockerfile.build").read_text(),
        "Dockerfile": "FROM golang:1.15.6\nWORKDIR /myapp\nCOPY . .\nENTRYPOINT [\"./welcome\"]\n",
        "build.sh": (EXERCISES / "builder-pattern" / "build.sh").read_text()
        .replace("docker container rm -f welcome-builder-container\n", "").replace("rm welcome\n", ""),
    },
    # 4.03: the final stage is the Go image again, and copies the build context
    "multi-stage": {"Dockerfile": "FROM golang:1.15.6 AS builder\nWORKDIR /myapp\nCOPY welcome.go .\n"
                                  "RUN go build -o welcome .\nFROM golang:1.15.6\nWORKDIR /myapp\nCOPY . .\n"
                                  "COPY --from=builder /myapp/welcome .\nENTRYPOINT [\"./welcome\"]\n"},
    # the activity: the literal first try, glibc-linked on alpine
    "activity": {"Dockerfile": (EXERCISES / "activity" / "Dockerfile.first-try").read_text()},
}


RIGHT = {
    "normal-build": {"Dockerfile": (EXERCISES / "normal-build" / "Dockerfile").read_text()},
    "builder-pattern": {n: (EXERCISES / "builder-pattern" / n).read_text()
                        for n in ("Dockerfile.build", "Dockerfile", "build.sh")},
    "multi-stage": {"Dockerfile": (EXERCISES / "multi-stage" / "Dockerfile").read_text()},
    "activity": {"Dockerfile": (EXERCISES / "activity" / "Dockerfile.solution").read_text()},
}

# what each wrong file must be told, naming the line where there is one
TOLD = {
    "normal-build": ["one stage: a normal build", "lines 1, 5", "line 5 of Dockerfile says `FROM scratch`",
                     "ships the whole Go toolchain"],
    "builder-pattern": ["line 1 of Dockerfile says `FROM golang:1.15.6`", "line 3 of Dockerfile (`COPY . .`)",
                        "docker container rm -f welcome-builder-container", "rm welcome"],
    "multi-stage": ["line 5 of Dockerfile says `FROM golang:1.15.6`", "line 7 of Dockerfile (`COPY . .`)",
                    "a small image"],
    "activity": ["exec ./main: no such file or directory", "line 5 (`RUN go build -o main .`)", "CGO_ENABLED=0"],
}


def write_files(folder, files):
    """Write ``{name: text}`` into ``folder``."""
    for name, text in files.items():
        (folder / name).write_text(text)

NS = "lutest-yours"          # the namespace the "your turn" engine tests build in (the learner fixture)

"""One error root for everything labutils raises.

Each error carries what ran, what the engine answered, the tail of any log and a
hint saying what to do next, so a notebook cell that fails tells the learner how
to fix it.
"""
from __future__ import annotations


class LabError(Exception):
    """Root of every labutils error."""

    def __init__(self, message: str, *, command: str | None = None,
                 exit_code: int | None = None, log_tail: str = "",
                 hint: str | None = None, engine_said: str | None = None):
        self.message = message
        self.command = command
        self.exit_code = exit_code
        self.log_tail = log_tail
        self.hint = hint
        self.engine_said = engine_said
        super().__init__(self._compose())

    def __reduce__(self):
        return (_rebuild, (type(self), self.__dict__.copy()))

    def _render_traceback_(self) -> list[str]:
        """How IPython shows it: the message, what ran and what to do, not labutils' own frames.

        Outside IPython (a script, pytest) it stays a normal exception with its traceback.
        """
        head = f"\x1b[0;31m{type(self).__name__}\x1b[0m: "
        lines = str(self).splitlines() or [""]
        return [head + lines[0], *lines[1:]]

    def _compose(self) -> str:
        parts = [self.message]
        if self.command:
            parts.append(f"What ran: {self.command}")
        if self.exit_code is not None:
            parts.append(f"Exit code: {self.exit_code}")
        if self.engine_said:
            parts.append(f"The engine said: {self.engine_said}")
        if self.log_tail:
            tail = self.log_tail.rstrip("\n")
            parts.append("Last lines of output:\n" + "\n".join(
                "    " + line for line in tail.splitlines()))
        if self.hint:
            parts.append(f"What to do: {self.hint}")
        return "\n".join(parts)


class EngineUnavailable(LabError):
    """No Docker Engine answered, or it went away in the middle of a call."""


class SettingsError(LabError):
    """A LABUTILS_* setting has a value labutils cannot use (says which values it can)."""


class InvalidArgument(LabError):
    """An argument to a labutils call has a value it cannot use."""


class BuildFailed(LabError):
    """A build stopped with an error; names the step and instruction."""

    def __init__(self, message: str, *, step: int | None = None,
                 instruction: str | None = None, log: str = "", **kw):
        self.step = step
        self.instruction = instruction
        self.log = log
        super().__init__(message, **kw)


class BaseImageUnavailable(LabError):
    """A FROM image is not present, cannot be pulled and has no stand-in."""


class ContainerFailed(LabError):
    """A container could not start, or exited when it should have kept running."""


class RunTimeout(LabError):
    """A container ran longer than its timeout and was killed."""


class ServerNotReady(LabError):
    """A served container never answered HTTP within its timeout."""


class HttpFailed(LabError):
    """A served container's HTTP answer failed: no answer in time, a reset connection, or a body over the cap."""


class PortInUse(LabError):
    """The requested host port is already taken."""


class ImageNotFound(LabError):
    """An image named by the learner does not exist on the engine."""


class RecordingMissing(LabError):
    """Recorded mode was asked something the recording does not hold (or more often than it holds)."""


class CheckpointFailed(LabError):
    """A notebook checkpoint found that the lesson's result is not what it should be."""


def _rebuild(cls, state):
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, err._compose())
    return err

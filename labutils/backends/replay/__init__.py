"""Recording and replay: the recorder (the live backend, every answer also stored), the replayer (recorded
mode: those answers, where no engine runs) and the recording's files."""

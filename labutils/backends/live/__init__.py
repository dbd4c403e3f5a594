"""The live backend: the only code that talks to a Docker Engine (through docker-py, and a docker CLI for
BuildKit). Everything outside ``labutils.backends`` reaches it through ``labutils.backends`` only."""

"""``python -m labutils.classroom up | down | status | image | preflight | passwd NAME`` (make class, class-down)."""
import sys

from labutils.classroom.deploy import main

sys.exit(main())

"""Grading "your turn": the checks a reviewer makes of a learner's files, their build.sh run in a copy, and
the image graded by what it does."""

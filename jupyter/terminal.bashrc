# make lab's terminals (jupyter/jupyter_lab_config.py): the learner's own settings, then the course's
[ -f ~/.bashrc ] && . ~/.bashrc
[ -n "$COURSE_BIN" ] && PATH="$COURSE_BIN:$PATH"
[ -n "$COURSE_ROOT" ] && cd "$COURSE_ROOT"

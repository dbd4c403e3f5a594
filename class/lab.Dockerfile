# A learner's lab: JupyterLab (jupyterhub-singleuser) and a rootless Docker Engine of the learner's own, in one
# container that runs as uid 1000. Made by `make class` from the Debian stand-in root and this checkout
# (tools/classroom.py writes the build context: wheels, course, this file); no registry is needed.
ARG BASE=labutils-debian:bookworm
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      docker.io rootlesskit slirp4netns uidmap iproute2 iptables kmod procps ca-certificates \
      python3 python3-venv \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 1000 --shell /bin/bash learner \
 && echo "learner:100000:65536" > /etc/subuid && echo "learner:100000:65536" > /etc/subgid \
 && chmod u-s /bin/su /bin/mount /bin/umount /usr/bin/passwd /usr/bin/chsh /usr/bin/chfn /usr/bin/gpasswd \
      /usr/bin/newgrp 2>/dev/null; true
# only newuidmap and newgidmap keep their setuid bit: the rootless engine needs them, nothing else does
COPY wheels /tmp/wheels
RUN python3 -m venv /opt/lab \
 && /opt/lab/bin/pip install --quiet --no-index --find-links /tmp/wheels "labutils[singleuser]" \
 && rm -rf /tmp/wheels
# the course's JupyterLab settings, as `make lab` and Binder use them (no "Jupyter news?" prompt over 00-setup)
COPY course/jupyter/lab-settings/overrides.json /opt/lab/share/jupyter/lab/settings/overrides.json
RUN install -d -o 1000 -g 1000 /home/learner/course /home/learner/course/work
COPY --chown=1000:1000 course/notebooks /home/learner/course/notebooks
COPY --chown=1000:1000 course/data /home/learner/course/data
COPY start-lab.sh /usr/local/bin/start-lab
USER 1000
WORKDIR /home/learner/course
ENV PATH=/opt/lab/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LABUTILS_DATA=/home/learner/course/data LABUTILS_WORK=/home/learner/course/work LABUTILS_MODE=live \
    XDG_RUNTIME_DIR=/home/learner/.docker/run DOCKER_HOST=unix:///home/learner/.docker/run/docker.sock
RUN mkdir -p /home/learner/course/work /home/learner/.local/share/docker /home/learner/.docker/run
ENTRYPOINT ["/usr/local/bin/start-lab"]
CMD ["jupyterhub-singleuser"]

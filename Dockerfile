# mwrelease itself, as an image (for CI runners and release managers who prefer containers).
#   pip wheel . -w dist/wheels            # a wheelhouse: the build then needs no package index
#   docker build --network host -t mwrelease .
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock -v "$PWD:/work" -w /work mwrelease --help
# BASE may be any Debian image: debian:bookworm-slim from a registry, or mwrelease/base:bookworm made by
# ci/prepare-machine.sh where no registry is reachable.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-pip python3-venv git ca-certificates php-cli php-composer-semver sqlite3 \
 && rm -rf /var/lib/apt/lists/*
# .dockerignore keeps the context to the package, bundles and an optional dist/wheels wheelhouse.
COPY . /src
ARG PIP_NO_INDEX=
# With a wheelhouse (it holds mwrelease's own wheel), install from it; else build from the source.
RUN python3 -m venv /opt/mwrelease \
 && if [ -d /src/dist/wheels ]; then /opt/mwrelease/bin/pip install --no-cache-dir --find-links /src/dist/wheels mwrelease; \
    else /opt/mwrelease/bin/pip install --no-cache-dir /src; fi \
 && ln -s /opt/mwrelease/bin/mwrelease /usr/local/bin/mwrelease
WORKDIR /work
ENTRYPOINT ["mwrelease"]
CMD ["--help"]

# Airbyte source image for Salesforce Marketing Cloud.
#   docker build -t airbyte/source-sfmc:dev .                                               # Airbyte's base image
#   docker build --build-arg BASE_IMAGE=local/python:3.11-slim -t airbyte/source-sfmc:dev .  # offline stand-in
# The default is metadata.yaml's connectorBuildOptions.baseImage (digest-pinned); a test keeps the two equal.
ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.0.0@sha256:d9894b6895923b379f3006fa251147806919c62b7d9021b5cd125bb67d7bbe22

# Everything is installed into one venv in the build stage; the final stage copies that venv alone, so no layer
# holds wheels, caches or build tools that a later layer deletes.
FROM ${BASE_IMAGE} AS build
# A pip that installs hash-pinned requirements with extras (the base image's own may be older); removed below.
RUN python -m venv /opt/source-sfmc \
    && /opt/source-sfmc/bin/python -m pip install --no-cache-dir --quiet pip==26.3
WORKDIR /build
# The locked runtime dependencies (scripts/lock.sh), every one checked against its hash, before the code:
# a code change rebuilds only the last layers.
COPY requirements.txt ./
RUN /opt/source-sfmc/bin/python -m pip install --no-cache-dir --require-hashes -r requirements.txt
# Only what the package needs: the code and its metadata, never tests or the sandbox.
COPY pyproject.toml README.md ./
COPY source_sfmc ./source_sfmc
RUN /opt/source-sfmc/bin/python -m pip install --no-cache-dir --no-deps . \
    && /opt/source-sfmc/bin/python -m pip uninstall --yes pip

FROM ${BASE_IMAGE}
# Airbyte's base image already has the user `airbyte` (uid 1000); a plain Python image does not.
RUN id -u airbyte >/dev/null 2>&1 || useradd --uid 1000 --create-home --shell /usr/sbin/nologin airbyte
COPY --from=build /opt/source-sfmc /opt/source-sfmc
ENV PATH="/opt/source-sfmc/bin:${PATH}" \
    AIRBYTE_ENTRYPOINT="source-sfmc" \
    PYTHONUNBUFFERED=1
USER airbyte
WORKDIR /home/airbyte
ENTRYPOINT ["source-sfmc"]
LABEL io.airbyte.name=airbyte/source-sfmc \
      io.airbyte.version=0.1.0

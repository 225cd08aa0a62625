# Airbyte source image for Salesforce Marketing Cloud.
#   docker build -t airbyte/source-sfmc:dev .
#   docker build --build-arg BASE_IMAGE=local/python:3.11-slim -t airbyte/source-sfmc:dev .   # offline base
ARG BASE_IMAGE=python:3.11.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
WORKDIR /build
# Only what the wheel needs: the package and its metadata, never tests or the sandbox.
COPY pyproject.toml README.md ./
COPY source_sfmc ./source_sfmc
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && python -m pip wheel --no-cache-dir --wheel-dir /wheels /wheels/source_sfmc-*.whl

FROM ${BASE_IMAGE}
COPY --from=build /wheels /tmp/wheels
RUN python -m pip install --no-cache-dir --no-index --find-links /tmp/wheels source-sfmc \
    && rm -rf /tmp/wheels \
    && useradd --uid 1000 --create-home --shell /usr/sbin/nologin airbyte
ENV AIRBYTE_ENTRYPOINT="source-sfmc" \
    PYTHONUNBUFFERED=1
USER airbyte
WORKDIR /home/airbyte
ENTRYPOINT ["source-sfmc"]
LABEL io.airbyte.name=airbyte/source-sfmc \
      io.airbyte.version=0.1.0

# The platform's image: python:3.11-slim, the pinned dependencies installed in a build stage,
# the service run as an unprivileged user. README "Containers" shows how to run it.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml ./
# The dependencies alone, pinned in pyproject.toml: this layer is rebuilt only when they change.
RUN python -m venv /opt/venv \
 && python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > requirements.txt \
 && /opt/venv/bin/pip install --no-compile -r requirements.txt \
 && /opt/venv/bin/pip uninstall -y pip setuptools

FROM ${PYTHON_IMAGE}
# The code runs from /app, not from site-packages: policies/ and migrations/ are found beside api/.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CREDIT_DATA_DIR=/var/lib/credit
RUN useradd --uid 10001 --user-group --no-log-init --shell /usr/sbin/nologin --home-dir /var/lib/credit --create-home credit \
 && printf '#!/bin/sh\nexec python -m api.cli "$@"\n' > /usr/local/bin/credit \
 && chmod 755 /usr/local/bin/credit
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY api ./api
COPY schema ./schema
COPY policies ./policies
COPY migrations ./migrations
RUN python -m compileall -q /app /opt/venv/lib
USER credit
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
ENTRYPOINT ["credit"]
# one process per container; compose.yaml runs two
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]

# syntax=docker/dockerfile:1
# Stepladder production image. One image serves every role; pick it with the command:
#   stepladder web | stepladder worker | stepladder migrate
# See docker-compose.yml for a complete stack (PostgreSQL, Temporal, UI, web, worker, proxy).

# --- static: the pinned, integrity-checked browser assets (htmx, its SSE extension, Swagger UI for
# the API docs at /schema), fetched with npm at build time only ---
FROM python:3.11-slim AS static
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm openssl ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY scripts/vendor_static.sh scripts/vendor_static.sh
RUN bash scripts/vendor_static.sh

# --- runtime ---
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=8000

# app/settings.py finds migrations/, definitions/ and templates/ next to app/ (REPO_ROOT), so the
# project stays in this folder and is installed editable rather than copied into site-packages.
WORKDIR /srv/stepladder

# Dependencies first, from pyproject.toml alone, so code changes do not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY app/ app/
COPY templates/ templates/
COPY static/ static/
COPY migrations/ migrations/
COPY definitions/ definitions/
COPY scripts/ scripts/
COPY --from=static /build/static/vendor/ static/vendor/
RUN pip install --no-deps -e .

# Code stays root-owned and read-only for the process; it runs as an unprivileged user.
RUN groupadd --system --gid 10001 stepladder \
    && useradd --system --uid 10001 --gid stepladder --create-home --home-dir /home/stepladder \
        --shell /usr/sbin/nologin stepladder
USER stepladder

EXPOSE 8000
CMD ["stepladder", "web"]

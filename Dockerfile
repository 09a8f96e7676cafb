FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DEBUG=false DATA_DIR=/data
WORKDIR /app
COPY requirements.txt .
# the runtime set only (tests, lint and the embedded services are in requirements-dev.txt)
RUN pip install --no-cache-dir --require-hashes -r requirements.txt
COPY . .
RUN useradd --system --create-home --uid 10001 console \
    && mkdir -p /data && chown console /data
USER console
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --retries=5 CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
# migrations run apart (compose's one-off migrate service, or `python manage.py migrate` once)
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "config.asgi:application"]

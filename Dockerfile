FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY inventory ./inventory
COPY planning ./planning
COPY production ./production
COPY sales ./sales
COPY templates ./templates
COPY static ./static
COPY manage.py ./
RUN pip install . && useradd --system --uid 1000 app \
    && DATABASE_URL=postgres://build@localhost/none REDIS_URL=redis://localhost:6379/0 \
       SECRET_KEY=collectstatic-only DEBUG=0 python manage.py collectstatic --noinput
USER app
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]

"""Every response the test suite gets from ``/api/v1/`` must be what the OpenAPI schema says:
a documented status, and a body that validates against the documented schema. Other systems
generate their clients from ``/api/schema/``; a response that differs from it breaks them at run
time. ``tests/conftest.py`` runs ``check`` on every response of Django's test client."""

from __future__ import annotations

import json
import re
from functools import cache

import jsonschema


def _json_schema(node):
    """OpenAPI 3.0 → JSON Schema: ``nullable: true`` becomes a ``null`` alternative."""
    if isinstance(node, list):
        return [_json_schema(value) for value in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if "type" in node:
            node["type"] = [node["type"], "null"]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


@cache
def _schema() -> tuple[list, dict]:
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    raw = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    paths = [
        (path.count("{"), re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path, item)
        for path, item in raw["paths"].items()
    ]
    paths.sort(key=lambda p: p[0])  # /lots/export/ before /lots/{id}/
    return paths, _json_schema(raw["components"])


@cache
def _validator(path: str, method: str, status: str) -> jsonschema.Draft202012Validator | None:
    paths, components = _schema()
    item = next(p[3] for p in paths if p[2] == path)
    content = item[method]["responses"][status].get("content", {}).get("application/json")
    if content is None:
        return None
    return jsonschema.Draft202012Validator(
        {**_json_schema(content["schema"]), "components": components},
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def check(method: str, url_path: str, response) -> None:
    """Raise AssertionError when ``response`` is not what the schema documents."""
    if not url_path.startswith("/api/v1/"):
        return
    paths, _ = _schema()
    match = next((p for p in paths if p[1].match(url_path)), None)
    method = method.lower()
    if match is None or method not in match[3]:
        return  # not an endpoint: the API's JSON 404/405, tested on their own
    path, operation = match[2], match[3][method]
    status = str(response.status_code)
    where = f"{method.upper()} {path} answered {status}"
    assert status in operation["responses"], f"{where}, a status its schema does not document"
    validator = _validator(path, method, status)
    if validator is None or status == "204":
        return
    body = json.loads(response.content)
    errors = [
        f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message[:200]}"
        for error in validator.iter_errors(body)
    ]
    assert not errors, f"{where} with a body its schema does not describe: {errors[:3]}"

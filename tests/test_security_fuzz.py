"""Fuzzing pass over the whole API schema: every operation of /api/schema/, every query
parameter, path parameter and body field, sent malformed and hostile values (wrong types,
huge and non-finite numbers, nested structures, NUL and lone surrogates, invalid UTF-8,
forged cursors, very long strings) as JSON, as form data and as raw bytes. Zero 5xx."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from rest_framework.test import APIClient

from accounts.services import token_for
from posts.services import comment_create, post_create
from tests.factories import community_make, user_make


def _b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


# Query and path values, already percent-encoded where they must stay raw bytes.
RAW_QUERY_VALUES = [
    "%FF%FE%FD",  # invalid UTF-8
    "%C2%84",
    "%00",
    "%ED%A0%80",  # an encoded lone surrogate
]
TEXT_VALUES = [
    "",
    " ",
    "-1",
    "0",
    "1.5",
    "1e309",
    "-1e309",
    "NaN",
    "Infinity",
    "true",
    "null",
    "99999999999999999999999999999",
    "-9223372036854775809",
    "18446744073709551616",
    "[]",
    "{}",
    "[[[[[[]]]]]]",
    "x" * 10_000,
    "'; DROP TABLE posts_post; --",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "2026-13-45T25:61:00Z",
    "0000-00-00",
    "9999-12-31T23:59:59Z",
    "\u202e\u200b",
    "a,b,c",
    # forged cursors: positions of the wrong type, odd offsets, not base64, not UTF-8
    _b64("p=abc"),
    _b64("o=1&r=1&p=nan"),
    _b64("p=" + "9" * 400),
    _b64("o=-1"),
    _b64("o=99999999999999999999&p=1"),
    _b64(b"p=\xff\xfe"),
    _b64("r=2&p=2026-01-01"),
    "!!!!",
    "cD1hYmM",
]
DEEP = "[" * 100 + "]" * 100
JSON_VALUES: list = [
    1,
    -1,
    0,
    2**64,
    -(2**63) - 1,
    1e308,
    -1e308,
    1.5,
    True,
    False,
    None,
    [],
    {},
    [1, "a"],
    {"a": {"b": {"c": [1, 2, 3]}}},
    json.loads(DEEP),
    "x" * 100_000,
    "\u0000",
    "\ud83d",
    "",
    " ",
    "null",
    "NaN",
    [None] * 1000,
]
RAW_BODIES: list[tuple[bytes, str]] = [
    (b"\xff\xfe\xfd{}", "application/json"),
    (b'{"body": "\xff\xfe"}', "application/json"),
    (b"[" * 100_000, "application/json"),
    (b'{"a": ' * 10_000 + b"1" + b"}" * 10_000, "application/json"),
    (b"NaN", "application/json"),
    (b'{"limit": 1e999}', "application/json"),
    (b"", "application/json"),
    (b"\xff=\xfe&name=%FF", "application/x-www-form-urlencoded"),
    (b"--b\r\n\xc3\x89\xc2\xb5--b--\r\n", "multipart/form-data; boundary=b"),
    (
        b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n' + b"\xff" * 100,
        "multipart/form-data; boundary=b",
    ),
    (b"<xml/>", "application/xml"),
]


def _client() -> APIClient:
    client = APIClient()
    client.raise_request_exception = False  # a server error is an answer to count, not a crash
    return client


@dataclass
class World:
    client: APIClient
    path_values: dict[str, str]


@pytest.fixture
def world(db) -> World:
    staff = user_make("fuzzer", is_staff=True)
    community = community_make(owner=staff, name="Fuzzing", slug="fuzzing")
    post = post_create(author=staff, community=community, kind="quote", text="Hi")
    comment = comment_create(author=staff, post=post, body="First")
    client = _client()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user=staff)}")
    values = {"id": str(post.pk), "post_id": str(post.pk), "slug": community.slug}
    values["comment"] = str(comment.pk)
    return World(client, values)


@dataclass
class Operation:
    method: str
    path: str
    query: list[str]
    body_fields: list[str]

    def url(self, values: dict[str, str], override: tuple[str, str] | None = None) -> str:
        url = self.path
        for name, value in values.items():
            if override and override[0] == name:
                value = override[1]
            url = url.replace("{" + name + "}", value)
        return url


def operations(schema: dict) -> Iterator[Operation]:
    components = schema["components"]["schemas"]
    for path, methods in schema["paths"].items():
        for method, spec in methods.items():
            query = [p["name"] for p in spec.get("parameters", []) if p["in"] == "query"]
            fields: set[str] = set()
            for media in spec.get("requestBody", {}).get("content", {}).values():
                ref = media.get("schema", {}).get("$ref", "")
                fields |= set(components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}))
            yield Operation(method.upper(), path, query, sorted(fields))


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _send(client: APIClient, method: str, url: str, **kwargs):
    return client.generic(method, url, **kwargs)


def _query_string(name: str, value: str, raw: bool) -> str:
    return f"{name}={value if raw else quote(value, safe='')}"


def test_no_input_gives_a_server_error(world: World):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    ops = sorted(operations(schema), key=lambda op: op.method == "DELETE")  # deletes last
    assert len(ops) >= 25
    errors: list[str] = []
    sent = 0

    def check(op: Operation, response, what: str) -> None:
        nonlocal sent
        sent += 1
        if response.status_code >= 500:
            errors.append(f"{op.method} {op.path} {what!r:.120}: {response.status_code}")

    for op in ops:
        url = op.url(world.path_values)
        for name in op.query:
            for value in TEXT_VALUES:
                query = _query_string(name, value, raw=False)
                check(op, _send(world.client, op.method, f"{url}?{query}"), f"{name}={value}")
            for value in RAW_QUERY_VALUES:
                query = _query_string(name, value, raw=True)
                check(op, _send(world.client, op.method, f"{url}?{query}"), f"{name}={value}")
        for name in _path_params(op.path):
            for value in [*TEXT_VALUES[:30], *RAW_QUERY_VALUES]:
                encoded = value if value.startswith("%") else quote(value, safe="")
                hostile = op.url(world.path_values, (name, encoded or "%20"))
                check(op, _send(world.client, op.method, hostile), f"{name}={value}")
        if op.method not in ("POST", "PUT", "PATCH"):
            continue
        for name in op.body_fields:
            for value in JSON_VALUES:
                body = json.dumps({name: value}, allow_nan=True)
                response = _send(
                    world.client, op.method, url, data=body, content_type="application/json"
                )
                check(op, response, f"json {name}={value!r}")
            for value in TEXT_VALUES:
                response = world.client.generic(
                    op.method, url, data=f"{name}={quote(value)}",
                    content_type="application/x-www-form-urlencoded",
                )  # fmt: skip
                check(op, response, f"form {name}={value}")
        for body, content_type in RAW_BODIES:
            for client in (world.client, _client()):
                response = _send(client, op.method, url, data=body, content_type=content_type)
                check(op, response, f"raw {content_type} {body[:40]!r}")
    assert sent > 2000
    assert errors == [], f"{len(errors)} server errors:\n" + "\n".join(errors[:50])

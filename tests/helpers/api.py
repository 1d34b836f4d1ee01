"""Assertions shared by the API tests."""

from __future__ import annotations

import httpx

INDEX_HEADERS = ("X-Nomad-Index", "X-Nomad-KnownLeader", "X-Nomad-LastContact")
TEXT_PLAIN = "text/plain; charset=utf-8"


def assert_plain_error(response: httpx.Response, status: int, body: str) -> None:
    """Nomad's error shape: the status, a plain-text body holding only the message."""
    assert (response.status_code, response.text) == (status, body)
    assert response.headers["content-type"] == TEXT_PLAIN


def member_statuses(view: dict[str, object]) -> dict[str, str]:
    members = view["Members"]
    assert isinstance(members, list)
    return {m["Name"]: m["Status"] for m in members}

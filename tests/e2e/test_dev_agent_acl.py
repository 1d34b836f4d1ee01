"""python-nomad's ACL methods against `gossip-agent agent -dev -acl-enabled` (127.0.0.23).

Reuses the fixtures of test_dev_agent (agents run by `agent.processes.supervisor`, logs
shown on failure). The second test restarts the agent on the same data dir.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nomad
import pytest
from nomad.api.exceptions import (
    BadRequestNomadException,
    URLNotAuthorizedNomadException,
    URLNotFoundNomadException,
)
from test_dev_agent import AgentProcess, start  # noqa: F401 (start is a fixture)

pytestmark = pytest.mark.e2e

ACL_IP = "127.0.0.23"
RULES = 'agent { policy = "read" }\nnode { policy = "read" }'


def test_python_nomad_acl_methods(start: Callable[..., AgentProcess]) -> None:  # noqa: F811
    start(ACL_IP, "acl", "-acl-enabled")
    anonymous = nomad.Nomad(host=ACL_IP, port=4646, timeout=5)

    with pytest.raises(URLNotAuthorizedNomadException) as denied:
        anonymous.agent.get_agent()
    assert denied.value.nomad_resp.text == "Permission denied"

    root = anonymous.acl.generate_bootstrap()
    assert root["Type"] == "management" and root["Name"] == "Bootstrap Token"
    with pytest.raises(BadRequestNomadException) as twice:
        anonymous.acl.generate_bootstrap()
    assert twice.value.nomad_resp.text.startswith("ACL bootstrap already done (reset index: ")

    admin = nomad.Nomad(host=ACL_IP, port=4646, token=root["SecretID"], timeout=5)
    assert admin.acl.get_self_token()["AccessorID"] == root["AccessorID"]
    assert admin.acl.create_policy("reader", {"Name": "reader", "Rules": RULES}).status_code == 200
    assert admin.acl.update_policy(
        "reader", {"Name": "reader", "Description": "r", "Rules": RULES}
    ).ok
    assert admin.acl.get_policy("reader")["Description"] == "r"
    assert [p["Name"] for p in admin.acl.get_policies()] == ["reader"]

    made = admin.acl.create_token({"Name": "ro", "Type": "client", "Policies": ["reader"]})
    assert made["Policies"] == ["reader"] and made["Global"] is False
    assert admin.acl.get_token(made["AccessorID"])["SecretID"] == made["SecretID"]
    assert {t["Name"] for t in admin.acl.get_tokens()} == {"Bootstrap Token", "ro"}
    renamed = admin.acl.update_token(made["AccessorID"], {**made, "Name": "read-only"})
    assert renamed["Name"] == "read-only"

    reader = nomad.Nomad(host=ACL_IP, port=4646, token=made["SecretID"], timeout=5)
    assert reader.agent.get_agent()["config"]["ACL"]["Enabled"] is True
    assert reader.agent.get_members()["Members"][0]["Name"] == "acl.global"
    assert reader.agent.get_servers() == [f"{ACL_IP}:4647"]
    assert reader.agent.join_agent("nope")["num_joined"] == 0
    with pytest.raises(URLNotAuthorizedNomadException):
        reader.agent.force_leave("nope")
    with pytest.raises(URLNotAuthorizedNomadException):
        reader.agent.update_servers([f"{ACL_IP}:4647"])
    with pytest.raises(URLNotAuthorizedNomadException):
        reader.acl.get_tokens()
    assert admin.agent.force_leave("nope") == 200

    assert admin.acl.delete_token(made["AccessorID"]) is True
    assert admin.acl.delete_policy("reader") is True
    with pytest.raises(URLNotFoundNomadException):
        admin.acl.get_policy("reader")
    with pytest.raises(URLNotAuthorizedNomadException) as gone:
        reader.agent.get_agent()
    assert gone.value.nomad_resp.text == "ACL token not found"


def test_acls_survive_a_restart(
    start: Callable[..., AgentProcess],  # noqa: F811
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    first = start(ACL_IP, "acl-a", "-acl-enabled", "-data-dir", str(data))
    root = nomad.Nomad(host=ACL_IP, port=4646, timeout=5).acl.generate_bootstrap()
    admin = nomad.Nomad(host=ACL_IP, port=4646, token=root["SecretID"], timeout=5)
    admin.acl.create_policy("reader", {"Name": "reader", "Rules": RULES})
    made = admin.acl.create_token({"Name": "ro", "Type": "client", "Policies": ["reader"]})
    assert first.terminate() == 0

    start(ACL_IP, "acl-b", "-acl-enabled", "-data-dir", str(data))
    reader = nomad.Nomad(host=ACL_IP, port=4646, token=made["SecretID"], timeout=5)
    assert reader.acl.get_self_token()["Name"] == "ro"
    assert reader.agent.get_agent()["member"]["Name"] == "acl-b.global"
    with pytest.raises(BadRequestNomadException):
        reader.acl.generate_bootstrap()

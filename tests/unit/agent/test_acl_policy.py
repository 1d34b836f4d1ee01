"""The ACL rules parser: the HCL subset, its JSON form, and everything it must refuse."""

from __future__ import annotations

import pytest

from agent.acl.policy import NamespaceRule, Policy, PolicyParseError, max_privilege, parse_rules


def test_three_blocks_in_hcl_with_comments() -> None:
    rules = """
    # a comment
    agent { policy = "read" }   // another
    node {
        policy = "write"
    }
    /* block
       comment */
    operator { policy = "deny" }
    """
    assert parse_rules(rules) == Policy(agent="read", node="write", operator="deny")


def test_namespace_blocks_parse_and_are_kept() -> None:
    rules = (
        'namespace "default" {\n  policy = "read"\n  capabilities = ["list-jobs", "read-job",]\n}'
    )
    policy = parse_rules(rules)
    assert policy.namespaces == {"default": NamespaceRule("read", ("list-jobs", "read-job"))}
    assert policy.agent == ""


@pytest.mark.parametrize(
    "rules",
    [
        '{"agent": {"policy": "read"}, "node": {"policy": "write"}}',
        '{"agent": [{"policy": "read"}], "node": [{"policy": "write"}]}',
    ],
)
def test_json_form(rules: str) -> None:
    assert parse_rules(rules) == Policy(agent="read", node="write")


def test_empty_rules_grant_nothing() -> None:
    assert parse_rules("") == Policy()
    assert parse_rules("  # nothing\n") == Policy()


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ('agent { policy = "admin" }', 'Invalid agent policy: &acl.AgentPolicy{Policy:"admin"}'),
        ('node { policy = "sudo" }', 'Invalid node policy: &acl.NodePolicy{Policy:"sudo"}'),
        ("operator { }", 'Invalid operator policy: &acl.OperatorPolicy{Policy:""}'),
        ('{"agent": {"policy": "nope"}}', "Invalid agent policy"),
        ('agnet { policy = "read" }', "unsupported block 'agnet'"),
        ('agent { polcy = "read" }', "agent: unsupported key 'polcy'"),
        ("agent { policy = read }", "expected string, got 'read'"),
        ('agent { policy = "read" ', "unexpected end of rules"),
        ('agent { policy = "read" } agent { policy = "write" }', "agent given twice"),
        ('agent { policy = "read" policy = "write" }', "'policy' given twice"),
        ('agent { policy = "read" } @', "illegal character '@'"),
        ('agent { policy = ["read"] }', "agent: policy must be a string"),
        ('{"agent": "read"}', "agent must be an object"),
        ('{"agent": ', "Failed to parse ACL Policy: invalid JSON"),
        ('{"quota": {"policy": "read"}}', "unsupported block 'quota'"),
        ('namespace "x" { capabilities = "read-job" }', "capabilities must be a list of strings"),
    ],
)
def test_refused(rules: str, message: str) -> None:
    with pytest.raises(PolicyParseError) as info:
        parse_rules(rules)
    assert message in str(info.value)


def test_hcl_errors_carry_line_and_column() -> None:
    with pytest.raises(PolicyParseError) as info:
        parse_rules('agent {\n  policy "read"\n}')
    assert str(info.value) == "Failed to parse ACL Policy: At 2:10: expected '=', got '\"read\"'"


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [
        ("read", "write", "write"),
        ("write", "deny", "deny"),
        ("", "read", "read"),
        ("", "", ""),
        ("deny", "", "deny"),
    ],
)
def test_max_privilege_deny_wins(a: str, b: str, want: str) -> None:
    assert max_privilege(a, b) == want == max_privilege(b, a)

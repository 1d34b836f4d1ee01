"""README's examples of the test kit run as written: each test in its section passes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.testing.test_plugin import PLUGIN

pytest_plugins = ["pytester"]

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
SECTION = README[README.index("## Testing your own tool") : README.index("## Tests\n")]
HYPOTHESIS_SEED = 20261205
EXAMPLES = [
    block
    for block in re.findall(r"```python\n(.*?)```", SECTION, re.DOTALL)
    if "def test_" in block or ".TestCase" in block
]


def test_the_section_has_an_example_of_each_piece() -> None:
    text = "\n".join(EXAMPLES)
    for piece in (
        "sim_cluster",
        "sim_agents",
        "agent_cluster",
        "fault_plans",
        "ClusterStateMachine",
    ):
        assert piece in text, piece


def test_every_example_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**{f"test_example_{i}": block for i, block in enumerate(EXAMPLES)})
    # One process of their own: python-nomad's requests keeps references into modules that
    # an in-process run (pytester restores sys.modules after each) would import afresh.
    # A fixed hypothesis seed: the suite replays the same sequences on every run instead of
    # exploring new ones (which is the user's business, not a reason for this test to flake).
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        *PLUGIN,
        "--agent-bind-base=127.0.0.150",
        f"--hypothesis-seed={HYPOTHESIS_SEED}",
        timeout=300,
    )
    result.assert_outcomes(passed=len(EXAMPLES))

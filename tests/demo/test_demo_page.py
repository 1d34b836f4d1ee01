"""The demo page in real headless Chromium (Debian's `chromium`, driven by Playwright).

Every request the page makes must go to the demo's own address: the others are aborted and
fail the test, as does any console error. Logic runs in virtual time (the demo starts paused
and the test steps it); the browser gets generous deadlines and is polled, never slept on.
Each test keeps a screenshot of its end state in the directory printed at the end of the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.demo.conftest import RunningDemo

Factory = Callable[..., RunningDemo]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEADLINE_MS = 30_000
"""How long the page may take to show something (a loaded 2-core CI machine is slow)."""


def _chromium() -> str:
    """The browser's path, or skip (fail under CI, where it must run) saying why."""
    reason = ""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "the `playwright` package is not installed (pip install '.[test]')"
    path = os.environ.get("DEMO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not reason and not Path(path).exists():
        reason = "Debian's chromium is not installed (apt-get install -y chromium)"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def screenshot_dir(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Path]:
    wanted = os.environ.get("DEMO_SCREENSHOTS")
    path = Path(wanted) if wanted else tmp_path_factory.mktemp("demo-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    yield path
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"demo page screenshots: {path}")


@dataclass
class Browser:
    page: Any
    demo: RunningDemo
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def wait(self, script: str, arg: object = None) -> None:
        self.page.wait_for_function(script, arg=arg, timeout=DEADLINE_MS)

    def statuses(self, member: str) -> dict[str, str]:
        cells = self.page.locator(f'td[data-member="{member}"]')
        return {
            cells.nth(i).get_attribute("data-observer"): cells.nth(i).get_attribute("data-status")
            for i in range(cells.count())
        }


@pytest.fixture
def browser(
    demo_factory: Factory, screenshot_dir: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Browser]]:
    executable = _chromium()
    from playwright.sync_api import Route, sync_playwright

    opened: list[Browser] = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)

        def open_page(**settings: object) -> Browser:
            demo = demo_factory(**settings)
            own = urlsplit(demo.url).netloc
            page = chromium.new_page(viewport={"width": 1500, "height": 1000})
            seen = Browser(page, demo)

            def route(route: Route) -> None:
                if urlsplit(route.request.url).netloc == own:
                    route.continue_()
                else:
                    seen.foreign.append(route.request.url)
                    route.abort()

            page.route("**/*", route)
            page.on(
                "console",
                lambda m: seen.errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: seen.errors.append(str(e)))
            page.goto(f"{demo.url}/ui", timeout=DEADLINE_MS)
            page.wait_for_selector("body[data-ready=true]", timeout=DEADLINE_MS)
            opened.append(seen)
            return seen

        try:
            yield open_page
        finally:
            for index, seen in enumerate(opened):
                name = request.node.name.replace("/", "_")
                shot = screenshot_dir / f"{name}-{index}.png"
                seen.page.screenshot(path=str(shot), full_page=True)
            chromium.close()
    for seen in opened:
        assert seen.foreign == [], f"the page asked other hosts: {seen.foreign}"
        assert seen.errors == [], f"console errors: {seen.errors}"


def test_the_page_loads_offline_and_shows_every_node_alive(browser: Callable[..., Browser]) -> None:
    seen = browser(nodes=2)
    members = seen.demo.state()["members"]
    cells = seen.page.locator("td[data-status]")
    assert cells.count() == len(members) ** 2
    assert {cells.nth(i).get_attribute("data-status") for i in range(cells.count())} == {"alive"}
    truths = seen.page.locator("[data-truth]")
    names = {truths.nth(i).get_attribute("data-node") for i in range(truths.count())}
    assert names == {"s1", "s2", "s3", "n1", "n2", "c1", "c2"}
    assert {truths.nth(i).get_attribute("data-truth") for i in range(truths.count())} == {"running"}
    assert seen.page.locator("#seed").inner_text() == "3"
    assert "s" in seen.page.locator("#now").inner_text()
    assert seen.page.locator('button[data-action="kill"]').count() == 7


def test_a_kill_from_the_page_turns_the_node_failed_in_every_other_row(
    browser: Callable[..., Browser],
) -> None:
    seen = browser(nodes=2)
    seen.page.click('button[data-action="kill"][data-node="n2"]')
    seen.wait(
        "() => document.querySelector('[data-truth][data-node=\"n2\"]')?.dataset.truth === 'killed'"
    )
    seen.page.fill("#step-seconds", "15")
    seen.page.click("#step")
    seen.wait(
        """() => [...document.querySelectorAll('td[data-member="n2"]')]
            .filter((td) => td.dataset.observer !== 'n2')
            .every((td) => td.dataset.status === 'failed')"""
    )
    statuses = seen.statuses("n2")
    assert {o: s for o, s in statuses.items() if o != "n2"} == dict.fromkeys(
        ["s1", "s2", "s3", "n1"], "failed"
    )
    assert seen.page.locator("#timeline li", has_text="marks n2 failed").count() >= 1


def test_a_partition_shows_disagreement_and_heal_brings_it_back(
    browser: Callable[..., Browser],
) -> None:
    seen = browser(nodes=2)
    demo = seen.demo
    groups = {"groups": [["s1", "s2", "n1"], ["s3", "n2"]]}
    assert demo.post("/v1/sim/partition", json=groups).status_code == 200
    demo.step(15)
    # The page may show the step's progress in several deltas: wait for its end state.
    seen.wait(
        """() => document.querySelector('td[data-observer="s1"][data-member="n2"]')
            ?.dataset.status === 'failed'"""
    )
    assert seen.page.locator('td[data-wrong="true"]').count() > 0
    assert seen.page.locator('[data-truth][data-node="s3"]').inner_text().endswith("side B")
    assert demo.post("/v1/sim/heal").status_code == 200
    demo.step(60)
    seen.wait(
        """() => [...document.querySelectorAll('td[data-status]')]
            .every((td) => td.dataset.status === 'alive')"""
    )
    assert seen.page.locator('td[data-wrong="true"]').count() == 0


def test_the_same_seed_and_actions_give_the_same_timeline(browser: Callable[..., Browser]) -> None:
    seen = browser(nodes=3)
    page = seen.page

    def run() -> list[str]:
        page.fill("#seed-input", "5")
        page.select_option("#scenario-select", "crash-and-force-leave")
        with page.expect_response(lambda r: "/v1/sim/reset" in r.url, timeout=DEADLINE_MS):
            page.click("#reset")
        seen.wait(
            """() => document.querySelector('#timeline li:last-child')?.textContent
                .includes('Seed 5, scenario crash-and-force-leave')
                && document.querySelectorAll('#timeline li').length <= 3"""
        )
        page.click('button[data-action="kill"][data-node="s3"]')
        seen.wait("() => document.querySelector('#timeline').textContent.includes('killed s3')")
        page.fill("#step-seconds", "30")
        with page.expect_response(lambda r: "/v1/sim/step" in r.url, timeout=DEADLINE_MS):
            page.click("#step")
        last = seen.demo.state()["timeline"][-1]["seq"]
        seen.wait(
            "(seq) => Number(document.querySelector('#timeline li')?.dataset.seq) >= seq", last
        )
        items = page.locator("#timeline li")
        return [items.nth(i).inner_text() for i in range(items.count())]

    first = run()
    assert any("force-leaves n3" in line for line in first)
    assert any("becomes raft leader" in line or "marks s3 failed" in line for line in first)
    assert run() == first
    assert "seed=5" in page.url and "scenario=crash-and-force-leave" in page.url


def test_past_32_members_the_matrix_is_a_heat_map_with_a_summary(
    browser: Callable[..., Browser],
) -> None:
    seen = browser(nodes=40, clients=0, bind_base="127.0.0.121")
    page = seen.page
    assert page.locator("canvas#heatmap").count() == 1
    assert page.locator("td[data-status]").count() == 0
    assert "All 43 observers agree" in page.locator("#summary").inner_text()
    members = seen.demo.state()["members"]
    halves = [members[: len(members) // 2], members[len(members) // 2 :]]
    assert seen.demo.post("/v1/sim/partition", json={"groups": halves}).status_code == 200
    seen.demo.step(30)
    seen.wait("() => document.querySelector('#summary').textContent.includes('disagree')")
    assert page.locator("[data-summary-observer]").count() >= 1


def test_packets_in_flight_are_drawn_for_a_small_cluster(browser: Callable[..., Browser]) -> None:
    seen = browser(nodes=2, clients=1, start_paused=False, bind_base="127.0.0.131")
    seen.wait("() => document.querySelectorAll('#packets line.pkt').length > 0")
    kinds = seen.page.eval_on_selector_all(
        "#packets line.pkt", "lines => [...new Set(lines.map((l) => l.dataset.kind))]"
    )
    assert set(kinds) & {"ping", "ack", "raft", "gossip"}


def test_a_link_with_seed_and_scenario_replays_that_run(browser: Callable[..., Browser]) -> None:
    seen = browser(nodes=2, bind_base="127.0.0.151")
    seen.demo.step(5)
    link = f"{seen.demo.url}/ui?seed=9&scenario=graceful-leave&replay=1"
    seen.page.goto(link, timeout=DEADLINE_MS)
    seen.wait(
        """() => document.querySelector('#seed').textContent === '9'
            && document.querySelector('#scenario-name').textContent === 'graceful-leave'"""
    )
    state = seen.demo.state()
    assert (state["seed"], state["scenario"]["name"]) == (9, "graceful-leave")
    assert state["clock"]["now"] < 5  # started over, not 5 s into the old run
    assert "leaving" in seen.page.locator("#scenario-text").inner_text()
    assert seen.page.url.endswith("/ui?seed=9&scenario=graceful-leave")

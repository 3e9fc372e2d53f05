"""Shared simulated data sets: simulated once per test session, with fixed seeds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from churn_causal import i18n
from churn_causal.data.contract import CSData
from churn_causal.data.load import load
from churn_causal.design.scenarios import Scenario
from churn_causal.grading.whatif import GRADED
from churn_causal.sim.simulate import SimulationResult, simulate

# What-if scenarios whose exact truth the shared world carries: those the grading grades (a
# tier, a phase, a calendar year and the whole book; fewer and more touches) but seminar's.
WORLD_SCENARIOS = [Scenario.from_dict(d) for d in GRADED if d["touchpoint"] != "seminar"]


@pytest.fixture(scope="session")
def world() -> SimulationResult:
    """The default world at a size where the truth's sampling noise is small, with the exact
    truth of ``WORLD_SCENARIOS``."""
    return simulate(customers=20_000, seed=11, scenarios=WORLD_SCENARIOS)


@pytest.fixture(scope="session")
def world_scenarios() -> list[Scenario]:
    return WORLD_SCENARIOS


@pytest.fixture(scope="session")
def world_dir(world, tmp_path_factory) -> str:
    return str(world.write(tmp_path_factory.mktemp("world")))


@pytest.fixture(scope="session")
def world_data(world_dir) -> CSData:
    return load(world_dir)


@pytest.fixture(scope="session")
def small_dir(tmp_path_factory) -> str:
    """A small data set for end-to-end runs."""
    return str(simulate(customers=1_500, seed=5).write(tmp_path_factory.mktemp("small")))


ARTIFACTS = Path(__file__).parent / "artifacts"  # screenshots, kept for people to look at
# Network features off: no background requests, no component updates, no QUIC.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(
            "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture(autouse=True)
def english_afterwards():
    """A test that speaks another language leaves English behind it (``i18n`` is per process)."""
    yield
    i18n.use()

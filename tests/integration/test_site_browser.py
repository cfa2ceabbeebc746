"""The compatibility site in a real browser: Debian's chromium driven by Selenium through chromium-driver.

Pages are served by a python http.server bound to 127.0.0.1; chromium is started with every non-loopback
host unresolvable and a dead proxy, so nothing leaves the machine. Screenshots are kept in the test's
output directory: ``out/site-screenshots/`` under the repository (or ``$MWRELEASE_SCREENSHOTS``).

ci/prepare-machine.sh installs chromium and chromium-driver; without them these tests skip and say so.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO
from tests.site_data import CORES, EVIL, synthetic_catalog, synthetic_results, write_small_inputs

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SHOTS = Path(os.environ.get("MWRELEASE_SCREENSHOTS") or REPO / "out" / "site-screenshots")


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (ci/prepare-machine.sh installs them: "
                    "apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1366,900",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-default-apps", "--disable-domain-reliability", "--no-pings", "--metrics-recording-only",
                # Nothing but loopback: other names do not resolve, and anything else would go to a dead proxy.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=http://127.0.0.1:9"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not look for drivers on the network
    d = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    d.set_page_load_timeout(60)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield d
    finally:
        d.quit()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(directory: Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/", server


@pytest.fixture(scope="module")
def big_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """900 extensions x 5 core lines with results on three databases, built through the Python API."""
    from mwrelease.report.site import plan_site
    from mwrelease.report.site_render import write_site

    out = tmp_path_factory.mktemp("site900")
    catalog = synthetic_catalog(900)
    site = plan_site(catalog, CORES, results=[("synthetic.json", synthetic_results(catalog))],
                     generated_by="mwrelease test")
    write_site(site, out)
    url, server = serve(out)
    try:
        yield url, site
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def small_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A small site built by the real command line, from a snapshot catalog, a results file and two seals."""
    tmp = tmp_path_factory.mktemp("small")
    inputs = write_small_inputs(tmp)
    seals = inputs["seals"]
    assert isinstance(seals, list)
    cmd = [sys.executable, "-m", "mwrelease", "site", "build", "--out-dir", str(tmp / "site"), "--catalog", str(inputs["catalog"]),
           "--core", "1.39.17", "--results", str(inputs["results"]), *(a for s in seals for a in ("--seal", str(s)))]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    url, server = serve(tmp / "site")
    try:
        yield url
    finally:
        server.shutdown()


def console_errors(driver: Any) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def load_ms(driver: Any) -> float:
    """From navigation start to the end of the load event, by the browser's own Navigation Timing."""
    nav = driver.execute_script("const n = performance.getEntriesByType('navigation')[0]; "
                                "return n ? {end: n.loadEventEnd, start: n.startTime} : null;")
    assert nav and nav["end"] > 0, "the page did not finish loading"
    return float(nav["end"] - nav["start"])


def shown_names(driver: Any) -> list[str]:
    # The filters apply on the next animation frame: wait for two frames first.
    driver.execute_async_script("const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(done));")
    return list(driver.execute_script(
        "return Array.from(document.querySelectorAll('#index tbody tr')).filter(r => !r.hidden && r.offsetParent !== null)"
        ".map(r => r.querySelector('td.name a').textContent);"))


def choose(driver: Any, select_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", select_id)).select_by_value(value)


def test_index_of_900_x_5_renders_under_2s_and_filters(driver: Any, big_site: tuple[str, Any]) -> None:
    url, site = big_site
    driver.get_log("browser")  # drop entries of earlier pages
    driver.get(url + "index.html")
    ms = load_ms(driver)
    print(f"index of {len(site.extensions)} x {len(site.lines)}: loaded in {ms:.0f} ms")
    assert ms < 2000, f"the 900 x 5 index took {ms:.0f} ms to load (limit 2000 ms)"
    driver.save_screenshot(str(SHOTS / "index-900x5.png"))
    # rows are drawn 100 at a time; the count says how many match
    assert shown_names(driver) == [e.name for e in site.extensions[:100]]
    assert driver.find_element("id", "shown").text == "900 of 900"
    driver.find_element("id", "next").click()
    assert shown_names(driver) == [e.name for e in site.extensions[100:200]]
    assert driver.find_element("id", "page").text == "page 2 of 9"

    # search: a name prefix
    box = driver.find_element("id", "q")
    box.send_keys("ext012")
    expected = sorted(e.name for e in site.extensions if "ext012" in e.name.lower())
    assert expected and sorted(shown_names(driver)) == expected
    driver.execute_script("arguments[0].value = ''; arguments[0].dispatchEvent(new Event('input'));", box)
    assert len(shown_names(driver)) == 100 and driver.find_element("id", "shown").text == "900 of 900"

    # kind
    choose(driver, "kind", "skin")
    assert sorted(shown_names(driver)) == sorted(e.name for e in site.extensions if e.kind == "skin")
    choose(driver, "kind", "")

    # line + state: extensions with a ref that failed its test on 1.43 (computed from the model's grid)
    choose(driver, "line", "1.43")
    choose(driver, "state", "tested-failed")
    failed = sorted(e.name for e in site.extensions
                    if any(c.state == "tested-failed" for (_r, line), c in e.grid.items() if line == "1.43"))
    assert failed and sorted(shown_names(driver)) == failed
    driver.save_screenshot(str(SHOTS / "index-filter-1.43-failed.png"))
    assert "line=1.43" in driver.current_url and "state=tested-failed" in driver.current_url

    # the filters are kept in the URL: a reload shows the same rows
    driver.refresh()
    assert sorted(shown_names(driver)) == failed

    # line alone: extensions with a recommended ref on that line
    choose(driver, "state", "")
    choose(driver, "line", "1.39")
    usable = [e.name for e in site.extensions if e.recommended.get("1.39")]
    assert 100 < len(usable) < 900
    assert shown_names(driver) == usable[:100]
    assert driver.find_element("id", "shown").text == f"{len(usable)} of 900"
    driver.find_element("id", "next").click()
    assert shown_names(driver) == usable[100:200]
    assert console_errors(driver) == []


def test_extension_page_shows_tested_failure_apart_from_declared(driver: Any, big_site: tuple[str, Any]) -> None:
    url, site = big_site
    e = next(e for e in site.extensions if e.failures() and any(
        c.declared == "incompatible" for c in e.grid.values()))
    driver.get_log("browser")
    driver.get(url + f"ext/{e.slug}.html")
    driver.save_screenshot(str(SHOTS / f"extension-{e.slug}.png"))
    assert driver.find_element("tag name", "h1").text.startswith(e.name)
    failed = driver.find_elements("css selector", "table.matrix td.st-tested-failed")
    incompatible = driver.find_elements("css selector", "table.matrix td.st-declared-incompatible")
    assert failed and incompatible
    colour = driver.execute_script("return getComputedStyle(arguments[0]).backgroundColor", failed[0])
    other = driver.execute_script("return getComputedStyle(arguments[0]).backgroundColor", incompatible[0])
    assert colour != other
    # the legend names the tested states, each in the colour the table uses
    legend = {el.text.split(" ", 1)[1]: driver.execute_script("return getComputedStyle(arguments[0]).backgroundColor", el)
              for el in driver.find_elements("css selector", "#legend .st")}
    assert legend["failed (tested)"] == colour and legend["incompatible (declared)"] == other
    assert len(set(legend.values())) == len(legend)
    # the failing check's log is on the page, not in a tooltip
    logs = driver.find_elements("css selector", "pre.log")
    assert logs and logs[0].is_displayed() and "PHP Fatal error" in logs[0].text
    assert driver.find_elements("css selector", ".badges svg")
    assert console_errors(driver) == []


def test_small_site_from_the_cli_escapes_and_keeps_badges_apart(driver: Any, small_site: str) -> None:
    driver.get_log("browser")
    driver.get(small_site + "index.html")
    driver.save_screenshot(str(SHOTS / "index-small.png"))
    names = shown_names(driver)
    assert EVIL in names  # shown as text, not run as a script
    assert driver.execute_script("return document.querySelectorAll('#index script').length") == 0
    badges = driver.find_elements("css selector", ".bundles svg")
    assert len(badges) == 2
    ids = driver.execute_script("return Array.from(document.querySelectorAll('[id]')).map(e => e.id)")
    assert len(ids) == len(set(ids)), "two elements share an id"
    # each badge clips with its own clip path
    clips = driver.execute_script("return Array.from(document.querySelectorAll('.bundles svg g[clip-path]'))"
                                  ".map(g => g.getAttribute('clip-path'))")
    assert len(set(clips)) == 2
    stamp = driver.find_element("id", "stamp").text
    assert "mwrelease" in stamp and "results" in stamp and "seal" in stamp

    # Poem's recommended ref on 1.43 is the declared REL1_39; the index says that REL1_43 failed there
    poem_row = driver.find_element("xpath", "//tr[td/a[text()='Poem']]")
    assert "another ref failed its tests" in poem_row.find_elements("css selector", "td.st")[1].text
    driver.find_element("link text", "Poem").click()
    assert driver.find_element("tag name", "h1").text.startswith("Poem")
    log = driver.find_element("css selector", "pre.log").text
    assert "<b>html & stuff</b>" in log  # the log's markup is shown as text
    assert driver.find_elements("css selector", "td.st-tested-failed")
    assert len(driver.find_elements("css selector", ".badges svg")) == 3  # tested-up-to + two bundles
    driver.save_screenshot(str(SHOTS / "extension-Poem.png"))
    assert console_errors(driver) == []

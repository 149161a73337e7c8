"""The published asv site, opened offline in headless Chromium: the history graph has one point per commit.

A throwaway git repository with this repository's benchmarks and three commits (fixed dates) is measured
by asv (one cheap benchmark, the smoke grid's seed case, once per commit), published with ``asv publish``,
made offline by :func:`lbfgs_impl.tracking.asv_site.vendor_site`, and served from localhost to Chromium
with every name lookup failing, so any CDN request fails. An observer registered as a flot plugin (in
the test's copy of the page only) writes what each plot drew into the page, which ``--dump-dom`` returns;
a screenshot checks that the series is on screen. ``LBFGS_BENCH_KEEP_SCREENSHOT=<folder>`` keeps the
pictures for a look.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lbfgs_impl.tracking.asv_site import vendor_site

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _unusable_reason() -> str | None:
    """Why this machine cannot run the test, or None (a snap wrapper without snapd, say, fails here)."""
    if CHROMIUM is None:
        return "chromium is not installed (Debian: apt-get install chromium)"
    try:
        proc = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{CHROMIUM} --version failed: {exc}"
    if proc.returncode != 0:
        return f"{CHROMIUM} --version exited {proc.returncode}: {(proc.stdout + proc.stderr).strip()[-300:]}"
    return None


BENCHMARK = "lbfgs.Quality.track_iterations"
DATES = ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)"
    ),
]

# Records, for every flot plot drawn, its placeholder's id and the [x, y] points of each series.
PROBE = """<script>
(function () {
  var out = document.createElement("pre");
  out.id = "lbfgs-probe";
  var draws = [];
  if (!window.jQuery || !jQuery.plot) { draws.push({error: "flot did not load"}); }
  else {
    jQuery.plot.plugins.push({name: "lbfgs-probe", version: "1", options: {}, init: function (plot) {
      plot.hooks.draw.push(function (plot) {
        draws.push({placeholder: plot.getPlaceholder().attr("id") || "",
                    series: plot.getData().map(function (s) {
                      return s.data.filter(function (p) { return p && p[1] !== null; }); }),
                    colors: plot.getData().map(function (s) { return s.color; })});
        out.textContent = JSON.stringify(draws);
      });
    }});
  }
  out.textContent = JSON.stringify(draws);
  document.addEventListener("DOMContentLoaded", function () { document.body.appendChild(out); });
})();
</script>
"""


def _git(repo: Path, *args: str, date: str | None = None) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.invalid")
    env.update(GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.invalid")
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> dict:
    """asv results for three commits of a throwaway repository, and the two sites published from them."""
    unusable = _unusable_reason()
    if unusable:
        pytest.skip(unusable)
    work = tmp_path_factory.mktemp("asv_site")
    repo = work / "repo"
    shutil.copytree(ROOT / "benchmarks", repo / "benchmarks", ignore=shutil.ignore_patterns("__pycache__"))
    lines = (ROOT / "asv.conf.json").read_text().splitlines()
    conf_text = "\n".join(line for line in lines if not line.lstrip().startswith("//"))
    conf = json.loads(conf_text)
    conf.update(results_dir=str(work / "results"), html_dir=str(work / "html"), env_dir=str(work / "env"))
    (repo / "asv.conf.json").write_text(json.dumps(conf, indent=1))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    commits = []
    for i, date in enumerate(DATES):
        _git(repo, "commit", "-q", "--allow-empty", "-m", f"night {i + 1}", date=date)
        commits.append(_git(repo, "rev-parse", "HEAD"))

    env = dict(os.environ, HOME=str(work / "home"), LBFGS_BENCH_ASV_SMOKE="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    asv = [sys.executable, "-m", "asv"]

    def run(*args: str) -> str:
        proc = subprocess.run([*asv, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
        return proc.stdout

    run("machine", "--yes", "--machine", "testbox")
    for commit in commits:
        run("run", "-E", "existing:same", "--machine", "testbox", "--set-commit-hash", commit,
            "--bench", f"^{re.escape(BENCHMARK)}(\\(|$)")  # fmt: skip
    run("publish")
    plain = work / "plain"
    shutil.copytree(work / "html", plain)
    vendored = work / "vendored"
    shutil.copytree(work / "html", vendored)
    assert vendor_site(vendored) == [vendored / "index.html"]
    recorded = {}  # commit -> the value asv saved for the one grid point
    for path in (work / "results" / "testbox").glob("*-existing-*.json"):
        saved = json.loads(path.read_text())
        recorded[saved["commit_hash"]] = saved["results"][BENCHMARK][0]
    assert set(recorded) == set(commits) and all(len(v) == 1 for v in recorded.values()), recorded
    values = [recorded[c][0] for c in commits]  # in commit order (the dates increase)
    return {"work": work, "commits": commits, "values": values, "plain": plain, "vendored": vendored}


@contextlib.contextmanager
def _serve(site: Path):
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the browser closing early is fine
            super().handle_error(request, client_address)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # the base class's signature
        pass


def _with_probe(site: Path) -> None:
    index = site / "index.html"
    html = index.read_text()
    assert html.count("</head>") == 1
    index.write_text(html.replace("</head>", PROBE + "</head>"))


def _chromium(url: str, profile: Path, *extra: str) -> str:
    """The DOM after the page has run (a virtual-time budget: timers and loads settle before the dump)."""
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}",
        # offline: every host name fails to resolve; the site is served from an IP literal
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=15000", "--window-size=1280,900", *extra, url,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _draws(dom: str) -> list[dict]:
    found = re.search(r'<pre id="lbfgs-probe">(.*?)</pre>', dom, re.DOTALL)
    assert found, dom[-3000:]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def test_history_graph_shows_one_point_per_recorded_commit_offline(published, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(published["vendored"], site)
    _with_probe(site)
    with _serve(site) as base:
        dom = _chromium(f"{base}/index.html#{BENCHMARK}", tmp_path / "profile", "--dump-dom")
    draws = _draws(dom)
    main = [d for d in draws if d.get("placeholder") == "main-graph"]
    assert main, draws
    # the smoke grid: one solver on the seed case, so one series, with a point for each of the 3 commits
    (points,) = main[-1]["series"]
    assert len(points) == len(published["commits"]) == 3, draws
    assert len({x for x, _ in points}) == 3  # three places on the commit axis
    assert [y for _, y in sorted(points)] == published["values"]  # the values asv recorded, in order
    assert "dependencies of airspeed velocity failed to load" not in dom


def test_without_the_vendored_scripts_the_page_cannot_load_offline(published, tmp_path):
    """The control: asv's own page, CDN addresses kept, fails in the same browser setup (so it is offline)."""
    site = tmp_path / "site"
    shutil.copytree(published["plain"], site)
    _with_probe(site)
    with _serve(site) as base:
        dom = _chromium(f"{base}/index.html#{BENCHMARK}", tmp_path / "profile", "--dump-dom")
    # jQuery never arrives: asv's loader sends the page to its error page
    assert "dependencies of airspeed velocity failed to load" in dom, dom[-3000:]
    assert "lbfgs-probe" not in dom


def _screenshot(site: Path, tmp_path: Path, name: str):
    from PIL import Image

    shot = tmp_path / f"{name}.png"
    with _serve(site) as base:
        _chromium(f"{base}/index.html#{BENCHMARK}", tmp_path / f"profile-{name}", f"--screenshot={shot}")
    keep = os.environ.get("LBFGS_BENCH_KEEP_SCREENSHOT")  # a folder to look at the pictures in
    if keep:
        shutil.copy(shot, Path(keep) / shot.name)
    return Image.open(shot).convert("RGB")


def _pixels(image) -> dict[tuple[int, int, int], int]:
    """How many pixels of each colour the image has."""
    return {color: n for n, color in image.getcolors(maxcolors=image.width * image.height)}


def _rgb(color: str) -> tuple[int, int, int]:
    """flot's ``"rgb(r,g,b)"`` (or ``"#rrggbb"``) as a pixel value."""
    found = re.fullmatch(r"rgb\((\d+),\s*(\d+),\s*(\d+)\)", color.strip())
    if found:
        return tuple(int(v) for v in found.groups())
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", color), color
    return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))


def test_screenshot_shows_the_series_drawn_offline(published, tmp_path):
    """The pixels, not only flot's data: the series' colour is on screen, and absent without the copies."""
    site = tmp_path / "site"
    shutil.copytree(published["vendored"], site)
    _with_probe(site)
    with _serve(site) as base:
        dom = _chromium(f"{base}/index.html#{BENCHMARK}", tmp_path / "profile", "--dump-dom")
    main = [d for d in _draws(dom) if d.get("placeholder") == "main-graph"]
    (color,) = main[-1]["colors"]
    rgb = _rgb(color)
    shown = _screenshot(site, tmp_path, "vendored")
    control = _screenshot(published["plain"], tmp_path, "cdn-only")
    assert shown.size == control.size == (1280, 900)
    count = _pixels(shown).get(rgb, 0)
    assert count >= 20, f"{count} pixels of the series colour {color}"  # three point markers and the line
    assert _pixels(control).get(rgb, 0) == 0

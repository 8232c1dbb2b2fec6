"""Page weight and the wallet's time to first render, in the system Chromium.

Serves the pages with the node's own web routes (node/rpc/routes_web.py, the same
bytes and headers a validator sends; the wallet's first screen asks the API for
nothing, so no chain is needed) on a loopback port, then:

- weight: for each page, the HTML, the style sheet and every ES module it loads
  (followed through `import ... from "..."`), in KB as served (the node does not
  compress) and gzipped at level 9 for reference;
- time to first render of /wallet in a fresh browser context (cold cache) each run:
  first contentful paint from the Paint Timing API, and "ready" when the wallet's
  module has run and shows its first screen (the create/import forms), both from
  navigation start. Prints the median and the worst of the runs.

Run from the repository root:  python bench/bench_web_pages.py [--runs N]
(needs the `chromium` OS package and Playwright for Python, as the browser tests do).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import re
import statistics
import sys
import threading
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web  # noqa: E402

from node.rpc import routes_web  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PAGES = ("/", "/wallet", "/explorer", "/pay/" + "ab" * 32, "/operator", "/shop", "/seller")
IMPORT = re.compile(r"""(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']""")
SCRIPT = re.compile(r'<script type="module" src="([^"]+)"')
STYLE = re.compile(r'<link rel="stylesheet" href="([^"]+)"')


class Server:
    """The web routes on 127.0.0.1 in a thread; `url` once started."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _start(self) -> None:
        app = web.Application()
        routes_web.register(app)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> Server:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body


def resolve(base: str, reference: str) -> str:
    """An import specifier relative to the module path `base` ("/pages/x.js")."""
    parts = base.split("/")[:-1]
    for piece in reference.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


def page_files(url: str, page: str) -> dict[str, bytes]:
    """Every file the page loads, by path: its HTML, style sheet and module graph."""
    html = fetch(url + page)
    files = {page: html}
    text = html.decode()
    for sheet in STYLE.findall(text):
        files[sheet] = fetch(url + sheet)
    todo = SCRIPT.findall(text)
    while todo:
        path = todo.pop()
        if path in files:
            continue
        files[path] = fetch(url + path)
        todo.extend(resolve(path, ref) for ref in IMPORT.findall(files[path].decode()))
    return files


def weights(url: str) -> None:
    heads = ("files", "JS KB", "CSS KB", "HTML KB", "total KB", "gzip KB")
    print(f"{'page':<12} " + " ".join(f"{h:>8}" for h in heads))
    for page in PAGES:
        files = page_files(url, page)
        js = sum(len(b) for p, b in files.items() if p.endswith(".js"))
        css = sum(len(b) for p, b in files.items() if p.endswith(".css"))
        html = len(files[page])
        zipped = sum(len(gzip.compress(b, 9)) for b in files.values())
        name = page if len(page) < 12 else "/pay/{id}"
        total = js + css + html
        cells = [f"{len(files):>8}"] + [f"{n / 1024:>8.1f}" for n in (js, css, html, total, zipped)]
        print(f"{name:<12} " + " ".join(cells))


READY = """() => {
  const setup = document.getElementById('setup');
  return setup && !setup.hidden && performance.now();
}"""
FCP = "() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"


def render_times(url: str, runs: int) -> None:
    from playwright.sync_api import sync_playwright

    paints: list[float] = []
    ready: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 390, "height": 844})
                page = context.new_page()
                page.goto(f"{url}/wallet", wait_until="commit")
                ready.append(float(page.wait_for_function(READY, polling="raf").json_value()))
                paint = page.wait_for_function(FCP).json_value()
                paints.append(float(paint))
                context.close()
        finally:
            browser.close()
    print(f"/wallet, {runs} cold loads on 127.0.0.1 (ms from navigation start):")
    for label, values in (("first contentful paint", paints), ("wallet ready (forms)", ready)):
        median, worst = statistics.median(values), max(values)
        print(f"  {label:<22}  median {median:6.1f}  worst {worst:6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    options = parser.parse_args()
    with Server() as server:
        weights(server.url)
        render_times(server.url, options.runs)


if __name__ == "__main__":
    main()

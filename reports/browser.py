"""Looking at a page the way a person does: headless Chromium (Debian's), driven by Playwright.

Used by the tests that open reports from disk with the network off, and by the script that
photographs the Prefect UI. Playwright's own browser download is never used.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


@dataclass
class PageVisit:
    """What a visit saw: every request the page made, and the text of chosen elements."""

    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    scroll_width: int = 0
    viewport_width: int = 0


def visit(
    url: str,
    screenshot: Path,
    *,
    selectors: tuple[str, ...] = (),
    allow_prefixes: tuple[str, ...] = ("file://",),
    width: int = 1280,
    height: int = 900,
    wait_for: str | None = None,
    timeout_ms: float = 30_000,
) -> PageVisit:
    """Open url, record its requests (blocking any not under allow_prefixes), screenshot the full page."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError("Chromium not found (install Debian's `chromium` package)")
    seen = PageVisit(viewport_width=width)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})

            def route(route_, request) -> None:
                seen.requests.append(request.url)
                if request.url.startswith(allow_prefixes):
                    route_.continue_()
                else:
                    seen.blocked.append(request.url)
                    route_.abort()

            page.route("**/*", route)
            page.goto(url, wait_until="networkidle", timeout=timeout_ms)
            if wait_for:
                page.wait_for_selector(wait_for, timeout=timeout_ms)
            for selector in selectors:
                element = page.query_selector(selector)
                seen.texts[selector] = element.inner_text() if element else ""
            seen.scroll_width = page.evaluate("document.documentElement.scrollWidth")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return seen

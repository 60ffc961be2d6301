"""Headless Chromium driven over the DevTools protocol: load a page at phone size, measure its
layout in the browser (JavaScript over the real DOM) and take a full-page screenshot.

Only the standard library and ``websockets`` (a dependency of web3) are used; each
:class:`Browser` is one Chromium process with its own profile directory.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

#: Finds, in the loaded page, every element whose content is wider than the element (text
#: that does not wrap inside its box) or that reaches past the viewport.
OVERFLOW_JS = """
(() => {
  const viewport = document.documentElement.clientWidth;
  const found = [];
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className ? '.' + String(el.className).trim().replace(/\\s+/g, '.') : '');
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right > viewport + 0.5 || box.left < -0.5) {
      found.push(`${name(el)} spans ${Math.round(box.left)}..${Math.round(box.right)} px`);
    }
    const style = getComputedStyle(el);
    if (el.clientWidth > 0 && style.overflowX === 'visible' &&
        el.scrollWidth > el.clientWidth + 1) {
      found.push(`${name(el)} content ${el.scrollWidth} px in a ${el.clientWidth} px box`);
    }
  }
  return {viewport, documentWidth: document.documentElement.scrollWidth, overflowing: found};
})()
"""

#: The text of the page people read outside data values: every text node not inside an
#: element marked ``translate="no"`` (identifiers, names, hashes, the member's own words) or
#: carrying another language than the page's.
LABEL_TEXT_JS = """
(() => {
  const page = document.documentElement.lang;
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    if (!text) continue;
    const holder = node.parentElement;
    if (holder.closest('[translate="no"]')) continue;
    const tagged = holder.closest('[lang]');
    if (tagged && tagged.lang !== page) continue;
    if (holder.closest('style,script')) continue;
    texts.push(text);
  }
  return texts;
})()
"""


class Browser:
    """One headless Chromium with a DevTools connection to its first tab."""

    def __init__(self, chromium: Path, profile: Path, width: int = 360, height: int = 800):
        profile.mkdir(parents=True, exist_ok=True)
        self.width, self.height = width, height
        self._ids = itertools.count(1)
        self._events: list[dict[str, Any]] = []
        self.process = subprocess.Popen(
            [str(chromium), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 120
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise AssertionError("Chromium did not open its DevTools port")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t["type"] == "page")
        self.ws: ClientConnection = connect(page["webSocketDebuggerUrl"], max_size=None)
        self.call("Page.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width, height=height, deviceScaleFactor=1, mobile=True,
        )  # fmt: skip

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events meanwhile are dropped,
        except that :meth:`open` waits for its load event)."""
        ident = next(self._ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == ident:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._events.append(message)

    @property
    def events(self) -> list[dict[str, Any]]:
        """The DevTools events received since the last :meth:`open` began."""
        return list(self._events)

    def open(self, url: str) -> None:
        """Navigate and wait for the page's load event."""
        self._events = []
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 60
        while not any(e.get("method") == "Page.loadEventFired" for e in self._events):
            assert time.monotonic() < deadline, f"{url} did not load"
            self._events.append(json.loads(self.ws.recv(timeout=60)))

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in answer:
            raise AssertionError(answer["exceptionDetails"])
        return answer["result"].get("value")

    def screenshot(self, path: Path) -> None:
        """A PNG of the whole page (its full height) at the emulated width."""
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        shot = self.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1},
        )
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        """Close the connection and end Chromium."""
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


@contextmanager
def browser(chromium: Path, profile: Path, width: int = 360) -> Iterator[Browser]:
    """A :class:`Browser` for the duration of a ``with`` block."""
    opened = Browser(chromium, profile, width)
    try:
        yield opened
    finally:
        opened.close()

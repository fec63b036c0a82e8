"""Helpers for the headless Chromium tests."""

from __future__ import annotations


def csp_violations_watch(page) -> list[str]:
    """The console messages in which the browser reports what the Content Security Policy
    blocked (an inline script or style, another origin); filled as the page runs."""
    blocked: list[str] = []

    def on_console(message) -> None:
        if "Content Security Policy" in message.text:
            blocked.append(message.text)

    page.on("console", on_console)
    return blocked

"""Tests driving the web UI in Debian's Chromium (Playwright for Python)."""

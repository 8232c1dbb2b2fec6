"""Tests of the pages in a real browser (the system's headless Chromium)."""

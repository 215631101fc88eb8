"""Addons shipped with Keel. Each sub-package is one addon (see docs/addons.md)."""

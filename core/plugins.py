"""Calling addon hooks in addon-dependency order.

pluggy validates the hook implementations (names, parameters) when an addon
is registered; the kernel then calls them itself, in the order of the addon
dependency graph rather than pluggy's registration order.
"""
import inspect
import logging

import pluggy

from . import hookspecs
from .errors import AddonError, KeelError

log = logging.getLogger(__name__)

NOTIFICATIONS = {"keel_after_create", "keel_after_write", "keel_after_unlink",
                 "keel_addon_installed", "keel_addon_uninstalled"}


def spec_names():
    """Hook name → tuple of parameter names, from ``core.hookspecs``."""
    return {name: tuple(inspect.signature(fn).parameters)
            for name, fn in vars(hookspecs).items()
            if name.startswith("keel_") and callable(fn)}


def _one_line(exc):
    """pluggy's messages span lines; the CLI prints one."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _check_signature(addon, impl):
    """pluggy ≥ 1.7 semantics, made strict: no defaults, no keyword-only."""
    if impl.hookwrapper or getattr(impl, "wrapper", False):
        raise AddonError(f"addon {addon!r}: hook {impl.function.__name__} is a wrapper; the kernel "
                         "calls hooks itself in addon order and does not run wrappers")
    params = inspect.signature(impl.function).parameters.values()
    bad = [p.name for p in params
           if p.default is not p.empty or p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    if bad:
        fn = impl.function
        where = f"{fn.__code__.co_filename}:{fn.__code__.co_firstlineno}"
        raise AddonError(f"addon {addon!r}: hook {impl.function.__name__} ({where}) declares "
                         f"{', '.join(bad)} with a default or as keyword-only; hook parameters "
                         "are plain and always passed by the kernel")


class AddonHooks:
    """The hook implementations of a list of addon modules, in that order."""

    def __init__(self, loaded):
        """``loaded``: list of ``(addon_name, module)`` in dependency order."""
        self.order = [name for name, _ in loaded]
        self.pm = pluggy.PluginManager("keel")
        self.pm.add_hookspecs(hookspecs)
        self.specs = spec_names()
        for name, module in loaded:
            try:
                self.pm.register(module, name=name)
            except pluggy.PluginValidationError as exc:
                raise AddonError(f"addon {name!r}: {_one_line(exc)}") from exc
            for impl in self._impls_of(name):
                _check_signature(name, impl)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = self.pm.get_name(exc.plugin) or getattr(exc.plugin, "__name__", exc.plugin)
            raise AddonError(f"addon {name!r}: {_one_line(exc)}") from exc
        self._cache = {}

    def _impls_of(self, addon):
        plugin = self.pm.get_plugin(addon)
        return [impl for caller in self.pm.get_hookcallers(plugin) or ()
                for impl in caller.get_hookimpls() if impl.plugin_name == addon]

    def implementations(self, hook):
        """``[(addon, function, argnames)]`` in addon order."""
        cached = self._cache.get(hook)
        if cached is None:
            caller = getattr(self.pm.hook, hook)
            by_addon = {impl.plugin_name: impl for impl in caller.get_hookimpls()}
            cached = [(name, by_addon[name].function, by_addon[name].argnames)
                      for name in self.order if name in by_addon]
            self._cache[hook] = cached
        return cached

    def has(self, hook):
        return bool(self.implementations(hook))

    def implementers(self):
        """Hook name → list of addons implementing it (for ``keel addons list``)."""
        return {hook: [a for a, _, _ in self.implementations(hook)] for hook in self.specs}

    def _args(self, hook, kwargs):
        expected = self.specs[hook]
        if set(kwargs) != set(expected):
            raise TypeError(f"{hook} takes exactly {expected}, got {tuple(kwargs)}")

    def gather(self, hook, only=None, **kwargs):
        """Call a data hook; ``[(addon, result)]`` in addon order.

        A failing implementation raises ``AddonError`` naming the addon.
        ``only`` restricts the call to one addon.
        """
        self._args(hook, kwargs)
        results = []
        for addon, fn, argnames in self.implementations(hook):
            if only is not None and addon != only:
                continue
            try:
                result = fn(*[kwargs[a] for a in argnames])
            except KeelError:  # meant for the caller (a refusal, a bad value)
                raise
            except Exception as exc:
                raise AddonError(f"addon {addon!r}: {hook} failed: {exc.__class__.__name__}: {exc}") from exc
            results.append((addon, result))
        return results

    def notify(self, hook, **kwargs):
        """Call a notification hook; a failing addon is logged, the rest run."""
        self._args(hook, kwargs)
        for addon, fn, argnames in self.implementations(hook):
            try:
                fn(*[kwargs[a] for a in argnames])
            except Exception:
                log.exception("addon %r: %s failed; the other addons still run", addon, hook)

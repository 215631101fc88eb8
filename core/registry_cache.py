"""Data read from the database once per registry and shared by every unit
of work: workflow matrices, merged views.

A registry is rebuilt when the registry version in the database moves, so
what hangs on a registry never goes stale across processes as long as
every change moves the version: :meth:`RegistryCache.changed` does that.
A unit of work that changed the rows itself reads its own copy until it
ends (it may yet roll back, and others must not see its changes before
it commits).
"""
import weakref


class RegistryCache:
    """``load(env)`` once per registry; ``changed(env)`` after a write."""

    def __init__(self, name, load):
        self._key = ("registry_cache", name)
        self._load = load
        #: registry -> value, for units of work that changed nothing
        self._shared = weakref.WeakKeyDictionary()
        #: connections (one per unit of work) whose transaction changed rows
        self._dirty = weakref.WeakSet()

    def get(self, env):
        """The value as ``env``'s unit of work sees it."""
        if env.conn in self._dirty:
            local = env.cache.get(self._key)
            if local is None:
                local = env.cache[self._key] = self._load(env)
            return local
        found = self._shared.get(env.registry)
        if found is None:
            found = self._shared[env.registry] = self._load(env)
        return found

    def changed_here(self, env):
        """Whether ``env``'s transaction changed the rows."""
        return env.conn in self._dirty

    def changed(self, env):
        """``env``'s transaction changed the rows: it reads them again from
        now on, and committing it makes every process reload them."""
        self._dirty.add(env.conn)
        env.cache.pop(self._key, None)
        if env.db is not None:
            env.db.bump_version(env.conn)

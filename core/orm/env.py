"""An environment: one unit of work (a database transaction) seen by one user."""
import datetime as dt

from ..errors import UserInputError

#: The id of the kernel's own user, ``__system__`` (jobs, install, upgrade).
SYSTEM_UID = 1


class Env:
    """``env["crm.customer"]`` is the model's empty recordset.

    ``su`` marks the system context (install, jobs, migrations): record and
    field rules do not apply to it.
    """

    def __init__(self, db, conn, registry, uid, su=False, context=None, now=None):
        self.db = db
        self.conn = conn
        self.registry = registry
        self.uid = uid
        self.su = su
        self.context = dict(context or {})
        self.now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
        self.cache = {}
        self._user_values = None
        self._access = None
        #: the security version this unit of work began with, where known:
        #: caches of data that moves it (roles, shares, approval policies)
        #: are valid while it stays
        self.security_version = None

    @property
    def access(self):
        """This user's access rules (``core.security.access.Access``), loaded
        once per unit of work."""
        if self._access is None:
            from ..security.access import Access
            self._access = Access(self)
        return self._access

    def __getitem__(self, model_name):
        from .recordset import Recordset
        try:
            meta = self.registry.models[model_name]
        except KeyError:
            raise UserInputError(f"unknown model {model_name!r}") from None
        return Recordset(self, meta, ())

    def __contains__(self, model_name):
        return model_name in self.registry.models

    def __repr__(self):
        return f"<Env uid={self.uid}{' su' if self.su else ''}>"

    @property
    def user(self):
        return self["core.user"].browse([self.uid])

    def user_values(self):
        """The current user's row (cached for the unit of work)."""
        if self._user_values is None:
            table = self.registry["core.user"].table
            row = self.conn.execute(table.select().where(table.c.id == self.uid)).mappings().first()
            self._user_values = dict(row) if row else {}
        return self._user_values

    def sudo(self):
        """The same unit of work in the system context."""
        other = Env(self.db, self.conn, self.registry, self.uid, True, self.context, self.now)
        other.cache = self.cache
        return other

    def with_context(self, **values):
        other = Env(self.db, self.conn, self.registry, self.uid, self.su,
                    {**self.context, **values}, self.now)
        other.cache = self.cache
        other._access = self._access
        return other

    def with_registry(self, registry):
        """The same transaction after the registry changed (install, field add)."""
        return Env(self.db, self.conn, registry, self.uid, self.su, self.context, self.now)

"""One exception hierarchy for the whole kernel.

::

    KeelError                 base; a user-facing, one-line message
    ├── UserInputError        bad input that parses but is wrong      (CLI exit 1, HTTP 400)
    │   └── DomainError       a malformed domain, order or field list (HTTP 400)
    ├── ValidationError       a value refused for a field             (HTTP 422)
    ├── AccessDenied          the caller may not do this              (HTTP 403)
    ├── NotFound              no such record (or not visible)         (HTTP 404)
    ├── Conflict              stale version, duplicate, bad state     (HTTP 409)
    └── AddonError            addon discovery, dependency or hook problem

The CLI prints ``str(error)`` on one line and exits 1; the HTTP layer maps
``http_status``/``code`` to the contract's error shape in one place.
"""


class KeelError(Exception):
    http_status = 400
    code = "bad_request"

    def __init__(self, message, details=None):
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def __str__(self):
        return self.message


class UserInputError(KeelError):
    pass


class DomainError(UserInputError):
    pass


class ValidationError(KeelError):
    http_status = 422
    code = "validation_error"


class AccessDenied(KeelError):
    http_status = 403
    code = "forbidden"


class NotFound(KeelError):
    http_status = 404
    code = "not_found"


class Conflict(KeelError):
    http_status = 409
    code = "conflict"


class AddonError(KeelError):
    pass

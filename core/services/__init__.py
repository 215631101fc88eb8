"""Platform services every addon uses (issue 6): the scheduler, backups,
import, reports, notifications, files and the recycle bin.

Each is a module of its own; all of them go through the model API, so
access rules, record scopes, workflow and audit hold for them as for a
form or an API call.
"""

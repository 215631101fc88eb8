"""``python -m bench``: run every benchmark, print the table, merge
``bench/results.json``."""
import os
import sys
import tempfile
import time

from . import approvals, backups, crm, custom_field, imports, reports, web
from .customers import CustomerBench, env_int
from .results import PATH, merge, table


def main():
    n = env_int("KEEL_BENCH_ROWS", 100_000)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="keel-bench-") as folder:
        print(f"Keel bench: {n:,} crm.customer rows, SQLite, in {folder}", flush=True)
        log = lambda m: print(m, flush=True)  # noqa: E731
        entries = CustomerBench(folder, n, log=log).run()
        log("- user-defined fields …")
        entries += custom_field.run(folder, n, log)
        log("- approvals …")
        entries += approvals.run(folder, log)
        log("- web UI and REST API pages …")
        entries += web.run(folder, n, log)
        log("- import …")
        entries += imports.run(folder, n, log)
        log("- backup and restore …")
        entries += backups.run(folder, n, log)
        log("- reports and export …")
        entries += reports.run(folder, n, log)
        log("- CRM: a rep's workbench, the 80/20 classification …")
        entries += crm.run(folder, n, log)
    merge(entries)
    print()
    print(table(entries))
    print(f"\n{sum(1 for e in entries if e.get('pass'))} PASS, "
          f"{sum(1 for e in entries if 'target' in e and not e.get('pass'))} MISS; "
          f"written to {os.path.relpath(PATH)}; {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

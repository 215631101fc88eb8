"""``bench/results.json``: one entry per figure, merged by name."""
import json
import os

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.json")


def entry(name, value, unit, core=None, target=None, better="lower", note=None):
    """A figure. ``ratio`` is Keel's cost in units of Core's (for a rate,
    ``better="higher"``, Core's rate over Keel's). ``target``: ``{"ratio_max": …}``, ``{"ratio_min": …}``,
    ``{"max": …}``, ``{"min": …}`` (any combination)."""
    e = {"name": name, "value": round(value, 4), "unit": unit}
    if core is not None:
        e["core"] = round(core, 4)
        # always "× Core's cost": time over time, or Core's rate over Keel's rate
        if better == "higher":
            e["ratio"] = round(core / value, 3) if value else None
        else:
            e["ratio"] = round(value / core, 3) if core else None
    if target:
        e["target"] = target
        e["pass"] = passes(e)
    if note:
        e["note"] = note
    return e


def passes(e):
    t, v, r = e.get("target") or {}, e["value"], e.get("ratio")
    ok = True
    if "ratio_max" in t:
        ok &= r is not None and r <= t["ratio_max"]
    if "ratio_min" in t:
        ok &= r is not None and r >= t["ratio_min"]
    if "max" in t:
        ok &= v <= t["max"]
    if "min" in t:
        ok &= v >= t["min"]
    return bool(ok)


def merge(entries, path=PATH):
    existing = []
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as fh:
                existing = json.load(fh)
            if not isinstance(existing, list):
                existing = []
        except (OSError, ValueError):
            existing = []
    new = {e["name"]: e for e in entries}
    out = [new.pop(e["name"], e) for e in existing if isinstance(e, dict) and "name" in e]
    out.extend(new.values())
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(out, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
    os.replace(tmp, path)
    return out


def _target_text(t):
    parts = []
    if "ratio_max" in t:
        parts.append(f"≤{t['ratio_max']:g}× Core")
    if "ratio_min" in t:
        parts.append(f"≥{t['ratio_min']:g}× Core")
    if "max" in t:
        parts.append(f"≤{t['max']:g}")
    if "min" in t:
        parts.append(f"≥{t['min']:g}")
    return ", ".join(parts)


def _num(v):
    if v is None:
        return "–"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    return f"{v:.3f}"


def table(entries):
    head = ("figure", "Keel", "Core", "ratio", "unit", "target", "")
    rows = [head]
    for e in entries:
        t = e.get("target")
        status = "" if not t else ("PASS" if e.get("pass") else "MISS")
        rows.append((e["name"], _num(e["value"]), _num(e.get("core")),
                     "–" if e.get("ratio") is None else f"{e['ratio']:.2f}×",
                     e["unit"], _target_text(t) if t else "", status))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i in (0, 4, 5, 6) else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)

"""The predicted win probability of an opportunity, learnt from the
company's own won and lost opportunities.

**Statistics** (``crm.win_stat``, rebuilt nightly by the job
``crm.win_stats`` and on demand with :func:`rebuild`): for each *feature*
(the customer's source, industry, region and grade, the owner, the amount
band) and each of its values, how many closed opportunities with that value
were won and lost — one ``read_group`` per feature (SQL GROUP BY), plus the
overall counts (feature ``*``).

**Prediction** (naive-Bayes-like, in log-odds): start from the overall win
rate ``p0`` and, for each feature value of the opportunity, add
``logit(r) - logit(p0)`` where ``r = (won + M·p0) / (closed + M)`` is the
value's win rate smoothed towards ``p0`` (an m-estimate: a value seen
twice barely moves the prediction). The sum's logistic, in whole percent
clipped to 1–99, is ``predicted_probability``. Each term is the
explanation shown on the form ("Source = Exhibition: won 12 of 20 (60%) ↑").
With fewer than ``MIN_HISTORY`` closed opportunities there is no prediction.

Stored on every open opportunity by the nightly job, and when an
opportunity is created or its amount, owner or customer change, or its
customer's source, industry, region or grade change.
"""
import decimal
import math

from core import fields as F
from core.i18n import _
from core.models import Model

#: context key of the pipeline's own writes
SYSTEM = "crm_pipeline_system"
#: smoothing weight (m-estimate): closed opportunities a value needs to count fully
M = 5
#: closed opportunities needed before predicting
MIN_HISTORY = 10
#: (feature, the field path read_group groups by, the field shown)
FEATURES = [
    ("source", "customer_id.source", _("Source")),
    ("industry", "customer_id.industry", _("Industry")),
    ("region", "customer_id.region", _("Region")),
    ("grade", "customer_id.grade", _("Grade")),
    ("owner", "owner_id", _("Owner")),
    ("amount_band", "amount_band", _("Amount band")),
]
BANDS = [("lt10k", _("Under 10,000")), ("10k_50k", _("10,000 to 50,000")),
         ("50k_200k", _("50,000 to 200,000")), ("200k_1m", _("200,000 to 1,000,000")),
         ("ge1m", _("1,000,000 and more"))]
_LIMITS = [(10_000, "lt10k"), (50_000, "10k_50k"), (200_000, "50k_200k"), (1_000_000, "200k_1m")]
#: opportunity and customer fields a prediction depends on
OPPORTUNITY_INPUTS = {"amount", "owner_id", "customer_id"}
CUSTOMER_INPUTS = {"source", "industry", "region", "grade"}
OPEN = ["new", "qualified", "proposal", "negotiation"]


def band_of(row):
    amount = row.get("amount")
    if amount is None:
        return None
    amount = decimal.Decimal(amount)
    for limit, code in _LIMITS:
        if amount < limit:
            return code
    return "ge1m"


def models():
    return [Model("crm.win_stat", _("Win statistic"), order="feature, value", rec_name="value",
                  trash=False, fields={
                      "feature": F.Char(_("Feature"), required=True, index=True),
                      "value": F.Char(_("Value"), required=True),
                      "label": F.Char(_("Shown as")),
                      "won": F.Integer(_("Won"), default=0),
                      "lost": F.Integer(_("Lost"), default=0),
                      "rate": F.Integer(_("Win rate (%)")),
                  })]


# -- statistics -----------------------------------------------------------------------------
def nightly(env):
    """The job ``crm.win_stats``: rebuild the statistics, then predict every
    open opportunity again."""
    rebuild(env)
    return {"opportunities": refresh_open(env)}


def rebuild(env):
    """Replace ``crm.win_stat`` with counts of the closed opportunities
    (one GROUP BY per feature). Runs in the system context."""
    env = env.sudo()
    opportunities = env["crm.opportunity"]
    closed = [["stage", "in", ["won", "lost"]]]
    rows = []
    counts = {"won": 0, "lost": 0}
    for g in opportunities.read_group(closed, ["stage"], ["id:count"]):
        counts[g["stage"]] = g["id:count"]
    rows.append({"feature": "*", "value": "*", **counts})
    for feature, path, _label in FEATURES:
        found = {}
        for g in opportunities.read_group(closed, [path, "stage"], ["id:count"]):
            value = g[path]
            if value is None or value == "":
                continue
            label = None
            if isinstance(value, dict):
                value, label = value["id"], value.get("name")
            entry = found.setdefault(str(value), {"feature": feature, "value": str(value), "label": label,
                                                  "won": 0, "lost": 0})
            entry[g["stage"]] += g["id:count"]
        rows.extend(found.values())
    for row in rows:
        total = row["won"] + row["lost"]
        row["rate"] = round(100 * row["won"] / total) if total else None
    stats = env["crm.win_stat"]
    stats.search([]).unlink()
    stats.create(rows)
    return len(rows)


def load(env):
    """``{(feature, value): (won, lost)}`` of the stored statistics."""
    return {(r["feature"], r["value"]): (r["won"] or 0, r["lost"] or 0)
            for r in env.sudo()["crm.win_stat"].search_read([], ["feature", "value", "won", "lost"])}


def _logit(p):
    return math.log(p / (1 - p))


def explain(stats, values):
    """``(probability or None, [(feature, value, won, closed, delta)])`` for
    an opportunity's feature ``values`` ({feature: value as stored})."""
    won, lost = stats.get(("*", "*"), (0, 0))
    if won + lost < MIN_HISTORY:
        return None, []
    p0 = (won + 1) / (won + lost + 2)
    score = _logit(p0)
    terms = []
    for feature, _path, _label in FEATURES:
        value = values.get(feature)
        if value is None or value == "":
            continue
        w, lo = stats.get((feature, str(value)), (0, 0))
        rate = (w + M * p0) / (w + lo + M)
        delta = _logit(rate) - _logit(p0)
        score += delta
        terms.append((feature, str(value), w, w + lo, delta))
    probability = 1 / (1 + math.exp(-score))
    return min(99, max(1, round(100 * probability))), terms


def _features(env, ids):
    """``{opportunity id: {feature: value}}`` read in a fixed number of queries
    (system context: the prediction uses every input whoever changed it)."""
    env = env.sudo()
    found = {}
    customer_ids = set()
    for start in range(0, len(ids), 900):
        for row in env["crm.opportunity"].search_read([["id", "in", ids[start:start + 900]]],
                                                      ["owner_id", "amount_band", "customer_id"]):
            found[row["id"]] = {"owner": (row["owner_id"] or {}).get("id"), "amount_band": row["amount_band"],
                                "_customer": (row["customer_id"] or {}).get("id")}
            customer_ids.add(found[row["id"]]["_customer"])
    customers = {}
    customer_ids = sorted(c for c in customer_ids if c)
    for start in range(0, len(customer_ids), 900):
        for row in env["crm.customer"].search_read([["id", "in", customer_ids[start:start + 900]]],
                                                   sorted(CUSTOMER_INPUTS)):
            customers[row["id"]] = row
    for values in found.values():
        values.update({k: v for k, v in customers.get(values.pop("_customer"), {}).items() if k != "id"})
    return found


def refresh(env, ids, stats=None):
    """Predict the open opportunities among ``ids`` and store the result;
    one write per distinct probability. Returns how many were predicted."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return 0
    system = env.sudo().with_context(**{SYSTEM: True})
    opportunities = system["crm.opportunity"]
    current = {}
    for start in range(0, len(ids), 900):
        current.update((r["id"], r["predicted_probability"]) for r in opportunities.search_read(
            [["id", "in", ids[start:start + 900]], ["stage", "in", OPEN]], ["predicted_probability"]))
    if not current:
        return 0
    open_ids = sorted(current)
    stats = load(env) if stats is None else stats
    by_value = {}
    for rid, values in _features(env, open_ids).items():
        probability = explain(stats, values)[0]
        if probability != current[rid]:  # unchanged: no write, no new version
            by_value.setdefault(probability, []).append(rid)
    for probability, group in by_value.items():
        for start in range(0, len(group), 900):
            opportunities.browse(group[start:start + 900]).write({"predicted_probability": probability})
    return len(open_ids)


def refresh_open(env):
    ids = env.sudo()["crm.opportunity"].search([["stage", "in", OPEN]]).ids
    return refresh(env, ids)


def refresh_customers(env, customer_ids):
    ids = env.sudo()["crm.opportunity"].search([["customer_id", "in", list(customer_ids)],
                                                ["stage", "in", OPEN]]).ids
    return refresh(env, ids)


# -- the form's panel ------------------------------------------------------------------------
def panels(env, record_id):
    """"Predicted win probability": the prediction and, per feature value,
    its history and whether it raised (↑) or lowered (↓) the prediction."""
    from core.web.forms import tr
    from core.web.i18n import gettext

    found = env["crm.opportunity"].search_read([["id", "=", record_id]],
                                               ["owner_id", "amount_band", "customer_id", "stage"])
    if not found:
        return []
    row = found[0]
    values = {"owner": (row["owner_id"] or {}).get("id"), "amount_band": row["amount_band"]}
    shown = {"owner": (row["owner_id"] or {}).get("name")}
    customer = row["customer_id"] and env["crm.customer"].search_read(
        [["id", "=", row["customer_id"]["id"]]], sorted(CUSTOMER_INPUTS))
    if customer:  # read as the user: a customer out of their scope explains nothing
        values.update({k: v for k, v in customer[0].items() if k != "id"})
    stats = load(env)
    probability, terms = explain(stats, values)
    registry = env.registry
    labels = {f: label for f, _p, label in FEATURES}
    items = []
    for feature, value, won, closed, delta in sorted(terms, key=lambda t: -abs(t[4])):
        if feature in shown:
            text = shown[feature] or value
        else:
            fname = "amount_band" if feature == "amount_band" else feature
            model = "crm.opportunity" if feature == "amount_band" else "crm.customer"
            field = registry[model].fields[fname]
            options = dict(getattr(field, "options", None) or ())
            text = tr(options[value]) if value in options else value
        arrow = "↑" if delta > 0.05 else "↓" if delta < -0.05 else "→"
        if closed:
            label = gettext("%(field)s = %(value)s: won %(won)s of %(closed)s (%(rate)s%%) %(arrow)s",
                            field=tr(labels[feature]), value=text, won=won, closed=closed,
                            rate=round(100 * won / closed), arrow=arrow)
        else:
            label = gettext("%(field)s = %(value)s: no closed opportunity yet %(arrow)s",
                            field=tr(labels[feature]), value=text, arrow=arrow)
        items.append({"label": label})
    won, lost = stats.get(("*", "*"), (0, 0))
    if probability is not None:
        items.insert(0, {"label": gettext("All opportunities: won %(won)s of %(closed)s (%(rate)s%%)",
                                          won=won, closed=won + lost,
                                          rate=round(100 * won / (won + lost)))})
    return [{"key": "crm.win_forecast", "title": _("Predicted win probability"), "sequence": 55,
             "count": f"{probability}%" if probability is not None else None, "items": items,
             "url": "/web/crm.win_stat",
             "empty": _("Not enough won and lost opportunities yet to learn from.")}]

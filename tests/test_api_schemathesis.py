"""schemathesis against ``/api/v1/openapi.json`` (issue 5 "Show"): for the
CRM models, requests generated from the description itself find no 500
and no answer that breaks the description (status, content type, body).

The description is loaded with a sales manager's token, so it holds the
CRM models' own paths, field names, domains and actions; the real app runs
in-process (WSGI) on the test database, with a few records to hit. Each
operation gets a small, fixed number of examples (``EXAMPLES``, then
``NEGATIVE_EXAMPLES`` of requests that break the description) so the
module stays well under a minute and a half per database.
"""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance)
from tests.conftest import drop_module_database, module_database
from tests.test_api_security import PASSWORD, create_personas, make_app

EXAMPLES = 20
NEGATIVE_EXAMPLES = 8
#: records of each model made first; generated ids are drawn from 1..IDS
#: so that reads, changes and actions meet real records as well as missing ones
IDS = 8
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
#: the CRM models' own paths, the approvals inbox and the models' metadata
PATHS = r"^/(data/crm\.(customer|contact|interaction|opportunity)(/|$)|approvals|meta/models)"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    db = module_database(tmp_path_factory, "t_api_schemathesis")
    users = create_personas(db)
    with db.unit_of_work(users["M1"]) as env:
        customers = env["crm.customer"].create([{"name": f"客户{i}", "city": "上海"} for i in range(IDS)])
        for i, cid in enumerate(customers.ids):
            env["crm.contact"].create({"name": f"张{i}", "customer_id": cid})
            env["crm.opportunity"].create({"name": f"单{i}", "customer_id": cid, "amount": 1000 * i})
            env["crm.interaction"].create({"customer_id": cid, "channel": "phone", "summary": "call"})
    app = make_app(db)
    client = app.test_client()
    token = client.post("/api/v1/auth/token", json={"login": "m1", "password": PASSWORD}).json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    yield schema, headers
    drop_module_database(db, "t_api_schemathesis")


def test_the_description_is_valid_openapi_with_the_crm_models(api):
    schema, _ = api
    schema.validate()
    paths = schema.raw_schema["paths"]
    assert "/data/crm.opportunity/{id}/actions/{action}" in paths


def _operations(schema):
    found = [result.ok() for result in schema.include(path_regex=PATHS).get_all_operations()]
    assert len(found) > 30, [op.label for op in found]
    return sorted(found, key=lambda op: op.method.upper() == "DELETE")  # deletes last


def _failures(schema, headers, mode, examples, checks):
    """Run ``examples`` generated cases of every operation; the failures."""
    failures = []
    for operation in _operations(schema):
        @given(case=operation.as_strategy(generation_mode=mode), rid=st.integers(1, IDS))
        @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case, rid):
            if "id" in (case.path_parameters or {}):
                case.path_parameters["id"] = rid
            case.call_and_validate(headers=headers, checks=checks)
        try:
            run()
        except Exception as exc:  # noqa: BLE001 — collect every operation's failure
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    return failures


def test_generated_requests_find_no_server_error_and_no_answer_off_the_description(api):
    failures = _failures(*api, GenerationMode.POSITIVE, EXAMPLES, CHECKS)
    assert not failures, "\n\n".join(failures)


def test_requests_breaking_the_description_are_refused_without_a_server_error(api):
    """Wrong types, missing and extra values, malformed parameters: refused
    (or, where the model API is lenient, accepted) — never a 500, always in
    a documented content type."""
    failures = _failures(*api, GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES,
                         [not_a_server_error, content_type_conformance])
    assert not failures, "\n\n".join(failures)

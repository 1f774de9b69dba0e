"""The API fuzzed from its own /openapi.json by schemathesis, over real HTTP on a throw-away server:
no 5xx, and every response's status code, content type and body as the spec declares them."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections import Counter, defaultdict
from collections.abc import Iterator

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.settings import Settings
from features.kb import KnowledgeBase
from store.db import get_engine
from tests.conftest import ADMIN_TOKEN, DB_PARAMS, LiveServer, _postgres_schema_url, provision

# Starts a real background training run (minutes of CPU on the 2-core machine) whatever the input;
# tests/api/test_models.py covers it. Every other operation runs, the admin ones included: the
# server and its database are thrown away afterwards.
EXCLUDED = {"POST /v1/models/train": "starts a real training run"}
# Every operation of the spec, read from the app itself (no server needed to collect the tests).
OPERATIONS = sorted(
    f"{method.upper()} {path}"
    for path, ops in create_app(Settings()).openapi()["paths"].items()
    for method in ops
)
MAX_EXAMPLES = 40  # per operation, valid and invalid inputs mixed; derandomized
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
tried: dict[str, Counter[int]] = defaultdict(Counter)  # operation → status code → requests


@pytest.fixture(scope="module", params=DB_PARAMS)
def fuzz_server(
    request: pytest.FixtureRequest,
    trained_settings: Settings,
    kb: KnowledgeBase,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    """A server of its own on a throw-away SQLite file, or PostgreSQL schema when configured."""
    var = tmp_path_factory.mktemp("fuzz")
    tried.clear()
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{var / 'fuzz.db'}"
        else:
            url = stack.enter_context(
                contextlib.contextmanager(_postgres_schema_url)(os.environ["TEST_DATABASE_URL"])
            )
        provision(url, trained_settings, kb, enterprises=30)
        settings = Settings(
            database_url=url, var_dir=var, admin_token=ADMIN_TOKEN, rate_limit_per_minute=0
        )
        with LiveServer(settings) as server:
            yield server
        get_engine(url).dispose()
    lines = [
        f"{sum(codes.values()):5d}  {label}  "
        + " ".join(f"{code}×{n}" for code, n in sorted(codes.items()))
        for label, codes in sorted(tried.items())
    ]
    total = sum(sum(codes.values()) for codes in tried.values())
    print(
        f"\nschemathesis ({request.param}): {total} requests over {len(tried)} operations\n"
        + "\n".join(lines)
    )


@pytest.fixture(scope="module")
def api_schema(fuzz_server: LiveServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")


@pytest.fixture(scope="module")
def known_ids(fuzz_server: LiveServer, kb: KnowledgeBase) -> dict[str, list[str]]:
    """Ids that exist, so that a share of the cases gets past the 404 into the real work."""
    version = httpx.get(f"{fuzz_server.url}/healthz", timeout=30).json()["model_version"]
    return {
        "park_id": [p.park_id for p in kb.parks[::10]],
        "chain_id": [c.chain_id for c in kb.chains],
        "enterprise_id": ["1", "2", "30"],
        "version": [version],
    }


def with_known_refs(drawn: tuple[schemathesis.Case, int, str, object]) -> schemathesis.Case:
    """An interaction that names an enterprise and a park that exist, under a fresh key."""
    case, enterprise_id, park_id, key = drawn
    if isinstance(case.body, dict):
        case.body = {**case.body, "enterprise_id": enterprise_id, "park_id": park_id}
    case.headers = {**(case.headers or {}), "Idempotency-Key": f"fuzz-{key}"}
    return case


def test_every_operation_is_fuzzed_or_excluded_with_a_reason() -> None:
    assert set(EXCLUDED) <= set(OPERATIONS)
    assert len(OPERATIONS) - len(EXCLUDED) >= 20


@pytest.mark.parametrize("label", [op for op in OPERATIONS if op not in EXCLUDED])
def test_operation_conforms_to_its_spec(
    api_schema: schemathesis.BaseSchema, known_ids: dict[str, list[str]], label: str
) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, label
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    names = [p.name for p in operation.path_parameters]
    if names and all(n in known_ids for n in names):
        strategies += [
            operation.as_strategy(path_parameters=dict(zip(names, ids, strict=True)))
            for ids in itertools.product(*(known_ids[n] for n in names))
        ]
    if label == "POST /v1/interactions":
        refs = st.tuples(
            operation.as_strategy(),
            st.integers(1, 30),
            st.sampled_from(known_ids["park_id"]),
            st.uuids(),
        )
        strategies.append(refs.map(with_known_refs))
    cases = st.one_of(*strategies)

    @hypothesis.given(case=cases)
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=AUTH, checks=CHECKS, timeout=60)
        tried[label][response.status_code] += 1

    run()

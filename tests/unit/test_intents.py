from __future__ import annotations

import pytest

from agent.intents import explicit_signal, order_ids_in
from agent.services import Services


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("Where is my order #W2611340?", "order_status"),
        ("status of w2611340 please", "order_status"),
        ("where's my package?", "order_status"),
        ("Can I speak to a human please", "human"),
        ("I want to talk to an agent about #W2611340", "human"),
        ("how do I reach a person?", "human"),
        ("What payment methods are on my account?", "account"),
        ("my email is james.li4495@example.com", "account"),
    ],
)
def test_explicit_signals(text: str, route: str) -> None:
    signal = explicit_signal(text)
    assert signal is not None
    assert signal.route == route


def test_order_ids_are_normalised_and_deduplicated() -> None:
    assert order_ids_in("w2611340, #W2611340 and #W3632959") == ("#W2611340", "#W3632959")


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("How long do refunds take?", "knowledge"),
        ("Which ways can I pay?", "knowledge"),
        ("Can you write me a haiku about autumn leaves?", "out_of_scope"),
        ("What's the weather going to be like in Paris?", "out_of_scope"),
        ("Do you have a loyalty programme?", "knowledge"),
    ],
)
def test_exemplar_classifier(services: Services, text: str, route: str) -> None:
    assert explicit_signal(text) is None
    assert services.intents.classify(text).route == route

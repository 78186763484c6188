import pytest

from tests.unit.metrics.builders import code, model, rate_input
from tmr.metrics import bus_factor


@pytest.mark.parametrize(
    ("contributors", "low", "high"),
    [
        ([100], 0.15, 0.25),
        ([90, 5, 5], 0.25, 0.35),
        ([10] * 10, 0.85, 0.95),
        ([10] * 25, 1.0, 1.0),
    ],
    ids=["single-author", "dominant-author", "ten-equal", "many"],
)
def test_bus_factor_grows_with_people_and_spread(contributors, low, high):
    snap = model(linked=[code(contributors=contributors)])
    result = bus_factor.compute(rate_input(snap))
    assert low <= result.score <= high
    assert result.evidence["source"] == "github_contributors"


def test_core_size_counts_people_for_80_percent():
    assert bus_factor.core_size([65, 9, 3, 3, 2, 2, 2, 2, 2] + [1] * 21) == 9
    assert bus_factor.core_size([]) == 0


def test_best_linked_repository_counts():
    snap = model(
        linked=[code(contributors=[1], name="a/one"), code(contributors=[5] * 8, name="b/many")]
    )
    assert bus_factor.compute(rate_input(snap)).evidence["repository"] == "b/many"


def test_card_authors_are_the_fallback():
    card = (
        "```bibtex\n@article{x,\n"
        "  author = {Ada Lovelace and Alan Turing and Grace Hopper},\n}\n```"
    )
    result = bus_factor.compute(rate_input(model(card=card)))
    assert result.evidence["source"] == "model_card"
    assert result.score == pytest.approx(0.8 * 3 / 6)


def test_only_the_hub_owner_is_a_bus_factor_of_one():
    result = bus_factor.compute(rate_input(model(card="# nothing", repo_id="someone/m")))
    assert result.evidence == {"source": "hub_owner", "owner": "someone", "linked_repositories": 0}
    assert not result.inconclusive and 0.15 < result.score < 0.25  # one contributor's score


def test_nobody_identified_is_inconclusive_zero():
    result = bus_factor.compute(rate_input(model(card="# nothing", repo_id="legacy-id")))
    assert result.inconclusive and result.score == 0.0

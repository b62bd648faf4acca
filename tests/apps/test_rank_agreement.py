"""CodeT's dual agreement and its ranked pass@k, checked against hand-computed values."""

from __future__ import annotations

import math

import pytest

from codewm.apps.rank.agreement import behaviour_clusters, clusters, first_correct_runs, merged_groups, random_first_correct, ranked_pass_at_k


def test_clusters_are_scored_sqrt_candidates_times_tests_with_multiplicity():
    passes = [
        [True, True, False],  # 0
        [True, True, False],  # 1: same tests as 0
        [True, False, True],  # 2
        [False, False, False],  # 3: passes nothing, in no cluster
    ]
    ranked = clusters(passes, candidate_counts=[1, 3, 1, 5], test_counts=[1, 2, 4])
    assert [c.members for c in ranked] == [(0, 1), (2,)]
    assert ranked[0].score == pytest.approx(math.sqrt(4) * 3)
    assert ranked[1].score == pytest.approx(math.sqrt(1) * 5)
    assert clusters(passes, [1, 3, 1, 5], [1, 2, 4], sqrt=False)[0].score == 4 * 3


def test_ranked_pass_at_k_merges_ties_and_draws_round_robin():
    ranked = clusters([[True, False], [False, True], [True, True]], [1, 1, 2], [1, 1])
    # scores: {0}: 1, {1}: 1, {0,1}: sqrt(2) * 2 -> first the pair cluster (candidate 2), then 0 and 1 merged
    assert merged_groups(ranked) == [[2], [0, 1]]
    correct = [True, False, False]
    assert ranked_pass_at_k(ranked, correct, [1, 1, 2], 1) == 0.0
    assert ranked_pass_at_k(ranked, correct, [1, 1, 2], 2) == pytest.approx(0.5)  # one draw from {0, 1}
    assert ranked_pass_at_k(ranked, correct, [1, 1, 2], 3) == pytest.approx(0.5)  # the extra draw goes to the first group
    assert ranked_pass_at_k(ranked, correct, [1, 1, 2], 4) == pytest.approx(1 - 0.25)  # two draws from {0, 1}


def test_a_task_without_clusters_gets_plain_pass_at_k():
    assert ranked_pass_at_k([], [True, False, False, False], [1, 1, 1, 1], 1) == pytest.approx(0.25)


def test_runs_to_the_first_correct_candidate():
    assert random_first_correct([True, False, False], [1, 1, 2]) == pytest.approx(5 / 2)  # (n + 1) / (c + 1)
    assert random_first_correct([False], [3]) is None
    ranked = clusters([[True, True], [True, False], [False, False]], [1, 1, 1], [1, 1])
    assert first_correct_runs(ranked, [True, False, False], [1, 1, 1]) == 1.0
    assert first_correct_runs(ranked, [False, True, False], [1, 1, 1]) == 2.0
    assert first_correct_runs(ranked, [False, False, True], [1, 1, 1]) == 3.0  # the loose one comes last


def test_behaviour_clusters_group_the_same_values_biggest_first_with_multiplicity():
    behaviours = [("1", "2"), ("1", "3"), ("1", "2"), None, ("1", "3"), ("0", "0")]
    passes = [[True, True], [True, False], [True, True], [False, False], [True, False], [False, False]]
    ranked = behaviour_clusters(behaviours, [1, 3, 1, 9, 1, 4], passes, [2, 5])
    assert [c.members for c in ranked] == [(1, 4), (5,), (0, 2)]  # sizes 4, 4 (ties keep first appearance), 2
    assert [c.score for c in ranked] == [4.0, 4.0, 2.0]
    assert ranked[0].tests == frozenset({0}) and ranked[0].agreement == 2  # shown, not scored
    assert ranked[2].agreement == 7
    assert merged_groups(ranked) == [[1, 4, 5], [0, 2]]  # equal sizes are drawn from together
    assert all(3 not in c.members for c in ranked)  # nothing known of candidate 3: in no cluster
    assert behaviour_clusters([None, None], [1, 1]) == []

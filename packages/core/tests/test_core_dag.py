import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ageflow.core.dag import find_cycle, get_ready_tasks, topological_sort
from ageflow.core.errors import CyclicDependencyError, UnresolvedDependencyError

# --- topological_sort (§5.3, §7.12) --------------------------------------------------------


def test_chain_gives_one_task_per_batch():
    assert topological_sort({"A": [], "B": ["A"], "C": ["B"]}) == [["A"], ["B"], ["C"]]


def test_diamond():
    batches = topological_sort({"A": [], "B": ["A"], "C": ["A"], "D": ["B", "C"]})
    assert batches == [["A"], ["B", "C"], ["D"]]


def test_independent_tasks_form_one_batch_in_map_order():
    assert topological_sort({"z": [], "a": [], "m": []}) == [["z", "a", "m"]]


def test_single_task():
    assert topological_sort({"only": []}) == [["only"]]


def test_empty_map():
    assert topological_sort({}) == []


def test_missing_dependencies_mean_none():
    assert topological_sort({"A": None, "B": ["A"]}) == [["A"], ["B"]]


def test_next_batch_is_in_release_order_not_map_order():
    # "late" is released by "a" (first in the batch) and "early" by "b".
    deps = {"early": ["b"], "late": ["a"], "a": [], "b": []}
    assert topological_sort(deps) == [["a", "b"], ["late", "early"]]


def test_release_order_follows_map_order_of_dependents():
    deps = {"r": [], "y": ["r"], "x": ["r"]}
    assert topological_sort(deps) == [["r"], ["y", "x"]]


def test_level_scheduling_waits_for_the_last_dependency():
    deps = {"a": [], "b": ["a"], "c": ["a", "b"]}
    assert topological_sort(deps) == [["a"], ["b"], ["c"]]


def test_duplicate_dependencies_are_harmless():
    assert topological_sort({"A": [], "B": ["A", "A"]}) == [["A"], ["B"]]


def test_two_node_cycle():
    with pytest.raises(CyclicDependencyError) as caught:
        topological_sort({"A": ["B"], "B": ["A"]})
    assert caught.value.cycle == ["A", "B", "A"]
    assert "A → B → A" in caught.value.message


def test_self_loop():
    with pytest.raises(CyclicDependencyError) as caught:
        topological_sort({"A": ["A"]})
    assert caught.value.cycle == ["A", "A"]


def test_three_node_cycle():
    with pytest.raises(CyclicDependencyError) as caught:
        topological_sort({"A": ["C"], "B": ["A"], "C": ["B"]})
    assert caught.value.cycle == ["A", "C", "B", "A"]
    assert caught.value.cycle


def test_cycle_reported_from_first_leftover_and_excludes_its_tail():
    # "down" depends on the cycle but is not part of it; DFS starts from it (first leftover).
    deps = {"root": [], "down": ["x"], "x": ["y"], "y": ["x", "root"]}
    with pytest.raises(CyclicDependencyError) as caught:
        topological_sort(deps)
    assert caught.value.cycle == ["x", "y", "x"]


def test_unknown_dependency():
    with pytest.raises(UnresolvedDependencyError) as caught:
        topological_sort({"plan": [], "fix": ["fx"], "review": ["fix"]})
    err = caught.value
    assert err.task_name == "fix"
    assert err.unresolved_dep == "fx"
    assert err.available_task_names == ["plan", "fix", "review"]
    for part in ("fix", "fx", "plan", "review"):
        assert part in err.message


def test_unknown_dependency_is_reported_before_a_cycle():
    with pytest.raises(UnresolvedDependencyError):
        topological_sort({"A": ["B"], "B": ["A"], "C": ["missing"]})


def test_string_dependency_list_is_a_type_error():
    with pytest.raises(TypeError, match="list of task names"):
        topological_sort({"A": [], "B": "A"})


def test_long_chain_does_not_recurse():
    size = 5000
    deps = {f"t{i}": ([f"t{i - 1}"] if i else []) for i in range(size)}
    assert len(topological_sort(deps)) == size
    deps["t0"] = [f"t{size - 1}"]
    with pytest.raises(CyclicDependencyError) as caught:
        topological_sort(deps)
    assert len(caught.value.cycle) == size + 1


# --- find_cycle -------------------------------------------------------------------------


def test_find_cycle_none_for_acyclic():
    assert find_cycle({"a": [], "b": ["a"]}) is None


def test_find_cycle_ignores_unknown_names():
    assert find_cycle({"a": ["outside"]}) is None


def test_find_cycle_from_given_start():
    deps = {"a": ["a"], "b": ["c"], "c": ["b"]}
    assert find_cycle(deps) == ["a", "a"]
    assert find_cycle(deps, start=["b"]) == ["b", "c", "b"]


def test_find_cycle_skips_finished_subgraphs():
    deps = {"a": ["s"], "b": ["s", "c"], "c": ["b"], "s": []}
    assert find_cycle(deps) == ["b", "c", "b"]


# --- get_ready_tasks ---------------------------------------------------------------------

DEPS = {"a": [], "b": ["a"], "c": ["a", "b"], "d": None}


def test_ready_roots_when_nothing_done():
    assert get_ready_tasks(set(), DEPS) == ["a", "d"]


def test_dependent_ready_once_dependency_done():
    assert get_ready_tasks({"a"}, DEPS) == ["b", "d"]


def test_task_with_two_deps_needs_both():
    assert "c" not in get_ready_tasks({"a"}, DEPS)
    assert get_ready_tasks({"a", "b", "d"}, DEPS) == ["c"]


def test_nothing_ready_when_all_done():
    assert get_ready_tasks({"a", "b", "c", "d"}, DEPS) == []


def test_completed_tasks_are_excluded():
    assert "a" not in get_ready_tasks({"a"}, DEPS)


# --- properties -----------------------------------------------------------------------------


@st.composite
def acyclic_graphs(draw):
    size = draw(st.integers(min_value=0, max_value=12))
    names = [f"t{i}" for i in range(size)]
    deps = {}
    for index, name in enumerate(names):
        # Only earlier names: acyclic by construction; the map order is then shuffled.
        deps[name] = draw(st.lists(st.sampled_from(names[:index]), max_size=3)) if index else []
    order = draw(st.permutations(names))
    return {name: deps[name] for name in order}


@given(acyclic_graphs())
def test_every_task_appears_exactly_once(deps):
    flat = [name for batch in topological_sort(deps) for name in batch]
    assert sorted(flat) == sorted(deps)
    assert len(flat) == len(set(flat))


@given(acyclic_graphs())
def test_every_dependency_is_in_an_earlier_batch(deps):
    level = {name: i for i, batch in enumerate(topological_sort(deps)) for name in batch}
    for name, names in deps.items():
        for dep in names:
            assert level[dep] < level[name]


@given(acyclic_graphs())
def test_each_task_is_in_the_earliest_possible_batch(deps):
    level = {name: i for i, batch in enumerate(topological_sort(deps)) for name in batch}
    for name, names in deps.items():
        assert level[name] == (max((level[d] for d in names), default=-1) + 1)


@given(acyclic_graphs(), st.data())
def test_a_back_edge_creates_a_reported_cycle(deps, data):
    chains = [(name, dep) for name, names in deps.items() for dep in names]
    if not chains:
        return
    name, dep = data.draw(st.sampled_from(chains))
    cyclic = dict(deps)
    cyclic[dep] = [*cyclic[dep], name]
    with pytest.raises(CyclicDependencyError) as caught:
        topological_sort(cyclic)
    cycle = caught.value.cycle
    assert cycle[0] == cycle[-1]
    for left, right in itertools.pairwise(cycle):
        assert right in cyclic[left]


@given(acyclic_graphs())
def test_ready_tasks_of_nothing_done_is_the_first_batch(deps):
    batches = topological_sort(deps)
    assert get_ready_tasks(set(), deps) == (batches[0] if batches else [])

"""Test order for the two pytest-xdist workers (pyproject: `-n 2 --dist loadfile
--no-loadscope-reorder`): xdist hands out whole files in collection order, so the longest files
go first and the workers finish together (longest-first scheduling). Without this, xdist orders
files by their number of tests, which put some of the longest (few tests, minutes each) last.
"""

import os

# Longest first, by the files' measured times (a 2-core Xeon, -n 2; compile-bound). Files not
# listed follow in their usual order; a new slow file belongs in this list.
LONGEST_FIRST = (
    "test_envs_parity_mjx.py",
    "test_train.py",
    "test_reliability.py",
    "test_plan.py",
    "test_agents.py",
    "test_probe.py",
    "test_post2021_agents.py",
    "test_parallel.py",
    "test_sweep.py",
    "test_bad_input.py",
    "test_main.py",
    "test_corrupt_checkpoints.py",
    "test_notebook.py",
    "test_multihost.py",
    "test_networks.py",
    "test_prioritized.py",
    "test_policy.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(os.path.basename(str(item.path)), len(rank)))

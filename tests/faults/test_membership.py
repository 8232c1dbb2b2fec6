"""A validator added and then removed through governance while faults run (slow: ~1 min).

pytest tests/faults/test_membership.py -m slow
python -m tests.faults.membership --seed 3
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.membership import run


@pytest.mark.slow
def test_validator_set_change_under_faults_passes_the_checker(tmp_path: Path) -> None:
    result = run(3, tmp_path)
    assert result.verdict.ok, result.summary()
    assert result.faults > 0
    assert set(result.timings) == {"add_proposed_to_in_set", "remove_proposed_to_out_of_set"}

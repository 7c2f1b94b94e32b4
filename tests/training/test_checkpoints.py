import json

import pytest

from artdirector.training import checkpoints


def test_a_save_a_kill_interrupts_is_never_the_newest(tmp_path):
    torch = pytest.importorskip("torch")
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    checkpoints.save(tmp_path / "checkpoint-10", optimizer, {"step": 10})
    assert sorted(p.name for p in (tmp_path / "checkpoint-10").iterdir()) == ["optimizer.pt", "state.json"]
    # killed while writing its state: the state is only ever complete under its final name
    (tmp_path / "checkpoint-20").mkdir()
    (tmp_path / "checkpoint-20" / "state.json.part").write_text('{"st')
    assert checkpoints.newest(tmp_path) == tmp_path / "checkpoint-10"
    assert checkpoints.restore(checkpoints.newest(tmp_path), optimizer) == {"step": 10}
    assert json.loads((tmp_path / "checkpoint-10" / "state.json").read_text()) == {"step": 10}

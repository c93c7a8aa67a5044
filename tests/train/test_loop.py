"""Training runs: loss goes down, checkpoints reload, same seed same model, resume."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from bot.train import loop
from bot.train.loop import train
from bot.train.options import TrainOptions
from bot.train.recipe import collate, decoder_inputs


def quiet(_: str) -> None:
    pass


def test_collate_pads_and_shifts() -> None:
    batch = collate([([5, 6, 1], [7, 8, 1]), ([5, 1], [9, 1])], pad_id=0)
    assert batch["source"].tolist() == [[5, 6, 1], [5, 1, 0]]
    assert batch["mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"].tolist() == [[7, 8, 1], [9, 1, -100]]
    inputs = decoder_inputs(batch["labels"], start_id=2, pad_id=0)
    assert inputs.tolist() == [[2, 7, 8], [2, 9, 1]]


def weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / loop.CHECKPOINT, weights_only=False)["model"]


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_tiny_run_lowers_loss_and_saves_a_reloadable_model(tiny: TrainOptions) -> None:
    from bot.engine.lstm import LSTMSeq2Seq

    result = train(dataclasses.replace(tiny, epochs=3), report=quiet)
    history = result["history"]
    assert result["steps"] == 24 and len(history) == 3
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    out = tiny.out
    assert {"config.json", "tokenizer.json", "training.json"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "config.json").read_text())["model_type"] == "seqbot-lstm"
    model = LSTMSeq2Seq.load(out)
    source = torch.tensor([[5, 6, 1]])
    assert model(source, torch.ones_like(source), torch.tensor([[2]])).shape[-1] > 4
    assert (out / loop.CHECKPOINT).is_file()


def test_same_seed_same_model(tiny: TrainOptions, tmp_path: Path) -> None:
    train(tiny, report=quiet)
    twin = dataclasses.replace(tiny, out=tmp_path / "twin")
    train(twin, report=quiet)
    assert same(weights(tiny.out), weights(twin.out))
    other = dataclasses.replace(tiny, out=tmp_path / "other", seed=1)
    train(other, report=quiet)
    assert not same(weights(tiny.out), weights(other.out))


def test_ctrl_c_then_resume_equals_an_uninterrupted_run(
    tiny: TrainOptions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    straight = dataclasses.replace(tiny, out=tmp_path / "straight", epochs=2)
    train(straight, report=quiet)

    real = loop.batch_loss
    calls = {"n": 0}

    def interrupted(*args: object) -> object:
        calls["n"] += 1
        if calls["n"] == 11:  # in epoch 2, after epoch 1's 8 batches and its validation
            raise KeyboardInterrupt
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(loop, "batch_loss", interrupted)
    broken = dataclasses.replace(tiny, epochs=2)
    lines: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        train(broken, report=lines.append)
    assert "continue with --resume" in lines[-1]
    saved = torch.load(tiny.out / loop.CHECKPOINT, weights_only=False)
    assert (saved["epoch"], saved["batch_in_epoch"]) == (1, 1)
    monkeypatch.setattr(loop, "batch_loss", real)
    result = train(dataclasses.replace(broken, resume=True), report=quiet)
    assert result["epochs"] == 2 and result["steps"] == 16
    assert same(weights(tiny.out), weights(straight.out))


def test_minutes_and_step_budget_stop_mid_epoch(tiny: TrainOptions) -> None:
    result = train(dataclasses.replace(tiny, epochs=None, minutes=5, max_steps=3), report=quiet)
    assert result["steps"] == 3 and result["epochs"] == 0
    saved = torch.load(tiny.out / loop.CHECKPOINT, weights_only=False)
    assert saved["batch_in_epoch"] == 3


def test_resume_without_checkpoint_is_an_error(tiny: TrainOptions) -> None:
    with pytest.raises(loop.TrainError, match="no checkpoint to resume"):
        train(dataclasses.replace(tiny, resume=True), report=quiet)


def test_eval_every_validates_inside_the_epoch(tiny: TrainOptions) -> None:
    lines: list[str] = []
    result = train(dataclasses.replace(tiny, eval_every=3), report=lines.append)
    assert [h["step"] for h in result["history"]] == [3, 6, 8]  # 8 batches: 3, 6, the end
    assert [h["batch_in_epoch"] for h in result["history"]] == [3, 6, 0]
    assert lines[0].startswith("training on CPU") and "64 pairs, 8 for validation" in lines[0]
    validations = [line for line in lines if line.startswith("epoch")]  # tensorboard or not
    assert validations[0].startswith("epoch 1, step 3: val loss") and len(validations) == 3
    saved = torch.load(tiny.out / loop.CHECKPOINT, weights_only=False)
    assert saved["step"] == 8 and "schedule" in saved


def test_device_choice() -> None:
    assert loop.resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert loop.resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(loop.TrainError, match="torch sees no CUDA device"):
            loop.resolve_device("cuda")


def test_a_finished_run_is_not_overwritten_without_resume(tiny: TrainOptions) -> None:
    train(tiny, report=quiet)
    before = (tiny.out / loop.CHECKPOINT).read_bytes()
    with pytest.raises(loop.TrainError, match="already holds a training run; continue it with"):
        train(tiny, report=quiet)
    assert (tiny.out / loop.CHECKPOINT).read_bytes() == before


def test_resume_with_a_broken_tokenizer_or_checkpoint_is_one_error(tiny: TrainOptions) -> None:
    train(tiny, report=quiet)
    tokenizer = tiny.out / "tokenizer.json"
    good = tokenizer.read_text()
    tokenizer.write_text("garbage")
    resumed = dataclasses.replace(tiny, epochs=2, resume=True)
    with pytest.raises(loop.TrainError, match="cannot read tokenizer"):
        train(resumed, report=quiet)
    tokenizer.write_text(good)
    saved = torch.load(tiny.out / loop.CHECKPOINT, weights_only=False)
    saved["model"] = {k: v[:1] for k, v in saved["model"].items()}  # another model's shapes
    torch.save(saved, tiny.out / loop.CHECKPOINT)
    with pytest.raises(loop.TrainError, match="does not fit the model rebuilt from it"):
        train(resumed, report=quiet)

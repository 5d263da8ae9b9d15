"""The examples a training run saw, counted per step and checked against whole epochs."""

from __future__ import annotations

import torch

from stage1kit_trl.common import ExampleCounter, coverage_warnings
from stage1kit_trl.config import SFTSettings


class FakeTrainer:
    """The part of a Trainer the counter touches: ``training_step`` (wrapped) and ``accelerator``."""

    def __init__(self) -> None:
        self.steps = 0

    def training_step(self, model, inputs, num_items_in_batch=None):
        self.steps += 1
        return torch.tensor(0.0)


def batch(*rows: list[int]) -> dict[str, torch.Tensor]:
    """Right-padded rows with their attention mask, as a collator builds them."""
    width = max(len(row) for row in rows)
    return {
        "input_ids": torch.tensor([row + [0] * (width - len(row)) for row in rows]),
        "attention_mask": torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows]),
    }


def test_the_counter_counts_every_trained_example_and_the_distinct_ones():
    trainer = FakeTrainer()
    counter = ExampleCounter(trainer, rows_per_example=1)
    trainer.training_step(None, batch([1, 2, 3], [4, 5]))
    trainer.training_step(None, batch([4, 5], [6]))  # [4, 5] again, padded differently: the same example
    assert trainer.steps == 2 and counter.rows == 4
    assert counter.distinct() == 3


def test_a_dpo_batch_counts_pairs_by_their_chosen_rows():
    trainer = FakeTrainer()
    counter = ExampleCounter(trainer, rows_per_example=2)
    trainer.training_step(None, batch([1, 2], [1, 3], [1, 9], [1, 8]))  # chosen 0, chosen 1, rejected 0, rejected 1
    assert counter.rows == 4 and counter.distinct() == 2


def metrics(seen: int, distinct: int, size: int = 6, global_batch: int = 4) -> dict[str, int]:
    return {"examples_seen": seen, "distinct_examples_seen": distinct, "train_examples": size, "global_batch_size": global_batch}


def test_whole_epochs_over_every_example_once_warn_nothing():
    assert coverage_warnings(metrics(12, 6), SFTSettings(epochs=2)) == []


def test_repeated_and_missing_examples_are_named_with_the_global_batch_to_fit():
    (warning,) = coverage_warnings(metrics(8, 6), SFTSettings(epochs=1))
    assert "8 examples in 1 epoch(s) of 6 (2 repeated)" in warning and "multiple of 4" in warning
    (warning,) = coverage_warnings(metrics(6, 5), SFTSettings(epochs=1))
    assert "(1 never trained on)" in warning


def test_a_run_cut_by_steps_or_mid_epoch_is_not_checked():
    assert coverage_warnings(metrics(3, 3), SFTSettings(max_steps=1)) == []
    assert coverage_warnings(metrics(9, 6), SFTSettings(epochs=1.5)) == []

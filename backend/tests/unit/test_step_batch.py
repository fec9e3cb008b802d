"""StepBatch.with_derived is dataclasses.replace(batch, derived=...): every field carried over."""

from __future__ import annotations

import dataclasses

import numpy as np
from app.store.bar import BarArrays
from app.threads.events import StepBatch


def test_with_derived_carries_every_field_as_replace_does():
    # Arrange: every field away from its default, so a field left out would show
    bars = BarArrays(np.array([5], np.int64), *(np.array([1.0]),) * 5)
    batch = StepBatch(3, 4, np.array([9]), np.zeros((1, 1), np.int64), np.ones(1, np.int64),
                      {"5s": np.zeros((1, 1))}, due_ns=7, received_ns=8, bars=bars, every_row=0)
    for f in dataclasses.fields(StepBatch):
        assert getattr(batch, f.name) != f.default, f"set {f.name} away from its default in this test"
    derived = {"1m": np.ones((1, 1))}
    # Act
    got = batch.with_derived(derived)
    # Assert
    want = dataclasses.replace(batch, derived=derived)
    for f in dataclasses.fields(StepBatch):
        assert getattr(got, f.name) is getattr(want, f.name), f.name

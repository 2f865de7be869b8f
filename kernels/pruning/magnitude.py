"""Magnitude pruning: keep the weights of largest absolute value.

Unstructured patterns compare all weights of a layer (the classic layer-wise baseline the
Wanda and SparseGPT papers compare against); N:M keeps the largest ``n`` of every ``m``
consecutive weights of a row. Entry: ``magnitude_mask(weight, pattern)``; cost: one
``argpartition`` over the layer, no calibration data.
"""

from __future__ import annotations

import numpy as np

from kernels.pruning.masks import keep_mask


def magnitude_mask(weight: np.ndarray, pattern) -> np.ndarray:
    """Boolean keep-mask of an (out x in) weight."""
    return keep_mask(np.abs(weight), pattern, group="layer")

"""Pruning methods written from their papers, in numpy, plus the pruned-LLM backends.

- ``masks``: which weights a pruner keeps under a pattern (unstructured per layer, per row
  or per column block; N:M along the input dimension) and the exact checks of a mask;
- ``magnitude``: keep the largest ``|W|`` of each layer;
- ``wanda``: keep the largest ``|W_ij| * ||X_j||_2`` of each output row (Sun et al., 2023);
- ``sparsegpt``: OBS-style pruning with a damped inverse Hessian, column blocks, lazy batch
  updates and the mask chosen as it goes, N:M included (Frantar and Alistarh, 2023);
- ``stats``: the calibration statistics those two need (input norms, ``X^T X``);
- ``sequential``: prune a Llama model block by block, each layer calibrated on the inputs
  its already-pruned predecessors produce (``prune_llama``);
- ``backends``: the ``pruned-llm`` family's kernels, the model's linear layers run through
  the SpMM kernels of the registry (importing this package registers them).

Methods import only numpy; nothing heavy loads at import.
"""

from kernels.pruning import backends  # noqa: F401  (registration)

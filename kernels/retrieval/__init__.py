"""Retrieval kernels: top-10 search over sparse document vectors, ours and the peers'.

Importing this package registers every kernel (``exact``: scipy and CuPy baselines;
``ours``: our numba indexes; ``peers``: pyseismic-lsr, bmp, bm25s); those modules import
only numpy/scipy at top level: numba loops (``*_search``, ``*_build``) and the peer
libraries load when a kernel is prepared.
"""

from kernels.retrieval import exact, ours, peers  # noqa: F401  (registration)

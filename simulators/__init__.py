"""Cycle-level model of an N:M structured-sparse systolic-array accelerator.

Entry points: ``simulators.systolic.SystolicArray.from_config(load_hw_config(name))`` and
``simulate_gemm``; ``simulators.topology.simulate_topology``; ``simulators.sweep`` for
what-if sweeps; ``simulators.cli`` for ``run-suite simulate``; ``simulators.harness``
registers the ``sim:<hw>`` device and SpMM kernels; ``moe_harness``, ``llm_harness`` and
``attention_harness`` put those families on it (every child module is a plug-in, loaded by
``suite.registry.load_plugins``). See docs/simulator.md.
"""

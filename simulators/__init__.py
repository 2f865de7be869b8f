"""Cycle-level model of an N:M structured-sparse systolic-array accelerator."""

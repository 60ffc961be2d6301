"""Reliability under faults: chain crashes, lost blocks, restarts, stalls."""

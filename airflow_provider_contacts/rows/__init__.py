"""The batch pipeline every action operator shares: sources, values, spools, rejects,
contact references, the adjustments ledger and output paths."""

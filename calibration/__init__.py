"""Data build stream: readers of the sources (SSB tables) and the benchmark data set built from them."""

"""Every paper's models on the same images: suites of entries trained under one budget and scored
on one test part, as one leaderboard (``python -m reproductions.compare --help``)."""

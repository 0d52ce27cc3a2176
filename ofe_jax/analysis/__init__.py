"""Analysis of run directories: one reader (runs.py), the statistics (stats.py), the figures
(figures.py) and the results report (report.py). numpy, scipy and matplotlib only: importing
this package imports neither jax nor MuJoCo."""

"""The checks (their catalogue is migbot.catalog): static checks on the plan (static.py), live checks on a
run's evidence (live.py, data.py), and evaluate.py, which runs the live ones."""

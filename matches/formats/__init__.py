"""Pure tournament-format algorithms: bracket plans, pairings, standings and payouts.

Nothing here imports Django or touches the database: every function takes plain values and
returns plain values, so the rules can be tested exhaustively without a database and the
ORM services (``matches.services``) only translate a plan into rows.
"""

"""Pure tournament-format algorithms: bracket plans, pairings, standings, the progress of
results through a bracket, placements and payouts.

Nothing here imports Django or touches the database: every function takes plain values (or
match objects with plain attributes, ``progress.MatchLike``) and returns plain values, so
the rules can be tested exhaustively without a database. They are the only copy of the
rules: the ORM side (``matches.progression``, ``matches.placements``, ``matches.payouts``)
loads and stores rows and calls them.
"""

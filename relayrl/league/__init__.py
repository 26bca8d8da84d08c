"""The league: skill ratings of every player of a run and opponent choice by rating (docs/league.md).

``ratings.py``: the ``Ratings`` of any set of players (learning policies, snapshots, scripted bots), on
``openskill`` (``pip install 'relayrl[league]'``); ``selection.py``: opponent weights from predicted win
probabilities; ``table.py``: the ``LeagueTable`` the self-play pool keeps from its episode reports;
``tournament.py`` and ``contestants.py``: round robins among checkpoints and scripted opponents
(``relayrl league --tournament``).
"""

"""Evaluation during training (``--eval-every-env-steps``; docs/evaluation.md), a training extension.

- ``extension.py``: the trainer side (``EvaluationExtension``): when an evaluation is due, it copies every
  policy's current weights into the evaluator's own shared memory, asks the evaluator, takes the results
  back (``eval/...`` report keys) and tells the checkpointer each policy's score (``best.pt`` by
  ``--best-metric``).
- ``runners.py``: where the evaluation runs (``RUNNERS``, one per backend): a process of its own
  (``--backend local``), or in the trainer between updates (``--backend serial``);
  ``ray_runner.py``: a Ray actor on the trainer's node (``--backend ray``).
- ``work.py``: the evaluation itself (the env with ``--eval-env-kwargs``, told ``evaluation: True``;
  the policies' models; the scripted or policy opponents) and the messages it answers with.
"""

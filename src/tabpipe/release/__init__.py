"""Releasing a model and scoring with it.

The champion and the git registry (``champion``, ``registry``), the release bundle and its
model card (``bundle``, ``model_card``), infra validation (``infra_validate``), the deploy
workflow's steps (``deploy``), the run record (``run_record``) and batch scoring
(``predict``).
"""

"""Pipeline stages: each reads and writes its artifacts in a run directory and writes manifests.

The contract every stage follows is in :mod:`stage1kit.stages.base`; the ordered list of stages
is :data:`stage1kit.stages.catalogue.CATALOGUE`.
"""

from stage1kit.stages.base import StageOutcome

__all__ = ["StageOutcome"]

"""The rulebook (project taxonomy + rule files) and its evaluator.

Entry points used by ``zoning.api``, the CLI and HTTP:

- ``load_rulebook(path=None) -> Rulebook``: validated rules, taxonomy and version.
- ``evaluate(site, spatial, project, rulebook, as_of) -> Evaluation``: pure.
- ``Rulebook.listing(kind=, effect=, type=, q=)`` and ``Rulebook.taxonomy.listing(q=, group=,
  geometry=, code=)``: JSON-ready dumps for ``GET /v1/rules`` and ``GET /v1/project-types``.
- ``Rulebook.taxonomy.resolve(type_id, industry_code)``: project-type lookup.
"""

from zoning.rules.evaluator import evaluate
from zoning.rules.loader import Rulebook, load_rulebook
from zoning.rules.models import Evaluation, ProjectSpec, RuleStatus
from zoning.rules.taxonomy import Taxonomy

__all__ = [
    "Evaluation",
    "ProjectSpec",
    "RuleStatus",
    "Rulebook",
    "Taxonomy",
    "evaluate",
    "load_rulebook",
]

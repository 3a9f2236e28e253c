"""The policy engine: rules with stable slugs, a YAML policy file with waivers, results per
(image, rule), and a Scout-style score and grade per image. See docs/policy.md.
"""

from auditlib.policy.config import Policy, PolicyError, Waiver, load_policy
from auditlib.policy.evaluate import Evaluation, evaluate, grade

__all__ = ["Evaluation", "Policy", "PolicyError", "Waiver", "evaluate", "grade", "load_policy"]

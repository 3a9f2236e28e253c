"""Version order per ecosystem: whether an installed version is below a fixed one.

`is_below(ecosystem, installed, fixed)` answers True or False by the ecosystem's own rules (dpkg,
rpm, apk-tools, PEP 440, SemVer, Maven, RubyGems, NuGet), or None when it cannot tell: it never
guesses. Versions are compared as their distribution writes them
(`auditlib.normalize.pkg_versions`).
"""

from auditlib.versions.order import SCHEMES, compare, fix_contradicted, fixed_versions, is_below

__all__ = ["SCHEMES", "compare", "fix_contradicted", "fixed_versions", "is_below"]

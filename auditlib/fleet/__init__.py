"""The fleet as the store's current state shows it, per image: merged image facts, references,
bases (`view`, `bases`); which images a vulnerability scan, an SBOM or a collector covered
(`coverage`); findings and their SLA clock (`findings`). Policy, staleness and reports read these
definitions; none computes its own.
"""

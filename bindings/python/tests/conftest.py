"""Paths shared by the tests: the repository root (examples/) and ../shared/vectors beside it."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
VECTORS = REPO.parent / "shared" / "vectors"
DEPLOYMENTS = ("project-oidc", "service-accounts", "tenant-path", "workspace-api")
